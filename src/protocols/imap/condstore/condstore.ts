// CONDSTORE and QRESYNC state of a session (RFC 7162 sections 3.1 and 3.2): the capabilities, enabling by ENABLE
// or by a CONDSTORE enabling command, the HIGHESTMODSEQ a selected view reports, and which keys use MODSEQ.
import type { SearchKey } from '../proto/search-args.js';
import type { SelectedMailbox } from '../selected.js';
import type { ImapSessionApi } from '../types.js';

/** Advertised together: Roost's index keeps a modseq for every message of every mailbox (RFC 7162 section 3). */
export const CONDSTORE_CAPABILITIES = ['CONDSTORE', 'QRESYNC'];

export function condstoreEnabled(s: ImapSessionApi): boolean {
  return s.enabled.has('CONDSTORE');
}

export function qresyncEnabled(s: ImapSessionApi): boolean {
  return s.enabled.has('QRESYNC');
}

/**
 * The mailbox's HIGHESTMODSEQ as this view knows it: what the last sync saw, or a modseq the session's own
 * STORE gave a message since then (RFC 7162 section 3.1.2.1: no message in the view has a higher one).
 */
export function viewHighestModseq(box: SelectedMailbox): number {
  let highest = box.mailbox.highestModseq();
  for (const m of box.messages()) if (m.modseq > highest) highest = m.modseq;
  return highest;
}

/**
 * A CONDSTORE enabling command (RFC 7162 section 3.1: FETCH MODSEQ or CHANGEDSINCE, STORE UNCHANGEDSINCE,
 * SEARCH MODSEQ, STATUS HIGHESTMODSEQ, SELECT (CONDSTORE)). The first one run with a mailbox selected tells the
 * client the mailbox's HIGHESTMODSEQ, since its SELECT did not (RFC 7162 section 3.1.2.1 and section 3.1).
 */
export function enableCondstore(s: ImapSessionApi): void {
  if (s.enabled.has('CONDSTORE')) return;
  s.enabled.add('CONDSTORE');
  if (s.selected && s.state === 'selected') s.untagged(`OK [HIGHESTMODSEQ ${viewHighestModseq(s.selected)}] Highest`);
}

/** Whether a search program uses the MODSEQ key (RFC 7162 section 3.1.5), which makes SEARCH enable CONDSTORE. */
export function searchUsesModseq(key: SearchKey): boolean {
  switch (key.type) {
    case 'modseq':
      return true;
    case 'and':
      return key.keys.some(searchUsesModseq);
    case 'or':
      return searchUsesModseq(key.left) || searchUsesModseq(key.right);
    case 'not':
      return searchUsesModseq(key.key);
    default:
      return false;
  }
}
