// LMTP delivery (RFC 2033) into the real server and POP3 retrieval (RFC 1939) with Python's smtplib.LMTP
// and poplib: per-recipient replies, unknown users, durable saves, DELE only at QUIT, the session lock.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { lmtpDeliver, runPython } from '../helpers/python.js';

let h: RoostHandle;
before(async () => {
  h = await startRoost({ users: [{ name: 'alice', password: 'wonderland' }, { name: 'bob@example.org', password: 'builder' }] });
});
after(async () => {
  await h?.stop();
});

function message(subject: string, body = 'Hello.\r\n'): string {
  return `From: sender@example.net\r\nTo: alice@localhost\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.net>\r\n\r\n${body}`;
}

const POP_LIST = `
import poplib, sys, json
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
p.user(sys.argv[2]); p.pass_(sys.argv[3])
count, size = p.stat()
uidl = [x.decode() for x in p.uidl()[1]]
msgs = [b'\\r\\n'.join(p.retr(i + 1)[1]).decode('latin1') for i in range(count)]
top = [x.decode('latin1') for x in p.top(1, 0)[1]] if count else []
for i in sys.argv[4:]: p.dele(int(i))
p.quit()
print(json.dumps({'count': count, 'size': size, 'uidl': uidl, 'msgs': msgs, 'top': top}))
`;

async function popList(user: string, pass: string, dele: number[] = []) {
  return JSON.parse(await runPython(POP_LIST, [h.ports.pop3, user, pass, ...dele])) as { count: number; size: number; uidl: string[]; msgs: string[]; top: string[] };
}

test('LMTP answers once per recipient: delivered, unknown user 550 5.1.1', async () => {
  const refused = await lmtpDeliver(h.ports.lmtp, 'sender@example.net', ['alice@localhost', 'nobody@localhost', 'bob+news@example.org'], message('first'));
  assert.deepEqual(Object.keys(refused), ['nobody@localhost']);
  assert.equal(refused['nobody@localhost'][0], 550);
  assert.match(refused['nobody@localhost'][1], /^5\.1\.1 /);
  // The message is in alice's Maildir, written durably into new/ before the 250.
  const files = readdirSync(join(h.dataDir, 'mail', 'alice', 'Maildir', 'new'));
  assert.equal(files.length, 1);
  assert.match(files[0], /,S=\d+,W=\d+$/);
});

test('POP3 lists and retrieves what LMTP delivered, with trace headers and exact sizes', async () => {
  await lmtpDeliver(h.ports.lmtp, 'sender@example.net', ['alice@localhost'], message('second', '.leading dot line\r\nlast\r\n'));
  const r = await popList('alice', 'wonderland');
  assert.equal(r.count, 2);
  assert.equal(r.uidl.length, 2);
  assert.match(r.uidl[0], /^1 [0-9a-f]{16}$/, 'default UIDL format %08Xu%08Xv');
  assert.match(r.msgs[0], /^Return-Path: <sender@example\.net>\r\nDelivered-To: alice@localhost\r\nReceived: from /);
  assert.match(r.msgs[1], /\r\n\.leading dot line\r\nlast$/, 'dot-stuffing is undone by the client');
  assert.equal(r.size, r.msgs.reduce((n, m) => n + Buffer.byteLength(m, 'latin1') + 2, 0), 'STAT counts CRLF octets');
  assert.equal(r.top.at(-1), '', 'TOP n 0 ends with the blank line after the header');
  assert.ok(r.top.some((l) => l === 'Subject: first'));
});

test('a connection cut after DELE and before QUIT deletes nothing; QUIT deletes', async () => {
  const c = await LineClient.connect({ port: h.ports.pop3 });
  await c.readLine();
  c.sendLine('USER alice');
  await c.readLine();
  c.sendLine('PASS wonderland');
  assert.match((await c.readLine())!, /^\+OK/);
  c.sendLine('DELE 1');
  assert.match((await c.readLine())!, /^\+OK/);
  c.close();
  await h.waitForLog((l) => l.includes('"service":"pop3"') && l.includes('"msg":"disconnect"'));
  const before = await popList('alice', 'wonderland', [1]);
  assert.equal(before.count, 2, 'the cut connection deleted nothing');
  const after = await popList('alice', 'wonderland');
  assert.equal(after.count, 1, 'QUIT committed the deletion');
  assert.equal(after.uidl[0].split(' ')[1], before.uidl[1].split(' ')[1], 'UIDLs stay the same');
});

