// MIME parameter lists: ";key=value" pairs with RFC 2231 continuations (key*0, key*1*) merged as Dovecot's
// rfc2231-parser.c does: values stay encoded, broken input is skipped byte by byte, at most 128 parameters.
import { Rfc822Parser, NUL_REPLACEMENT } from './rfc822-tokens.js';

export interface MimeParam {
  name: string;
  value: string;
}

const RFC2231_MAX_PARAMS = 128;

interface ContinuationParam {
  key: string;
  value: string;
  idx: number;
  extended: boolean;
}

function escapePercent(value: string): string {
  return value.replace(/%/g, '%25');
}

/** Parses the parameters following a content type or disposition token (cursor at ';' or end). */
export function parseMimeParams(parser: Rfc822Parser): MimeParam[] {
  const result: MimeParam[] = [];
  const continued: ContinuationParam[] = [];
  const savedNul = parser.nulReplacement;
  parser.nulReplacement = NUL_REPLACEMENT;
  let count = 0;
  let idx = 0; // Dovecot keeps the index of the previous "key*N" for a following "key*"
  for (;;) {
    const { ret, key, value } = parser.parseContentParam();
    if (ret === 0) break;
    if (++count > RFC2231_MAX_PARAMS) break;
    if (ret < 0) {
      if (parser.pos >= parser.end) break;
      parser.pos++;
      continue;
    }
    const k = key!;
    const star = k.indexOf('*');
    let plain = true;
    if (star >= 0) {
      let p = star;
      if (p + 1 < k.length) {
        p++;
        idx = 0;
        while (p < k.length && k.charCodeAt(p) >= 0x30 && k.charCodeAt(p) <= 0x39) {
          idx = idx * 10 + (k.charCodeAt(p) - 0x30);
          p++;
        }
      }
      let extended = false;
      if (k[p] === '*') {
        extended = true;
        p++;
      }
      if (p >= k.length) {
        continued.push({ key: k.slice(0, star), value, idx, extended });
        plain = false;
      }
    }
    if (plain) result.push({ name: k, value });
  }
  parser.nulReplacement = savedNul;
  if (continued.length === 0) return result;

  continued.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.idx - b.idx));
  for (let i = 0; i < continued.length; ) {
    let ok = true;
    let haveExtended = false;
    let nextIdx = 0;
    let j = i;
    for (; j < continued.length; j++) {
      if (continued[i]!.key.toLowerCase() !== continued[j]!.key.toLowerCase()) break;
      if (continued[j]!.idx !== nextIdx) ok = false;
      if (continued[j]!.extended) haveExtended = true;
      nextIdx++;
    }
    if (!ok) {
      for (let m = i; m < j; m++) {
        const c = continued[m]!;
        result.push({ name: `${c.key}*${c.idx}${c.extended ? '*' : ''}`, value: c.value });
      }
    } else {
      let merged = !continued[i]!.extended && haveExtended ? "''" : '';
      for (let m = i; m < j; m++) {
        const c = continued[m]!;
        merged += !c.extended && haveExtended ? escapePercent(c.value) : c.value;
      }
      result.push({ name: haveExtended ? `${continued[i]!.key}*` : continued[i]!.key, value: merged });
    }
    i = j;
  }
  return result;
}
