// STARTTLS (RFC 9051 section 6.2.1): the tagged OK is sent in plaintext, then the TLS handshake
// starts on the same socket; anything the client pipelined after the command is discarded.
import { ArgCursor } from '../proto/arg-cursor.js';
import { alreadyAnswered, bad, type ImapCommandSpec } from '../types.js';

export const starttlsCommand: ImapCommandSpec = {
  name: 'STARTTLS',
  states: ['not-authenticated'],
  capabilities: (s) => (!s.conn.canStartTls || s.state !== 'not-authenticated' ? [] : ['STARTTLS']),
  async run(s, cmd) {
    new ArgCursor(cmd.args).end();
    if (!s.conn.canStartTls) return bad(s.conn.tls ? 'TLS is already active.' : 'STARTTLS is not possible on this connection.');
    s.write(`${cmd.tag} OK Begin TLS negotiation now.\r\n`);
    try {
      await s.startTls();
    } catch {
      s.logout();
    }
    return alreadyAnswered;
  },
};
