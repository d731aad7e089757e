// STATUS arguments and the status-att list shared with LIST-STATUS.
// Implements RFC 9051 section 6.3.11 and section 9 (status, status-att), RFC 3501 (RECENT), RFC 7162
// (HIGHESTMODSEQ), RFC 7889 (APPENDLIMIT), RFC 8438 (SIZE), RFC 8474 section 4 (MAILBOXID).
//
// Public API:
//   STATUS_ITEMS: readonly StatusItem[]
//   type StatusItem = 'MESSAGES' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'DELETED' | 'SIZE' | 'RECENT'
//                   | 'HIGHESTMODSEQ' | 'APPENDLIMIT' | 'MAILBOXID'
//   parseStatusItems(token: ImapToken): StatusItem[]     "(" status-att *(SP status-att) ")", no duplicates
//   parseStatusArgs(args, opts: MailboxNameOptions): { mailbox: string; items: StatusItem[] }

import { ArgCursor } from './arg-cursor.js';
import { parseMailboxName, type MailboxNameOptions } from './mailbox-name.js';
import { ProtocolError } from './protocol-error.js';
import type { ImapToken } from './tokens.js';

export const STATUS_ITEMS = [
  'MESSAGES',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'RECENT',
  'HIGHESTMODSEQ',
  'APPENDLIMIT',
  'MAILBOXID',
] as const;
export type StatusItem = (typeof STATUS_ITEMS)[number];

const KNOWN = new Set<string>(STATUS_ITEMS);

export function parseStatusItems(token: ImapToken): StatusItem[] {
  if (token.type !== 'list') throw new ProtocolError('Invalid status items: expected a parenthesized list');
  if (token.items.length === 0) throw new ProtocolError('Empty status item list');
  const out: StatusItem[] = [];
  for (const t of token.items) {
    if (t.type !== 'atom' || !KNOWN.has(t.value.toUpperCase())) throw new ProtocolError('Invalid status item');
    const item = t.value.toUpperCase() as StatusItem;
    if (!out.includes(item)) out.push(item);
  }
  return out;
}

export function parseStatusArgs(args: readonly ImapToken[], opts: MailboxNameOptions): { mailbox: string; items: StatusItem[] } {
  const cursor = new ArgCursor(args);
  const mailbox = parseMailboxName(cursor.next('mailbox name'), opts);
  const items = parseStatusItems(cursor.next('status items'));
  cursor.end();
  return { mailbox, items };
}
