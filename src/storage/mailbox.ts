// The generic mailbox layer over any backend: keeps the LMDB index in step with the store (cheap change stamps,
// full scans when they differ), gives each session a stable view that changes only at sync (RFC 9051 7.5.1),
// hands out \Recent to one session, and tells the other sessions of the user in this process about changes.
import { emitUserChange } from './user-events.js';
import { EventEmitter } from 'node:events';
import { AsyncLocalStorage } from 'node:async_hooks';
import { StorageError } from './errors.js';
import { applyFlagChange, hasFlag, normalizeFlags, sameFlags } from './common/flags.js';
import type { MailboxStore, MessageContent, OpenOptions, PreparedSave, StoredMessage } from './backends/backend.js';
import { findByUid, indexOfUid, type MailboxState, type MessageRecord, type UserIndex } from '../index/user-index.js';
import { SnapshotColumns } from '../index/view-snapshot.js';
import { getLogger } from '../lib/logger.js';

const log = getLogger({ component: 'mailbox' });

/**
 * Runs a function in the async context this module was loaded in, where no store lock is held. Background work
 * (fs events, timers, refreshes) starts through it: started from inside an own change, it would otherwise carry the
 * change's lock context and count as holding a lock that is long gone (mbox locks are reentrant by async context).
 */
const detached = AsyncLocalStorage.snapshot();

/**
 * A message as a session sees it. The index's own records are handed out as they are (a record has these fields and
 * more), so a view of 100,000 messages is one array of the records the index keeps anyway: no copy, no Date objects.
 */
export interface MessageMeta {
  readonly uid: number;
  readonly flags: string[];
  /** INTERNALDATE, ms since the epoch. */
  readonly internalDate: number;
  /** SAVEDATE (RFC 8514), ms since the epoch. */
  readonly saveDate: number;
  readonly size: number;
  readonly modseq: number;
  readonly guid: string;
  /** A POP3 UIDL the store remembers for this message (a dovecot-uidlist P record). */
  readonly pop3Uidl?: string;
}

export interface SyncResult {
  /** Messages gone from this session's view, highest sequence number first (send EXPUNGE in this order). */
  expunged: Array<{ seq: number; uid: number }>;
  /** Messages new in this view (sequence numbers after the old EXISTS). */
  added: MessageMeta[];
  /** Messages whose flags changed (sequence numbers of the new view). */
  flagsChanged: Array<{ seq: number; uid: number; flags: string[]; modseq: number }>;
  exists: number;
  recent: number;
  uidNext: number;
  highestModseq: number;
}

export interface FlagUpdateResult {
  /** Messages whose flags were set, with their new flags and modseq. */
  updated: Array<{ uid: number; seq?: number; flags: string[]; modseq: number }>;
  /** UIDs not changed because their modseq was above UNCHANGEDSINCE (RFC 7162 3.1.3). */
  modified: number[];
}

export interface ChangesEvent {
  mailbox: string;
  highestModseq: number;
}

/** Initial HIGHESTMODSEQ of an index entry made from the store: time based, so that a rebuild only moves it forward. */
export function modseqBase(): number {
  return Date.now() * 1000;
}

export function recordToStored(rec: MessageRecord): StoredMessage {
  return { uid: rec.uid, key: rec.key, flags: rec.flags, internalDate: rec.internalDate, size: rec.size, physicalSize: rec.physicalSize, guid: rec.guid, pop3Uidl: rec.pop3Uidl, unseenBySessions: rec.key.startsWith('new/') };
}

/** Whether the index's record `now` of a message differs from the view's `seen` in what a client is told of. */
function changedSince(seen: MessageMeta, now: MessageMeta): boolean {
  return now !== seen && (now.modseq !== seen.modseq || !sameFlags(now.flags, seen.flags));
}

/** A stamp recorded after an own change is old enough to be confirmed by a rescan. */
function confirmationDue(state: MailboxState | undefined): boolean {
  const since = state?.stampUnconfirmedSince;
  return !!since && Date.now() - since >= CONFIRM_OWN_STAMP_MS;
}

function newState(uidValidity: number, uidNext: number, firstRecentUid: number): MailboxState {
  return { uidValidity, uidNext, highestModseq: modseqBase(), firstRecentUid, messages: 0, unseen: 0, recent: 0, deleted: 0, size: 0, stamp: '' };
}

/**
 * How long a change stamp recorded after this process's own change, or by a scan of a directory that had just
 * changed (StoreSnapshot.stampSettled), stays unconfirmed. Directory and file times are coarse (a few milliseconds on
 * ext4), so an outside change made in the same instant could hide behind the stamp; one rescan this long after
 * catches it (Dovecot's MAILDIR_SYNC_SECS "dirty" directories).
 */
