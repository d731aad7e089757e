// SORT criteria and ordering (RFC 5256 section 3, RFC 5957 DISPLAYFROM/DISPLAYTO): parse the sort program, load
// each matching message's cached sort data, and order by the keys, REVERSE per key, then by sequence number.
import type { ImapToken } from '../proto/tokens.js';
import { ArgCursor } from '../proto/arg-cursor.js';
import { ProtocolError } from '../proto/protocol-error.js';
import type { SelectedMailbox } from '../selected.js';
import type { MessageMeta } from '../../../storage/api.js';
import { isStorageError } from '../../../storage/api.js';
import { compareCodePoints } from './collate.js';
import { loadSortData, sortDate, type SortData } from './sort-data.js';

export type SortKeyName = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

export interface SortCriterion {
  key: SortKeyName;
  reverse: boolean;
}

const KEYS = new Set<string>(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);

/** sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"; sort-criterion = ["REVERSE" SP] sort-key. */
export function parseSortCriteria(token: ImapToken | undefined): SortCriterion[] {
  if (!token || token.type !== 'list') throw new ProtocolError('Invalid sort criteria: expected a parenthesized list');
  const cursor = new ArgCursor(token.items);
  const out: SortCriterion[] = [];
  while (!cursor.done) {
    let name = cursor.keyword('sort key');
    let reverse = false;
    if (name === 'REVERSE') {
      reverse = true;
      name = cursor.keyword('sort key');
    }
    if (!KEYS.has(name)) throw new ProtocolError(`Unknown sort key ${name.slice(0, 40)}`);
    out.push({ key: name as SortKeyName, reverse });
  }
  if (out.length === 0) throw new ProtocolError('Empty sort criteria');
  return out;
}

export interface SortItem {
  seq: number;
  msg: MessageMeta;
  data: SortData;
}

/** Sort data for each message; messages expunged by another session meanwhile are left out. */
export async function loadItems(box: SelectedMailbox, matches: ReadonlyArray<{ seq: number; msg: MessageMeta }>): Promise<SortItem[]> {
  const out: SortItem[] = [];
  for (const m of matches) {
    try {
      out.push({ seq: m.seq, msg: m.msg, data: await loadSortData(box.mailbox, m.msg) });
    } catch (err) {
      if (isStorageError(err) && err.code === 'EXPUNGED') continue;
      throw err;
    }
  }
  return out;
}

type Extracted = string | number;

function extract(key: SortKeyName, item: SortItem): Extracted {
  switch (key) {
    case 'ARRIVAL':
      return Math.floor(item.msg.internalDate.getTime() / 1000);
    case 'DATE':
      return sortDate(item.data, item.msg);
    case 'SIZE':
      return item.msg.size;
    case 'SUBJECT':
      return item.data.subject;
    case 'FROM':
      return item.data.from;
    case 'TO':
      return item.data.to;
    case 'CC':
      return item.data.cc;
    case 'DISPLAYFROM':
      return item.data.displayFrom;
    case 'DISPLAYTO':
      return item.data.displayTo;
  }
}

/** Orders the items; equal under every key, the lower sequence number comes first (RFC 5256 section 3). */
export function sortItems(items: SortItem[], criteria: readonly SortCriterion[]): SortItem[] {
  const keyed = items.map((item) => ({ item, keys: criteria.map((c) => extract(c.key, item)) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < criteria.length; i++) {
      const x = a.keys[i]!;
      const y = b.keys[i]!;
      const c = typeof x === 'number' ? x - (y as number) : compareCodePoints(x, y as string);
      if (c !== 0) return criteria[i]!.reverse ? -c : c;
    }
    return a.item.seq - b.item.seq;
  });
  return keyed.map((k) => k.item);
}
