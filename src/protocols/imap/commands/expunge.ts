// EXPUNGE and UID EXPUNGE (RFC 9051 sections 6.4.3 and 6.4.9, RFC 4315): removes \Deleted messages
// (only those in the UID set for UID EXPUNGE); the EXPUNGE responses come from the sync that follows. With QRESYNC
// the tagged OK carries the new HIGHESTMODSEQ (RFC 7162 section 3.2.10).
import { ArgCursor } from '../proto/arg-cursor.js';
import { no, ok, type Completion, type ImapSessionApi } from '../types.js';
import type { ImapCommandSpec } from '../types.js';
import { qresyncEnabled, viewHighestModseq } from '../condstore/condstore.js';

/** Reports the expunges now (VANISHED), so that the HIGHESTMODSEQ in the tagged OK covers them. */
async function expunged(s: ImapSessionApi): Promise<Completion> {
  if (!qresyncEnabled(s)) return ok('Expunge completed.');
  await s.selected!.announceChanges(s, { expunges: true });
  return ok('Expunge completed.', `HIGHESTMODSEQ ${viewHighestModseq(s.selected!)}`);
}
import { parseSequenceSetToken } from '../proto/fetch-args.js';

export const expungeCommand: ImapCommandSpec = {
  name: 'EXPUNGE',
  states: ['selected'],
  async run(s, cmd) {
    new ArgCursor(cmd.args).end();
    if (s.selected!.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
    await s.selected!.mailbox.expunge();
    return expunged(s);
  },
};

export const uidExpungeCommand: ImapCommandSpec = {
  name: 'UID EXPUNGE',
  states: ['selected'],
  capabilities: () => ['UIDPLUS'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const set = parseSequenceSetToken(args.next('UID set'));
    args.end();
    if (s.selected!.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
    const uids = s.selected!.resolve(set, true).map((r) => r.msg.uid);
    if (uids.length) await s.selected!.mailbox.expunge(uids);
    return expunged(s);
  },
};
