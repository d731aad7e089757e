// One Maildir mailbox (cur/ new/ tmp/ + dovecot-uidlist + dovecot-keywords) as a MailboxStore: deliveries go
// tmp -> fsync -> rename into new/ or cur/ -> fsync dir; UIDs assigned under dovecot-uidlist.lock (Dovecot maildir-*.c).
import { closeSync, fstatSync, futimesSync, openSync, readSync, renameSync, statSync, watch as fsWatch, type BigIntStats, type FSWatcher } from 'node:fs';
import { link, open as openFile, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError, toStorageError } from '../../errors.js';
import { CrlfToLf, crlfSize, toCrlf, toCrlfInPlace } from '../../common/crlf.js';
import { takeFrame } from '../../common/frame-pool.js';
import { Mutex, appendFileDurable, fdatasyncFd, fsyncDir, pathExists, writeAllv, writeFileDurable } from '../../common/fsutil.js';
import { acquireDotlock, type Dotlock } from '../../common/dotlock.js';
import { framedCopy, type KnownMessage, type MailboxStore, type MessageContent, type OpenOptions, type PreparedSave, type SaveInput, type StoreSnapshot, type StoredMessage } from '../backend.js';
import { KeptHandles } from './kept-handles.js';
import { flagsToLetters, lettersToFlags, newBaseFilename, parseMaildirFilename, withInfo, type ParsedFilename } from './filename.js';
import { formatKeywordsFile, freeKeywordIndex, parseKeywordsFile } from './keywords.js';
import {
  effectiveNextUid,
  formatUidlist,
  formatUidlistRecord,
  NO_EXTENSIONS,
  parseCourierUidlist,
  parseUidlist,
  UidlistParseError,
  type Uidlist,
  type UidlistRecord,
} from './uidlist.js';
import { getLogger } from '../../../lib/logger.js';

/** Message files are read in large chunks: fewer reads and conversions per FETCH BODY[] or RETR. */
const MESSAGE_READ_CHUNK_BYTES = 256 * 1024;
/** Messages up to this size are read whole with one blocking read when opened. */
const BLOCKING_READ_MAX_BYTES = 128 * 1024;
/** Bytes kept free before and after a small message read, so readFramed() needs no copy for framing up to this size. */
const FRAME_ROOM = 64;

/**
 * A directory changed this recently may change again without its time moving (the same clock tick): a stamp taken
 * then is confirmed by a rescan (Dovecot's MAILDIR_SYNC_SECS).
 */
const STAMP_SETTLE_MS = 1000;
/** A scan lets other connections run after this many messages (its stats are direct calls). */
const SCAN_YIELD_EVERY = 2000;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const log = getLogger({ component: 'maildir' });

/** A message file read into a buffer with room around it: `raw` is frame[rawStart, rawStart + raw.length). */
interface FramedFile {
  frame: Buffer;
  rawStart: number;
  raw: Buffer;
  /** Room kept in front of raw for the CRs of its conversion (undefined: none was kept, the file was not the expected size). */
  crRoom?: number;
}

/**
 * Where a message file is read: behind `before` bytes of room plus the CRs its conversion adds (RFC822.SIZE minus the
 * size on disk), with `after` bytes of room behind it. The read asks for one byte more than the index says the file
 * holds: a read that stops at the expected size is the file's end, so a file of that size costs one read and no fstat.
 * `pooled`: the buffer comes from the frame pool (the caller gives it back), else it is allocated to size.
 */
function framedFileLayout(msg: StoredMessage, before: number, after: number, pooled: boolean): { frame: Buffer; rawStart: number; ask: number; crRoom: number } {
  const crRoom = Math.max(0, msg.size - msg.physicalSize);
  const length = before + crRoom + msg.physicalSize + Math.max(after, 1);
  return { frame: pooled ? takeFrame(length) : Buffer.allocUnsafe(length), rawStart: before + crRoom, ask: msg.physicalSize + 1, crRoom };
}

/** A file larger than its index record (changed behind the index): read whole at its real size, without room for CRs. */
function wholeFileLayout(size: number, before: number, after: number): { frame: Buffer; rawStart: number; ask: number } {
  return { frame: Buffer.allocUnsafe(before + size + after), rawStart: before, ask: size };
}

/**
 * Reads a message file into its framed layout with `read` (positioned reads), reading on after a short read until the
 * expected size or the end; a file that turns out larger is read again whole at the size `size()` gives.
 */
function readFramedWith(read: (buf: Buffer, at: number, length: number, position: number) => number, size: () => number, msg: StoredMessage, before: number, after: number, pooled: boolean): FramedFile {
  const first = framedFileLayout(msg, before, after, pooled);
  let got = 0;
  for (let n = 1; n > 0 && got < msg.physicalSize; got += n) n = read(first.frame, first.rawStart + got, first.ask - got, got);
  if (got < first.ask) return { frame: first.frame, rawStart: first.rawStart, raw: first.frame.subarray(first.rawStart, first.rawStart + got), crRoom: first.crRoom };
  const whole = wholeFileLayout(size(), before, after);
  let wholeGot = 0;
  for (let n = 1; n > 0 && wholeGot < whole.ask; wholeGot += n) n = read(whole.frame, whole.rawStart + wholeGot, whole.ask - wholeGot, wholeGot);
  return { frame: whole.frame, rawStart: whole.rawStart, raw: whole.frame.subarray(whole.rawStart, whole.rawStart + wholeGot) };
}

