// Crash recovery of the queue: SIGKILL of the daemon with mail in incoming, active (an LMTP delivery cut
// short before and after the mailbox saved it), deferred and hold, then a restart: every accepted message is
// delivered, to Roost's LMTP exactly once, and held mail stays held. Also SIGKILL in the middle of a stream.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync, mkdtempSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { startRoost, mainScript, repoRoot, type RoostHandle } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';
import { waitFor } from '../helpers/wait-for.js';
import { appendRecord, HEADER_LENGTH, readQueueFile } from '../../src/mta/queue-file.js';

const users = [
  { name: 'alice', password: 'a' },
  { name: 'bob', password: 'b' },
  { name: 'carol', password: 'c' },
];
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function startSink() {
  const state = { tempfail: true, received: [] as string[] };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_a, _s, cb) {
      cb(state.tempfail ? Object.assign(new Error('4.3.0 Not now'), { responseCode: 451 }) : undefined);
    },
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        state.received.push(Buffer.concat(chunks).toString());
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.server.address() as AddressInfo).port, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function cli(dataDir: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['--import', 'tsx', mainScript, ...args, '--data', dataDir, '--config', join(dataDir, 'roost-test.toml')], { cwd: repoRoot, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

function mailbox(dataDir: string, user: string): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = join(dataDir, 'mail', user, 'Maildir', sub);
    if (existsSync(dir)) for (const f of readdirSync(dir)) out.push(readFileSync(join(dir, f), 'utf8'));
  }
  return out;
}

const queueDir = (dataDir: string, state: string) => readdirSync(join(dataDir, 'queue', state)).filter((f) => !f.startsWith('.'));

test('SIGKILL with mail in incoming, active, deferred and hold: after a restart each is delivered once, held mail stays held', async () => {
  const sink = await startSink();
  const dataDir = mkdtempSync(join(tmpdir(), 'roost-recovery-'));
  dirs.push(dataDir);
  const configToml = `[smtp]\nrelayhost = "[127.0.0.1]:${sink.port}"\nsmtp_tls_security_level = "none"\ntest_clock = true\n`;
  let roost: RoostHandle = await startRoost({ dataDir, users, configToml });
  const send = (subject: string, to: string) =>
    runPython(
      `import smtplib, sys\nc = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='c.example.org')\nc.sendmail('alice@roost.test', [sys.argv[2]], 'Subject: %s\\r\\n\\r\\nx\\r\\n' % sys.argv[3])\nc.quit()`,
      [roost.ports.smtp, to, subject],
    );
  await send('deferred-mail', 'd@remote.example');
  await send('held-mail', 'h@remote.example');
  const deferred = await waitFor('two deferred', () => {
    const f = queueDir(dataDir, 'deferred');
    return f.length === 2 && f;
  });
  const heldId = deferred.find((id) => readFileSync(join(dataDir, 'queue', 'deferred', id), 'utf8').includes('held-mail'))!;
  await cli(dataDir, ['queue', 'hold', heldId]);
  await roost.kill();

  // While the daemon is down: mail arrives through sendmail (incoming), and three messages are left in active
  // as a crash in the middle of an LMTP delivery leaves them: marked in flight or not (a crash after the move into
  // active and before anything was written to the file), saved to the mailbox or not.
  await cli(dataDir, ['sendmail', '-f', 'alice@roost.test', 'alice@roost.test'], 'Subject: incoming-mail\n\nx\n');
  await cli(dataDir, ['sendmail', '-f', 'alice@roost.test', 'bob@roost.test'], 'Subject: saved-before-crash\n\nx\n');
  await cli(dataDir, ['sendmail', '-f', 'alice@roost.test', 'carol@roost.test'], 'Subject: lost-in-crash\n\nx\n');
  await cli(dataDir, ['sendmail', '-f', 'bob@roost.test', 'alice@roost.test'], 'Subject: saved-unmarked\n\nx\n');
  for (const id of queueDir(dataDir, 'incoming')) {
    const path = join(dataDir, 'queue', 'incoming', id);
    const text = readFileSync(path, 'utf8');
    if (text.includes('incoming-mail')) continue;
    if (!text.includes('saved-unmarked')) appendRecord(path, { t: 'inflight', r: [0], at: Date.now() });
    const savedTo = text.includes('saved-before-crash') ? 'bob' : text.includes('saved-unmarked') ? 'alice' : undefined;
    if (savedTo) {
      // What Roost's LMTP had saved before the crash: the queued content with its trace headers.
      const state = readQueueFile(path);
      const content = readFileSync(path).subarray(HEADER_LENGTH, HEADER_LENGTH + state.contentLength);
      const { mkdirSync } = await import('node:fs');
      for (const sub of ['new', 'cur', 'tmp']) mkdirSync(join(dataDir, 'mail', savedTo, 'Maildir', sub), { recursive: true });
      writeFileSync(join(dataDir, 'mail', savedTo, 'Maildir', 'new', `1700000000.M1P${savedTo.length}.roost,S=${content.length}`), content);
    }
    renameSync(path, join(dataDir, 'queue', 'active', id));
  }
  assert.equal(queueDir(dataDir, 'incoming').length, 1);
  assert.equal(queueDir(dataDir, 'active').length, 3);
  assert.equal(queueDir(dataDir, 'deferred').length, 1);
  assert.equal(queueDir(dataDir, 'hold').length, 1);

  sink.state.tempfail = false;
  roost = await startRoost({ dataDir, users, configToml, keepData: true });
  try {
    await waitFor('incoming delivered', () => mailbox(dataDir, 'alice').some((m) => m.includes('incoming-mail'))).catch((e) => { console.log(roost.output.filter((l) => /qmgr|error|warn/i.test(l)).slice(-15).join('\n')); throw e; });
    await waitFor('lost delivery redone', () => mailbox(dataDir, 'carol').some((m) => m.includes('lost-in-crash')));
    await waitFor('active queue drained', () => queueDir(dataDir, 'active').length === 0 && queueDir(dataDir, 'incoming').length === 0);
    await roost.waitForLog((l) => l.includes('to=<bob@roost.test>') && l.includes('delivered before restart'));
    await roost.waitForLog((l) => l.includes('to=<alice@roost.test>') && l.includes('delivered before restart'));
    await cli(dataDir, ['queue', 'flush']);
    await waitFor('deferred relayed', () => sink.state.received.some((m) => m.includes('deferred-mail')));
    const count = (user: string, subject: string) => mailbox(dataDir, user).filter((m) => m.includes(subject)).length;
    assert.equal(count('alice', 'incoming-mail'), 1);
    assert.equal(count('bob', 'saved-before-crash'), 1, 'a delivery saved before the crash is not made again');
    assert.equal(count('alice', 'saved-unmarked'), 1, 'nor one left in active without an in-flight mark');
    assert.equal(count('carol', 'lost-in-crash'), 1);
    assert.equal(sink.state.received.filter((m) => m.includes('deferred-mail')).length, 1);
    assert.deepEqual(queueDir(dataDir, 'hold'), [heldId], 'held mail stays held');
    assert.ok(!sink.state.received.some((m) => m.includes('held-mail')));
  } finally {
    await roost.stop();
    await sink.close();
  }
});

