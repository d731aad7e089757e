// Parses a POP3 message-number argument (RFC 1939: 1-based, not one marked as deleted) into an
// index, answering -ERR itself with Dovecot's texts when it is malformed, out of range or deleted.
import type { Pop3SessionApi } from '../types.js';

export function messageIndex(s: Pop3SessionApi, arg: string | undefined): number | undefined {
  const text = arg ?? '';
  const m = /^(\d+)(.*)$/.exec(text);
  if (!m) {
    s.err(`Invalid message number: ${text}`);
    return undefined;
  }
  if (m[1].length > 10 || Number(m[1]) > 0xffffffff) {
    s.err(`Message number too large: ${m[2]}`);
    return undefined;
  }
  if (m[2] !== '') {
    s.err(`Noise after message number: ${m[2]}`);
    return undefined;
  }
  const n = Number(m[1]);
  const md = s.maildrop!;
  if (n < 1 || n > md.count) {
    s.err(`There's no message ${n}.`);
    return undefined;
  }
  if (md.isDeleted(n - 1)) {
    s.err('Message is deleted.');
    return undefined;
  }
  return n - 1;
}
