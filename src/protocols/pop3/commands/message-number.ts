// Parses a POP3 message-number argument (RFC 1939: 1-based, not one marked as deleted) into an
// index, answering -ERR itself when it is malformed, out of range or deleted.
import type { Pop3SessionApi } from '../types.js';

export function messageIndex(s: Pop3SessionApi, arg: string | undefined): number | undefined {
  if (arg === undefined || !/^\d{1,10}$/.test(arg)) {
    s.err('Invalid message number.');
    return undefined;
  }
  const n = Number(arg);
  const md = s.maildrop!;
  if (n < 1 || n > md.count) {
    s.err('There is no such message.');
    return undefined;
  }
  if (md.isDeleted(n - 1)) {
    s.err('Message is deleted.');
    return undefined;
  }
  return n - 1;
}