/** The CRLF form of a framed file's message: converted where it was read when the file has the size the index says. */
function crlfOf(file: FramedFile, msg: StoredMessage): Buffer {
  const { frame, rawStart, raw, crRoom } = file;
  return crRoom !== undefined && raw.length === msg.physicalSize ? toCrlfInPlace(frame, rawStart, rawStart + raw.length, crRoom) : toCrlf(raw);
}

/** The message with the room asked for around it: in the buffer it was read into when that has the room, else a copy. */
function framedIn(frame: Buffer, message: Buffer, before: number, after: number): Buffer {
  const at = message.byteOffset - frame.byteOffset;
  const fits = message.buffer === frame.buffer && at >= before && frame.length - at - message.length >= after;
  return fits ? frame.subarray(at - before, at + message.length + after) : framedCopy(message, before, after);
}

/**
 * A message file read through the thread pool (a large one, or one renamed since the index saw it) straight into its
 * layout: the same reads as readFramedWith makes for a small one, awaited.
 */
async function readFramedPath(path: string, msg: StoredMessage, before: number, after: number, pooled: boolean): Promise<FramedFile> {
  const handle = await openFile(path, 'r');
  try {
    const readInto = async (frame: Buffer, at: number, ask: number, enough: number): Promise<number> => {
      let got = 0;
      for (let n = 1; n > 0 && got < enough; got += n) n = (await handle.read(frame, at + got, ask - got, got)).bytesRead;
      return got;
    };
    const first = framedFileLayout(msg, before, after, pooled);
    const got = await readInto(first.frame, first.rawStart, first.ask, msg.physicalSize);
    if (got < first.ask) return { frame: first.frame, rawStart: first.rawStart, raw: first.frame.subarray(first.rawStart, first.rawStart + got), crRoom: first.crRoom };
    const whole = wholeFileLayout((await handle.stat()).size, before, after);
    const wholeGot = await readInto(whole.frame, whole.rawStart, whole.ask, whole.ask);
    return { frame: whole.frame, rawStart: whole.rawStart, raw: whole.frame.subarray(whole.rawStart, whole.rawStart + wholeGot) };
  } finally {
    await handle.close();
  }
}

/**
 * The CRLF form of a large message file, bytes [start, end) of it, in chunks: each chunk is read behind room for the
 * CRs it can gain (at most the message's `crCount`, RFC822.SIZE minus the size on disk) and converted where it was
 * read. Reading stops once `end` is reached.
 */
