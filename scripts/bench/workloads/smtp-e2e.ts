// Workload "smtp-e2e": end-to-end mail rate, SMTP in (RFC 5321, PIPELINING RFC 2920) → queue → LMTP (RFC 2033) →
// Maildir, counted until the files are in new/: Roost alone beside Postfix delivering to Dovecot's LMTP. Both sides
// hand mail to LMTP over a unix-domain socket and fsync what they acknowledge: Postfix its queue file, Dovecot
// (mail_fsync = optimized) each mail file, new/ and dovecot-uidlist; Roost its queue file and queue directory, each
// mail file, new/ and dovecot-uidlist.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { canConnect, peerAvailable, processTree, startDovecot, startPostfix, waitFor } from '../../../test/interop/peers.js';
import { DEFAULT_CACHE_DIR, REPO_ROOT, wireMessage } from '../corpus.js';
import { benchUsers, roostVersion } from '../sides.js';
import { LineSocket, ProtocolError, smtpReply } from '../net.js';
import { SideUnavailable, type BenchCase, type BenchUser, type Server, type Workload } from '../types.js';
import { deliveryUserCount, nextRecipients, primeMailboxes, runConcurrent, scaled } from './common.js';

const SIZES = [4 * 1024, 100 * 1024];
const CONNECTIONS = [1, 8];
const POOL = 16;
const pools = new Map<number, Buffer[]>();

function messagePool(size: number): Buffer[] {
  let pool = pools.get(size);
  if (!pool) {
    pool = Array.from({ length: POOL }, (_, i) => wireMessage(11, 200_000 + size + i, size));
    pools.set(size, pool);
  }
  return pool;
}

/** A running side plus where its users' Maildirs are, so the run can count delivered files. */
interface E2eServer extends Server {
  maildirs: string[];
}

/** Files in new/ and cur/ of every user's Maildir (the LMTP servers write into new/). */
/** Messages in the Maildirs of `users`. */
function delivered(server: E2eServer, users: BenchUser[]): number {
  let n = 0;
  for (const user of users) {
    const dir = server.maildirs[server.users.indexOf(user)]!;
    for (const sub of ['new', 'cur']) {
      const path = join(dir, sub);
      if (existsSync(path)) n += readdirSync(path).length;
    }
  }
  return n;
}

function checkCode(reply: { code: number; text: string }, want: number): void {
  if (reply.code !== want) throw new ProtocolError(`expected ${want}, got ${reply.text}`);
}

interface RoostHelper {
  startRoost(opts: { dataDir?: string; configToml?: string; users?: BenchUser[]; built?: boolean }): Promise<{ ports: Record<string, number>; dataDir: string; pid: number; stop(): Promise<unknown> }>;
}

let built = false;

/** True when every src/**.ts has its dist/**.js at least as new (nothing to build). */
function distIsCurrent(): boolean {
  const src = join(REPO_ROOT, 'src');
  const walk = (dir: string): boolean => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!walk(path)) return false;
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const out = join(REPO_ROOT, 'dist', relative(src, path).replace(/\.ts$/, '.js'));
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(path).mtimeMs) return false;
      }
    }
    return true;
  };
  return walk(src);
}

/** Builds dist/ as `npm run build` does, incrementally (tsc's build info kept in bench/cache), and only when stale. */
function ensureBuilt(): void {
  if (built) return;
  if (!distIsCurrent()) {
    const info = join(DEFAULT_CACHE_DIR, 'smtp-e2e-dist.tsbuildinfo');
    mkdirSync(DEFAULT_CACHE_DIR, { recursive: true });
    if (!existsSync(join(REPO_ROOT, 'dist', 'main.js'))) rmSync(info, { force: true });
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', info], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    if (result.status !== 0) throw new SideUnavailable('not available (building dist/ failed)');
  }
  built = true;
}

async function startRoostE2e(dir: string, users: BenchUser[]): Promise<E2eServer> {
  // Benchmarks run the built daemon (dist/), as an installed Roost runs.
  ensureBuilt();
  const helper = (await import(pathToFileURL(join(REPO_ROOT, 'test', 'helpers', 'roost.ts')).href)) as RoostHelper;
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const roost = await helper.startRoost({ dataDir, users, built: true, configToml: '[log]\nlevel = "info"\n' });
  const port = roost.ports.smtp;
  if (!port || !(await canConnect(port))) {
    await roost.stop();
    throw new SideUnavailable('not available (Roost has no SMTP listener)');
  }
  return {
    kind: 'roost',
    label: `Roost ${roostVersion()}`,
    endpoints: { smtp: port },
    users,
    maildirs: users.map((u) => join(dataDir, 'mail', u.name, 'Maildir')),
    pids: () => processTree(roost.pid),
    stop: async () => {
      await roost.stop();
    },
  };
}

