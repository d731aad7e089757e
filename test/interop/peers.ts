// Starts and stops the real peers Roost is tested and benchmarked against (Dovecot, Postfix, slapd) and checks for client peers.
// Each daemon runs by hand on 127.0.0.1 with free high ports, its config in a temp dir, stopped by pid (see docs INTEROP.md).
import { execFile, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';

const execFileAsync = promisify(execFile);

export type PeerName =
  | 'dovecot'
  | 'postfix'
  | 'slapd'
  | 'swaks'
  | 'mutt'
  | 'mbsync'
  | 'fetchmail'
  | 'getmail'
  | 'tmux'
  | 'openssl';

/** The binaries each peer needs; all must be present for the peer to count as available. */
export const PEER_BINARIES: Record<PeerName, string[]> = {
  dovecot: ['dovecot', 'doveadm'],
  postfix: ['postfix', 'postconf'],
  slapd: ['slapd', 'slapadd', 'slappasswd', 'slaptest', 'ldapwhoami'],
  swaks: ['swaks'],
  mutt: ['mutt'],
  mbsync: ['mbsync'],
  fetchmail: ['fetchmail'],
  getmail: ['getmail'],
  tmux: ['tmux'],
  openssl: ['openssl'],
};

const EXTRA_BIN_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

/** Absolute path of an executable found on PATH or in the usual sbin directories, else undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      const st = statSync(candidate);
      if (st.isFile() && (st.mode & 0o111) !== 0) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function binary(name: string): string {
  const found = findBinary(name);
  if (!found) throw new Error(`peers: executable ${name} not found (run scripts/install-peers)`);
  return found;
}

export function peerAvailable(name: PeerName): boolean {
  return PEER_BINARIES[name].every((b) => findBinary(b) !== undefined);
}

/**
 * True when the peer is installed. Otherwise: with CI=true it throws (a missing peer fails the run);
 * elsewhere it marks the test skipped with a loud message and returns false, and the caller returns.
 */
export function requirePeer(t: TestContext | undefined, name: PeerName): boolean {
  if (peerAvailable(name)) return true;
  const missing = PEER_BINARIES[name].filter((b) => findBinary(b) === undefined).join(', ');
  const message = `PEER MISSING: ${name} (${missing} not found); run scripts/install-peers`;
  if (process.env.CI === 'true') throw new Error(message);
  process.stderr.write(`\n!!!!! ${message} -- SKIPPING !!!!!\n\n`);
  t?.skip(message);
  return false;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (listen on port 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: no address'));
        return;
      }
      const port = address.port;
      server.close(() => resolvePort(port));
    });
  });
}

/** Distinct free ports (no duplicates among them). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** chmod 0755 the directory and each parent up to (not including) the system temp dir, so peers running as their own users can reach it. */
export function makeTraversable(dir: string): void {
  const stop = resolve(tmpdir());
  let current = resolve(dir);
  for (;;) {
    if (current === stop || current === sep || current === dirname(current)) break;
    chmodSync(current, 0o755);
    if (!current.startsWith(stop + sep)) break; // outside tmpdir: only the directory itself
    current = dirname(current);
  }
}

/** Polls `condition` every `intervalMs` until it returns a truthy value or `timeoutMs` passes (then throws, naming `what`). */
export async function waitFor<T>(
  what: string,
  condition: () => T | Promise<T>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves true when a TCP connection to host:port succeeds, false when refused. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => {
      socket.destroy();
      done(false);
    });
  });
}

