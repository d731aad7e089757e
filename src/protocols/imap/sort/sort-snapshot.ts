// A mailbox's SORT and THREAD keys (sort-keys.ts) as two entries of the index, the sort keys and THREAD's data, so
// that the first SORT after a restart, or after the user's index was closed, reads one value instead of one cache
// entry per message. A snapshot is never wrong, only incomplete: a message's keys never change under one UIDVALIDITY,
// expunged messages are left out when it is read, and messages it lacks are loaded one by one as before.
import type { MailboxSession } from '../../../storage/api.js';
import { SORT_CACHE_KEY } from './sort-data.js';
import { RankedStrings, SortKeys } from './sort-keys.js';

/** Named after the per-message entry, so that a change of how keys are computed (a new SORT_CACHE_KEY) drops these too. */
export const SNAPSHOT_CACHE_KEY = `${SORT_CACHE_KEY}.snapshot`;
/** THREAD's part (Message-IDs, references), apart so that a SORT after a restart reads only its keys. */
export const THREADS_CACHE_KEY = `${SORT_CACHE_KEY}.threads`;
const KEYS_MAGIC = 0x52534b33; // "RSK3"
const THREADS_MAGIC = 0x52535431; // "RST1"
const NULL_LENGTH = 0xffffffff;
/** A slot whose THREAD data was not known when the snapshot was written. */
const UNKNOWN_LENGTH = 0xfffffffe;
/** Below this many messages the per-message entries load quickly enough. */
const MIN_SLOTS = 1000;

const TEXT_TABLES = 6;
const NO_REFERENCES: string[] = [];

/** Writes typed arrays and strings one after the other, each at an 8-byte boundary. */
class Writer {
  private readonly parts: Buffer[] = [];
  private length = 0;
  private readonly pieces: string[] = [];
  private readonly lengths: number[] = [];

  put(bytes: Buffer): void {
    this.parts.push(bytes);
    this.length += bytes.length;
    const pad = (8 - (this.length % 8)) % 8;
    if (pad) {
      this.parts.push(Buffer.alloc(pad));
      this.length += pad;
    }
  }

  array(a: Float64Array | Uint32Array | Uint8Array, n = a.length): void {
    this.put(Buffer.from(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT));
  }

  /** A string (or null, or nothing known) for the strings block. */
  string(s: string | null | undefined): void {
    if (typeof s === 'string') {
      this.pieces.push(s);
      this.lengths.push(s.length);
    } else this.lengths.push(s === null ? NULL_LENGTH : UNKNOWN_LENGTH);
  }

  /** The strings block last: count, characters, Latin-1 or UTF-16 (both give back any string exactly), lengths, text. */
  done(): Buffer {
    const chars = this.pieces.join('');
    const latin1 = !/[^\x00-\xff]/.test(chars);
    this.array(new Uint32Array([this.lengths.length, chars.length, latin1 ? 1 : 0]));
    this.array(Uint32Array.from(this.lengths));
    this.put(Buffer.from(chars, latin1 ? 'latin1' : 'utf16le'));
    return Buffer.concat(this.parts, this.length);
  }
}

/** Reads what Writer wrote; copies each array, since the buffer's offset need not be aligned. */
class Reader {
  private at = 0;
  private lengths: Uint32Array = new Uint32Array(0);
  private chars = '';
  private next = 0;
  private charAt = 0;

  constructor(private readonly buf: Buffer) {}

  private take(bytes: number): Buffer {
    if (this.at + bytes > this.buf.length) throw new RangeError('snapshot too short');
    const out = this.buf.subarray(this.at, this.at + bytes);
    this.at += bytes + ((8 - (bytes % 8)) % 8);
    return out;
  }

  u32(n: number): Uint32Array {
    const out = new Uint32Array(n);
    new Uint8Array(out.buffer).set(this.take(n * 4));
    return out;
  }

  f64(n: number): Float64Array {
    const out = new Float64Array(n);
    new Uint8Array(out.buffer).set(this.take(n * 8));
    return out;
  }

  u8(n: number): Uint8Array {
    return Uint8Array.from(this.take(n));
  }

  /** Reads the strings block; string() then gives them in order. */
  strings(): void {
    const [count, chars, latin1] = this.u32(3);
    this.lengths = this.u32(count!);
    this.chars = latin1 ? this.take(chars!).toString('latin1') : this.take(chars! * 2).toString('utf16le');
  }

