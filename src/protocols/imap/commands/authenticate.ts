// AUTHENTICATE (RFC 9051 section 6.2.2, RFC 4959 SASL-IR): SASL through the auth service with
// "+ base64" challenges and "*" to cancel; plaintext mechanisms only on secured connections.
import { ArgCursor } from '../proto/arg-cursor.js';
import { bad, no, type ImapCommandSpec } from '../types.js';
import { clientInfo, finishLogin } from './auth-common.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const authenticateCommand: ImapCommandSpec = {
  name: 'AUTHENTICATE',
  states: ['not-authenticated'],
  capabilities: (s) => (s.state === 'not-authenticated' ? s.ctx.auth.mechanisms({ secured: s.conn.secured }).map((m) => `AUTH=${m}`) : []),
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const mechanism = args.atom('mechanism').toUpperCase();
    const initial = args.done ? undefined : args.atom('initial response');
    args.end();
    if (!s.ctx.auth.mechanisms({ secured: s.conn.secured }).includes(mechanism)) {
      return no('Unsupported authentication mechanism.', s.conn.secured ? undefined : 'PRIVACYREQUIRED');
    }
    let response: Buffer | undefined;
    if (initial !== undefined) {
      if (initial === '=') response = Buffer.alloc(0);
      else if (BASE64.test(initial)) response = Buffer.from(initial, 'base64');
      else return bad('Invalid base64 data in initial response.');
    }
    const exchange = s.ctx.auth.begin(mechanism, clientInfo(s));
    for (;;) {
      const step = await exchange.step(response);
      if (step.kind !== 'challenge') return finishLogin(s, step);
      s.write(`+ ${step.data.toString('base64')}\r\n`);
      const line = await s.readLine();
      if (line === null) {
        exchange.cancel();
        return no('Connection closed.');
      }
      const text = line.trim();
      if (text === '*') {
        exchange.cancel();
        return bad('Authentication aborted by client.');
      }
      if (!BASE64.test(text)) {
        exchange.cancel();
        return bad('Invalid base64 data in continued response.');
      }
      response = Buffer.from(text, 'base64');
    }
  },
};
