// One mbox file as a MailboxStore, read and written as Dovecot does (mbox-sync.c, mbox-save.c): UIDs in X-UID and
// X-IMAPbase, flags in Status / X-Status / X-Keywords, appends under dotlock + fcntl, crash-safe rewrites by temp file + rename.
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { open, readdir, rename, stat, unlink, readFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError, toStorageError } from '../../errors.js';
import { CrlfToLf, LfToCrlf } from '../../common/crlf.js';
import { fsyncDir } from '../../common/fsutil.js';
import { sortFlags } from '../../common/flags.js';
import { framedCopy, type KnownMessage, type MailboxStore, type MessageContent, type PreparedSave, type SaveInput, type StoreSnapshot, type StoredMessage } from '../backend.js';
import { formatFromLine } from './from-line.js';
import { formatMetadataHeaders, formatPseudoMessage, SAVE_DROP_HEADERS, type ImapBase } from './metadata.js';
import { isFromLine, LineReader, parseMboxFrom, parseMessage, type ByteSource, type MboxParse, type MboxRecord } from './parser.js';
import { acquireSharedMbox, type MboxFileHandle, type MboxLockOptions, type SharedMbox } from './lock.js';
import { getLogger } from '../../../lib/logger.js';

const log = getLogger({ component: 'mbox' });
const COPY_CHUNK = 64 * 1024;
/** Gives back a message content's descriptor reference once the content is garbage (see open()). */
const unreadContents = new FinalizationRegistry<() => void>((giveBack) => giveBack());
/** A save's temp file older than this was left by a crash (Dovecot removes Maildir tmp/ files after 36 hours). */
const SAVE_TEMP_MAX_AGE_MS = 36 * 3600 * 1000;
/** A dotlock's temp file (lock.ts) older than this was left by a crash. */
const LOCK_TEMP_MAX_AGE_MS = 60 * 1000;
/** Files whose leftover temp files this process already removed (once per file: crashes happen before a start). */
const sweptFiles = new Set<string>();
/** Files this process has read in full (scan) at least once: only after that does an unchanged stamp mean an unchanged file. */
const scannedFiles = new Set<string>();
/** Files whose rewrite could not keep the owner, warned about once per process. */
const ownerWarned = new Set<string>();

/** UIDVALIDITY values: time based, strictly increasing within the process (as Dovecot's mailbox-uidvalidity). */
let lastUidValidity = 0;
export function newMboxUidValidity(): number {
  lastUidValidity = Math.max(Math.floor(Date.now() / 1000), lastUidValidity + 1);
  return lastUidValidity;
}

export interface MboxStoreOptions {
  fsync: boolean;
  lock: MboxLockOptions;
  /** Envelope sender written into the From_ line of saved mail (Dovecot: user@host for APPEND). */
  fromSender: string;
}

/** What the mailbox knows about the file at one change stamp. */
interface MboxState {
  stamp: string;
  ino: bigint;
  /** UIDVALIDITY for a file that holds no mail and no X-IMAPbase yet: its birth time, stable while it stays empty */
  fileUidValidity: number;
  parse: MboxParse;
  /** UID of each record (parallel to parse.records); 0 while not yet assigned */
  uids: number[];
  base?: ImapBase;
}

/** One header rewrite: the record and the complete new header block (between the From_ line and the body). */
interface HeaderChange {
  index: number;
  header: Buffer;
}

function fileSource(fh: FileHandle, size: number): ByteSource {
  return {
    size,
    read: async (buffer, offset, length, position) => (await fh.read(buffer, offset, length, position)).bytesRead,
  };
}

