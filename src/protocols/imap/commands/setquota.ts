// SETQUOTA (RFC 9208 section 4.1): an admin (a master user logged in as the user, or a userdb "admin=yes")
// sets the STORAGE (KiB) and MESSAGE limits of the user's root; others get NO [NOPERM]. Limits not named are removed.
import { ArgCursor } from '../proto/arg-cursor.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { no, ok, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import { QUOTA_RESOURCES, USER_QUOTA_ROOT, sendQuota, type QuotaResource } from '../quota/quota-roots.js';

/** Dovecot's notion of an admin session: logged in through a master user, or flagged in the userdb. */
export function isAdmin(s: ImapSessionApi): boolean {
  return s.masterUser !== undefined || /^(yes|y|1|true)$/i.test(s.user?.extra.admin ?? '');
}

export const setquotaCommand: ImapCommandSpec = {
  name: 'SETQUOTA',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const root = args.astring('quota root');
    const list = args.list('quota resource list');
    args.end();
    const limits = new Map<QuotaResource, number>();
    while (!list.done) {
      const name = list.keyword('resource name');
      const limit = list.number64('resource limit');
      if (!(QUOTA_RESOURCES as readonly string[]).includes(name)) return no(`Unsupported resource: ${name}`, 'CANNOT');
      if (limits.has(name as QuotaResource)) throw new ProtocolError(`Resource ${name} given twice`);
      limits.set(name as QuotaResource, Number(limit));
    }
    if (!isAdmin(s)) return no('Quota can be changed only by admin.', 'NOPERM');
    if (root !== USER_QUOTA_ROOT || !s.storage!.quotaSettable) return no("Quota root doesn't exist.", 'NONEXISTENT');
    const storageKiB = limits.get('STORAGE');
    const usage = await s.storage!.setQuotaLimits({
      storage: storageKiB === undefined ? 0 : storageKiB * 1024,
      messages: limits.get('MESSAGE') ?? 0,
    });
    s.log.info({ user: s.user?.user, master: s.masterUser, root, limits: Object.fromEntries(limits) }, 'quota set');
    if (usage) sendQuota(s, root, usage);
    return ok('Setquota completed.');
  },
};
