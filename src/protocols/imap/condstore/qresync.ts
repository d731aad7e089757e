// Quick resynchronization (RFC 7162 sections 3.2.5, 3.2.6 and 3.2.10): which UIDs vanished since a client's
// modseq (VANISHED (EARLIER)), and the FETCH FLAGS MODSEQ of messages changed since then, for SELECT (QRESYNC)
// and UID FETCH (CHANGEDSINCE n VANISHED).
import { formatNumberRanges, type SequenceSet } from '../../../lib/sequence-set.js';
import type { QresyncParams } from '../proto/select-args.js';
import type { SelectedMailbox } from '../selected.js';
import type { ImapSessionApi } from '../types.js';
import { formatFlagList } from '../fetch/client-flags.js';

/**
 * UIDs in `within` (a UID set; "*" is the highest UID ever given, uidNext - 1) that were expunged after `modseq`,
 * as sorted disjoint ranges. UIDs still in this session's view are left out: the session reports them itself at
 * its next sync (RFC 7162 section 3.2.10).
 *
 * The index remembers every expunge since its entry for the mailbox was made (DECISIONS.md, "Truth and the
 * index"). Every message in it got its modseq after that, so a client whose modseq is below every message's
 * knew the mailbox before the index did: then every UID in `within` that no longer exists is reported. That
 * answer may be larger than the exact one, never wrong: UIDs are not reused within a UIDVALIDITY.
 */
export function vanishedSince(box: SelectedMailbox, modseq: number, within: SequenceSet | undefined): Array<[number, number]> {
  const mailbox = box.mailbox;
  const maxUid = mailbox.uidNext() - 1;
  if (maxUid < 1 || modseq >= mailbox.highestModseq()) return [];
  const msgs = box.messages();
  let lowest = Number.POSITIVE_INFINITY;
  for (const m of msgs) if (m.modseq < lowest) lowest = m.modseq;
  const wanted = within ? within.resolve(maxUid) : [[1, maxUid] as [number, number]];

  if (modseq >= lowest - 1) {
    const present = new Set(msgs.map((m) => m.uid));
    const uids = mailbox
      .expungedSince(modseq)
      .filter((u) => !present.has(u) && u <= maxUid && (!within || within.has(u, maxUid)))
      .sort((a, b) => a - b);
    return toRanges(uids);
  }

  // Older than the index: the gaps between existing UIDs, inside the wanted ranges.
  const out: Array<[number, number]> = [];
  let i = 0;
  for (const [a, b] of wanted) {
    let next = a;
    while (i < msgs.length && msgs[i]!.uid < a) i++;
    while (next <= b) {
      const uid = i < msgs.length ? msgs[i]!.uid : Number.POSITIVE_INFINITY;
      if (uid > b) {
        out.push([next, b]);
        break;
      }
      if (uid > next) out.push([next, uid - 1]);
      next = uid + 1;
      i++;
    }
  }
  return out;
}

function toRanges(sorted: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const u of sorted) {
    const last = out[out.length - 1];
    if (last && u === last[1] + 1) last[1] = u;
    else if (!last || u > last[1]) out.push([u, u]);
  }
  return out;
}

/** Writes "* VANISHED (EARLIER) set" unless the set is empty. */
export function sendVanishedEarlier(s: ImapSessionApi, ranges: ReadonlyArray<readonly [number, number]>): void {
  if (ranges.length) s.untagged(`VANISHED (EARLIER) ${formatNumberRanges(ranges)}`);
}

/**
 * The resync part of SELECT/EXAMINE (QRESYNC ...) (RFC 7162 section 3.2.5): when the client's UIDVALIDITY is
 * still the mailbox's, VANISHED (EARLIER) for the known UIDs expunged since its modseq, then FETCH (UID FLAGS
 * MODSEQ) for every known message changed since then. Returns how many messages were reported changed.
 */
export function qresyncSelect(s: ImapSessionApi, box: SelectedMailbox, params: QresyncParams): number {
  if (params.uidValidity !== box.mailbox.uidValidity) return 0;
  const since = params.modseq > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(params.modseq);
  sendVanishedEarlier(s, vanishedSince(box, since, params.knownUids));
  const msgs = box.messages();
  const maxUid = msgs.length ? msgs[msgs.length - 1]!.uid : 0;
  let changed = 0;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    if (m.modseq <= since) continue;
    if (params.knownUids && !params.knownUids.has(m.uid, maxUid)) continue;
    s.untagged(`${i + 1} FETCH (UID ${m.uid} FLAGS ${formatFlagList(box.flagsOf(s, m))} MODSEQ (${m.modseq}))`);
    changed++;
  }
  return changed;
}