const CONFIRM_OWN_STAMP_MS = 1000;

/** How long a mailbox nobody holds keeps its fs watcher, for the next SELECT of it. */
const WATCHER_LINGER_MS = 5000;

/**
 * The fs watcher of a store and the shared mailbox its events go to. It starts when a session first listens for
 * changes (IDLE), as Dovecot watches a mailbox only while a client idles: every other command compares change stamps
 * anyway, and the first inotify watch of a directory costs time in proportion to its entries (9 ms for a cur/ of
 * 100,000 messages, more than the rest of a cold SELECT). A session of a new login opens the mailbox with its own
 * store object: a lingering watcher of the same path is handed to the new shared mailbox instead of being closed
 * and started again.
 */
interface StoreWatch {
  owner: SharedMailbox;
  readonly path: string;
  close(): void;
}

/**
 * Everything one process knows about one mailbox of one user: the store, the index entry, the open sessions and,
 * once a session listens for changes, the fs.watch that turns outside changes into 'changes' events. Shared by every
 * session of that mailbox.
 */
export class SharedMailbox extends EventEmitter {
  private static readonly registry = new Map<string, SharedMailbox>();
  private refs = 0;
  private watcher?: StoreWatch;
  private watchTimer?: NodeJS.Timeout;
  private confirmTimer?: NodeJS.Timeout;
  private lingerTimer?: NodeJS.Timeout;
  /** When the last session let go (0 while held): the linger timer disposes of the object WATCHER_LINGER_MS later. */
  private unheldSince = 0;
  /** Own changes (changeStore) running now, and whether an fs event came in meanwhile. */
  private changesInFlight = 0;
  private refreshAfterChanges = false;
  /** Refreshes started by fs events or timers, awaited when the last session lets go so none outlives a close. */
  private readonly background = new Set<Promise<void>>();

