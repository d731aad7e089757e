// The header lines LMTP delivery prepends to every message, as Dovecot's LMTP does: Return-Path
// (RFC 5321 section 4.4), Delivered-To, and a Received line (RFC 5321 section 4.4) for the hop.
export interface TraceInput {
  sender: string;
  recipient: string;
  clientHelo: string;
  clientIp: string;
  hostName: string;
  sessionId: string;
  date?: Date;
}

/** RFC 5322 date-time, e.g. "Sun, 22 Nov 2026 01:40:00 +0000". */
export function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${days[d.getDay()]}, ${d.getDate()} ${months[d.getMonth()]} ${d.getFullYear()} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}

export function traceHeaders(t: TraceInput): Buffer {
  const date = rfc5322Date(t.date ?? new Date());
  const lines = [
    `Return-Path: <${t.sender}>`,
    `Delivered-To: ${t.recipient}`,
    `Received: from ${t.clientHelo} ([${t.clientIp}])`,
    `\tby ${t.hostName} with LMTP id ${t.sessionId}`,
    `\tfor <${t.recipient}>; ${date}`,
  ];
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}
