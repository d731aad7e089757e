// The queue end to end against the real daemon: a relayhost answering 4xx leaves mail deferred and it is
// retried when the test advances the queue clock; 5xx produces an RFC 3464 DSN in the sender's mailbox;
// MX delivery through a fake DNS server; roost queue list/show/hold/release/delete; roost sendmail; aliases.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { startRoost, mainScript, repoRoot, type RoostHandle } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';

type SinkMode = 'accept' | 'tempfail' | 'permfail';

/** A real SMTP server on 127.0.0.1 (the relayhost or an MX host) whose answer to RCPT the test switches. */
async function startSink() {
  const received: { from: string; to: string[]; body: string }[] = [];
  const state = { mode: 'accept' as SinkMode, rcptAttempts: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, cb) {
      state.rcptAttempts++;
      if (state.mode === 'tempfail') return cb(Object.assign(new Error('4.2.0 Try again later'), { responseCode: 450 }));
      if (state.mode === 'permfail') return cb(Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), body: Buffer.concat(chunks).toString() });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.server.address() as AddressInfo).port, received, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A tiny authoritative DNS server (RFC 1035) answering MX and A queries from a table. */
async function startDns(mx: Record<string, string>, a: Record<string, string>) {
  const socket = dgram.createSocket('udp4');
  const encodeName = (name: string) => Buffer.concat([...name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  socket.on('message', (msg, rinfo) => {
    let off = 12;
    const labels: string[] = [];
    while (msg[off] !== 0) {
      labels.push(msg.subarray(off + 1, off + 1 + msg[off]).toString());
      off += msg[off] + 1;
    }
    const qEnd = off + 5;
    const qtype = msg.readUInt16BE(off + 1);
    const name = labels.join('.').toLowerCase();
    const answers: Buffer[] = [];
    const rr = (type: number, rdata: Buffer) => {
      const head = Buffer.alloc(10);
      head.writeUInt16BE(type, 0);
      head.writeUInt16BE(1, 2);
      head.writeUInt32BE(60, 4);
      head.writeUInt16BE(rdata.length, 8);
      return Buffer.concat([Buffer.from([0xc0, 12]), head, rdata]);
    };
    if (qtype === 15 && mx[name]) answers.push(rr(15, Buffer.concat([Buffer.from([0, 10]), encodeName(mx[name])])));
    if (qtype === 1 && a[name]) answers.push(rr(1, Buffer.from(a[name].split('.').map(Number))));
    const known = name in mx || name in a;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8400 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    socket.send(Buffer.concat([header, msg.subarray(12, qEnd), ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: (socket.address() as AddressInfo).port, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

function roostCli(handle: RoostHandle, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', mainScript, ...args, '--data', handle.dataDir, '--config', join(handle.dataDir, 'roost-test.toml')], { cwd: repoRoot, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

async function waitFor<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function maildirFiles(handle: RoostHandle, user: string): string[] {
  const dir = join(handle.dataDir, 'mail', user, 'Maildir', 'new');
  return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')) : [];
}

const SEND = `
import smtplib, sys, json
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.example.org')
msg = 'From: <%s>\\r\\nSubject: %s\\r\\n\\r\\nhello\\r\\n' % (sys.argv[2], sys.argv[4])
try:
    c.sendmail(sys.argv[2], json.loads(sys.argv[3]), msg); print(json.dumps({'ok': True}))
except smtplib.SMTPRecipientsRefused as e:
    print(json.dumps({'refused': {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}}))
c.quit()
`;
async function send(port: number, from: string, to: string[], subject: string): Promise<Record<string, unknown>> {
  return JSON.parse(await runPython(SEND, [port, from, JSON.stringify(to), subject])) as Record<string, unknown>;
}

let sink: Awaited<ReturnType<typeof startSink>>;
let mxSink: Awaited<ReturnType<typeof startSink>>;
let dns: Awaited<ReturnType<typeof startDns>>;
let roost: RoostHandle;

before(async () => {
  sink = await startSink();
  mxSink = await startSink();
  dns = await startDns({ 'mx-domain.example': 'mail.mx-domain.example' }, { 'mail.mx-domain.example': '127.0.0.1' });
  roost = await startRoost({
    users: [
      { name: 'alice', password: 'a' },
      { name: 'bob', password: 'b' },
      { name: 'carol', password: 'c' },
    ],
    configToml: [
      '[smtp]',
      `relayhost = "[127.0.0.1]:${sink.port}"`,
      'smtp_tls_security_level = "none"',
      'test_clock = true',
      'transport_maps = "transport"',
      'virtual_alias_maps = "virtual"',
      `dns_servers = ["127.0.0.1:${dns.port}"]`,
      `smtp_port = ${mxSink.port}`,
    ].join('\n'),
  });
  // mx-domain.example goes by MX lookup (transport "smtp:" with no nexthop means: MX of the domain).
  writeFileSync(join(roost.dataDir, 'transport'), 'mx-domain.example smtp:mx-domain.example\nblocked.example error:mail to this domain is not accepted\n');
  writeFileSync(join(roost.dataDir, 'virtual'), '@virtual.example carol@roost.test\n');
  writeFileSync(join(roost.dataDir, 'team-members'), 'bob\ncarol\n');
  writeFileSync(join(roost.dataDir, 'aliases'), '# test aliases\nteam: alice, staff\nstaff: :include:team-members\nsink: /dev/null\npostmaster: alice\n');
  const compiled = await roostCli(roost, ['newaliases']);
  assert.equal(compiled.code, 0, compiled.stderr);
});

after(async () => {
  await roost?.stop();
  await sink?.close();
  await mxSink?.close();
  await dns?.close();
});

test('a relayhost answering 4xx leaves the message deferred; it is retried when the queue clock advances', async () => {
  sink.state.mode = 'tempfail';
  const r = await send(roost.ports.smtp, 'alice@roost.test', ['far@remote.example'], 'deferred one');
  assert.equal(r.ok, true);
  const line = await roost.waitForLog((l) => l.includes('to=<far@remote.example>') && l.includes('status=deferred'));
  assert.match(line, /dsn=4\.2\.0/);
  const list = await waitFor('deferred file', () => {
    const files = readdirSync(join(roost.dataDir, 'queue', 'deferred'));
    return files.length === 1 && files;
  });
  const q = await roostCli(roost, ['queue', 'list']);
  assert.match(q.stdout, new RegExp(`${list[0]}\\s+\\d+ .* alice@roost.test`));
  assert.match(q.stdout, /far@remote\.example/);
  const attempts = sink.state.rcptAttempts;
  // Not yet due: advancing less than minimal_backoff_time (300 s) tries nothing.
  assert.equal((await roostCli(roost, ['queue', 'advance-clock', '200s'])).code, 0);
  assert.equal(sink.state.rcptAttempts, attempts);
  sink.state.mode = 'accept';
  assert.equal((await roostCli(roost, ['queue', 'advance-clock', '101s'])).code, 0);
  await waitFor('relayed message', () => sink.received.find((m) => m.body.includes('deferred one')));
  await roost.waitForLog((l) => l.includes('to=<far@remote.example>') && l.includes('status=sent'));
  await waitFor('empty deferred queue', () => readdirSync(join(roost.dataDir, 'queue', 'deferred')).length === 0);
});

test('a relayhost answering 5xx produces a DSN in the sender\'s local mailbox', async () => {
  sink.state.mode = 'permfail';
  const before = maildirFiles(roost, 'bob').length;
  const r = await send(roost.ports.smtp, 'bob@roost.test', ['nobody@remote.example'], 'bounce me');
  assert.equal(r.ok, true);
  const dsn = await waitFor('DSN', () => maildirFiles(roost, 'bob').length > before && maildirFiles(roost, 'bob').find((m) => m.includes('multipart/report')));
  sink.state.mode = 'accept';
  assert.match(dsn, /Return-Path: <>/);
  assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/);
  assert.match(dsn, /Final-Recipient: rfc822; nobody@remote\.example/);
  assert.match(dsn, /Action: failed/);
  assert.match(dsn, /Status: 5\.1\.1/);
  assert.match(dsn, /Diagnostic-Code: smtp; 550 5\.1\.1 No such user here/);
  assert.match(dsn, /Subject: bounce me/);
});

test('a bounce that cannot be delivered is never bounced again', async () => {
  sink.state.mode = 'permfail';
  // The sender is remote: its bounce goes to the relayhost, which refuses it too.
  const r = await send(roost.ports.smtp, 'stranger@remote.example', ['x@remote.example'], 'double');
  assert.equal(r.ok, true);
  await roost.waitForLog((l) => l.includes('to=<stranger@remote.example>') && l.includes('status=bounced'));
  await roost.waitForLog((l) => l.includes('bounce of a bounce'));
  sink.state.mode = 'accept';
  await waitFor('empty queue', () => ['incoming', 'active', 'deferred'].every((s) => readdirSync(join(roost.dataDir, 'queue', s)).length === 0));
});

test('MX delivery through a fake DNS server, error: transport, and virtual catch-all', async () => {
  const r = await send(roost.ports.smtp, 'alice@roost.test', ['someone@mx-domain.example', 'x@blocked.example', 'anything@virtual.example'], 'mx test');
  assert.equal(r.ok, true);
  await waitFor('MX delivery', () => mxSink.received.find((m) => m.body.includes('mx test')));
  await roost.waitForLog((l) => l.includes('to=<someone@mx-domain.example>') && l.includes('relay=mail.mx-domain.example[127.0.0.1]') && l.includes('status=sent'));
  await roost.waitForLog((l) => l.includes('to=<x@blocked.example>') && l.includes('status=bounced'));
  await waitFor('virtual alias delivery', () => maildirFiles(roost, 'carol').find((m) => m.includes('mx test')));
  await waitFor('DSN for the blocked domain', () => maildirFiles(roost, 'alice').find((m) => m.includes('Final-Recipient: rfc822; x@blocked.example')));
});

test('aliases fan out (nested, lists, :include:), /dev/null discards, unknown users are rejected at RCPT', async () => {
  const r = await send(roost.ports.smtp, 'someone@example.org', ['team@roost.test', 'sink@roost.test'], 'team mail');
  assert.equal(r.ok, true);
  for (const user of ['alice', 'bob', 'carol']) await waitFor(`${user}'s copy`, () => maildirFiles(roost, user).find((m) => m.includes('team mail')));
  const u = await send(roost.ports.smtp, 'someone@example.org', ['ghost@roost.test'], 'nobody');
  assert.equal((u.refused as Record<string, [number, string]>)['ghost@roost.test'][0], 550);
  const onlyNull = await send(roost.ports.smtp, 'someone@example.org', ['sink@roost.test'], 'into the void');
  assert.equal(onlyNull.ok, true);
  const pm = await send(roost.ports.smtp, 'someone@example.org', ['postmaster@roost.test', 'abuse@roost.test'], 'for the postmaster');
  assert.equal(pm.ok, true);
  await waitFor('postmaster mail', () => maildirFiles(roost, 'alice').find((m) => m.includes('for the postmaster')));
});

test('roost sendmail submits locally; roost queue shows, holds, releases and deletes', async () => {
  const sm = await roostCli(roost, ['sendmail', '-f', 'alice@roost.test', '-t'], 'To: bob@roost.test\nBcc: carol@roost.test\nSubject: via sendmail\n\nline one\n.\nnot part of it\n');
  assert.equal(sm.code, 0, sm.stderr);
  await waitFor('sendmail to bob', () => maildirFiles(roost, 'bob').find((m) => m.includes('via sendmail')));
  const carolCopy = await waitFor('sendmail Bcc to carol', () => maildirFiles(roost, 'carol').find((m) => m.includes('via sendmail')));
  assert.doesNotMatch(carolCopy, /Bcc:/);
  assert.doesNotMatch(carolCopy, /not part of it/);

  sink.state.mode = 'tempfail';
  await send(roost.ports.smtp, 'alice@roost.test', ['held@remote.example'], 'hold me');
  const [id] = await waitFor('deferred', () => {
    const f = readdirSync(join(roost.dataDir, 'queue', 'deferred'));
    return f.length === 1 && f;
  });
  const shown = await roostCli(roost, ['queue', 'show', id]);
  assert.match(shown.stdout, /sender: alice@roost\.test/);
  assert.match(shown.stdout, /Subject: hold me/);
  assert.equal((await roostCli(roost, ['queue', 'hold', id])).code, 0);
  assert.ok(existsSync(join(roost.dataDir, 'queue', 'hold', id)));
  sink.state.mode = 'accept';
  // Held mail stays held through a flush and a clock jump.
  await roostCli(roost, ['queue', 'advance-clock', '2h']);
  await roostCli(roost, ['queue', 'flush']);
  assert.ok(existsSync(join(roost.dataDir, 'queue', 'hold', id)));
  assert.ok(!sink.received.some((m) => m.body.includes('hold me')));
  assert.match((await roostCli(roost, ['queue', 'list'])).stdout, new RegExp(`${id}!`));
  assert.equal((await roostCli(roost, ['queue', 'release', id])).code, 0);
  await roostCli(roost, ['queue', 'flush']);
  await waitFor('released mail relayed', () => sink.received.find((m) => m.body.includes('hold me')));

  sink.state.mode = 'tempfail';
  await send(roost.ports.smtp, 'alice@roost.test', ['gone@remote.example'], 'delete me');
  const [id2] = await waitFor('deferred', () => {
    const f = readdirSync(join(roost.dataDir, 'queue', 'deferred'));
    return f.length === 1 && f;
  });
  const del = await roostCli(roost, ['queue', 'delete', id2]);
  assert.match(del.stdout, /Deleted: 1 message/);
  assert.equal(readdirSync(join(roost.dataDir, 'queue', 'deferred')).length, 0);
  sink.state.mode = 'accept';
});
