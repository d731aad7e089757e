// One user's storage: mail location -> backend (format + layout) -> mailbox list operations, STATUS from the index,
// sessions, saves (the LMTP and APPEND path, durable before they resolve), subscriptions and special-use.
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { StorageError } from './errors.js';
import { normalizeFlags } from './common/flags.js';
import { KeyedMutex } from './common/fsutil.js';
import { withDotlock, type DotlockOptions } from './common/dotlock.js';
import type { QuotaStore, QuotaUsage, UserBackend } from './backends/backend.js';
import { MaildirUserBackend, ensureMaildirRoot } from './backends/maildir/maildir-user.js';
import { parseQuotaRule } from './backends/maildir/maildirsize.js';
import { fsLayout, maildirPlusPlusLayout } from './list/maildir-layouts.js';
import { createMboxUserBackend } from './backends/mbox/mbox-user.js';
import { canonicalName, validateMailboxName } from './list/names.js';
import { readSubscriptions, writeSubscriptions } from './list/subscriptions.js';
import { DEFAULT_MAILBOXES, SPECIAL_USE_FILE, normalizeSpecialUse, readSpecialUse, writeSpecialUse } from './list/special-use.js';
import { parseMailLocation, type MailLocation } from './location.js';
import { CountQuota, type MailboxCount } from './count-quota.js';
import { MailboxSessionImpl, SharedMailbox } from './mailbox.js';
import { UserIndex, indexDirFor } from '../index/user-index.js';
import { METADATA_FILE, MetadataStore } from './metadata/metadata-store.js';
import { emitUserChange, onUserChange, type UserChangeEvent } from './user-events.js';
import type { MailUserInfo, StorageOptions, MailboxInfo, MailboxStatus } from './api.js';

/** Creates the backend for a parsed mail location; other formats (mbox) register here. */
export type BackendFactory = (loc: MailLocation, user: MailUserInfo, opts: StorageOptions) => Promise<UserBackend>;

const backendFactories = new Map<string, BackendFactory>();

/**
 * When this process last made sure of a user's default mailboxes, by special-use file path: a login within
 * DEFAULTS_RECHECK_MS of that skips the listing and the file read. A DELETE or RENAME made here forgets it at once;
 * a mailbox removed behind the server's back comes back at the first login after the interval.
 */
const defaultsEnsuredAt = new Map<string, number>();
/**
 * The list files of a user's store (subscriptions, special uses) are read, changed and written whole: every session
 * of the user in this process takes its turn, keyed by the store's control directory.
 */
const listFileLocks = new KeyedMutex();
/** Dovecot's subscription-file dotlock: a writer waits up to 120 s; a lock not changed for 30 s is stale. */
const SUBSCRIPTIONS_LOCK_OPTIONS: DotlockOptions = { timeoutMs: 120_000, staleMs: 30_000 };
const DEFAULTS_RECHECK_MS = 60_000;

export function registerBackend(format: string, factory: BackendFactory): void {
  backendFactories.set(format, factory);
}

registerBackend('maildir', async (loc, user, opts) => {
  await ensureMaildirRoot(loc.root);
  const backend = new MaildirUserBackend(loc.root, loc.layout === 'fs' ? fsLayout : maildirPlusPlusLayout, {
    fsync: opts.fsync,
    inboxDir: loc.inbox,
    quota: parseQuotaRule(user.quotaRule),
  });
  // Limits an admin set with SETQUOTA (kept beside the store) override the userdb rule.
  await backend.refreshQuotaLimits();
  return backend;
});

registerBackend('mbox', async (loc, user, opts) =>
  createMboxUserBackend({ root: loc.root, inboxPath: loc.inbox, user: user.user, fsync: opts.fsync }),
);

/** The user's mail location string: userdb mail, else the configured default, else maildir:<dataDir>/mail/%u/Maildir. */
export function mailLocationFor(user: MailUserInfo, opts: StorageOptions): string {
  return user.mail || opts.defaultMailLocation || `maildir:${join(opts.dataDir, 'mail', '%u', 'Maildir')}`;
}