async function startPostfixDovecot(dir: string, users: BenchUser[]): Promise<E2eServer> {
  if (!peerAvailable('dovecot') || !peerAvailable('postfix')) throw new SideUnavailable('Postfix or Dovecot is not installed (scripts/install-peers)');
  const dovecot = await startDovecot({ dir: join(dir, 'dovecot'), users, protocols: ['lmtp'], fsync: true });
  let postfix: Awaited<ReturnType<typeof startPostfix>>;
  try {
    // Dovecot's LMTP unix socket (run/lmtp, mode 0666), as Postfix is usually set up for Dovecot and as Roost's queue
    // manager reaches its own LMTP; LMTP over loopback TCP would cost the baseline alone.
    postfix = await startPostfix({ dir: join(dir, 'postfix'), mailboxTransport: `lmtp:unix:${join(dirname(dovecot.authSocket), 'lmtp')}` });
  } catch (err) {
    await dovecot.stop();
    throw err;
  }
  const version = spawnSync('postconf', ['-d', '-h', 'mail_version'], { encoding: 'utf8' }).stdout.trim();
  return {
    kind: 'baseline',
    label: `Postfix ${version} + Dovecot LMTP`,
    endpoints: { smtp: postfix.smtpPort },
    users,
    maildirs: users.map((u) => join(dovecot.mailRoot, u.name)),
    pids: () => [...postfix.pids(), ...dovecot.pids()],
    stop: async () => {
      await postfix.stop();
      await dovecot.stop();
    },
  };
}

interface Session {
  socket: LineSocket;
}

const smtpE2e: Workload = {
  name: 'smtp-e2e',
  description: 'SMTP in → queue → LMTP → Maildir, timed until every message is a file in new/; Roost alone beside Postfix delivering to Dovecot LMTP, both over a unix socket, saves fsynced on both sides; each repetition delivers to four users of its own, whose mailboxes hold one message before it',
  opName: 'messages',
  reportBytes: true,
  cases(options) {
    const out: BenchCase[] = [];
    // A quick run keeps the 8-connection cases (where a queue manager's concurrency shows).
    for (const size of SIZES)
      for (const connections of options.quick ? [8] : CONNECTIONS)
        out.push({ id: `${size / 1024}k-c${connections}`, label: `${size / 1024} KB, ${connections} conn`, params: { size, connections } });
    return out;
  },
  async setup(kind, context) {
    const users = benchUsers(deliveryUserCount(this.cases(context.options).length, context.options));
    const server = kind === 'roost' ? await startRoostE2e(context.dir, users) : await startPostfixDovecot(context.dir, users);
    try {
      await primeMailboxes(server.endpoints.smtp!, 'EHLO', users);
      await waitFor(`a first message in each of ${users.length} Maildirs (${server.label})`, () => delivered(server, users) >= users.length, 120_000, 20);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  },
  async run(server: Server, benchCase, { options, warmup }) {
    const side = server as E2eServer;
    const size = Number(benchCase.params.size);
    const connections = Number(benchCase.params.connections);
    const perRep = size > 10_000 ? scaled(options.quick, 24, 200, options.scale) : scaled(options.quick, 60, 800, options.scale);
    // The warm-up is a whole repetition: per-message code (SMTP session, queue, LMTP, save) runs once per message, and
    // with a quarter of one the first measured repetitions of a 1-connection case were half as fast as the last.
    const total = options.quick && warmup ? Math.max(connections, Math.ceil(perRep / 4)) : perRep;
    const pool = messagePool(size);
    const port = server.endpoints.smtp!;
    const recipients = nextRecipients(server);
    const before = delivered(side, recipients);
    const started = performance.now();
    const sent = await runConcurrent<Session>(
      total,
      connections,
      async () => {
        const socket = await LineSocket.connect({ port });
        checkCode(await socket.expect(smtpReply()), 220);
        checkCode(await socket.send('EHLO bench.client.test\r\n', smtpReply()), 250);
        return { socket };
      },
      async (session, op, latencies) => {
        const user = recipients[op % recipients.length]!.name;
        const message = pool[op % pool.length]!;
        const t0 = performance.now();
        const mail = session.socket.expect(smtpReply());
        const rcpt = session.socket.expect(smtpReply());
        const data = session.socket.expect(smtpReply());
        session.socket.write(`MAIL FROM:<sender@example.org> SIZE=${message.length}\r\nRCPT TO:<${user}@localhost>\r\nDATA\r\n`);
        const [mailReply, rcptReply, dataReply] = await Promise.all([mail, rcpt, data]);
        checkCode(mailReply, 250);
        checkCode(rcptReply, 250);
        checkCode(dataReply, 354);
        checkCode(await session.socket.send(message, smtpReply()), 250);
        latencies.push(performance.now() - t0);
        return message.length;
      },
      async (session) => {
        await session.socket.send('QUIT\r\n', smtpReply()).catch(() => undefined);
        session.socket.close();
      },
    );
    // The clock stops when the last accepted message is a file in a Maildir, not at the last 250.
    const want = before + sent.ops;
    await waitFor(`${sent.ops} messages in the Maildirs (${server.label})`, () => delivered(side, recipients) >= want, 120_000, 5);
    const seconds = (performance.now() - started) / 1000;
    return { ...sent, seconds };
  },
  teardown: (server) => server.stop(),
};

export default smtpE2e;
