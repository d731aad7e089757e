// Workload "imap-login": full IMAP sessions as a client opens them (RFC 9051 sections 6.2.3 LOGIN and 6.1.3 LOGOUT):
// connect, greeting, LOGIN, LOGOUT, close, with 1 and 8 concurrent clients over eight users.
import { performance } from 'node:perf_hooks';
import { benchUsers } from '../sides.js';
import { LineSocket, ProtocolError, anyLine, imapTagged } from '../net.js';
import type { Workload } from '../types.js';
import { minRunSeconds, runConcurrent, scaled, startSide } from './common.js';

const imapLogin: Workload = {
  name: 'imap-login',
  description: 'IMAP connect + LOGIN + LOGOUT per session (plaintext on loopback); latency from connect to the LOGIN OK',
  opName: 'logins',
  cases() {
    return [1, 8].map((connections) => ({ id: `c${connections}`, label: `${connections} conn`, params: { connections } }));
  },
  setup(kind, context) {
    return startSide(kind, context, { users: benchUsers(8), services: ['imap'] });
  },
  async run(server, benchCase, { options, warmup }) {
    const connections = Number(benchCase.params.connections);
    const perRep = scaled(options.quick, 24, 400, options.scale);
    const total = warmup ? Math.max(connections, Math.ceil(perRep / 4)) : perRep;
    const port = server.endpoints.imap!;
    return runConcurrent<null>(
      total,
      connections,
      async () => null,
      async (_session, op, latencies) => {
        const user = server.users[op % server.users.length]!;
        const started = performance.now();
        const socket = await LineSocket.connect({ port });
        try {
          const greeting = await socket.expect(anyLine());
          if (!greeting.startsWith('* OK')) throw new ProtocolError(`greeting: ${greeting}`);
          const login = await socket.send(`a1 LOGIN ${user.name} ${user.password}\r\n`, imapTagged('a1'));
          if (login.status !== 'OK') throw new ProtocolError(`LOGIN: ${login.status}`);
          latencies.push(performance.now() - started);
          await socket.send('a2 LOGOUT\r\n', imapTagged('a2'));
        } finally {
          socket.close();
        }
        return 0;
      },
      async () => undefined,
      minRunSeconds(options, warmup),
    );
  },
  teardown: (server) => server.stop(),
};

export default imapLogin;
