// EXPUNGE and UID EXPUNGE (RFC 9051 sections 6.4.3 and 6.4.9, RFC 4315): removes \Deleted messages
// (only those in the UID set for UID EXPUNGE); the EXPUNGE responses come from the sync that follows.
import { ArgCursor } from '../proto/arg-cursor.js';
import { no, ok, type ImapCommandSpec } from '../types.js';
import { parseSequenceSetToken } from '../proto/fetch-args.js';

export const expungeCommand: ImapCommandSpec = {
  name: 'EXPUNGE',
  states: ['selected'],
  async run(s, cmd) {
    new ArgCursor(cmd.args).end();
    if (s.selected!.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
    await s.selected!.mailbox.expunge();
    return ok('Expunge completed.');
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
    return ok('Expunge completed.');
  },
};
