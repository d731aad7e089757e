// ID arguments: NIL or a list of field/value pairs.
// Implements RFC 2971 section 3.3 (id-params-list, field names up to 30 octets, values up to 1024,
// at most 30 pairs) and section 3.1.
//
// Public API:
//   parseIdArgs(args: readonly ImapToken[]): Map<string, string | null> | null   keys as sent; null for NIL

import { ArgCursor } from './arg-cursor.js';
import { ProtocolError } from './protocol-error.js';
import type { ImapToken } from './tokens.js';

export function parseIdArgs(args: readonly ImapToken[]): Map<string, string | null> | null {
  const cursor = new ArgCursor(args);
  const first = cursor.next('ID parameters');
  cursor.end();
  if (first.type === 'nil') return null;
  if (first.type !== 'list') throw new ProtocolError('Invalid ID parameters: expected a list or NIL');
  if (first.items.length % 2 !== 0) throw new ProtocolError('Invalid ID parameters: odd number of items');
  if (first.items.length > 60) throw new ProtocolError('Too many ID parameters');
  const pairs = new ArgCursor(first.items);
  const out = new Map<string, string | null>();
  while (!pairs.done) {
    const key = pairs.string('ID field name');
    const value = pairs.nstring('ID field value');
    if (Buffer.byteLength(key) > 30) throw new ProtocolError('ID field name longer than 30 octets');
    if (value !== null && Buffer.byteLength(value) > 1024) throw new ProtocolError('ID field value longer than 1024 octets');
    out.set(key, value);
  }
  return out;
}
