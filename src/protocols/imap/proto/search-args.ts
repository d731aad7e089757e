// SEARCH / UID SEARCH arguments: RETURN options, CHARSET and every search key into a typed tree.
// Implements RFC 9051 section 6.4.4 and section 9 (search, search-program, search-key, search-return-opts),
// RFC 3501 6.4.4 (NEW, OLD, RECENT), RFC 4731 (ESEARCH RETURN MIN MAX ALL COUNT), RFC 5182 (SAVE, "$"),
// RFC 7162 3.1.5 (MODSEQ), RFC 5032 (OLDER, YOUNGER), RFC 8474 (EMAILID, THREADID), RFC 8514 section 4 (SAVEDBEFORE,
// SAVEDON, SAVEDSINCE, SAVEDATESUPPORTED).
//
// Public API:
//   type SearchKey          the typed tree (see below); several keys side by side are { type: 'and' }
//   interface SearchReturn  { min, max, all, count, save: boolean }
//   interface SearchArgs    { charset: string; key: SearchKey; returns?: SearchReturn }  returns absent = plain SEARCH
//   parseSearchArgs(args: readonly ImapToken[], opts?: { utf8?: boolean; maxDepth?: number }): SearchArgs
//     Strings are decoded with the CHARSET (US-ASCII / UTF-8 / anything iconv-lite knows); an unknown one
//     throws ProtocolError NO [BADCHARSET (US-ASCII UTF-8)]. NEW is RECENT AND UNSEEN; OLD is NOT RECENT.

import iconv from 'iconv-lite';
import type { SequenceSet } from '../../../lib/sequence-set.js';
import { ArgCursor, parseNumber64Text, parseNumberText, tokenAstring, tokenAstringBytes } from './arg-cursor.js';
import { parseSearchDate, type ImapDate } from './datetime.js';
import { parseSequenceSetToken } from './fetch-args.js';
import { canonicalSystemFlag, isValidKeyword } from './flags.js';
import { ProtocolError } from './protocol-error.js';
import type { ImapToken } from './tokens.js';

export type SearchFlag = '\\Answered' | '\\Deleted' | '\\Draft' | '\\Flagged' | '\\Seen' | '\\Recent';
export type DateComparison = 'before' | 'on' | 'since';

export type SearchKey =
  | { readonly type: 'all' }
  | { readonly type: 'and'; readonly keys: readonly SearchKey[] }
  | { readonly type: 'or'; readonly left: SearchKey; readonly right: SearchKey }
  | { readonly type: 'not'; readonly key: SearchKey }
  | { readonly type: 'flag'; readonly flag: SearchFlag; readonly set: boolean }
  | { readonly type: 'keyword'; readonly keyword: string; readonly set: boolean }
  /** BCC, CC, FROM, SUBJECT, TO and HEADER: substring of the named header field ('' matches presence). */
  | { readonly type: 'header'; readonly field: string; readonly value: string }
  | { readonly type: 'body'; readonly value: string }
  | { readonly type: 'text'; readonly value: string }
  | { readonly type: 'internaldate'; readonly op: DateComparison; readonly date: ImapDate }
  | { readonly type: 'sentdate'; readonly op: DateComparison; readonly date: ImapDate }
  | { readonly type: 'savedate'; readonly op: DateComparison; readonly date: ImapDate }
  /** Matches every message when the mailbox keeps save dates (RFC 8514 section 4). */
  | { readonly type: 'savedatesupported' }
  | { readonly type: 'size'; readonly op: 'larger' | 'smaller'; readonly size: number }
  | { readonly type: 'seqset'; readonly set: SequenceSet }
  | { readonly type: 'uid'; readonly set: SequenceSet }
  | {
      readonly type: 'modseq';
      readonly modseq: bigint;
      readonly entry?: { readonly name: string; readonly kind: 'priv' | 'shared' | 'all' };
    }
  | { readonly type: 'age'; readonly op: 'older' | 'younger'; readonly seconds: number }
  | { readonly type: 'emailid' | 'threadid'; readonly id: string };

export interface SearchReturn {
  readonly min: boolean;
  readonly max: boolean;
  readonly all: boolean;
  readonly count: boolean;
  readonly save: boolean;
}

export interface SearchArgs {
  readonly charset: string;
  readonly key: SearchKey;
  readonly returns?: SearchReturn;
}

const FLAG_KEYS: Record<string, [SearchFlag, boolean]> = {
  ANSWERED: ['\\Answered', true],
  UNANSWERED: ['\\Answered', false],
  DELETED: ['\\Deleted', true],
  UNDELETED: ['\\Deleted', false],
  DRAFT: ['\\Draft', true],
  UNDRAFT: ['\\Draft', false],
  FLAGGED: ['\\Flagged', true],
  UNFLAGGED: ['\\Flagged', false],
  SEEN: ['\\Seen', true],
  UNSEEN: ['\\Seen', false],
  RECENT: ['\\Recent', true],
  OLD: ['\\Recent', false],
};