export class UserStorageImpl {
  private closed = false;
  private metadataStore: MetadataStore | undefined;
  /** Dovecot's quota=count for a store without a quota file of its own (mbox), when the userdb sets a quota rule. */
  private readonly countQuota: CountQuota | undefined;

  private constructor(
    readonly user: MailUserInfo,
    readonly location: MailLocation,
    readonly backend: UserBackend,
    readonly index: UserIndex,
    private readonly opts: StorageOptions,
  ) {
    const limits = backend instanceof MaildirUserBackend ? undefined : parseQuotaRule(user.quotaRule);
    this.countQuota = limits && new CountQuota(limits, () => this.countMailboxes());
  }

  static async open(user: MailUserInfo, opts: StorageOptions): Promise<UserStorageImpl> {
    const loc = parseMailLocation(mailLocationFor(user, opts), user.user, user.home);
    const factory = backendFactories.get(loc.format);
    if (!factory) throw new StorageError('INTERNAL', undefined, new Error(`no backend for ${loc.format}`));
    const backend = await factory(loc, user, opts);
    const index = UserIndex.acquire(indexDirFor(opts.dataDir, user.user, loc.index), opts.fsync);
    const storage = new UserStorageImpl(user, loc, backend, index, opts);
    // INBOX always exists (Dovecot autocreates it).
    if (!(await backend.mailboxExists('INBOX'))) {
      try {
        await backend.createMailbox('INBOX');
      } catch (err) {
        if (!(err instanceof StorageError && err.code === 'EXISTS')) throw err;
      }
    }
    return storage;
  }

  get separator(): string {
    return this.backend.separator;
  }

  /** Canonical, validated name. */
  private name(raw: string): string {
    const name = canonicalName(raw, this.separator);
    if (name !== 'INBOX') validateMailboxName(name, this.separator, { fsLayout: this.backend.fsLayout });
    return name;
  }

  /**
   * Runs a change of the list files under this process's turn for the user and the subscriptions file's dotlock, the
   * lock Dovecot takes to change that file: a Dovecot (or a `roost` command) working on the same store meanwhile waits.
   */
  private listLocked<T>(fn: () => Promise<T>): Promise<T> {
    return listFileLocks.run(this.backend.controlDir, () => withDotlock(this.subscriptionsPath, fn, SUBSCRIPTIONS_LOCK_OPTIONS));
  }

  private get subscriptionsPath(): string {
    return join(this.backend.controlDir, this.backend.subscriptionsFile);
  }
  private get specialUsePath(): string {
    return join(this.backend.controlDir, SPECIAL_USE_FILE);
  }

  async listMailboxes(): Promise<MailboxInfo[]> {
    // A name appears once: a layout may report a mailbox both as itself and as the parent of a child
    // (INBOX with INBOX.foo in Maildir++); the selectable entry wins.
    const byName = new Map<string, { name: string; selectable: boolean }>();
    for (const e of await this.backend.listMailboxes()) {
      const seen = byName.get(e.name);
      if (!seen || (!seen.selectable && e.selectable)) byName.set(e.name, e);
    }
    const entries = [...byName.values()];
    const subscribed = new Set(await readSubscriptions(this.subscriptionsPath, this.separator));
    const specialUse = await readSpecialUse(this.specialUsePath, this.separator);
    const sep = this.separator;
    return entries.map((e) => ({
      name: e.name,
      separator: sep,
      subscribed: subscribed.has(e.name),
      hasChildren: entries.some((c) => c.name.startsWith(e.name + sep)),
      noSelect: !e.selectable,
      specialUse: e.selectable ? specialUse.get(e.name) : undefined,
    }));
  }

  async listSubscriptions(): Promise<string[]> {
    return readSubscriptions(this.subscriptionsPath, this.separator);
  }