  private constructor(
    private readonly registryKey: string,
    readonly name: string,
    readonly store: MailboxStore,
    readonly index: UserIndex,
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** The shared object for (index, mailbox); `hold` counts a session that keeps it (and its watcher) alive. */
  static get(index: UserIndex, name: string, store: MailboxStore): SharedMailbox {
    const key = `${index.dir}\0${name}`;
    let shared = SharedMailbox.registry.get(key);
    if (!shared || shared.store !== store) {
      if (shared && shared.refs > 0) return shared;
      const previous = shared;
      shared = new SharedMailbox(key, name, store, index);
      previous?.handOver(shared);
      SharedMailbox.registry.set(key, shared);
    }
    return shared;
  }

  /** Disposes of this unheld object for its successor, which takes over a lingering watcher of the same path. */
  private handOver(successor: SharedMailbox): void {
    const watcher = this.watcher;
    if (watcher && watcher.path === successor.store.path) {
      this.watcher = undefined;
      watcher.owner = successor;
      successor.watcher = watcher;
      successor.linger();
    }
    this.dispose();
  }

  /** The shared object when sessions have it open, for notifications from non-session writers. */
  static find(index: UserIndex, name: string): SharedMailbox | undefined {
    return SharedMailbox.registry.get(`${index.dir}\0${name}`);
  }

  /** `state` is the index entry when the caller has just read it. */
  hold(state?: MailboxState): void {
    this.refs += 1;
    // A running linger timer stays: it finds the object held when it fires (a SELECT after a SELECT sets no timer).
    this.unheldSince = 0;
    // A stamp the opening refresh left unconfirmed (a directory that had just changed) is confirmed while held.
    this.scheduleConfirm(state);
  }

  /**
   * Starts the fs watcher, if none runs yet, for a session that listens for changes; it stays until the mailbox is
   * disposed. The listener syncs after this, so a change made before the watch started is still found.
   */
  watchStore(): void {
    if (this.watcher) return;
    const watcher: StoreWatch = { owner: this, path: this.store.path, close: () => handle.close() };
    const handle = detached(() => this.store.watch(() => watcher.owner.onStoreEvent()));
    this.watcher = watcher;
  }

  /** An fs event of the store: one refresh for a burst of them, while sessions hold the mailbox. */
  private onStoreEvent(): void {
    if (this.watchTimer) return;
    this.watchTimer = setTimeout(() => {
      this.watchTimer = undefined;
      if (this.refs <= 0) return;
      // During this process's own change the stamp is about to be recorded: comparing now would see the change
      // half-way and rescan the whole store for it. Look once it is done (an outsider's change still shows then).
      if (this.changesInFlight > 0) this.refreshAfterChanges = true;
      else this.refreshAndNotify('refresh after fs event');
    }, 20);
  }

  /** Refreshes, and tells the sessions when something changed (fs events, stamp confirmation). */
  private refreshAndNotify(what: string): void {
    const run: Promise<void> = detached(() => this.refresh())
      .then((changed) => {
        if (changed) this.notify();
      })
      .catch((err) => {
        if (this.refs > 0) log.warn({ mailbox: this.name, err: (err as Error).message }, `${what} failed`);
      })
      .finally(() => this.background.delete(run));
    this.background.add(run);
  }

  /** Lets go of one session's hold; the last one stops the watcher and waits for background refreshes (and their locks). */
  async release(): Promise<void> {
    this.refs -= 1;
    if (this.refs > 0) return;
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    // The watcher stays a moment (fs events are ignored meanwhile), so that a client going from one SELECT to the
    // next of the same mailbox does not pay for a new one; the next open compares stamps as always.
    this.linger();
    if (this.background.size > 0) await Promise.all([...this.background]);
  }

  /** Keeps the watcher of this unheld object WATCHER_LINGER_MS for the next open, then disposes of it. */
  private linger(): void {
    this.unheldSince = Date.now();
    if (!this.lingerTimer) this.armLinger(WATCHER_LINGER_MS);
  }

  private armLinger(ms: number): void {
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      if (this.refs > 0 || this.unheldSince === 0) return;
      const left = this.unheldSince + WATCHER_LINGER_MS - Date.now();
      if (left > 0) this.armLinger(left);
      else this.dispose();
    }, ms);
    this.lingerTimer.unref();
  }

  /** Stops the watcher and forgets this object once no session holds it. */
  private dispose(): void {
    if (this.refs > 0) return;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    if (SharedMailbox.registry.get(this.registryKey) === this) SharedMailbox.registry.delete(this.registryKey);
  }

  state(): MailboxState {
    const st = this.index.state(this.name);
    if (!st) throw new StorageError('NOTFOUND');
    return st;
  }

  /**
   * Runs one of this process's own changes to the store under the store's lock (`fn` writes the index too). When
   * the index matched the store before the change, the stamp after it is recorded, so the next sync does not rescan
   * the store for what the index already holds; the stamp stays unconfirmed until a rescan CONFIRM_OWN_STAMP_MS
   * later. A crash between the index write and the stamp leaves the old stamp: a rescan, never a missed change.
   */
  async changeStore<T>(fn: () => Promise<T>): Promise<T> {
    this.changesInFlight += 1;
    try {
      return await this.store.locked(async () => {
        const known = this.index.state(this.name)?.stamp;
        const inStep = !!known && known === (await this.store.changeStamp());
        const result = await fn();
        if (inStep) this.recordOwnStamp(await this.store.changeStamp());
        return result;
      });
    } finally {
      this.changesInFlight -= 1;
      if (this.changesInFlight === 0 && this.refreshAfterChanges) {
        this.refreshAfterChanges = false;
        if (this.refs > 0) this.refreshAndNotify('refresh after fs event');
      }
    }
  }

  private recordOwnStamp(stamp: string): void {
    const state = this.index.state(this.name);
    if (!state) return;
    this.index.write(this.name, () => state, (w) => {
      w.state.stamp = stamp;
      w.state.stampUnconfirmedSince = Date.now();
    });
    this.scheduleConfirm();
  }

  /** A rescan once the last own stamp is old enough, while sessions keep the mailbox open (else the next open does it). */
  private scheduleConfirm(state?: MailboxState): void {
    if (this.confirmTimer || this.refs <= 0) return;
    const since = (state ?? this.index.state(this.name))?.stampUnconfirmedSince;
    if (!since) return;
    this.confirmTimer = detached(() => setTimeout(() => {
      this.confirmTimer = undefined;
      if (this.refs <= 0) return;
      if (confirmationDue(this.index.state(this.name))) this.refreshAndNotify('stamp confirmation');
      else this.scheduleConfirm();
    }, Math.max(0, since + CONFIRM_OWN_STAMP_MS - Date.now()) + 10));
    this.confirmTimer.unref();
  }

  /** Brings the index in line with the store; true when messages or flags changed. */
  async refresh(): Promise<boolean> {
    const before = this.index.state(this.name);
    if (before && before.stamp === (await this.store.changeStamp())) {
      if (!confirmationDue(before) || (await this.confirmByListing(before))) return false;
    }
    return this.store.locked(async () => {
      const known = this.index.cachedRecords(this.name);
      const snap = await this.store.scan((uid) => findByUid(known, uid));
      let current = this.index.state(this.name);
      if (current && current.uidValidity !== snap.uidValidity) {
        log.warn({ mailbox: this.name, old: current.uidValidity, now: snap.uidValidity }, 'UIDVALIDITY changed; index entry dropped');
        this.index.dropMailbox(this.name);
        current = undefined;
      }
      const firstUnseen = snap.messages.find((m) => m.unseenBySessions)?.uid ?? snap.uidNext;
      // Both in UID order: walked side by side (a rescan of 100,000 messages builds no map of them).
      const existing = this.index.cachedRecords(this.name);
      return this.index.write(this.name, () => newState(snap.uidValidity, 1, firstUnseen), (w) => {
        let changed = current === undefined;
        let next = 0;
        for (const m of snap.messages) {
          for (; next < existing.length && existing[next]!.uid < m.uid; next++) {
            w.remove(existing[next]!.uid);
            changed = true;
          }
          const rec = existing[next]?.uid === m.uid ? existing[next++] : undefined;
          if (!rec) {
            w.put({ uid: m.uid, key: m.key, flags: m.flags, internalDate: m.internalDate, saveDate: Date.now(), size: m.size, physicalSize: m.physicalSize, modseq: w.nextModseq(), guid: m.guid, pop3Uidl: m.pop3Uidl });
            changed = true;
          } else if (!sameFlags(rec.flags, m.flags)) {
            w.put({ ...rec, key: m.key, flags: m.flags, modseq: w.nextModseq(), pop3Uidl: m.pop3Uidl });
            changed = true;
          } else if (rec.key !== m.key || rec.pop3Uidl !== m.pop3Uidl) {
            w.put({ ...rec, key: m.key, pop3Uidl: m.pop3Uidl });
          }
        }
        for (; next < existing.length; next++) {
          w.remove(existing[next]!.uid);
          changed = true;
        }
        w.state.uidNext = Math.max(w.state.uidNext, snap.uidNext);
        w.state.stamp = snap.stamp;
        w.state.stampUnconfirmedSince = snap.stampSettled === false ? Date.now() : 0;
        return changed;
      });
    }).finally(() => this.scheduleConfirm());
  }

  /**
   * Confirms an unconfirmed stamp without a scan when the store lists exactly the files the index holds (the stamp
   * unchanged, under the lock): whatever hid behind a coarse directory time a second ago shows as a name now, a
   * delivery, an expunge or a flag change (a rename) alike. False when anything differs: then a scan decides.
   */
  private async confirmByListing(before: MailboxState): Promise<boolean> {
    const { store } = this;
    if (!store.listKeys) return false;
    return store.locked(async () => {
      const now = this.index.state(this.name);
      if (!now || now.stamp !== before.stamp || now.stamp !== (await store.changeStamp())) return false;
      const keys = await store.listKeys!();
      const records = this.index.cachedRecords(this.name);
      if (keys.length !== records.length) return false;
      const known = new Set<string>();
      for (const r of records) known.add(r.key);
      if (!keys.every((k) => known.has(k))) return false;
      this.index.write(this.name, () => now, (w) => {
        w.state.stampUnconfirmedSince = 0;
      });
      return true;
    });
  }

  /** Tells every session of this mailbox in this process (except `origin`) that something changed. */
  notify(origin?: unknown): void {
    const st = this.index.state(this.name);
    const event: ChangesEvent = { mailbox: this.name, highestModseq: st?.highestModseq ?? 0 };
    this.emit('changes', event, origin);
    emitUserChange(this.index.dir, { kind: 'messages', mailbox: this.name });
  }

  /** Makes prepared saves visible (UIDs assigned under the store lock) and indexes them; rolls back on failure. */
  async commitSaves(prepared: PreparedSave[]): Promise<StoredMessage[]> {
    if (!this.index.state(this.name)) await this.refresh();
    const stored = await this.changeStore(async () => {
      const done: StoredMessage[] = [];
      try {
        for (const p of prepared) done.push(await p.commit());
      } catch (err) {
        for (const p of prepared) await p.abort();
        if (done.length) await this.store.expunge(done).catch(() => undefined);
        throw err;
      }
      const state = this.index.state(this.name)!;
      this.index.write(this.name, () => state, (w) => {
        const now = Date.now();
        for (const s of done) {
          w.put({ uid: s.uid, key: s.key, flags: s.flags, internalDate: s.internalDate, saveDate: now, size: s.size, physicalSize: s.physicalSize, modseq: w.nextModseq(), guid: s.guid });
        }
      });
      return done;
    });
    this.notify();
    return stored;
  }
}

