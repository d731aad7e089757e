// Workload "auth": PLAIN authentications (RFC 4616) through the Dovecot auth-client protocol (VERSION, CPID, AUTH, OK/FAIL
// by request id), as Postfix's smtpd sends them; Dovecot's own auth socket is the baseline. 1 and 4 connections, pipelined.
import { performance } from 'node:perf_hooks';
import { benchUsers } from '../sides.js';
import { LineSocket, ProtocolError } from '../net.js';
import type { BenchUser, Workload } from '../types.js';
import { hashPassword } from '../../../src/auth/schemes/index.js';
import { minRunSeconds, runConcurrent, scaled, startSide } from './common.js';

interface AuthSession {
  socket: LineSocket;
  nextId: number;
  waiting: Map<string, { resolve: (line: string) => void; reject: (err: Error) => void }>;
  closed?: Error;
  /** requests in flight at most */
  window: number;
}

async function openAuth(target: { path: string } | { port: number }, window: number): Promise<AuthSession> {
  const socket = await LineSocket.connect(target);
  const session: AuthSession = { socket, nextId: 1, waiting: new Map(), window };
  let handshakeDone: () => void = () => undefined;
  let handshakeFailed: (err: Error) => void = () => undefined;
  const handshake = new Promise<void>((resolve, reject) => {
    handshakeDone = resolve;
    handshakeFailed = reject;
  });
  let sawVersion = false;
  socket.onUnclaimedLine = (raw) => {
    const line = raw.toString('utf8');
    const fields = line.split('\t');
    if (fields[0] === 'VERSION') sawVersion = true;
    if (fields[0] === 'DONE') {
      if (sawVersion) handshakeDone();
      else handshakeFailed(new ProtocolError('auth handshake without VERSION'));
      return;
    }
    if (fields[0] === 'OK' || fields[0] === 'FAIL' || fields[0] === 'CONT') {
      const waiter = session.waiting.get(fields[1]!);
      if (waiter) {
        session.waiting.delete(fields[1]!);
        waiter.resolve(line);
      }
    }
  };
  socket.onClosed = (err) => {
    session.closed = err;
    handshakeFailed(err);
    for (const waiter of session.waiting.values()) waiter.reject(err);
    session.waiting.clear();
  };
  socket.write(`VERSION\t1\t2\nCPID\t${process.pid}\n`);
  const timer = setTimeout(() => handshakeFailed(new ProtocolError('auth handshake timed out')), 20_000);
  try {
    await handshake;
  } catch (err) {
    socket.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return session;
}

function authenticate(session: AuthSession, user: string, password: string): Promise<string> {
  const id = String(session.nextId++);
  const resp = Buffer.from(`\0${user}\0${password}`).toString('base64');
  if (session.closed) return Promise.reject(session.closed);
  return new Promise((resolve, reject) => {
    session.waiting.set(id, { resolve, reject });
    session.socket.write(`AUTH\t${id}\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tresp=${resp}\n`);
  });
}

/** Stored forms measured: plaintext, a fast crypt and a deliberately slow one (issue: BLF-CRYPT cost 10). */
const SCHEMES = ['PLAIN', 'SHA512-CRYPT', 'BLF-CRYPT'] as const;
type Scheme = (typeof SCHEMES)[number];
/** Requests per measured repetition, by how long one check takes. */
const FULL_REQUESTS: Record<Scheme, number> = { PLAIN: 20000, 'SHA512-CRYPT': 2000, 'BLF-CRYPT': 400 };
const QUICK_REQUESTS: Record<Scheme, number> = { PLAIN: 200, 'SHA512-CRYPT': 100, 'BLF-CRYPT': 40 };

/** Eight users per scheme, named after it, with the password stored in that scheme (hashed by Roost's scheme code). */
async function hashedUsers(scheme: (typeof SCHEMES)[number]): Promise<BenchUser[]> {
  const users = benchUsers(8).map((u) => ({ ...u, name: `${u.name}-${scheme.toLowerCase()}` }));
  if (scheme === 'PLAIN') return users;
  return Promise.all(users.map(async (u) => ({ ...u, passwordHash: await hashPassword(scheme, u.password, { blfCryptCost: 10 }) })));
}

const auth: Workload = {
  name: 'auth',
  description: 'AUTH PLAIN on the auth-client socket (passwd-file passdb), as Postfix asks it; success path only; passwords stored as PLAIN, SHA512-CRYPT and BLF-CRYPT cost 10',
  opName: 'auths',
  cases() {
    const out = [];
    for (const scheme of SCHEMES) {
      out.push({ id: `${scheme}-c1-w1`, label: `${scheme}, 1 conn, 1 in flight`, params: { scheme, connections: 1, window: 1 } });
      out.push({ id: `${scheme}-c4-w16`, label: `${scheme}, 4 conn, 16 in flight`, params: { scheme, connections: 4, window: 16 } });
    }
    return out;
  },
  async setup(kind, context) {
    const users = (await Promise.all(SCHEMES.map((scheme) => hashedUsers(scheme)))).flat();
    return startSide(kind, context, { users, services: ['auth'] });
  },
  async run(server, benchCase, { options, warmup }) {
    const suffix = `-${String(benchCase.params.scheme).toLowerCase()}`;
    const users = server.users.filter((u) => u.name.endsWith(suffix));
    const connections = Number(benchCase.params.connections);
    const window = Number(benchCase.params.window);
    // Slow hashes are slow by design (BLF-CRYPT cost 10: tens of milliseconds per check; SHA512-CRYPT 5000 rounds: a few):
    // fewer requests keep a full run's repetitions to seconds, not many minutes.
    const perRep = scaled(options.quick, QUICK_REQUESTS[benchCase.params.scheme as Scheme], FULL_REQUESTS[benchCase.params.scheme as Scheme], options.scale);
    const total = warmup ? Math.ceil(perRep / 4) : perRep;
    const target = server.endpoints.authSocket ? { path: server.endpoints.authSocket } : { port: server.endpoints.authPort! };
    // Each connection runs `window` request streams side by side: that many requests stay in flight.
    const streams = connections * window;
    const sessions: AuthSession[] = [];
    for (let c = 0; c < connections; c++) sessions.push(await openAuth(target, window));
    try {
      return await runConcurrent<AuthSession>(
        total,
        streams,
        async (stream) => sessions[stream % connections]!,
        async (session, op, latencies) => {
          const user = users[op % users.length]!;
          const started = performance.now();
          const reply = await authenticate(session, user.name, user.password);
          if (!reply.startsWith('OK\t') || !/\tuser=/.test(reply)) throw new ProtocolError(`AUTH: ${reply}`);
          latencies.push(performance.now() - started);
          return 0;
        },
        async () => undefined,
        minRunSeconds(options, warmup),
      );
    } finally {
      for (const s of sessions) s.socket.close();
    }
  },
  teardown: (server) => server.stop(),
};

export default auth;
