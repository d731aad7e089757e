// Workload "pop3-login": full POP3 sessions as a mail client opens them (RFC 1939 USER/PASS, STAT, QUIT):
// connect, greeting, USER, PASS, STAT, QUIT, with 1 and 8 concurrent clients over eight users (own mailboxes).
import { performance } from 'node:perf_hooks';
import { benchUsers } from '../sides.js';
import { LineSocket, ProtocolError, anyLine, pop3Status } from '../net.js';
import type { Workload } from '../types.js';
import { minRunSeconds, runConcurrent, scaled, startSide } from './common.js';

const pop3Login: Workload = {
  name: 'pop3-login',
  description: 'POP3 connect + USER/PASS + STAT + QUIT per session (plaintext on loopback); latency from connect to the STAT answer; Roost runs 2,000 sessions per run, the baseline 400',
  opName: 'logins',
  cases() {
    return [1, 8].map((connections) => ({ id: `c${connections}`, label: `${connections} conn`, params: { connections } }));
  },
  setup(kind, context) {
    return startSide(kind, context, { users: benchUsers(8), services: ['pop3'] });
  },
  async run(server, benchCase, { options, warmup }) {
    const connections = Number(benchCase.params.connections);
    // At least 400 sessions, and as many more as fit in minRunSeconds (the faster side's run is otherwise too short to measure).
    const perRep = scaled(options.quick, 24, 400, options.scale);
    const total = warmup ? Math.max(connections, Math.ceil(perRep / 4)) : perRep;
    const port = server.endpoints.pop3!;
    // One POP3 session per mailbox at a time (pop3_lock_session on both sides): each stream has its own user.
    return runConcurrent<number>(
      total,
      connections,
      async (stream) => stream,
      async (stream, _op, latencies) => {
        const user = server.users[stream % server.users.length]!;
        const started = performance.now();
        const socket = await LineSocket.connect({ port });
        try {
          const greeting = await socket.expect(anyLine());
          if (!greeting.startsWith('+OK')) throw new ProtocolError(`greeting: ${greeting}`);
          for (const [cmd, what] of [[`USER ${user.name}`, 'USER'], [`PASS ${user.password}`, 'PASS'], ['STAT', 'STAT']] as const) {
            const reply = await socket.send(`${cmd}\r\n`, pop3Status());
            if (!reply.ok) throw new ProtocolError(`${what}: ${reply.text}`);
          }
          latencies.push(performance.now() - started);
          await socket.send('QUIT\r\n', pop3Status());
        } finally {
          socket.close();
        }
        return 0;
      },
      async () => undefined,
      // Roost's logins per second keep rising over its first ~10,000 sessions (its CPU per login falls from about 2 ms
      // to 1 ms; the cause is not pinned down): a longer warm-up keeps the measured repetitions past that slope.
      minRunSeconds(options, warmup, 10),
    );
  },
  teardown: (server) => server.stop(),
};

export default pop3Login;
