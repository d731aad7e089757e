// AUTH (RFC 5034): SASL through the auth service, with an initial response, "+ base64" challenges,
// "*" to cancel; plaintext mechanisms only on secured connections. No payload is logged.
import type { Pop3Command } from '../types.js';
import { clientInfo } from './pass.js';
import { finishAuthentication } from './auth-result.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const authCommand: Pop3Command = {
  name: 'AUTH',
  states: ['authorization'],
  capabilities: (s) => {
    const mechs = s.ctx.auth.mechanisms({ secured: s.conn.secured });
    return mechs.length ? [`SASL ${mechs.join(' ')}`] : [];
  },
  async run(s, args) {
    const offered = s.ctx.auth.mechanisms({ secured: s.conn.secured });
    if (args.length === 0) {
      // A bare AUTH lists the mechanisms (the pre-RFC 5034 form clients still send).
      return s.write(`+OK\r\n${offered.join('\r\n')}${offered.length ? '\r\n' : ''}.\r\n`);
    }
    if (args.length > 2) return s.err('AUTH takes a mechanism and an optional initial response.');
    const mechanism = args[0].toUpperCase();
    if (!offered.includes(mechanism)) return s.err('Unsupported authentication mechanism.');
    const exchange = s.ctx.auth.begin(mechanism, clientInfo(s));
    let response: Buffer | undefined;
    if (args.length === 2) {
      if (args[1] === '=') response = Buffer.alloc(0);
      else if (BASE64.test(args[1])) response = Buffer.from(args[1], 'base64');
      else return s.err('Invalid base64 data in initial response.');
    }
    for (;;) {
      const step = await exchange.step(response);
      if (step.kind !== 'challenge') return finishAuthentication(s, step);
      s.write(`+ ${step.data.toString('base64')}\r\n`);
      const line = await s.readLine();
      if (line === null) return exchange.cancel();
      if (line.trim() === '*') {
        exchange.cancel();
        return s.err('Authentication aborted by client.');
      }
      if (!BASE64.test(line.trim())) {
        exchange.cancel();
        return s.err('Invalid base64 data in continued response.');
      }
      response = Buffer.from(line.trim(), 'base64');
    }
  },
};
