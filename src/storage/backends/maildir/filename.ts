// Maildir file names as Dovecot writes and reads them: "<secs>.M<usecs>P<pid>.<host>,S=<size>,W=<vsize>:2,<flags>"
// (cr.yp.to/proto/maildir.html; Dovecot maildir-filename.c): flag letters D F P R S T, keywords a-z, all sorted.

import { maildirHostname } from '../../common/fsutil.js';

/** The ':' that separates the unique base name from the info part. */
export const INFO_SEPARATOR = ':';

/** Maildir flag letters and the IMAP system flags they stand for ('P' passed has no IMAP flag and is kept as is). */
export const FLAG_LETTERS: ReadonlyMap<string, string> = new Map([
  ['D', '\\Draft'],
  ['F', '\\Flagged'],
  ['R', '\\Answered'],
  ['S', '\\Seen'],
  ['T', '\\Deleted'],
]);
const LETTER_BY_FLAG = new Map([...FLAG_LETTERS].map(([l, f]) => [f, l]));

export interface ParsedFilename {
  /** The unique part before ':' (what dovecot-uidlist stores). */
  base: string;
  /** The ':2,' flag letters, '' when there is no info part. */
  letters: string;
  /** True when the name has an info part (':2,...'), as files in cur/ do. */
  hasInfo: boolean;
  /** S=<size>: the file size. */
  size?: number;
  /** W=<vsize>: the size with CRLF line ends (RFC822.SIZE). */
  vsize?: number;
}

export function parseMaildirFilename(name: string): ParsedFilename {
  const colon = name.indexOf(INFO_SEPARATOR);
  const base = colon < 0 ? name : name.slice(0, colon);
  const info = colon < 0 ? '' : name.slice(colon + 1);
  const letters = info.startsWith('2,') ? info.slice(2) : '';
  const out: ParsedFilename = { base, letters, hasInfo: colon >= 0 };
  // The ",S=<digits>" and ",W=<digits>" fields after the unique part (a scan parses every file name: no regex here).
  for (let comma = base.indexOf(','); comma >= 0; ) {
    const next = base.indexOf(',', comma + 1);
    const end = next < 0 ? base.length : next;
    const kind = base.charCodeAt(comma + 1);
    if ((kind === 0x53 || kind === 0x57) && base.charCodeAt(comma + 2) === 0x3d && end > comma + 3 && isDigits(base, comma + 3, end)) {
      const value = Number(base.slice(comma + 3, end));
      if (kind === 0x53) out.size = value;
      else out.vsize = value;
    }
    comma = next;
  }
  return out;
}

function isDigits(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** System flags and keyword indexes (0 = 'a') from the flag letters; other letters are returned as `other`. */
export function lettersToFlags(letters: string): { systemFlags: string[]; keywordIndexes: number[]; other: string } {
  const systemFlags: string[] = [];
  const keywordIndexes: number[] = [];
  let other = '';
  for (const ch of letters) {
    const sys = FLAG_LETTERS.get(ch);
    if (sys) systemFlags.push(sys);
    else if (ch >= 'a' && ch <= 'z') keywordIndexes.push(ch.charCodeAt(0) - 97);
    else other += ch;
  }
  return { systemFlags, keywordIndexes, other };
}

/** The sorted flag letters for system flags, keyword indexes and letters to keep (e.g. 'P'). */
export function flagsToLetters(systemFlags: readonly string[], keywordIndexes: readonly number[], keep = ''): string {
  const letters = new Set<string>(keep.split('').filter(Boolean));
  for (const f of systemFlags) {
    const l = LETTER_BY_FLAG.get(f);
    if (l) letters.add(l);
  }
  for (const i of keywordIndexes) letters.add(String.fromCharCode(97 + i));
  return [...letters].sort().join('');
}

/** `<base>:2,<letters>`, the name a message has in cur/. */
export function withInfo(base: string, letters: string): string {
  return `${base}${INFO_SEPARATOR}2,${letters}`;
}

let lastSecs = 0;
let lastUsecs = -1;

/** A new unique base name like Dovecot's, with S= and W= sizes. Unique within the process (usecs bumped on a clash). */
export function newBaseFilename(size: number, vsize: number, now: Date = new Date()): string {
  const hr = process.hrtime.bigint();
  let secs = Math.floor(now.getTime() / 1000);
  let usecs = (now.getTime() % 1000) * 1000 + Number((hr / 1000n) % 1000n);
  if (secs < lastSecs || (secs === lastSecs && usecs <= lastUsecs)) {
    secs = lastSecs;
    usecs = lastUsecs + 1;
    if (usecs >= 1_000_000) {
      secs += 1;
      usecs = 0;
    }
  }
  lastSecs = secs;
  lastUsecs = usecs;
  return `${secs}.M${usecs}P${process.pid}.${maildirHostname()},S=${size},W=${vsize}`;
}
