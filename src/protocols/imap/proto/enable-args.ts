// ENABLE arguments: one or more capability names.
// Implements RFC 5161 section 3 (enable = "ENABLE" 1*(SP capability)) and RFC 9051 section 6.3.1.
//
// Public API:
//   parseEnableArgs(args: readonly ImapToken[]): string[]    upper-cased, duplicates dropped

import { ProtocolError } from './protocol-error.js';
import type { ImapToken } from './tokens.js';

const CAPABILITY_RE = /^[A-Za-z0-9][\x21-\x7e]*$/;

export function parseEnableArgs(args: readonly ImapToken[]): string[] {
  if (args.length === 0) throw new ProtocolError('Missing capability');
  const out: string[] = [];
  for (const t of args) {
    if (t.type !== 'atom' || !CAPABILITY_RE.test(t.value) || /[(){%*"\\\]]/.test(t.value)) {
      throw new ProtocolError('Invalid capability name');
    }
    const name = t.value.toUpperCase();
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
