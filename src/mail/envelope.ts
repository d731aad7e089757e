// IMAP ENVELOPE (RFC 3501 7.4.2 / RFC 9051 7.5.2) serialised as Dovecot's imap-envelope.c: raw header values,
// sender/reply-to defaulting to from, groups as (NIL NIL "name" NIL) ... (NIL NIL NIL NIL), NIL for missing fields.
import { imapNString, imapNStringNoLf, imapStringForHumans } from './imap-quote.js';
import type { MessageAddress } from './address.js';
import type { EnvelopeData } from './part-data.js';

function writeAddresses(list: MessageAddress[] | null): string {
  if (list === null || list.length === 0) return 'NIL';
  let out = '(';
  for (const a of list) {
    out += '(' + (a.name === null ? 'NIL' : imapStringForHumans(a.name));
    out += ' ' + imapNString(a.route) + ' ' + imapNString(a.mailbox) + ' ' + imapNString(a.domain) + ')';
  }
  return out + ')';
}

/** The ENVELOPE list contents without the surrounding parentheses, as a byte string. */
export function writeEnvelopeFields(env: EnvelopeData | null): string {
  if (env === null) return 'NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL';
  return [
    imapNStringNoLf(env.date),
    env.subject === null ? 'NIL' : imapStringForHumans(env.subject),
    writeAddresses(env.from),
    writeAddresses(env.sender ?? env.from),
    writeAddresses(env.replyTo ?? env.from),
    writeAddresses(env.to),
    writeAddresses(env.cc),
    writeAddresses(env.bcc),
    imapNStringNoLf(env.inReplyTo),
    imapNStringNoLf(env.messageId),
  ].join(' ');
}

/** The FETCH ENVELOPE value: "(" fields ")" as a byte string (latin1). */
export function writeEnvelope(env: EnvelopeData | null): string {
  return `(${writeEnvelopeFields(env)})`;
}