export async function waitForPort(port: number, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${what} listening on 127.0.0.1:${port}`, () => canConnect(port), timeoutMs);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); treat it as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return statField(stat, 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Field n (1-based, as in proc(5)) of a /proc/PID/stat line; the comm field may contain spaces. */
function statField(stat: string, n: number): string {
  const close = stat.lastIndexOf(')');
  if (n === 1) return stat.slice(0, stat.indexOf(' '));
  if (n === 2) return stat.slice(stat.indexOf('(') + 1, close);
  const rest = stat.slice(close + 2).split(' ');
  return rest[n - 3] ?? '';
}

/** The pid and all its live descendants, from the ppid fields in /proc. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(statField(stat, 4));
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (!processAlive(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Sum of PSS in bytes over the processes (from /proc/PID/smaps_rollup); processes that are gone count 0. */
export async function measurePss(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const match = /^Pss:\s+(\d+)\s+kB/m.exec(text);
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // process exited
    }
  }
  return total;
}

const CLOCK_TICKS = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/**
 * CPU seconds used so far by the processes: user + system time of each, plus the time of children
 * each has already reaped (so a Dovecot master counts its finished login and imap processes).
 */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      for (const field of [14, 15, 16, 17]) ticks += Number(statField(stat, field));
    } catch {
      // exited
    }
  }
  return ticks / CLOCK_TICKS;
}

/** SIGTERM the pids, wait until all are gone (ceiling), then SIGKILL what is left. */
export async function stopProcesses(pids: number[], what: string, timeoutMs = 20_000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  try {
    await waitFor(`${what} to exit`, () => pids.every((p) => !processAlive(p)), timeoutMs);
  } catch {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await waitFor(`${what} to exit after SIGKILL`, () => pids.every((p) => !processAlive(p)), 10_000);
  }
}

function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function run(cmd: string, args: string[], input?: string): Promise<string> {
  try {
    if (input !== undefined) {
      return await new Promise((done, fail) => {
        const child = execFile(binary(cmd), args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
          if (err) fail(Object.assign(err, { stdout, stderr }));
          else done(stdout);
        });
        child.stdin?.end(input);
      });
    }
    const { stdout } = await execFileAsync(binary(cmd), args, { encoding: 'utf8', maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/**
 * Runs a command that puts a daemon in the background and exits. Its stdout and stderr go to a file,
 * not to pipes: the daemon keeps the descriptors, so waiting for pipes to close would wait forever.
 */
async function launchDaemon(cmd: string, args: string[], outputFile: string): Promise<void> {
  const fd = openSync(outputFile, 'a');
  try {
    const child = spawn(binary(cmd), args, { stdio: ['ignore', fd, fd] });
    const code = await new Promise<number | null>((done, fail) => {
      child.once('error', fail);
      child.once('exit', (c) => done(c));
    });
    if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}\n${tail(outputFile)}`);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------- system users

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

function lookupUser(name: string): SystemUser | undefined {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) return undefined;
  const fields = r.stdout.trim().split(':');
  return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** The `vmail` system user that owns Dovecot's mail, created on first use (idempotent). */
export function ensureMailUser(name = 'vmail'): SystemUser {
  const existing = lookupUser(name);
  if (existing) return existing;
  const r = spawnSync(binary('useradd'), ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name], {
    encoding: 'utf8',
  });
  // Another process may have created it concurrently (exit 9: already exists).
  const created = lookupUser(name);
  if (!created) throw new Error(`peers: useradd ${name} failed (${r.status}): ${r.stderr}`);
  return created;
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
  }
}

// ---------------------------------------------------------------- Dovecot

export interface DovecotOptions {
  dir: string;
  users: { name: string; password: string; /** a stored hash ({SCHEME}...) instead of {PLAIN}password */ passwordHash?: string }[];
  /** default maildir:DIR/mail/%u */
  mailLocation?: string;
  /** false => mail_fsync = never (default: Dovecot's default, optimized) */
  fsync?: boolean;
  pop3LockSession?: boolean;
  /** appended to the generated dovecot.conf */
  extraConfig?: string;
  /** default all three */
  protocols?: ('imap' | 'pop3' | 'lmtp')[];
}

export interface DovecotHandle {
  imapPort: number;
  pop3Port: number;
  lmtpPort: number;
  /** an auth-client unix socket listener (mode 0666) */
  authSocket: string;
  /** directory holding each user's mail with the default mail location */
  mailRoot: string;
  configFile: string;
  logFile: string;
  mailUser: SystemUser;
  /** all processes of the server, for PSS */
  pids(): number[];
  stop(): Promise<void>;
}

export async function dovecotVersion(): Promise<string> {
  return (await run('dovecot', ['--version'])).trim();
}

