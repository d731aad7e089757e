// CAPA (RFC 2449 section 5): the capability list, derived from the command table and the
// connection (USER/SASL plaintext only on secured connections, STLS only before TLS).
import type { Pop3Command } from '../types.js';
import { pop3Commands } from '../registry.js';

export const capaCommand: Pop3Command = {
  name: 'CAPA',
  states: ['authorization', 'transaction'],
  run(s) {
    const lines = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER', 'LOGIN-DELAY 0', 'IMPLEMENTATION Roost'];
    for (const command of pop3Commands.values()) if (command.capabilities) lines.push(...command.capabilities(s));
    s.write(`+OK\r\n${lines.join('\r\n')}\r\n.\r\n`);
  },
};
