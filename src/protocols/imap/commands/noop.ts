// NOOP (RFC 9051 section 6.1.2): in the selected state it also reports pending mailbox changes.
import { ArgCursor } from '../proto/arg-cursor.js';
import { ok, type ImapCommandSpec } from '../types.js';

export const noopCommand: ImapCommandSpec = {
  name: 'NOOP',
  states: ['not-authenticated', 'authenticated', 'selected'],
  run(_s, cmd) {
    new ArgCursor(cmd.args).end();
    return ok('NOOP completed.');
  },
};
