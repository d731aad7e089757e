// Alias delivery to "|command" and "/file" targets through the real daemon over SMTP (Python smtplib), as Postfix's
// local(8): command stdin in UNIX form, exit 75 defers, exit 67 bounces with a DSN, mbox append with >From quoting, maildir.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';
import { waitFor } from '../helpers/wait-for.js';
import { compileAliases } from '../../src/mta/aliases.js';
import { sendControl } from '../../src/mta/control.js';
import { ensureMailUser } from '../interop/peers.js';

const asRoot = process.getuid?.() === 0;
const NOBODY_UID = 65534;

const SEND = `
import smtplib, sys, json
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.example.org')
try:
    refused = c.sendmail(sys.argv[2], json.loads(sys.argv[3]), sys.argv[4].encode())
except smtplib.SMTPRecipientsRefused as e:
    refused = e.recipients
print(json.dumps({'refused': {k: [v[0], v[1].decode()] for k, v in refused.items()}} if refused else {'ok': True}))
c.quit()
`;
async function send(port: number, to: string[], message: string): Promise<{ ok?: boolean; refused?: Record<string, [number, string]> }> {
  return JSON.parse(await runPython(SEND, [port, 'alice@roost.test', JSON.stringify(to), message])) as { ok?: boolean; refused?: Record<string, [number, string]> };
}

function message(subject: string, body: string): string {
  return `From: Alice <alice@roost.test>\r\nSubject: ${subject}\r\n\r\n${body}`;
}


const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');

let base: string;
let out: string;
let roost: RoostHandle;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'roost-alias-delivery-'));
  chmodSync(base, 0o755);
  // Where the commands and files write: open to default_privs (nobody) as the daemon runs as root in CI.
  out = join(base, 'out');
  mkdirSync(out);
  chmodSync(out, 0o777);
  const dataDir = join(base, 'data');
  mkdirSync(dataDir);
  writeFileSync(
    join(dataDir, 'aliases'),
    [
      `pipe: "|cat > ${out}/piped.txt; env > ${out}/env.txt; id -u > ${out}/uid.txt"`,
      'tempfail: "|exit 75"',
      'nosuch: "|echo no such person here; exit 67"',
      `tofile: ${out}/mbox`,
      `todir: ${out}/maildir/`,
      `count: "|cat >> ${out}/count.txt"`,
      `slow: "|echo started; sleep 120; touch ${out}/slow-finished"`,
      `inj: "|printf '%s %s' $EXTENSION $SENDER > ${out}/inj.txt"`,
    ].join('\n') + '\n',
  );
  compileAliases(join(dataDir, 'aliases'));
  roost = await startRoost({
    dataDir,
    users: [{ name: 'alice', password: 'a' }],
    configToml: ['[smtp]', 'allow_mail_to_commands = true', 'allow_mail_to_files = true', 'smtp_tls_security_level = "none"', 'minimal_backoff_time = "1h"', 'command_time_limit = "5s"'].join('\n'),
  });
});

after(async () => {
  await roost?.stop();
  rmSync(base, { recursive: true, force: true });
});

