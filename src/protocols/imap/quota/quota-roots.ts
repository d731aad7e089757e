// The quota roots Roost shows over IMAP (RFC 9208 sections 3, 4.2 and 5): one root per user, named as in
// Dovecot's "quota = maildir:User quota", with the STORAGE (KiB) and MESSAGE resources of the Maildir++ quota.
import type { QuotaUsage, UserStorage } from '../../../storage/api.js';
import { formatString } from '../proto/response.js';
import type { ImapSessionApi } from '../types.js';

/** The one quota root of a user, as Dovecot names it in its usual "quota = maildir:User quota". */
export const USER_QUOTA_ROOT = 'User quota';

/** Resources Roost counts (RFC 9208 section 5): the capability QUOTA=RES-<name> is offered for each. */
export const QUOTA_RESOURCES = ['STORAGE', 'MESSAGE'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

/** The user's quota root, when a limit applies; RFC 9208's quota-list needs at least one resource. */
export async function quotaRootUsage(storage: UserStorage): Promise<QuotaUsage | undefined> {
  const usage = await storage.quota();
  if (!usage?.limits || (usage.limits.storage <= 0 && usage.limits.messages <= 0)) return undefined;
  return usage;
}

/**
 * "(STORAGE <used KiB> <limit KiB> MESSAGE <used> <limit>)": only resources with a limit, in Dovecot's order.
 * Usage is rounded up to whole KiB as Dovecot does (a started KiB counts), the limit down.
 */
export function quotaList(usage: QuotaUsage): string {
  const parts: string[] = [];
  const limits = usage.limits;
  if (limits && limits.storage > 0) parts.push(`STORAGE ${Math.ceil(usage.bytes / 1024)} ${Math.floor(limits.storage / 1024)}`);
  if (limits && limits.messages > 0) parts.push(`MESSAGE ${usage.messages} ${limits.messages}`);
  return `(${parts.join(' ')})`;
}

/** Writes "* QUOTA <root> (...)". */
export function sendQuota(s: ImapSessionApi, root: string, usage: QuotaUsage): void {
  s.untagged(`QUOTA ${formatString(root)} ${quotaList(usage)}`);
}

/** The capabilities of the QUOTA extension (RFC 9208 section 3.1): SETQUOTA is there for admins. */
export function quotaCapabilities(): string[] {
  return ['QUOTA', ...QUOTA_RESOURCES.map((r) => `QUOTA=RES-${r}`), 'QUOTASET'];
}
