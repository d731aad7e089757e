// A mailbox's message records packed into one buffer (columns of numbers, one string table), kept in the index so that
// the first SELECT after a restart decodes one value instead of a record per message. A cache of the records: rebuildable.
import { endianness } from 'node:os';
import type { MessageRecord } from './user-index.js';

/** Format tag at the start of every snapshot; a value with another tag is ignored (and rewritten). */
const MAGIC = 0x52565331; // "RVS1"
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
 * The snapshot of `records` (UID order), or undefined when one of them cannot round-trip through it: a string holding
 * the separator, or an empty POP3 UIDL (an empty slot stands for "none").
 */
export function encodeViewSnapshot(records: readonly MessageRecord[]): Buffer | undefined {
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
  const header = Buffer.from(JSON.stringify({ n, flagSets, anyUidl, ascii }), 'utf8');
  const prefix = Buffer.allocUnsafe(12);
  prefix.writeUInt32LE(MAGIC, 0);
  prefix.writeUInt32LE(header.length, 4);
  prefix.writeUInt32LE(numbers.byteLength + flagSetOf.byteLength, 8);
  return Buffer.concat([prefix, header, Buffer.from(numbers.buffer), Buffer.from(flagSetOf.buffer), text]);
}

/** The records a snapshot holds, or undefined when the buffer is not a snapshot of this format. */
export function decodeViewSnapshot(buf: Buffer): MessageRecord[] | undefined {
  return openViewSnapshot(buf)?.decode();
}

/**
 * A snapshot's columns copied out of its value (which LMDB may reuse), or undefined when the buffer is not a snapshot
 * of this format. The strings are decoded, and a record made per message, only at decode().
 */
export function openViewSnapshot(buf: Buffer): SnapshotColumns | undefined {
  if (!LITTLE_ENDIAN || buf.length < 12 || buf.readUInt32LE(0) !== MAGIC) return undefined;
  const headerLength = buf.readUInt32LE(4);
  const numbersLength = buf.readUInt32LE(8);
  if (12 + headerLength + numbersLength > buf.length) return undefined;
  const header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength)) as SnapshotHeader;
  const base = 12 + headerLength;
  if (numbersLength !== header.n * 8 * NUMBER_COLUMNS.length + header.n * 4) return undefined;
  // The columns copied once into aligned typed arrays (the buffer's own offset need not be aligned).
  const numbers = new Float64Array(header.n * NUMBER_COLUMNS.length);
  Buffer.from(numbers.buffer).set(buf.subarray(base, base + numbers.byteLength));
  const flagSetOf = new Uint32Array(header.n);
  Buffer.from(flagSetOf.buffer).set(buf.subarray(base + numbers.byteLength, base + numbersLength));
  return new SnapshotColumns(header, numbers, flagSetOf, Buffer.from(buf.subarray(base + numbersLength)));
}

interface SnapshotHeader {
  n: number;
  flagSets: string[][];
  anyUidl: boolean;
  ascii: boolean;
}

/**
 * A mailbox's records as columns: the message count, the last UID, the keywords in use and the first unseen message
 * are read from them without a record per message (a SELECT's answers); decode() makes the records once and keeps them.
 */
export class SnapshotColumns {
  readonly length: number;
  private decoded?: MessageRecord[];
  private keywordList?: readonly string[];
  private firstUnseen?: number;

  constructor(
    private readonly header: SnapshotHeader,
    private numbers: Float64Array | undefined,
    private flagSetOf: Uint32Array | undefined,
    private text: Buffer | undefined,
  ) {
    this.length = header.n;
  }

  /** The highest UID (0 when empty): the UID column is the first, in ascending order. Before decode() only. */
  get lastUid(): number {
    return this.length ? this.numbers![this.length - 1]! : 0;
  }

  /** Keywords (flags without a backslash) some message has, sorted: every flag set in the header is some message's. */
  get keywords(): readonly string[] {
    if (!this.keywordList) {
      const found = new Set<string>();
      for (const set of this.header.flagSets) for (const flag of set) if (!flag.startsWith('\\')) found.add(flag);
      this.keywordList = [...found].sort();
    }
    return this.keywordList;
  }

  /** The index of the first message without \Seen, -1 when every message has it. Before decode() only. */
  get firstUnseenIndex(): number {
    if (this.firstUnseen === undefined) {
      const unseenSet = this.header.flagSets.map((set) => !set.includes('\\Seen'));
      const flagSetOf = this.flagSetOf!;
      let at = 0;
      while (at < this.length && !unseenSet[flagSetOf[at]!]) at++;
      this.firstUnseen = at < this.length ? at : -1;
    }
    return this.firstUnseen;
  }

  /** Whether decode() has made the records. */
  get isDecoded(): boolean {
    return this.decoded !== undefined;
  }

  /** The records (the same array at every call), or undefined when the text does not hold one set of strings per message. */
  decode(): MessageRecord[] | undefined {
    if (this.decoded) return this.decoded;
    const { n, flagSets, anyUidl, ascii } = this.header;
    const numbers = this.numbers!;
    const flagSetOf = this.flagSetOf!;
    const strings = n === 0 ? [] : this.text!.toString(ascii ? 'latin1' : 'utf8').split(SEPARATOR);
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
    this.numbers = this.flagSetOf = this.text = undefined;
    return records;
  }
}