/** Keywords in use in a view array, computed once per array: sessions of an unchanged mailbox share the index's array. */
const keywordsOfView = new WeakMap<readonly MessageMeta[], readonly string[]>();
/** The index of the first message without \Seen (-1: none) in a shared view array: SELECTs of a large, mostly read mailbox. */
const firstUnseenOfView = new WeakMap<readonly MessageMeta[], number>();

function keywordsIn(view: readonly MessageMeta[]): readonly string[] {
  let keywords = keywordsOfView.get(view);
  if (!keywords) {
    const found = new Set<string>();
    for (const m of view) for (const f of m.flags) if (!f.startsWith('\\')) found.add(f);
    keywords = [...found].sort();
    keywordsOfView.set(view, keywords);
  }
  return keywords;
}

/**
 * UIDNEXT for a view taken after `state` was read: the state's, or past the view's last UID when a save landed in
 * between. Never the live value, which may count a message the session has not announced yet (RFC 9051 section 2.3.1.1).
 */
function uidNextOf(view: readonly MessageMeta[] | SnapshotColumns, state: MailboxState): number {
  const lastUid = view instanceof SnapshotColumns ? view.lastUid : view.length ? view[view.length - 1]!.uid : 0;
  return Math.max(state.uidNext, lastUid + 1);
}

