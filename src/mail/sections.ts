// IMAP body sections (RFC 3501 6.4.5 / RFC 9051 6.4.5: "", HEADER, HEADER.FIELDS[.NOT], TEXT, MIME, part numbers)
// and BINARY[section] / BINARY.SIZE (RFC 3516), resolved and rendered as Dovecot's imap-msgpart.c does.
import type { MessagePart, ParsedMessage } from './message-parser.js';

export type SectionKind = 'full' | 'mime' | 'mimeBody' | 'header' | 'headerFields' | 'headerFieldsNot' | 'text';

export interface SectionSpec {
  /** "" for the message itself, else "1.2.3". */
  part: string;
  kind: SectionKind;
  /** Upper-cased field names for HEADER.FIELDS[.NOT]. */
  fields: string[];
}

/** Parses the text between the brackets of BODY[...] / BINARY[...]; null when invalid (as imap_msgpart_parse). */
export function parseSectionSpec(section: string): SectionSpec | null {
  let i = 0;
  let nextDigit = true;
  for (; i < section.length; i++) {
    const c = section[i]!;
    if (c >= '0' && c <= '9') nextDigit = false;
    else if (!nextDigit && c === '.') nextDigit = true;
    else break;
  }
  let part = '';
  let rest = section;
  if (i > 0) {
    if (i === section.length) {
      if (section[i - 1] === '.') return null;
      return { part: section, kind: 'mimeBody', fields: [] };
    }
    if (section[i - 1] !== '.') return null;
    part = section.slice(0, i - 1);
    rest = section.slice(i);
  }
  if (rest === '') return { part, kind: 'full', fields: [] };
  const upper = rest.toUpperCase();
  if (upper === 'MIME') return part === '' ? null : { part, kind: 'mime', fields: [] };
  if (upper === 'TEXT') return { part, kind: 'text', fields: [] };
  if (upper === 'HEADER') return { part, kind: 'header', fields: [] };
  const m = /^HEADER\.FIELDS(\.NOT)?\s*\(([^)]*)\)$/.exec(upper);
  if (!m) return null;
  const fields = m[2]!.trim().split(/\s+/).filter((f) => f.length > 0).map((f) => f.replace(/^"(.*)"$/, '$1'));
  if (fields.length === 0) return null;
  return { part, kind: m[1] ? 'headerFieldsNot' : 'headerFields', fields };
}

/** imap_msgpart_find(): resolves a part number the way Dovecot does (message/rfc822 parts are entered). */
export function findPart(root: MessagePart, section: string): MessagePart | null {
  if (section === '') return root;
  let part: MessagePart | null = root;
  const nums = section.split('.').map(Number);
  for (let k = 0; k < nums.length && part !== null; k++) {
    const num = nums[k]!;
    const more = k + 1 < nums.length;
    if (part.multipart) {
      part = part.children[num - 1] ?? null;
    } else if (num !== 1 || (more && !part.messageRfc822)) {
      part = null;
    }
    if (part !== null && part.messageRfc822 && more) part = part.children[0] ?? null;
  }
  return part;
}

export interface ByteRange {
  start: number;
  end: number;
}

/** The stored bytes a section covers, or null for an empty answer (missing part, or HEADER/TEXT of a non-message part). */
export function sectionRange(parsed: ParsedMessage, spec: SectionSpec): { part: MessagePart; header: ByteRange; body: ByteRange; range: ByteRange } | null {
  let part = findPart(parsed.root, spec.part);
  if (part === null) return null;
  if (spec.part !== '' && (spec.kind === 'header' || spec.kind === 'headerFields' || spec.kind === 'headerFieldsNot' || spec.kind === 'text')) {
    if (!part.messageRfc822 || part.children.length === 0) return null;
    part = part.children[0]!;
  }
  const headerStart = part.physicalPos;
  const bodyStart = headerStart + part.headerSize.physical;
  const bodyEnd = bodyStart + part.bodySize.physical;
  const header = { start: headerStart, end: bodyStart };
  const body = { start: bodyStart, end: bodyEnd };
  let range: ByteRange;
  switch (spec.kind) {
    case 'full':
      range = { start: headerStart, end: bodyEnd };
      break;
    case 'mime':
    case 'header':
    case 'headerFields':
    case 'headerFieldsNot':
      range = header;
      break;
    default:
      range = body;
  }
  return { part, header, body, range };
}

/** Bare LF becomes CRLF (istream-crlf). */
export function toCrlf(bytes: Buffer): Buffer {
  let extra = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) if (i === 0 || bytes[i - 1] !== 0x0d) extra++;
  if (extra === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + extra);
  let o = 0;
  let from = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
    if (i === 0 || bytes[i - 1] !== 0x0d) {
      o += bytes.copy(out, o, from, i);
      out[o++] = 0x0d;
      from = i;
    }
  }
  o += bytes.copy(out, o, from);
  return out;
}

