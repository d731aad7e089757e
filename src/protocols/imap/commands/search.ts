// SEARCH and UID SEARCH (RFC 9051 section 6.4.4 and 7.3.4, RFC 3501 6.4.4 and 7.2.5): plain SEARCH responses, or
// ESEARCH with RETURN (MIN MAX ALL COUNT) (RFC 4731) and always under IMAP4rev2; RETURN (SAVE) and "$" (RFC 5182).
import { parseSearchArgs, searchReturnItems, type SearchReturn } from '../proto/search-args.js';
import { ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import type { ImapCommand } from '../proto/command-reader.js';
import { compressNumbers } from '../../../lib/sequence-set.js';
import { formatString } from '../proto/response.js';
import { evaluateSearch, type SearchOutcome } from '../search/evaluate.js';
import { enableCondstore, searchUsesModseq } from '../condstore/condstore.js';

function esearchResponse(tag: string, byUid: boolean, returns: SearchReturn, numbers: number[], outcome: SearchOutcome): string {
  const parts = [`ESEARCH (TAG ${formatString(tag)})`];
  if (byUid) parts.push('UID');
  for (const item of searchReturnItems(returns)) {
    if (item === 'COUNT') parts.push(`COUNT ${numbers.length}`);
    else if (numbers.length === 0) continue; // MIN, MAX and ALL are left out when nothing matched (RFC 4731 3.1)
    else if (item === 'MIN') parts.push(`MIN ${numbers[0]}`);
    else if (item === 'MAX') parts.push(`MAX ${numbers[numbers.length - 1]}`);
    else parts.push(`ALL ${compressNumbers(numbers)}`);
  }
  if (outcome.highestModseq !== undefined) parts.push(`MODSEQ ${outcome.highestModseq}`);
  return parts.join(' ');
}

/** RFC 5182 section 2.1: with SAVE and only MIN and/or MAX, only those messages are saved. */
function savedUids(returns: SearchReturn, outcome: SearchOutcome): number[] {
  const uids = outcome.matches.map((m) => m.msg.uid);
  if (returns.all || returns.count || (!returns.min && !returns.max) || uids.length === 0) return uids;
  const chosen = new Set<number>();
  if (returns.min) chosen.add(uids[0]!);
  if (returns.max) chosen.add(uids[uids.length - 1]!);
  return [...chosen].sort((a, b) => a - b);
}

async function runSearch(s: ImapSessionApi, cmd: ImapCommand, byUid: boolean): Promise<Completion> {
  const box = s.selected!;
  let saving = false;
  try {
    const args = parseSearchArgs(cmd.args, { utf8: s.utf8Names });
    saving = args.returns?.save ?? false;
    // SEARCH MODSEQ is a CONDSTORE enabling command (RFC 7162 section 3.1).
    if (searchUsesModseq(args.key)) enableCondstore(s);
    const outcome = await evaluateSearch(box, args.key);
    const numbers = outcome.matches.map((m) => (byUid ? m.msg.uid : m.seq));
    // IMAP4rev2 has no SEARCH response: a plain SEARCH is answered as RETURN (ALL) (RFC 9051 section 6.4.4).
    const returns = args.returns ?? (s.enabled.has('IMAP4REV2') ? { min: false, max: false, all: true, count: false, save: false } : undefined);
    if (returns?.save) box.savedSearch = savedUids(returns, outcome);
    if (!returns) {
      const modseq = outcome.highestModseq !== undefined ? ` (MODSEQ ${outcome.highestModseq})` : '';
      s.untagged(`SEARCH${numbers.length ? ' ' + numbers.join(' ') : ''}${modseq}`);
    } else if (searchReturnItems(returns).length > 0) {
      // RETURN (SAVE) alone answers with no ESEARCH response (RFC 5182 section 2.1).
      s.untagged(esearchResponse(cmd.tag, byUid, returns, numbers, outcome));
    }
    return ok('Search completed.');
  } catch (err) {
    // A failed SEARCH ... RETURN (SAVE) leaves the saved result empty (RFC 5182 section 2.1).
    if (saving) box.savedSearch = [];
    throw err;
  }
}

export const searchCommand: ImapCommandSpec = {
  name: 'SEARCH',
  states: ['selected'],
  deferExpunges: true,
  capabilities: () => ['ESEARCH', 'SEARCHRES'],
  run: (s, cmd) => runSearch(s, cmd, false),
};

export const uidSearchCommand: ImapCommandSpec = {
  name: 'UID SEARCH',
  states: ['selected'],
  run: (s, cmd) => runSearch(s, cmd, true),
};
