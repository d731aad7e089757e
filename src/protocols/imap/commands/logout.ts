// LOGOUT (RFC 9051 section 6.1.3): BYE, then the tagged OK, then the server closes.
import { ArgCursor } from '../proto/arg-cursor.js';
import { ok, type ImapCommandSpec } from '../types.js';

export const logoutCommand: ImapCommandSpec = {
  name: 'LOGOUT',
  states: ['not-authenticated', 'authenticated', 'selected'],
  run(s, cmd) {
    new ArgCursor(cmd.args).end();
    s.untagged('BYE Logging out');
    s.logout();
    return ok('Logout completed.');
  },
};
