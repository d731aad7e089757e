// A mailbox's message records packed into one buffer (columns of numbers, one string table), kept in the index so that
// a large mailbox's first SELECT after a restart reads its small head (count, last UID, flags, first unseen) and the
// records are read and decoded at the first command that needs them. A cache of the records: rebuildable.
import { randomBytes } from 'node:crypto';
import { endianness } from 'node:os';
import type { MessageRecord } from './user-index.js';

/** Format tag at the start of every snapshot; a value with another tag is ignored (and rewritten). */
const MAGIC = 0x52565332; // "RVS2"
const SEPARATOR = '\0';
const LITTLE_ENDIAN = endianness() === 'LE';
/** Numeric columns, each a float64 per message, in this order. */
const NUMBER_COLUMNS = ['uid', 'internalDate', 'saveDate', 'size', 'physicalSize', 'modseq'] as const;

/**
 * The GUID a record most often has: its file's base name (a Maildir file name up to the ':' of its flags). Such a
 * GUID is kept as an empty slot and taken from the key when read.
 */
function guidFromKey(key: string): string {
  const slash = key.lastIndexOf('/');
  const colon = key.indexOf(':', slash + 1);
  return key.slice(slash + 1, colon < 0 ? key.length : colon);
}

/**
 * What a SELECT needs of a snapshot, stored in it and beside it (UserIndex.viewHeads): the message count, the flag sets,
 * the last UID and the first unseen message's index (-1: none), and a generation that tells this snapshot from the ones
 * written before and after it.
 */
export interface SnapshotHead {
  n: number;
  flagSets: string[][];
  anyUidl: boolean;
  ascii: boolean;
  gen: string;
  lastUid: number;
  firstUnseen: number;
}

/** A snapshot's loaded columns: the numbers, each message's flag set, and the string table. */
export interface SnapshotData {
  numbers: Float64Array;
  flagSetOf: Uint32Array;
  text: Buffer;
}

/**
 * The snapshot of `records` (UID order), or undefined when one of them cannot round-trip through it: a string holding
 * the separator, or an empty POP3 UIDL (an empty slot stands for "none").
 */
export function encodeViewSnapshot(records: readonly MessageRecord[]): Buffer | undefined {
  return encodeViewSnapshotWithHead(records)?.value;
}

/** encodeViewSnapshot, with the head it holds. */
export function encodeViewSnapshotWithHead(records: readonly MessageRecord[]): { value: Buffer; head: SnapshotHead } | undefined {
  // The columns are typed arrays in the machine's byte order, written and read as they are: little-endian only.
  if (!LITTLE_ENDIAN) return undefined;
  const flagSetIndex = new Map<string, number>();
  const flagSets: string[][] = [];
  const strings: string[] = [];
  let anyUidl = false;
  for (const rec of records) {
    if (rec.key.includes(SEPARATOR) || rec.guid.includes(SEPARATOR) || rec.guid === '') return undefined;
    if (rec.pop3Uidl !== undefined) {
      if (rec.pop3Uidl === '' || rec.pop3Uidl.includes(SEPARATOR)) return undefined;
      anyUidl = true;
    }
  }
  const n = records.length;
  const numbers = new Float64Array(n * NUMBER_COLUMNS.length);
  NUMBER_COLUMNS.forEach((column, c) => {
    for (let i = 0; i < n; i++) numbers[c * n + i] = records[i]![column];
  });
  const flagSetOf = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const rec = records[i]!;
    const setKey = rec.flags.join(' ');
    let set = flagSetIndex.get(setKey);
    if (set === undefined) {
      set = flagSets.length;
      flagSets.push(rec.flags.slice());
      flagSetIndex.set(setKey, set);
    }
    flagSetOf[i] = set;
    strings.push(rec.key, rec.guid === guidFromKey(rec.key) ? '' : rec.guid);
    if (anyUidl) strings.push(rec.pop3Uidl ?? '');
  }
  const joined = strings.join(SEPARATOR);
  const text = Buffer.from(joined, 'utf8');
  // ASCII text (the usual case) is read back as latin1, which decodes several times faster than UTF-8.
  const ascii = text.length === joined.length;
  const head: SnapshotHead = {
    n,
    flagSets,
    anyUidl,
    ascii,
    gen: randomBytes(8).toString('hex'),
    lastUid: n ? records[n - 1]!.uid : 0,
    firstUnseen: records.findIndex((r) => !r.flags.includes('\\Seen')),
  };
  const header = Buffer.from(JSON.stringify(head), 'utf8');
  const prefix = Buffer.allocUnsafe(12);
  prefix.writeUInt32LE(MAGIC, 0);
  prefix.writeUInt32LE(header.length, 4);
  prefix.writeUInt32LE(numbers.byteLength + flagSetOf.byteLength, 8);
  return { value: Buffer.concat([prefix, header, Buffer.from(numbers.buffer), Buffer.from(flagSetOf.buffer), text]), head };
}

/** The records a snapshot holds, or undefined when the buffer is not a snapshot of this format. */
export function decodeViewSnapshot(buf: Buffer): MessageRecord[] | undefined {
  return openViewSnapshot(buf)?.decode();
}

