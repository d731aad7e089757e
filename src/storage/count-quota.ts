// Quota for stores that keep no quota file of their own (mbox), as Dovecot's quota=count with quota_vsizes=yes:
// limits from the userdb quota rule, usage counted from the index (messages and RFC822 sizes of every mailbox).
import { StorageError } from './errors.js';
import type { QuotaStore, QuotaUsage } from './backends/backend.js';
import type { QuotaLimits } from './backends/maildir/maildirsize.js';

/** What the index holds for one mailbox, brought in step with the store. */
export interface MailboxCount {
  messages: number;
  /** Sum of the messages' RFC822.SIZE. */
  size: number;
}

export class CountQuota implements QuotaStore {
  constructor(
    private readonly limits: QuotaLimits,
    /** Every selectable mailbox of the user, each refreshed from the store before it is counted. */
    private readonly countMailboxes: () => Promise<MailboxCount[]>,
  ) {}

  async usage(): Promise<QuotaUsage> {
    let bytes = 0;
    let messages = 0;
    for (const c of await this.countMailboxes()) {
      bytes += c.size;
      messages += c.messages;
    }
    return { limits: this.limits, bytes, messages };
  }

  /** `addBytes` is the RFC822.SIZE of what is being added (virtual size, as the usage). */
  async check(addBytes: number, addMessages: number): Promise<void> {
    const u = await this.usage();
    if (this.limits.storage > 0 && addBytes > 0 && u.bytes + addBytes > this.limits.storage) throw new StorageError('NOQUOTA');
    if (this.limits.messages > 0 && addMessages > 0 && u.messages + addMessages > this.limits.messages) throw new StorageError('NOQUOTA');
  }

  /** Nothing to record: the index is the count. */
  async update(): Promise<void> {}

  /** Usage is always counted afresh from the index, which each count brings in step with the store first. */
  recalculate(): Promise<QuotaUsage> {
    return this.usage();
  }
}