test('a command gets the message on stdin in UNIX form, with local(8) environment, as default_privs', async () => {
  assert.deepEqual(await send(roost.ports.smtp, ['pipe+tag@roost.test'], message('to a command', 'line one\r\nFrom the start\r\n')), { ok: true });
  await roost.waitForLog((l) => l.includes('to=<pipe+tag@roost.test>') && l.includes('status=sent') && l.includes('delivered to command'), 30_000);
  const piped = read(join(out, 'piped.txt'));
  assert.match(piped, /^From alice@roost\.test {2}\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/, 'From_ line first');
  assert.match(piped, /\nReturn-Path: <alice@roost\.test>\nX-Original-To: pipe\+tag@roost\.test\nDelivered-To: pipe\+tag@roost\.test\nReceived: /);
  assert.ok(piped.endsWith('\n\nline one\nFrom the start\n'), 'LF line ends, no quoting and no blank line for a command');
  assert.ok(!piped.includes('\r'));
  const env = Object.fromEntries(read(join(out, 'env.txt')).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.equal(env.RECIPIENT, 'pipe+tag@roost.test');
  assert.equal(env.ORIGINAL_RECIPIENT, 'pipe+tag@roost.test');
  assert.equal(env.SENDER, 'alice@roost.test');
  assert.equal(env.LOCAL, 'pipe+tag');
  assert.equal(env.EXTENSION, 'tag');
  assert.equal(env.DOMAIN, 'roost.test');
  assert.equal(env.PATH, '/usr/bin:/bin');
  assert.equal(env.CLIENT_ADDRESS, '127.0.0.1');
  assert.ok(!Object.keys(env).some((k) => k.startsWith('ROOST') || k === 'NODE_OPTIONS'), 'nothing of the daemon environment leaks in');
  if (asRoot) {
    assert.equal(read(join(out, 'uid.txt')).trim(), String(NOBODY_UID), 'the command ran as nobody');
    assert.equal(env.USER, 'nobody');
  }
});

test('shell characters in addresses reach a command only as filtered environment values', async () => {
  const rcpt = 'inj+a`touch ${IFS}' + out + '/pwned`|y&z$HOME@roost.test';
  assert.deepEqual(await send(roost.ports.smtp, [rcpt.replace(' ', '')], message('injection', 'body\r\n')), { ok: true });
  await roost.waitForLog((l) => l.includes('to=<inj+') && l.includes('status=sent'), 30_000);
  assert.equal(read(join(out, 'inj.txt')), `a_touch__ifs_${out.toLowerCase()}/pwned__y_z_home alice@roost.test`);
  assert.ok(!existsSync(join(out, 'pwned')));
});

test('exit 75 (EX_TEMPFAIL) defers the recipient', async () => {
  assert.deepEqual(await send(roost.ports.smtp, ['tempfail@roost.test'], message('tempfail', 'body\r\n')), { ok: true });
  const line = await roost.waitForLog((l) => l.includes('to=<tempfail@roost.test>') && l.includes('status=deferred'), 30_000);
  assert.match(line, /dsn=4\.3\.0/);
  assert.match(line, /temporary failure/);
});

test('a retry of a deferred recipient does not run the command of one already delivered', async () => {
  const deferrals = () => roost.output.filter((l) => l.includes('to=<tempfail@roost.test>') && l.includes('status=deferred')).length;
  const before = deferrals();
  assert.deepEqual(await send(roost.ports.smtp, ['count@roost.test', 'tempfail@roost.test'], message('counted', 'body\r\n')), { ok: true });
  await roost.waitForLog(() => deferrals() > before, 30_000);
  // flush answers once every deferred message was tried again; its log lines may still be on their way.
  assert.equal(await sendControl(join(roost.dataDir, 'run', 'qmgr'), 'flush'), 'ok');
  await roost.waitForLog(() => deferrals() >= before + 2, 30_000);
  assert.equal(read(join(out, 'count.txt')).split('\n').filter((l) => l === 'Subject: counted').length, 1, 'the command ran once');
  assert.equal(roost.output.filter((l) => l.includes('to=<count@roost.test>') && l.includes('status=sent')).length, 1);
});

test('exit 67 (EX_NOUSER) bounces with a DSN that carries the command output', async () => {
  assert.deepEqual(await send(roost.ports.smtp, ['nosuch@roost.test'], message('nouser', 'body\r\n')), { ok: true });
  const line = await roost.waitForLog((l) => l.includes('to=<nosuch@roost.test>') && l.includes('status=bounced'), 30_000);
  assert.match(line, /dsn=5\.1\.1/);
  const newDir = join(roost.dataDir, 'mail', 'alice', 'Maildir', 'new');
  const dsn = await waitFor('the DSN in alice\'s INBOX', () => (existsSync(newDir) ? readdirSync(newDir).map((f) => readFileSync(join(newDir, f), 'utf8')).find((m) => m.includes('Undelivered Mail') && m.includes('nosuch@roost.test')) : undefined));
  assert.match(dsn, /Final-Recipient: rfc822; nosuch@roost\.test/);
  assert.match(dsn, /Status: 5\.1\.1/);
  assert.match(dsn, /Diagnostic-Code: x-unix; user unknown\. Command output: no such person here/);
});

test('a command still running at command_time_limit is killed with what it started, and the mail bounces', async () => {
  assert.deepEqual(await send(roost.ports.smtp, ['slow@roost.test'], message('slow', 'body\r\n')), { ok: true });
  const line = await roost.waitForLog((l) => l.includes('to=<slow@roost.test>') && l.includes('status=bounced'), 60_000);
  assert.match(line, /dsn=5\.3\.0/);
  assert.match(line, /Command time limit exceeded: .*Command output: started/);
  assert.ok(!existsSync(join(out, 'slow-finished')));
});

test('a file target gets mbox appends with >From quoting, durable and as default_privs', async () => {
  assert.deepEqual(await send(roost.ports.smtp, ['tofile@roost.test'], message('first', 'one\r\n')), { ok: true });
  await roost.waitForLog((l) => l.includes('to=<tofile@roost.test>') && l.includes('status=sent'), 30_000);
  assert.deepEqual(await send(roost.ports.smtp, ['tofile@roost.test'], message('second', 'From here on\r\n>From there\r\nend\r\n')), { ok: true });
  // The log line comes after the agent let go of the locks.
  await roost.waitForLog(() => roost.output.filter((l) => l.includes('to=<tofile@roost.test>') && l.includes('status=sent')).length === 2, 30_000);
  const mbox = read(join(out, 'mbox'));
  const froms = mbox.split('\n').filter((l) => /^From alice@roost\.test {2}/.test(l));
  assert.equal(froms.length, 2, 'two From_ lines');
  assert.match(mbox, /\nDelivered-To: tofile@roost\.test\n/);
  assert.ok(mbox.includes('\n>From here on\n>From there\nend\n\n'), 'a body "From " line is quoted, ">From" is left alone, an empty line ends each message');
  assert.match(mbox, /\nSubject: first\n\none\n\nFrom alice/, 'the first message ends with an empty line before the next From_');
  assert.ok(!existsSync(join(out, 'mbox.lock')), 'the dotlock is gone');
  const st = statSync(join(out, 'mbox'));
  assert.equal(st.mode & 0o777, 0o600);
  if (asRoot) assert.equal(st.uid, NOBODY_UID, 'written as nobody');
});

test('a target ending in "/" is a maildir: tmp/ -> new/', async () => {
  assert.deepEqual(await send(roost.ports.smtp, ['todir@roost.test'], message('maildir', 'From inside\r\n')), { ok: true });
  await roost.waitForLog((l) => l.includes('to=<todir@roost.test>') && l.includes('status=sent') && l.includes('delivered to maildir'), 30_000);
  const files = readdirSync(join(out, 'maildir', 'new'));
  assert.equal(files.length, 1);
  assert.deepEqual(readdirSync(join(out, 'maildir', 'tmp')), []);
  const mail = readFileSync(join(out, 'maildir', 'new', files[0]), 'utf8');
  assert.match(mail, /^Return-Path: <alice@roost\.test>\nX-Original-To: todir@roost\.test\nDelivered-To: todir@roost\.test\n/, 'no From_ line in a maildir');
  assert.ok(mail.endsWith('\n\nFrom inside\n'), 'no quoting and no blank line in a maildir');
});

/** Processes whose command line names this path (a file delivery agent left behind by a killed daemon). */
function processesNaming(path: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(path);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('a file delivery cut short by a crash is looked for in the file first, and the old agent writes nothing', async () => {
  const dataDir = join(base, 'data-crash');
  mkdirSync(dataDir);
  const box = join(out, 'crash-mbox');
  writeFileSync(box, '');
  if (asRoot) chownSync(box, NOBODY_UID, NOBODY_UID);
  // Held by this (live) process: the delivery waits for it after marking the recipient in flight.
  writeFileSync(`${box}.lock`, `${process.pid}:${hostname()}\n`);
  writeFileSync(join(dataDir, 'aliases'), `crashbox: ${box}\n`);
  compileAliases(join(dataDir, 'aliases'));
  const config = { dataDir, users: [{ name: 'alice', password: 'a' }], configToml: '[smtp]\nallow_mail_to_files = true\n' };
  const first = await startRoost(config);
  let queueId: string;
  try {
    assert.deepEqual(await send(first.ports.smtp, ['crashbox@roost.test'], message('crash', 'body\r\n')), { ok: true });
    const active = join(dataDir, 'queue', 'active');
    queueId = await waitFor('the recipient marked in flight', () => readdirSync(active).find((f) => readFileSync(join(active, f), 'utf8').includes('"t":"inflight"')));
    // As root the file is written by an agent process running as nobody: it is there, waiting for the lock.
    if (asRoot) await waitFor('the file delivery agent', () => processesNaming(box).length > 0);
  } finally {
    await first.kill();
  }
  // As if the killed attempt had written the message: the restarted daemon must find it and not write it again.
  appendFileSync(box, `From alice@roost.test  Sat Jan  3 10:00:00 2026\nReceived: by roost.test (Roost) with ESMTP id ${queueId}\nSubject: crash\n\nbody\n\n`);
  unlinkSync(`${box}.lock`);
  const second = await startRoost(config);
  try {
    await second.waitForLog((l) => l.includes('to=<crashbox@roost.test>') && l.includes('status=sent') && l.includes('delivered before restart'), 30_000);
    await waitFor('the old agent to exit', () => processesNaming(box).length === 0);
    assert.equal(read(box).split(`id ${queueId}`).length - 1, 1, 'the message is in the file once');
  } finally {
    await second.stop();
  }
});

test('a daemon that dropped root (mail_user) runs commands and writes files as its own user', async (t) => {
  if (!asRoot) {
    t.skip('needs root to drop to mail_user; without root every test above already runs as the current user');
    return;
  }
  const vmail = ensureMailUser();
  const dataDir = join(base, 'data-mailuser');
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, 'aliases'), `mu-pipe: "|id -u > ${out}/mu-uid.txt"\nmu-file: ${out}/mu-mbox\n`);
  compileAliases(join(dataDir, 'aliases')); // as root, as `roost newaliases` run by the admin: the daemon hands it over
  const h = await startRoost({ dataDir, users: [{ name: 'alice', password: 'a' }], configToml: `[server]\nmail_user = "${vmail.name}"\n[smtp]\nallow_mail_to_commands = true\nallow_mail_to_files = true\n` });
  try {
    await h.waitForLog((l) => l.includes('dropped privileges'));
    assert.deepEqual(await send(h.ports.smtp, ['mu-pipe@roost.test', 'mu-file@roost.test'], message('mail user', 'body\r\n')), { ok: true });
    await h.waitForLog((l) => l.includes('to=<mu-pipe@roost.test>') && l.includes('status=sent'), 30_000);
    await h.waitForLog((l) => l.includes('to=<mu-file@roost.test>') && l.includes('status=sent'), 30_000);
    assert.equal(read(join(out, 'mu-uid.txt')).trim(), String(vmail.uid));
    assert.equal(statSync(join(out, 'mu-mbox')).uid, vmail.uid);
    assert.match(read(join(out, 'mu-mbox')), /^From alice@roost\.test {2}.*\nSubject: mail user\n\nbody\n\n$/s);
  } finally {
    await h.stop();
  }
});

test('with allow_mail_to_commands and allow_mail_to_files off, both are refused at RCPT with 5.7.1', async () => {
  const dataDir = join(base, 'data-off');
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, 'aliases'), `pipe: "|cat > ${out}/never.txt"\ntofile: ${out}/never-mbox\n`);
  compileAliases(join(dataDir, 'aliases'));
  const off = await startRoost({ dataDir, users: [{ name: 'alice', password: 'a' }] });
  try {
    const r = await send(off.ports.smtp, ['pipe@roost.test', 'tofile@roost.test', 'alice@roost.test'], message('off', 'body\r\n'));
    assert.equal(r.refused?.['pipe@roost.test']?.[0], 550);
    assert.match(r.refused?.['pipe@roost.test']?.[1] ?? '', /5\.7\.1/);
    assert.equal(r.refused?.['tofile@roost.test']?.[0], 550);
    assert.match(r.refused?.['tofile@roost.test']?.[1] ?? '', /5\.7\.1/);
  } finally {
    await off.stop();
  }
  assert.ok(!existsSync(join(out, 'never.txt')) && !existsSync(join(out, 'never-mbox')));
});
