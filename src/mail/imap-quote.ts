// IMAP string serialisation (RFC 3501 4.3, 9 "string"/"nstring") exactly as Dovecot's imap-quote.c writes it:
// quoted when possible, a {n}\r\n literal for CR/LF/8-bit or more than 4 quoted-specials. Byte strings in, byte strings out.

const QUOTED_MAX_ESCAPE_CHARS = 4;

function literal(src: string): string {
  return `{${src.length}}\r\n${src}`;
}

function quoted(src: string): string {
  let out = '"';
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 13 || c === 10 || c >= 0x80) continue;
    if (c === 0x22 || c === 0x5c) out += '\\';
    out += src[i];
  }
  return out + '"';
}

/** imap_append_nstring(): NIL, "quoted" or {n} literal. */
export function imapNString(src: string | null | undefined): string {
  if (src === null || src === undefined) return 'NIL';
  let escapes = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      if (escapes++ < QUOTED_MAX_ESCAPE_CHARS) continue;
      return literal(src);
    }
    if (c === 13 || c === 10 || c >= 0x80) return literal(src);
  }
  return quoted(src);
}

export const imapString = (src: string): string => imapNString(src);

/** imap_append_nstring_nolf(): drops CR/LF, inserting a space where a folded line did not start with one. */
export function imapNStringNoLf(src: string | null | undefined): string {
  if (src === null || src === undefined || !/[\r\n]/.test(src)) return imapNString(src);
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== '\r' && c !== '\n') out += c;
    else {
      const next = src[i + 1];
      if (next !== undefined && next !== ' ' && next !== '\t' && next !== '\r' && next !== '\n' && next !== '\0') out += ' ';
    }
  }
  return imapNString(out);
}

/** imap_append_string_for_humans(): collapses whitespace, NUL becomes 0x80, anything unusual goes as a literal. */
export function imapStringForHumans(src: string): string {
  let removeCount = 0;
  let whitespacePrefix = true;
  let lastLwsp = true;
  let modify = false;
  let i = 0;
  for (; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 0) {
      lastLwsp = false;
      modify = true;
    } else if (c === 13 || c === 10 || c === 9 || c === 32) {
      if (c !== 32) modify = true;
      if (lastLwsp) {
        modify = true;
        removeCount++;
      }
      lastLwsp = true;
    } else if (c === 0x22 || c === 0x5c) {
      modify = true;
      lastLwsp = false;
    } else {
      if (c & 0x80) modify = true;
      lastLwsp = false;
    }
    if (!lastLwsp) whitespacePrefix = false;
  }
  if (lastLwsp && i > 0 && !whitespacePrefix) {
    modify = true;
    removeCount++;
  }
  if (!modify) return `"${src}"`;
  if (src.length === removeCount) return '""';
  let out = '';
  lastLwsp = true;
  whitespacePrefix = true;
  for (i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 0) {
      out += '\x80';
      lastLwsp = false;
    } else if (c === 13 || c === 10 || c === 9 || c === 32) {
      if (!lastLwsp) out += ' ';
      lastLwsp = true;
    } else {
      lastLwsp = false;
      out += src[i];
    }
    if (!lastLwsp) whitespacePrefix = false;
  }
  if (lastLwsp && i > 0 && !whitespacePrefix) out = out.slice(0, -1);
  return `{${out.length}}\r\n${out}`;
}