/** One session's view of a mailbox (an IMAP SELECT, a POP3 session...). */
export class MailboxSessionImpl extends EventEmitter {
  /** Shared with the index's cached view (and other sessions) until this session changes it: copied on first write. */
  private viewRecords: MessageMeta[] = [];
  /**
   * A large mailbox's view straight after a start, before anything needed its records: the snapshot's columns, which
   * give the count, keywords and first unseen message of a SELECT. The first use of `view` decodes them (shared).
   */
  private viewColumns?: SnapshotColumns;
  private viewIsShared = false;
  /** Keywords in use in this view, once asked; own flag changes add to it, a sync that changes the view drops it. */
  private keywords?: readonly string[];
  private knownModseq = 0;
  /** The highest modseq whose flag changes syncFlags() has brought into this view (sync() still walks for the rest). */
  private flagsSyncedModseq = 0;
  /** UIDNEXT as of this session's view (never behind a UID in it, never ahead of a message it was not told of). */
  private viewUidNext = 1;
  private recent = new Set<number>();
  private closed = false;
  private readonly onChanges = (event: ChangesEvent, origin: unknown) => {
    if (origin !== this) this.emit('changes', event);
  };

  private constructor(
    readonly shared: SharedMailbox,
    readonly readOnly: boolean,
    private readonly resolveStore: (name: string) => Promise<SharedMailbox>,
    private readonly quotaCheck: (bytes: number, count: number, virtualBytes: number) => Promise<void>,
    readonly uidValidity: number,
  ) {
    super();
    this.on('newListener', (event: string) => {
      if (event === 'changes') shared.watchStore();
    });
  }

  static async open(
    shared: SharedMailbox,
    readOnly: boolean,
    resolveStore: (name: string) => Promise<SharedMailbox>,
    quotaCheck: (bytes: number, count: number, virtualBytes: number) => Promise<void>,
  ): Promise<MailboxSessionImpl> {
    await shared.refresh();
    // The index entry is read once for the steps below, all synchronous unless there are \Recent messages to claim.
    let state = shared.state();
    const session = new MailboxSessionImpl(shared, readOnly, resolveStore, quotaCheck, state.uidValidity);
    shared.hold(state);
    shared.on('changes', session.onChanges);
    const claiming = session.claimRecent(state);
    if (claiming) {
      await claiming;
      state = shared.state();
    }
    const view = shared.index.cachedView(shared.name, state);
    if (view instanceof SnapshotColumns) session.viewColumns = view;
    else session.view = view as MessageRecord[];
    session.viewIsShared = true;
    session.knownModseq = state.highestModseq;
    session.viewUidNext = uidNextOf(view, state);
    return session;
  }

  get name(): string {
    return this.shared.name;
  }

  private get view(): MessageMeta[] {
    if (this.viewColumns) {
      try {
        this.viewRecords = this.shared.index.decodedView(this.shared.name, this.viewColumns);
      } catch (err) {
        if (this.viewColumns.isLost) throw new StorageError('TEMP', 'Mailbox state changed meanwhile, select it again', err);
        throw err;
      }
      this.viewColumns = undefined;
    }
    return this.viewRecords;
  }

  private set view(records: MessageMeta[]) {
    this.viewRecords = records;
    this.viewColumns = undefined;
  }

  /** The columns this view still stands on; undefined once they are decoded (by this session or another one). */
  private undecodedColumns(): SnapshotColumns | undefined {
    return this.viewColumns?.isDecoded ? undefined : this.viewColumns;
  }

  /** The number of messages in the view (without decoding a snapshot's columns). */
  messageCount(): number {
    return this.viewColumns ? this.viewColumns.length : this.viewRecords.length;
  }

