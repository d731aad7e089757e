// Message flag arguments: system flags (case-insensitive, canonical spelling) and keywords.
// Implements RFC 9051 section 2.3.2 and section 9 (flag, flag-list, flag-keyword, flag-extension).
//
// Public API:
//   SYSTEM_FLAGS: readonly ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft']
//   type SystemFlag
//   canonicalSystemFlag(text: string): string | undefined    '\\SEEN' -> '\\Seen'; '\\Recent' included
//   isValidKeyword(text: string): boolean                     flag-keyword = atom
//   parseFlag(token: ImapToken): string                       rejects \Recent, \* and unknown \flags
//   parseFlagList(token: ImapToken): string[]                 "(" [flag *(SP flag)] ")", duplicates dropped
//   parseFlags(tokens: readonly ImapToken[]): string[]        flag-list, or bare flags (STORE)

import { ProtocolError } from './protocol-error.js';
import type { ImapToken } from './tokens.js';

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;
export type SystemFlag = (typeof SYSTEM_FLAGS)[number];

const CANONICAL = new Map<string, string>(
  [...SYSTEM_FLAGS, '\\Recent'].map((f) => [f.toUpperCase(), f] as [string, string]),
);

export function canonicalSystemFlag(text: string): string | undefined {
  return CANONICAL.get(text.toUpperCase());
}

/** atom = 1*ATOM-CHAR: no atom-specials ( ) { SP CTL % * " \ ] and 7-bit only. */
export function isValidKeyword(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || '(){%*"\\]'.includes(text[i]!)) return false;
  }
  return true;
}

export function parseFlag(token: ImapToken): string {
  if (token.type !== 'atom') throw new ProtocolError('Invalid flag: flags are atoms');
  const text = token.value;
  if (text.startsWith('\\')) {
    const canonical = canonicalSystemFlag(text);
    if (!canonical || canonical === '\\Recent') throw new ProtocolError(`Invalid system flag ${text}`);
    return canonical;
  }
  if (!isValidKeyword(text)) throw new ProtocolError(`Invalid keyword ${text}`);
  return text;
}

function collect(tokens: readonly ImapToken[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const t of tokens) {
    const flag = parseFlag(t);
    const key = flag.toUpperCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(flag);
    }
  }
  return out;
}

export function parseFlagList(token: ImapToken): string[] {
  if (token.type !== 'list') throw new ProtocolError('Invalid flag list: expected a parenthesized list');
  return collect(token.items);
}

export function parseFlags(tokens: readonly ImapToken[]): string[] {
  if (tokens.length === 0) throw new ProtocolError('Missing flags');
  if (tokens.length === 1 && tokens[0]!.type === 'list') return parseFlagList(tokens[0]!);
  return collect(tokens);
}
