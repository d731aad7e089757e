// Launches the two sides of a benchmark over the same users and the same store: Debian's Dovecot (the baseline, through
// test/interop/peers) and Roost (through test/helpers/roost.ts once it exists; until then the side is reported unavailable).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync, spawnSync } from 'node:child_process';
import { canConnect, dovecotVersion, peerAvailable, processTree, startDovecot } from '../../test/interop/peers.js';
import { REPO_ROOT } from './corpus.js';
import { SideUnavailable, type BenchUser, type Endpoints, type Server } from './types.js';

export type Service = 'imap' | 'pop3' | 'lmtp' | 'auth';

export interface SideOptions {
  users: BenchUser[];
  /** the services the workload drives; the side must offer all of them */
  services: Service[];
  /** writes a user's store before the server starts: gets the user's Maildir path (cur/ new/ tmp/ to be created inside) */
  populate?: (user: string, maildir: string) => void;
}

/** Users bench0..bench(n-1) with fixed passwords. */
export function benchUsers(count: number): BenchUser[] {
  return Array.from({ length: count }, (_, i) => ({ name: `bench${i}`, password: `bench-pass-${i}` }));
}

let installAttempted = false;

/** Dovecot over the same users and store, fsync as Dovecot's default (mail_fsync = optimized: saves are fsynced, as Roost's are). */
export async function startBaseline(dir: string, options: SideOptions): Promise<Server> {
  if (!peerAvailable('dovecot') && !installAttempted) {
    installAttempted = true;
    process.stderr.write('bench: Dovecot is missing, running scripts/install-peers\n');
    spawnSync(join(REPO_ROOT, 'scripts', 'install-peers'), { stdio: 'inherit' });
  }
  if (!peerAvailable('dovecot')) throw new SideUnavailable('Dovecot is not installed (scripts/install-peers failed)');
  const protocols = options.services.filter((s): s is 'imap' | 'pop3' | 'lmtp' => s !== 'auth');
  // startDovecot's default mail location is maildir:DIR/mail/%u
  for (const user of options.users) {
    if (options.populate) {
      const maildir = join(dir, 'mail', user.name);
      mkdirSync(maildir, { recursive: true });
      options.populate(user.name, maildir);
    }
  }
  const dovecot = await startDovecot({
    dir,
    users: options.users,
    protocols: protocols.length > 0 ? protocols : ['imap'],
    fsync: true,
  });
  const endpoints: Endpoints = {};
  if (protocols.includes('imap')) endpoints.imap = dovecot.imapPort;
  if (protocols.includes('pop3')) endpoints.pop3 = dovecot.pop3Port;
  if (protocols.includes('lmtp')) endpoints.lmtp = dovecot.lmtpPort;
  if (options.services.includes('auth')) endpoints.authSocket = dovecot.authSocket;
  return {
    kind: 'baseline',
    label: `Dovecot ${(await dovecotVersion()).split(' ')[0]}`,
    endpoints,
    users: options.users,
    pids: () => dovecot.pids(),
    stop: () => dovecot.stop(),
  };
}

interface RoostHelper {
  startRoost(opts: { dataDir?: string; configToml?: string; users?: { name: string; password: string; passwordHash?: string }[]; built?: boolean }): Promise<{
    ports: Record<string, number>;
    paths?: Record<string, string>;
    dataDir: string;
    pid: number;
    stop(): Promise<unknown>;
  }>;
}

let built = false;

/** Builds dist/ once per run (npm run build), so the numbers are those of the installed daemon. */
function ensureBuilt(): void {
  if (built) return;
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new SideUnavailable('not available (npm run build failed)');
  built = true;
}

let cachedRoostVersion: string | undefined;

/** Roost's package version and commit, read once per run so every row of a run names the same build. */
export function roostVersion(): string {
  if (cachedRoostVersion) return cachedRoostVersion;
  let commit = '';
  try {
    commit = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  cachedRoostVersion = commit ? `${pkg.version} (${commit})` : pkg.version;
  return cachedRoostVersion;
}

/** Roost over the same users and store, in its default configuration (durable saves). */
export async function startRoostSide(dir: string, options: SideOptions): Promise<Server> {
  const helperPath = join(REPO_ROOT, 'test', 'helpers', 'roost.ts');
  if (!existsSync(helperPath)) throw new SideUnavailable('not yet available (test/helpers/roost.ts is missing)');
  let helper: RoostHelper;
  try {
    helper = (await import(pathToFileURL(helperPath).href)) as RoostHelper;
  } catch (err) {
    throw new SideUnavailable(`not yet available (test/helpers/roost.ts does not load: ${(err as Error).message.split('\n')[0]})`);
  }
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  for (const user of options.users) {
    if (options.populate) {
      // DECISIONS.md: the default mail location is maildir:<data>/mail/%u/Maildir
      const maildir = join(dataDir, 'mail', user.name, 'Maildir');
      mkdirSync(maildir, { recursive: true });
      options.populate(user.name, maildir);
    }
  }
  let roost: Awaited<ReturnType<RoostHelper['startRoost']>>;
  try {
    // Benchmarks run the built daemon, as an installed Roost runs (npm run build), at the default log level.
    ensureBuilt();
    roost = await helper.startRoost({ dataDir, users: options.users, built: true, configToml: '[log]\nlevel = "info"\n' });
  } catch (err) {
    const lines = (err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean);
    const cause = lines.slice(1).find((l) => /error/i.test(l)) ?? lines.at(-1);
    const detail = lines.length > 1 ? `${lines[0]!.replace(/;? *output:$/, '')}: ${cause}` : lines[0];
    throw new SideUnavailable(`not yet available (Roost did not start: ${detail})`);
  }
  const endpoints: Endpoints = {};
  const missing: string[] = [];
  for (const service of options.services) {
    if (service === 'auth') {
      const path = roost.paths?.['auth-client'] ?? join(roost.dataDir, 'run', 'auth-client');
      if (existsSync(path)) endpoints.authSocket = path;
      else if (roost.ports.auth) endpoints.authPort = roost.ports.auth;
      else missing.push('auth');
    } else {
      const port = roost.ports[service];
      if (port && (await canConnect(port))) endpoints[service] = port;
      else missing.push(service);
    }
  }
  if (missing.length > 0) {
    await roost.stop();
    throw new SideUnavailable(`not yet available (Roost has no ${missing.join(', ')} service yet)`);
  }
  return {
    kind: 'roost',
    label: `Roost ${roostVersion()}`,
    endpoints,
    users: options.users,
    pids: () => processTree(roost.pid),
    stop: async () => {
      await roost.stop();
    },
  };
}
