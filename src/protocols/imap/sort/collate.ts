// Collation for SORT and THREAD (RFC 5256 sections 2.1 and 3, RFC 5051 i;unicode-casemap as Dovecot applies it):
// titlecased, decomposed keys compared by code point, base-subject extraction, and Message-ID parsing (RFC 5322 3.6.4).

/**
 * Titlecase and decompose each character (i;unicode-casemap, RFC 5051 section 2), so that "re: Ärger" and
 * "RE: ärger" sort and thread together. Characters whose upper case is more than one character keep their case.
 */
export function titlecase(text: string): string {
  let ascii = true;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) ascii = false;
  if (ascii) return text.toUpperCase();
  let out = '';
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 0x20) : text[i];
      i++;
      continue;
    }
    // One code point: a surrogate pair, or a single unit (a lone surrogate too), as for...of reads a string.
    const d = text.charCodeAt(i + 1);
    const width = c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
    out += titlecaseChar(text.slice(i, i + width));
    i += width;
  }
  return out;
}

/** Each character's titlecased, decomposed form, kept once computed (the ICU calls dominate otherwise). */
const charMemo = new Map<string, string>();
const CHAR_MEMO_MAX = 65536;

function titlecaseChar(ch: string): string {
  let out = charMemo.get(ch);
  if (out === undefined) {
    const upper = ch.toUpperCase();
    out = (upper.length === ch.length ? upper : ch).normalize('NFKD');
    if (charMemo.size < CHAR_MEMO_MAX) charMemo.set(ch, out);
  }
  return out;
}

/** Code point order (strcmp over UTF-8), not UTF-16 unit order. */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800-DFFF) stand for code points above U+FFFF: they sort after U+E000-FFFF.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

const collapseWhitespace = (s: string): string => s.replace(/[\t\r\n ]+/g, ' ');

/** "[" BLOBCHAR* "]" followed by at most one space; returns the index after it, or -1. */
function blobEnd(s: string, at: number): number {
  if (s[at] !== '[') return -1;
  let i = at + 1;
  while (i < s.length && s[i] !== '[' && s[i] !== ']') i++;
  if (s[i] !== ']') return -1;
  i++;
  if (s[i] === ' ') i++;
  return i;
}

/**
 * RFC 5256 section 2.1 base subject of a decoded subject, titlecased: trailers "(fwd)" and spaces removed,
 * leaders "Re:", "Fw:", "Fwd:" with [blobs] removed, a leading [blob] removed when something is left, and
 * "[fwd: ...]" unwrapped, repeated until nothing changes. replyOrForward tells whether any of that was a reply
 * or forward marker (THREAD=REFERENCES step 5).
 */
export function baseSubjectCased(decoded: string): { subject: string; replyOrForward: boolean } {
  let s = collapseWhitespace(titlecase(decoded));
  let start = 0;
  let replyOrForward = false;
  for (;;) {
    // (2) trailers
    let end = s.length;
    while (end > start) {
      if (s[end - 1] === ' ') end--;
      else if (end >= 5 && s.slice(end - 5, end) === '(FWD)') {
        replyOrForward = true;
        end -= 5;
      } else break;
    }
    s = s.slice(0, end);
    // (3)-(5) leaders and blobs
    for (;;) {
      let found = false;
      if (s[start] === ' ') {
        start++;
        found = true;
      }
      let i = start;
      let leader = true;
      while (s[i] === '[') {
        const e = blobEnd(s, i);
        if (e < 0) {
          leader = false;
          break;
        }
        i = e;
      }
      if (leader) {
        let j = -1;
        if (s.startsWith('RE', i)) j = i + 2;
        else if (s.startsWith('FWD', i)) j = i + 3;
        else if (s.startsWith('FW', i)) j = i + 2;
        if (j >= 0) {
          if (s[j] === ' ') j++;
          if (s[j] === '[') j = blobEnd(s, j);
          if (j >= 0 && s[j] === ':') {
            start = j + 1;
            replyOrForward = true;
            found = true;
          }
        }
      }
      if (s[start] === '[') {
        const e = blobEnd(s, start);
        if (e >= 0 && e < s.length) {
          start = e;
          found = true;
        }
      }
      if (!found) break;
    }
    // (6) [fwd: ...]
    if (s.startsWith('[FWD:', start) && s.length >= 2 && s[s.length - 1] === ']') {
      replyOrForward = true;
      s = s.slice(0, s.length - 1);
      start += 5;
      continue;
    }
    return { subject: s.slice(start), replyOrForward };
  }
}

const DOT_ATOM_RE = /^[\t ]*([A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\x80-\uffff]+)[\t ]*/;

/** id-left "@" id-right ">" the slow way: quoted or dot-atom local part, dot-atom domain. */
function untokenizedMsgid(text: string, at: number): { id: string; next: number } | undefined {
  let rest = text.slice(at).replace(/^[\t\r\n ]+/, '');
  let local: string;
  if (rest.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
    if (!m) return undefined;
    local = m[1]!.replace(/\\(.)/g, '$1');
    rest = rest.slice(m[0].length);
  } else {
    const m = DOT_ATOM_RE.exec(rest);
    if (!m) return undefined;
    local = m[1]!;
    rest = rest.slice(m[0].length);
  }
  if (!rest.startsWith('@')) return undefined;
  rest = rest.slice(1);
  const d = DOT_ATOM_RE.exec(rest);
  if (!d) return undefined;
  rest = rest.slice(d[0].length);
  if (!rest.startsWith('>')) return undefined;
  return { id: `${local}@${d[1]}`, next: text.length - rest.length + 1 };
}

/**
 * Every message ID in a Message-ID, In-Reply-To or References value, in order ("<id@host>" with folding
 * whitespace removed; IDs without "@" are skipped), as Dovecot's message_id_get_next() reads them.
 */
export function messageIds(value: string | null): string[] {
  const out: string[] = [];
  if (value === null) return out;
  let i = 0;
  for (;;) {
    i = value.indexOf('<', i);
    if (i < 0) return out;
    i++;
    let p = i;
    let foundAt = false;
    let stop = '';
    for (; p < value.length; p++) {
      const c = value.charCodeAt(p);
      if (c >= 0x41) continue;
      const ch = value[p]!;
      if (ch === '@') foundAt = true;
      if (ch === '>' || ch === '"' || ch === '(' || ch === '\0') {
        stop = ch;
        break;
      }
    }
    if (stop === '' || stop === '\0') return out;
    if (stop === '>') {
      if (foundAt) out.push(value.slice(i, p).replace(/[\t\r\n ]/g, ''));
      i = p + 1;
      continue;
    }
    const slow = untokenizedMsgid(value, i);
    if (slow) {
      out.push(slow.id);
      i = slow.next;
    }
  }
}
