// IMAP benchmark sides that can be restarted over the same store (a cold server for the next repetition) and take extra
// settings (connection limits), for the imap-* workloads: Roost built from dist/ and Debian's Dovecot through test/interop/peers.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { canConnect, dovecotVersion, peerAvailable, processTree, startDovecot } from '../../test/interop/peers.js';
import { REPO_ROOT } from './corpus.js';
import { pinServer } from './cpu-pinning.js';
import { roostVersion } from './sides.js';
import { SideUnavailable, type BenchUser, type Server, type SetupContext, type SideKind } from './types.js';

export interface ImapSideOptions {
  users: BenchUser[];
  /** writes a user's store before the first start: gets the user's Maildir root (INBOX; Maildir++ folders as .Name) */
  populate?: (user: string, maildir: string) => void;
  /** TOML merged into Roost's configuration (after "[log] level = info") */
  roostToml?: string;
  /** appended to the generated dovecot.conf (later settings win) */
  dovecotConfig?: string;
}

/** A running side that can be stopped and started again over the same store and index (new ports each time). */
export interface ImapServer extends Server {
  restart(): Promise<void>;
  /** where a user's Maildir lives on this side (for stores added while the server runs) */
  maildirOf(user: string): string;
  /** the owner a file written into the store must have (Dovecot runs as vmail), if any */
  mailOwner?: { uid: number; gid: number };
}

interface RoostHelper {
  startRoost(opts: { dataDir?: string; configToml?: string; users?: { name: string; password: string }[]; built?: boolean }): Promise<{
    ports: Record<string, number>;
    pid: number;
    stop(): Promise<unknown>;
  }>;
}

let buildResult: string | undefined;

/** Builds dist/ once per run; skipped when the harness's own sides already built it during this run. */
export function ensureBuilt(): void {
  if (buildResult === 'ok') return;
  if (buildResult !== undefined) throw new SideUnavailable(buildResult);
  const main = join(REPO_ROOT, 'dist', 'main.js');
  const startedAt = Date.now() - process.uptime() * 1000;
  if (existsSync(main) && statSync(main).mtimeMs >= startedAt) {
    buildResult = 'ok';
    return;
  }
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  buildResult = result.status === 0 ? 'ok' : 'not available (npm run build failed)';
  if (buildResult !== 'ok') throw new SideUnavailable(buildResult);
}

export async function startImapSide(kind: SideKind, context: SetupContext, options: ImapSideOptions): Promise<ImapServer> {
  return kind === 'roost' ? startRoostImap(context.dir, options) : startDovecotImap(context.dir, options);
}

async function startDovecotImap(dir: string, options: ImapSideOptions): Promise<ImapServer> {
  if (!peerAvailable('dovecot')) {
    spawnSync(join(REPO_ROOT, 'scripts', 'install-peers'), { stdio: 'inherit' });
    if (!peerAvailable('dovecot')) throw new SideUnavailable('Dovecot is not installed (scripts/install-peers failed)');
  }
  const maildirOf = (user: string) => join(dir, 'mail', user);
  for (const user of options.users) {
    if (!options.populate) continue;
    mkdirSync(maildirOf(user.name), { recursive: true });
    options.populate(user.name, maildirOf(user.name));
  }
  const start = () =>
    startDovecot({ dir, users: options.users, protocols: ['imap'], fsync: true, extraConfig: options.dovecotConfig });
  let dovecot = await start();
  const label = `Dovecot ${(await dovecotVersion()).split(' ')[0]}`;
  const server: ImapServer = {
    kind: 'baseline',
    label,
    endpoints: { imap: dovecot.imapPort },
    users: options.users,
    pids: () => dovecot.pids(),
    stop: () => dovecot.stop(),
    async restart() {
      await dovecot.stop();
      dovecot = await start();
      pinServer(dovecot.pids());
      server.endpoints.imap = dovecot.imapPort;
    },
    maildirOf,
    mailOwner: { uid: dovecot.mailUser.uid, gid: dovecot.mailUser.gid },
  };
  return server;
}

async function startRoostImap(dir: string, options: ImapSideOptions): Promise<ImapServer> {
  const helperPath = join(REPO_ROOT, 'test', 'helpers', 'roost.ts');
  if (!existsSync(helperPath)) throw new SideUnavailable('not yet available (test/helpers/roost.ts is missing)');
  const helper = (await import(pathToFileURL(helperPath).href)) as RoostHelper;
  const dataDir = join(dir, 'data');
  // the default mail location is maildir:<data>/mail/%u/Maildir
  const maildirOf = (user: string) => join(dataDir, 'mail', user, 'Maildir');
  mkdirSync(dataDir, { recursive: true });
  for (const user of options.users) {
    if (!options.populate) continue;
    mkdirSync(maildirOf(user.name), { recursive: true });
    options.populate(user.name, maildirOf(user.name));
  }
  ensureBuilt();
  const configToml = `[log]\nlevel = "info"\n${options.roostToml ?? ''}`;
  const start = async () => {
    try {
      const roost = await helper.startRoost({ dataDir, users: options.users, built: true, configToml });
      if (!roost.ports.imap || !(await canConnect(roost.ports.imap))) {
        await roost.stop();
        throw new Error('no IMAP listener');
      }
      return roost;
    } catch (err) {
      const lines = (err as Error).message.split('\n');
      const cause = lines.find((l) => /error|fatal/i.test(l)) ?? lines.slice(-3).join(' | ');
      throw new SideUnavailable(`not yet available (Roost did not start: ${lines[0]} ${cause})`);
    }
  };
  let roost = await start();
  const server: ImapServer = {
    kind: 'roost',
    label: `Roost ${roostVersion()}`,
    endpoints: { imap: roost.ports.imap },
    users: options.users,
    pids: () => processTree(roost.pid),
    stop: async () => {
      await roost.stop();
    },
    async restart() {
      await roost.stop();
      roost = await start();
      pinServer(processTree(roost.pid));
      server.endpoints.imap = roost.ports.imap;
    },
    maildirOf,
  };
  return server;
}
