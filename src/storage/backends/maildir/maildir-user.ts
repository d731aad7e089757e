// A user's Maildir store: the INBOX root plus folders in a layout (Maildir++ or LAYOUT=fs), creating, deleting
// and renaming mailbox directories crash-safely (Dovecot maildir-storage.c, mailbox-list-maildir.c / -fs.c).
import { statSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StorageError, toStorageError } from '../../errors.js';
import { fsyncDir, pathExists } from '../../common/fsutil.js';
import type { MailboxListEntry, MailboxStore, UserBackend } from '../backend.js';
import type { MaildirLayout } from '../../list/maildir-layouts.js';
import { MaildirMailboxStore } from './maildir-mailbox.js';
import { MaildirQuota } from './maildir-quota.js';
import type { MaildirQuotaHook } from './maildir-mailbox.js';
import { formatQuotaRule, parseQuotaRule, type QuotaLimits } from './maildirsize.js';
import { writeFileDurable } from '../../common/fsutil.js';

/** Limits set by an admin (IMAP SETQUOTA), a Dovecot quota rule line in the Maildir root; they override the userdb rule. */
export const QUOTA_LIMITS_FILE = 'roost-quota-limits';

export const MAILDIRFOLDER_FILE = 'maildirfolder';

export class MaildirUserBackend implements UserBackend {
  readonly kind = 'maildir';
  readonly subscriptionsFile = 'subscriptions';
  private quotaImpl: MaildirQuota | undefined;
  /** What mailbox stores call: always the current limits, also after setQuotaLimits(). */
  private readonly quotaHook: MaildirQuotaHook = {
    check: async (b, c) => {
      await this.refreshQuotaLimits();
      await this.quotaImpl?.check(b, c);
    },
    update: async (b, c) => this.quotaImpl?.update(b, c),
  };
  /** Identity of QUOTA_LIMITS_FILE when last read ('' when absent), so that other sessions' SETQUOTA is seen. */
  private limitsStamp = '';
  private readonly stores = new Map<string, MaildirMailboxStore>();

  constructor(
    readonly root: string,
    private readonly layout: MaildirLayout,
    private readonly opts: { fsync: boolean; inboxDir?: string; quota?: QuotaLimits },
  ) {
    this.quotaImpl = this.makeQuota(opts.quota);
  }

  private makeQuota(limits: QuotaLimits | undefined): MaildirQuota | undefined {
    if (!limits) return undefined;
    return new MaildirQuota(this.root, limits, async () => [this.inboxDir, ...(await this.listMailboxes()).filter((e) => e.selectable && e.name !== 'INBOX').map((e) => this.dirOf(e.name))], this.opts.fsync);
  }

  /** The user's quota (Maildir++ maildirsize), undefined when there is no limit. */
  get quota(): MaildirQuota | undefined {
    return this.quotaImpl;
  }

  /** Replaces the limits (undefined: unlimited) and keeps them durably in QUOTA_LIMITS_FILE. */
  async setQuotaLimits(limits: QuotaLimits | undefined): Promise<void> {
    await writeFileDurable(join(this.root, QUOTA_LIMITS_FILE), formatQuotaRule(limits) + '\n', { fsync: this.opts.fsync });
    await this.refreshQuotaLimits();
  }

