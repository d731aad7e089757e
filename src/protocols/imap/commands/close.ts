// CLOSE (RFC 9051 section 6.4.1): silently expunges \Deleted messages when read-write, then leaves
// the selected state; UNSELECT (RFC 3691) leaves without expunging.
import { ArgCursor } from '../proto/arg-cursor.js';
import { ok, type ImapCommandSpec } from '../types.js';

export const closeCommand: ImapCommandSpec = {
  name: 'CLOSE',
  states: ['selected'],
  async run(s, cmd) {
    new ArgCursor(cmd.args).end();
    const box = s.selected!;
    if (!box.readOnly) await box.mailbox.expunge();
    await s.select(undefined);
    return ok('Close completed.');
  },
};

export const unselectCommand: ImapCommandSpec = {
  name: 'UNSELECT',
  states: ['selected'],
  capabilities: () => ['UNSELECT'],
  async run(s, cmd) {
    new ArgCursor(cmd.args).end();
    await s.select(undefined);
    return ok('Unselect completed.');
  },
};