const HEADER_KEYS: Record<string, string> = { BCC: 'Bcc', CC: 'Cc', FROM: 'From', SUBJECT: 'Subject', TO: 'To' };
const INTERNALDATE_KEYS: Record<string, DateComparison> = { BEFORE: 'before', ON: 'on', SINCE: 'since' };
const SENTDATE_KEYS: Record<string, DateComparison> = { SENTBEFORE: 'before', SENTON: 'on', SENTSINCE: 'since' };
const SAVEDATE_KEYS: Record<string, DateComparison> = { SAVEDBEFORE: 'before', SAVEDON: 'on', SAVEDSINCE: 'since' };
const SEQSET_RE = /^[0-9*$:,]+$/;
const OBJECTID_RE = /^[A-Za-z0-9_-]{1,255}$/;

const BADCHARSET = 'BADCHARSET (US-ASCII UTF-8)';

class SearchParser {
  private depth = 0;

  constructor(
    private readonly charset: string,
    private readonly maxDepth: number,
  ) {}

  private text(cursor: ArgCursor, what: string): string {
    const token = cursor.next(what);
    // US-ASCII is a subset of UTF-8: stray 8-bit input is still decoded sensibly
    if (this.charset === 'UTF-8' || this.charset === 'US-ASCII') return tokenAstring(token, what);
    return iconv.decode(tokenAstringBytes(token, what), this.charset);
  }

  private date(cursor: ArgCursor, what: string): ImapDate {
    const t = cursor.next(what);
    if (t.type !== 'atom' && t.type !== 'string') throw new ProtocolError(`Invalid ${what}`);
    return parseSearchDate(t.value);
  }

  keys(cursor: ArgCursor): SearchKey {
    const keys: SearchKey[] = [];
    while (!cursor.done) keys.push(this.key(cursor));
    if (keys.length === 0) throw new ProtocolError('Missing search key');
    return keys.length === 1 ? keys[0]! : { type: 'and', keys };
  }

  key(cursor: ArgCursor): SearchKey {
    if (++this.depth > this.maxDepth) throw new ProtocolError('Search keys nested too deeply');
    try {
      return this.keyInner(cursor);
    } finally {
      this.depth--;
    }
  }

  private keyInner(cursor: ArgCursor): SearchKey {
    const token = cursor.next('search key');
    if (token.type === 'list') {
      const inner = new ArgCursor(token.items);
      if (inner.done) throw new ProtocolError('Empty search key list');
      return this.keys(inner);
    }
    if (token.type !== 'atom') throw new ProtocolError('Invalid search key');
    const name = token.value.toUpperCase();
    if (SEQSET_RE.test(name)) return { type: 'seqset', set: parseSequenceSetToken(token) };

    const flag = FLAG_KEYS[name];
    if (flag) return { type: 'flag', flag: flag[0], set: flag[1] };
    const header = HEADER_KEYS[name];
    if (header) return { type: 'header', field: header, value: this.text(cursor, `${name} value`) };
    const internal = INTERNALDATE_KEYS[name];
    if (internal) return { type: 'internaldate', op: internal, date: this.date(cursor, `${name} date`) };
    const sent = SENTDATE_KEYS[name];
    if (sent) return { type: 'sentdate', op: sent, date: this.date(cursor, `${name} date`) };
    const saved = SAVEDATE_KEYS[name];
    if (saved) return { type: 'savedate', op: saved, date: this.date(cursor, `${name} date`) };

    switch (name) {
      case 'ALL':
        return { type: 'all' };
      case 'SAVEDATESUPPORTED':
        return { type: 'savedatesupported' };
      case 'NEW':
        return {
          type: 'and',
          keys: [
            { type: 'flag', flag: '\\Recent', set: true },
            { type: 'flag', flag: '\\Seen', set: false },
          ],
        };
      case 'KEYWORD':
      case 'UNKEYWORD': {
        const keyword = cursor.atom(`${name} flag`);
        const system = keyword.startsWith('\\') ? canonicalSystemFlag(keyword) : undefined;
        if (system) return { type: 'flag', flag: system as SearchFlag, set: name === 'KEYWORD' };
        if (!isValidKeyword(keyword)) throw new ProtocolError(`Invalid keyword ${keyword.slice(0, 40)}`);
        return { type: 'keyword', keyword, set: name === 'KEYWORD' };
      }
      case 'HEADER': {
        const field = cursor.astring('HEADER field name');
        if (!/^[\x21-\x39\x3b-\x7e]+$/.test(field)) throw new ProtocolError('Invalid HEADER field name');
        return { type: 'header', field, value: this.text(cursor, 'HEADER value') };
      }
      case 'BODY':
        return { type: 'body', value: this.text(cursor, 'BODY value') };
      case 'TEXT':
        return { type: 'text', value: this.text(cursor, 'TEXT value') };
      case 'LARGER':
      case 'SMALLER': {
        const size = parseNumberText(cursor.atom(`${name} size`), `${name} size`, Number.MAX_SAFE_INTEGER);
        return { type: 'size', op: name === 'LARGER' ? 'larger' : 'smaller', size };
      }
      case 'NOT':
        return { type: 'not', key: this.key(cursor) };
      case 'OR': {
        const left = this.key(cursor);
        const right = this.key(cursor);
        return { type: 'or', left, right };
      }
      case 'UID':
        return { type: 'uid', set: parseSequenceSetToken(cursor.next('UID set'), 'UID set') };
      case 'MODSEQ': {
        const first = cursor.next('MODSEQ value');
        if (first.type === 'string') {
          // MODSEQ entry-name entry-type-req mod-sequence-valzer (RFC 7162 section 3.1.5)
          if (!/^\/flags\/\\?[^\s()]+$/i.test(first.value)) throw new ProtocolError('Invalid MODSEQ entry name');
          const kind = cursor.keyword('MODSEQ entry type').toLowerCase();
          if (kind !== 'priv' && kind !== 'shared' && kind !== 'all') throw new ProtocolError('Invalid MODSEQ entry type');
          const modseq = parseNumber64Text(cursor.atom('MODSEQ value'), 'MODSEQ value');
          return { type: 'modseq', modseq, entry: { name: first.value, kind } };
        }
        if (first.type !== 'atom') throw new ProtocolError('Invalid MODSEQ value');
        return { type: 'modseq', modseq: parseNumber64Text(first.value, 'MODSEQ value') };
      }
      case 'OLDER':
      case 'YOUNGER': {
        const seconds = parseNumberText(cursor.atom(`${name} interval`), `${name} interval`, 0xffffffff);
        if (seconds === 0) throw new ProtocolError(`Invalid ${name} interval`);
        return { type: 'age', op: name === 'OLDER' ? 'older' : 'younger', seconds };
      }
      case 'EMAILID':
      case 'THREADID': {
        const id = cursor.atom(`${name} value`);
        if (!OBJECTID_RE.test(id)) throw new ProtocolError(`Invalid ${name} value`);
        return { type: name === 'EMAILID' ? 'emailid' : 'threadid', id };
      }
      default:
        throw new ProtocolError(`Unknown search key ${token.value.slice(0, 40)}`);
    }
  }
}

