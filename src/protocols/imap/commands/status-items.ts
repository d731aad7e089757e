// The STATUS response shared by STATUS and LIST-STATUS: the requested items of one mailbox, written in
// Dovecot's order. Implements RFC 9051 sections 6.3.11 and 7.3.2, RFC 5819, RFC 8438 (SIZE), RFC 7889 (APPENDLIMIT),
// RFC 8474 section 4 (MAILBOXID).
import type { MailboxStatus } from '../../../storage/api.js';
import type { StatusItem } from '../proto/status-args.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { formatMailbox } from '../proto/response.js';
import type { ImapSessionApi } from '../types.js';
import { mailboxId } from '../objectid/ids.js';
import { isAdvertised } from '../capabilities.js';

/** The order the items appear in the response, whatever order the client asked in. */
const RESPONSE_ORDER: readonly StatusItem[] = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'HIGHESTMODSEQ', 'SIZE', 'APPENDLIMIT', 'MAILBOXID'];

/** Refuses items whose extension is not advertised (HIGHESTMODSEQ needs CONDSTORE). */
export function checkStatusItems(s: ImapSessionApi, items: readonly StatusItem[]): void {
  if (items.includes('HIGHESTMODSEQ') && !isAdvertised(s, 'CONDSTORE')) {
    throw new ProtocolError('Invalid status item HIGHESTMODSEQ');
  }
}

function itemValue(s: ImapSessionApi, item: StatusItem, st: MailboxStatus): number | string {
  switch (item) {
    case 'MESSAGES':
      return st.messages;
    case 'RECENT':
      return st.recent;
    case 'UIDNEXT':
      return st.uidNext;
    case 'UIDVALIDITY':
      return st.uidValidity;
    case 'UNSEEN':
      return st.unseen;
    case 'DELETED':
      return st.deleted;
    case 'HIGHESTMODSEQ':
      return st.highestModseq;
    case 'SIZE':
      return st.size;
    case 'APPENDLIMIT':
      return s.ctx.config.imap.imap_max_literal_size;
    case 'MAILBOXID':
      return `(${mailboxId(s.user!.user, st.uidValidity)})`;
  }
}

/** Writes "* STATUS <name> (<item> <n> ...)". */
export function sendStatus(s: ImapSessionApi, name: string, items: readonly StatusItem[], st: MailboxStatus): void {
  const parts = RESPONSE_ORDER.filter((i) => items.includes(i)).map((i) => `${i} ${itemValue(s, i, st)}`);
  s.untagged(`STATUS ${formatMailbox(name, { utf8: s.utf8Names })} (${parts.join(' ')})`);
}