  async createMailbox(raw: string, opts: { specialUse?: string } = {}): Promise<void> {
    const name = this.name(raw);
    const use = opts.specialUse ? normalizeSpecialUse(opts.specialUse) : undefined;
    await this.listLocked(async () => {
      await this.backend.createMailbox(name);
      if (use) {
        const map = await readSpecialUse(this.specialUsePath, this.separator);
        map.set(name, use);
        await writeSpecialUse(this.specialUsePath, map, this.separator, this.opts.fsync);
      }
    });
    emitUserChange(this.index.dir, { kind: 'created', mailbox: name, origin: this });
  }

  async deleteMailbox(raw: string): Promise<void> {
    const name = this.name(raw);
    if (name === 'INBOX') throw new StorageError('PERM', 'INBOX cannot be deleted');
    await this.listLocked(async () => {
      await this.backend.deleteMailbox(name);
      defaultsEnsuredAt.delete(this.specialUsePath);
      this.index.dropMailbox(name);
      await this.metadata().dropMailbox(name);
      const map = await readSpecialUse(this.specialUsePath, this.separator);
      if (map.delete(name)) await writeSpecialUse(this.specialUsePath, map, this.separator, this.opts.fsync);
    });
    emitUserChange(this.index.dir, { kind: 'deleted', mailbox: name, origin: this });
  }

  async renameMailbox(rawFrom: string, rawTo: string): Promise<void> {
    const from = this.name(rawFrom);
    const to = this.name(rawTo);
    if (to === 'INBOX') throw new StorageError('EXISTS');
    if (from === to) throw new StorageError('EXISTS');
    if (to.startsWith(from + this.separator)) throw new StorageError('BADNAME', 'Cannot rename a mailbox into itself');
    if (from === 'INBOX') {
      // RFC 3501 6.3.5: renaming INBOX moves its messages to the new mailbox and leaves INBOX empty.
      await this.createMailbox(to);
      const session = await this.openMailbox('INBOX');
      try {
        await session.move(session.messages().map((m) => m.uid), to);
      } finally {
        await session.close();
      }
      return;
    }
    await this.listLocked(async () => {
      const pairs = await this.backend.renameMailbox(from, to);
      defaultsEnsuredAt.delete(this.specialUsePath);
      for (const [oldName, newName] of pairs) this.index.renameMailbox(oldName, newName);
      await this.metadata().renameMailboxes(pairs);
      const subs = await readSubscriptions(this.subscriptionsPath, this.separator);
      const renamedSubs = subs.map((s) => pairs.find(([o]) => o === s)?.[1] ?? s);
      if (renamedSubs.some((s, i) => s !== subs[i])) await writeSubscriptions(this.subscriptionsPath, renamedSubs, this.separator, this.opts.fsync);
      const uses = await readSpecialUse(this.specialUsePath, this.separator);
      let usesChanged = false;
      for (const [oldName, newName] of pairs) {
        const u = uses.get(oldName);
        if (u) {
          uses.delete(oldName);
          uses.set(newName, u);
          usesChanged = true;
        }
      }
      if (usesChanged) await writeSpecialUse(this.specialUsePath, uses, this.separator, this.opts.fsync);
      for (const [oldName, newName] of pairs) emitUserChange(this.index.dir, { kind: 'renamed', from: oldName, to: newName, origin: this });
    });
  }

  async subscribe(raw: string): Promise<void> {
    const name = this.name(raw);
    await this.listLocked(async () => {
      const subs = await readSubscriptions(this.subscriptionsPath, this.separator);
      if (subs.includes(name)) return;
      subs.push(name);
      await writeSubscriptions(this.subscriptionsPath, subs, this.separator, this.opts.fsync);
    });
    emitUserChange(this.index.dir, { kind: 'subscribed', mailbox: name, origin: this });
  }