  string(): string | null | undefined {
    if (this.next >= this.lengths.length) throw new RangeError('snapshot strings run short');
    const len = this.lengths[this.next++]!;
    if (len === NULL_LENGTH) return null;
    if (len === UNKNOWN_LENGTH) return undefined;
    const s = this.chars.slice(this.charAt, this.charAt + len);
    this.charAt += len;
    return s;
  }

  /** Every string was read. */
  finish(): void {
    if (this.next !== this.lengths.length || this.charAt !== this.chars.length) throw new RangeError('snapshot strings do not add up');
  }
}

/**
 * The keys as one buffer: magic, UIDVALIDITY, slots, strings per table; the numeric columns; each table's ids per slot
 * and its code point order; the flags; the strings of the tables.
 */
export function encodeSnapshot(keys: SortKeys, uidValidity: number): Buffer {
  const n = keys.slots;
  const w = new Writer();
  w.array(new Uint32Array([KEYS_MAGIC, uidValidity, n, ...keys.text.map((t) => t.strings.length)]));
  for (const column of [keys.uid, keys.arrival, keys.size, keys.date]) w.array(column, n);
  for (let k = 0; k < TEXT_TABLES; k++) {
    w.array(keys.textIds[k]!, n);
    w.array(Uint32Array.from(keys.text[k]!.codePointOrder()));
  }
  w.array(keys.flags, n);
  for (const t of keys.text) for (const s of t.strings) w.string(s);
  return w.done();
}

/**
 * The keys of a snapshot, without the messages `keep` rejects (expunged since), their THREAD data still to be read;
 * undefined when the buffer is not a snapshot of this UIDVALIDITY.
 */
export function decodeSnapshot(buf: Buffer, uidValidity: number, keep: (uid: number) => boolean): SortKeys | undefined {
  const r = new Reader(buf);
  const header = r.u32(3 + TEXT_TABLES);
  if (header[0] !== KEYS_MAGIC || header[1] !== uidValidity) return undefined;
  const n = header[2]!;
  const tableSizes = Array.from(header.subarray(3));
  const [uid, arrival, size, date] = [r.f64(n), r.f64(n), r.f64(n), r.f64(n)];
  const ids: Uint32Array[] = [];
  const orders: Uint32Array[] = [];
  for (let k = 0; k < TEXT_TABLES; k++) {
    ids.push(r.u32(n));
    orders.push(r.u32(tableSizes[k]!));
  }
  const flags = r.u8(n);
  r.strings();
  for (let k = 0; k < TEXT_TABLES; k++) checkTable(ids[k]!, orders[k]!, tableSizes[k]!);
  const keys = new SortKeys();
  keys.text = tableSizes.map((count, k) => {
    const strings = new Array<string>(count);
    for (let i = 0; i < count; i++) strings[i] = r.string()!;
    return RankedStrings.restore(strings, orders[k]!);
  });
  r.finish();
  keys.reserve(n);
  for (let s = 0; s < n; s++) {
    if (!keep(uid[s]!) || keys.slotOf(uid[s]!) !== undefined) continue;
    const slot = keys.newSlot(uid[s]!);
    keys.arrival[slot] = arrival[s]!;
    keys.size[slot] = size[s]!;
    keys.date[slot] = date[s]!;
    for (let k = 0; k < TEXT_TABLES; k++) keys.textIds[k]![slot] = ids[k]![s]!;
    keys.flags[slot] = flags[s]!;
  }
  keys.threadsPending = true;
  keys.snapshotSlots = keys.slots;
  keys.snapshotStale = keys.slots * 2 < n;
  return keys;
}

/** Every id names a string of the table, and the order lists each string once. */
function checkTable(ids: Uint32Array, order: Uint32Array, size: number): void {
  for (let i = 0; i < ids.length; i++) if (ids[i]! >= size) throw new RangeError('snapshot string id out of range');
  const seen = new Uint8Array(size);
  for (let i = 0; i < order.length; i++) {
    const id = order[i]!;
    if (id >= size || seen[id]) throw new RangeError('snapshot order is no permutation');
    seen[id] = 1;
  }
}