/**
 * A snapshot's columns copied out of its value (which LMDB may reuse), or undefined when the buffer is not a snapshot
 * of this format (or not of generation `gen`, when given). The strings are decoded, and a record made per message,
 * only at decode().
 */
export function openViewSnapshot(buf: Buffer, gen?: string): SnapshotColumns | undefined {
  const read = readViewSnapshot(buf, gen);
  return read && new SnapshotColumns(read.head, read.data);
}

/** The head and a copy of the columns of a snapshot value; undefined as for openViewSnapshot. */
export function readViewSnapshot(buf: Buffer, gen?: string): { head: SnapshotHead; data: SnapshotData } | undefined {
  if (!LITTLE_ENDIAN || buf.length < 12 || buf.readUInt32LE(0) !== MAGIC) return undefined;
  const headerLength = buf.readUInt32LE(4);
  const numbersLength = buf.readUInt32LE(8);
  if (12 + headerLength + numbersLength > buf.length) return undefined;
  const head = JSON.parse(buf.toString('utf8', 12, 12 + headerLength)) as SnapshotHead;
  if (gen !== undefined && head.gen !== gen) return undefined;
  const base = 12 + headerLength;
  if (numbersLength !== head.n * 8 * NUMBER_COLUMNS.length + head.n * 4) return undefined;
  // The columns copied once into aligned typed arrays (the buffer's own offset need not be aligned).
  const numbers = new Float64Array(head.n * NUMBER_COLUMNS.length);
  Buffer.from(numbers.buffer).set(buf.subarray(base, base + numbers.byteLength));
  const flagSetOf = new Uint32Array(head.n);
  Buffer.from(flagSetOf.buffer).set(buf.subarray(base + numbers.byteLength, base + numbersLength));
  return { head, data: { numbers, flagSetOf, text: Buffer.from(buf.subarray(base + numbersLength)) } };
}

/**
 * A mailbox's records as columns: the message count, the last UID, the keywords in use and the first unseen message
 * come from the head without a record per message (a SELECT's answers). The columns themselves are either there from
 * the start, or loaded at the first decode() or load() (`loader`, which gives undefined when the snapshot of this
 * generation is gone); decode() makes the records once and keeps them.
 */
export class SnapshotColumns {
  readonly length: number;
  private decoded?: MessageRecord[];
  private keywordList?: readonly string[];
  /** The loader had no snapshot of this generation: decode() gives undefined. */
  private lost = false;

  constructor(
    readonly head: SnapshotHead,
    private data: SnapshotData | undefined,
    private loader?: () => SnapshotData | undefined,
  ) {
    this.length = head.n;
  }

  /** The highest UID (0 when empty). */
  get lastUid(): number {
    return this.head.lastUid;
  }

  /** Keywords (flags without a backslash) some message has, sorted: every flag set in the head is some message's. */
  get keywords(): readonly string[] {
    if (!this.keywordList) {
      const found = new Set<string>();
      for (const set of this.head.flagSets) for (const flag of set) if (!flag.startsWith('\\')) found.add(flag);
      this.keywordList = [...found].sort();
    }
    return this.keywordList;
  }

  /** The index of the first message without \Seen, -1 when every message has it. */
  get firstUnseenIndex(): number {
    return this.head.firstUnseen;
  }

  /** Whether decode() has made the records. */
  get isDecoded(): boolean {
    return this.decoded !== undefined;
  }

  /** Whether the columns are in memory (or decoded already): the snapshot they came from may then be replaced. */
  get isLoaded(): boolean {
    return this.data !== undefined || this.decoded !== undefined || this.lost;
  }

  /** Reads the columns in now, while the snapshot of this generation is still stored. */
  load(): void {
    if (this.isLoaded) return;
    this.data = this.loader?.();
    this.loader = undefined;
    if (!this.data) this.lost = true;
  }

  /** Whether the columns were to be loaded and their snapshot was gone (replaced twice meanwhile, or dropped). */
  get isLost(): boolean {
    return this.lost;
  }

  /** The records (the same array at every call), or undefined when the columns are lost or do not hold one set of strings per message. */
  decode(): MessageRecord[] | undefined {
    if (this.decoded) return this.decoded;
    this.load();
    if (!this.data) return undefined;
    const { n, flagSets, anyUidl, ascii } = this.head;
    const { numbers, flagSetOf, text } = this.data;
    const strings = n === 0 ? [] : text.toString(ascii ? 'latin1' : 'utf8').split(SEPARATOR);
    const perRecord = anyUidl ? 3 : 2;
    if (strings.length !== n * perRecord) return undefined;
    const records: MessageRecord[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const key = strings[i * perRecord]!;
      const guid = strings[i * perRecord + 1]!;
      const uidl = anyUidl ? strings[i * 3 + 2] : '';
      records[i] = {
        uid: numbers[i]!,
        key,
        flags: flagSets[flagSetOf[i]!]!,
        internalDate: numbers[n + i]!,
        saveDate: numbers[2 * n + i]!,
        size: numbers[3 * n + i]!,
        physicalSize: numbers[4 * n + i]!,
        modseq: numbers[5 * n + i]!,
        guid: guid === '' ? guidFromKey(key) : guid,
        pop3Uidl: uidl === '' ? undefined : uidl,
      };
    }
    this.decoded = records;
    this.data = undefined;
    return records;
  }
}
