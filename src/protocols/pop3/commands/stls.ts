// STLS (RFC 2595 section 4): upgrades the connection to TLS before login; not offered once TLS is up.
import type { Pop3Command } from '../types.js';

export const stlsCommand: Pop3Command = {
  name: 'STLS',
  states: ['authorization'],
  capabilities: (s) => (s.conn.canStartTls ? ['STLS'] : []),
  async run(s, args) {
    if (args.length) return s.err('STLS takes no arguments.');
    if (!s.conn.canStartTls) return s.err('TLS is already active.');
    s.ok('Begin TLS negotiation now.');
    try {
      await s.startTls();
    } catch {
      s.close();
    }
  },
};