test('a second POP3 session of the same user gets [IN-USE]', async () => {
  const a = await LineClient.connect({ port: h.ports.pop3 });
  await a.readLine();
  a.sendLine('USER alice');
  await a.readLine();
  a.sendLine('PASS wonderland');
  assert.match((await a.readLine())!, /^\+OK/);
  const b = await LineClient.connect({ port: h.ports.pop3 });
  await b.readLine();
  b.sendLine('USER alice');
  await b.readLine();
  b.sendLine('PASS wonderland');
  assert.match((await b.readLine())!, /^-ERR \[IN-USE\]/);
  a.sendLine('QUIT');
  await a.readLine();
  b.close();
});

test('AUTH PLAIN with an initial response logs in; a wrong password gets [AUTH] after the delay', async () => {
  const c = await LineClient.connect({ port: h.ports.pop3 });
  await c.readLine();
  c.sendLine(`AUTH PLAIN ${Buffer.from('\0bob@example.org\0builder').toString('base64')}`);
  assert.match((await c.readLine())!, /^\+OK/);
  c.sendLine('STAT');
  assert.match((await c.readLine())!, /^\+OK 1 \d+$/, 'bob+news got the first message');
  c.sendLine('QUIT');
  c.close();
  const d = await LineClient.connect({ port: h.ports.pop3 });
  await d.readLine();
  const started = Date.now();
  d.sendLine('USER alice');
  await d.readLine();
  d.sendLine('PASS wrong');
  assert.equal(await d.readLine(), '-ERR [AUTH] Authentication failed.');
  assert.ok(Date.now() - started >= 90, 'the failure was delayed');
  d.sendLine('CAPA');
  assert.equal(await d.readLine(), '+OK', 'the connection goes on after a failure');
  d.close();
});

test('malformed POP3 input gets -ERR and the session goes on; a huge line closes it', async () => {
  const c = await LineClient.connect({ port: h.ports.pop3 });
  await c.readLine();
  c.sendLine('STAT');
  assert.match((await c.readLine())!, /^-ERR/, 'STAT before login');
  c.send(Buffer.from([0x00, 0xff, 0x41, 0x0d, 0x0a]));
  assert.match((await c.readLine())!, /^-ERR/);
  c.sendLine('X'.repeat(5000));
  assert.equal(await c.readLine(), '-ERR Input line too long.');
  c.sendLine('USER alice');
  assert.equal(await c.readLine(), '+OK');
  c.sendLine('PASS wonderland');
  assert.match((await c.readLine())!, /^\+OK/);
  c.sendLine('RETR 99');
  assert.match((await c.readLine())!, /^-ERR/);
  c.sendLine('TOP 1 x');
  assert.match((await c.readLine())!, /^-ERR/);
  c.sendLine('QUIT');
  assert.match((await c.readLine())!, /^\+OK/);
  c.close();
  const big = await LineClient.connect({ port: h.ports.pop3 });
  await big.readLine();
  big.send('A'.repeat(200 * 1024));
  await big.waitClosed();
  assert.ok(big.isClosed);
});

test('APOP logs in with the digest of the greeting timestamp; a wrong digest fails', async () => {
  const { createHash } = await import('node:crypto');
  const c = await LineClient.connect({ port: h.ports.pop3 });
  const greeting = (await c.readLine())!;
  const stamp = /(<[^>]+>)$/.exec(greeting)?.[1];
  assert.ok(stamp, `the greeting carries an APOP timestamp: ${greeting}`);
  c.sendLine(`APOP alice ${'0'.repeat(32)}`);
  assert.equal(await c.readLine(), '-ERR [AUTH] Authentication failed.');
  c.sendLine(`APOP alice ${createHash('md5').update(stamp + 'wonderland').digest('hex')}`);
  assert.match((await c.readLine())!, /^\+OK/);
  c.sendLine('QUIT');
  await c.readLine();
  c.close();
});