  /** The view is in ascending UID order, so a binary search finds a sequence number without a per-SELECT map. */
  private seqOfUid(uid: number): number | undefined {
    const at = indexOfUid(this.view, uid);
    return at < 0 ? undefined : at + 1;
  }

  /**
   * Gives this session the \Recent messages nobody has claimed yet (read-write sessions only, as Dovecot). Nothing to
   * claim (the usual case) is answered at once, without a promise; `state` is the index entry when just read.
   */
  private claimRecent(state = this.shared.index.state(this.shared.name)): Promise<void> | undefined {
    if (this.readOnly || !state || state.firstRecentUid >= state.uidNext) return undefined;
    return this.claimRecentFrom(state);
  }

  private async claimRecentFrom(state: MailboxState): Promise<void> {
    const { index, name, store } = this.shared;
    const claimed = index.write(name, () => state, (w) => {
      const recs = index.records(name).filter((r) => r.uid >= w.state.firstRecentUid);
      w.setFirstRecentUid(w.state.uidNext);
      return recs;
    });
    for (const r of claimed) this.recent.add(r.uid);
    const inNew = claimed.filter((r) => r.key.startsWith('new/'));
    if (inNew.length === 0) return;
    try {
      await this.shared.changeStore(async () => {
        const settled = await store.settle(inNew.map(recordToStored));
        index.write(name, () => state, (w) => {
          for (const s of settled) {
            const rec = w.get(s.uid);
            if (rec && rec.key !== s.key) w.put({ ...rec, key: s.key });
          }
        });
      });
    } catch (err) {
      log.warn({ mailbox: name, err: (err as Error).message }, 'moving claimed messages to cur/ failed');
    }
  }

  uidNext(): number {
    return this.viewUidNext;
  }

  highestModseq(): number {
    return this.knownModseq;
  }

  messages(): readonly MessageMeta[] {
    return this.view;
  }

  keywordsInUse(): readonly string[] {
    return (this.keywords ??= this.undecodedColumns()?.keywords ?? keywordsIn(this.view));
  }

  firstUnseenSeq(): number | undefined {
    // A shared view array is never changed in place (an own flag change copies it first), so its answer is kept.
    const columns = this.undecodedColumns();
    if (columns) return columns.firstUnseenIndex < 0 ? undefined : columns.firstUnseenIndex + 1;
    const view = this.view;
    let index = this.viewIsShared ? firstUnseenOfView.get(view) : undefined;
    if (index === undefined) {
      index = view.findIndex((m) => !m.flags.includes('\\Seen'));
      if (this.viewIsShared) firstUnseenOfView.set(view, index);
    }
    return index < 0 ? undefined : index + 1;
  }

  seqOf(uid: number): number | undefined {
    return this.seqOfUid(uid);
  }

  recentUids(): ReadonlySet<number> {
    return this.recent;
  }

  private ensureOpen(): void {
    if (this.closed) throw new StorageError('INTERNAL', undefined, new Error('mailbox session closed'));
  }

  async sync(): Promise<SyncResult> {
    this.ensureOpen();
    await this.shared.refresh();
    let state = this.shared.state();
    const claiming = this.claimRecent(state);
    if (claiming) {
      await claiming;
      state = this.shared.state();
    }
    const result: SyncResult = { expunged: [], added: [], flagsChanged: [], exists: this.messageCount(), recent: this.recent.size, uidNext: state.uidNext, highestModseq: state.highestModseq };
    if (state.highestModseq === this.knownModseq && result.exists === state.messages) return result;
    // The index's current view (shared, carried forward by this process's writes) walked beside this session's one.
    const latest: readonly MessageMeta[] = this.shared.index.cachedRecords(this.shared.name);
    const old = this.view;
    const lastUid = old.length ? old[old.length - 1]!.uid : 0;
    const kept: MessageMeta[] = [];
    const changed = new Set<number>();
    let j = 0;
    let interleaved = false;
    for (let i = 0; i < old.length; i++) {
      const m = old[i]!;
      while (j < latest.length && latest[j]!.uid < m.uid) {
        interleaved = true; // a UID below this view's last one that it never had: not from a save, but keep it out
        j++;
      }
      const now = latest[j];
      if (now && now.uid === m.uid) {
        // Only changes this view has not seen are reported: the session's own updateFlags already show in it.
        if (changedSince(m, now)) changed.add(m.uid);
        kept.push(now);
        j++;
      } else {
        result.expunged.push({ seq: i + 1, uid: m.uid });
        this.recent.delete(m.uid);
      }
    }
    result.expunged.reverse();
    while (j < latest.length && latest[j]!.uid <= lastUid) {
      interleaved = true;
      j++;
    }
    const added = latest.slice(j);
    const newView = interleaved ? [...kept, ...added] : (latest as MessageMeta[]);
    this.view = newView;
    this.viewIsShared = !interleaved;
    this.keywords = undefined;
    for (let i = 0; i < kept.length; i++) {
      const m = kept[i]!;
      if (changed.has(m.uid)) result.flagsChanged.push({ seq: i + 1, uid: m.uid, flags: m.flags, modseq: m.modseq });
    }
    result.added = added;
    result.exists = this.view.length;
    result.recent = this.recent.size;
    this.knownModseq = state.highestModseq;
    this.viewUidNext = result.uidNext = uidNextOf(newView, state);
    return result;
  }