  async unsubscribe(raw: string): Promise<void> {
    const name = this.name(raw);
    await this.listLocked(async () => {
      const subs = await readSubscriptions(this.subscriptionsPath, this.separator);
      if (!subs.includes(name)) throw new StorageError('NOTFOUND', 'Not subscribed');
      await writeSubscriptions(this.subscriptionsPath, subs.filter((s) => s !== name), this.separator, this.opts.fsync);
    });
    emitUserChange(this.index.dir, { kind: 'unsubscribed', mailbox: name, origin: this });
  }

  /** The shared mailbox object for an existing, selectable mailbox (index entry up to date with the store). */
  async sharedMailbox(raw: string): Promise<SharedMailbox> {
    const name = this.name(raw);
    if (!(await this.backend.mailboxExists(name))) throw new StorageError('NOTFOUND');
    const shared = SharedMailbox.get(this.index, name, this.backend.mailboxStore(name));
    return shared;
  }

  /**
   * sharedMailbox() for a caller that refreshes it straight away (SELECT, STATUS). A mailbox this session's store
   * already has open or lingering needs no existence check then: the refresh compares the change stamp, and a store
   * deleted meanwhile fails it with NOTFOUND.
   */
  private async sharedMailboxToRefresh(raw: string): Promise<SharedMailbox> {
    const name = this.name(raw);
    const known = SharedMailbox.find(this.index, name);
    if (known && known.store === this.backend.mailboxStore(name) && this.index.state(name)) return known;
    return this.sharedMailbox(raw);
  }

  async status(raw: string): Promise<MailboxStatus> {
    const shared = await this.sharedMailboxToRefresh(raw);
    await shared.refresh();
    const st = shared.state();
    return {
      messages: st.messages,
      recent: st.recent,
      unseen: st.unseen,
      uidNext: st.uidNext,
      uidValidity: st.uidValidity,
      highestModseq: st.highestModseq,
      size: st.size,
      deleted: st.deleted,
    };
  }

  async openMailbox(raw: string, opts: { readOnly?: boolean } = {}): Promise<MailboxSessionImpl> {
    const shared = await this.sharedMailboxToRefresh(raw);
    return MailboxSessionImpl.open(shared, opts.readOnly ?? false, (dest) => this.sharedMailbox(dest), (b, c, v) => this.quotaCheck(b, c, v));
  }

  /** The user's quota: the store's own (Maildir++ maildirsize), else the count from the index, else none. */
  private get quotaStore(): QuotaStore | undefined {
    return this.backend.quota ?? this.countQuota;
  }

  /** Throws NOQUOTA when adding `count` messages of `bytes` on disk (`virtualBytes` RFC822.SIZE) would exceed a limit. */
  private async quotaCheck(bytes: number, count: number, virtualBytes: number): Promise<void> {
    if (this.backend instanceof MaildirUserBackend) await this.backend.refreshQuotaLimits();
    if (this.backend.quota) await this.backend.quota.check(bytes, count);
    else await this.countQuota?.check(virtualBytes, count);
  }

  /** What the index holds for every selectable mailbox, each brought in step with the store first. */
  private async countMailboxes(): Promise<MailboxCount[]> {
    const counts: MailboxCount[] = [];
    for (const e of await this.backend.listMailboxes()) {
      if (!e.selectable) continue;
      const shared = SharedMailbox.get(this.index, e.name, this.backend.mailboxStore(e.name));
      try {
        await shared.refresh();
      } catch (err) {
        if (err instanceof StorageError && err.code === 'NOTFOUND') continue; // deleted meanwhile
        throw err;
      }
      counts.push(shared.state());
    }
    return counts;
  }