test('an mbox store: LMTP delivers into it, POP3 downloads and deletes from it', async () => {
  const { mkdtempSync, rmSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const home = mkdtempSync(join(tmpdir(), 'roost-mbox-home-'));
  const m = await startRoost({ users: [{ name: 'mia', password: 'mbox-pw', home, extra: 'userdb_mail=mbox:~/mail:INBOX=~/mail/inbox' }] });
  try {
    await lmtpDeliver(m.ports.lmtp, 'sender@example.net', ['mia@localhost'], message('mbox one'));
    await lmtpDeliver(m.ports.lmtp, 'sender@example.net', ['mia@localhost'], message('mbox two', 'From the start of a line\r\n'));
    const inbox = readFileSync(join(home, 'mail', 'inbox'), 'latin1');
    assert.equal(inbox.match(/^X-UID: \d+$/gm)?.length, 2, 'two messages, numbered as Dovecot numbers them');
    // As Dovecot writes mbox: a body line starting with "From " is left as it is, Content-Length delimits.
    assert.match(inbox, /^Content-Length: \d+$/m);
    assert.match(inbox, /^From the start of a line$/m);
    const out = JSON.parse(await runPython(POP_LIST, [m.ports.pop3, 'mia', 'mbox-pw', 1])) as { count: number; msgs: string[] };
    assert.equal(out.count, 2);
    assert.match(out.msgs[1], /\r\nFrom the start of a line$/, 'the client gets the line as it was sent');
    const after = JSON.parse(await runPython(POP_LIST, [m.ports.pop3, 'mia', 'mbox-pw'])) as { count: number; msgs: string[] };
    assert.equal(after.count, 1, 'DELE 1 and QUIT removed the first message from the mbox');
    assert.match(after.msgs[0], /Subject: mbox two/);
  } finally {
    await m.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a message over the LMTP size limit gets 552 for each recipient and leaves nothing behind', async () => {
  const { readdirSync: list } = await import('node:fs');
  const small = await startRoost({ users: [{ name: 'zed', password: 'pw' }, { name: 'yan', password: 'pw' }], configToml: '[lmtp]\nmax_message_size = 2048\n' });
  try {
    // Announced with SIZE: refused at MAIL FROM.
    await assert.rejects(lmtpDeliver(small.ports.lmtp, 'sender@example.net', ['zed@localhost'], message('too big', 'y'.repeat(8000) + '\r\n')), /552/);
    // Not announced: refused after DATA, once per recipient, by a client that does not send SIZE.
    const c = await LineClient.connect({ port: small.ports.lmtp });
    await c.readLine();
    c.sendLine('LHLO client.example');
    await c.readUntil((l) => l.startsWith('250 '));
    for (const cmd of ['MAIL FROM:<sender@example.net>', 'RCPT TO:<zed@localhost>', 'RCPT TO:<yan@localhost>']) {
      c.sendLine(cmd);
      assert.match((await c.readLine())!, /^250/);
    }
    c.sendLine('DATA');
    assert.match((await c.readLine())!, /^354/);
    c.send(message('too big', 'y'.repeat(8000) + '\r\n') + '\r\n.\r\n');
    assert.match((await c.readLine())!, /^552 /);
    assert.match((await c.readLine())!, /^552 /);
    c.sendLine('QUIT');
    c.close();
    const ok = await lmtpDeliver(small.ports.lmtp, 'sender@example.net', ['zed@localhost'], message('fits'));
    assert.deepEqual(ok, {}, 'a small message is delivered');
    const maildir = join(small.dataDir, 'mail', 'zed', 'Maildir');
    assert.equal(list(join(maildir, 'new')).length, 1, 'only the small message arrived');
    assert.equal(list(join(maildir, 'tmp')).length, 0, 'no partial message left in tmp/');
  } finally {
    await small.stop();
  }
});