function nulsTo0x80(bytes: Buffer): Buffer {
  if (bytes.indexOf(0) < 0) return bytes;
  const out = Buffer.from(bytes);
  for (let i = out.indexOf(0); i >= 0; i = out.indexOf(0, i + 1)) out[i] = 0x80;
  return out;
}

/** Splits a header block into fields: each the raw bytes of its lines and its name. */
function headerFields(block: Buffer): { fields: { name: string; raw: Buffer }[]; eoh: Buffer | null } {
  const fields: { name: string; raw: Buffer }[] = [];
  let pos = 0;
  let eoh: Buffer | null = null;
  while (pos < block.length) {
    let lf = block.indexOf(0x0a, pos);
    let end = lf < 0 ? block.length : lf + 1;
    const first = block.subarray(pos, end);
    if (first.length <= 2 && (first[0] === 0x0a || (first[0] === 0x0d && first[1] === 0x0a))) {
      eoh = first;
      pos = end;
      break;
    }
    // continuation lines
    while (end < block.length && (block[end] === 0x20 || block[end] === 0x09)) {
      lf = block.indexOf(0x0a, end);
      end = lf < 0 ? block.length : lf + 1;
    }
    const raw = block.subarray(pos, end);
    const line = first.toString('latin1');
    const colon = line.indexOf(':');
    const name = colon < 0 || first[0] === 0x20 || first[0] === 0x09 ? '' : line.slice(0, colon).replace(/[ \t]+$/, '');
    fields.push({ name: name.toUpperCase(), raw });
    pos = end;
  }
  return { fields, eoh };
}

/** HEADER.FIELDS[.NOT] output: matching fields in original order, then the blank line. */
function filterHeader(block: Buffer, names: string[], exclude: boolean, addMissingEoh: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toUpperCase()));
  const { fields, eoh } = headerFields(block);
  const out: Buffer[] = [];
  for (const f of fields) if (wanted.has(f.name) !== exclude) out.push(f.raw);
  if (eoh !== null) out.push(Buffer.from('\r\n'));
  else if (addMissingEoh) {
    const last = out[out.length - 1];
    out.push(Buffer.from('\r\n'));
    void last;
  }
  return Buffer.concat(out);
}

/**
 * BODY[section] contents exactly as Dovecot sends them: CRLF line ends, NULs as 0x80, "" for missing parts.
 * `message` is the stored message, `parsed` its structure.
 */
export function fetchSection(message: Buffer, parsed: ParsedMessage, spec: SectionSpec): Buffer {
  const resolved = sectionRange(parsed, spec);
  if (resolved === null) return Buffer.alloc(0);
  let bytes = message.subarray(resolved.range.start, resolved.range.end);
  if (spec.kind === 'headerFields' || spec.kind === 'headerFieldsNot') {
    bytes = filterHeader(bytes, spec.fields, spec.kind === 'headerFieldsNot', spec.kind === 'headerFields' && spec.part === '');
  }
  return nulsTo0x80(toCrlf(bytes));
}

export class BinaryDecodeError extends Error {
  constructor(
    readonly code: 'UNKNOWN-CTE' | 'PARSE',
    message: string,
  ) {
    super(message);
  }
}

/** Dovecot's qp-decoder.c: =XX (either case), soft breaks, trailing whitespace dropped, errors on broken '='. */
export function decodeQuotedPrintable(input: Buffer): Buffer {
  const out: number[] = [];
  let ws: number[] = [];
  const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
  let i = 0;
  const n = input.length;
  while (i < n) {
    const c = input[i]!;
    if (c === 0x3d) {
      const a = input[i + 1];
      if (a !== undefined && isHex(a)) {
        const b = input[i + 2];
        if (b === undefined || !isHex(b)) throw new BinaryDecodeError('PARSE', "'=<hex>' not followed by a hex digit");
        out.push(...ws);
        ws = [];
        out.push(parseInt(String.fromCharCode(a, b), 16));
        i += 3;
        continue;
      }
      // soft line break, possibly with trailing whitespace
      let j = i + 1;
      while (j < n && (input[j] === 0x20 || input[j] === 0x09)) j++;
      if (j < n && input[j] === 0x0d && input[j + 1] === 0x0a) j += 2;
      else if (j < n && input[j] === 0x0a) j += 1;
      else throw new BinaryDecodeError('PARSE', "'=' not followed by two hex digits");
      out.push(...ws);
      ws = [];
      i = j;
      continue;
    }
    if (c === 0x20 || c === 0x09) {
      ws.push(c);
      i++;
      continue;
    }
    if (c === 0x0a || (c === 0x0d && input[i + 1] === 0x0a)) {
      ws = [];
      out.push(0x0d, 0x0a);
      i += c === 0x0d ? 2 : 1;
      continue;
    }
    if (c === 0x0d) throw new BinaryDecodeError('PARSE', 'CR not followed by LF');
    out.push(...ws);
    ws = [];
    out.push(c);
    i++;
  }
  return Buffer.from(out);
}

