// A mailbox's SORT and THREAD keys (sort-keys.ts) as one entry of the index, so that the first SORT after a restart,
// or after the user's index was closed, reads one value instead of one cache entry per message. The snapshot is
// never wrong, only incomplete: a message's keys never change under one UIDVALIDITY, expunged messages are left out
// when it is read, and messages it lacks are loaded one by one as before.
import type { MailboxSession } from '../../../storage/api.js';
import { RankedStrings, SortKeys } from './sort-keys.js';

export const SNAPSHOT_CACHE_KEY = 'imap.sort.snapshot.v1';
const MAGIC = 0x52534b32; // "RSK2"
const NULL_LENGTH = 0xffffffff;
/** Below this many messages the per-message entries load quickly enough. */
const MIN_SLOTS = 1000;

const TEXT_TABLES = 6;
const NO_REFERENCES: string[] = [];

/** Writes typed arrays and a UTF-16 string one after the other, each at an 8-byte boundary. */
class Writer {
  private readonly parts: Buffer[] = [];
  private length = 0;

  put(bytes: Buffer): void {
    this.parts.push(bytes);
    this.length += bytes.length;
    const pad = (8 - (this.length % 8)) % 8;
    if (pad) {
      this.parts.push(Buffer.alloc(pad));
      this.length += pad;
    }
  }

  array(a: Float64Array | Uint32Array | Uint8Array, n: number): void {
    this.put(Buffer.from(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT));
  }

