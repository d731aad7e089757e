// dovecot-uidlist, as Dovecot 2.x reads and writes it (maildir-uidlist.c): version 3 header
// "3 V<uidvalidity> N<nextuid> G<mailbox guid>", records "<uid> [<ext>...] :<base filename>"; version 1 read too.

export interface UidlistRecord {
  uid: number;
  /** Base file name (without ':2,...'). */
  filename: string;
  /** Record extensions by letter: G (guid), W (vsize), S (size), P (POP3 UIDL), O (POP3 order)... kept verbatim. */
  ext: ReadonlyMap<string, string>;
}

export interface Uidlist {
  version: number;
  uidValidity: number;
  /** Next UID as written in the header (may lag behind appended records; see effectiveNextUid). */
  nextUid: number;
  /** Mailbox GUID, 32 hex digits ('' when absent). */
  guid: string;
  /** Other header extensions, kept verbatim in order. */
  headerExt: Array<[string, string]>;
  records: UidlistRecord[];
}

export class UidlistParseError extends Error {}

export function parseUidlist(text: string): Uidlist {
  const lines = text.split('\n');
  const header = lines[0] ?? '';
  const headerFields = header.split(' ');
  const version = Number(headerFields[0]);
  const out: Uidlist = { version, uidValidity: 0, nextUid: 1, guid: '', headerExt: [], records: [] };
  if (version === 1) {
    out.uidValidity = Number(headerFields[1]);
    out.nextUid = Number(headerFields[2]);
    if (!Number.isInteger(out.uidValidity) || !Number.isInteger(out.nextUid)) throw new UidlistParseError('bad v1 header');
  } else if (version === 3) {
    for (const field of headerFields.slice(1)) {
      if (field === '') continue;
      const key = field[0]!;
      const value = field.slice(1);
      if (key === 'V') out.uidValidity = Number(value);
      else if (key === 'N') out.nextUid = Number(value);
      else if (key === 'G') out.guid = value;
      else out.headerExt.push([key, value]);
    }
    if (!Number.isInteger(out.uidValidity) || out.uidValidity <= 0) throw new UidlistParseError('bad uidvalidity');
  } else {
    throw new UidlistParseError(`unsupported uidlist version ${headerFields[0]}`);
  }
  let lastUid = 0;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const rec = version === 1 ? parseV1Record(line) : parseV3Record(line);
    if (!rec) throw new UidlistParseError(`bad record: ${line.slice(0, 80)}`);
    // UIDs must grow; Dovecot treats a record that does not as corruption and rebuilds.
    if (rec.uid <= lastUid) throw new UidlistParseError(`uid ${rec.uid} not ascending`);
    lastUid = rec.uid;
    out.records.push(rec);
  }
  return out;
}

/** The extensions of a record that has none: one shared empty map, not one per record (a 100,000-line list). */
export const NO_EXTENSIONS: ReadonlyMap<string, string> = new Map();

function parseV1Record(line: string): UidlistRecord | undefined {
  const m = /^(\d+) (.+)$/.exec(line);
  if (!m) return undefined;
  return { uid: Number(m[1]), filename: m[2]!, ext: NO_EXTENSIONS };
}

function parseV3Record(line: string): UidlistRecord | undefined {
  const colon = line.indexOf(' :');
  if (colon < 0) return undefined;
  const fields = line.slice(0, colon).split(' ');
  const uid = Number(fields[0]);
  if (!Number.isInteger(uid) || uid <= 0) return undefined;
  let ext = NO_EXTENSIONS;
  if (fields.length > 1) {
    const found = new Map<string, string>();
    for (const f of fields.slice(1)) if (f) found.set(f[0]!, f.slice(1));
    if (found.size) ext = found;
  }
  const filename = line.slice(colon + 2);
  if (!filename) return undefined;
  return { uid, filename, ext };
}

/** The next UID to assign: the header's N or one past the highest record, whichever is larger. */
export function effectiveNextUid(list: Uidlist): number {
  const last = list.records.length ? list.records[list.records.length - 1]!.uid : 0;
  return Math.max(list.nextUid, last + 1);
}

export function formatUidlistHeader(list: Pick<Uidlist, 'uidValidity' | 'nextUid' | 'guid' | 'headerExt'>): string {
  let s = `3 V${list.uidValidity} N${list.nextUid}`;
  if (list.guid) s += ` G${list.guid}`;
  for (const [k, v] of list.headerExt) s += ` ${k}${v}`;
  return s + '\n';
}

export function formatUidlistRecord(rec: UidlistRecord): string {
  let s = String(rec.uid);
  for (const [k, v] of rec.ext) s += ` ${k}${v}`;
  return `${s} :${rec.filename}\n`;
}

/** The whole file in version 3, as Dovecot writes it on a rewrite. */
export function formatUidlist(list: Uidlist): string {
  return formatUidlistHeader(list) + list.records.map(formatUidlistRecord).join('');
}

/**
 * Courier's courierimapuidlist: first line "1 <uidvalidity> <nextuid>" (or "2 ..."), then "<uid> <filename>";
 * version 2 may carry ':'-suffixed names. Read only, to keep UIDs when a Courier store is opened.
 */
export function parseCourierUidlist(text: string): { uidValidity: number; nextUid: number; records: Array<{ uid: number; filename: string }> } {
  const lines = text.split('\n');
  const header = (lines[0] ?? '').split(' ');
  const version = Number(header[0]);
  if (version !== 1 && version !== 2) throw new UidlistParseError('unsupported courierimapuidlist version');
  const uidValidity = Number(header[1]);
  const nextUid = Number(header[2]);
  if (!Number.isInteger(uidValidity) || !Number.isInteger(nextUid)) throw new UidlistParseError('bad courier header');
  const records: Array<{ uid: number; filename: string }> = [];
  for (const line of lines.slice(1)) {
    const m = /^(\d+) (.+)$/.exec(line);
    if (!m) continue;
    const colon = m[2]!.indexOf(':');
    records.push({ uid: Number(m[1]), filename: colon < 0 ? m[2]! : m[2]!.slice(0, colon) });
  }
  records.sort((a, b) => a.uid - b.uid);
  return { uidValidity, nextUid, records };
}