/** Strict-ish base64 as Dovecot's decoder: whitespace and line breaks skipped, other garbage is an error. */
export function decodeBase64(input: Buffer): Buffer {
  const text = input.toString('latin1').replace(/[\r\n\t ]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new BinaryDecodeError('PARSE', 'invalid base64 data');
  return Buffer.from(text, 'base64');
}

/** Decodes a leaf part's body for BINARY[section] (RFC 3516 4.2). */
export function decodePartBody(message: Buffer, part: MessagePart): Buffer {
  const body = message.subarray(part.physicalPos + part.headerSize.physical, part.physicalPos + part.headerSize.physical + part.bodySize.physical);
  const cte = (part.data.contentTransferEncoding ?? '7bit').toLowerCase();
  switch (cte) {
    case '7bit':
    case '8bit':
    case 'binary':
      return toCrlf(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    case 'base64':
      return decodeBase64(body);
    default:
      throw new BinaryDecodeError('UNKNOWN-CTE', 'Unknown Content-Transfer-Encoding');
  }
}

type Cte = '78bit' | 'binary' | 'qp' | 'base64' | 'unknown';

/** message_decoder_parse_cte() on the last Content-Transfer-Encoding field of a header block. */
function headerCte(header: Buffer): Cte {
  let cte: Cte = '78bit';
  for (const f of headerFields(header).fields) {
    if (f.name !== 'CONTENT-TRANSFER-ENCODING') continue;
    const raw = f.raw.toString('latin1');
    const token = raw.slice(raw.indexOf(':') + 1).replace(/\(.*?\)/g, '').trim().toLowerCase();
    if (token === '7bit' || token === '8bit') cte = '78bit';
    else if (token === 'binary') cte = 'binary';
    else if (token === 'quoted-printable') cte = 'qp';
    else if (token === 'base64') cte = 'base64';
    else cte = 'unknown';
  }
  return cte;
}

function partRanges(part: MessagePart): { headerStart: number; bodyStart: number; end: number } {
  const bodyStart = part.physicalPos + part.headerSize.physical;
  return { headerStart: part.physicalPos, bodyStart, end: bodyStart + part.bodySize.physical };
}

/** index-mail-binary.c add_binary_part(): the part with every QP/base64 leaf decoded, converted headers rewritten. */
function binaryParts(message: Buffer, part: MessagePart, includeHeader: boolean, out: Buffer[], decode: boolean): void {
  const { headerStart, bodyStart, end } = partRanges(part);
  const header = message.subarray(headerStart, bodyStart);
  const cte = headerCte(header);
  if (cte === 'unknown') throw new BinaryDecodeError('UNKNOWN-CTE', 'Unknown Content-Transfer-Encoding');
  const converted = cte === 'qp' || cte === 'base64';
  if (includeHeader) {
    if (converted) {
      const { fields, eoh } = headerFields(header);
      for (const f of fields) if (f.name !== 'CONTENT-TRANSFER-ENCODING') out.push(toCrlf(f.raw));
      out.push(Buffer.from('Content-Transfer-Encoding: binary\r\n'));
      if (eoh !== null) out.push(Buffer.from('\r\n'));
    } else {
      out.push(toCrlf(header));
    }
  }
  if (part.children.length > 0) {
    let copyFrom = bodyStart;
    for (const child of part.children) {
      out.push(toCrlf(message.subarray(copyFrom, child.physicalPos)));
      binaryParts(message, child, true, out, decode);
      copyFrom = partRanges(child).end;
    }
    out.push(toCrlf(message.subarray(copyFrom, end)));
    return;
  }
  if (end === bodyStart || !decode) return;
  const body = message.subarray(bodyStart, end);
  if (cte === 'qp') out.push(decodeQuotedPrintable(body));
  else if (cte === 'base64') out.push(decodeBase64(body));
  else out.push(toCrlf(body));
}

/** BINARY[section] (RFC 3516): the part's content with transfer encodings removed, as Dovecot converts it. */
export function fetchBinary(message: Buffer, parsed: ParsedMessage, partNumber: string): Buffer {
  const part = findPart(parsed.root, partNumber);
  if (part === null) return Buffer.alloc(0);
  const out: Buffer[] = [];
  binaryParts(message, part, partNumber === '', out, true);
  return Buffer.concat(out);
}

/**
 * BINARY.SIZE[section]. As Dovecot, the whole message is converted first, so an unknown encoding or broken
 * data anywhere in the message makes every BINARY.SIZE of it fail.
 */
export function binarySize(message: Buffer, parsed: ParsedMessage, partNumber: string): number {
  const whole: Buffer[] = [];
  binaryParts(message, parsed.root, true, whole, false);
  binaryParts(message, parsed.root, true, whole, true);
  return fetchBinary(message, parsed, partNumber).length;
}
