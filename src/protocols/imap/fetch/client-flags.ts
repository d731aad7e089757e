// A message's flags as a client sees them in FETCH FLAGS (RFC 9051 section 2.3.2, RFC 3501 2.3.2 \Recent):
// system flags in a fixed order, then \Recent for IMAP4rev1 sessions, then keywords, as Dovecot writes them.
import type { MessageMeta } from '../../../storage/api.js';
import type { SelectedMailbox } from '../selected.js';
import type { ImapSessionApi } from '../types.js';

export function clientFlags(s: ImapSessionApi, box: SelectedMailbox, msg: MessageMeta): string[] {
  return box.flagsOf(s, msg);
}

export function formatFlagList(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}
