// APOP (RFC 1939 section 7): MD5 digest of the greeting's timestamp and the password; possible
// only when the passdb holds the plaintext password, as with Dovecot.
import type { Pop3Command } from '../types.js';
import { clientInfo } from './pass.js';
import { finishAuthentication } from './auth-result.js';

export const apopCommand: Pop3Command = {
  name: 'APOP',
  states: ['authorization'],
  async run(s, args) {
    if (args.length !== 2 || !/^[0-9a-fA-F]{32}$/.test(args[1])) return s.err('APOP takes a user name and an MD5 digest.');
    const result = await s.ctx.auth.verifyApop(args[0], s.apopTimestamp, args[1].toLowerCase(), clientInfo(s));
    await finishAuthentication(s, result);
  },
};
