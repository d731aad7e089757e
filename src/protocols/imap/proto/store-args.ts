// STORE / UID STORE arguments: sequence set, UNCHANGEDSINCE modifier, [+|-]FLAGS[.SILENT] and the flags.
// Implements RFC 9051 section 6.4.6 and section 9 (store, store-att-flags), RFC 7162 3.1.3 (UNCHANGEDSINCE).
//
// Public API:
//   interface StoreArgs { sequence: SequenceSet; action: 'set' | 'add' | 'remove'; silent: boolean;
//                         flags: string[]; unchangedSince?: bigint }
//   parseStoreArgs(args: readonly ImapToken[]): StoreArgs

import type { SequenceSet } from '../../../lib/sequence-set.js';
import { ArgCursor, parseNumber64Text } from './arg-cursor.js';
import { parseSequenceSetToken } from './fetch-args.js';
import { parseFlags } from './flags.js';
import { ProtocolError } from './protocol-error.js';
import type { ImapToken } from './tokens.js';

export interface StoreArgs {
  readonly sequence: SequenceSet;
  readonly action: 'set' | 'add' | 'remove';
  readonly silent: boolean;
  readonly flags: readonly string[];
  readonly unchangedSince?: bigint;
}

const ITEM_RE = /^([+-]?)FLAGS(\.SILENT)?$/;

export function parseStoreArgs(args: readonly ImapToken[]): StoreArgs {
  const cursor = new ArgCursor(args);
  const sequence = parseSequenceSetToken(cursor.next('sequence set'));
  let unchangedSince: bigint | undefined;
  if (cursor.peek()?.type === 'list') {
    const mods = cursor.list('store modifiers');
    if (mods.done) throw new ProtocolError('Empty store modifier list');
    while (!mods.done) {
      const name = mods.keyword('store modifier');
      if (name !== 'UNCHANGEDSINCE') throw new ProtocolError(`Unknown store modifier ${name}`);
      if (unchangedSince !== undefined) throw new ProtocolError('UNCHANGEDSINCE given twice');
      unchangedSince = parseNumber64Text(mods.atom('UNCHANGEDSINCE value'), 'UNCHANGEDSINCE value');
    }
  }
  const item = cursor.keyword('store data item');
  const m = ITEM_RE.exec(item);
  if (!m) throw new ProtocolError(`Invalid store data item ${item.slice(0, 40)}`);
  const rest: ImapToken[] = [];
  while (!cursor.done) rest.push(cursor.next('flag'));
  const flags = parseFlags(rest);
  return {
    sequence,
    action: m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set',
    silent: m[2] !== undefined,
    flags,
    ...(unchangedSince !== undefined ? { unchangedSince } : {}),
  };
}