export async function startDovecot(o: DovecotOptions): Promise<DovecotHandle> {
  const dir = resolve(o.dir);
  const protocols = o.protocols ?? ['imap', 'pop3', 'lmtp'];
  const mailUser = ensureMailUser();
  const baseDir = join(dir, 'run');
  const stateDir = join(dir, 'state');
  const mailRoot = join(dir, 'mail');
  const homeRoot = join(dir, 'home');
  for (const d of [dir, baseDir, stateDir, mailRoot, homeRoot]) mkdirSync(d, { recursive: true });
  makeTraversable(dir);
  chownSync(mailRoot, mailUser.uid, mailUser.gid);
  chownSync(homeRoot, mailUser.uid, mailUser.gid);

  const passwdFile = join(dir, 'passwd');
  const passwdLines = o.users.map((u) => {
    const home = join(homeRoot, u.name);
    mkdirSync(home, { recursive: true });
    chownSync(home, mailUser.uid, mailUser.gid);
    return `${u.name}:${u.passwordHash ?? `{PLAIN}${u.password}`}:${mailUser.uid}:${mailUser.gid}::${home}::`;
  });
  writeFileSync(passwdFile, passwdLines.join('\n') + '\n', { mode: 0o644 });
  // The mail location may point into an existing store (e.g. a copy of the bench corpus): let vmail own it.
  if (existsSync(mailRoot)) chownTree(mailRoot, mailUser.uid, mailUser.gid);

  const [imapPort, pop3Port, lmtpPort] = await freePorts(3);
  const enabled = (p: 'imap' | 'pop3' | 'lmtp') => protocols.includes(p);
  const configFile = join(dir, 'dovecot.conf');
  const logFile = join(dir, 'dovecot.log');
  const instance = `dovecot-${imapPort}`;
  const config = `# Generated by Roost's test/interop/peers for one test or benchmark run.
instance_name = ${instance}
base_dir = ${baseDir}
state_dir = ${stateDir}
log_path = ${logFile}
listen = 127.0.0.1
protocols = ${protocols.join(' ')}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
first_valid_uid = ${Math.min(mailUser.uid, 100)}
first_valid_gid = ${Math.min(mailUser.gid, 100)}
mail_location = ${o.mailLocation ?? `maildir:${mailRoot}/%u`}
mail_max_userip_connections = 1000
default_process_limit = 500
default_client_limit = 5000
default_vsz_limit = 0
mail_fsync = ${o.fsync === false ? 'never' : 'optimized'}
pop3_uidl_format = %08Xu%08Xv
pop3_lock_session = ${o.pop3LockSession ? 'yes' : 'no'}
lmtp_save_to_detail_mailbox = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${passwdFile}
}
userdb {
  driver = passwd-file
  args = ${passwdFile}
}
namespace inbox {
  inbox = yes
  separator = .
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${enabled('imap') ? imapPort : 0}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${enabled('pop3') ? pop3Port : 0}
  }
  inet_listener pop3s {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${enabled('lmtp') ? lmtpPort : 0}
  }
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
service imap {
  process_limit = 5000
}
${o.extraConfig ?? ''}
`;
  writeFileSync(configFile, config);

  await launchDaemon('dovecot', ['-c', configFile], join(dir, 'dovecot.out'));
  const pidFile = join(baseDir, 'master.pid');
  let masterPid: number;
  try {
    masterPid = await waitFor('dovecot master.pid', () => readPidFile(pidFile), 30_000);
    for (const p of protocols) {
      const port = p === 'imap' ? imapPort : p === 'pop3' ? pop3Port : lmtpPort;
      await waitForPort(port, `dovecot ${p}`);
    }
    await waitFor('dovecot auth-client socket', () => existsSync(join(baseDir, 'auth-client')));
  } catch (err) {
    const pid = readPidFile(pidFile);
    if (pid) await stopProcesses(processTree(pid), 'dovecot');
    throw new Error(`${(err as Error).message}\n--- dovecot log ---\n${tail(logFile)}`);
  }

  let stopped = false;
  return {
    imapPort: enabled('imap') ? imapPort : 0,
    pop3Port: enabled('pop3') ? pop3Port : 0,
    lmtpPort: enabled('lmtp') ? lmtpPort : 0,
    authSocket: join(baseDir, 'auth-client'),
    mailRoot,
    configFile,
    logFile,
    mailUser,
    pids: () => processTree(masterPid),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopProcesses(processTree(masterPid), 'dovecot');
    },
  };
}

// ---------------------------------------------------------------- Postfix

export interface PostfixOptions {
  dir: string;
  /** smtpd_sasl_type = dovecot with this smtpd_sasl_path */
  saslPath?: string;
  /** e.g. lmtp:inet:127.0.0.1:PORT */
  mailboxTransport?: string;
  relayhost?: string;
  /** default 127.0.0.0/8 */
  mynetworks?: string;
  extraMain?: Record<string, string>;
}

export interface PostfixHandle {
  smtpPort: number;
  dir: string;
  configDir: string;
  pids(): number[];
  stop(): Promise<void>;
  maillog(): string;
}

export async function postfixVersion(): Promise<string> {
  return (await run('postconf', ['-d', '-h', 'mail_version'])).trim();
}

