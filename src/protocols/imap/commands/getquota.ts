// GETQUOTA (RFC 9208 section 4.2): the usage and limits of one quota root; NO when the root does not
// exist for this user (no limit applies, or a name other than the user's root).
import { ArgCursor } from '../proto/arg-cursor.js';
import { no, ok, type ImapCommandSpec } from '../types.js';
import { USER_QUOTA_ROOT, quotaCapabilities, quotaRootUsage, sendQuota } from '../quota/quota-roots.js';

export const getquotaCommand: ImapCommandSpec = {
  name: 'GETQUOTA',
  states: ['authenticated', 'selected'],
  capabilities: () => quotaCapabilities(),
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const root = args.astring('quota root');
    args.end();
    const usage = root === USER_QUOTA_ROOT ? await quotaRootUsage(s.storage!) : undefined;
    // As Dovecot: a plain NO (RFC 9208 names no response code for an unknown root).
    if (!usage) return no("Quota root doesn't exist.");
    sendQuota(s, root, usage);
    return ok('Getquota completed.');
  },
};
