// SORT and UID SORT (RFC 5256 section 3; RFC 5957 SORT=DISPLAY; RFC 5267 ESORT: SORT RETURN (MIN MAX ALL COUNT)
// answered with ESEARCH): the messages matching a search, in the order of the sort criteria.
import { parseSearchArgs, searchReturnItems, type SearchReturn } from '../proto/search-args.js';
import { ArgCursor } from '../proto/arg-cursor.js';
import { ProtocolError } from '../proto/protocol-error.js';
import type { ImapToken } from '../proto/tokens.js';
import { formatString } from '../proto/response.js';
import { ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import type { ImapCommand } from '../proto/command-reader.js';
import { enableCondstore, searchUsesModseq } from '../condstore/condstore.js';
import { loadSortSet, parseSortCriteria, searchForSort, sortOrder } from '../sort/sort.js';

/** Runs of consecutive ascending numbers in the given order, e.g. 3,4,5,1 -> "3:5,1" (RFC 5267 section 3.2 ALL). */
function orderedSet(numbers: readonly number[]): string {
  let out = '';
  for (let i = 0; i < numbers.length; ) {
    const start = numbers[i++]!;
    let end = start;
    while (i < numbers.length && numbers[i] === end + 1) end = numbers[i++]!;
    out += `${out ? ',' : ''}${start === end ? start : `${start}:${end}`}`;
  }
  return out;
}

function esortResponse(tag: string, byUid: boolean, returns: SearchReturn, numbers: number[], modseq: number | undefined): string {
  const parts = [`ESEARCH (TAG ${formatString(tag)})`];
  if (byUid) parts.push('UID');
  for (const item of searchReturnItems(returns)) {
    if (item === 'COUNT') parts.push(`COUNT ${numbers.length}`);
    else if (numbers.length === 0) continue;
    // MIN and MAX are the lowest and highest numbers of the result; ALL lists it in sort order.
    else if (item === 'MIN') parts.push(`MIN ${numbers.reduce((m, x) => (x < m ? x : m))}`);
    else if (item === 'MAX') parts.push(`MAX ${numbers.reduce((m, x) => (x > m ? x : m))}`);
    else parts.push(`ALL ${orderedSet(numbers)}`);
  }
  if (modseq !== undefined) parts.push(`MODSEQ ${modseq}`);
  return parts.join(' ');
}

async function runSort(s: ImapSessionApi, cmd: ImapCommand, byUid: boolean): Promise<Completion> {
  const box = s.selected!;
  const cursor = new ArgCursor(cmd.args);
  const prefix: ImapToken[] = [];
  if (cursor.peekAtom() === 'RETURN') prefix.push(cursor.next('RETURN'), cursor.next('RETURN options'));
  const criteria = parseSortCriteria(cursor.next('sort criteria'));
  const charset = cursor.next('charset');
  const rest: ImapToken[] = [];
  while (!cursor.done) rest.push(cursor.next('search key'));
  if (rest.length === 0) throw new ProtocolError('Missing search criteria');
  const args = parseSearchArgs([...prefix, { type: 'atom', value: 'CHARSET' }, charset, ...rest], { utf8: s.utf8Names });
  if (searchUsesModseq(args.key)) enableCondstore(s);

  const matches = await searchForSort(box, args.key);
  const set = await loadSortSet(box, matches);
  const order = sortOrder(set, criteria);
  const { keys, seqs, slots } = set;
  if (args.returns?.save) box.savedSearch = Array.from(slots, (slot) => keys.uid[slot]!);
  if (!args.returns) {
    // One string built by appending: joining an array of 100,000 numbers takes several times as long.
    let line = 'SORT';
    if (byUid) for (let i = 0; i < order.length; i++) line += ' ' + keys.uid[slots[order[i]!]!]!;
    else for (let i = 0; i < order.length; i++) line += ' ' + seqs[order[i]!]!;
    if (matches.highestModseq !== undefined) line += ` (MODSEQ ${matches.highestModseq})`;
    s.untagged(line);
  } else if (searchReturnItems(args.returns).length > 0) {
    const numbers = Array.from(order, (j) => (byUid ? keys.uid[slots[j]!]! : seqs[j]!));
    s.untagged(esortResponse(cmd.tag, byUid, args.returns, numbers, matches.highestModseq));
  }
  return ok('Sort completed.');
}

export const sortCommand: ImapCommandSpec = {
  name: 'SORT',
  states: ['selected'],
  deferExpunges: true,
  capabilities: () => ['SORT', 'SORT=DISPLAY', 'ESORT'],
  run: (s, cmd) => runSort(s, cmd, false),
};

export const uidSortCommand: ImapCommandSpec = {
  name: 'UID SORT',
  states: ['selected'],
  run: (s, cmd) => runSort(s, cmd, true),
};
