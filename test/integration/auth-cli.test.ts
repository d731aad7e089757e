// The `roost pw`, `roost user ...` and `roost auth ...` commands run as a user would run them,
// against a temp data directory; hashes checked with `doveadm pw -t` when Dovecot is installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { findBinary } from '../interop/peers.js';
import { registerAuthCommands } from '../../src/cli/auth.js';
import { registerPwCommand } from '../../src/cli/pw.js';
import { registerUserCommands } from '../../src/cli/user.js';

const run = promisify(execFile);
const ROOST = fileURLToPath(new URL('../../bin/roost.js', import.meta.url));
let dir: string;
let common: string[];

/**
 * Runs the same commander commands in this process (fast); stdout captured, exit code from
 * process.exitCode (restored afterwards) or 1 when the command throws.
 */
async function roostHere(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { out: (t: string) => void (stdout += t), err: (t: string) => void (stderr += t) };
  const program = new Command('roost').exitOverride();
  registerPwCommand(program, io);
  registerUserCommands(program, io);
  registerAuthCommands(program, io);
  const savedExit = process.exitCode;
  process.exitCode = undefined;
  let code = 0;
  try {
    await program.parseAsync(['node', 'roost', ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    stderr += String((err as Error).message);
    code = 1;
  } finally {
    process.exitCode = savedExit;
  }
  return { code, stdout, stderr };
}

/** Runs the real `roost` executable with args (and optional stdin); resolves with exit code and output. */
function roost(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ROOST, ...args], { env: { ...process.env, ROOST_LOG_LEVEL: 'error' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-auth-cli-'));
  const configFile = join(dir, 'roost.toml');
  await writeFile(configFile, '[auth]\nauth_failure_delay = "100ms"\nblf_crypt_cost = 5\n');
  common = ['--data', join(dir, 'data'), '--config', configFile];
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('roost pw makes hashes (password from -p or stdin) and checks them with -t', { timeout: 60_000 }, async () => {
  const a = await roost(['pw', '-s', 'SHA512-CRYPT', '-p', 'secret', ...common]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /^\{SHA512-CRYPT\}\$6\$[^$]+\$\S+\n$/);
  const b = await roost(['pw', ...common], 'secret\n');
  assert.match(b.stdout, /^\{BLF-CRYPT\}\$2y\$05\$/, 'default scheme and configured cost');
  const hash = b.stdout.trim();
  assert.equal((await roostHere(['pw', '-t', hash, '-p', 'secret', ...common])).code, 0);
  assert.equal((await roostHere(['pw', '-t', hash, '-p', 'wrong', ...common])).code, 1);
  const bad = await roostHere(['pw', '-s', 'NOPE', '-p', 'x', ...common]);
  assert.notEqual(bad.code, 0);
  if (findBinary('doveadm')) {
    const { stdout } = await run(findBinary('doveadm')!, ['pw', '-t', a.stdout.trim(), '-p', 'secret']);
    assert.match(stdout, /verified/);
  }
});

test('roost user add/list/passwd/del and roost auth test/lookup', { timeout: 60_000 }, async () => {
  const add = await roostHere(['user', 'add', 'alice', '--password', 'pw1', '--home', '/home/alice', '--mail', 'maildir:~/Maildir', ...common]);
  assert.equal(add.code, 0, add.stderr);
  assert.equal((await roost(['user', 'add', 'bob@example.org', ...common], 'pw2\n')).code, 0);
  assert.notEqual((await roostHere(['user', 'add', 'alice', '--password', 'x', ...common])).code, 0, 'duplicate user refused');
  assert.equal((await roost(['user', 'list', ...common])).stdout, 'alice\nbob@example.org\n');

  const ok = await roostHere(['auth', 'test', 'alice', 'pw1', ...common]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /auth succeeded/);
  assert.match(ok.stdout, /mail\s+: maildir:~\/Maildir/);
  const fromStdin = await roost(['auth', 'test', 'bob@example.org', ...common], 'pw2\n');
  assert.equal(fromStdin.code, 0, fromStdin.stdout);
  const bad = await roostHere(['auth', 'test', 'alice', 'nope', ...common]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /auth failed/);

  const lookup = await roostHere(['auth', 'lookup', 'alice', ...common]);
  assert.equal(lookup.code, 0);
  assert.match(lookup.stdout, /home\s+: \/home\/alice/);
  assert.equal((await roostHere(['auth', 'lookup', 'nobody', ...common])).code, 2);

  assert.equal((await roostHere(['user', 'passwd', 'alice', '--password', 'pw3', ...common])).code, 0);
  assert.equal((await roostHere(['auth', 'test', 'alice', 'pw3', ...common])).code, 0);
  assert.equal((await roostHere(['user', 'passwd', 'nobody', '--password', 'x', ...common])).code, 1);
  assert.equal((await roostHere(['user', 'del', 'bob@example.org', ...common])).code, 0);
  assert.equal((await roostHere(['user', 'del', 'bob@example.org', ...common])).code, 1);
  const text = await readFile(join(dir, 'data', 'passwd'), 'utf8');
  assert.match(text, /^alice:\{BLF-CRYPT\}\$2y\$05\$[^:]+::::\/home\/alice::userdb_mail=maildir:~\/Maildir\n$/);
});
