// CATENATE (RFC 4469) through the live server: the RFC's section 5 example (a draft rebuilt from URL sections of
// another message and TEXT literals), absolute imap:// URLs, MULTIAPPEND with CATENATE, [BADURL url] for unusable
// references leaving the mailbox unchanged, and [TOOBIG] past the APPENDLIMIT.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { readReply } from '../helpers/imap-session.js';

let h: RoostHandle;
const clients: LineClient[] = [];
const LIMIT = 1024 * 1024;

before(async () => {
  h = await startRoost({
    users: ['cat', 'other'].map((name) => ({ name, password: `${name}-secret` })),
    configToml: `[imap]\nimap_max_literal_size = ${LIMIT}\n`,
  });
});
after(async () => {
  for (const c of clients) c.close();
  await h?.stop();
});

type Cmd = (text: string) => Promise<string[]>;

async function session(user: string): Promise<Cmd> {
  const c = await LineClient.connect({ port: h.ports.imap });
  clients.push(c);
  await c.readLine();
  let n = 0;
  const cmd: Cmd = async (text) => {
    const tag = `c${++n}`;
    c.send(`${tag} ${text}\r\n`);
    return readReply(c, tag);
  };
  assert.match((await cmd(`LOGIN ${user} ${user}-secret`)).at(-1)!, /^c1 OK /);
  return cmd;
}

const lit = (text: string): string => `{${Buffer.byteLength(text)}+}\r\n${text}`;
const BOUNDARY = '------------030308070208000400050907';

/** The draft of RFC 4469 section 5: a multipart message whose first part is text and second an attachment. */
const DRAFT = [
  'From: Bob <bob@example.com>',
  'To: Alice <alice@example.com>',
  'Subject: Draft with attachment',
  'MIME-Version: 1.0',
  `Content-Type: multipart/mixed; boundary="${BOUNDARY}"`,
  '',
  'This is a multi-part message in MIME format.',
  `--${BOUNDARY}`,
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'First draft text.',
  `--${BOUNDARY}`,
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  'AAECAwQF',
  `--${BOUNDARY}--`,
  '',
].join('\r\n');

async function appendUid(cmd: Cmd, mailbox: string, message: string): Promise<{ uidValidity: number; uid: number }> {
  const r = (await cmd(`APPEND ${mailbox} ${lit(message)}`)).at(-1)!;
  const m = /\[APPENDUID (\d+) (\d+)\]/.exec(r);
  assert.ok(m, r);
  return { uidValidity: Number(m[1]), uid: Number(m[2]) };
}

async function fetchBody(cmd: Cmd, mailbox: string, uid: number): Promise<string> {
  await cmd(`EXAMINE ${mailbox}`);
  const r = await cmd(`UID FETCH ${uid} (BODY.PEEK[])`);
  const m = /^\* \d+ FETCH \(UID \d+ BODY\[\] \{\d+\}\n([\s\S]*)\)$/.exec(r[0]!);
  assert.ok(m, r[0]);
  return m[1]!;
}

test('capability CATENATE', async () => {
  const cmd = await session('cat');
  assert.ok((await cmd('CAPABILITY'))[0]!.split(' ').includes('CATENATE'));
});

test('RFC 4469 section 5: a new draft from the old one\'s HEADER, 1.MIME, 1 and 2 sections and TEXT literals; APPENDUID', async () => {
  const cmd = await session('cat');
  const { uidValidity, uid } = await appendUid(cmd, 'Drafts', DRAFT);
  const base = `/Drafts;UIDVALIDITY=${uidValidity}/;UID=${uid}`;
  const sep = `\r\n--${BOUNDARY}\r\n`;
  const newText = 'Second draft text, edited.\r\n';
  const r = await cmd(
    `APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL "${base}/;section=HEADER" TEXT ${lit(`${sep.slice(2)}`)} URL "${base}/;section=1.MIME" TEXT ${lit(newText)} TEXT ${lit(sep.slice(2))} URL "${base}/;section=2.MIME" URL "${base}/;section=2" TEXT ${lit(`\r\n--${BOUNDARY}--\r\n`)})`,
  );
  const m = /^c\d+ OK \[APPENDUID (\d+) (\d+)\]/.exec(r.at(-1)!);
  assert.ok(m, r.at(-1));
  assert.equal(Number(m[1]), uidValidity);
  const header = DRAFT.slice(0, DRAFT.indexOf('\r\n\r\n') + 4);
  const expected =
    header +
    `--${BOUNDARY}\r\n` +
    'Content-Type: text/plain; charset=us-ascii\r\n\r\n' +
    newText +
    `--${BOUNDARY}\r\n` +
    'Content-Type: application/octet-stream; name="a.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
    'AAECAwQF' +
    `\r\n--${BOUNDARY}--\r\n`;
  assert.equal(await fetchBody(cmd, 'Drafts', Number(m[2])), expected);
  const flags = await cmd(`UID FETCH ${m[2]} (FLAGS)`);
  assert.match(flags[0]!, /FLAGS \(\\Seen \\Draft \$MDNSent\)/);
});

