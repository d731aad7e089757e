// FETCH section specifiers and partial ranges: BODY[1.2.HEADER.FIELDS.NOT (A B)]<0.100>, BINARY[1.2].
// Implements RFC 9051 section 6.4.5 and section 9 (section, section-spec, section-part, section-text,
// section-msgtext, header-list, section-binary, partial), RFC 3516 section-binary.
//
// Public API:
//   interface SectionSpec { part: number[]; text?: SectionText; fields?: string[] }
//   type SectionText = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME'
//   interface PartialRange { offset: number; length: number }
//   parseSection(items: readonly ImapToken[]): SectionSpec       the tokens between "[" and "]"
//   parseBinarySection(items: readonly ImapToken[]): number[]    section-binary: part numbers only
//   parsePartial(suffix: string): PartialRange | undefined       "" or "<offset.length>"
//   formatSection(spec: SectionSpec): string                     "1.2.HEADER.FIELDS (A B)", no brackets
//   formatPart(part: number[]): string                           "1.2"

import { tokenAstring } from './arg-cursor.js';
import { ProtocolError } from './protocol-error.js';
import { formatAstring } from './response.js';
import type { ImapToken } from './tokens.js';

export type SectionText = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

export interface SectionSpec {
  /** Body part path; [] is the whole message. */
  readonly part: readonly number[];
  readonly text?: SectionText;
  /** Header field names for HEADER.FIELDS and HEADER.FIELDS.NOT, as the client wrote them. */
  readonly fields?: readonly string[];
}

export interface PartialRange {
  readonly offset: number;
  readonly length: number;
}

const PART_NUMBER_RE = /^[1-9][0-9]{0,9}$/;
const TEXTS = new Set<string>(['HEADER', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT', 'TEXT', 'MIME']);

function splitParts(spec: string): { part: number[]; rest: string } {
  const pieces = spec.split('.');
  const part: number[] = [];
  let i = 0;
  for (; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (!/^[0-9]/.test(p)) break;
    if (!PART_NUMBER_RE.test(p) || Number(p) > 0xffffffff) throw new ProtocolError(`Invalid section part number: ${p}`);
    part.push(Number(p));
  }
  return { part, rest: pieces.slice(i).join('.') };
}

/** header-fld-name = astring, and a field name is printable US-ASCII without ":" (RFC 5322 2.2). */
function isValidFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 33 || c > 126 || c === 58) return false;
  }
  return true;
}

export function parseSection(items: readonly ImapToken[]): SectionSpec {
  if (items.length === 0) return { part: [] };
  const head = items[0]!;
  if (head.type !== 'atom') throw new ProtocolError('Invalid section');
  const { part, rest } = splitParts(head.value);
  if (rest === '') {
    if (items.length > 1) throw new ProtocolError('Invalid section: unexpected arguments');
    return { part };
  }
  const text = rest.toUpperCase();
  if (!TEXTS.has(text)) throw new ProtocolError(`Invalid section: ${head.value.slice(0, 60)}`);
  if (text === 'MIME' && part.length === 0) throw new ProtocolError('Invalid section: MIME needs a part number');
  if (text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') {
    const list = items[1];
    if (!list || list.type !== 'list' || items.length > 2) throw new ProtocolError(`Invalid section: ${text} needs a header list`);
    if (list.items.length === 0) throw new ProtocolError('Invalid section: empty header list');
    const fields = list.items.map((t) => {
      if (t.type === 'list' || t.type === 'section' || t.type === 'streamed-literal') throw new ProtocolError('Invalid header field name');
      const name = tokenAstring(t, 'header field name');
      if (!isValidFieldName(name)) throw new ProtocolError('Invalid header field name');
      return name;
    });
    return { part, text, fields };
  }
  if (items.length > 1) throw new ProtocolError('Invalid section: unexpected arguments');
  return { part, text: text as SectionText };
}

export function parseBinarySection(items: readonly ImapToken[]): number[] {
  if (items.length === 0) return [];
  const head = items[0]!;
  if (items.length > 1 || head.type !== 'atom') throw new ProtocolError('Invalid binary section');
  const { part, rest } = splitParts(head.value);
  if (rest !== '') throw new ProtocolError('Invalid binary section: only part numbers are allowed');
  return part;
}

const PARTIAL_RE = /^<([0-9]{1,16})\.([0-9]{1,16})>$/;

export function parsePartial(suffix: string): PartialRange | undefined {
  if (suffix === '') return undefined;
  const m = PARTIAL_RE.exec(suffix);
  if (!m) throw new ProtocolError(`Invalid partial range: ${suffix.slice(0, 40)}`);
  const offset = Number(m[1]);
  const length = Number(m[2]);
  if (length === 0 || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) {
    throw new ProtocolError(`Invalid partial range: ${suffix}`);
  }
  return { offset, length };
}

export function formatPart(part: readonly number[]): string {
  return part.join('.');
}

export function formatSection(spec: SectionSpec): string {
  const parts = spec.part.length > 0 ? formatPart(spec.part) : '';
  if (!spec.text) return parts;
  const head = parts ? `${parts}.${spec.text}` : spec.text;
  if (spec.fields) return `${head} (${spec.fields.map((f) => formatAstring(f)).join(' ')})`;
  return head;
}
