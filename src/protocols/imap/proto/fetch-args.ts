// FETCH / UID FETCH arguments: sequence set, data items (macros, BODY[section]<partial>, BINARY...) and
// modifiers. Implements RFC 9051 section 6.4.5 and section 9 (fetch, fetch-att), RFC 3501 6.4.5 (RFC822.*),
// RFC 3516 (BINARY, BINARY.PEEK, BINARY.SIZE), RFC 7162 3.1.4 / 3.2.6 (MODSEQ, CHANGEDSINCE, VANISHED),
// RFC 8474 (EMAILID, THREADID), RFC 8514 (SAVEDATE), RFC 8970 section 3.1 (PREVIEW, PREVIEW (LAZY)).
//
// Public API:
//   type FetchAttribute = SimpleFetchAttribute | BodySectionFetch | BinaryFetch | BinarySizeFetch | PreviewFetch
//   interface FetchArgs { sequence; attributes; macro?; changedSince?: bigint; vanished: boolean }
//   parseFetchArgs(args: readonly ImapToken[], opts?: { uid?: boolean }): FetchArgs
//     UID FETCH (opts.uid) adds the UID item, CHANGEDSINCE adds MODSEQ, as RFC 9051 / RFC 7162 require.
//   fetchItemName(attr: FetchAttribute): string   the data item name for the FETCH response
//                                                   ("BODY[1.TEXT]<0>" for BODY.PEEK[1.TEXT]<0.10>)

import { SequenceSet, SequenceSetError } from '../../../lib/sequence-set.js';
import { ArgCursor, parseNumber64Text } from './arg-cursor.js';
import { ProtocolError } from './protocol-error.js';
import {
  formatPart,
  formatSection,
  parseBinarySection,
  parsePartial,
  parseSection,
  type PartialRange,
  type SectionSpec,
} from './section.js';
import type { ImapToken } from './tokens.js';

export type SimpleFetchKind =
  | 'ENVELOPE'
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'RFC822'
  | 'RFC822.HEADER'
  | 'RFC822.TEXT'
  | 'RFC822.SIZE'
  | 'BODY'
  | 'BODYSTRUCTURE'
  | 'UID'
  | 'MODSEQ'
  | 'EMAILID'
  | 'THREADID'
  | 'SAVEDATE';

export interface SimpleFetchAttribute {
  readonly kind: SimpleFetchKind;
}
export interface BodySectionFetch {
  readonly kind: 'BODY[]';
  readonly peek: boolean;
  readonly section: SectionSpec;
  readonly partial?: PartialRange;
}
export interface BinaryFetch {
  readonly kind: 'BINARY[]';
  readonly peek: boolean;
  readonly part: readonly number[];
  readonly partial?: PartialRange;
}
export interface BinarySizeFetch {
  readonly kind: 'BINARY.SIZE';
  readonly part: readonly number[];
}
export interface PreviewFetch {
  readonly kind: 'PREVIEW';
  /** PREVIEW (LAZY): NIL is fine when a preview is not readily available. */
  readonly lazy: boolean;
}
export type FetchAttribute = SimpleFetchAttribute | BodySectionFetch | BinaryFetch | BinarySizeFetch | PreviewFetch;

export interface FetchArgs {
  readonly sequence: SequenceSet;
  readonly attributes: readonly FetchAttribute[];
  readonly macro?: 'ALL' | 'FAST' | 'FULL';
  readonly changedSince?: bigint;
  readonly vanished: boolean;
}

const SIMPLE = new Set<string>([
  'ENVELOPE',
  'FLAGS',
  'INTERNALDATE',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
  'RFC822.SIZE',
  'BODY',
  'BODYSTRUCTURE',
  'UID',
  'MODSEQ',
  'EMAILID',
  'THREADID',
  'SAVEDATE',
]);

