// APPEND through the real server: flags and internal date on the stored file, APPENDUID, MULTIAPPEND all or
// nothing (a quota failure on the second message leaves the mailbox unchanged), TRYCREATE, TOOBIG, OVERQUOTA,
// EXISTS for the selected mailbox, a 20 MB literal streamed to disk while it arrives; imapflow and imaplib.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';

const run = promisify(execFile);
let h: RoostHandle;
const clients: LineClient[] = [];

before(async () => {
  h = await startRoost({
    users: [
      { name: 'app', password: 'app-secret' },
      { name: 'multi', password: 'multi-secret' },
      { name: 'quota', password: 'quota-secret', extra: 'userdb_quota_rule=*:storage=100K' },
      { name: 'big', password: 'big-secret' },
      { name: 'flow', password: 'flow-secret' },
    ],
  });
});
after(async () => {
  for (const c of clients) c.close();
  await h?.stop();
});

async function login(user: string): Promise<{ c: LineClient; cmd: (text: string) => Promise<string[]> }> {
  const c = await LineClient.connect({ port: h.ports.imap });
  clients.push(c);
  await c.readLine();
  let n = 0;
  const cmd = async (text: string): Promise<string[]> => {
    const tag = `m${++n}`;
    c.sendLine(`${tag} ${text}`);
    return c.readUntil((l) => l.startsWith(`${tag} `));
  };
  assert.match((await cmd(`LOGIN ${user} ${user}-secret`)).at(-1)!, /^m1 OK /);
  return { c, cmd };
}

/** Sends raw bytes and reads up to the completion of `tag`. */
async function sendRaw(c: LineClient, tag: string, data: string): Promise<string[]> {
  c.send(data);
  return c.readUntil((l) => l.startsWith(`${tag} `));
}

function maildirFiles(user: string, sub: 'cur' | 'new'): string[] {
  const dir = join(h.dataDir, 'mail', user, 'Maildir', sub);
  return existsSync(dir) ? readdirSync(dir) : [];
}

const MSG = 'From: a@example.org\r\nSubject: test\r\n\r\nHello there.\r\n';

test('capabilities: MULTIAPPEND, UIDPLUS, APPENDLIMIT; STATUS APPENDLIMIT', async () => {
  const { cmd } = await login('app');
  const caps = (await cmd('CAPABILITY'))[0]!.split(' ');
  for (const c of ['MULTIAPPEND', 'UIDPLUS', 'APPENDLIMIT=52428800', 'LITERAL+']) assert.ok(caps.includes(c), c);
  assert.deepEqual((await cmd('STATUS INBOX (APPENDLIMIT)'))[0], '* STATUS INBOX (APPENDLIMIT 52428800)');
});

test('APPEND with flags and internal date stores both; APPENDUID carries UIDVALIDITY and the UID', async () => {
  const { c, cmd } = await login('app');
  const uidValidity = /UIDVALIDITY (\d+)/.exec((await cmd('STATUS INBOX (UIDVALIDITY)'))[0]!)![1];
  const reply = await sendRaw(c, 'a1', `a1 APPEND INBOX (\\Seen \\Flagged) "14-Jul-2023 10:00:00 +0200" {${MSG.length}+}\r\n${MSG}\r\n`);
  assert.deepEqual(reply, [`a1 OK [APPENDUID ${uidValidity} 1] Append completed.`]);
  const files = maildirFiles('app', 'cur');
  assert.equal(files.length, 1);
  assert.match(files[0]!, /:2,FS$/, 'flags are in the Maildir name');
  const mtime = statSync(join(h.dataDir, 'mail', 'app', 'Maildir', 'cur', files[0]!)).mtime.getTime();
  assert.equal(mtime, Date.UTC(2023, 6, 14, 8, 0, 0), 'the internal date is the file time');
  assert.deepEqual((await cmd('STATUS INBOX (MESSAGES UNSEEN SIZE)'))[0], `* STATUS INBOX (MESSAGES 1 UNSEEN 0 SIZE ${MSG.length})`);
});

