// RENAME (RFC 9051 section 6.3.6, RFC 3501 6.3.5): children move with the mailbox; renaming INBOX moves its
// messages into the new mailbox and leaves INBOX empty; a mailbox cannot move below itself.
import { ArgCursor } from '../proto/arg-cursor.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { no, ok, type ImapCommandSpec } from '../types.js';

export const renameCommand: ImapCommandSpec = {
  name: 'RENAME',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const from = parseMailboxName(args.next('existing mailbox name'), { utf8: s.utf8Names });
    let to = parseMailboxName(args.next('new mailbox name'), { utf8: s.utf8Names });
    args.end();
    const separator = s.storage!.separator;
    if (to.endsWith(separator)) to = to.slice(0, -separator.length);
    if (to.toUpperCase() === 'INBOX') to = 'INBOX';
    if (from !== 'INBOX' && to.startsWith(from + separator)) return no("Can't rename mailbox under its own child.");
    // Renaming an empty INBOX has no messages to move: it only creates the new mailbox (RFC 3501 6.3.5).
    if (from === 'INBOX' && (await s.storage!.status('INBOX')).messages === 0) await s.storage!.createMailbox(to);
    else await s.storage!.renameMailbox(from, to);
    return ok('Rename completed.');
  },
};
