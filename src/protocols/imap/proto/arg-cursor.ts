// Cursor over a command's tokens with typed accessors for the RFC 9051 value grammar, used by every
// argument parser. Implements RFC 9051 section 9: astring, string, nstring, number, nz-number, number64.
//
// Public API:
//   new ArgCursor(tokens: readonly ImapToken[])
//   cursor.done: boolean; cursor.remaining: number
//   cursor.peek(): ImapToken | undefined
//   cursor.peekAtom(): string | undefined            upper-cased atom ahead, without consuming it
//   cursor.next(what): ImapToken                      throws ProtocolError "Missing <what>"
//   cursor.atom(what): string                         an atom (as written)
//   cursor.keyword(what): string                      an atom, upper-cased
//   cursor.astring(what): string; cursor.astringBytes(what): Buffer
//   cursor.string(what): string                       quoted or literal only
//   cursor.nstring(what): string | null
//   cursor.number(what): number (0..2^32-1); cursor.nzNumber(what): number
//   cursor.number64(what): bigint (0..2^63-1); cursor.nzNumber64(what): bigint
//   cursor.list(what): ArgCursor                      the items of a parenthesised list
//   cursor.end(): void                                throws "Unexpected extra arguments" if any remain
//   tokenAstringBytes(t, what) / tokenAstring(t, what): the same conversions on a single token

import { ProtocolError } from './protocol-error.js';
import type { ImapToken } from './tokens.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function tokenAstringBytes(t: ImapToken, what: string): Buffer {
  switch (t.type) {
    case 'atom':
      return Buffer.from(t.value, 'latin1');
    case 'nil':
      return Buffer.from(t.raw, 'latin1');
    case 'string':
      return Buffer.from(t.value, 'utf8');
    case 'literal':
      if (!t.literal8 && t.value.includes(0)) throw new ProtocolError(`NUL byte in ${what}`);
      if (t.literal8) throw new ProtocolError(`literal8 not allowed for ${what}`);
      return t.value;
    default:
      throw new ProtocolError(`Invalid ${what}`);
  }
}

export function tokenAstring(t: ImapToken, what: string): string {
  if (t.type === 'atom') return t.value;
  if (t.type === 'string') return t.value;
  if (t.type === 'nil') return t.raw;
  const bytes = tokenAstringBytes(t, what);
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new ProtocolError(`Invalid UTF-8 in ${what}`);
  }
}

const NUMBER_RE = /^[0-9]+$/;

export function parseNumberText(text: string, what: string, max: number): number {
  if (!NUMBER_RE.test(text) || text.length > 16) throw new ProtocolError(`Invalid ${what}`);
  const n = Number(text);
  if (n > max) throw new ProtocolError(`Invalid ${what}: out of range`);
  return n;
}

const MAX_NUMBER64 = (1n << 63n) - 1n;

export function parseNumber64Text(text: string, what: string): bigint {
  if (!NUMBER_RE.test(text) || text.length > 19) throw new ProtocolError(`Invalid ${what}`);
  const n = BigInt(text);
  if (n > MAX_NUMBER64) throw new ProtocolError(`Invalid ${what}: out of range`);
  return n;
}

export class ArgCursor {
  private i = 0;
  constructor(private readonly tokens: readonly ImapToken[]) {}

  get done(): boolean {
    return this.i >= this.tokens.length;
  }

  get remaining(): number {
    return this.tokens.length - this.i;
  }

  peek(): ImapToken | undefined {
    return this.tokens[this.i];
  }

  peekAtom(): string | undefined {
    const t = this.tokens[this.i];
    return t && t.type === 'atom' ? t.value.toUpperCase() : undefined;
  }

  next(what: string): ImapToken {
    const t = this.tokens[this.i];
    if (!t) throw new ProtocolError(`Missing ${what}`);
    this.i++;
    return t;
  }

  atom(what: string): string {
    const t = this.next(what);
    if (t.type === 'atom') return t.value;
    if (t.type === 'nil') return t.raw;
    throw new ProtocolError(`Invalid ${what}`);
  }

  keyword(what: string): string {
    return this.atom(what).toUpperCase();
  }

  astring(what: string): string {
    return tokenAstring(this.next(what), what);
  }

  astringBytes(what: string): Buffer {
    return tokenAstringBytes(this.next(what), what);
  }

  string(what: string): string {
    const t = this.next(what);
    if (t.type !== 'string' && t.type !== 'literal') throw new ProtocolError(`Invalid ${what}: expected a string`);
    return tokenAstring(t, what);
  }

  nstring(what: string): string | null {
    const t = this.next(what);
    if (t.type === 'nil') return null;
    if (t.type !== 'string' && t.type !== 'literal') throw new ProtocolError(`Invalid ${what}: expected a string or NIL`);
    return tokenAstring(t, what);
  }

  number(what: string): number {
    return parseNumberText(this.atom(what), what, 0xffffffff);
  }

  nzNumber(what: string): number {
    const n = this.number(what);
    if (n === 0) throw new ProtocolError(`Invalid ${what}: must not be 0`);
    return n;
  }

  number64(what: string): bigint {
    return parseNumber64Text(this.atom(what), what);
  }

  nzNumber64(what: string): bigint {
    const n = this.number64(what);
    if (n === 0n) throw new ProtocolError(`Invalid ${what}: must not be 0`);
    return n;
  }

  list(what: string): ArgCursor {
    const t = this.next(what);
    if (t.type !== 'list') throw new ProtocolError(`Invalid ${what}: expected a parenthesized list`);
    return new ArgCursor(t.items);
  }

  end(): void {
    if (!this.done) throw new ProtocolError('Unexpected extra arguments');
  }
}