  /**
   * Brings the flags of the messages in this view up to date without removing or adding any, so sequence numbers
   * stay: what FETCH, STORE and SEARCH report after themselves (RFC 9051 section 7.5.1). Like Dovecot's fast sync it
   * reads the index only (changes by Roost's sessions and deliveries); the store is compared at the next sync(), which
   * also reports expunges and new messages (and no flag change twice).
   */
  async syncFlags(): Promise<SyncResult['flagsChanged']> {
    this.ensureOpen();
    const { highestModseq } = this.shared.state();
    if (highestModseq === this.knownModseq || highestModseq === this.flagsSyncedModseq) return [];
    this.flagsSyncedModseq = highestModseq;
    const latest: readonly MessageMeta[] = this.shared.index.cachedRecords(this.shared.name);
    const view = this.view;
    const changed: { seq: number; now: MessageMeta }[] = [];
    let j = 0;
    for (let i = 0; i < view.length; i++) {
      const m = view[i]!;
      while (j < latest.length && latest[j]!.uid < m.uid) j++;
      const now = latest[j];
      if (!now || now.uid !== m.uid) continue;
      j++;
      if (changedSince(m, now)) changed.push({ seq: i + 1, now });
    }
    if (changed.length === 0) return [];
    if (this.viewIsShared) {
      this.view = view.slice();
      this.viewIsShared = false;
    }
    const mine = this.view;
    for (const c of changed) mine[c.seq - 1] = c.now;
    this.keywords = undefined;
    return changed.map(({ seq, now }) => ({ seq, uid: now.uid, flags: now.flags, modseq: now.modseq }));
  }

  async openMessage(uid: number, opts?: OpenOptions): Promise<MessageContent> {
    this.ensureOpen();
    const { index, name, store } = this.shared;
    // The view's records are the index's (MessageRecord, key included) or copies of them with other flags.
    const viewed = store.opensStaleKeys ? (findByUid(this.view, uid) as MessageRecord | undefined) : undefined;
    if (viewed) return store.open(recordToStored(viewed), { ...opts, latestKey: () => index.record(name, uid)?.key });
    const rec = index.record(name, uid);
    if (!rec) throw new StorageError('EXPUNGED');
    return store.open(recordToStored(rec), opts);
  }

  async updateFlags(uids: number[], mode: 'add' | 'remove' | 'replace', flags: string[], opts: { unchangedSince?: number } = {}): Promise<FlagUpdateResult> {
    this.ensureOpen();
    if (this.readOnly) throw new StorageError('PERM', 'Mailbox is read-only');
    const change = normalizeFlags(flags);
    const { index, name, store } = this.shared;
    const result: FlagUpdateResult = { updated: [], modified: [] };
    /** The records written, by UID: the view takes them (a Maildir file's new name included, see openMessage). */
    const written = new Map<number, MessageRecord>();
    let caughtUp = false;
    await this.shared.changeStore(async () => {
      const changes: Array<{ rec: MessageRecord; flags: string[] }> = [];
      for (const uid of uids) {
        const rec = index.record(name, uid);
        if (!rec) continue; // expunged meanwhile: nothing to store (RFC 9051 6.4.6)
        if (opts.unchangedSince !== undefined && rec.modseq > opts.unchangedSince) {
          result.modified.push(uid);
          continue;
        }
        const next = applyFlagChange(rec.flags, mode, change);
        if (sameFlags(next, rec.flags)) {
          result.updated.push({ uid, seq: this.seqOfUid(uid), flags: rec.flags, modseq: rec.modseq });
          continue;
        }
        changes.push({ rec, flags: next });
      }
      if (changes.length === 0) return;
      const stored = await store.setFlags(changes.map((c) => ({ msg: recordToStored(c.rec), flags: c.flags })));
      const state = index.state(name)!;
      index.write(name, () => state, (w) => {
        // When this view had seen everything before this change, it has seen the change too (it is applied below).
        caughtUp = w.state.highestModseq === this.knownModseq && w.state.messages === this.view.length;
        for (const [i, s] of stored.entries()) {
          const rec = changes[i]!.rec;
          const modseq = w.nextModseq();
          const next = { ...rec, key: s.key, flags: s.flags, modseq };
          w.put(next);
          written.set(rec.uid, next);
          result.updated.push({ uid: rec.uid, seq: this.seqOfUid(rec.uid), flags: s.flags, modseq });
        }
        if (caughtUp) this.knownModseq = w.state.highestModseq;
      });
    });
    // The session's own changes show in its view at once (they do not move sequence numbers).
    if (result.updated.length && this.viewIsShared) {
      this.view = this.view.slice();
      this.viewIsShared = false;
    }
    for (const u of result.updated) {
      const seq = this.seqOfUid(u.uid);
      if (seq !== undefined) this.view[seq - 1] = written.get(u.uid) ?? { ...this.view[seq - 1]!, flags: u.flags, modseq: u.modseq };
      if (this.keywords && u.flags.some((f) => !f.startsWith('\\') && !this.keywords!.includes(f))) {
        this.keywords = [...new Set([...this.keywords, ...u.flags.filter((f) => !f.startsWith('\\'))])].sort();
      }
    }
    if (result.updated.length) this.shared.notify(this);
    return result;
  }

