// CHECK (RFC 3501 section 6.4.1; removed in RFC 9051 but still sent by clients): a NOOP that syncs.
import { ArgCursor } from '../proto/arg-cursor.js';
import { ok, type ImapCommandSpec } from '../types.js';

export const checkCommand: ImapCommandSpec = {
  name: 'CHECK',
  states: ['selected'],
  run(_s, cmd) {
    new ArgCursor(cmd.args).end();
    return ok('Check completed.');
  },
};