test('MULTIAPPEND stores several messages in one command; EXISTS reaches the session that has the mailbox selected', async () => {
  const { c, cmd } = await login('multi');
  assert.match((await cmd('SELECT INBOX')).at(-1)!, /^m2 OK /);
  const reply = await sendRaw(c, 'a1', `a1 APPEND INBOX {${MSG.length}+}\r\n${MSG} (\\Draft) {${MSG.length}+}\r\n${MSG}\r\n`);
  assert.deepEqual(reply.slice(0, 2), ['* 2 EXISTS', '* 2 RECENT']);
  assert.match(reply.at(-1)!, /^a1 OK \[APPENDUID \d+ 1:2\] Append completed\.$/);
  // A synchronising literal gets its continuation, then the answer.
  c.send(`a2 APPEND INBOX {${MSG.length}}\r\n`);
  assert.match((await c.readLine())!, /^\+ /);
  const second = await sendRaw(c, 'a2', `${MSG}\r\n`);
  assert.deepEqual(second.slice(0, 1), ['* 3 EXISTS']);
  assert.match(second.at(-1)!, /^a2 OK \[APPENDUID \d+ 3\]/);
});

test('TRYCREATE for a missing mailbox, NO for an empty message, BAD for bad flags and dates: nothing stored', async () => {
  const { c, cmd } = await login('app');
  c.send(`t1 APPEND NoSuchBox {${MSG.length}}\r\n`);
  assert.match((await c.readLine())!, /^\+ /);
  assert.deepEqual(await sendRaw(c, 't1', `${MSG}\r\n`), ["t1 NO [TRYCREATE] Mailbox doesn't exist: NoSuchBox"]);
  assert.deepEqual(await sendRaw(c, 't2', `t2 APPEND NoSuchBox {${MSG.length}+}\r\n${MSG}\r\n`), ["t2 NO [TRYCREATE] Mailbox doesn't exist: NoSuchBox"]);
  assert.deepEqual(await sendRaw(c, 't3', 't3 APPEND INBOX {0+}\r\n\r\n'), ["t3 NO Can't save a zero byte message."]);
  assert.match((await sendRaw(c, 't4', `t4 APPEND INBOX (\\Recent) {${MSG.length}+}\r\n${MSG}\r\n`))[0]!, /^t4 BAD /);
  assert.match((await sendRaw(c, 't5', `t5 APPEND INBOX "32-Jul-2023 10:00:00 +0200" {${MSG.length}+}\r\n${MSG}\r\n`))[0]!, /^t5 BAD /);
  assert.match((await sendRaw(c, 't6', 't6 APPEND INBOX\r\n'))[0]!, /^t6 BAD /);
  assert.match((await sendRaw(c, 't7', `t7 APPEND "&AGE-" {${MSG.length}+}\r\n${MSG}\r\n`))[0]!, /^t7 NO /);
  // A literal over APPENDLIMIT is refused before any data is sent.
  assert.deepEqual(await sendRaw(c, 't8', 't8 APPEND INBOX {52428801}\r\n'), ['t8 NO [TOOBIG] Literal too big']);
  assert.deepEqual((await cmd('STATUS INBOX (MESSAGES)'))[0], '* STATUS INBOX (MESSAGES 1)', 'only the message of the earlier test');
});

test('MULTIAPPEND is all or nothing: the second message over quota leaves the mailbox unchanged (OVERQUOTA)', async () => {
  const { c, cmd } = await login('quota');
  const body = `Subject: filler\r\n\r\n${'x'.repeat(60 * 1024)}\r\n`;
  const reply = await sendRaw(c, 'q1', `q1 APPEND INBOX {${body.length}+}\r\n${body} {${body.length}+}\r\n${body}\r\n`);
  assert.match(reply.at(-1)!, /^q1 NO \[OVERQUOTA\] /);
  assert.deepEqual((await cmd('STATUS INBOX (MESSAGES SIZE)'))[0], '* STATUS INBOX (MESSAGES 0 SIZE 0)');
  assert.deepEqual([...maildirFiles('quota', 'new'), ...maildirFiles('quota', 'cur')], [], 'no file of the first message remains');
  // One message fits: the failed command left no quota behind.
  assert.match((await sendRaw(c, 'q2', `q2 APPEND INBOX {${body.length}+}\r\n${body}\r\n`)).at(-1)!, /^q2 OK \[APPENDUID \d+ \d+\]/);
  assert.match((await sendRaw(c, 'q3', `q3 APPEND INBOX {${body.length}+}\r\n${body}\r\n`)).at(-1)!, /^q3 NO \[OVERQUOTA\] /);
  assert.deepEqual((await cmd('STATUS INBOX (MESSAGES)'))[0], '* STATUS INBOX (MESSAGES 1)');
});

