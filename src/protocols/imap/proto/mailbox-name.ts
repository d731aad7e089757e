// Mailbox name arguments: astring to a Unicode name, via modified UTF-7 or, once UTF8=ACCEPT or
// IMAP4rev2 is enabled, UTF-8. Implements RFC 9051 section 5.1 (INBOX case-insensitive), RFC 3501 5.1.3, RFC 6855 3.
//
// Public API:
//   interface MailboxNameOptions { utf8: boolean }   true once UTF8=ACCEPT or IMAP4rev2 is enabled
//   parseMailboxName(token: ImapToken, opts: MailboxNameOptions, what?: string): string
//   decodeMailboxText(text: string | Buffer, opts: MailboxNameOptions, what?: string): string
//     (no INBOX folding: for LIST references and patterns)
//   throws ProtocolError (BAD for syntax, NO for a name that is not valid modified UTF-7 / UTF-8)

import { decodeMutf7, Mutf7Error } from '../../../lib/mutf7.js';
import { tokenAstringBytes } from './arg-cursor.js';
import { ProtocolError } from './protocol-error.js';
import type { ImapToken } from './tokens.js';

export interface MailboxNameOptions {
  readonly utf8: boolean;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function decodeMailboxText(text: string | Buffer, opts: MailboxNameOptions, what = 'mailbox name'): string {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  for (const b of bytes) {
    if (b < 0x20 || b === 0x7f) throw new ProtocolError(`Control characters in ${what}`, { kind: 'NO' });
  }
  if (opts.utf8) {
    try {
      return UTF8.decode(bytes);
    } catch {
      throw new ProtocolError(`${what} is not valid UTF-8`, { kind: 'NO' });
    }
  }
  for (const b of bytes) {
    if (b >= 0x80) throw new ProtocolError(`8bit characters in ${what}; use modified UTF-7`, { kind: 'NO' });
  }
  try {
    return decodeMutf7(bytes.toString('latin1'));
  } catch (err) {
    if (err instanceof Mutf7Error) throw new ProtocolError(`${what} is not valid modified UTF-7`, { kind: 'NO' });
    throw err;
  }
}

export function parseMailboxName(token: ImapToken, opts: MailboxNameOptions, what = 'mailbox name'): string {
  const name = decodeMailboxText(tokenAstringBytes(token, what), opts, what);
  return name.length === 5 && name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}