async function* crlfChunks(path: string, crCount: number, start: number, end: number): AsyncGenerator<Buffer> {
  const handle = await openFile(path, 'r');
  try {
    const room = Math.min(crCount, MESSAGE_READ_CHUNK_BYTES);
    let position = 0;
    let converted = 0;
    let before = -1;
    while (converted < end) {
      // From the frame pool: a FETCH writing the chunk gives it back once it has left, and the next chunk reuses it.
      const frame = takeFrame(room + MESSAGE_READ_CHUNK_BYTES);
      const { bytesRead } = await handle.read(frame, room, MESSAGE_READ_CHUNK_BYTES, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      const last = frame[room + bytesRead - 1]!;
      const chunk = toCrlfInPlace(frame, room, room + bytesRead, room, before);
      before = last;
      const from = Math.max(start - converted, 0);
      const to = Math.min(end - converted, chunk.length);
      converted += chunk.length;
      if (to > from) yield chunk.subarray(from, to);
    }
  } finally {
    await handle.close();
  }
}

export const UIDLIST_FILE = 'dovecot-uidlist';
export const KEYWORDS_FILE = 'dovecot-keywords';
export const COURIER_UIDLIST_FILE = 'courierimapuidlist';

/** Rewrite the uidlist when it holds this many more records than there are messages. */
const UIDLIST_REWRITE_SLACK = 64;

/**
 * While other work of this process waits for the mailbox, the dovecot-uidlist lock passes straight to it, but never
 * for longer than this (or more often than LOCK_HANDOFF_MAX), so an outside writer such as Dovecot gets its turn.
 */
const LOCK_HANDOFF_MS = 500;
const LOCK_HANDOFF_MAX = 32;

/** The uidlist and new/ stay open this long after their last use (a burst of deliveries opens them once). */
const KEPT_FD_IDLE_MS = 2_000;

/** Message bytes are gathered up to this size before a write to the temp file. */
const SAVE_WRITE_BYTES = 256 * 1024;

/** Allocates UIDVALIDITY values: time based, strictly increasing within the process (as Dovecot's mailbox-uidvalidity). */
let lastUidValidity = 0;
export function newUidValidity(): number {
  lastUidValidity = Math.max(Math.floor(Date.now() / 1000), lastUidValidity + 1);
  return lastUidValidity;
}

interface DirEntry {
  subdir: 'new' | 'cur';
  filename: string;
  /** The file name parsed once, when the directory was listed. */
  parsed: ParsedFilename;
}

/** Hook for the user's quota (Maildir++ maildirsize), told about physical sizes. */
export interface MaildirQuotaHook {
  check(addBytes: number, addMessages: number): Promise<void>;
  update(deltaBytes: number, deltaMessages: number): Promise<void>;
}

export class MaildirMailboxStore implements MailboxStore {
  private readonly mutex = new Mutex();
  /** Callers of locked() waiting for the mutex. */
  private lockWaiters = 0;
  /** The dotlock while this process holds it, with when it was taken and how often it was handed on. */
  private held?: { lock: Dotlock; since: number; handoffs: number };
  private uidlist?: Uidlist;
  private uidlistStamp = '';
  /** Inode of the uidlist last stat()ed under the lock; the kept append descriptor is used only while it matches. */
  private uidlistIno = -1n;
  /** Inodes of new/ and cur/ seen by changeStamp() since the current holder got the lock. */
  private dirInos = new Map<string, bigint>();
  private readonly kept = new KeptHandles(KEPT_FD_IDLE_MS, (fn) => this.mutex.run(fn));
  private keywords = new Map<number, string>();
  private keywordsStamp = '';

  constructor(
    readonly name: string,
    readonly path: string,
    private readonly opts: { fsync: boolean; isInbox: boolean; quota?: MaildirQuotaHook },
  ) {
    this.uidlistPath = join(path, UIDLIST_FILE);
    this.subdirPaths = [
      { sub: 'new', path: join(path, 'new') },
      { sub: 'cur', path: join(path, 'cur') },
    ];
  }

  /** Paths the change stamp stats on every sync, joined once. */
  private readonly uidlistPath: string;
  private readonly subdirPaths: { readonly sub: 'new' | 'cur'; readonly path: string }[];

  async exists(): Promise<boolean> {
    return pathExists(join(this.path, 'cur'));
  }

  changeStamp(): Promise<string> {
    return Promise.resolve(`${this.statDirs().stamp}:${fileStamp(statQuietly(this.uidlistPath))}`);
  }

  /**
   * The change stamp's part for new/ and cur/ (their inodes noted for syncSubdir), and whether one of them changed
   * within the last STAMP_SETTLE_MS: a file added in the same tick of the file system's clock may not move its time.
   */
  private statDirs(): { stamp: string; settled: boolean } {
    const now = Date.now();
    let settled = true;
    const stamp = this.subdirPaths
      .map(({ sub, path }) => {
        const st = statQuietly(path);
        if (st) {
          this.dirInos.set(sub, st.ino);
          // A time far ahead of the clock is not "now" either: a change would set it back to the present.
          if (Math.abs(Number(st.mtimeNs / 1_000_000n) - now) < STAMP_SETTLE_MS) settled = false;
        } else {
          this.dirInos.delete(sub);
        }
        return fileStamp(st);
      })
      .join(':');
    return { stamp, settled };
  }

  /**
   * Runs `fn` holding this process's mutex and the dovecot-uidlist dotlock. When more callers wait, the dotlock is
   * handed on to the next instead of being removed and taken again (bounded by LOCK_HANDOFF_MS/MAX).
   */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    this.lockWaiters++;
    return this.mutex.run(async () => {
      this.lockWaiters--;
      this.dirInos.clear();
      try {
        if (this.held) {
          this.held.handoffs++;
        } else {
          const lock = await acquireDotlock(this.uidlistPath).catch((err: unknown) => {
            throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? new StorageError('NOTFOUND', undefined, err) : err;
          });
          this.held = { lock, since: Date.now(), handoffs: 0 };
        }
        // A mailbox deleted meanwhile has no cur/ (released below like any other failure).
        if (!statQuietly(join(this.path, 'cur'))?.isDirectory()) throw new StorageError('NOTFOUND');
        return await fn();
      } finally {
        const held = this.held;
        if (held && !(this.lockWaiters > 0 && held.handoffs < LOCK_HANDOFF_MAX && Date.now() - held.since < LOCK_HANDOFF_MS)) {
          this.held = undefined;
          await held.lock.release();
        }
      }
    });
  }

  // ---- dovecot-uidlist and dovecot-keywords -------------------------------------------------------------------

  /** Reads the uidlist when it changed on disk; creates it (importing Courier's UIDs when present) when missing. */
  private async loadUidlist(): Promise<Uidlist> {
    const st = statSync(this.uidlistPath, { bigint: true, throwIfNoEntry: false });
    if (st) {
      this.uidlistIno = st.ino;
      const stamp = fileStamp(st);
      if (this.uidlist && stamp === this.uidlistStamp) return this.uidlist;
      const text = await readFile(this.uidlistPath, 'utf8');
      try {
        this.uidlist = parseUidlist(text);
      } catch (err) {
        if (!(err instanceof UidlistParseError)) throw err;
        // A broken uidlist: keep what parses is impossible to trust; start over with a new UIDVALIDITY as Dovecot does.
        log.error({ path: this.uidlistPath, err: err.message }, 'corrupted dovecot-uidlist, recreating with new UIDVALIDITY');
        this.uidlist = { version: 3, uidValidity: newUidValidity(), nextUid: 1, guid: randomBytes(16).toString('hex'), headerExt: [], records: [] };
        await this.rewriteUidlist();
        return this.uidlist;
      }
      this.uidlistStamp = stamp;
      return this.uidlist;
    }
    const fresh: Uidlist = { version: 3, uidValidity: newUidValidity(), nextUid: 1, guid: randomBytes(16).toString('hex'), headerExt: [], records: [] };
    try {
      const courier = parseCourierUidlist(await readFile(join(this.path, COURIER_UIDLIST_FILE), 'utf8'));
      fresh.uidValidity = courier.uidValidity;
      fresh.nextUid = courier.nextUid;
      fresh.records = courier.records.map((r) => ({ uid: r.uid, filename: r.filename, ext: NO_EXTENSIONS }));
      log.info({ path: this.path, messages: fresh.records.length }, 'imported courierimapuidlist');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof UidlistParseError)) throw err;
    }
    this.uidlist = fresh;
    await this.rewriteUidlist();
    return fresh;
  }

  private async rewriteUidlist(): Promise<void> {
    const list = this.uidlist!;
    list.version = 3;
    list.nextUid = effectiveNextUid(list);
    await writeFileDurable(this.uidlistPath, formatUidlist(list), { fsync: this.opts.fsync });
    this.rememberUidlistStamp();
  }

  private rememberUidlistStamp(): void {
    const st = statSync(this.uidlistPath, { bigint: true });
    this.uidlistIno = st.ino;
    this.uidlistStamp = fileStamp(st);
  }

  /**
   * Appends records (under the lock, after loadUidlist). A burst of appends shares one descriptor: it is kept open
   * while the file's inode is the one the last stat saw (a rewrite by Dovecot or by us renames a new file in).
   */
  private async appendUidlistRecords(records: UidlistRecord[]): Promise<void> {
    if (records.length === 0) return;
    const data = records.map(formatUidlistRecord).join('');
    if (this.uidlistIno < 0n) {
      await appendFileDurable(this.uidlistPath, data, { fsync: this.opts.fsync });
      this.uidlist!.records.push(...records);
      this.rememberUidlistStamp();
      return;
    }
    try {
      const handle = await this.kept.get(this.uidlistPath, 'a', this.uidlistIno);
      await handle.write(data);
      if (this.opts.fsync) await handle.datasync();
      this.uidlist!.records.push(...records);
      this.uidlistStamp = fileStamp(fstatSync(handle.fd, { bigint: true }));
    } catch (err) {
      await this.kept.drop(this.uidlistPath);
      throw toStorageError(err);
    }
  }

  /** fsyncs new/ or cur/ after a rename into it, through a kept descriptor when a stat under the lock named its inode. */
  private async syncSubdir(subdir: 'new' | 'cur'): Promise<void> {
    const path = join(this.path, subdir);
    const ino = this.dirInos.get(subdir);
    if (ino === undefined) return fsyncDir(path);
    try {
      await (await this.kept.get(path, 'r', ino)).sync();
    } catch (err) {
      await this.kept.drop(path);
      throw toStorageError(err);
    }
  }

  private async loadKeywords(): Promise<Map<number, string>> {
    const path = join(this.path, KEYWORDS_FILE);
    try {
      const st = await stat(path, { bigint: true });
      const stamp = fileStamp(st);
      if (stamp !== this.keywordsStamp) {
        this.keywords = parseKeywordsFile(await readFile(path, 'utf8'));
        this.keywordsStamp = stamp;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.keywords = new Map();
      this.keywordsStamp = '';
    }
    return this.keywords;
  }

  /** Flag letters for a flag set, adding keywords to dovecot-keywords as needed (locked). */
  private async lettersFor(flags: readonly string[], keep = ''): Promise<string> {
    const map = await this.loadKeywords();
    const byName = new Map([...map].map(([i, k]) => [k.toLowerCase(), i]));
    const indexes: number[] = [];
    let added = false;
    for (const f of flags) {
      if (f.startsWith('\\')) continue;
      let idx = byName.get(f.toLowerCase());
      if (idx === undefined) {
        idx = freeKeywordIndex(map);
        if (idx < 0) throw new StorageError('LIMIT', 'Too many keywords in this mailbox (26 at most)');
        map.set(idx, f);
        byName.set(f.toLowerCase(), idx);
        added = true;
      }
      indexes.push(idx);
    }
    if (added) {
      await writeFileDurable(join(this.path, KEYWORDS_FILE), formatKeywordsFile(map), { fsync: this.opts.fsync });
      const st = await stat(join(this.path, KEYWORDS_FILE), { bigint: true });
      this.keywordsStamp = fileStamp(st);
    }
    return flagsToLetters(flags.filter((f) => f.startsWith('\\')), indexes, keep);
  }

  private flagsFromLetters(letters: string): string[] {
    const { systemFlags, keywordIndexes } = lettersToFlags(letters);
    const keywords = keywordIndexes.map((i) => this.keywords.get(i)).filter((k): k is string => k !== undefined);
    return [...systemFlags, ...keywords];
  }

  // ---- scanning ------------------------------------------------------------------------------------------------

  /** The message file names in new/ or cur/ (dot files are not mail; a missing directory has none). */
  private async messageNames(subdir: 'new' | 'cur'): Promise<string[]> {
    try {
      return (await readdir(join(this.path, subdir))).filter((name) => !name.startsWith('.'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async listKeys(): Promise<string[]> {
    const keys: string[] = [];
    for (const subdir of ['new', 'cur'] as const) for (const name of await this.messageNames(subdir)) keys.push(`${subdir}/${name}`);
    return keys;
  }

  private async listDir(): Promise<Map<string, DirEntry>> {
    const byBase = new Map<string, DirEntry>();
    for (const subdir of ['new', 'cur'] as const) {
      for (const filename of await this.messageNames(subdir)) {
        const parsed = parseMaildirFilename(filename);
        const existing = byBase.get(parsed.base);
        // The same base in new/ and cur/ (a rename raced a scan): cur/ wins.
        if (!existing || subdir === 'cur') byBase.set(parsed.base, { subdir, filename, parsed });
      }
    }
    return byBase;
  }

  /**
   * One message as a scan sees it. `flagsByLetters` is the scan's own: messages with the same letters share one flags
   * array (never changed in place), and the keyword map cannot change during a scan (it runs under the lock).
   */
  private describe(uid: number, rec: UidlistRecord | undefined, entry: DirEntry, flagsByLetters: Map<string, string[]>, reuse?: KnownMessage): StoredMessage | Promise<StoredMessage> {
    const parsed = entry.parsed;
    const key = `${entry.subdir}/${entry.filename}`;
    let flags = flagsByLetters.get(parsed.letters);
    if (!flags) {
      flags = this.flagsFromLetters(parsed.letters);
      flagsByLetters.set(parsed.letters, flags);
    }
    const guid = rec?.ext.get('G') ?? parsed.base;
    // Dovecot writes an empty P value when the UIDL is the file's base name (maildir_get_pop3_uidl).
    const savedUidl = rec?.ext.get('P');
    const pop3Uidl = savedUidl === undefined ? undefined : savedUidl === '' ? parsed.base : savedUidl;
    if (reuse && keyHasBase(reuse.key, parsed.base)) {
      return { uid, key, flags, internalDate: reuse.internalDate, size: reuse.size, physicalSize: reuse.physicalSize, guid, pop3Uidl, unseenBySessions: entry.subdir === 'new' };
    }
    const full = join(this.path, key);
    // A direct stat: a first scan of 100,000 messages makes 100,000 of them (the loop yields between batches).
    const st = statSync(full);
    const described = (size: number): StoredMessage => ({ uid, key, flags, internalDate: st.mtime.getTime(), size, physicalSize: st.size, guid, pop3Uidl, unseenBySessions: entry.subdir === 'new' });
    const size = parsed.vsize ?? (rec?.ext.has('W') ? Number(rec.ext.get('W')) : undefined);
    // Only a name without W= (an MTA's own naming) and no W record costs a read of the file, off the event loop.
    return size !== undefined ? described(size) : readFile(full).then((data) => described(crlfSize(data)));
  }

  async scan(known: (uid: number) => KnownMessage | undefined = () => undefined): Promise<StoreSnapshot> {
    // new/ and cur/ as they were before the listing: whatever arrives after it moves their part of the stamp.
    const dirs = this.statDirs();
    const list = await this.loadUidlist();
    await this.loadKeywords();
    const files = await this.listDir();
    const messages: StoredMessage[] = [];
    const flagsByLetters = new Map<string, string[]>();
    let described = 0;
    for (const rec of list.records) {
      const entry = files.get(rec.filename);
      if (!entry) continue;
      files.delete(rec.filename);
      if (++described % SCAN_YIELD_EVERY === 0) await yieldToEventLoop();
      try {
        // Answered at once unless the file must be read (a rescan of 100,000 known messages awaits nothing).
        const described = this.describe(rec.uid, rec, entry, flagsByLetters, known(rec.uid));
        messages.push(described instanceof Promise ? await described : described);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // vanished meanwhile: expunged
      }
    }
    // Files without a UID (delivered by an outside program, or a crash before the uidlist append).
    const newcomers = [...files.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const records: UidlistRecord[] = [];
    let nextUid = effectiveNextUid(list);
    for (const [base, entry] of newcomers) {
      const uid = nextUid++;
      if (++described % SCAN_YIELD_EVERY === 0) await yieldToEventLoop();
      try {
        const described = this.describe(uid, undefined, entry, flagsByLetters);
        messages.push(described instanceof Promise ? await described : described);
        records.push({ uid, filename: base, ext: NO_EXTENSIONS });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        nextUid--;
      }
    }
    if (list.records.length + records.length > messages.length + UIDLIST_REWRITE_SLACK) {
      const live = new Set(messages.map((m) => m.uid));
      list.records = list.records.filter((r) => live.has(r.uid)).concat(records);
      list.nextUid = Math.max(nextUid, list.nextUid);
      await this.rewriteUidlist();
    } else {
      await this.appendUidlistRecords(records);
    }
    // The uidlist as this scan left it (records appended, or rewritten): only a lock holder writes it, and the lock is
    // ours, so the next refresh does not take the scan's own uidlist write for someone else's change.
    const stamp = `${dirs.stamp}:${this.uidlistStamp}`;
    return { uidValidity: list.uidValidity, uidNext: Math.max(nextUid, effectiveNextUid(list)), messages, stamp, stampSettled: dirs.settled };
  }

  // ---- saving ------------------------------------------------------------------------------------------------

  async prepareSave(input: SaveInput): Promise<PreparedSave> {
    const tmpName = `${newBaseFilename(0, 0).replace(/,S=0,W=0$/, '')}.${randomBytes(4).toString('hex')}`;
    const tmpPath = join(this.path, 'tmp', tmpName);
    const counter = new CrlfToLf();
    const source = Buffer.isBuffer(input.data) ? Readable.from([input.data]) : Readable.from(input.data as AsyncIterable<Buffer>);
    try {
      // One descriptor for writing, flushing (fdatasync also makes the new size durable) and the date; opening and
      // closing it are direct system calls like the other metadata steps, the writes and the flush use the pool.
      const fd = openSync(tmpPath, 'wx', 0o600);
      try {
        await pipeline(source, counter, async (chunks: AsyncIterable<Buffer>) => {
          // Pieces (the trace headers, the network's chunks) are gathered so a small message takes one write.
          let batch: Buffer[] = [];
          let bytes = 0;
          for await (const chunk of chunks) {
            batch.push(chunk);
            bytes += chunk.length;
            if (bytes >= SAVE_WRITE_BYTES) {
              await writeAllv(fd, batch);
              batch = [];
              bytes = 0;
            }
          }
          if (batch.length) await writeAllv(fd, batch);
        });
        // Without an internal date of its own the message's date is its file's, set by the writes just made.
        if (input.internalDate) futimesSync(fd, new Date(), input.internalDate);
        if (this.opts.fsync) await fdatasyncFd(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      await unlink(tmpPath).catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageError('NOTFOUND', undefined, err);
      throw toStorageError(err);
    }
    const physicalSize = counter.physicalSize;
    const size = counter.virtualSize;
    return this.preparedFromTmp(tmpPath, physicalSize, size, input.flags, (input.internalDate ?? new Date()).getTime());
  }

  /** `guid`: a copy keeps its source's GUID (uidlist G extension), so EMAILID (RFC 8474) stays the same across COPY. */
  private preparedFromTmp(tmpPath: string, physicalSize: number, size: number, flags: string[], internalDate: number, guid?: string): PreparedSave {
    let done = false;
    return {
      physicalSize,
      size,
      commit: async () => {
        if (done) throw new StorageError('INTERNAL', undefined, new Error('save committed twice'));
        const list = await this.loadUidlist();
        const base = newBaseFilename(physicalSize, size);
        // Flagless mail (every LMTP delivery) needs no keyword file.
        const letters = flags.length ? await this.lettersFor(flags) : '';
        // Dovecot saves flagless mail into new/, mail with flags into cur/ with the info part.
        const subdir = letters ? 'cur' : 'new';
        const filename = letters ? withInfo(base, letters) : base;
        await this.opts.quota?.check(physicalSize, 1);
        const uid = effectiveNextUid(list);
        renameSync(tmpPath, join(this.path, subdir, filename));
        done = true;
        const keepGuid = guid && guid !== base && /^[\x21-\x7e]+$/.test(guid) ? guid : undefined;
        // The rename and the uidlist record are made durable side by side; both before the caller acknowledges.
        // Either alone after a crash is harmless: a file without a record gets the next UID at the next scan,
        // a record without a file is skipped.
        await Promise.all([
          this.opts.fsync ? this.syncSubdir(subdir) : undefined,
          this.appendUidlistRecords([{ uid, filename: base, ext: keepGuid ? new Map([['G', keepGuid]]) : NO_EXTENSIONS }]),
        ]);
        await this.opts.quota?.update(physicalSize, 1);
        return { uid, key: `${subdir}/${filename}`, flags: this.flagsFromLetters(letters), internalDate, size, physicalSize, guid: keepGuid ?? base, unseenBySessions: subdir === 'new' };
      },
      abort: async () => {
        if (done) return;
        done = true;
        await unlink(tmpPath).catch(() => undefined);
      },
    };
  }

  async prepareCopy(source: MailboxStore, items: Array<{ msg: StoredMessage; flags: string[] }>): Promise<PreparedSave[]> {
    const prepared: PreparedSave[] = [];
    try {
      for (const { msg, flags } of items) {
        if (source instanceof MaildirMailboxStore) {
          // Hard link, as Dovecot's maildir copy does: no bytes are copied.
          const tmpPath = join(this.path, 'tmp', `${parseMaildirFilename(newBaseFilename(0, 0)).base.replace(/,S=0,W=0$/, '')}.${randomBytes(4).toString('hex')}`);
          const srcPath = await source.resolve(msg);
          try {
            await link(srcPath, tmpPath);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageError('EXPUNGED', undefined, err);
            if ((err as NodeJS.ErrnoException).code !== 'EXDEV' && (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
            const content = await source.open(msg);
            prepared.push(await this.prepareSave({ data: content.stream(), flags, internalDate: new Date(msg.internalDate) }));
            continue;
          }
          prepared.push(this.preparedFromTmp(tmpPath, msg.physicalSize, msg.size, flags, msg.internalDate, msg.guid));
        } else {
          const content = await source.open(msg);
          prepared.push(await this.prepareSave({ data: content.stream(), flags, internalDate: new Date(msg.internalDate) }));
        }
      }
    } catch (err) {
      for (const p of prepared) await p.abort();
      throw err;
    }
    return prepared;
  }

  // ---- reading -----------------------------------------------------------------------------------------------

  /**
   * The current path of a message, following a rename by another process (flags changed); EXPUNGED when gone.
   * `latestKey` (OpenOptions) names the file the index knows now, tried before the directories are listed.
   */
  async resolve(msg: Pick<StoredMessage, 'key'>, latestKey?: () => string | undefined): Promise<string> {
    const full = join(this.path, msg.key);
    if (await pathExists(full)) return full;
    if (latestKey) {
      const latest = latestKey();
      if (latest === undefined) throw new StorageError('EXPUNGED');
      if (latest !== msg.key && (await pathExists(join(this.path, latest)))) return join(this.path, latest);
    }
    const base = parseMaildirFilename(msg.key.slice(4)).base;
    const entry = (await this.listDir()).get(base);
    if (!entry) throw new StorageError('EXPUNGED');
    return join(this.path, entry.subdir, entry.filename);
  }

  readonly opensStaleKeys = true;

  async open(msg: StoredMessage, { pooled = false, latestKey }: OpenOptions = {}): Promise<MessageContent> {
    const size = msg.size;
    if (size <= BLOCKING_READ_MAX_BYTES) {
      // A small message is read at once with one blocking read (a page-cache hit, as Dovecot reads): no stat
      // first and no round trips through the thread pool, which dominate a pipelined download of small mail.
      // The file is read here (so a vanished message fails before anything is sent), but converted to CRLF only as far
      // as asked: a FETCH of BODY[HEADER] converts the header, not the whole message. Conversion is per line end, so a
      // converted prefix is the prefix of the whole conversion; k stored bytes give at least k converted ones.
      const loaded = this.readSmallFile(join(this.path, msg.key), msg, pooled) ?? (await readFramedPath(await this.resolve(msg, latestKey), msg, FRAME_ROOM, FRAME_ROOM, pooled));
      const { frame, raw } = loaded;
      let whole: Buffer | undefined;
      const wholeCrlf = (): Buffer => (whole ??= crlfOf(loaded, msg));
      // A prefix converted before the whole message is a copy when it would be a view of the frame: converting the
      // whole in place later moves the frame's lines, under a view already handed out (and maybe not yet written).
      const prefix = (end: number): Buffer => {
        const part = toCrlf(raw.subarray(0, end));
        return part.buffer === frame.buffer ? Buffer.from(part) : part;
      };
      const converted = (end: number): Buffer => whole ?? (end >= raw.length ? wholeCrlf() : prefix(end));
      return {
        size,
        stream: (start = 0, end = Infinity) => Readable.from([converted(end).subarray(start, end)], { objectMode: false }),
        read: () => Promise.resolve(converted(Infinity)),
        readFramed: (before, after) => Promise.resolve(framedIn(frame, wholeCrlf(), before, after)),
      };
    }
    const path = await this.resolve(msg, latestKey);
    return {
      size,
      stream: (start = 0, end = Infinity) => Readable.from(crlfChunks(path, Math.max(0, msg.size - msg.physicalSize), start, end), { objectMode: false }),
      read: async () => toCrlf(await readFile(path)),
      readFramed: async (before, after) => {
        // Read through the thread pool (a large file would block the event loop) into the buffer that is sent, and
        // converted there.
        const file = await readFramedPath(path, msg, before, after, pooled);
        return framedIn(file.frame, crlfOf(file, msg), before, after);
      },
    };
  }

  /**
   * A small message file read into a buffer with FRAME_ROOM bytes free in front of it, the CRs its conversion adds
   * (RFC822.SIZE minus the size on disk) and FRAME_ROOM behind; undefined when the file is not there (renamed by a
   * flag change: resolve() finds it).
   */
  private readSmallFile(path: string, msg: StoredMessage, pooled: boolean): FramedFile | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw toStorageError(err);
    }
    try {
      return readFramedWith((buf, at, length, position) => readSync(fd, buf, at, length, position), () => fstatSync(fd).size, msg, FRAME_ROOM, FRAME_ROOM, pooled);
    } catch (err) {
      throw toStorageError(err);
    } finally {
      closeSync(fd);
    }
  }

  // ---- changing ----------------------------------------------------------------------------------------------

  async setFlags(changes: Array<{ msg: StoredMessage; flags: string[] }>): Promise<StoredMessage[]> {
    await this.loadKeywords();
    const done: Array<{ from: string; to: string }> = [];
    const out: StoredMessage[] = [];
    try {
      for (const { msg, flags } of changes) {
        const from = await this.resolve(msg);
        const filename = basename(from);
        const parsed = parseMaildirFilename(filename);
        const keep = lettersToFlags(parsed.letters).other;
        const letters = await this.lettersFor(flags, keep);
        const newName = withInfo(parsed.base, letters);
        const to = join(this.path, 'cur', newName);
        if (to !== from) {
          await rename(from, to);
          done.push({ from, to });
        }
        out.push({ ...msg, key: `cur/${newName}`, flags: this.flagsFromLetters(letters), unseenBySessions: false });
      }
    } catch (err) {
      for (const { from, to } of done.reverse()) await rename(to, from).catch(() => undefined);
      throw toStorageError(err);
    }
    if (this.opts.fsync && done.length) {
      await fsyncDir(join(this.path, 'cur'));
      if (done.some((d) => d.from.includes('/new/'))) await fsyncDir(join(this.path, 'new'));
    }
    return out;
  }

  async settle(msgs: StoredMessage[]): Promise<StoredMessage[]> {
    const out: StoredMessage[] = [];
    let moved = false;
    for (const msg of msgs) {
      if (!msg.key.startsWith('new/')) {
        out.push(msg);
        continue;
      }
      const base = parseMaildirFilename(msg.key.slice(4)).base;
      const letters = parseMaildirFilename(msg.key.slice(4)).letters;
      const newName = withInfo(base, letters);
      try {
        await rename(join(this.path, msg.key), join(this.path, 'cur', newName));
        moved = true;
        out.push({ ...msg, key: `cur/${newName}`, unseenBySessions: false });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw toStorageError(err);
        out.push(msg); // moved or expunged by someone else; the next scan sees it
      }
    }
    if (moved && this.opts.fsync) {
      await fsyncDir(join(this.path, 'cur'));
      await fsyncDir(join(this.path, 'new'));
    }
    return out;
  }

  async expunge(msgs: StoredMessage[]): Promise<void> {
    let freedBytes = 0;
    let freedCount = 0;
    for (const msg of msgs) {
      try {
        const path = await this.resolve(msg);
        await unlink(path);
        freedBytes += msg.physicalSize;
        freedCount += 1;
      } catch (err) {
        if ((err as StorageError).code === 'EXPUNGED' || (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw toStorageError(err);
      }
    }
    if (this.opts.fsync && freedCount) {
      await fsyncDir(join(this.path, 'cur'));
      await fsyncDir(join(this.path, 'new'));
    }
    if (freedCount) await this.opts.quota?.update(-freedBytes, -freedCount);
  }

  watch(onChange: () => void): { close(): void } {
    const watchers: FSWatcher[] = [];
    for (const sub of ['new', 'cur']) {
      try {
        const w = fsWatch(join(this.path, sub), { persistent: false }, () => onChange());
        w.on('error', () => undefined);
        watchers.push(w);
      } catch (err) {
        log.warn({ path: this.path, err: (err as Error).message }, 'fs.watch unavailable; changes are found at sync');
      }
    }
    return { close: () => watchers.forEach((w) => w.close()) };
  }
}

/**
 * Whether a message key ("cur/<base>:2,<letters>", "new/<base>") names the file with this base: the same message,
 * whatever its flags. Compared in place: a rescan asks it of every message.
 */
function keyHasBase(key: string, base: string): boolean {
  const start = key.indexOf('/') + 1;
  const end = start + base.length;
  return key.startsWith(base, start) && (key.length === end || key.charCodeAt(end) === 0x3a);
}

/** A file's or directory's part of a change stamp: inode, time and size, or '-' when it is missing. */
function fileStamp(st: BigIntStats | undefined): string {
  return st ? `${st.ino}.${st.mtimeNs}.${st.size}` : '-';
}

/**
 * stat() as a direct system call, undefined when the path is missing or unreadable. The save path's metadata steps
 * (stats, the rename, the lock file) take microseconds on a local disk, less than a trip through the thread pool.
 */
function statQuietly(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
