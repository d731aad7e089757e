// PASS (RFC 1939 section 7): verifies USER's password through the auth service (which applies
// the failure delay and penalty), then opens the maildrop. The password is never logged.
import type { Pop3Command } from '../types.js';
import { plaintextAllowed } from './user.js';
import { finishAuthentication } from './auth-result.js';

export const passCommand: Pop3Command = {
  name: 'PASS',
  states: ['authorization'],
  async run(s, _args, rawArgs) {
    if (!plaintextAllowed(s)) return s.err('Plaintext authentication disallowed on non-secure (SSL/TLS) connections.', 'AUTH');
    const user = s.pendingUser;
    s.pendingUser = undefined;
    if (user === undefined) return s.err('No username given.');
    // RFC 1939 allows spaces in the password: everything after "PASS " is the password.
    const result = await s.ctx.auth.verifyPlain(user, rawArgs, clientInfo(s));
    await finishAuthentication(s, result);
  },
};

export function clientInfo(s: import('../types.js').Pop3SessionApi) {
  return s.conn.clientInfo();
}
