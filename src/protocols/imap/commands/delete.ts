// DELETE (RFC 9051 section 6.3.5, RFC 3501 6.3.4): INBOX cannot be deleted; a mailbox with children loses its
// messages and stays as a \Noselect parent; deleting a \Noselect name that has children is an error (HASCHILDREN).
import { ArgCursor } from '../proto/arg-cursor.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { formatMailbox } from '../proto/response.js';
import { findMailbox } from './mailbox-lookup.js';
import { no, ok, type ImapCommandSpec } from '../types.js';

export const deleteCommand: ImapCommandSpec = {
  name: 'DELETE',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const name = parseMailboxName(args.next('mailbox name'), { utf8: s.utf8Names });
    args.end();
    if (name === 'INBOX') return no("INBOX can't be deleted.");
    const storage = s.storage!;
    const entry = await findMailbox(storage, name);
    if (!entry) return no(`Mailbox doesn't exist: ${formatMailbox(name, { utf8: s.utf8Names })}`, 'NONEXISTENT');
    if (entry.noSelect && entry.hasChildren) return no('Mailbox has children, delete them first.', 'HASCHILDREN');
    // Deleting the selected mailbox closes it first (the session returns to the authenticated state).
    if (s.selected?.name === name) await s.select(undefined);
    await storage.deleteMailbox(name);
    return ok('Delete completed.');
  },
};