/** THREAD's data of every slot: magic, UIDVALIDITY, slots; UIDs; reference counts; Message-ID and references of each. */
export function encodeThreads(keys: SortKeys, uidValidity: number): Buffer {
  const n = keys.slots;
  const w = new Writer();
  w.array(new Uint32Array([THREADS_MAGIC, uidValidity, n]));
  w.array(keys.uid, n);
  w.array(Uint32Array.from({ length: n }, (_, s) => keys.references[s]?.length ?? 0));
  for (let s = 0; s < n; s++) {
    w.string(keys.messageId[s]);
    for (const ref of keys.references[s] ?? NO_REFERENCES) w.string(ref);
  }
  return w.done();
}

/** Gives the keys' slots without THREAD data theirs from the buffer (by UID); false when it is not for this UIDVALIDITY. */
export function decodeThreads(buf: Buffer, uidValidity: number, keys: SortKeys): boolean {
  const r = new Reader(buf);
  const header = r.u32(3);
  if (header[0] !== THREADS_MAGIC || header[1] !== uidValidity) return false;
  const n = header[2]!;
  const uid = r.f64(n);
  const refCount = r.u32(n);
  r.strings();
  for (let s = 0; s < n; s++) {
    const messageId = r.string();
    const references: string[] = refCount[s] ? [] : NO_REFERENCES;
    for (let i = 0; i < refCount[s]!; i++) references.push(r.string()!);
    const slot = keys.slotOf(uid[s]!);
    if (messageId !== undefined && slot !== undefined && !keys.hasThreadData(slot)) keys.setThreadData(slot, { messageId, references });
  }
  r.finish();
  return true;
}

function cachedBuffer(mailbox: MailboxSession, key: string): Buffer | undefined {
  const v = mailbox.getMailboxCached(key);
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : undefined;
}

/** The mailbox's keys from its snapshot in the index (expunged messages left out), if it has a good one. */
export function readSnapshot(mailbox: MailboxSession): SortKeys | undefined {
  const buf = cachedBuffer(mailbox, SNAPSHOT_CACHE_KEY);
  if (!buf) return undefined;
  try {
    return decodeSnapshot(buf, mailbox.uidValidity, (uid) => mailbox.seqOf(uid) !== undefined);
  } catch {
    return undefined;
  }
}

/** Reads the THREAD data of slots restored from a snapshot, once; slots it does not cover load one by one. */
export function readThreads(mailbox: MailboxSession, keys: SortKeys): void {
  if (!keys.threadsPending) return;
  keys.threadsPending = false;
  const buf = cachedBuffer(mailbox, THREADS_CACHE_KEY);
  if (!buf) return;
  try {
    decodeThreads(buf, mailbox.uidValidity, keys);
  } catch {
    // Damaged: the slots it did not give load per message.
  }
}

/**
 * Writes the snapshot again once the keys hold an eighth more messages than it does (and at least MIN_SLOTS), or when
 * most of it was expunged, after the current command: a mailbox read whole once is written once.
 */
export function saveSnapshotLater(mailbox: MailboxSession, keys: SortKeys): void {
  const n = keys.slots;
  if (!keys.snapshotStale && (n < MIN_SLOTS || n - keys.snapshotSlots < Math.max(MIN_SLOTS / 2, keys.snapshotSlots / 8))) return;
  keys.snapshotSlots = n;
  keys.snapshotStale = false;
  setImmediate(() => {
    try {
      readThreads(mailbox, keys);
      mailbox.setMailboxCached(SNAPSHOT_CACHE_KEY, encodeSnapshot(keys, mailbox.uidValidity));
      mailbox.setMailboxCached(THREADS_CACHE_KEY, encodeThreads(keys, mailbox.uidValidity));
    } catch {
      // The index was closed meanwhile: the next SORT writes it.
    }
  });
}

const MEMO_KEY = 'imap.sort.keys';

/** Holds the mailbox's current SortKeys; a command keeps using the object it started with when it is replaced. */
interface Holder {
  keys: SortKeys;
}

/**
 * The mailbox's SortKeys: in memory, else from the snapshot, else empty. Keys of expunged messages stay until they
 * outnumber the messages; then the next caller starts afresh.
 */
export function sortKeysOf(mailbox: MailboxSession): SortKeys {
  const fresh = (): SortKeys => readSnapshot(mailbox) ?? new SortKeys();
  const holder = mailbox.memo<Holder>(MEMO_KEY, () => ({ keys: fresh() }));
  if (holder.keys.slots > 2 * mailbox.messages().length + 1024) holder.keys = fresh();
  return holder.keys;
}
