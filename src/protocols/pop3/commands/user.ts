// USER (RFC 1939 section 7): names the user for PASS; only on secured connections unless
// auth_allow_cleartext (DECISIONS.md), as Dovecot's disable_plaintext_auth.
import type { Pop3Command, Pop3SessionApi } from '../types.js';

export function plaintextAllowed(s: Pop3SessionApi): boolean {
  return s.conn.secured || s.ctx.config.server.auth_allow_cleartext;
}

export const userCommand: Pop3Command = {
  name: 'USER',
  states: ['authorization'],
  capabilities: (s) => (plaintextAllowed(s) ? ['USER'] : []),
  run(s, args) {
    if (!plaintextAllowed(s)) return s.err('Plaintext authentication disallowed on non-secure (SSL/TLS) connections.', 'AUTH');
    if (args.length !== 1) return s.err('USER takes one argument.');
    s.pendingUser = args[0];
    s.ok();
  },
};
