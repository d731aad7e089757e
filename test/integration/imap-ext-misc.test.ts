// SAVEDATE (RFC 8514), OBJECTID (RFC 8474), PREVIEW (RFC 8970) and UTF8=ACCEPT (RFC 6855) through the live server,
// with cases after each RFC's own examples: FETCH items, SEARCH keys, response codes, ENABLE and APPEND UTF8.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';

let h: RoostHandle;
const clients: LineClient[] = [];
/** Kept across a restart of Roost (OBJECTID ids must survive it). */
const dataDir = mkdtempSync(join(tmpdir(), 'roost-misc-'));
const users = ['sd', 'oid', 'obj', 'pv', 'u8', 'cat'].map((name) => ({ name, password: `${name}-secret` }));

before(async () => {
  h = await startRoost({ dataDir, keepData: true, users });
});
after(async () => {
  for (const c of clients) c.close();
  await h?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

type Cmd = (text: string | Buffer) => Promise<string[]>;

function utf8(byteString: string): string {
  return Buffer.from(byteString, 'latin1').toString('utf8');
}

/** Reads lines (literals joined into their line) up to the completion of `tag`. */
async function readReply(c: LineClient, tag: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const raw = await c.readLine();
    if (raw === null) throw new Error(`closed during ${tag}`);
    // LineClient gives byte strings (latin1); the test reads UTF-8.
    let line = utf8(raw);
    while (/~?\{(\d+)\}$/.test(line)) {
      const n = Number(/\{(\d+)\}$/.exec(line)![1]);
      line += '\n' + (await c.readBytes(n)).toString('utf8') + utf8((await c.readLine()) ?? '');
    }
    out.push(line);
    if (line.startsWith(`${tag} `)) return out;
  }
}

async function session(user: string): Promise<{ c: LineClient; cmd: Cmd }> {
  const c = await LineClient.connect({ port: h.ports.imap });
  clients.push(c);
  await c.readLine();
  let n = 0;
  const cmd: Cmd = async (text) => {
    const tag = `t${++n}`;
    c.send(Buffer.concat([Buffer.from(`${tag} `), Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'), Buffer.from('\r\n')]));
    return readReply(c, tag);
  };
  assert.match((await cmd(`LOGIN ${user} ${user}-secret`)).at(-1)!, /^t1 OK /);
  return { c, cmd };
}

function message(subject: string, body: string, extra = ''): string {
  return `From: a@example.com\r\nTo: b@example.com\r\nSubject: ${subject}\r\n${extra}\r\n${body}`;
}

async function append(cmd: Cmd, mailbox: string, msg: string, opts = ''): Promise<string[]> {
  const size = Buffer.byteLength(msg);
  return cmd(`APPEND ${mailbox} ${opts}{${size}+}\r\n${msg}`);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function imapDay(d: Date): string {
  return `${d.getDate()}-${MONTHS[d.getMonth()]}-${d.getFullYear()}`;
}

test('SAVEDATE (RFC 8514): capability, FETCH SAVEDATE apart from INTERNALDATE, SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED', async () => {
  const { cmd } = await session('sd');
  assert.ok((await cmd('CAPABILITY'))[0]!.split(' ').includes('SAVEDATE'));
  // Section 3's point: the internal date is the client's (old) date, the save date is when the server saved it.
  assert.match((await append(cmd, 'INBOX', message('old', 'hello\r\n'), '"01-Jan-2000 10:00:00 +0000" ')).at(-1)!, /^t\d+ OK \[APPENDUID /);
  assert.match((await append(cmd, 'INBOX', message('new', 'hello\r\n'))).at(-1)!, /^t\d+ OK /);
  await cmd('SELECT INBOX');
  const fetched = await cmd('FETCH 1:2 (INTERNALDATE SAVEDATE)');
  const today = new Date();
  assert.match(fetched[0]!, /^\* 1 FETCH \(INTERNALDATE "01-Jan-2000 \d\d:00:00 [+-]\d{4}" SAVEDATE "\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"\)$/);
  const saved = /SAVEDATE "([^"]+)"/.exec(fetched[0]!)![1]!;
  assert.ok(Math.abs(Date.parse(saved.replace('-', ' ').replace('-', ' ')) - today.getTime()) < 5 * 60_000, `save date ${saved} is now`);
  assert.match(fetched[2]!, /OK Fetch completed/);
  // Section 4: the keys compare the save date's day, the internal date plays no part.
  const tomorrow = new Date(today.getTime() + 36 * 3600_000);
  const yesterday = new Date(today.getTime() - 36 * 3600_000);
  assert.equal((await cmd(`SEARCH SAVEDON ${imapDay(today)}`))[0], '* SEARCH 1 2');
  assert.equal((await cmd(`SEARCH SAVEDSINCE ${imapDay(yesterday)}`))[0], '* SEARCH 1 2');
  assert.equal((await cmd(`SEARCH SAVEDSINCE ${imapDay(tomorrow)}`))[0], '* SEARCH');
  assert.equal((await cmd(`SEARCH SAVEDBEFORE ${imapDay(tomorrow)}`))[0], '* SEARCH 1 2');
  assert.equal((await cmd(`SEARCH SAVEDBEFORE ${imapDay(today)}`))[0], '* SEARCH');
  assert.equal((await cmd('SEARCH ON 1-Jan-2000')).length, 2);
  assert.equal((await cmd('SEARCH SAVEDON 1-Jan-2000'))[0], '* SEARCH');
  assert.equal((await cmd('SEARCH SAVEDATESUPPORTED'))[0], '* SEARCH 1 2');
  assert.equal((await cmd('SEARCH NOT SAVEDATESUPPORTED'))[0], '* SEARCH');
  assert.equal((await cmd(`UID SEARCH OR SAVEDBEFORE 1-Jan-2000 SAVEDON ${imapDay(today)} SUBJECT new`))[0], '* SEARCH 2');
  assert.match((await cmd('SEARCH SAVEDON notadate')).at(-1)!, /^t\d+ BAD /);
});

test('OBJECTID (RFC 8474): STATUS MAILBOXID stable across RENAME, new after DELETE and CREATE; EMAILID kept by COPY and MOVE; SEARCH EMAILID/THREADID', async () => {
  const { cmd } = await session('oid');
  await cmd('CREATE foo');
  // Section 4.4's example: STATUS foo (MAILBOXID).
  const st = await cmd('STATUS foo (MAILBOXID UIDVALIDITY)');
  const m = /^\* STATUS foo \(UIDVALIDITY \d+ MAILBOXID \(([A-Za-z0-9_-]{1,255})\)\)$/.exec(st[0]!);
  assert.ok(m, st[0]);
  const fooId = m[1]!;
  assert.notEqual(/MAILBOXID \(([^)]+)\)/.exec((await cmd('STATUS INBOX (MAILBOXID)'))[0]!)![1], fooId);
  // Section 4.2: RENAME keeps the id.
  assert.match((await cmd('RENAME foo renamed')).at(-1)!, /OK/);
  assert.equal((await cmd('STATUS renamed (MAILBOXID)'))[0], `* STATUS renamed (MAILBOXID (${fooId}))`);
  // A mailbox deleted and created again is another mailbox.
  await cmd('DELETE renamed');
  await cmd('CREATE renamed');
  assert.notEqual(/MAILBOXID \(([^)]+)\)/.exec((await cmd('STATUS renamed (MAILBOXID)'))[0]!)![1], fooId);

  // Section 5's examples: FETCH EMAILID THREADID; THREADID is NIL (no threads kept), EMAILID differs per message.
  await append(cmd, 'INBOX', message('one', 'first\r\n'));
  await append(cmd, 'INBOX', message('one', 'first\r\n'));
  await cmd('SELECT INBOX');
  const f = await cmd('FETCH 1:2 (EMAILID THREADID)');
  const ids = f.slice(0, 2).map((l) => /^\* \d FETCH \(EMAILID \(([A-Za-z0-9_-]+)\) THREADID NIL\)$/.exec(l)?.[1]);
  assert.ok(ids[0] && ids[1] && ids[0] !== ids[1], f.join('\n'));
  // Section 5.1: a COPY (and a MOVE) keeps the EMAILID where the store allows, here Maildir.
  await cmd('COPY 1 renamed');
  await cmd('MOVE 2 renamed');
  await cmd('SELECT renamed');
  const copied = await cmd('UID FETCH 1:* (EMAILID)');
  assert.equal(copied[0], `* 1 FETCH (UID 1 EMAILID (${ids[0]}))`);
  assert.equal(copied[1], `* 2 FETCH (UID 2 EMAILID (${ids[1]}))`);
  // Section 6: SEARCH EMAILID / THREADID.
  assert.equal((await cmd(`UID SEARCH EMAILID ${ids[1]}`))[0], '* SEARCH 2');
  assert.equal((await cmd(`SEARCH NOT EMAILID ${ids[1]}`))[0], '* SEARCH 1');
  assert.equal((await cmd('SEARCH THREADID T64b478a75b7ea9'))[0], '* SEARCH');
  assert.match((await cmd('SEARCH EMAILID bad.id')).at(-1)!, /^t\d+ BAD /);
  // Still the same ids after a restart of Roost (derived from what the store keeps).
  const inboxId = /MAILBOXID \(([^)]+)\)/.exec((await cmd('STATUS INBOX (MAILBOXID)'))[0]!)![1];
  await h.stop();
  h = await startRoost({ dataDir, keepData: true, users });
  const again = await session('oid');
  assert.equal((await again.cmd('STATUS INBOX (MAILBOXID)'))[0], `* STATUS INBOX (MAILBOXID (${inboxId}))`);
  await again.cmd('EXAMINE renamed');
  assert.deepEqual((await again.cmd('FETCH 1:2 (EMAILID)')).slice(0, 2), [`* 1 FETCH (EMAILID (${ids[0]}))`, `* 2 FETCH (EMAILID (${ids[1]}))`]);
});

test('OBJECTID (RFC 8474) section 4 and 5 examples: CAPABILITY, CREATE answers MAILBOXID, STATUS/SELECT/EXAMINE agree, RENAME keeps it, EMAILID across COPY/MOVE', async () => {
  const { cmd } = await session('obj');
  assert.ok((await cmd('CAPABILITY'))[0]!.split(' ').includes('OBJECTID'), 'OBJECTID advertised');
  const objectId = /^[A-Za-z0-9_-]{1,255}$/;
  // Section 4.1's example: "3 create foo" / "3 OK [MAILBOXID (F2212ea87-...)] Completed", then bar, then foo again.
  const foo = await cmd('CREATE foo');
  const fooId = /^t\d+ OK \[MAILBOXID \(([^)]+)\)\] Create completed\.$/.exec(foo.at(-1)!)?.[1];
  assert.ok(fooId && objectId.test(fooId), foo.join(' | '));
  assert.equal(foo.length, 1);
  const barId = /^t\d+ OK \[MAILBOXID \(([^)]+)\)\] /.exec((await cmd('CREATE bar')).at(-1)!)?.[1];
  assert.ok(barId && objectId.test(barId) && barId !== fooId, 'another mailbox, another id');
  assert.match((await cmd('CREATE foo')).at(-1)!, /^t\d+ NO \[ALREADYEXISTS\] /);
  // Section 4.4: STATUS MAILBOXID is the id CREATE gave.
  assert.deepEqual(await cmd('STATUS foo (MAILBOXID)'), [`* STATUS foo (MAILBOXID (${fooId}))`, 't6 OK Status completed.']);
  // Section 4.3: SELECT and EXAMINE send it as an untagged OK response code.
  assert.ok((await cmd('SELECT foo')).includes(`* OK [MAILBOXID (${fooId})] Ok`));
  assert.ok((await cmd('EXAMINE bar')).includes(`* OK [MAILBOXID (${barId})] Ok`));
  await cmd('UNSELECT');
  // Section 4.2's example: "11 rename foo renamed", then STATUS renamed and bar (MAILBOXID).
  assert.match((await cmd('RENAME foo renamed')).at(-1)!, /^t\d+ OK /);
  assert.equal((await cmd('STATUS renamed (MAILBOXID)'))[0], `* STATUS renamed (MAILBOXID (${fooId}))`);
  assert.equal((await cmd('STATUS bar (MAILBOXID)'))[0], `* STATUS bar (MAILBOXID (${barId}))`);
  assert.ok((await cmd('EXAMINE renamed')).includes(`* OK [MAILBOXID (${fooId})] Ok`));
  // A CREATE with a special use and with a trailing separator answers MAILBOXID too.
  assert.match((await cmd('CREATE Outgoing (USE (\\Sent))')).at(-1)!, /^t\d+ OK \[MAILBOXID \([A-Za-z0-9_-]+\)\] Create completed\.$/);
  assert.match((await cmd('CREATE parent.')).at(-1)!, /^t\d+ OK \[MAILBOXID \([A-Za-z0-9_-]+\)\] Create completed\.$/);

  // Section 5.1's example: APPEND, "uid fetch 1 (emailid)", "copy 1 foo", select foo, the same EMAILID there.
  assert.match((await append(cmd, 'INBOX', message('ids', 'copied about\r\n'), '"20-Mar-2018 03:07:37 +1100" ')).at(-1)!, /OK \[APPENDUID \d+ 1\]/);
  await cmd('SELECT INBOX');
  const fetched = (await cmd('UID FETCH 1 (EMAILID THREADID)'))[0]!;
  // Section 5.2: THREADID is an id or NIL; Roost keeps no threads, so NIL.
  const emailIdOf = (line: string) => /EMAILID \(([^)]+)\)/.exec(line)?.[1];
  const inboxEmailId = emailIdOf(fetched);
  assert.ok(inboxEmailId && objectId.test(inboxEmailId), fetched);
  assert.equal(fetched, `* 1 FETCH (UID 1 EMAILID (${inboxEmailId}) THREADID NIL)`);
  assert.match((await cmd('COPY 1 renamed')).at(-1)!, /^t\d+ OK \[COPYUID \d+ 1 1\]/);
  assert.match((await cmd('MOVE 1 bar')).at(-1)!, /^t\d+ OK /);
  await cmd('SELECT renamed');
  assert.equal((await cmd('UID FETCH 1 (EMAILID THREADID)'))[0], `* 1 FETCH (UID 1 EMAILID (${inboxEmailId}) THREADID NIL)`);
  await cmd('SELECT bar');
  assert.equal((await cmd('UID FETCH 1 (EMAILID)'))[0], `* 1 FETCH (UID 1 EMAILID (${inboxEmailId}))`);
  // The same bytes appended again are another message (section 5.1: ids are per stored message).
  await append(cmd, 'bar', message('ids', 'copied about\r\n'));
  await cmd('NOOP');
  assert.notEqual(emailIdOf((await cmd('UID FETCH 2 (EMAILID)'))[0]!), inboxEmailId);
});

