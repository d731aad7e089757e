// Resolves the message set of FETCH, STORE, COPY and MOVE (RFC 9051 section 9, sequence-set; RFC 5182 "$"):
// a sequence number past EXISTS, or any sequence set in an empty mailbox, is a BAD as in Dovecot; UIDs never are.
import type { SequenceSet } from '../../../lib/sequence-set.js';
import { ProtocolError } from '../proto/protocol-error.js';
import type { ResolvedMessage, SelectedMailbox } from '../selected.js';

export function resolveMessageSet(box: SelectedMailbox, set: SequenceSet, byUid: boolean): ResolvedMessage[] {
  if (!byUid && !set.saved) {
    const exists = box.exists;
    const outside = (n: number | '*'): boolean => (n === '*' ? exists === 0 : n > exists);
    if (set.ranges.some((r) => outside(r.start) || outside(r.end))) throw new ProtocolError('Invalid messageset');
  }
  return box.resolve(set.toString(), byUid);
}