const MACROS: Record<string, SimpleFetchKind[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

export function parseSequenceSetToken(t: ImapToken | undefined, what = 'sequence set', opts: { allowStar?: boolean } = {}): SequenceSet {
  if (!t) throw new ProtocolError(`Missing ${what}`);
  if (t.type !== 'atom') throw new ProtocolError(`Invalid ${what}`);
  try {
    return SequenceSet.parse(t.value, opts);
  } catch (err) {
    if (err instanceof SequenceSetError) throw new ProtocolError(`Invalid ${what}: ${err.message}`);
    throw err;
  }
}

function parseAttribute(t: ImapToken): FetchAttribute {
  if (t.type === 'atom') {
    const name = t.value.toUpperCase();
    if (SIMPLE.has(name)) return { kind: name as SimpleFetchKind };
    if (name === 'PREVIEW') return { kind: 'PREVIEW', lazy: false };
    throw new ProtocolError(`Invalid fetch attribute ${t.value.slice(0, 40)}`);
  }
  if (t.type === 'section') {
    switch (t.name) {
      case 'BODY':
      case 'BODY.PEEK': {
        const partial = parsePartial(t.suffix);
        return { kind: 'BODY[]', peek: t.name === 'BODY.PEEK', section: parseSection(t.items), ...(partial ? { partial } : {}) };
      }
      case 'BINARY':
      case 'BINARY.PEEK': {
        const partial = parsePartial(t.suffix);
        return { kind: 'BINARY[]', peek: t.name === 'BINARY.PEEK', part: parseBinarySection(t.items), ...(partial ? { partial } : {}) };
      }
      case 'BINARY.SIZE':
        if (t.suffix !== '') throw new ProtocolError('BINARY.SIZE takes no partial range');
        return { kind: 'BINARY.SIZE', part: parseBinarySection(t.items) };
    }
  }
  throw new ProtocolError('Invalid fetch attribute');
}

function isPreview(t: ImapToken): boolean {
  return t.type === 'atom' && t.value.toUpperCase() === 'PREVIEW';
}

/** A list right after a lone PREVIEW is its modifiers when it holds only atoms (fetch modifiers hold values too). */
function isPreviewModifiers(t: ImapToken): boolean {
  return t.type === 'list' && t.items.length > 0 && t.items.every((m) => m.type === 'atom' && m.value.toUpperCase() === 'LAZY');
}

function previewAttribute(mods: Extract<ImapToken, { type: 'list' }> | undefined): FetchAttribute {
  let lazy = false;
  if (mods) {
    if (mods.items.length === 0) throw new ProtocolError('Empty PREVIEW modifier list');
    for (const m of mods.items) {
      if (m.type !== 'atom' || m.value.toUpperCase() !== 'LAZY') throw new ProtocolError('Unknown PREVIEW modifier');
      lazy = true;
    }
  }
  return { kind: 'PREVIEW', lazy };
}

function sameAttribute(a: FetchAttribute, b: FetchAttribute): boolean {
  if (a.kind === 'PREVIEW' && b.kind === 'PREVIEW') return true;
  return fetchItemName(a) === fetchItemName(b) && JSON.stringify(a) === JSON.stringify(b);
}

export function parseFetchArgs(args: readonly ImapToken[], opts: { uid?: boolean } = {}): FetchArgs {
  const cursor = new ArgCursor(args);
  const sequence = parseSequenceSetToken(cursor.peek());
  cursor.next('sequence set');
  const itemsToken = cursor.next('fetch attributes');
  let attributes: FetchAttribute[] = [];
  let macro: FetchArgs['macro'];
  if (itemsToken.type === 'atom' && MACROS[itemsToken.value.toUpperCase()]) {
    macro = itemsToken.value.toUpperCase() as 'ALL' | 'FAST' | 'FULL';
    attributes = MACROS[macro]!.map((kind) => ({ kind }));
  } else if (itemsToken.type === 'list') {
    if (itemsToken.items.length === 0) throw new ProtocolError('Empty fetch attribute list');
    const items = itemsToken.items;
    for (let i = 0; i < items.length; i++) {
      const t = items[i]!;
      if (isPreview(t)) {
        // PREVIEW may be followed by its modifier list: "PREVIEW (LAZY)" (RFC 8970 section 6).
        const mods = items[i + 1]?.type === 'list' ? (items[++i] as Extract<ImapToken, { type: 'list' }>) : undefined;
        attributes.push(previewAttribute(mods));
      } else {
        attributes.push(parseAttribute(t));
      }
    }
  } else if (isPreview(itemsToken) && cursor.peek()?.type === 'list' && isPreviewModifiers(cursor.peek()!)) {
    attributes = [previewAttribute(cursor.next('PREVIEW modifiers') as Extract<ImapToken, { type: 'list' }>)];
  } else {
    attributes = [parseAttribute(itemsToken)];
  }

  let changedSince: bigint | undefined;
  let vanished = false;
  if (!cursor.done) {
    const mods = cursor.list('fetch modifiers');
    if (mods.done) throw new ProtocolError('Empty fetch modifier list');
    while (!mods.done) {
      const name = mods.keyword('fetch modifier');
      if (name === 'CHANGEDSINCE') {
        if (changedSince !== undefined) throw new ProtocolError('CHANGEDSINCE given twice');
        changedSince = parseNumber64Text(mods.atom('CHANGEDSINCE value'), 'CHANGEDSINCE value');
      } else if (name === 'VANISHED') {
        vanished = true;
      } else {
        throw new ProtocolError(`Unknown fetch modifier ${name}`);
      }
    }
  }
  cursor.end();
  if (vanished && !opts.uid) throw new ProtocolError('VANISHED is allowed only with UID FETCH');
  if (vanished && changedSince === undefined) throw new ProtocolError('VANISHED requires CHANGEDSINCE');

  if (opts.uid && !attributes.some((a) => a.kind === 'UID')) attributes.push({ kind: 'UID' });
  if (changedSince !== undefined && !attributes.some((a) => a.kind === 'MODSEQ')) attributes.push({ kind: 'MODSEQ' });
  const unique: FetchAttribute[] = [];
  for (const a of attributes) {
    const i = unique.findIndex((u) => sameAttribute(u, a));
    if (i < 0) unique.push(a);
    else if (a.kind === 'PREVIEW' && !a.lazy) unique[i] = a;
  }

  return {
    sequence,
    attributes: unique,
    vanished,
    ...(macro ? { macro } : {}),
    ...(changedSince !== undefined ? { changedSince } : {}),
  };
}

export function fetchItemName(attr: FetchAttribute): string {
  switch (attr.kind) {
    case 'BODY[]':
      return `BODY[${formatSection(attr.section)}]${attr.partial ? `<${attr.partial.offset}>` : ''}`;
    case 'BINARY[]':
      return `BINARY[${formatPart(attr.part)}]${attr.partial ? `<${attr.partial.offset}>` : ''}`;
    case 'BINARY.SIZE':
      return `BINARY.SIZE[${formatPart(attr.part)}]`;
    default:
      return attr.kind;
  }
}
