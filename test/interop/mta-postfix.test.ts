// Roost's MTA core with real peers: Postfix relaying into Roost's SMTP in (relayhost, RFC 5321) lands in a local
// user's Maildir over LMTP, and swaks submits on 1587 with STARTTLS (RFC 3207) and AUTH PLAIN (RFC 4954, RFC 6409).
import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';
import { requirePeer, startPostfix, waitFor } from './peers.js';

const users = [
  { name: 'alice', password: 'alice-pw' },
  { name: 'bob', password: 'bob-pw' },
];
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Every message in a user's Maildir (new/ and cur/). */
function mailbox(h: RoostHandle, user: string): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = join(h.dataDir, 'mail', user, 'Maildir', sub);
    if (existsSync(dir)) for (const f of readdirSync(dir)) out.push(readFileSync(join(dir, f), 'utf8'));
  }
  return out;
}

function queueEmpty(h: RoostHandle): boolean {
  return ['incoming', 'active', 'deferred'].every((s) => {
    const dir = join(h.dataDir, 'queue', s);
    return !existsSync(dir) || readdirSync(dir).filter((f) => !f.startsWith('.')).length === 0;
  });
}

test('Postfix with relayhost = Roost relays into a local Roost user\'s Maildir', async (t) => {
  if (!requirePeer(t, 'postfix')) return;
  const base = mkdtempSync(join(tmpdir(), 'roost-mta-postfix-'));
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  const roost = await startRoost({ dataDir: join(base, 'roost'), users, configToml: '[smtp]\nmynetworks = ["127.0.0.0/8"]\n' });
  cleanups.push(() => roost.stop());
  // Postfix knows only "localhost" as its own: mail for roost.test goes to the relayhost, Roost's SMTP in.
  const postfix = await startPostfix({ dir: join(base, 'postfix'), relayhost: `[127.0.0.1]:${roost.ports.smtp}` });
  cleanups.push(() => postfix.stop());

  const subject = `relayed by postfix ${Date.now()}`;
  await runPython(
    `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
s.sendmail('sender@example.net', ['alice@roost.test'], ('From: sender@example.net\\r\\nTo: alice@roost.test\\r\\nSubject: %s\\r\\n\\r\\nthrough postfix and roost\\r\\n' % sys.argv[2]).encode())
s.quit()
`,
    [postfix.smtpPort, subject],
  );
  const delivered = await waitFor(
    'the relayed message in alice\'s Maildir',
    () => {
      const found = mailbox(roost, 'alice').filter((m) => m.includes(subject));
      return found.length ? found : undefined;
    },
    45_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- postfix maillog ---\n${postfix.maillog()}\n--- roost ---\n${roost.output.slice(-20).join('\n')}`);
  });
  await waitFor('Postfix to log status=sent', () => /status=sent/.test(postfix.maillog()), 30_000);
  await waitFor('Roost\'s queue to drain', () => queueEmpty(roost), 30_000);

  assert.equal(delivered.length, 1, 'delivered exactly once');
  assert.equal(mailbox(roost, 'alice').filter((m) => m.includes(subject)).length, 1);
  const message = delivered[0];
  assert.match(message, /^Return-Path: <sender@example\.net>/);
  // Roost's trace header names the Postfix client and its queue id; Postfix's own Received header is below it.
  assert.match(message, /Received: from localhost \(\[127\.0\.0\.1\]\)\r?\n\tby roost\.test \(Roost\) with E?SMTP id [0-9A-Z]+/);
  assert.match(message, /by localhost \(Postfix\)/);
  assert.match(message, /through postfix and roost/);
  // Postfix saw Roost accept it: relay= names Roost's SMTP port.
  assert.match(postfix.maillog(), new RegExp(`to=<alice@roost\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${roost.ports.smtp},.*status=sent \\(250 2\\.0\\.0 Ok: queued as [0-9A-Z]+\\)`));
  // The log line may reach the pipe after the queue file is gone: wait for it rather than look once.
  await roost.waitForLog((l) => l.includes('to=<alice@roost.test>') && l.includes('status=sent'));
});

function swaks(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('swaks', args, { timeout: 60_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

/** swaks speaks TLS only with Perl's Net::SSLeay (Debian: libnet-ssleay-perl); as requirePeer, fatal under CI=true. */
function requireSwaksTls(t: TestContext): boolean {
  const support = spawnSync('swaks', ['--support'], { encoding: 'utf8' });
  if (/=== TLS supported/.test(`${support.stdout}${support.stderr}`)) return true;
  const message = 'PEER MISSING: swaks without TLS (Net::SSLeay, Debian libnet-ssleay-perl, not installed)';
  if (process.env.CI === 'true') throw new Error(message);
  process.stderr.write(`\n!!!!! ${message} -- SKIPPING !!!!!\n\n`);
  t.skip(message);
  return false;
}

test('swaks submits on 1587 with STARTTLS and AUTH PLAIN; the message is in the recipient\'s store', async (t) => {
  if (!requirePeer(t, 'swaks') || !requireSwaksTls(t)) return;
  const roost = await startRoost({ users });
  cleanups.push(() => roost.stop());
  const subject = `swaks submission ${Date.now()}`;
  const common = ['--server', '127.0.0.1', '--port', String(roost.ports.submission), '--ehlo', 'client.example.org', '--to', 'bob@roost.test', '--h-Subject', subject, '--body', 'submitted with swaks'];

  // Without TLS, AUTH is not offered: swaks cannot log in and nothing is queued.
  const plain = await swaks([...common, '--from', 'alice@roost.test', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', users[0].password]);
  assert.notEqual(plain.code, 0, plain.out);

  const ok = await swaks([...common, '--from', 'alice@roost.test', '--tls', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', users[0].password]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, / -> STARTTLS\n<- +220 [^]*=== TLS started[^]*<~ +250-AUTH PLAIN[^]* ~> AUTH PLAIN [^]*<~ +235 /, 'AUTH offered and done only after STARTTLS');
  const queued = /<~ +250 2\.0\.0 Ok: queued as ([0-9A-Z]+)/.exec(ok.out);
  assert.ok(queued, ok.out);

  const stored = await waitFor(
    'the submitted message in bob\'s Maildir',
    () => {
      const found = mailbox(roost, 'bob').filter((m) => m.includes(subject));
      return found.length ? found : undefined;
    },
    30_000,
  );
  assert.equal(stored.length, 1);
  assert.match(stored[0], /^Return-Path: <alice@roost\.test>/);
  // ESMTPSA: TLS and AUTH (RFC 3848), with the queue id swaks was given.
  assert.match(stored[0], new RegExp(`with ESMTPSA id ${queued[1]}`));
  assert.match(stored[0], /submitted with swaks/);

  // A wrong password is refused (535) and nothing more arrives.
  const bad = await swaks([...common, '--from', 'alice@roost.test', '--tls', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 'wrong']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /535 5\.7\.8/);
  await waitFor('Roost\'s queue to drain', () => queueEmpty(roost), 30_000);
  assert.equal(mailbox(roost, 'bob').filter((m) => m.includes(subject)).length, 1);
});
