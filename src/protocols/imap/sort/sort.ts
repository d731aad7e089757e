// SORT criteria and ordering (RFC 5256 section 3, RFC 5957 DISPLAYFROM/DISPLAYTO): parse the sort program, find each
// matching message's keys (in memory, else the index's cache, else its header), and order by the keys, REVERSE per
// key, then by sequence number.
import type { ImapToken } from '../proto/tokens.js';
import { ArgCursor } from '../proto/arg-cursor.js';
import { ProtocolError } from '../proto/protocol-error.js';
import type { SelectedMailbox } from '../selected.js';
import type { SearchKey } from '../proto/search-args.js';
import { evaluateSearch } from '../search/evaluate.js';
import type { MessageMeta } from '../../../storage/api.js';
import { isStorageError } from '../../../storage/api.js';
import { cachedSortData, packSortData, parseSortData, SORT_CACHE_KEY } from './sort-data.js';
import { bounds, type SortKeyName, type SortKeys } from './sort-keys.js';
import { readThreads, saveSnapshotLater, sortKeysOf } from './sort-snapshot.js';

export type { SortKeyName } from './sort-keys.js';

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

/** What a SORT or THREAD searched out, in sequence order. */
export interface SortMatches {
  msgs: readonly MessageMeta[];
  /** Sequence numbers of msgs; without them msgs is the whole view (sequence number = index + 1). */
  seqs?: readonly number[];
  /** Highest MODSEQ of the matches when the search used MODSEQ (RFC 7162 section 3.1.5). */
  highestModseq?: number;
}

/** The search of a SORT or THREAD; ALL (the common case) is the whole view without running the evaluator. */
export async function searchForSort(box: SelectedMailbox, key: SearchKey): Promise<SortMatches> {
  if (key.type === 'all') return { msgs: box.messages() };
  const outcome = await evaluateSearch(box, key);
  return { msgs: outcome.matches.map((m) => m.msg), seqs: outcome.matches.map((m) => m.seq), highestModseq: outcome.highestModseq };
}

/** The messages being sorted, in sequence order: each one's sequence number and slot in keys. */
export interface SortSet {
  keys: SortKeys;
  seqs: Int32Array;
  slots: Int32Array;
}

/** How many parsed messages are written to the index's cache in one transaction. */
const CACHE_BATCH = 500;

/**
 * The mailbox's sort keys for the matches, loading those not yet in memory (from the index's cache, else the
 * header), and with `threads` THREAD's data too. A message expunged by another session meanwhile is left out.
 */
export async function loadSortSet(box: SelectedMailbox, matches: SortMatches, threads = false): Promise<SortSet> {
  const mailbox = box.mailbox;
  const keys = sortKeysOf(mailbox);
  if (threads) readThreads(mailbox, keys);
  const { msgs, seqs: seqOf } = matches;
  const n = msgs.length;
  const seqs = new Int32Array(n);
  const slots = new Int32Array(n);
  let count = 0;
  // Keys parsed from headers go to the index's per-message cache in batches.
  const parsed: Array<{ uid: number; key: string; value: unknown }> = [];
  try {
    for (let i = 0; i < n; i++) {
      const msg = msgs[i]!;
      let slot = keys.slotOf(msg.uid);
      if (slot === undefined || (threads && !keys.hasThreadData(slot))) {
        let data = cachedSortData(mailbox, msg.uid);
        if (!data) {
          try {
            data = await parseSortData(mailbox, msg);
          } catch (err) {
            if (isStorageError(err) && err.code === 'EXPUNGED') continue;
            throw err;
          }
          parsed.push({ uid: msg.uid, key: SORT_CACHE_KEY, value: packSortData(data) });
          if (parsed.length >= CACHE_BATCH) mailbox.setCachedMany(parsed.splice(0));
        }
        if (slot === undefined) slot = keys.add(msg, data);
        else keys.setThreadData(slot, data);
      }
      seqs[count] = seqOf ? seqOf[i]! : i + 1;
      slots[count] = slot;
      count++;
    }
  } finally {
    mailbox.setCachedMany(parsed);
  }
  saveSnapshotLater(mailbox, keys);
  return { keys, seqs: seqs.subarray(0, count), slots: slots.subarray(0, count) };
}