function parseReturn(cursor: ArgCursor): SearchReturn {
  const opts = cursor.list('RETURN options');
  const r = { min: false, max: false, all: false, count: false, save: false };
  if (opts.done) return { ...r, all: true }; // RETURN () means RETURN (ALL), RFC 4731 section 3.1
  while (!opts.done) {
    const name = opts.keyword('RETURN option');
    switch (name) {
      case 'MIN':
        r.min = true;
        break;
      case 'MAX':
        r.max = true;
        break;
      case 'ALL':
        r.all = true;
        break;
      case 'COUNT':
        r.count = true;
        break;
      case 'SAVE':
        r.save = true;
        break;
      default:
        throw new ProtocolError(`Unknown RETURN option ${name}`);
    }
  }
  return r;
}

function normaliseCharset(name: string, utf8: boolean): string {
  const upper = name.toUpperCase();
  if (upper === 'UTF-8' || upper === 'UTF8') return 'UTF-8';
  if (upper === 'US-ASCII' || upper === 'ASCII') return 'US-ASCII';
  if (utf8) throw new ProtocolError('Only UTF-8 is allowed once UTF8=ACCEPT is enabled', { kind: 'BAD', code: BADCHARSET });
  const shown = name.slice(0, 40);
  if (!iconv.encodingExists(name)) throw new ProtocolError(`Unknown charset ${shown}`, { kind: 'NO', code: BADCHARSET });
  return upper;
}

export function parseSearchArgs(args: readonly ImapToken[], opts: { utf8?: boolean; maxDepth?: number } = {}): SearchArgs {
  const cursor = new ArgCursor(args);
  let returns: SearchReturn | undefined;
  if (cursor.peekAtom() === 'RETURN') {
    cursor.next('RETURN');
    returns = parseReturn(cursor);
  }
  let charset = 'US-ASCII';
  if (cursor.peekAtom() === 'CHARSET') {
    cursor.next('CHARSET');
    charset = normaliseCharset(cursor.astring('charset'), opts.utf8 ?? false);
  } else if (opts.utf8) {
    charset = 'UTF-8';
  }
  const key = new SearchParser(charset, opts.maxDepth ?? 100).keys(cursor);
  return { charset, key, ...(returns ? { returns } : {}) };
}

/** Exported for the response side of ESEARCH: the items a RETURN list asked for, in RFC 4731 order. */
export function searchReturnItems(r: SearchReturn): Array<'MIN' | 'MAX' | 'ALL' | 'COUNT'> {
  const out: Array<'MIN' | 'MAX' | 'ALL' | 'COUNT'> = [];
  if (r.min) out.push('MIN');
  if (r.max) out.push('MAX');
  if (r.all) out.push('ALL');
  if (r.count) out.push('COUNT');
  return out;
}