test('a 20 MB literal is streamed to a spool file while it arrives, then stored whole', async () => {
  const { c, cmd } = await login('big');
  const total = 20 * 1024 * 1024;
  const header = 'Subject: big\r\n\r\n';
  const line = `${'a'.repeat(98)}\r\n`;
  const lines = Math.floor((total - header.length) / line.length);
  const rest = total - header.length - lines * line.length;
  const message = Buffer.from(header + line.repeat(lines) + (rest >= 2 ? `${'b'.repeat(rest - 2)}\r\n` : ''), 'latin1');
  assert.equal(message.length, total);
  c.send(`b1 APPEND INBOX {${total}}\r\n`);
  assert.match((await c.readLine())!, /^\+ /);
  const half = 12 * 1024 * 1024;
  c.send(message.subarray(0, half));
  // While the rest has not been sent, the first part is already on disk in the spool.
  const spoolDir = join(h.dataDir, 'tmp', 'imap-append');
  const deadline = Date.now() + 20_000;
  let spooled = 0;
  while (spooled < 8 * 1024 * 1024) {
    assert.ok(Date.now() < deadline, `the literal did not reach the spool (have ${spooled} bytes)`);
    await new Promise((resolve) => setImmediate(resolve));
    spooled = existsSync(spoolDir) ? readdirSync(spoolDir).reduce((sum, f) => sum + statSync(join(spoolDir, f)).size, 0) : 0;
  }
  c.send(message.subarray(half));
  const reply = await sendRaw(c, 'b1', '\r\n');
  assert.match(reply.at(-1)!, /^b1 OK \[APPENDUID \d+ 1\] Append completed\.$/);
  assert.deepEqual((await cmd('STATUS INBOX (MESSAGES SIZE)'))[0], `* STATUS INBOX (MESSAGES 1 SIZE ${total})`);
  assert.deepEqual(readdirSync(spoolDir), [], 'the spool file is removed');
});

test('imapflow append and Python imaplib append', async () => {
  const client = new ImapFlow({ host: '127.0.0.1', port: h.ports.imap, secure: false, tls: { rejectUnauthorized: false }, auth: { user: 'flow', pass: 'flow-secret' }, logger: false });
  await client.connect();
  try {
    const first = await client.append('INBOX', MSG, ['\\Seen'], new Date('2024-02-03T04:05:06Z'));
    assert.ok(first && first.uid === 1 && first.uidValidity, `APPENDUID ${String(first && first.uidValidity)} ${String(first && first.uid)}`);
    const second = await client.append('Drafts', MSG, ['\\Draft']);
    assert.ok(second && second.uid === 1);
    const status = await client.status('INBOX', { messages: true, unseen: true });
    assert.ok(status, 'STATUS answered');
    assert.equal(status.messages, 1);
    assert.equal(status.unseen, 0);
  } finally {
    await client.logout();
  }
  const script = `
import imaplib, sys, time
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login('flow', 'flow-secret')
typ, data = m.append('INBOX', '(\\\\Flagged)', imaplib.Time2Internaldate(time.time()), b'Subject: py\\r\\n\\r\\nfrom python\\r\\n')
print(typ, data[0].decode())
typ, data = m.append('Missing', None, None, b'Subject: py\\r\\n\\r\\nx\\r\\n')
print(typ, data[0].decode())
m.logout()
`;
  const { stdout } = await run('python3', ['-c', script, String(h.ports.imap)], { timeout: 30_000 });
  const [ok, missing] = stdout.trim().split('\n');
  assert.match(ok!, /^OK \[APPENDUID \d+ 2\] Append completed\.$/);
  assert.equal(missing, "NO [TRYCREATE] Mailbox doesn't exist: Missing");
});