export async function startPostfix(o: PostfixOptions): Promise<PostfixHandle> {
  const dir = resolve(o.dir);
  const etc = join(dir, 'etc');
  const spool = join(dir, 'spool');
  const data = join(dir, 'data');
  const maillogFile = join(dir, 'maillog');
  for (const d of [etc, spool, data]) mkdirSync(d, { recursive: true });
  makeTraversable(dir);
  const postfixUser = lookupUser('postfix');
  if (!postfixUser) throw new Error('peers: system user postfix missing (is postfix installed?)');
  chownSync(data, postfixUser.uid, postfixUser.gid);

  copyFileSync('/etc/postfix/master.cf', join(etc, 'master.cf'));
  for (const entry of readdirSync('/etc/postfix')) {
    if (entry.startsWith('dynamicmaps.cf')) {
      const from = join('/etc/postfix', entry);
      if (statSync(from).isFile()) copyFileSync(from, join(etc, entry));
      else {
        mkdirSync(join(etc, entry), { recursive: true });
        for (const f of readdirSync(from)) copyFileSync(join(from, f), join(etc, entry, f));
      }
    }
  }

  const smtpPort = await freePort();
  const main: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: spool,
    data_directory: data,
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    syslog_name: `postfix-${smtpPort}`,
    myhostname: 'localhost',
    mydomain: 'localdomain',
    mydestination: 'localhost',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    maillog_file: maillogFile,
    maillog_file_prefixes: `/var, /dev/stdout, ${dir}`,
    smtp_dns_support_level: 'disabled',
    mynetworks: o.mynetworks ?? '127.0.0.0/8',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    biff: 'no',
    relayhost: o.relayhost ?? '',
    smtputf8_enable: 'no',
  };
  if (o.mailboxTransport) main.mailbox_transport = o.mailboxTransport;
  if (o.saslPath) {
    main.smtpd_sasl_auth_enable = 'yes';
    main.smtpd_sasl_type = 'dovecot';
    main.smtpd_sasl_path = o.saslPath;
    main.smtpd_relay_restrictions = 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination';
  }
  Object.assign(main, o.extraMain ?? {});
  writeFileSync(
    join(etc, 'main.cf'),
    '# Generated by Roost\'s test/interop/peers.\n' +
      Object.entries(main)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n') +
      '\n',
  );

  await run('postconf', ['-c', etc, '-F', '*/*/chroot = n']);
  await run('postconf', ['-c', etc, '-M#', 'smtp/inet']);
  await run('postconf', ['-c', etc, '-Me', `127.0.0.1:${smtpPort}/inet = 127.0.0.1:${smtpPort} inet n - n - - smtpd`]);
  await run('postfix', ['-c', etc, 'check']);
  await launchDaemon('postfix', ['-c', etc, 'start'], join(dir, 'postfix.out'));

  const pidFile = join(spool, 'pid', 'master.pid');
  let masterPid: number;
  try {
    masterPid = await waitFor('postfix master.pid', () => {
      const pid = readPidFile(pidFile);
      return pid !== undefined && processAlive(pid) ? pid : undefined;
    });
    await waitForPort(smtpPort, 'postfix smtpd');
  } catch (err) {
    await run('postfix', ['-c', etc, 'stop']).catch(() => undefined);
    throw new Error(`${(err as Error).message}\n--- maillog ---\n${tail(maillogFile)}`);
  }

  let stopped = false;
  return {
    smtpPort,
    dir,
    configDir: etc,
    pids: () => processTree(masterPid),
    maillog: () => (existsSync(maillogFile) ? readFileSync(maillogFile, 'utf8') : ''),
    async stop() {
      if (stopped) return;
      stopped = true;
      const pids = processTree(masterPid);
      await run('postfix', ['-c', etc, 'stop']).catch(() => undefined);
      await stopProcesses(pids.filter(processAlive), 'postfix');
    },
  };
}

// ---------------------------------------------------------------- slapd

export interface SlapdOptions {
  dir: string;
  /** default dc=example,dc=org */
  suffix?: string;
  users?: { uid: string; password: string; mail?: string; homeDirectory?: string }[];
}