test('SIGKILL while messages stream in: every acknowledged message is delivered exactly once after a restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'roost-recovery-'));
  dirs.push(dataDir);
  let roost = await startRoost({ dataDir, users });
  const python = spawn('python3', [
    '-u',
    '-c',
    `
import smtplib, sys
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='c.example.org'); c.ehlo()
for i in range(400):
    c.mail('bob@roost.test'); c.rcpt('alice@roost.test')
    code, resp = c.data(('Subject: stream %d\\r\\n\\r\\nbody\\r\\n' % i).encode())
    print(resp.decode().split()[-1], flush=True)
`,
    String(roost.ports.smtp),
  ]);
  const acked: string[] = [];
  python.stdout.setEncoding('utf8');
  let buf = '';
  python.stdout.on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    acked.push(...lines.filter(Boolean));
  });
  let stderr = '';
  python.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor('25 acknowledged messages', () => acked.length >= 25).catch((e) => {
    throw new Error(`${(e as Error).message}: ${stderr}`);
  });
  await roost.kill();
  await new Promise((r) => python.once('exit', r));
  assert.ok(acked.length < 400, 'the kill happened mid-stream');
  roost = await startRoost({ dataDir, users, keepData: true });
  try {
    const ids = (m: string) => [...m.matchAll(/with ESMTP id ([0-9A-Z]+)/g)].map((x) => x[1]);
    await waitFor('every acknowledged message delivered', () => {
      const delivered = new Set(mailbox(dataDir, 'alice').flatMap(ids));
      return acked.every((id) => delivered.has(id));
    });
    await waitFor('queue drained', () => ['incoming', 'active', 'deferred'].every((s) => queueDir(dataDir, s).length === 0));
    const all = mailbox(dataDir, 'alice').flatMap(ids);
    assert.equal(new Set(all).size, all.length, 'no message was delivered twice');
    assert.equal(queueDir(dataDir, 'corrupt').length, 0);
  } finally {
    await roost.stop();
  }
});