test('URL parts to another mailbox\'s message, whole and PARTIAL, absolute imap:// URL; MULTIAPPEND mixes CATENATE and literals', async () => {
  const cmd = await session('cat');
  await cmd('CREATE Source');
  const original = 'Subject: source\r\n\r\nbody of the source message\r\n';
  const { uidValidity, uid } = await appendUid(cmd, 'Source', original);
  const r = await cmd(
    `APPEND INBOX CATENATE (URL "imap://cat@localhost/Source;UIDVALIDITY=${uidValidity}/;UID=${uid}") CATENATE (TEXT ${lit('Subject: quote\r\n\r\n> ')} URL "/Source/;UID=${uid}/;SECTION=TEXT/;PARTIAL=0.12" TEXT ${lit('\r\n')}) ${lit('Subject: plain\r\n\r\nplain\r\n')}`,
  );
  const m = /^c\d+ OK \[APPENDUID \d+ (\d+):(\d+)\]/.exec(r.at(-1)!);
  assert.ok(m, r.at(-1));
  const first = Number(m[1]);
  assert.equal(Number(m[2]), first + 2);
  assert.equal(await fetchBody(cmd, 'INBOX', first), original);
  assert.equal(await fetchBody(cmd, 'INBOX', first + 1), 'Subject: quote\r\n\r\n> body of the \r\n');
  assert.equal(await fetchBody(cmd, 'INBOX', first + 2), 'Subject: plain\r\n\r\nplain\r\n');
});

test('[BADURL url] for unusable references: the mailbox stays unchanged', async () => {
  const cmd = await session('cat');
  await cmd('CREATE Refs');
  const { uidValidity, uid } = await appendUid(cmd, 'Refs', 'Subject: ref\r\n\r\nref\r\n');
  const otherCmd = await session('other');
  const theirs = await appendUid(otherCmd, 'INBOX', 'Subject: not yours\r\n\r\nsecret\r\n');
  const before = (await cmd('STATUS Refs (MESSAGES UIDNEXT)'))[0];
  const bad = [
    `/Refs;UIDVALIDITY=${uidValidity + 1}/;UID=${uid}`,
    `/Refs;UIDVALIDITY=${uidValidity}/;UID=${uid + 100}`,
    `/NoSuchBox;UIDVALIDITY=${uidValidity}/;UID=${uid}`,
    `imap://other@localhost/INBOX;UIDVALIDITY=${theirs.uidValidity}/;UID=${theirs.uid}`,
    `/Refs;UIDVALIDITY=${uidValidity}/;UID=${uid};URLAUTH=anonymous:internal:0123456789abcdef0123456789abcdef`,
    `/Refs;UIDVALIDITY=${uidValidity}/;UID=${uid}/;SECTION=BOGUS`,
    'http://example.com/x',
  ];
  for (const url of bad) {
    const r = await cmd(`APPEND Refs CATENATE (TEXT ${lit('Subject: x\r\n\r\n')} URL "${url}")`);
    assert.equal(r.at(-1)!.replace(/\] .*/, ']'), `c${/^c(\d+)/.exec(r.at(-1)!)![1]} NO [BADURL ${url}]`);
  }
  // MULTIAPPEND: a bad URL in the second message keeps the first one out too.
  const r = await cmd(`APPEND Refs ${lit('Subject: fine\r\n\r\nfine\r\n')} CATENATE (URL "/Refs/;UID=${uid + 7}")`);
  assert.match(r.at(-1)!, /^c\d+ NO \[BADURL /);
  assert.equal((await cmd('STATUS Refs (MESSAGES UIDNEXT)'))[0], before);
  // Syntax errors are BAD.
  assert.match((await cmd('APPEND Refs CATENATE ()')).at(-1)!, /^c\d+ BAD /);
  assert.match((await cmd('APPEND Refs CATENATE (BOGUS "x")')).at(-1)!, /^c\d+ BAD /);
});

test('[TOOBIG] when the parts together pass the APPENDLIMIT', async () => {
  const cmd = await session('cat');
  await cmd('CREATE Big');
  const big = `Subject: big\r\n\r\n${'0123456789abcdef'.repeat(40 * 1024)}\r\n`;
  const { uidValidity, uid } = await appendUid(cmd, 'Big', big);
  const url = `/Big;UIDVALIDITY=${uidValidity}/;UID=${uid}`;
  const r = await cmd(`APPEND Big CATENATE (URL "${url}" URL "${url}")`);
  assert.match(r.at(-1)!, /^c\d+ NO \[TOOBIG\]/);
  assert.match((await cmd('STATUS Big (MESSAGES)'))[0]!, /MESSAGES 1\)/);
});
