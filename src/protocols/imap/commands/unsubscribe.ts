// UNSUBSCRIBE (RFC 9051 section 6.3.8, RFC 3501 6.3.7): removes a name from the subscriptions, also the name
// of a mailbox that no longer exists; a name that was not subscribed is not an error (as Dovecot).
import { isStorageError } from '../../../storage/api.js';
import { ArgCursor } from '../proto/arg-cursor.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { ok, type ImapCommandSpec } from '../types.js';

export const unsubscribeCommand: ImapCommandSpec = {
  name: 'UNSUBSCRIBE',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const name = parseMailboxName(args.next('mailbox name'), { utf8: s.utf8Names });
    args.end();
    try {
      await s.storage!.unsubscribe(name);
    } catch (err) {
      if (!isStorageError(err, 'NOTFOUND')) throw err;
    }
    return ok('Unsubscribe completed.');
  },
};
