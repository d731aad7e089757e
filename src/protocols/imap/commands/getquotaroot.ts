// GETQUOTAROOT (RFC 9208 section 4.3): the quota roots of a mailbox ("* QUOTAROOT <mailbox> <root>...")
// followed by a QUOTA response for each; every mailbox of a user shares the user's one root.
import { ArgCursor } from '../proto/arg-cursor.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { formatMailbox, formatString } from '../proto/response.js';
import { isStorageError } from '../../../storage/api.js';
import { no, ok, type ImapCommandSpec } from '../types.js';
import { USER_QUOTA_ROOT, quotaRootUsage, sendQuota } from '../quota/quota-roots.js';

export const getquotarootCommand: ImapCommandSpec = {
  name: 'GETQUOTAROOT',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const mailbox = parseMailboxName(args.next('mailbox'), { utf8: s.utf8Names });
    args.end();
    try {
      await s.storage!.status(mailbox);
    } catch (err) {
      if (isStorageError(err, 'NOTFOUND')) return no(`Mailbox doesn't exist: ${formatMailbox(mailbox, { utf8: s.utf8Names })}`, 'NONEXISTENT');
      throw err;
    }
    const usage = await quotaRootUsage(s.storage!);
    const name = formatMailbox(mailbox, { utf8: s.utf8Names });
    s.untagged(`QUOTAROOT ${name}${usage ? ` ${formatString(USER_QUOTA_ROOT)}` : ''}`);
    if (usage) sendQuota(s, USER_QUOTA_ROOT, usage);
    return ok('Getquotaroot completed.');
  },
};