  done(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

/** Reads what Writer wrote; copies each array, since the buffer's offset need not be aligned. */
class Reader {
  private at = 0;
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

  /** Latin-1 when every character fits in a byte, else UTF-16 (both give back any string exactly). */
  text(chars: number, latin1: boolean): string {
    return latin1 ? this.take(chars).toString('latin1') : this.take(chars * 2).toString('utf16le');
  }
}

/**
 * The keys as one buffer: a header (magic, UIDVALIDITY, slots, strings per table, string count, UTF-16 length of
 * all strings, whether they are Latin-1), the numeric columns, each table's ids per slot and its code point order,
 * the reference counts, every string's length, the flags, and then all strings (tables, Message-IDs, references) in
 * Latin-1 or UTF-16.
 */
export function encodeSnapshot(keys: SortKeys, uidValidity: number): Buffer {
  const n = keys.slots;
  const pieces: string[] = [];
  const lengths: number[] = [];
  const text = (s: string): void => {
    pieces.push(s);
    lengths.push(s.length);
  };
  const orders = keys.text.map((t) => Uint32Array.from(t.codePointOrder()));
  for (const t of keys.text) for (const s of t.strings) text(s);
  for (let s = 0; s < n; s++) {
    const id = keys.messageId[s]!;
    if (id === null) lengths.push(NULL_LENGTH);
    else text(id);
  }
  const refCount = new Uint32Array(n);
  for (let s = 0; s < n; s++) {
    const refs = keys.references[s]!;
    refCount[s] = refs.length;
    for (const r of refs) text(r);
  }
  const chars = pieces.join('');
  const w = new Writer();
  const latin1 = !/[^\x00-\xff]/.test(chars);
  const header = new Uint32Array([MAGIC, uidValidity, n, ...keys.text.map((t) => t.strings.length), lengths.length, chars.length, latin1 ? 1 : 0]);
  w.array(header, header.length);
  for (const column of [keys.uid, keys.arrival, keys.size, keys.date]) w.array(column, n);
  for (let k = 0; k < TEXT_TABLES; k++) {
    w.array(keys.textIds[k]!, n);
    w.array(orders[k]!, orders[k]!.length);
  }
  w.array(refCount, n);
  w.array(Uint32Array.from(lengths), lengths.length);
  w.array(keys.flags, n);
  w.put(Buffer.from(chars, latin1 ? 'latin1' : 'utf16le'));
  return w.done();
}

/**
 * The keys of a snapshot, without the messages `keep` rejects (expunged since); undefined when the buffer is not a
 * snapshot of this UIDVALIDITY.
 */
export function decodeSnapshot(buf: Buffer, uidValidity: number, keep: (uid: number) => boolean): SortKeys | undefined {
  const r = new Reader(buf);
  const header = r.u32(3 + TEXT_TABLES + 3);
  if (header[0] !== MAGIC || header[1] !== uidValidity) return undefined;
  const n = header[2]!;
  const tableSizes = Array.from(header.subarray(3, 3 + TEXT_TABLES));
  const stringCount = header[3 + TEXT_TABLES]!;
  const charCount = header[4 + TEXT_TABLES]!;
  const [uid, arrival, size, date] = [r.f64(n), r.f64(n), r.f64(n), r.f64(n)];
  const ids: Uint32Array[] = [];
  const orders: Uint32Array[] = [];
  for (let k = 0; k < TEXT_TABLES; k++) {
    ids.push(r.u32(n));
    orders.push(r.u32(tableSizes[k]!));
  }
  const refCount = r.u32(n);
  const lengths = r.u32(stringCount);
  const flags = r.u8(n);
  const chars = r.text(charCount, header[5 + TEXT_TABLES] === 1);

  let at = 0;
  let next = 0;
  const string = (): string | null => {
    const len = lengths[next++]!;
    if (len === NULL_LENGTH) return null;
    const s = chars.slice(at, at + len);
    at += len;
    return s;
  };
  const keys = new SortKeys();
  keys.text = tableSizes.map((count, k) => {
    const strings = new Array<string>(count);
    for (let i = 0; i < count; i++) strings[i] = string()!;
    if (orders[k]!.length !== count) throw new RangeError('snapshot order does not match its strings');
    return RankedStrings.restore(strings, orders[k]!);
  });
  keys.reserve(n);
  const messageIds = new Array<string | null>(n);
  for (let s = 0; s < n; s++) messageIds[s] = string();
  for (let s = 0; s < n; s++) {
    const refs: string[] = refCount[s] ? [] : NO_REFERENCES;
    for (let i = 0; i < refCount[s]!; i++) refs.push(string()!);
    if (!keep(uid[s]!) || keys.slotOf(uid[s]!) !== undefined) continue;
    const slot = keys.newSlot(uid[s]!);
    keys.arrival[slot] = arrival[s]!;
    keys.size[slot] = size[s]!;
    keys.date[slot] = date[s]!;
    for (let k = 0; k < TEXT_TABLES; k++) keys.textIds[k]![slot] = ids[k]![s]!;
    keys.flags[slot] = flags[s]!;
    keys.messageId[slot] = messageIds[s]!;
    keys.references[slot] = refs;
  }
  if (next !== stringCount || at !== charCount) throw new RangeError('snapshot strings do not add up');
  keys.snapshotSlots = keys.slots;
  return keys;
}

/** The mailbox's keys from its snapshot in the index (expunged messages left out), if it has a good one. */
export function readSnapshot(mailbox: MailboxSession): SortKeys | undefined {
  const buf = mailbox.getMailboxCached(SNAPSHOT_CACHE_KEY);
  if (!Buffer.isBuffer(buf) && !(buf instanceof Uint8Array)) return undefined;
  try {
    return decodeSnapshot(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), mailbox.uidValidity, (uid) => mailbox.seqOf(uid) !== undefined);
  } catch {
    return undefined;
  }
}

/**
 * Writes the snapshot again once the keys hold an eighth more messages than it does (and at least MIN_SLOTS), after
 * the current command: a mailbox read whole once is written once.
 */
export function saveSnapshotLater(mailbox: MailboxSession, keys: SortKeys): void {
  const n = keys.slots;
  if (n < MIN_SLOTS || n - keys.snapshotSlots < Math.max(MIN_SLOTS / 2, keys.snapshotSlots / 8)) return;
  keys.snapshotSlots = n;
  setImmediate(() => {
    try {
      mailbox.setMailboxCached(SNAPSHOT_CACHE_KEY, encodeSnapshot(keys, mailbox.uidValidity));
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
