// Maildir++ quota (the "maildirsize" file, as Courier and Dovecot's quota=maildir backend write it): the first
// line holds the limits "<bytes>S,<count>C", each later line a delta "<bytes> <count>"; the file is recalculated
// from the store when it grows past 5120 bytes or its limits differ from the configured ones.

export const MAILDIRSIZE_RECALC_BYTES = 5120;

export interface QuotaLimits {
  /** Byte limit, 0 = unlimited. */
  storage: number;
  /** Message count limit, 0 = unlimited. */
  messages: number;
}

export interface MaildirsizeState {
  limits: QuotaLimits;
  bytes: number;
  count: number;
  /** Length of the file in bytes (recalculate when over MAILDIRSIZE_RECALC_BYTES). */
  fileLength: number;
}

export function formatLimitsLine(limits: QuotaLimits): string {
  const parts: string[] = [];
  if (limits.storage > 0) parts.push(`${limits.storage}S`);
  if (limits.messages > 0) parts.push(`${limits.messages}C`);
  return parts.length ? parts.join(',') : '0S';
}

export function parseLimitsLine(line: string): QuotaLimits {
  const limits: QuotaLimits = { storage: 0, messages: 0 };
  for (const part of line.split(',')) {
    const m = /^\s*(\d+)([SC])\s*$/.exec(part);
    if (!m) continue;
    if (m[2] === 'S') limits.storage = Number(m[1]);
    else limits.messages = Number(m[1]);
  }
  return limits;
}

/** Parses a maildirsize file; returns undefined when it is malformed (then it must be recalculated). */
export function parseMaildirsize(text: string): MaildirsizeState | undefined {
  if (!text.endsWith('\n')) return undefined; // a partial last line: another writer is mid-append or it was cut
  const lines = text.split('\n');
  lines.pop();
  if (lines.length === 0) return undefined;
  const limits = parseLimitsLine(lines[0]!);
  let bytes = 0;
  let count = 0;
  for (const line of lines.slice(1)) {
    const m = /^\s*(-?\d+)\s+(-?\d+)\s*$/.exec(line);
    if (!m) return undefined;
    bytes += Number(m[1]);
    count += Number(m[2]);
  }
  return { limits, bytes, count, fileLength: Buffer.byteLength(text) };
}

export function formatDeltaLine(bytes: number, count: number): string {
  return `${bytes} ${count}\n`;
}

/** A freshly calculated file: the limits line and one line with the totals. */
export function formatMaildirsize(limits: QuotaLimits, bytes: number, count: number): string {
  return `${formatLimitsLine(limits)}\n${formatDeltaLine(bytes, count)}`;
}

const UNIT: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A Dovecot quota rule ("*:storage=1G:messages=1000", "*:bytes=1048576", "*:ignore") to limits. As in Dovecot,
 * a storage value without a unit is in kilobytes; "bytes=" is in bytes. Returns undefined when unlimited.
 */
export function parseQuotaRule(rule: string | undefined): QuotaLimits | undefined {
  if (!rule) return undefined;
  const parts = rule.split(':');
  const limits: QuotaLimits = { storage: 0, messages: 0 };
  for (const part of parts.slice(1)) {
    const m = /^(storage|bytes|messages)=\+?(\d+)([bkmgtBKMGT]?)$/.exec(part.trim());
    if (!m) continue;
    const n = Number(m[2]);
    const unit = m[3]?.toLowerCase();
    if (m[1] === 'messages') limits.messages = n;
    else if (m[1] === 'bytes') limits.storage = n * (unit ? UNIT[unit]! : 1);
    else limits.storage = n * (unit ? UNIT[unit]! : 1024);
  }
  if (limits.storage === 0 && limits.messages === 0) return undefined;
  return limits;
}

/** Limits as a Dovecot quota rule (what parseQuotaRule reads back); "*:ignore" when unlimited. */
export function formatQuotaRule(limits: QuotaLimits | undefined): string {
  if (!limits || (limits.storage === 0 && limits.messages === 0)) return '*:ignore';
  const parts = ['*'];
  if (limits.storage > 0) parts.push(`bytes=${limits.storage}`);
  if (limits.messages > 0) parts.push(`messages=${limits.messages}`);
  return parts.join(':');
}