/** Each message's value under one key: smaller sorts first, equal values are equal keys. */
function setValues(set: SortSet, key: SortKeyName): Float64Array {
  const { keys, slots } = set;
  const n = slots.length;
  const out = new Float64Array(n);
  const column = keys.column(key);
  if (column) for (let j = 0; j < n; j++) out[j] = column[slots[j]!]!;
  else {
    const { ids, ranks } = keys.textRanks(key);
    for (let j = 0; j < n; j++) out[j] = ranks[ids[slots[j]!]!]!;
  }
  return out;
}

const EXACT = 2 ** 53;

/** One key over a good part of the mailbox: a walk through the key's order of every message held. */
function walkOrder(set: SortSet, criterion: SortCriterion): Uint32Array {
  const { keys, slots } = set;
  const n = slots.length;
  const { order, value } = keys.orderBy(criterion.key);
  // place + 1 in the set, by slot
  const place = new Uint32Array(keys.slots);
  for (let j = 0; j < n; j++) place[slots[j]!] = j + 1;
  const out = new Uint32Array(n);
  let k = 0;
  if (!criterion.reverse) {
    for (let i = 0; i < order.length; i++) {
      const p = place[order[i]!]!;
      if (p !== 0) out[k++] = p - 1;
    }
    return out;
  }
  // REVERSE: runs of equal values from the last, each run still in UID (= sequence) order.
  let end = order.length;
  while (end > 0) {
    let start = end - 1;
    const v = value[order[start]!]!;
    while (start > 0 && value[order[start - 1]!]! === v) start--;
    for (let i = start; i < end; i++) {
      const p = place[order[i]!]!;
      if (p !== 0) out[k++] = p - 1;
    }
    end = start;
  }
  return out;
}

/** Any keys over the set alone: the values folded into one exact integer per message when they fit, else compared. */
function sortSet(set: SortSet, criteria: readonly SortCriterion[]): Uint32Array {
  const n = set.slots.length;
  const values = criteria.map((c) => setValues(set, c.key));
  const lows: number[] = [];
  const spans: number[] = [];
  let range = n;
  for (const v of values) {
    const [lo, hi] = bounds(v, n);
    lows.push(lo);
    spans.push(hi - lo + 1);
    range *= hi - lo + 1;
  }
  const out = new Uint32Array(n);
  if (range <= EXACT) {
    // Each key as an offset from its minimum (from its maximum when REVERSE), then the position in the set.
    const folded = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let f = 0;
      for (let i = 0; i < values.length; i++) {
        const offset = values[i]![j]! - lows[i]!;
        f = f * spans[i]! + (criteria[i]!.reverse ? spans[i]! - 1 - offset : offset);
      }
      folded[j] = f * n + j;
    }
    folded.sort();
    for (let j = 0; j < n; j++) out[j] = folded[j]! % n;
    return out;
  }
  for (let j = 0; j < n; j++) out[j] = j;
  return out.sort((a, b) => {
    for (let i = 0; i < values.length; i++) {
      const c = values[i]![a]! - values[i]![b]!;
      if (c !== 0) return criteria[i]!.reverse ? -c : c;
    }
    return a - b;
  });
}

/**
 * The order of the set under the criteria, as positions in the set; equal under every key, the lower sequence
 * number comes first (RFC 5256 section 3). REVERSE turns one key's order around, not the tie-break.
 */
export function sortOrder(set: SortSet, criteria: readonly SortCriterion[]): Uint32Array {
  const n = set.slots.length;
  if (n < 2) return Uint32Array.from({ length: n }, (_, j) => j);
  // A walk costs a pass over every message held (and a sort of them all after new ones came): worth it for one key
  // over a good part of the mailbox.
  if (criteria.length === 1 && n * 8 >= set.keys.slots) return walkOrder(set, criteria[0]!);
  return sortSet(set, criteria);
}

/** A message as THREAD sees it. */
export interface SortItem {
  seq: number;
  uid: number;
  /** The message's place in SortKeys */
  slot: number;
}

/** The set's messages in the given order (sequence order without one). */
export function setItems(set: SortSet, order?: ArrayLike<number>): SortItem[] {
  const n = set.slots.length;
  const out = new Array<SortItem>(n);
  for (let i = 0; i < n; i++) {
    const j = order ? order[i]! : i;
    const slot = set.slots[j]!;
    out[i] = { seq: set.seqs[j]!, uid: set.keys.uid[slot]!, slot };
  }
  return out;
}
