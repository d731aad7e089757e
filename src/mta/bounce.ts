// Delivery status notifications (RFC 3464 message/delivery-status inside RFC 6522 multipart/report), sent
// with the null reverse-path (RFC 5321 4.5.5) so that a bounce itself is never bounced.
import { randomBytes } from 'node:crypto';
import { rfc5322Date } from '../protocols/lmtp/trace-headers.js';

export interface FailedRecipient {
  address: string;
  original?: string;
  action: 'failed' | 'delayed';
  dsn: string;
  text: string;
  relay: string;
}

export interface BounceInput {
  hostName: string;
  queueId: string;
  sender: string;
  arrival: Date;
  envid?: string;
  recipients: FailedRecipient[];
  /** The original message's header block (text/rfc822-headers), or the whole message for RET=FULL. */
  original: Buffer;
  full: boolean;
  now: Date;
}

function xtext(s: string): string {
  return s.replace(/[^\x21-\x2a\x2c-\x3c\x3e-\x7e]/g, (c) => '+' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** The header block of a message (up to the first empty line). */
export function headerBlock(message: Buffer): Buffer {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 2 : lf >= 0 ? lf + 1 : message.length;
  return message.subarray(0, end);
}

export function buildBounce(b: BounceInput): Buffer {
  const boundary = `${b.queueId}.${randomBytes(6).toString('hex')}/${b.hostName}`;
  const failed = b.recipients.some((r) => r.action === 'failed');
  const subject = failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const human = failed
    ? [
        `This is the mail system at host ${b.hostName}.`,
        '',
        "I'm sorry to have to inform you that your message could not",
        'be delivered to one or more recipients. It\'s attached below.',
        '',
        '                   The mail system',
        '',
        ...b.recipients.map((r) => `<${r.address}>: ${r.text}`),
      ]
    : [
        `This is the mail system at host ${b.hostName}.`,
        '',
        '####################################################################',
        '# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #',
        '####################################################################',
        '',
        'Your message could not be delivered yet. The mail system will keep trying.',
        '',
        ...b.recipients.map((r) => `<${r.address}>: ${r.text}`),
      ];
  const status = [`Reporting-MTA: dns; ${b.hostName}`, `X-Roost-Queue-ID: ${b.queueId}`, `Arrival-Date: ${rfc5322Date(b.arrival)}`];
  if (b.envid) status.unshift(`Original-Envelope-Id: ${b.envid}`);
  const perRecipient = b.recipients.map((r) => {
    const lines = [`Final-Recipient: rfc822; ${r.address}`];
    if (r.original && r.original !== r.address) lines.push(`Original-Recipient: rfc822; ${xtext(r.original)}`);
    lines.push(`Action: ${r.action}`, `Status: ${r.dsn}`);
    const relayHost = /^([^[\s]+)\[/.exec(r.relay)?.[1];
    if (relayHost && relayHost !== 'none') lines.push(`Remote-MTA: dns; ${relayHost}`);
    // What a command or file delivery (relay=local) said is a local diagnostic, as Postfix's "x-unix".
    lines.push(`Diagnostic-Code: ${r.relay === 'local' ? 'x-unix' : 'smtp'}; ${r.text.replace(/[\r\n]+/g, ' ')}`);
    return lines.join('\r\n');
  });
  const head = [
    `From: MAILER-DAEMON@${b.hostName} (Mail Delivery System)`,
    `To: ${b.sender}`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(b.now)}`,
    `Message-ID: <${b.queueId}.${randomBytes(4).toString('hex')}@${b.hostName}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`,
    'Content-Transfer-Encoding: 8bit',
  ];
  const parts = [
    head.join('\r\n'),
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    human.join('\r\n'),
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    status.join('\r\n') + '\r\n\r\n' + perRecipient.join('\r\n\r\n'),
    '',
    `--${boundary}`,
    `Content-Description: ${b.full ? 'Undelivered Message' : 'Undelivered Message Headers'}`,
    `Content-Type: ${b.full ? 'message/rfc822' : 'text/rfc822-headers'}`,
    'Content-Transfer-Encoding: 8bit',
    '',
  ].join('\r\n');
  const tail = `\r\n--${boundary}--\r\n`;
  const original = b.full ? b.original : headerBlock(b.original);
  return Buffer.concat([Buffer.from(parts + '\r\n'), original.toString('latin1').replace(/\r?\n/g, '\r\n') === original.toString('latin1') ? original : Buffer.from(original.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'), Buffer.from(tail)]);
}