  async save(mailbox: string, message: Buffer | NodeJS.ReadableStream, opts: { flags?: string[]; internalDate?: Date; envelopeSender?: string } = {}): Promise<{ uid: number; uidValidity: number }> {
    const shared = await this.sharedMailbox(mailbox);
    const flags = normalizeFlags(opts.flags ?? []);
    if (Buffer.isBuffer(message)) await this.quotaCheck(message.length, 1, message.length);
    const prepared = await shared.store.prepareSave({ data: Buffer.isBuffer(message) ? message : Readable.from(message as AsyncIterable<Buffer>), flags, internalDate: opts.internalDate, envelopeSender: opts.envelopeSender });
    try {
      await this.quotaCheck(prepared.physicalSize, 1, prepared.size);
    } catch (err) {
      await prepared.abort();
      throw err;
    }
    const [stored] = await shared.commitSaves([prepared]);
    return { uid: stored!.uid, uidValidity: shared.state().uidValidity };
  }

  async ensureDefaultMailboxes(): Promise<void> {
    const ensuredAt = defaultsEnsuredAt.get(this.specialUsePath);
    if (ensuredAt !== undefined && Date.now() - ensuredAt < DEFAULTS_RECHECK_MS) return;
    // Looked at without the lock first: a store that has them all (nearly every login) gets no write, not even a lock.
    let plan = await this.defaultMailboxesPlan();
    if (plan.missing.length || plan.usesToWrite) {
      await this.listLocked(async () => {
        plan = await this.defaultMailboxesPlan();
        for (const name of plan.missing) {
          try {
            await this.backend.createMailbox(name);
          } catch (err) {
            if (!(err instanceof StorageError && err.code === 'EXISTS')) throw err;
          }
        }
        if (plan.usesToWrite) await writeSpecialUse(this.specialUsePath, plan.usesToWrite, this.separator, this.opts.fsync);
      });
    }
    defaultsEnsuredAt.set(this.specialUsePath, Date.now());
  }

  /** The default mailboxes missing, and the special-use map to write when a default's use is not recorded yet. */
  private async defaultMailboxesPlan(): Promise<{ missing: string[]; usesToWrite?: Map<string, string> }> {
    const existing = new Set((await this.backend.listMailboxes()).filter((e) => e.selectable).map((e) => e.name));
    const uses = await readSpecialUse(this.specialUsePath, this.separator);
    // A use already held by another mailbox (the user renamed Junk to Spam: the use went with it) is not given twice.
    const usesHeld = new Set([...uses].filter(([name]) => existing.has(name)).map(([, use]) => use));
    let usesChanged = false;
    for (const def of DEFAULT_MAILBOXES) {
      if (def.specialUse && !uses.has(def.name) && !usesHeld.has(def.specialUse)) {
        uses.set(def.name, def.specialUse);
        usesChanged = true;
      }
    }
    return { missing: DEFAULT_MAILBOXES.map((def) => def.name).filter((name) => !existing.has(name)), usesToWrite: usesChanged ? uses : undefined };
  }


  async quota(): Promise<QuotaUsage | undefined> {
    if (this.backend instanceof MaildirUserBackend) await this.backend.refreshQuotaLimits();
    return this.quotaStore?.usage();
  }

  async recalculateQuota(): Promise<QuotaUsage | undefined> {
    return this.quotaStore?.recalculate();
  }

  /** Changes of this user's mailboxes made in this process; `origin` is the UserStorage that made a list change. */
  watchChanges(listener: (event: UserChangeEvent) => void): () => void {
    return onUserChange(this.index.dir, listener);
  }

  metadata(): MetadataStore {
    this.metadataStore ??= new MetadataStore(join(this.backend.controlDir, METADATA_FILE));
    return this.metadataStore;
  }

  get quotaSettable(): boolean {
    return this.backend instanceof MaildirUserBackend;
  }

  async setQuotaLimits(limits: { storage?: number; messages?: number }): Promise<QuotaUsage | undefined> {
    if (!(this.backend instanceof MaildirUserBackend)) throw new StorageError('PERM', 'This mail store keeps no quota');
    const next = { storage: limits.storage ?? 0, messages: limits.messages ?? 0 };
    await this.backend.setQuotaLimits(next.storage || next.messages ? next : undefined);
    return this.backend.quota?.usage();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.backend.close();
    await this.index.release();
  }
}
