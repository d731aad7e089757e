// Workload "index-rebuild": `roost index rebuild USER` of one large Maildir INBOX (full run 100,000 messages, quick 2,000)
// beside Dovecot's `doveadm force-resync` of its own copy of the same store (Dovecot's index rebuild from Maildir + dovecot-uidlist).
//
// The fair equivalent: before each repetition both sides lose their index and keep the store with its dovecot-uidlist
// (Roost: `roost index delete`; Dovecot: the dovecot.index* files are removed), then one command recreates the index from
// the Maildir, keeping UIDs and flags. `doveadm index` is not used: it also precaches message contents, which Roost's
// rebuild does not do (Roost reads names, the uidlist and one stat per file; Dovecot's resync reads names and the uidlist).
// Each side's command runs as a child of a long-lived shell, so its CPU time (reaped into the shell) and memory are its own.
// Roost's time includes starting Node and loading the built daemon (dist/), as an admin running the command sees it; a
// command shorter than the harness's 250 ms PSS sampling shows only the shell's memory (quick runs of doveadm).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { dovecotVersion, findBinary, peerAvailable, processTree, startDovecot, type DovecotHandle } from '../../../test/interop/peers.js';
import { buildConfig, passwdLine } from '../../../test/helpers/roost.js';
import { REPO_ROOT, copyMaildir } from '../corpus.js';
import { ensureBuilt } from '../imap-side.js';
import { benchUsers, roostVersion } from '../sides.js';
import { SideUnavailable, type BenchOptions, type Server, type Workload, type WorkloadRun } from '../types.js';
import { scaled } from './common.js';

/** SELECT-sized messages are irrelevant here: a rebuild reads names and metadata; the tail is capped so 100,000 fit twice. */
const TAIL_MAX = 64 * 1024;
const REBUILD_TIMEOUT_MS = 900_000;
/** A run repeats drop + rebuild until its rebuilds took this long (at least one): a rebuild of milliseconds is not one sample. */
const MIN_RUN_SECONDS = 2;

function messageCount(options: BenchOptions): number {
  return scaled(options.quick, 2000, 100_000, options.scale);
}