  async copy(uids: number[], dest: string): Promise<{ uidValidity: number; srcUids: number[]; destUids: number[] }> {
    this.ensureOpen();
    const target = await this.resolveStore(dest);
    const { index, name, store } = this.shared;
    const recs = uids.map((u) => index.record(name, u)).filter((r): r is MessageRecord => r !== undefined);
    if (recs.length === 0) {
      // Nothing to copy, but the answer names the destination's UIDVALIDITY: make sure the index knows it.
      await target.refresh();
      return { uidValidity: target.state().uidValidity, srcUids: [], destUids: [] };
    }
    await this.quotaCheck(recs.reduce((a, r) => a + r.physicalSize, 0), recs.length, recs.reduce((a, r) => a + r.size, 0));
    const prepared = await target.store.prepareCopy(store, recs.map((r) => ({ msg: recordToStored(r), flags: r.flags })));
    const stored = await target.commitSaves(prepared);
    return { uidValidity: target.state().uidValidity, srcUids: recs.map((r) => r.uid), destUids: stored.map((s) => s.uid) };
  }

  async move(uids: number[], dest: string): Promise<{ uidValidity: number; srcUids: number[]; destUids: number[] }> {
    if (this.readOnly) throw new StorageError('PERM', 'Mailbox is read-only');
    const copied = await this.copy(uids, dest);
    await this.removeMessages(copied.srcUids);
    return copied;
  }

  async expunge(uids?: number[]): Promise<number[]> {
    this.ensureOpen();
    if (this.readOnly) throw new StorageError('PERM', 'Mailbox is read-only');
    const limit = uids ? new Set(uids) : undefined;
    const candidates = this.shared.index
      .records(this.shared.name)
      .filter((r) => hasFlag(r.flags, '\\Deleted') && (!limit || limit.has(r.uid)))
      .map((r) => r.uid);
    return this.removeMessages(candidates);
  }

  private async removeMessages(uids: number[]): Promise<number[]> {
    if (uids.length === 0) return [];
    const { index, name, store } = this.shared;
    const removed = await this.shared.changeStore(async () => {
      const recs = uids.map((u) => index.record(name, u)).filter((r): r is MessageRecord => r !== undefined);
      await store.expunge(recs.map(recordToStored));
      const state = index.state(name)!;
      index.write(name, () => state, (w) => {
        for (const r of recs) w.remove(r.uid);
      });
      return recs.map((r) => r.uid);
    });
    this.shared.notify(this);
    return removed;
  }

  getCached(uid: number, key: string): unknown {
    return this.shared.index.getCached(this.shared.name, uid, key);
  }

  setCached(uid: number, key: string, value: unknown): void {
    this.shared.index.setCached(this.shared.name, uid, key, value);
  }

  setCachedMany(entries: ReadonlyArray<{ uid: number; key: string; value: unknown }>): void {
    this.shared.index.setCachedMany(this.shared.name, entries);
  }

  getMailboxCached(key: string): unknown {
    return this.shared.index.getMailboxCached(this.shared.name, key);
  }

  setMailboxCached(key: string, value: unknown): void {
    this.shared.index.setMailboxCached(this.shared.name, key, value);
  }

  memo<T>(key: string, create: () => T): T {
    return this.shared.index.memo(this.shared.name, key, create);
  }

  /** UIDs expunged after `modseq` (for QRESYNC VANISHED (EARLIER)). */
  expungedSince(modseq: number): number[] {
    return this.shared.index.expungedSince(this.shared.name, modseq);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.shared.off('changes', this.onChanges);
    this.removeAllListeners();
    await this.shared.release();
  }
}
