// Test harness: starts the real roost daemon as a child process on a temp data directory with
// every port on "auto" (127.0.0.1, OS-chosen), reads the bound ports from its ready line, stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const mainScript = join(repoRoot, 'src', 'main.ts');

/**
 * The Node options `npm start` gives the daemon (the words between "node" and "bin/roost.js" of package.json's start
 * script; the systemd unit passes the same): tests and benchmarks run the daemon as an admin's start command does.
 */
export function daemonNodeOptions(): string[] {
  const start = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = start.trim().split(/\s+/);
  return words.slice(1, words.indexOf('bin/roost.js'));
}

export interface RoostUser {
  name: string;
  password: string;
  /** A stored hash ({SCHEME}...) for the passwd-file instead of {PLAIN}password. */
  passwordHash?: string;
  /** Extra passwd-file fields after the shell field, e.g. "userdb_mail=mbox:~/mail". */
  extra?: string;
  home?: string;
}

export interface StartOptions {
  dataDir?: string;
  /** Extra TOML appended after the harness's own settings (later keys of the same table are merged by section). */
  configToml?: string;
  users?: RoostUser[];
  env?: Record<string, string>;
  /** Keep the data directory after stop (default: removed if the harness made it). */
  keepData?: boolean;
  /** Run the built daemon (dist/main.js, `npm run build`) instead of the sources through tsx (benchmarks). */
  built?: boolean;
  /**
   * Let the daemon generate its self-signed certificate as on a first start. By default the harness puts one
   * shared test certificate in <data>/certs first, so that each start does not spend half a second on RSA.
   */
  generateCert?: boolean;
}

export interface BoundListener {
  service: string;
  name: string;
  kind: string;
  address?: string;
  port?: number;
  path?: string;
}

export interface RoostHandle {
  dataDir: string;
  pid: number;
  /** Port of each TCP listener by listener name: imap, imaps, pop3, pop3s, lmtp, auth, ... */
  ports: Record<string, number>;
  /** Path of each unix listener by name: lmtp-unix, auth-client, auth-userdb, ... */
  paths: Record<string, string>;
  listeners: BoundListener[];
  child: ChildProcess;
  /** Every line the daemon wrote to stdout/stderr so far. */
  output: string[];
  /** Waits for a log line matching the predicate (ceiling 20 s). */
  waitForLog(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** SIGTERM and wait for exit; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Every listener on "auto" so parallel tests never collide; services keep their other defaults. */
const AUTO_PORTS: Record<string, string[]> = {
  imap: ['port', 'ssl_port', 'websocket_port'],
  pop3: ['port', 'ssl_port'],
  lmtp: ['port'],
  auth: ['port'],
  smtp: ['port', 'submission_port', 'smtps_port'],
};

/** Merges the harness's settings with the caller's TOML: the caller's keys win. */
export function buildConfig(extraToml = ''): string {
  const sections = new Map<string, string[]>();
  let current = '';
  for (const line of extraToml.split('\n')) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      current = header[1].trim();
      if (!sections.has(current)) sections.set(current, []);
      continue;
    }
    if (!sections.has(current)) sections.set(current, []);
    sections.get(current)!.push(line);
  }
  const out: string[] = [];
  const keyIn = (sec: string, key: string) => (sections.get(sec) ?? []).some((l) => new RegExp(`^\\s*${key}\\s*=`).test(l));
  const base: Record<string, string[]> = {
    server: ['listen = ["127.0.0.1"]', 'hostname = "roost.test"', 'shutdown_grace = "3s"'],
    auth: ['auth_failure_delay = "100ms"'],
    log: ['level = "debug"'],
  };
  for (const [sec, keys] of Object.entries(AUTO_PORTS)) base[sec] = [...(base[sec] ?? []), ...keys.map((k) => `${k} = "auto"`)];
  const names = new Set([...Object.keys(base), ...sections.keys()]);
  for (const sec of names) {
    if (sec === '') continue;
    out.push(`[${sec}]`);
    for (const line of base[sec] ?? []) {
      const key = line.split('=')[0].trim();
      if (!keyIn(sec, key)) out.push(line);
    }
    out.push(...(sections.get(sec) ?? []));
    out.push('');
  }
  return out.join('\n');
}

