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
  if (!LITTLE_ENDIAN || buf.length < 12 || buf.readUInt32LE(0) !== MAGIC) return undefined;
  const headerLength = buf.readUInt32LE(4);
  const numbersLength = buf.readUInt32LE(8);
  const header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength)) as { n: number; flagSets: string[][]; anyUidl: boolean; ascii: boolean };
  const { n, flagSets, anyUidl } = header;
  const base = 12 + headerLength;
  if (numbersLength !== n * 8 * NUMBER_COLUMNS.length + n * 4) return undefined;
  const strings = n === 0 ? [] : buf.toString(header.ascii ? 'latin1' : 'utf8', base + numbersLength).split(SEPARATOR);
  const perRecord = anyUidl ? 3 : 2;
  if (strings.length !== n * perRecord) return undefined;
  // The columns copied once into aligned typed arrays (the buffer's own offset need not be aligned).
  const numbers = new Float64Array(n * NUMBER_COLUMNS.length);
  Buffer.from(numbers.buffer).set(buf.subarray(base, base + numbers.byteLength));
  const flagSetOf = new Uint32Array(n);
  Buffer.from(flagSetOf.buffer).set(buf.subarray(base + numbers.byteLength, base + numbersLength));
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
  return records;
}
