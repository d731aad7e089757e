// Header helpers for SEARCH/SORT/THREAD: field lookup and unfolding (RFC 5322 2.2.3), RFC 2047 decoding to UTF-8,
// SORT address keys (RFC 5256 3), base subject (RFC 5256 2.1), tolerant sent-date parsing (RFC 5322 3.3), body text.
import libmime from 'libmime';
import iconv from 'iconv-lite';
import { parseAddressList } from './address.js';
import { decodeBase64, decodeQuotedPrintable, BinaryDecodeError } from './sections.js';
import type { MessagePart, ParsedMessage } from './message-parser.js';

export interface RawHeader {
  /** Field name as written. */
  name: string;
  /** Raw value after the colon, folding kept, as a byte string (latin1). */
  value: string;
}

/** Splits a header block (bytes up to and including the blank line) into fields in order. */
export function parseHeaderBlock(block: Buffer): RawHeader[] {
  const text = block.toString('latin1');
  const out: RawHeader[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if ((line[0] === ' ' || line[0] === '\t') && out.length > 0) {
      out[out.length - 1]!.value += '\r\n' + line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    out.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1) });
  }
  return out;
}

/** RFC 5322 unfolding: CRLF followed by WSP becomes that WSP; surrounding whitespace trimmed. */
export function unfold(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, '').trim();
}

export function getHeaderValues(headers: RawHeader[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter((h) => h.name.toLowerCase() === lower).map((h) => h.value);
}

export function getFirstHeader(headers: RawHeader[], name: string): string | null {
  return getHeaderValues(headers, name)[0] ?? null;
}

/** Decodes bytes in a named charset to a JS string; unknown charsets fall back to UTF-8, then latin1. */
export function decodeCharset(bytes: Buffer, charset: string | null | undefined): string {
  const cs = (charset ?? 'us-ascii').trim().toLowerCase();
  if (cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8' || cs === '') return bytes.toString('utf8');
  if (iconv.encodingExists(cs)) return iconv.decode(bytes, cs);
  return bytes.toString('utf8');
}

/** Decodes RFC 2047 encoded words in a raw (latin1 byte string) header value; raw 8-bit is taken as UTF-8. */
export function decodeMimeWords(raw: string): string {
  const utf8 = Buffer.from(unfold(raw), 'latin1').toString('utf8');
  try {
    return libmime.decodeWords(utf8);
  } catch {
    return utf8;
  }
}

/** RFC 5256 3 SORT keys from an address header: first mailbox's local part, and its display name (decoded). */
export function sortAddressKey(raw: string | null): { mailbox: string; displayName: string; domain: string } {
  if (raw === null) return { mailbox: '', displayName: '', domain: '' };
  const first = parseAddressList(raw).find((a) => a.mailbox !== null && a.domain !== null) ?? null;
  if (first === null) return { mailbox: '', displayName: '', domain: '' };
  const mailbox = first.mailbox ?? '';
  const name = first.name !== null ? decodeMimeWords(first.name) : '';
  return { mailbox: Buffer.from(mailbox, 'latin1').toString('utf8'), displayName: name !== '' ? name : Buffer.from(mailbox, 'latin1').toString('utf8'), domain: first.domain ?? '' };
}

/** RFC 5256 2.1 base subject extraction (input: decoded subject). */
export function baseSubject(subject: string): string {
  let s = subject.replace(/[\t\r\n ]+/g, ' ').trim();
  const blob = '\\[[^\\[\\]]*\\]';
  const subjRefwd = new RegExp(`^(?:re|fwd?)(?: ?${blob})* ?:`, 'i');
  const subjBlob = new RegExp(`^${blob} ?`);
  for (;;) {
    // (2) trailers: "(fwd)" and whitespace
    let trailer = true;
    while (trailer) {
      trailer = false;
      const t = s.replace(/\s*\(fwd\)\s*$/i, '');
      if (t !== s) {
        s = t.trimEnd();
        trailer = true;
      }
      s = s.trimEnd();
    }
    // (3)-(5) leaders
    for (;;) {
      const before = s;
      s = s.replace(/^ +/, '');
      const refwd = subjRefwd.exec(s);
      if (refwd) s = s.slice(refwd[0].length);
      else {
        const b = subjBlob.exec(s);
        if (b && s.slice(b[0].length).trim() !== '') s = s.slice(b[0].length);
      }
      if (s === before) break;
    }
    // (6) [fwd: ...]
    const fwd = /^\[fwd:(.*)\]$/i.exec(s);
    if (fwd) {
      s = fwd[1]!.trim();
      continue;
    }
    return s.trim();
  }
}

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };
const ZONES: Record<string, number> = { ut: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };

/** Tolerant RFC 5322 date parsing; returns the instant or null when unparseable. */
export function parseSentDate(raw: string | null): Date | null {
  if (raw === null) return null;
  const s = unfold(raw).replace(/\([^)]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  const m = /^(?:[A-Za-z]{3},?\s*)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]+)?/.exec(s);
  if (!m) return null;
  const month = MONTHS[m[2]!.toLowerCase()];
  if (month === undefined) return null;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  let offsetMinutes = 0;
  const zone = m[7];
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const sign = zone[0] === '-' ? -1 : 1;
    offsetMinutes = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
  } else if (zone) offsetMinutes = ZONES[zone.toLowerCase()] ?? 0;
  const utc = Date.UTC(year, month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)) - offsetMinutes * 60000;
  return Number.isNaN(utc) ? null : new Date(utc);
}

/** Strips tags, scripts and styles from HTML and decodes the common entities. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<br\s*\/?>|<\/p\s*>|<\/div\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/gi, '&');
}

/** Decoded text of one text/* leaf part (transfer encoding and charset removed; HTML reduced to text). */
export function decodeTextBody(message: Buffer, part: MessagePart): string {
  const start = part.physicalPos + part.headerSize.physical;
  const body = message.subarray(start, start + part.bodySize.physical);
  const cte = (part.data.contentTransferEncoding ?? '7bit').toLowerCase();
  let bytes: Buffer = body;
  try {
    if (cte === 'quoted-printable') bytes = decodeQuotedPrintable(body);
    else if (cte === 'base64') bytes = decodeBase64(body);
  } catch (err) {
    if (!(err instanceof BinaryDecodeError)) throw err;
    bytes = cte === 'base64' ? Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') : body;
  }
  const charset = part.data.contentTypeParams.find((p) => p.name.toLowerCase() === 'charset')?.value ?? null;
  const text = decodeCharset(bytes, charset);
  return (part.data.contentSubtype ?? '').toLowerCase() === 'html' ? htmlToText(text) : text;
}

/** All text/* leaf parts' decoded text (SEARCH BODY), recursing into multiparts and enclosed messages. */
export function extractSearchText(message: Buffer, parsed: ParsedMessage): string {
  const texts: string[] = [];
  const walk = (part: MessagePart): void => {
    if (part.children.length > 0) part.children.forEach(walk);
    else if (part.text) texts.push(decodeTextBody(message, part));
  };
  walk(parsed.root);
  return texts.join('\n');
}