export function passwdLine(u: RoostUser): string {
  return `${u.name}:${u.passwordHash ?? `{PLAIN}${u.password}`}::::${u.home ?? ''}::${u.extra ?? ''}`;
}

/** The shared test certificate (CN roost.test, as the harness's hostname), made once per machine and reused. */
async function testCertificate(): Promise<{ cert: string; key: string }> {
  const dir = join(tmpdir(), 'roost-test-certificate-v1');
  const certFile = join(dir, 'roost.crt');
  const keyFile = join(dir, 'roost.key');
  if (existsSync(certFile) && existsSync(keyFile)) return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  const { generateSelfSigned } = await import('../../src/tls/self-signed.js');
  const pair = generateSelfSigned('roost.test');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written under temporary names and renamed (key first), so a parallel test never reads half a file.
  for (const [file, data] of [[keyFile, pair.key], [certFile, pair.cert]] as const) {
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, file);
  }
  return pair;
}

/** Puts the shared test certificate where the daemon looks for its self-signed one, unless one is there. */
async function seedTestCertificate(dataDir: string): Promise<void> {
  const certs = join(dataDir, 'certs');
  if (existsSync(join(certs, 'roost.crt'))) return;
  const { cert, key } = await testCertificate();
  mkdirSync(certs, { recursive: true, mode: 0o755 });
  writeFileSync(join(certs, 'roost.key'), key, { mode: 0o600 });
  writeFileSync(join(certs, 'roost.crt'), cert, { mode: 0o644 });
}

export async function startRoost(opts: StartOptions = {}): Promise<RoostHandle> {
  const madeDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'roost-test-'));
  mkdirSync(dataDir, { recursive: true });
  const configFile = join(dataDir, 'roost-test.toml');
  writeFileSync(configFile, buildConfig(opts.configToml));
  if (opts.users) writeFileSync(join(dataDir, 'passwd'), opts.users.map(passwdLine).join('\n') + '\n');
  if (!opts.generateCert) await seedTestCertificate(dataDir);

  const entry = opts.built ? [join(repoRoot, 'dist', 'main.js')] : ['--import', 'tsx', mainScript];
  // ROOST_DAEMON_NODE_ARGS adds Node options to the daemon only (profiling a benchmark: "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const nodeArgs = (process.env.ROOST_DAEMON_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...daemonNodeOptions(), ...nodeArgs, ...entry, 'serve', '--data', dataDir, '--config', configFile], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const onLine = (line: string) => {
    output.push(line);
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (pred: (l: string) => boolean, timeoutMs = 20_000): Promise<string> => {
    const seen = output.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a log line; output:\n${output.slice(-30).join('\n')}`)), timeoutMs);
      const w = {
        pred,
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      waiters.push(w);
      exited.then((code) => {
        clearTimeout(timer);
        if (waiters.includes(w)) reject(new Error(`roost exited (${code}) before the expected log line; output:\n${output.slice(-30).join('\n')}`));
      });
    });
  };

  const readyLine = await waitForLog((l) => l.includes('"msg":"ready"'), 60_000);
  const ready = JSON.parse(readyLine) as { listeners: BoundListener[] };
  const ports: Record<string, number> = {};
  const paths: Record<string, string> = {};
  for (const l of ready.listeners) {
    if (l.port !== undefined) ports[l.name] = l.port;
    if (l.path !== undefined) paths[l.name] = l.path;
  }

  const cleanup = () => {
    if (madeDir && !opts.keepData) rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    dataDir,
    pid: child.pid!,
    ports,
    paths,
    listeners: ready.listeners,
    child,
    output,
    waitForLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      cleanup();
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      cleanup();
    },
  };
}