  /** Takes the limits from QUOTA_LIMITS_FILE when it exists (an admin's SETQUOTA), else the userdb rule's. */
  async refreshQuotaLimits(): Promise<void> {
    const path = join(this.root, QUOTA_LIMITS_FILE);
    let stamp = '';
    try {
      // Checked before every save: a direct stat, cheaper than a trip through the thread pool.
      const st = statSync(path, { throwIfNoEntry: false });
      if (st) stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (err) {
      throw toStorageError(err);
    }
    if (stamp === this.limitsStamp) return;
    let limits = this.opts.quota;
    if (stamp) {
      try {
        limits = parseQuotaRule((await readFile(path, 'utf8')).trim());
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw toStorageError(err);
        stamp = '';
      }
    }
    this.limitsStamp = stamp;
    this.quotaImpl = this.makeQuota(limits);
  }

  get separator(): string {
    return this.layout.separator;
  }
  get controlDir(): string {
    return this.root;
  }
  get fsLayout(): boolean {
    return this.layout.kind === 'fs';
  }
  private get inboxDir(): string {
    return this.opts.inboxDir ?? this.root;
  }

  dirOf(name: string): string {
    return name === 'INBOX' ? this.inboxDir : this.layout.mailboxDir(this.root, name);
  }

  async listMailboxes(): Promise<MailboxListEntry[]> {
    const entries = await this.layout.list(this.root);
    const inboxSelectable = await pathExists(join(this.inboxDir, 'cur'));
    return [{ name: 'INBOX', selectable: inboxSelectable }, ...entries];
  }

  /** Asked before every save: a direct stat of cur/, cheaper than a trip through the thread pool. */
  mailboxExists(name: string): Promise<boolean> {
    try {
      return Promise.resolve(statSync(join(this.dirOf(name), 'cur'), { throwIfNoEntry: false }) !== undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return Promise.resolve(false);
      return Promise.reject(toStorageError(err));
    }
  }

  /** Creates cur/ new/ tmp/ (and maildirfolder for Maildir++ folders), each durable. */
  async createMailbox(name: string): Promise<void> {
    const dir = this.dirOf(name);
    if (await pathExists(join(dir, 'cur'))) throw new StorageError('EXISTS');
    try {
      await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
      if (name !== 'INBOX' && this.layout.kind === 'maildir++') await writeFile(join(dir, MAILDIRFOLDER_FILE), '', { mode: 0o600 });
      if (this.opts.fsync) {
        await fsyncDir(dir);
        await fsyncDir(dirname(dir));
      }
    } catch (err) {
      throw toStorageError(err);
    }
  }

  async deleteMailbox(name: string): Promise<void> {
    if (name === 'INBOX') throw new StorageError('PERM', 'INBOX cannot be deleted');
    const dir = this.dirOf(name);
    if (!(await pathExists(dir))) throw new StorageError('NOTFOUND');
    const hasChildDirs = this.layout.kind === 'fs' && (await readdir(dir)).some((n) => !['cur', 'new', 'tmp'].includes(n) && !n.startsWith('.') && !n.startsWith('dovecot') && n !== MAILDIRFOLDER_FILE);
    if (!hasChildDirs) {
      // Rename away first (atomic: the mailbox is gone at once), then remove at leisure.
      const trash = join(this.root, `..DOVECOT-TRASHED.${randomBytes(4).toString('hex')}`);
      await rename(dir, trash).catch((err) => {
        throw toStorageError(err);
      });
      if (this.opts.fsync) await fsyncDir(dirname(dir));
      await rm(trash, { recursive: true, force: true });
    } else {
      if (!(await pathExists(join(dir, 'cur')))) throw new StorageError('NOTFOUND');
      // LAYOUT=fs with children: the directory stays as a \NoSelect parent; only the mailbox inside goes.
      const trash = join(dir, `.trash.${randomBytes(4).toString('hex')}`);
      await mkdir(trash);
      for (const entry of await readdir(dir)) {
        if (['cur', 'new', 'tmp'].includes(entry) || entry.startsWith('dovecot')) await rename(join(dir, entry), join(trash, entry));
      }
      if (this.opts.fsync) await fsyncDir(dir);
      await rm(trash, { recursive: true, force: true });
    }
    this.stores.delete(name);
  }

  async renameMailbox(from: string, to: string): Promise<Array<[string, string]>> {
    if (from === 'INBOX') throw new StorageError('INTERNAL', undefined, new Error('INBOX rename is done by moving messages'));
    const sep = this.separator;
    const all = await this.listMailboxes();
    const moving = all.filter((e) => e.name === from || e.name.startsWith(from + sep));
    if (moving.length === 0 || !moving.some((e) => e.name === from)) throw new StorageError('NOTFOUND');
    const pairs: Array<[string, string]> = moving.map((e) => [e.name, to + e.name.slice(from.length)]);
    for (const [, newName] of pairs) {
      if (all.some((e) => e.name === newName)) throw new StorageError('EXISTS');
      this.dirOf(newName); // validates
    }
    try {
      if (this.layout.kind === 'fs') {
        await mkdir(dirname(this.dirOf(to)), { recursive: true, mode: 0o700 });
        await rename(this.dirOf(from), this.dirOf(to));
        if (this.opts.fsync) await fsyncDir(dirname(this.dirOf(to)));
      } else {
        // Maildir++: every folder is its own directory; rename the existing ones (parents without dirs need nothing).
        for (const [oldName, newName] of pairs) {
          if (await pathExists(this.dirOf(oldName))) await rename(this.dirOf(oldName), this.dirOf(newName));
        }
        if (this.opts.fsync) await fsyncDir(this.root);
      }
    } catch (err) {
      throw toStorageError(err);
    }
    for (const [oldName] of pairs) this.stores.delete(oldName);
    return pairs;
  }

  mailboxStore(name: string): MailboxStore {
    let store = this.stores.get(name);
    if (!store) {
      store = new MaildirMailboxStore(name, this.dirOf(name), { fsync: this.opts.fsync, isInbox: name === 'INBOX', quota: this.quotaHook });
      this.stores.set(name, store);
    }
    return store;
  }

  async close(): Promise<void> {
    this.stores.clear();
  }
}

/** Ensures the root exists and is a directory. */
export async function ensureMaildirRoot(root: string): Promise<void> {
  try {
    const st = await stat(root);
    if (!st.isDirectory()) throw new StorageError('INTERNAL', undefined, new Error(`${root} is not a directory`));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw toStorageError(err);
    await mkdir(root, { recursive: true, mode: 0o700 });
  }
}
