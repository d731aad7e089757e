// SUBSCRIBE (RFC 9051 section 6.3.7, RFC 3501 6.3.6): adds a mailbox to the subscriptions; as Dovecot, only
// a mailbox that exists can be subscribed (the RFC allows this check).
import { ArgCursor } from '../proto/arg-cursor.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { formatMailbox } from '../proto/response.js';
import { findMailbox } from './mailbox-lookup.js';
import { no, ok, type ImapCommandSpec } from '../types.js';

export const subscribeCommand: ImapCommandSpec = {
  name: 'SUBSCRIBE',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const name = parseMailboxName(args.next('mailbox name'), { utf8: s.utf8Names });
    args.end();
    const entry = await findMailbox(s.storage!, name);
    if (!entry || entry.noSelect) return no(`Mailbox doesn't exist: ${formatMailbox(name, { utf8: s.utf8Names })}`);
    await s.storage!.subscribe(name);
    return ok('Subscribe completed.');
  },
};