async function stampOf(path: string): Promise<string> {
  try {
    const st = await stat(path, { bigint: true });
    return `${st.ino}.${st.size}.${st.mtimeNs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '-';
    throw err;
  }
}

function recordFlags(r: MboxRecord): string[] {
  return sortFlags([...r.meta.systemFlags, ...r.meta.keywords]);
}

export class MboxMailboxStore implements MailboxStore {
  private readonly shared: SharedMbox;
  private readonly releaseShared: () => Promise<void>;
  private readonly sizes = new Map<number, { physicalSize: number; size: number }>();

  constructor(
    readonly name: string,
    readonly path: string,
    private readonly opts: MboxStoreOptions,
  ) {
    const s = acquireSharedMbox(path, opts.lock);
    this.shared = s.shared;
    this.releaseShared = s.release;
  }

  private get journalPath(): string {
    return join(dirname(this.path), `.${basename(this.path)}.roost-append`);
  }

  async exists(): Promise<boolean> {
    try {
      return (await stat(this.path)).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
      throw toStorageError(err);
    }
  }

  /**
   * Matches no stamp until this process has scanned the file once. The index's stamp was recorded by an earlier run,
   * which may have died between changing the file and updating the index, and an in-place flag change keeps inode and
   * size and can keep the mtime (its granularity): so the first sync after a start reads the whole file, after the
   * crash recovery of the lock, and the flags and keywords of the file win over the index's.
   */
  async changeStamp(): Promise<string> {
    if (!scannedFiles.has(this.path)) return 'unscanned';
    return stampOf(this.path);
  }

  async locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.shared.withLock(async () => {
      await this.recoverCrashLeftovers();
      return fn();
    });
  }

  // ---- reading the file ------------------------------------------------------------------------------------------

  private async handleAndSize(): Promise<{ handle: MboxFileHandle; size: number }> {
    const handle = await this.shared.current();
    const st = await handle.fh.stat();
    return { handle, size: st.size };
  }

  private sizeHint = (uid: number, physicalSize: number): number | undefined => {
    const s = this.sizes.get(uid);
    return s && s.physicalSize === physicalSize ? s.size : undefined;
  };

  /** The parse of the file as it is now (cached per change stamp). Locked callers get a state they may write from. */
  private async state(known?: (uid: number) => KnownMessage | undefined): Promise<MboxState> {
    const stamp = await stampOf(this.path);
    if (stamp === '-') throw new StorageError('NOTFOUND');
    const cached = this.shared.cache.get('state') as MboxState | undefined;
    if (cached && cached.stamp === stamp) return cached;
    const { handle, size } = await this.handleAndSize();
    const hint = (uid: number, physicalSize: number): number | undefined => {
      const own = this.sizeHint(uid, physicalSize);
      if (own !== undefined) return own;
      const k = known?.(uid);
      return k && k.physicalSize === physicalSize ? k.size : undefined;
    };
    const parse = await parseMboxFrom(fileSource(handle.fh, size), 0, true, hint);
    const st = await handle.fh.stat();
    const born = Math.floor((st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs) / 1000);
    const state = this.stateFrom(parse, handle.ino, stamp, Math.max(1, born));
    this.shared.cache.set('state', state);
    return state;
  }

  private stateFrom(parse: MboxParse, ino: bigint, stamp: string, fileUidValidity: number): MboxState {
    const base = parse.pseudo?.meta.pseudoBase ?? parse.records[0]?.meta.imapBase;
    const uids: number[] = [];
    let prev = 0;
    for (const r of parse.records) {
      const uid = r.meta.uid;
      if (uid !== undefined && uid > prev) {
        uids.push(uid);
        prev = uid;
      } else {
        uids.push(0);
      }
    }
    // A UID at or below an earlier one is broken (a copied message): it gets a new one, and so do the ones after it that would clash.
    return { stamp, ino, fileUidValidity, parse, uids, base };
  }

  private storedMessage(state: MboxState, index: number): StoredMessage {
    const r = state.parse.records[index]!;
    const uid = state.uids[index]!;
    const physicalSize = r.endOffset - r.hdrOffset;
    this.sizes.set(uid, { physicalSize, size: r.size });
    return {
      uid,
      key: String(r.fromOffset),
      flags: recordFlags(r),
      internalDate: r.internalDate,
      size: r.size,
      physicalSize,
      guid: createHash('sha1').update(`${state.base?.uidValidity ?? 0}:${uid}:${r.sender}:${r.internalDate}`).digest('hex').slice(0, 32),
      unseenBySessions: !r.meta.notRecent,
    };
  }

  private indexOfUid(state: MboxState, uid: number): number {
    // UIDs ascend in file order: binary search.
    let lo = 0;
    let hi = state.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = state.uids[mid]!;
      if (v === uid) return mid;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  // ---- header blocks ---------------------------------------------------------------------------------------------

  private async visibleHeaderBytes(fh: FileHandle, r: MboxRecord): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (const [s, e] of r.visibleHeaders) {
      const b = Buffer.allocUnsafe(e - s);
      await fh.read(b, 0, b.length, s);
      // a header line without LF (a header running into the end) gets one
      parts.push(b[b.length - 1] === 0x0a ? b : Buffer.concat([b, Buffer.from('\n')]));
    }
    return Buffer.concat(parts);
  }

  /** A new header block for a record; `target` asks for exactly that length (in-place rewrite) and gives undefined when it does not fit. */
  private async headerBlock(
    fh: FileHandle,
    r: MboxRecord,
    m: { uid: number; flags: readonly string[]; notRecent: boolean; imapBase?: ImapBase },
    target?: number,
  ): Promise<Buffer | undefined> {
    const visible = await this.visibleHeaderBytes(fh, r);
    const contentLength = r.endOffset - r.bodyOffset;
    const meta = { ...m, contentLength };
    if (target === undefined) return Buffer.concat([visible, Buffer.from(formatMetadataHeaders(meta) + '\n', 'latin1')]);
    const bare = visible.length + Buffer.byteLength(formatMetadataHeaders(meta, 0) + '\n', 'latin1');
    if (bare > target) return undefined;
    const out = Buffer.concat([visible, Buffer.from(formatMetadataHeaders(meta, target - bare) + '\n', 'latin1')]);
    return out.length === target ? out : undefined;
  }

  /** Applies header changes in place when every one fits its old space, else rewrites the file. Locked. */
  private async applyHeaderChanges(state: MboxState, wanted: Array<{ index: number; meta: { uid: number; flags: readonly string[]; notRecent: boolean; imapBase?: ImapBase } }>, drop: Set<number> = new Set()): Promise<void> {
    if (wanted.length === 0 && drop.size === 0) return;
    const { handle } = await this.handleAndSize();
    const fh = handle.fh;
    if (drop.size === 0) {
      const inPlace: HeaderChange[] = [];
      for (const w of wanted) {
        const r = state.parse.records[w.index]!;
        const header = await this.headerBlock(fh, r, w.meta, r.bodyOffset - r.hdrOffset);
        if (!header) {
          inPlace.length = 0;
          break;
        }
        inPlace.push({ index: w.index, header });
      }
      if (inPlace.length === wanted.length) {
        for (const c of inPlace) {
          const r = state.parse.records[c.index]!;
          await fh.write(c.header, 0, c.header.length, r.hdrOffset);
        }
        if (this.opts.fsync) await fh.sync();
        await this.refreshAfterInPlace(state, inPlace.map((c) => c.index));
        return;
      }
    }
    const changes = new Map<number, Buffer>();
    for (const w of wanted) changes.set(w.index, (await this.headerBlock(fh, state.parse.records[w.index]!, w.meta))!);
    await this.rewrite(state, changes, drop);
  }

  /** Re-reads the records whose headers were rewritten in place (offsets stay; header layout changed). */
  private async refreshAfterInPlace(state: MboxState, indexes: number[]): Promise<void> {
    const { handle, size } = await this.handleAndSize();
    const reader = new LineReader(fileSource(handle.fh, size));
    for (const i of indexes) {
      const old = state.parse.records[i]!;
      const isFirst = i === 0 && !state.parse.pseudo;
      const { record } = await parseMessage(reader, old.fromOffset, isFirst, this.sizeHint);
      state.parse.records[i] = record;
      if (record.meta.uid !== undefined) state.uids[i] = record.meta.uid;
    }
    state.base = state.parse.pseudo?.meta.pseudoBase ?? state.parse.records[0]?.meta.imapBase;
    state.stamp = await stampOf(this.path);
    this.shared.cache.set('state', state);
  }

  /**
   * Crash-safe rewrite (locked): the new content goes to a temp file beside the mbox, is fsynced and renamed over it,
   * then the directory is fsynced. Records in `drop` are left out; `changes` replace header blocks. A folder left
   * without mail gets Dovecot's pseudo message so that UIDVALIDITY and the last UID survive.
   */
  private async rewrite(state: MboxState, changes: Map<number, Buffer>, drop: Set<number>): Promise<void> {
    const { handle } = await this.handleAndSize();
    const src = handle.fh;
    const dir = dirname(this.path);
    const tmpPath = join(dir, `.${basename(this.path)}.roost-rewrite.${randomBytes(6).toString('hex')}`);
    const out = await this.createReplacement(tmpPath, src);
    let written = 0;
    const copy = async (from: number, to: number) => {
      const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(1, to - from)));
      let pos = from;
      while (pos < to) {
        const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, to - pos), pos);
        if (bytesRead <= 0) throw new StorageError('CORRUPTED', undefined, new Error(`${this.path} shrank during rewrite`));
        await out.write(buf, 0, bytesRead);
        written += bytesRead;
        pos += bytesRead;
      }
    };
    const put = async (b: Buffer | string) => {
      const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
      await out.write(buf);
      written += buf.length;
    };
    try {
      if (state.parse.leadingBytes > 0) await copy(0, state.parse.leadingBytes);
      const kept = state.parse.records.map((_r, i) => i).filter((i) => !drop.has(i));
      const base = state.base ?? { uidValidity: state.fileUidValidity, lastUid: state.uids.reduce((a, b) => Math.max(a, b), 0), keywords: [] };
      const pseudo = state.parse.pseudo;
      if (pseudo) {
        await copy(pseudo.fromOffset, pseudo.endOffset);
        await put('\n');
      } else if (kept.length === 0) {
        await put(formatPseudoMessage(base, new Date(), hostname()));
      }
      for (const [n, i] of kept.entries()) {
        const r = state.parse.records[i]!;
        await copy(r.fromOffset, r.hdrOffset);
        let header = changes.get(i);
        const needsBase = n === 0 && !pseudo;
        const hasBase = !!r.meta.imapBase && i === 0;
        if (!header && needsBase !== hasBase) {
          header = await this.headerBlock(src, r, { uid: state.uids[i]!, flags: recordFlags(r), notRecent: r.meta.notRecent, imapBase: needsBase ? base : undefined });
        }
        if (header) await put(header);
        else await copy(r.hdrOffset, r.bodyOffset);
        await copy(r.bodyOffset, r.endOffset);
        await put('\n');
      }
      if (this.opts.fsync) await out.sync();
    } catch (err) {
      await out.close().catch(() => undefined);
      await unlink(tmpPath).catch(() => undefined);
      throw toStorageError(err);
    }
    await out.close();
    try {
      await rename(tmpPath, this.path);
    } catch (err) {
      await unlink(tmpPath).catch(() => undefined);
      throw toStorageError(err);
    }
    if (this.opts.fsync) await fsyncDir(dir);
    await this.shared.replaced();
    log.debug({ path: this.path, bytes: written, dropped: drop.size, changed: changes.size }, 'mbox rewritten');
  }

  /**
   * Creates the temp file that will replace the mbox, with the mbox's mode, owner and group: a rename must not change
   * who the file belongs to (Postfix's local(8) refuses a mailbox not owned by its recipient, strict_mailbox_ownership),
   * nor lose group write through the umask. Without the right to give the file away, the group alone is kept if it can be.
   */
  private async createReplacement(tmpPath: string, src: FileHandle): Promise<FileHandle> {
    const st = await src.stat();
    const out = await open(tmpPath, 'wx', 0o600);
    try {
      await out.chmod(st.mode & 0o7777);
      if (typeof process.getuid === 'function' && (st.uid !== process.getuid() || st.gid !== process.getgid?.())) {
        try {
          await out.chown(st.uid, st.gid);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
          await out.chown(-1, st.gid).catch(() => undefined);
          const now = await out.stat();
          if (!ownerWarned.has(this.path)) {
            ownerWarned.add(this.path);
            log.warn({ path: this.path, uid: st.uid, gid: st.gid, newUid: now.uid, newGid: now.gid }, 'mbox rewrite cannot keep the file owner (not permitted)');
          }
        }
      }
      return out;
    } catch (err) {
      await out.close().catch(() => undefined);
      await unlink(tmpPath).catch(() => undefined);
      throw err;
    }
  }

  // ---- torn appends ---------------------------------------------------------------------------------------------

  /** The journal names the size the file had before an append began; a crash mid-append leaves it behind. */
  private async writeJournal(ino: bigint, size: number): Promise<void> {
    let created = false;
    const fh = await open(this.journalPath, 'r+').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      created = true;
      return open(this.journalPath, 'w', 0o600);
    });
    try {
      await fh.truncate(0);
      await fh.write(`${ino} ${size}\n`, 0);
      if (this.opts.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    if (created && this.opts.fsync) await fsyncDir(dirname(this.journalPath));
  }

  /**
   * Empties the journal (the file stays, so that writing it never needs a directory fsync). After an append a lost
   * clear is harmless: the journal then names the last append, which is complete. Before cutting the file (suffix
   * expunge, torn-append removal) the clear must be durable, else a later outside append at that offset could be
   * taken for a torn one.
   */
  private async clearJournal(durable = false): Promise<void> {
    try {
      const fh = await open(this.journalPath, 'r+');
      try {
        if ((await fh.stat()).size === 0) return;
        await fh.truncate(0);
        if (durable && this.opts.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Locked: cleans up after a crash of this or another process (see sweepTempFiles and recoverTornAppend). */
  private async recoverCrashLeftovers(): Promise<void> {
    if (!sweptFiles.has(this.path)) {
      await this.sweepTempFiles();
      sweptFiles.add(this.path);
    }
    await this.recoverTornAppend();
  }

  /**
   * Locked, once per file and process: removes the temp files a crash left beside the mbox. A rewrite's temp file only
   * exists while its writer holds the lock, so any found now is an orphan. A save's temp file is written before the
   * lock is taken, and a dotlock's temp file while it is being taken, so only old ones go (saves after 36 hours, as
   * Dovecot's Maildir tmp/ cleaning; dotlock temp files, which live for a moment, after a minute).
   */
  private async sweepTempFiles(): Promise<void> {
    const dir = dirname(this.path);
    const prefix = `.${basename(this.path)}.roost-`;
    const maxAge: Record<string, number> = { rewrite: 0, save: SAVE_TEMP_MAX_AGE_MS, lock: LOCK_TEMP_MAX_AGE_MS };
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const age = maxAge[name.slice(prefix.length).split('.')[0]!];
      if (age === undefined) continue;
      const path = join(dir, name);
      try {
        if (age > 0 && Date.now() - (await stat(path)).mtimeMs < age) continue;
        await unlink(path);
        log.info({ path }, 'removed a temp file left by a crash');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  /** Locked: removes what a crashed append left (an incomplete last message), keeping anything appended after it. */
  private async recoverTornAppend(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.journalPath, 'latin1');
    } catch {
      return;
    }
    const m = /^(\d+) (\d+)\n$/.exec(text);
    if (!m) return;
    const { handle, size } = await this.handleAndSize();
    const origSize = Number(m[2]);
    if (BigInt(m[1]!) !== handle.ino || origSize >= size) {
      await this.clearJournal();
      return;
    }
    const reader = new LineReader(fileSource(handle.fh, size));
    let start = origSize;
    if (start > 0 && (await reader.byteAt(start - 1)) !== 0x0a && (await reader.byteAt(start)) === 0x0a) start++;
    const first = await reader.line(start);
    let complete = false;
    let cutEnd = size;
    if (isFromLine(first.head)) {
      const { record, next } = await parseMessage(reader, start, origSize === 0, undefined);
      complete = record.meta.contentLength !== undefined && record.meta.uid !== undefined && record.endOffset === record.bodyOffset + record.meta.contentLength;
      cutEnd = next;
    } else {
      // Not even the From_ line made it: cut up to the next real message (someone may have appended after the crash).
      let p = first.end;
      cutEnd = size;
      while (p < size) {
        const line = await reader.line(p);
        if (isFromLine(line.head)) {
          cutEnd = p;
          break;
        }
        p = line.end;
      }
    }
    if (!complete) {
      log.warn({ path: this.path, from: origSize, to: cutEnd }, 'removing a torn append left by a crash');
      await this.clearJournal(true);
      if (cutEnd >= size) {
        await handle.fh.truncate(origSize);
        if (this.opts.fsync) await handle.fh.sync();
      } else {
        await this.rewriteRanges([
          [0, origSize],
          [cutEnd, size],
        ]);
      }
      this.shared.cache.delete('state');
    }
    await this.clearJournal();
  }

  private async rewriteRanges(ranges: Array<[number, number]>): Promise<void> {
    const { handle } = await this.handleAndSize();
    const dir = dirname(this.path);
    const tmpPath = join(dir, `.${basename(this.path)}.roost-rewrite.${randomBytes(6).toString('hex')}`);
    const out = await this.createReplacement(tmpPath, handle.fh);
    try {
      const buf = Buffer.allocUnsafe(COPY_CHUNK);
      for (const [from, to] of ranges) {
        let pos = from;
        while (pos < to) {
          const { bytesRead } = await handle.fh.read(buf, 0, Math.min(buf.length, to - pos), pos);
          if (bytesRead <= 0) break;
          await out.write(buf, 0, bytesRead);
          pos += bytesRead;
        }
      }
      if (this.opts.fsync) await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmpPath, this.path);
    if (this.opts.fsync) await fsyncDir(dir);
    await this.shared.replaced();
  }

  // ---- sync ------------------------------------------------------------------------------------------------------

  /** Locked: the current state with every message holding an X-UID and the first one the X-IMAPbase (written back). */
  private async syncedState(known?: (uid: number) => KnownMessage | undefined): Promise<MboxState> {
    const state = await this.state(known);
    const records = state.parse.records;
    if (records.length === 0 && !state.parse.pseudo) {
      if (state.parse.fileSize > 0) throw new StorageError('CORRUPTED', undefined, new Error(`${this.path} is not an mbox file`));
      return state;
    }
    const maxUid = state.uids.reduce((a, b) => Math.max(a, b), 0);
    let counter = Math.max(state.base?.lastUid ?? 0, maxUid);
    const wanted: Array<{ index: number; meta: { uid: number; flags: readonly string[]; notRecent: boolean; imapBase?: ImapBase } }> = [];
    let prev = 0;
    for (let i = 0; i < records.length; i++) {
      if (state.uids[i]! === 0 || state.uids[i]! <= prev) state.uids[i] = ++counter;
      prev = state.uids[i]!;
    }
    const lastUid = Math.max(counter, state.base?.lastUid ?? 0);
    const keywords = new Set(state.base?.keywords ?? []);
    for (const r of records) for (const k of r.meta.keywords) keywords.add(k);
    const base: ImapBase = { uidValidity: state.base?.uidValidity ?? state.fileUidValidity, lastUid, keywords: [...keywords] };
    const baseChanged = !state.base || state.base.lastUid !== base.lastUid || state.base.keywords.length !== base.keywords.length;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const isBaseHolder = i === 0 && !state.parse.pseudo;
      if (r.meta.uid !== state.uids[i] || (isBaseHolder && baseChanged)) {
        wanted.push({ index: i, meta: { uid: state.uids[i]!, flags: recordFlags(r), notRecent: r.meta.notRecent, imapBase: isBaseHolder ? base : undefined } });
      }
    }
    if (state.parse.pseudo && baseChanged) {
      if (await this.patchLastUid(state, base)) {
        if (this.opts.fsync) await (await this.shared.current()).fh.sync();
      } else {
        // X-IMAP without padded digits: rewrite with a fresh pseudo message.
        state.parse.pseudo = undefined;
        state.base = base;
        await this.rewrite(state, new Map(), new Set());
        return this.state(known);
      }
    }
    if (wanted.length === 0) return state;
    state.base = base;
    await this.applyHeaderChanges(state, wanted);
    return this.state(known);
  }

  /** Rewrites the 10 last-uid digits of X-IMAPbase / X-IMAP in place when only they change. */
  private async patchLastUid(state: MboxState, base: ImapBase): Promise<boolean> {
    const holder = state.parse.pseudo ?? state.parse.records[0];
    if (!holder || holder.lastUidDigitsOffset === undefined || !state.base) return false;
    if (state.base.uidValidity !== base.uidValidity || state.base.keywords.join(' ') !== base.keywords.join(' ')) return false;
    if (base.lastUid > 9_999_999_999) return false;
    const { handle } = await this.handleAndSize();
    await handle.fh.write(Buffer.from(String(base.lastUid).padStart(10, '0'), 'latin1'), 0, 10, holder.lastUidDigitsOffset);
    state.base = base;
    if (holder.meta.imapBase) holder.meta.imapBase = base;
    if (holder.meta.pseudoBase) holder.meta.pseudoBase = base;
    return true;
  }

  async scan(known?: (uid: number) => KnownMessage | undefined): Promise<StoreSnapshot> {
    const snapshot = await this.shared.withLock(async () => {
      await this.recoverCrashLeftovers();
      const state = await this.syncedState(known);
      // Taken before the lock goes: the cached state is another locked caller's to change after that.
      const messages = state.parse.records.map((_r, i) => this.storedMessage(state, i));
      // An empty file has no X-IMAPbase: its UIDVALIDITY is its birth time until the first message writes one.
      const base = state.base ?? { uidValidity: state.fileUidValidity, lastUid: 0, keywords: [] };
      // The stamp of the file as this parse read it, or as this scan's own header writes (X-IMAPbase, X-UID) left
      // it: the next refresh does not take the scan's own writes for someone else's change.
      return { uidValidity: base.uidValidity, uidNext: base.lastUid + 1, messages, stamp: state.stamp };
    });
    scannedFiles.add(this.path);
    return snapshot;
  }

  // ---- saving ----------------------------------------------------------------------------------------------------

  async prepareSave(input: SaveInput): Promise<PreparedSave> {
    const tmpPath = join(dirname(this.path), `.${basename(this.path)}.roost-save.${randomBytes(6).toString('hex')}`);
    const counter = new CrlfToLf();
    const source = Buffer.isBuffer(input.data) ? Readable.from([input.data]) : Readable.from(input.data as AsyncIterable<Buffer>);
    try {
      const out = (await open(tmpPath, 'wx', 0o600)).createWriteStream();
      await pipeline(source, counter, out);
    } catch (err) {
      await unlink(tmpPath).catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageError('NOTFOUND', undefined, err);
      throw toStorageError(err);
    }
    let layout: SaveLayout;
    try {
      layout = await analyseSaveFile(tmpPath, counter.physicalSize);
      if (this.opts.fsync) {
        const fh = await open(tmpPath, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    } catch (err) {
      await unlink(tmpPath).catch(() => undefined);
      throw toStorageError(err);
    }
    return this.preparedFromTemp(tmpPath, layout, input.flags, input.internalDate ?? new Date(), input.envelopeSender);
  }

  private preparedFromTemp(tmpPath: string, layout: SaveLayout, flags: string[], internalDate: Date, envelopeSender?: string): PreparedSave {
    let done = false;
    const sortedFlags = sortFlags([...flags]);
    const date = new Date(Math.floor(internalDate.getTime() / 1000) * 1000);
    return {
      physicalSize: layout.physicalEstimate,
      size: layout.size,
      commit: () =>
        this.shared.withLock(async () => {
          if (done) throw new StorageError('INTERNAL', undefined, new Error('save committed twice'));
          await this.recoverCrashLeftovers();
          const state = await this.syncedState();
          const msg = await this.append(state, tmpPath, layout, sortedFlags, date, envelopeSender);
          done = true;
          await unlink(tmpPath).catch(() => undefined);
          return msg;
        }),
      abort: async () => {
        if (done) return;
        done = true;
        await unlink(tmpPath).catch(() => undefined);
      },
    };
  }

  /** Locked: appends a prepared message at the end with its From_ line and metadata headers, then fsyncs. */
  private async append(state: MboxState, tmpPath: string, layout: SaveLayout, flags: string[], date: Date, envelopeSender?: string): Promise<StoredMessage> {
    const { handle, size: origSize } = await this.handleAndSize();
    const fh = handle.fh;
    const hasMessages = state.parse.records.length > 0 || !!state.parse.pseudo;
    const uidValidity = state.base?.uidValidity ?? state.fileUidValidity;
    const uid = (state.base?.lastUid ?? 0) + 1;
    const keywords = new Set(state.base?.keywords ?? []);
    for (const f of flags) if (!f.startsWith('\\')) keywords.add(f);
    const base: ImapBase = { uidValidity, lastUid: uid, keywords: [...keywords] };
    const src = await open(tmpPath, 'r');
    try {
      let headerBytes = Buffer.alloc(layout.headerRanges.reduce((n, [s, e]) => n + (e - s), 0));
      let o = 0;
      for (const [s, e] of layout.headerRanges) {
        await src.read(headerBytes, o, e - s, s);
        o += e - s;
      }
      // a header running into the end of the input without LF gets one
      if (headerBytes.length > 0 && headerBytes[headerBytes.length - 1] !== 0x0a) headerBytes = Buffer.concat([headerBytes, Buffer.from('\n')]);
      const contentLength = layout.bodyEnd - layout.bodyStart;
      const meta = formatMetadataHeaders({ imapBase: hasMessages ? undefined : base, uid, flags, notRecent: false, contentLength });
      await this.writeJournal(handle.ino, origSize);
      let pos = origSize;
      const write = async (b: Buffer) => {
        await fh.write(b, 0, b.length, pos);
        pos += b.length;
      };
      try {
        if (origSize > 0) {
          const last = Buffer.alloc(1);
          await fh.read(last, 0, 1, origSize - 1);
          if (last[0] !== 0x0a) await write(Buffer.from('\n'));
        }
        const fromOffset = pos;
        // The From_ line names the envelope sender of a delivery (as Dovecot's LMTP), else the user (APPEND).
        const sender = envelopeSender && /^[\x21-\x7e]+$/.test(envelopeSender) ? envelopeSender : envelopeSender === '' ? 'MAILER-DAEMON' : this.opts.fromSender;
        await write(Buffer.from(formatFromLine(sender, date), 'latin1'));
        await write(Buffer.concat([headerBytes, Buffer.from(meta + '\n', 'latin1')]));
        const buf = Buffer.allocUnsafe(COPY_CHUNK);
        let p = layout.bodyStart;
        while (p < layout.bodyEnd) {
          const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, layout.bodyEnd - p), p);
          if (bytesRead <= 0) throw new StorageError('INTERNAL', undefined, new Error('save temp file shrank'));
          await write(buf.subarray(0, bytesRead));
          p += bytesRead;
        }
        // the separator: unlike Dovecot's save no LF is added to a body lacking one, so the client gets its bytes back
        await write(Buffer.from('\n'));
        if (hasMessages && !(await this.patchLastUid(state, base))) {
          // The base holder has no room for the new last UID in place: rewrite it after the append is durable.
          if (this.opts.fsync) await fh.sync();
          await this.clearJournal();
          const fresh = await this.state();
          const idx = fresh.parse.records.length - 1;
          fresh.uids[idx] = uid;
          fresh.base = base;
          const holderIndex = fresh.parse.pseudo ? -1 : 0;
          if (holderIndex === 0) {
            const r0 = fresh.parse.records[0]!;
            await this.applyHeaderChanges(fresh, [{ index: 0, meta: { uid: fresh.uids[0]!, flags: recordFlags(r0), notRecent: r0.meta.notRecent, imapBase: base } }]);
          } else {
            fresh.parse.pseudo = undefined;
            await this.rewrite(fresh, new Map(), new Set());
          }
          return this.messageAfterAppend(uid);
        }
        if (this.opts.fsync) await fh.sync();
        await this.clearJournal();
        // Extend the cached parse with the new message instead of reading the file again.
        const size = pos;
        const reader = new LineReader(fileSource(fh, size));
        const { record } = await parseMessage(reader, fromOffset, !hasMessages, undefined);
        const stamp = await stampOf(this.path);
        // The old last message keeps its end: its trailer LF is now the separator.
        state.parse.records.push(record);
        state.parse.fileSize = size;
        state.uids.push(uid);
        state.base = base;
        state.stamp = stamp;
        this.shared.cache.set('state', state);
        return this.storedMessage(state, state.parse.records.length - 1);
      } catch (err) {
        // Nothing was acknowledged: cut the file back to where it was.
        await fh.truncate(origSize).catch(() => undefined);
        if (this.opts.fsync) await fh.sync().catch(() => undefined);
        await this.clearJournal();
        this.shared.cache.delete('state');
        throw toStorageError(err);
      }
    } finally {
      await src.close();
    }
  }

  private async messageAfterAppend(uid: number): Promise<StoredMessage> {
    const state = await this.state();
    const i = this.indexOfUid(state, uid);
    if (i < 0) throw new StorageError('INTERNAL', undefined, new Error(`appended UID ${uid} not found after rewrite`));
    return this.storedMessage(state, i);
  }

  async prepareCopy(source: MailboxStore, items: Array<{ msg: StoredMessage; flags: string[] }>): Promise<PreparedSave[]> {
    const prepared: PreparedSave[] = [];
    try {
      for (const { msg, flags } of items) {
        const content = await source.open(msg);
        prepared.push(await this.prepareSave({ data: content.stream(), flags, internalDate: new Date(msg.internalDate) }));
      }
    } catch (err) {
      for (const p of prepared) await p.abort();
      throw err;
    }
    return prepared;
  }

  // ---- reading messages ------------------------------------------------------------------------------------------

  private async currentState(): Promise<MboxState> {
    const stamp = await stampOf(this.path);
    const cached = this.shared.cache.get('state') as MboxState | undefined;
    if (cached && cached.stamp === stamp && cached.uids.every((u) => u > 0)) return cached;
    return this.locked(() => this.syncedState());
  }

  /**
   * The parse of the file and a descriptor of the same inode, taken together: a rewrite by another session of this
   * process (a new file renamed over the path) between reading the state and taking the descriptor would pair old
   * offsets with new bytes. The state must still be the current one when the descriptor is taken: an expunge drops it
   * before it decides whether it may cut the file (no readers), so a reader either counts or reads the file after it.
   */
  private async stateWithHandle(): Promise<{ state: MboxState; handle: MboxFileHandle }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const state = await this.currentState();
      const handle = await this.shared.current();
      if (handle.ino === state.ino && this.shared.cache.get('state') === state) return { state, handle: handle.ref() };
    }
    throw new StorageError('TEMP', 'Mailbox is being rewritten, try again');
  }

  async open(msg: StoredMessage): Promise<MessageContent> {
    const { state, handle } = await this.stateWithHandle();
    const i = this.indexOfUid(state, msg.uid);
    if (i < 0) {
      void handle.unref();
      throw new StorageError('EXPUNGED');
    }
    const r = state.parse.records[i]!;
    const ranges: Array<[number, number]> = [...r.visibleHeaders, r.eoh, [r.bodyOffset, r.endOffset]];
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      void handle.unref();
    };
    // Reads at most `limit` bytes: the CRLF form is never shorter, so they hold its first `limit` bytes.
    const raw = (limit: number) =>
      Readable.from(
        (async function* () {
          let left = limit > 0 ? limit : 0;
          const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, left));
          for (const [from, to] of ranges) {
            let pos = from;
            while (pos < to && left > 0) {
              const { bytesRead } = await handle.fh.read(buf, 0, Math.min(buf.length, to - pos, left), pos);
              if (bytesRead <= 0) return;
              yield Buffer.from(buf.subarray(0, bytesRead));
              pos += bytesRead;
              left -= bytesRead;
            }
          }
        })(),
      );
    const size = r.size;
    // The reference is given back once the content is garbage and no stream of it still reads: one content serves
    // several streams in turn (a FETCH reads the header, then a section), and between them the old file must stay.
    let streams = 0;
    let collected = false;
    const track = (s: NodeJS.ReadableStream) => {
      streams++;
      const done = () => {
        streams--;
        if (streams === 0 && collected) release();
      };
      (s as Readable).once('close', done);
      return s;
    };
    const read = async (): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      for await (const c of track(raw(Infinity).pipe(new LfToCrlf()))) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    const content: MessageContent = {
      size,
      stream: (start = 0, end = Infinity) => track(raw(end).pipe(new LfToCrlf(start, end))),
      read,
      readFramed: async (before, after) => framedCopy(await read(), before, after),
    };
    unreadContents.register(content, () => {
      collected = true;
      if (streams === 0) release();
    });
    return content;
  }

  // ---- changing ------------------------------------------------------------------------------------------------

  private async changeHeaders(changes: Array<{ msg: StoredMessage; flags?: string[]; notRecent?: boolean }>): Promise<StoredMessage[]> {
    const state = await this.syncedState();
    const wanted: Array<{ index: number; meta: { uid: number; flags: readonly string[]; notRecent: boolean; imapBase?: ImapBase } }> = [];
    const keywords = new Set(state.base?.keywords ?? []);
    const before = keywords.size;
    const indexes: number[] = [];
    for (const c of changes) {
      const i = this.indexOfUid(state, c.msg.uid);
      if (i < 0) throw new StorageError('EXPUNGED');
      indexes.push(i);
      const r = state.parse.records[i]!;
      const flags = c.flags ? sortFlags([...c.flags.filter((f) => f !== '\\Recent')]) : recordFlags(r);
      for (const f of flags) if (!f.startsWith('\\')) keywords.add(f);
      wanted.push({ index: i, meta: { uid: state.uids[i]!, flags, notRecent: c.notRecent ?? r.meta.notRecent } });
    }
    let base = state.base;
    if (keywords.size !== before && base) {
      base = { ...base, keywords: [...keywords] };
      if (state.parse.pseudo) {
        // keep the pseudo message's X-IMAP as it is; Dovecot learns keywords from X-Keywords as well
      } else {
        const existing = wanted.find((w) => w.index === 0);
        if (existing) existing.meta.imapBase = base;
        else {
          const r0 = state.parse.records[0]!;
          wanted.push({ index: 0, meta: { uid: state.uids[0]!, flags: recordFlags(r0), notRecent: r0.meta.notRecent, imapBase: base } });
        }
      }
    }
    for (const w of wanted) if (w.index === 0 && !state.parse.pseudo && !w.meta.imapBase) w.meta.imapBase = base;
    state.base = base;
    await this.applyHeaderChanges(state, wanted);
    const after = await this.state();
    return changes.map((c) => {
      const i = this.indexOfUid(after, c.msg.uid);
      return this.storedMessage(after, i);
    });
  }

  async setFlags(changes: Array<{ msg: StoredMessage; flags: string[] }>): Promise<StoredMessage[]> {
    if (changes.length === 0) return [];
    return this.locked(() => this.changeHeaders(changes.map((c) => ({ msg: c.msg, flags: c.flags }))));
  }

  async settle(msgs: StoredMessage[]): Promise<StoredMessage[]> {
    const pending = msgs.filter((m) => m.unseenBySessions);
    if (pending.length === 0) return msgs;
    return this.locked(async () => {
      const state = await this.syncedState();
      const live = pending.filter((m) => this.indexOfUid(state, m.uid) >= 0);
      const updated = await this.changeHeaders(live.map((m) => ({ msg: m, notRecent: true })));
      const byUid = new Map(updated.map((m) => [m.uid, m]));
      return msgs.map((m) => byUid.get(m.uid) ?? m);
    });
  }

  async expunge(msgs: StoredMessage[]): Promise<void> {
    if (msgs.length === 0) return;
    await this.locked(async () => {
      const state = await this.syncedState();
      const drop = new Set<number>();
      for (const m of msgs) {
        const i = this.indexOfUid(state, m.uid);
        if (i >= 0) drop.add(i);
      }
      if (drop.size === 0) return;
      const n = state.parse.records.length;
      const suffixStart = Math.min(...drop);
      const isSuffix = drop.size === n - suffixStart;
      // From here a new reader waits for the lock (and reads the file as the expunge leaves it); one that opened a
      // message before holds a reference to the descriptor.
      this.shared.cache.delete('state');
      const { handle } = await this.handleAndSize();
      // A message being streamed to a client reads the inode it was opened on: cut it only when nobody reads, else
      // rewrite into a new file and leave the readers theirs.
      if (isSuffix && (suffixStart > 0 || state.parse.pseudo) && !handle.readersActive) {
        // Only the last messages go: cutting the file is atomic and leaves the previous message's separator as the trailer.
        await this.clearJournal(true);
        await handle.fh.truncate(state.parse.records[suffixStart]!.fromOffset);
        if (this.opts.fsync) await handle.fh.sync();
        this.shared.cache.delete('state');
        return;
      }
      await this.rewrite(state, new Map(), drop);
      this.shared.cache.delete('state');
    });
  }

  watch(onChange: () => void): { close(): void } {
    const dir = dirname(this.path);
    const name = basename(this.path);
    let watcher: FSWatcher | undefined;
    try {
      watcher = fsWatch(dir, { persistent: false }, (_event, filename) => {
        if (filename === null || filename === name || String(filename) === name) onChange();
      });
      watcher.on('error', () => undefined);
    } catch (err) {
      log.warn({ path: this.path, err: (err as Error).message }, 'fs.watch unavailable; changes are found at sync');
    }
    return { close: () => watcher?.close() };
  }

  /** Lets go of the shared file state (the descriptor closes when no other store of this file uses it). */
  async close(): Promise<void> {
    await this.releaseShared();
  }
}

/** Where the parts of a message being saved sit in its temp file (LF line ends). */
export interface SaveLayout {
  /** header lines kept (not the ones Dovecot drops, not From_ lines) */
  headerRanges: Array<[number, number]>;
  bodyStart: number;
  bodyEnd: number;
  /** RFC822.SIZE of the message as it will be served */
  size: number;
  physicalEstimate: number;
}

/** Reads the header of a saved temp file and measures what the mbox will hold and what IMAP will see. */
export async function analyseSaveFile(tmpPath: string, fileSize: number): Promise<SaveLayout> {
  const fh = await open(tmpPath, 'r');
  try {
    const reader = new LineReader(fileSource(fh, fileSize));
    const headerRanges: Array<[number, number]> = [];
    let pos = 0;
    let size = 0;
    let dropping = false;
    let bodyStart = fileSize;
    while (pos < fileSize) {
      const line = await reader.line(pos);
      const text = line.head.toString('latin1');
      if (text === '\n' || text === '\r\n') {
        bodyStart = line.end;
        break;
      }
      if (text[0] === ' ' || text[0] === '\t') {
        if (!dropping) {
          headerRanges.push([pos, line.end]);
          size += line.end - pos + line.bareLf + (line.hasLf ? 0 : 2);
        }
      } else {
        const colon = text.indexOf(':');
        const name = colon > 0 ? text.slice(0, colon).trim().toLowerCase() : '';
        dropping = text.startsWith('From ') || SAVE_DROP_HEADERS.has(name);
        if (!dropping) {
          headerRanges.push([pos, line.end]);
          size += line.end - pos + line.bareLf + (line.hasLf ? 0 : 2);
        }
      }
      pos = line.end;
    }
    const cleanRanges = headerRanges;
    const bodyEnd = fileSize;
    const bodyLen = bodyEnd - bodyStart;
    const bodyCrlf = bodyLen + (await reader.countBareLf(bodyStart, bodyEnd));
    size += 2 + bodyCrlf;
    const headerLen = cleanRanges.reduce((n, [s, e]) => n + (e - s), 0);
    return { headerRanges: cleanRanges, bodyStart, bodyEnd, size, physicalEstimate: headerLen + 1 + bodyLen + 128 };
  } finally {
    await fh.close();
  }
}