export interface SlapdHandle {
  url: string;
  port: number;
  suffix: string;
  rootDn: string;
  rootPassword: string;
  /** DN under which users are stored: ou=people,SUFFIX */
  peopleDn: string;
  /** DN of a user added from the options */
  userDn(uid: string): string;
  pids(): number[];
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export async function startSlapd(o: SlapdOptions): Promise<SlapdHandle> {
  const dir = resolve(o.dir);
  const suffix = o.suffix ?? 'dc=example,dc=org';
  const rootDn = `cn=admin,${suffix}`;
  const rootPassword = 'roost-ldap-admin';
  const peopleDn = `ou=people,${suffix}`;
  const runDir = join(dir, 'run');
  const dbDir = join(dir, 'db');
  for (const d of [runDir, dbDir]) mkdirSync(d, { recursive: true });
  makeTraversable(dir);

  const hash = async (password: string) => (await run('slappasswd', ['-h', '{SSHA}', '-s', password])).trim();
  const confFile = join(dir, 'slapd.conf');
  const pidFile = join(runDir, 'slapd.pid');
  writeFileSync(
    confFile,
    `# Generated by Roost's test/interop/peers.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${pidFile}
argsfile ${join(runDir, 'slapd.args')}
database mdb
maxsize 104857600
suffix "${suffix}"
rootdn "${rootDn}"
rootpw ${await hash(rootPassword)}
directory ${dbDir}
index objectClass eq
index uid,mail eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
`,
  );

  const rdn = /^dc=([^,]+)/.exec(suffix)?.[1] ?? 'example';
  const entries: string[] = [
    `dn: ${suffix}\nobjectClass: dcObject\nobjectClass: organization\ndc: ${rdn}\no: ${rdn}\n`,
    `dn: ${peopleDn}\nobjectClass: organizationalUnit\nou: people\n`,
  ];
  let uidNumber = 10000;
  for (const u of o.users ?? []) {
    uidNumber += 1;
    entries.push(
      [
        `dn: uid=${u.uid},${peopleDn}`,
        'objectClass: inetOrgPerson',
        'objectClass: posixAccount',
        `uid: ${u.uid}`,
        `cn: ${u.uid}`,
        `sn: ${u.uid}`,
        `uidNumber: ${uidNumber}`,
        `gidNumber: ${uidNumber}`,
        `homeDirectory: ${u.homeDirectory ?? `/home/${u.uid}`}`,
        `mail: ${u.mail ?? `${u.uid}@example.org`}`,
        `userPassword: ${await hash(u.password)}`,
        '',
      ].join('\n'),
    );
  }
  const ldif = join(dir, 'data.ldif');
  writeFileSync(ldif, entries.join('\n'));
  await run('slaptest', ['-f', confFile, '-u']);
  await run('slapadd', ['-f', confFile, '-l', ldif]);

  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}/`;
  let pid = 0;

  const launch = async () => {
    await launchDaemon('slapd', ['-f', confFile, '-h', url], join(dir, 'slapd.out'));
    pid = await waitFor('slapd pid file', () => {
      const p = readPidFile(pidFile);
      return p !== undefined && processAlive(p) ? p : undefined;
    });
    await waitFor(`slapd answering ldapwhoami on ${url}`, async () => {
      await run('ldapwhoami', ['-x', '-H', url, '-D', rootDn, '-w', rootPassword]);
      return true;
    });
  };
  const halt = async () => {
    if (pid && processAlive(pid)) await stopProcesses([pid], 'slapd');
    pid = 0;
  };

  await launch();
  let stopped = false;
  return {
    url,
    port,
    suffix,
    rootDn,
    rootPassword,
    peopleDn,
    userDn: (uid: string) => `uid=${uid},${peopleDn}`,
    pids: () => (pid ? processTree(pid) : []),
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
    },
    async restart() {
      await halt();
      stopped = false;
      await launch();
    },
  };
}

// ---------------------------------------------------------------- client peers

/** The command that prints a client peer's version, as its own tools document it. */
export const VERSION_COMMANDS: Partial<Record<PeerName, string[]>> = {
  swaks: ['swaks', '--version'],
  mutt: ['mutt', '-v'],
  mbsync: ['mbsync', '--version'],
  fetchmail: ['fetchmail', '--version'],
  getmail: ['getmail', '--version'],
  tmux: ['tmux', '-V'],
  openssl: ['openssl', 'version'],
  dovecot: ['dovecot', '--version'],
  postfix: ['postconf', '-d', '-h', 'mail_version'],
  slapd: ['slapd', '-VV'],
};

/** First non-empty line a peer prints for its version (stdout or stderr; exit status ignored, as fetchmail exits 1 with no server). */
export async function peerVersion(name: PeerName): Promise<string> {
  const command = VERSION_COMMANDS[name];
  if (!command) throw new Error(`peers: no version command for ${name}`);
  const [cmd, ...args] = command;
  const text = await new Promise<string>((done) => {
    execFile(binary(cmd!), args, { encoding: 'utf8', timeout: 20_000 }, (_err, stdout, stderr) => {
      done(`${stdout ?? ''}\n${stderr ?? ''}`);
    });
  });
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0 && !/WARNING: Running as root/i.test(l));
  return line ?? '';
}