/** The lines of a failed command's output worth a report: those naming an error, else the last ones. */
function errorLines(output: string): string {
  const lines = output.trim().split('\n');
  const errors = lines.filter((l) => /error/i.test(l) && !/^\s+at /.test(l));
  return (errors.length ? errors : lines).slice(-3).join(' | ');
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * A shell reading commands on stdin and running each as its child: the harness measures CPU (user + system, including
 * reaped children) and PSS over this shell's process tree, which is then exactly the measured command's.
 */
class CommandRunner {
  private readonly shell: ChildProcessWithoutNullStreams;
  private waiting?: { resolve: (code: number) => void; reject: (err: Error) => void };
  private readonly closed: Promise<void>;

  constructor(private readonly errFile: string) {
    this.shell = spawn('bash', ['--noprofile', '--norc', '-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.shell.stdout }).on('line', (line) => {
      const m = /^__done (\d+)$/.exec(line);
      if (m && this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w.resolve(Number(m[1]));
      }
    });
    this.shell.stderr.resume();
    this.closed = new Promise((resolve) =>
      this.shell.once('close', (code) => {
        this.waiting?.reject(new Error(`the command shell exited (${code})`));
        this.waiting = undefined;
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.shell.pid!;
  }

  /** Runs argv (stdout discarded, stderr kept for the error); resolves after the command exited, rejects on a non-zero status. */
  async run(argv: string[], timeoutMs: number): Promise<void> {
    if (this.waiting) throw new Error('command shell busy');
    const code = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${argv.slice(0, 3).join(' ')} did not finish within ${timeoutMs} ms`)), timeoutMs);
      this.waiting = {
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.shell.stdin.write(`${argv.map(shellQuote).join(' ')} >/dev/null 2>${shellQuote(this.errFile)}; echo "__done $?"\n`);
    });
    if (code !== 0) {
      const err = existsSync(this.errFile) ? errorLines(readFileSync(this.errFile, 'utf8')) : '';
      throw new Error(`${argv.slice(0, 4).join(' ')} exited ${code}: ${err}`);
    }
  }

  async stop(): Promise<void> {
    this.shell.stdin.end();
    await this.closed;
  }
}

/** One side: a store with a user's INBOX, a way to drop its index (not measured) and the measured rebuild command. */
interface RebuildServer extends Server {
  runner: CommandRunner;
  count: number;
  dropIndex(): void;
  rebuildCommand: string[];
  /** messages in INBOX according to the side itself, after the rebuild */
  messages(): number;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 4).join(' ')} exited ${r.status}: ${errorLines(r.stderr || r.stdout)}`);
  return r.stdout;
}

async function startRoostRebuild(dir: string, count: number, populate: (maildir: string) => void): Promise<RebuildServer> {
  try {
    ensureBuilt();
  } catch (err) {
    throw err instanceof SideUnavailable ? err : new SideUnavailable(`not available (${(err as Error).message})`);
  }
  const user = benchUsers(1)[0]!;
  const dataDir = join(dir, 'data');
  // the default mail location is maildir:<data>/mail/%u/Maildir
  const maildir = join(dataDir, 'mail', user.name, 'Maildir');
  mkdirSync(maildir, { recursive: true });
  populate(maildir);
  const config = join(dataDir, 'roost.toml');
  writeFileSync(config, buildConfig('[log]\nlevel = "warn"\n'));
  writeFileSync(join(dataDir, 'passwd'), passwdLine(user) + '\n');
  const roost = (...args: string[]) => [process.execPath, join(REPO_ROOT, 'dist', 'main.js'), ...args, '--data', dataDir, '--config', config];
  const runner = new CommandRunner(join(dir, 'rebuild.err'));
  return {
    kind: 'roost',
    label: `Roost ${roostVersion()}`,
    endpoints: {},
    users: [user],
    pids: () => processTree(runner.pid),
    stop: () => runner.stop(),
    runner,
    count,
    dropIndex: () => {
      const [cmd, ...args] = roost('index', 'delete', user.name);
      run(cmd!, args);
    },
    rebuildCommand: roost('index', 'rebuild', user.name),
    messages: () => {
      const [cmd, ...args] = roost('mailbox', 'status', user.name, 'INBOX', '--field', 'messages');
      return Number(/messages=(\d+)/.exec(run(cmd!, args))?.[1]);
    },
  };
}

async function startDovecotRebuild(dir: string, count: number, populate: (maildir: string) => void): Promise<RebuildServer> {
  if (!peerAvailable('dovecot')) {
    spawnSync(join(REPO_ROOT, 'scripts', 'install-peers'), { stdio: 'inherit' });
    if (!peerAvailable('dovecot')) throw new SideUnavailable('Dovecot is not installed (scripts/install-peers failed)');
  }
  const user = benchUsers(1)[0]!;
  // startDovecot's default mail location is maildir:DIR/mail/%u, owned by its mail user; doveadm asks its auth for the user
  const maildir = join(dir, 'mail', user.name);
  mkdirSync(maildir, { recursive: true });
  populate(maildir);
  const dovecot: DovecotHandle = await startDovecot({ dir, users: [user], protocols: ['imap'], fsync: true });
  const doveadm = findBinary('doveadm')!;
  const runner = new CommandRunner(join(dir, 'rebuild.err'));
  return {
    kind: 'baseline',
    label: `Dovecot ${(await dovecotVersion()).split(' ')[0]}`,
    endpoints: {},
    users: [user],
    // only doveadm, the process that rebuilds; the idle daemon answers one userdb lookup
    pids: () => processTree(runner.pid),
    stop: async () => {
      await runner.stop();
      await dovecot.stop();
    },
    runner,
    count,
    dropIndex: () => {
      for (const name of readdirSync(maildir)) if (name.startsWith('dovecot.index')) rmSync(join(maildir, name), { force: true });
    },
    rebuildCommand: [doveadm, '-c', dovecot.configFile, 'force-resync', '-u', user.name, 'INBOX'],
    messages: () => Number(/messages=(\d+)/.exec(run(doveadm, ['-c', dovecot.configFile, 'mailbox', 'status', '-u', user.name, 'messages', 'INBOX']))?.[1]),
  };
}

const indexRebuild: Workload = {
  name: 'index-rebuild',
  description:
    "Rebuild of a large Maildir INBOX's index from the store and its dovecot-uidlist, UIDs kept: `roost index rebuild` beside `doveadm force-resync` after the dovecot.index* files are removed (the index dropped, untimed, before each rebuild; rebuilds repeated until a run took 2 s)",
  opName: 'rebuilds',
  cases(options) {
    const n = messageCount(options);
    return [{ id: 'rebuild', label: `${n} msgs, no index`, params: { count: n } }];
  },
  async setup(kind, context) {
    const count = messageCount(context.options);
    const corpus = await context.corpus(count, TAIL_MAX);
    context.log(`index-rebuild: copying ${count} messages into the ${kind} store`);
    const populate = (maildir: string) => copyMaildir(corpus, maildir);
    return kind === 'roost' ? startRoostRebuild(context.dir, count, populate) : startDovecotRebuild(context.dir, count, populate);
  },
  async run(server, _benchCase, { warmup }) {
    const side = server as RebuildServer;
    const latenciesMs: number[] = [];
    let seconds = 0;
    do {
      side.dropIndex();
      const started = performance.now();
      await side.runner.run(side.rebuildCommand, REBUILD_TIMEOUT_MS);
      const ms = performance.now() - started;
      latenciesMs.push(ms);
      seconds += ms / 1000;
      const messages = side.messages();
      if (messages !== side.count) throw new Error(`after the rebuild INBOX holds ${messages} messages, the corpus ${side.count}`);
    } while (!warmup && seconds < MIN_RUN_SECONDS);
    return { ops: latenciesMs.length, bytes: 0, seconds, latenciesMs, errors: 0 } satisfies WorkloadRun;
  },
  teardown: (server) => server.stop(),
};

export default indexRebuild;
