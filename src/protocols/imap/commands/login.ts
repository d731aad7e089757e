// LOGIN (RFC 9051 section 6.2.3): user name and password through the auth service, only on
// secured connections (LOGINDISABLED otherwise, DECISIONS.md); the reply is the same for every failure.
import { ArgCursor } from '../proto/arg-cursor.js';
import { no, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import { clientInfo, finishLogin } from './auth-common.js';

export function plaintextAllowed(s: ImapSessionApi): boolean {
  return s.conn.secured || s.ctx.config.server.auth_allow_cleartext;
}

export const loginCommand: ImapCommandSpec = {
  name: 'LOGIN',
  states: ['not-authenticated'],
  capabilities: (s) => (s.state === 'not-authenticated' && !plaintextAllowed(s) ? ['LOGINDISABLED'] : []),
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const user = args.astring('user name');
    const password = args.astring('password');
    args.end();
    if (!plaintextAllowed(s)) return no('Plaintext authentication disallowed on non-secure (SSL/TLS) connections.', 'PRIVACYREQUIRED');
    const result = await s.ctx.auth.verifyPlain(user, password, clientInfo(s));
    return finishLogin(s, result);
  },
};