const LOREM =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit. Curabitur\r\naliquam turpis et ante dictum, et pulvinar dui congue.   Maecenas hendrerit,\r\n\tlorem non imperdiet pellentesque, nulla ligula blandit sem, sit amet varius massa elit et risus.\r\n';

test('PREVIEW (RFC 8970): capability, 200 normalised characters, "" without text, decoded QP/base64/HTML, PREVIEW (LAZY)', async () => {
  const { cmd } = await session('pv');
  assert.ok((await cmd('CAPABILITY'))[0]!.split(' ').includes('PREVIEW'));
  await append(cmd, 'INBOX', message('lorem', LOREM));
  await append(cmd, 'INBOX', message('attachment only', '--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n', 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n'));
  await append(cmd, 'INBOX', message('qp', 'Gr=C3=BC=C3=9Fe aus K=C3=B6ln,=\r\n  bis bald\r\n', 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n'));
  await append(cmd, 'INBOX', message('html', '<html><body><p>Hello <b>HTML</b></p><p>world</p></body></html>\r\n', 'MIME-Version: 1.0\r\nContent-Type: text/html\r\n'));
  const big = 'Big message first line.\r\n' + 'x'.repeat(100) + '\r\n';
  await append(cmd, 'INBOX', message('big', big + ('filler line of text\r\n').repeat(4000)));
  await cmd('SELECT INBOX');
  // Section 5's first example: RFC822.SIZE and PREVIEW of a long text; at most 200 characters, whitespace collapsed.
  const r1 = await cmd('FETCH 1 (RFC822.SIZE PREVIEW)');
  const expected = LOREM.replace(/\s+/g, ' ').slice(0, 200).trimEnd();
  assert.equal(r1[0], `* 1 FETCH (RFC822.SIZE ${Buffer.byteLength(message('lorem', LOREM))} PREVIEW "${expected}")`);
  // No text part: an empty preview, not NIL (NIL means "not available").
  assert.equal((await cmd('FETCH 2 (PREVIEW)'))[0], '* 2 FETCH (PREVIEW "")');
  // Decoded text: quoted-printable UTF-8 goes out as a literal while UTF8=ACCEPT is off; HTML without markup.
  assert.equal((await cmd('FETCH 3 (PREVIEW)'))[0], `* 3 FETCH (PREVIEW {${Buffer.byteLength('Grüße aus Köln, bis bald')}}\n${'Grüße aus Köln, bis bald'})`);
  assert.match((await cmd('FETCH 4 (PREVIEW)'))[0]!, /^\* 4 FETCH \(PREVIEW "Hello HTML\s?world"\)$/);
  // Section 3.1: PREVIEW (LAZY) may answer NIL when a preview is costly (here a big message not yet previewed) ...
  assert.equal((await cmd('FETCH 5 (UID PREVIEW (LAZY))'))[0], '* 5 FETCH (UID 5 PREVIEW NIL)');
  assert.equal((await cmd('FETCH 1 (PREVIEW (LAZY))'))[0], `* 1 FETCH (PREVIEW "${expected}")`);
  // ... and the same item without LAZY makes it; then it is cached and LAZY has it too.
  assert.match((await cmd('FETCH 5 (PREVIEW)'))[0]!, /^\* 5 FETCH \(PREVIEW "Big message first line\. x{100} filler line of text filler/);
  assert.match((await cmd('UID FETCH 5 (PREVIEW (LAZY) FLAGS)'))[0]!, /^\* 5 FETCH \(UID 5 PREVIEW "Big message first line\. x{100} filler[^"]*" FLAGS \(\\Recent\)\)$/);
  assert.match((await cmd('FETCH 1 (PREVIEW (FUZZY))')).at(-1)!, /^t\d+ BAD /);
  // PREVIEW does not set \Seen.
  assert.equal((await cmd('FETCH 1 (FLAGS)'))[0], '* 1 FETCH (FLAGS (\\Recent))');
});

test('UTF8=ACCEPT (RFC 6855): ENABLE, UTF-8 names and quoted strings, APPEND UTF8 (literal8), SEARCH CHARSET', async () => {
  const before = await session('u8');
  assert.ok((await before.cmd('CAPABILITY'))[0]!.split(' ').includes('UTF8=ACCEPT'));
  const u8msg = Buffer.from('From: Jörg <jörg@example.com>\r\nTo: b@example.com\r\nSubject: Grüße aus Köln\r\n\r\nHallo Jörg!\r\n', 'utf8');
  // Section 4: the UTF8 data item is only for clients that enabled UTF8=ACCEPT.
  const refused = await before.cmd(Buffer.concat([Buffer.from(`APPEND INBOX UTF8 (~{${u8msg.length}+}\r\n`), u8msg, Buffer.from(')')]));
  assert.match(refused.at(-1)!, /^t\d+ BAD /);
  // Without UTF8=ACCEPT a UTF-8 mailbox name goes out in modified UTF-7.
  assert.match((await before.cmd('CREATE Entw&APw-rfe')).at(-1)!, /^t\d+ OK /);
  assert.deepEqual((await before.cmd('LIST "" "Entw*"')).slice(0, 1), ['* LIST (\\HasNoChildren) "." Entw&APw-rfe']);

  const { cmd } = await session('u8');
  // Section 3's example: ENABLE UTF8=ACCEPT is answered by ENABLED.
  assert.deepEqual(await cmd('ENABLE UTF8=ACCEPT'), ['* ENABLED UTF8=ACCEPT', 't2 OK Enabled.']);
  assert.deepEqual(await cmd('ENABLE UTF8=ACCEPT'), ['* ENABLED', 't3 OK Enabled.']);
  // Mailbox names are UTF-8 both ways now, quoted strings may hold UTF-8.
  assert.deepEqual((await cmd('LIST "" "Entw*"')).slice(0, 1), ['* LIST (\\HasNoChildren) "." "Entwürfe"']);
  assert.match((await cmd('CREATE "Ärger.Öl"')).at(-1)!, /^t\d+ OK /);
  assert.deepEqual((await cmd('LIST "" "Ärger.*"')).slice(0, 1), ['* LIST (\\HasNoChildren) "." "Ärger.Öl"']);
  // Section 4: APPEND with UTF8 (literal8); a plain literal in UTF8 (...) is BAD.
  const saved = await cmd(Buffer.concat([Buffer.from(`APPEND "Entwürfe" UTF8 (~{${u8msg.length}+}\r\n`), u8msg, Buffer.from(')')]));
  assert.match(saved.at(-1)!, /^t\d+ OK \[APPENDUID \d+ 1\]/);
  assert.match((await cmd(Buffer.concat([Buffer.from(`APPEND INBOX UTF8 ({${u8msg.length}+}\r\n`), u8msg, Buffer.from(')')]))).at(-1)!, /^t\d+ BAD /);
  await cmd('SELECT "Entwürfe"');
  const body = await cmd('FETCH 1 (BODY.PEEK[])');
  assert.equal(body[0], `* 1 FETCH (BODY[] {${u8msg.length}}\n${u8msg.toString('utf8')})`);
  // SEARCH: UTF-8 in a quoted string matches the 8-bit header; another charset is refused once UTF8=ACCEPT is on.
  assert.equal((await cmd('SEARCH SUBJECT "grüße"'))[0], '* SEARCH 1');
  assert.equal((await cmd('SEARCH FROM "jörg"'))[0], '* SEARCH 1');
  assert.match((await cmd('SEARCH CHARSET ISO-8859-1 SUBJECT x')).at(-1)!, /^t\d+ BAD \[BADCHARSET/);
  // PREVIEW (RFC 8970) text with UTF-8 is now a quoted string.
  assert.equal((await cmd('FETCH 1 (PREVIEW)'))[0], '* 1 FETCH (PREVIEW "Hallo Jörg!")');
});
