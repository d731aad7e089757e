// The per-user LMDB index: per mailbox UID -> location, flags, modseq, dates, sizes, GUID; counters so STATUS and
// SELECT are O(1); expunged UIDs with their modseq (for QRESYNC); a parsed-data cache. A cache only: rebuildable.
import { open as openLmdb, type Database, type Key, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { getLogger } from '../lib/logger.js';
import { SnapshotColumns, encodeViewSnapshotWithHead, openViewSnapshot, readViewSnapshot, type SnapshotData, type SnapshotHead } from './view-snapshot.js';

const log = getLogger({ component: 'index' });

/** Bump when the stored shape changes; an index with another version is dropped and rebuilt from the store. */
export const INDEX_SCHEMA_VERSION = 2;

export interface MessageRecord {
  uid: number;
  key: string;
  flags: string[];
  internalDate: number;
  saveDate: number;
  size: number;
  physicalSize: number;
  modseq: number;
  guid: string;
  /** A POP3 UIDL the store remembers (a dovecot-uidlist P record). */
  pop3Uidl?: string;
}

export interface MailboxState {
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** Messages with UID >= this are \Recent for the next session that claims them. */
  firstRecentUid: number;
  messages: number;
  unseen: number;
  recent: number;
  deleted: number;
  size: number;
  /** The store's change stamp when the index last matched it. */
  stamp: string;
  /**
   * When the stamp was recorded after one of this process's own changes rather than by a scan (ms since the epoch;
   * absent or 0 once a scan confirmed it): see SharedMailbox.changeStore.
   */
  stampUnconfirmedSince?: number;
}

/** What lmdb-js databases have beyond their typings: the raw read of the last get and the value decoder. */
interface FastReads<V> {
  getBinaryFast(key: string): Buffer | undefined;
  lastSize: number;
  decoder: { decode(bytes: Buffer): V };
}

type MailboxKey = [string, number];
type CacheKey = [string, number, string];

/** A mailbox's cached view: its records, or the snapshot columns they will be decoded from (see cachedView). */
interface ViewEntry {
  key: string;
  records?: MessageRecord[];
  columns?: SnapshotColumns;
}

/** What a cached view is valid for: any change to the mailbox moves one of these. */
function viewKey(st: MailboxState): string {
  return `${st.uidValidity}:${st.highestModseq}:${st.messages}:${st.uidNext}`;
}

/** Where a mailbox's previous view snapshot is kept (a mailbox name holds no NUL). */
function previousSnapshotKey(mailbox: string): string {
  return `${mailbox}\0previous`;
}

/**
 * Mailboxes with at least this many messages keep a view snapshot (view-snapshot.ts): the records in one value, plus
 * the UIDs written since (viewDirty), so loading the mailbox after a restart decodes one value and those records.
 */
const SNAPSHOT_MIN_MESSAGES = 1000;

/** A record by UID in a UID-ordered array such as cachedRecords gives: a binary search, no decoding. */
export function findByUid<T extends { uid: number }>(items: readonly T[], uid: number): T | undefined {
  const at = indexOfUid(items, uid);
  return at < 0 ? undefined : items[at];
}

/** Where `uid` sits in a UID-ordered array, or -1. */
export function indexOfUid(items: ReadonlyArray<{ uid: number }>, uid: number): number {
  let lo = 0;
  let hi = items.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = items[mid]!.uid;
    if (at === uid) return mid;
    if (at < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * A new view array with a transaction's puts and removes applied (the old one is shared and stays as it was), or
 * undefined when a new UID would land among existing ones (never from Roost's own saves: rebuild from the records).
 */
function applyChanges(view: readonly MessageRecord[], changes: ReadonlyMap<number, MessageRecord | null>): MessageRecord[] | undefined {
  if (changes.size === 0) return view as MessageRecord[];
  const next: Array<MessageRecord | undefined> = view.slice();
  const lastUid = view.length ? view[view.length - 1]!.uid : 0;
  const appended: MessageRecord[] = [];
  let removed = false;
  for (const [uid, rec] of changes) {
    const at = indexOfUid(view, uid);
    if (at < 0) {
      if (rec === null) continue;
      if (uid <= lastUid) return undefined;
      appended.push(rec);
    } else if (rec === null) {
      next[at] = undefined;
      removed = true;
    } else {
      next[at] = rec;
    }
  }
  const out = (removed ? next.filter((v) => v !== undefined) : next) as MessageRecord[];
  appended.sort((a, b) => a.uid - b.uid);
  for (const rec of appended) out.push(rec);
  return out;
}

function isSeen(flags: readonly string[]): boolean {
  return flags.includes('\\Seen');
}
function isDeleted(flags: readonly string[]): boolean {
  return flags.includes('\\Deleted');
}

/**
 * Changes to one mailbox inside one synchronous LMDB transaction: counters follow every put/delete, and
 * highestModseq only moves forward. Obtain one through UserIndex.write().
 */
export class MailboxWriter {
  /** Every message put (the record) or removed (null) in this transaction, for the in-memory views. */
  readonly changes = new Map<number, MessageRecord | null>();
  /** Whether the mailbox has a view snapshot whose changed UIDs must be noted (looked up at the first change). */
  private snapshotTracked?: boolean;

  constructor(
    private readonly index: UserIndex,
    readonly mailbox: string,
    readonly state: MailboxState,
    /** The mailbox had no index entry before this transaction: every record it has was put here (no lookups). */
    private readonly fresh = false,
  ) {}

  nextModseq(): number {
    this.state.highestModseq += 1;
    return this.state.highestModseq;
  }

  get(uid: number): MessageRecord | undefined {
    if (this.fresh) return this.changes.get(uid) ?? undefined;
    return this.index.messages.get([this.mailbox, uid]) as MessageRecord | undefined;
  }

  put(rec: MessageRecord): void {
    const old = this.get(rec.uid);
    if (old) this.account(old, -1);
    this.account(rec, +1);
    if (rec.modseq > this.state.highestModseq) this.state.highestModseq = rec.modseq;
    if (rec.uid >= this.state.uidNext) this.state.uidNext = rec.uid + 1;
    this.index.messages.putSync([this.mailbox, rec.uid], rec);
    this.changes.set(rec.uid, rec);
    this.noteChanged(rec.uid);
  }

  /** A changed UID is noted beside the mailbox's view snapshot, which then no longer holds its record. */
  private noteChanged(uid: number): void {
    this.snapshotTracked ??= this.index.views.doesExist(this.mailbox);
    if (this.snapshotTracked) this.index.viewDirty.putSync([this.mailbox, uid], 1);
  }

  /** Removes a message, remembering its UID with the modseq of the expunge. */
  remove(uid: number, modseq = this.nextModseq()): void {
    const old = this.get(uid);
    if (!old) return;
    this.account(old, -1);
    this.changes.set(uid, null);
    this.index.messages.removeSync([this.mailbox, uid]);
    this.noteChanged(uid);
    this.index.expunged.putSync([this.mailbox, uid], modseq);
    for (const key of this.index.cache.getKeys({ start: [this.mailbox, uid, ''], end: [this.mailbox, uid + 1, ''] })) {
      this.index.cache.removeSync(key);
    }
  }

  private account(rec: MessageRecord, sign: 1 | -1): void {
    this.state.messages += sign;
    this.state.size += sign * rec.size;
    if (!isSeen(rec.flags)) this.state.unseen += sign;
    if (isDeleted(rec.flags)) this.state.deleted += sign;
    if (rec.uid >= this.state.firstRecentUid) this.state.recent += sign;
  }

  /** Moves the \Recent boundary (all messages below it stop being recent for new sessions). */
  setFirstRecentUid(uid: number): void {
    if (uid <= this.state.firstRecentUid) return;
    for (const { value } of this.index.messages.getRange({ start: [this.mailbox, this.state.firstRecentUid], end: [this.mailbox, uid] })) {
      void value;
      this.state.recent -= 1;
    }
    this.state.firstRecentUid = uid;
  }
}

/** One LMDB environment per user, shared by every session of that user in this process (reference counted). */
export class UserIndex {
  private static readonly open = new Map<string, UserIndex>();
  private refs = 0;
  readonly root: RootDatabase;
  readonly meta: Database<unknown, string>;
  readonly mailboxes: Database<MailboxState, string>;
  readonly messages: Database<MessageRecord, MailboxKey>;
  readonly expunged: Database<number, MailboxKey>;
  readonly cache: Database<unknown, CacheKey>;
  /**
   * Per mailbox a view snapshot (view-snapshot.ts) and its head (viewHeads), and the UIDs whose records changed since
   * it was written. The snapshot it replaced stays under previousSnapshotKey() until the next one, for sessions that
   * hold columns of it not yet loaded (see loadRecords).
   */
  readonly views: Database<Buffer, string>;
  readonly viewHeads: Database<SnapshotHead, string>;
  readonly viewDirty: Database<number, MailboxKey>;
  /** state()'s decoded objects and the bytes they came from. */
  private readonly decodedStates = new Map<string, { bytes: Buffer; state: MailboxState }>();

  private constructor(readonly dir: string, fsync: boolean) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The index is a cache of the store (DECISIONS.md): it is never fsynced. A killed process loses
    // nothing (the pages are in the OS cache); after a power loss the stamp check rescans the store.
    void fsync;
    this.root = openLmdb({ path: join(dir, 'index.mdb'), maxDbs: 12, noSync: true, compression: false });
    this.meta = this.root.openDB({ name: 'meta' });
    // Records of one kind share their msgpack structure (property names), kept once per database instead of in
    // every value: reading a mailbox's records decodes about three times faster. Values written before are still read.
    const shared = { sharedStructuresKey: Symbol.for('structures') };
    this.mailboxes = this.root.openDB({ name: 'mailboxes', ...shared });
    this.messages = this.root.openDB({ name: 'messages', ...shared });
    this.expunged = this.root.openDB({ name: 'expunged' });
    this.cache = this.root.openDB({ name: 'cache', ...shared });
    this.views = this.root.openDB({ name: 'views', encoding: 'binary' });
    this.viewHeads = this.root.openDB({ name: 'viewHeads' });
    this.viewDirty = this.root.openDB({ name: 'viewDirty' });
    const version = this.meta.get('schemaVersion');
    if (version !== INDEX_SCHEMA_VERSION) {
      if (version !== undefined) log.warn({ dir, version, want: INDEX_SCHEMA_VERSION }, 'index schema changed; rebuilding from the store');
      this.root.transactionSync(() => {
        for (const db of [this.mailboxes, this.messages, this.expunged, this.cache, this.views, this.viewHeads, this.viewDirty] as Database<unknown, Key>[]) {
          for (const key of db.getKeys()) db.removeSync(key);
        }
        this.meta.putSync('schemaVersion', INDEX_SCHEMA_VERSION);
      });
    }
  }

  /** Opens (or shares) the index in `dir`. Every acquire needs one release(). */
  /** An index nobody uses stays open this long, so back-to-back deliveries and logins reuse it. */
  static lingerMs = 30_000;
  private lingerTimer: NodeJS.Timeout | undefined;

  static acquire(dir: string, fsync: boolean): UserIndex {
    let idx = UserIndex.open.get(dir);
    if (!idx) {
      idx = new UserIndex(dir, fsync);
      UserIndex.open.set(dir, idx);
    }
    if (idx.lingerTimer) clearTimeout(idx.lingerTimer);
    idx.lingerTimer = undefined;
    idx.refs += 1;
    return idx;
  }

  async release(): Promise<void> {
    this.refs -= 1;
    if (this.refs > 0) return;
    this.lingerTimer = setTimeout(() => void this.closeNow(), UserIndex.lingerMs);
    this.lingerTimer.unref();
  }

  private async closeNow(): Promise<void> {
    if (this.refs > 0) return;
    this.lingerTimer = undefined;
    if (UserIndex.open.get(this.dir) === this) UserIndex.open.delete(this.dir);
    await this.root.close();
  }

  /** Closes every index nobody uses right away (deleteIndex, tests, shutdown). */
  static async closeIdle(dir?: string): Promise<void> {
    for (const idx of [...UserIndex.open.values()]) {
      if (idx.refs > 0 || (dir !== undefined && idx.dir !== dir)) continue;
      if (idx.lingerTimer) clearTimeout(idx.lingerTimer);
      await idx.closeNow();
    }
  }

  /**
   * A mailbox's state, frozen. A SELECT asks for it half a dozen times: the decoded object is kept with the bytes it
   * came from and given again while LMDB holds the same bytes (another process's write changes them).
   */
  state(mailbox: string): MailboxState | undefined {
    const db = this.mailboxes as unknown as FastReads<MailboxState>;
    const fast = db.getBinaryFast(mailbox);
    if (!fast) {
      this.decodedStates.delete(mailbox);
      return undefined;
    }
    // getBinaryFast's buffer is shared and overwritten by the next read; lastSize is this value's length.
    const bytes = fast.subarray(0, db.lastSize);
    const kept = this.decodedStates.get(mailbox);
    if (kept && kept.bytes.equals(bytes)) return kept.state;
    const copy = Buffer.from(bytes);
    const state = Object.freeze(db.decoder.decode(copy));
    this.decodedStates.set(mailbox, { bytes: copy, state });
    return state;
  }

  /**
   * The records of a mailbox in UID order, as sessions see them: shared by every session and never changed in place.
   * This process's own writes carry the array forward (a STORE replaces one record in a copy of it, it does not
   * decode the mailbox again); a change it did not make here (another process) moves HIGHESTMODSEQ, the message
   * count or UIDNEXT, and the next call loads it anew.
   */
  private readonly viewCache = new Map<string, ViewEntry>();

  cachedRecords(mailbox: string): readonly MessageRecord[] {
    const view = this.cachedView(mailbox);
    return view instanceof SnapshotColumns ? this.decodedView(mailbox, view) : view;
  }

  /**
   * cachedRecords, except that a large mailbox's first load after a start (its snapshot, nothing changed since) comes
   * as the snapshot's columns: a SELECT answers from them, and the records are made at the first decodedView().
   * `st` is the mailbox's state when the caller has just read it (in the same synchronous step).
   */
  cachedView(mailbox: string, st = this.state(mailbox)): readonly MessageRecord[] | SnapshotColumns {
    if (!st) return this.records(mailbox);
    let entry = this.viewCache.get(mailbox);
    if (!entry || entry.key !== viewKey(st)) {
      entry = this.loadRecords(mailbox, st);
      this.viewCache.set(mailbox, entry);
    }
    if (entry.columns?.isDecoded) {
      entry.records = entry.columns.decode();
      entry.columns = undefined;
    }
    return entry.records ?? entry.columns!;
  }

  /**
   * The records of columns cachedView gave (the same array for every session that holds them). A snapshot whose
   * strings do not match its columns is dropped, so the next load reads the records one by one, and this throws.
   */
  decodedView(mailbox: string, columns: SnapshotColumns): MessageRecord[] {
    const records = columns.decode();
    if (records) return records;
    if (this.viewCache.get(mailbox)?.columns === columns) this.viewCache.delete(mailbox);
    if (columns.isLost) {
      // Another process replaced the snapshot twice since the SELECT (or it was dropped): the view is not to be had.
      log.error({ mailbox }, 'view snapshot of the selected state no longer stored');
      throw new Error(`view snapshot of ${mailbox} no longer stored`);
    }
    log.error({ mailbox }, 'view snapshot unreadable; dropped');
    this.root.transactionSync(() => this.removeSnapshot(mailbox));
    throw new Error(`view snapshot of ${mailbox} unreadable`);
  }

  /**
   * A mailbox's records and the view key they match. A large mailbox's come from its view snapshot and the records
   * changed since, read in one transaction (so another process's write is either wholly in or wholly out); the
   * snapshot is (re)written there when missing, unreadable, or when the changes since outgrow an eighth of it. With
   * no change since the snapshot, its columns stand for the records until someone needs them.
   */
  private loadRecords(mailbox: string, st: MailboxState): ViewEntry {
    if (st.messages < SNAPSHOT_MIN_MESSAGES) return { key: viewKey(st), records: this.records(mailbox) };
    return this.root.transactionSync(() => {
      // The state again, inside the transaction: another process may have written since `st` was read.
      const now = this.mailboxes.get(mailbox);
      if (!now) return { key: '', records: [] }; // deleted meanwhile
      // Nothing changed since the snapshot: its head answers a SELECT, its columns are read when someone needs them.
      const head = this.viewHeads.get(mailbox);
      if (head && head.n === now.messages && !this.hasDirty(mailbox)) return { key: viewKey(now), columns: this.lazyColumns(mailbox, head) };
      // Copied out at once (columns and text) before any other read: the value's buffer is LMDB's to reuse.
      const snapshot = this.views.getBinaryFast(mailbox);
      const columns = snapshot ? openViewSnapshot(snapshot) : undefined;
      let records: MessageRecord[] | undefined;
      let changedSince = 0;
      if (columns) {
        const changes = new Map<number, MessageRecord | null>();
        for (const [, uid] of this.viewDirty.getKeys({ start: [mailbox, 0], end: [mailbox, Number.MAX_SAFE_INTEGER] })) {
          changes.set(uid, this.messages.get([mailbox, uid]) ?? null);
        }
        changedSince = changes.size;
        const decoded = columns.decode();
        records = decoded && applyChanges(decoded, changes);
        if (records && records.length !== now.messages) {
          log.warn({ mailbox, snapshot: records.length, messages: now.messages }, 'view snapshot out of step with the index; rewritten');
          records = undefined;
        }
      }
      if (!records) {
        records = this.records(mailbox);
        this.writeSnapshot(mailbox, records);
      } else if (changedSince > Math.max(SNAPSHOT_MIN_MESSAGES, records.length / 8)) {
        this.writeSnapshot(mailbox, records);
      }
      return { key: viewKey(now), records };
    });
  }

  /** Whether UIDs are noted as changed since the mailbox's snapshot. */
  private hasDirty(mailbox: string): boolean {
    for (const _key of this.viewDirty.getKeys({ start: [mailbox, 0], end: [mailbox, Number.MAX_SAFE_INTEGER], limit: 1 })) return true;
    return false;
  }

  /** Columns of this process not yet loaded, per mailbox: loaded before their snapshot is replaced or dropped. */
  private readonly unloadedColumns = new Map<string, WeakRef<SnapshotColumns>[]>();

  /** Columns standing for the snapshot `head` describes, read from the index at their first use. */
  private lazyColumns(mailbox: string, head: SnapshotHead): SnapshotColumns {
    const columns = new SnapshotColumns(head, undefined, () => this.snapshotData(mailbox, head.gen));
    const list = (this.unloadedColumns.get(mailbox) ?? []).filter((ref) => ref.deref()?.isLoaded === false);
    list.push(new WeakRef(columns));
    this.unloadedColumns.set(mailbox, list);
    return columns;
  }

  /** The columns of the snapshot of generation `gen`: the mailbox's snapshot, else the one it replaced. */
  private snapshotData(mailbox: string, gen: string): SnapshotData | undefined {
    for (const key of [mailbox, previousSnapshotKey(mailbox)]) {
      const value = this.views.getBinaryFast(key);
      const read = value && readViewSnapshot(value, gen);
      if (read) return read.data;
    }
    return undefined;
  }

  /** Loads this process's columns that still stand on the mailbox's stored snapshots (before these change). */
  private loadUnloadedColumns(mailbox: string): void {
    const list = this.unloadedColumns.get(mailbox);
    if (!list) return;
    this.unloadedColumns.delete(mailbox);
    for (const ref of list) ref.deref()?.load();
  }

  /**
   * Replaces a mailbox's view snapshot and forgets the UIDs noted beside the old one (inside a write transaction). The
   * old one is kept as the previous snapshot: another process's sessions may hold columns of it not yet loaded.
   */
  private writeSnapshot(mailbox: string, records: readonly MessageRecord[]): void {
    for (const key of this.viewDirty.getKeys({ start: [mailbox, 0], end: [mailbox, Number.MAX_SAFE_INTEGER] })) this.viewDirty.removeSync(key);
    const snapshot = records.length >= SNAPSHOT_MIN_MESSAGES ? encodeViewSnapshotWithHead(records) : undefined;
    if (!snapshot) return this.removeSnapshot(mailbox);
    this.loadUnloadedColumns(mailbox);
    // Copied out first: the value is a view of LMDB's reused read buffer, whose `length` alone is the value's.
    const old = this.views.getBinaryFast(mailbox);
    if (old) this.views.putSync(previousSnapshotKey(mailbox), Buffer.from(old.subarray(0, old.length)));
    this.views.putSync(mailbox, snapshot.value);
    this.viewHeads.putSync(mailbox, snapshot.head);
  }

  /** Drops a mailbox's snapshots and head (inside a write transaction); its columns in this process are loaded first. */
  private removeSnapshot(mailbox: string): void {
    this.loadUnloadedColumns(mailbox);
    this.views.removeSync(mailbox);
    this.views.removeSync(previousSnapshotKey(mailbox));
    this.viewHeads.removeSync(mailbox);
  }

  /** After a committed write: the cached records follow the writer's changes when they matched the state before them. */
  private advanceView(mailbox: string, before: MailboxState | undefined, writer: MailboxWriter, firstRecords?: MessageRecord[]): void {
    const cached = this.viewCache.get(mailbox);
    if (!cached) {
      // A mailbox's first write (its first scan) holds every record: the record view is there without reading them back.
      if (firstRecords) this.viewCache.set(mailbox, { key: viewKey(writer.state), records: firstRecords });
      return;
    }
    const current = cached.records ?? (cached.columns?.isDecoded ? cached.columns.decode() : undefined);
    // Columns nobody has decoded yet are not decoded for a write: the next load reads the snapshot and the changes.
    if (!before || cached.key !== viewKey(before) || !current) {
      this.viewCache.delete(mailbox);
      return;
    }
    const next = applyChanges(current, writer.changes);
    if (!next) {
      this.viewCache.delete(mailbox);
      return;
    }
    cached.records = next;
    cached.columns = undefined;
    cached.key = viewKey(writer.state);
  }

  /**
   * Values derived from a mailbox's messages (which never change under one UIDVALIDITY), kept in this process while
   * the index is open and shared by every session of the mailbox; dropped with the mailbox, at a rename and when
   * UIDVALIDITY changes. Never written to disk.
   */
  private readonly memos = new Map<string, { uidValidity: number; values: Map<string, unknown> }>();

  memo<T>(mailbox: string, key: string, create: () => T): T {
    const uidValidity = this.state(mailbox)?.uidValidity;
    if (uidValidity === undefined) return create();
    let entry = this.memos.get(mailbox);
    if (!entry || entry.uidValidity !== uidValidity) {
      entry = { uidValidity, values: new Map() };
      this.memos.set(mailbox, entry);
    }
    if (!entry.values.has(key)) entry.values.set(key, create());
    return entry.values.get(key) as T;
  }

  records(mailbox: string): MessageRecord[] {
    return [...this.messages.getRange({ start: [mailbox, 0], end: [mailbox, Number.MAX_SAFE_INTEGER] })].map((e) => e.value);
  }

  record(mailbox: string, uid: number): MessageRecord | undefined {
    return this.messages.get([mailbox, uid]);
  }

  /** UIDs expunged with a modseq above `modseq` (QRESYNC VANISHED). */
  expungedSince(mailbox: string, modseq: number): number[] {
    const out: number[] = [];
    for (const { key, value } of this.expunged.getRange({ start: [mailbox, 0], end: [mailbox, Number.MAX_SAFE_INTEGER] })) {
      if (value > modseq) out.push(key[1]);
    }
    return out;
  }

  /**
   * Runs `fn` in one synchronous transaction (a throw rolls everything back) with a writer for `mailbox`.
   * `init` supplies the state when the mailbox has none yet.
   */
  write<T>(mailbox: string, init: () => MailboxState, fn: (w: MailboxWriter) => T): T {
    let before: MailboxState | undefined;
    let writer: MailboxWriter | undefined;
    let firstRecords: MessageRecord[] | undefined;
    const result = this.root.transactionSync(() => {
      before = this.mailboxes.get(mailbox);
      writer = new MailboxWriter(this, mailbox, { ...(before ?? init()) }, !before);
      const value = fn(writer);
      this.mailboxes.putSync(mailbox, writer.state);
      if (!before) {
        // The first write of a mailbox (its first scan) holds every record: the view and its snapshot need no read back.
        firstRecords = [...writer.changes.values()].filter((r): r is MessageRecord => r !== null).sort((a, b) => a.uid - b.uid);
        this.writeSnapshot(mailbox, firstRecords);
      }
      return value;
    });
    if (writer) this.advanceView(mailbox, before, writer, firstRecords);
    return result;
  }

  /** Forgets everything about a mailbox (after delete, or to force a rebuild). */
  dropMailbox(mailbox: string): void {
    this.root.transactionSync(() => this.dropMailboxInTxn(mailbox));
  }

  private dropMailboxInTxn(mailbox: string): void {
    this.memos.delete(mailbox);
    this.viewCache.delete(mailbox);
    this.mailboxes.removeSync(mailbox);
    this.removeSnapshot(mailbox);
    for (const db of [this.messages, this.expunged, this.viewDirty] as Database<unknown, MailboxKey>[]) {
      for (const key of db.getKeys({ start: [mailbox, 0], end: [mailbox, Number.MAX_SAFE_INTEGER] })) db.removeSync(key);
    }
    for (const key of this.cache.getKeys({ start: [mailbox, 0, ''], end: [mailbox, Number.MAX_SAFE_INTEGER, ''] })) this.cache.removeSync(key);
  }

  /** Moves a mailbox's entries to a new name (rename keeps UIDs, modseqs and cache). */
  renameMailbox(from: string, to: string): void {
    this.root.transactionSync(() => {
      this.dropMailboxInTxn(to);
      const state = this.mailboxes.get(from);
      if (!state) return;
      this.mailboxes.putSync(to, state);
      for (const { key, value } of this.messages.getRange({ start: [from, 0], end: [from, Number.MAX_SAFE_INTEGER] })) {
        this.messages.putSync([to, key[1]], value);
      }
      for (const { key, value } of this.expunged.getRange({ start: [from, 0], end: [from, Number.MAX_SAFE_INTEGER] })) {
        this.expunged.putSync([to, key[1]], value);
      }
      for (const { key, value } of this.cache.getRange({ start: [from, 0, ''], end: [from, Number.MAX_SAFE_INTEGER, ''] })) {
        this.cache.putSync([to, key[1], key[2]], value);
      }
      this.dropMailboxInTxn(from);
    });
  }

  getCached(mailbox: string, uid: number, key: string): unknown {
    return this.cache.get([mailbox, uid, key]);
  }

  /** Stores parsed data for a message (ignored when the message is no longer in the index). */
  setCached(mailbox: string, uid: number, key: string, value: unknown): void {
    this.root.transactionSync(() => {
      if (this.messages.doesExist([mailbox, uid])) this.cache.putSync([mailbox, uid, key], value);
    });
  }

  /** setCached for many entries in one transaction. */
  setCachedMany(mailbox: string, entries: ReadonlyArray<{ uid: number; key: string; value: unknown }>): void {
    if (entries.length === 0) return;
    this.root.transactionSync(() => {
      for (const e of entries) if (this.messages.doesExist([mailbox, e.uid])) this.cache.putSync([mailbox, e.uid, e.key], e.value);
    });
  }

  /** The mailbox's own cache entry (kept under UID 0, which no message has: dropped and renamed with the mailbox). */
  getMailboxCached(mailbox: string, key: string): unknown {
    return this.cache.get([mailbox, 0, key]);
  }

  /** Stores data about the whole mailbox (ignored when the mailbox is no longer in the index). */
  setMailboxCached(mailbox: string, key: string, value: unknown): void {
    this.root.transactionSync(() => {
      if (this.mailboxes.doesExist(mailbox)) this.cache.putSync([mailbox, 0, key], value);
    });
  }

  mailboxNames(): string[] {
    return [...this.mailboxes.getKeys()] as string[];
  }
}

/** Where a user's index lives: the :INDEX= path of the mail location, else <dataDir>/index/<user>. */
export function indexDirFor(dataDir: string, user: string, indexPath?: string): string {
  if (indexPath) return indexPath;
  return join(dataDir, 'index', user.replace(/\//g, '_'));
}
