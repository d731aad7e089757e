// Integration tests of SORT, ESORT, SORT=DISPLAY and THREAD (RFC 5256, RFC 5267, RFC 5957) on the real server:
// the RFCs' command forms, and the same answers as Dovecot 2.3 on one store (missing dates, encoded subjects,
// Re:/Fwd: chains, missing parents, duplicate IDs, loops), then Python's imaplib as a client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, repoRoot, type RoostHandle } from '../helpers/roost.js';
import { taggedSession, type TaggedSession } from '../helpers/imap-session.js';
import { runPython } from '../helpers/python.js';
import { makeTraversable, requirePeer, startDovecot } from '../interop/peers.js';
import { indexDirFor, UserIndex } from '../../src/index/user-index.js';
import { packSortData, SORT_CACHE_KEY, unpackSortData } from '../../src/protocols/imap/sort/sort-data.js';
import { SNAPSHOT_CACHE_KEY, THREADS_CACHE_KEY } from '../../src/protocols/imap/sort/sort-snapshot.js';

const USER = { name: 'u', password: 'pw' };
const dirs = [join(repoRoot, 'test', 'fixtures', 'mime', 'messages'), join(repoRoot, 'test', 'fixtures', 'threads')];
const corpus = dirs.flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => readFileSync(join(d, f))),
);
/** Internal dates that are not in message order, with ties, so ARRIVAL and the DATE fallback have work to do. */
const dateOf = (i: number): string => `${String(1 + ((i * 7) % 28)).padStart(2, '0')}-Mar-2024 ${String(10 + (i % 3)).padStart(2, '0')}:00:00 +0000`;

type Session = TaggedSession;

const login = (port: number): Promise<Session> => taggedSession(port, USER.name, USER.password, 't');

async function fill(s: Session, mailbox: string): Promise<void> {
  for (const [i, m] of corpus.entries()) {
    s.c.send(`ap${i} APPEND ${mailbox} () "${dateOf(i)}" {${m.length}}\r\n`);
    const cont = await s.c.readLine();
    assert.match(cont!, /^\+/);
    s.c.send(Buffer.concat([m, Buffer.from('\r\n')]));
    const done = await s.c.readUntil((l) => l.startsWith(`ap${i} `));
    assert.match(done.at(-1)!, new RegExp(`^ap${i} OK`));
  }
}

/** The commands compared with Dovecot: every key, REVERSE, several keys, search criteria, UID forms. */
const COMMANDS = [
  ...['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'].flatMap((k) => [`SORT (${k}) UTF-8 ALL`, `SORT (REVERSE ${k}) UTF-8 ALL`, `UID SORT (${k}) UTF-8 ALL`]),
  'SORT (SUBJECT DATE) UTF-8 ALL',
  'SORT (SUBJECT REVERSE DATE) UTF-8 ALL',
  'SORT (FROM REVERSE SIZE ARRIVAL) US-ASCII ALL',
  'SORT (REVERSE SUBJECT REVERSE ARRIVAL) UTF-8 ALL',
  'SORT (DATE) UTF-8 SUBJECT budget',
  'SORT (SUBJECT) UTF-8 NOT FROM example.com',
  'SORT (TO CC) UTF-8 2:20',
  'SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL',
  'SORT RETURN (ALL) (SUBJECT) UTF-8 ALL',
  'UID SORT RETURN (ALL COUNT) (REVERSE DATE) UTF-8 ALL',
  'SORT RETURN () (SIZE) UTF-8 ALL',
  'SORT RETURN (COUNT) (SIZE) UTF-8 SUBJECT nothing-matches-this',
  'SORT (DATE) UTF-8 SUBJECT nothing-matches-this',
  'THREAD ORDEREDSUBJECT UTF-8 ALL',
  'UID THREAD ORDEREDSUBJECT UTF-8 ALL',
  'THREAD REFERENCES UTF-8 ALL',
  'UID THREAD REFERENCES UTF-8 ALL',
  'THREAD REFERENCES UTF-8 SUBJECT kickoff',
  'THREAD REFERENCES US-ASCII NOT SUBJECT budget',
  'THREAD ORDEREDSUBJECT UTF-8 SUBJECT nothing-matches-this',
  'SORT (SUBJECT) UTF-8',
  'SORT (UNKNOWN) UTF-8 ALL',
  'SORT () UTF-8 ALL',
  'SORT SUBJECT UTF-8 ALL',
  'THREAD UNKNOWN UTF-8 ALL',
];

/** What may differ without a client seeing a difference: completion texts, a trailing space. */
function normalize(lines: string[]): string[] {
  return lines.map((l) => {
    const tagged = /^TAG (OK|NO|BAD)( \[[^\]]*\])?/.exec(l);
    return tagged ? tagged[0] : l.trimEnd();
  });
}

async function script(port: number): Promise<string[][]> {
  const s = await login(port);
  await s.cmd('SELECT INBOX');
  const out: string[][] = [];
  for (const c of COMMANDS) out.push([`>>> ${c}`, ...normalize(await s.cmd(c))]);
  s.close();
  return out;
}

describe('SORT and THREAD against Dovecot 2.3 on the same store', () => {
  let base: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'roost-sort-diff-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  test('every sort key, ESORT, SORT=DISPLAY, ORDEREDSUBJECT and REFERENCES answer as Dovecot does', async (t) => {
    if (!requirePeer(t, 'dovecot')) return;
    const dovecot = await startDovecot({ dir: join(base, 'dovecot'), users: [USER], protocols: ['imap'] });
    let theirs: string[][];
    let caps: string;
    try {
      const s = await login(dovecot.imapPort);
      caps = (await s.cmd('CAPABILITY'))[0]!;
      await fill(s, 'INBOX');
      s.close();
      theirs = await script(dovecot.imapPort);
    } finally {
      await dovecot.stop();
    }
    for (const cap of ['SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=REFERENCES', 'THREAD=ORDEREDSUBJECT']) assert.ok(caps.split(' ').includes(cap), `Dovecot has ${cap}`);
    const copy = join(base, 'copy', 'u');
    cpSync(join(dovecot.mailRoot, 'u'), copy, { recursive: true, preserveTimestamps: true });
    makeTraversable(copy);
    const roost = await startRoost({ dataDir: join(base, 'roost'), users: [{ ...USER, extra: `userdb_mail=maildir:${copy}` }] });
    try {
      const s = await login(roost.ports.imap);
      const ours = (await s.cmd('CAPABILITY'))[0]!.split(' ');
      for (const cap of ['SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=REFERENCES', 'THREAD=ORDEREDSUBJECT']) assert.ok(ours.includes(cap), `Roost has ${cap}`);
      s.close();
      const answers = await script(roost.ports.imap);
      t.diagnostic(`compared ${answers.length} SORT/THREAD commands over ${corpus.length} messages`);
      for (let i = 0; i < COMMANDS.length; i++) assert.deepEqual(answers[i], theirs[i]);
      // Again from the cache: the answers do not change once the sort data is kept in the index.
      assert.deepEqual(await script(roost.ports.imap), answers);
    } finally {
      await roost.stop();
    }
  });
});

describe('SORT and THREAD on Roost', () => {
  let roost: RoostHandle;
  before(async () => {
    roost = await startRoost({ users: [USER] });
    const s = await login(roost.ports.imap);
    await fill(s, 'INBOX');
    s.close();
  });
  after(async () => {
    await roost?.stop();
  });

  test('the RFC 5256 command forms: SORT with charset and search keys, UID SORT, THREAD, errors', async () => {
    const s = await login(roost.ports.imap);
    assert.match((await s.cmd('SORT (SUBJECT) UTF-8 ALL')).at(-1)!, /^TAG BAD/, 'SORT needs a selected mailbox');
    await s.cmd('SELECT INBOX');
    // RFC 5256 section 3 example shapes: "SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994" and "SORT (REVERSE DATE) UTF-8 ALL".
    const since = await s.cmd('SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994');
    assert.match(since[0]!, /^\* SORT( \d+)+$/);
    assert.equal(since[0]!.split(' ').length - 2, corpus.length);
    const rev = await s.cmd('SORT (REVERSE DATE) UTF-8 ALL');
    const fwd = await s.cmd('SORT (DATE) UTF-8 ALL');
    assert.equal(new Set(rev[0]!.split(' ').slice(2)).size, corpus.length);
    assert.notDeepEqual(rev[0], fwd[0]);
    // An unknown charset is NO [BADCHARSET] as for SEARCH.
    assert.match((await s.cmd('SORT (DATE) X-UNKNOWN-CHARSET ALL')).at(-1)!, /^TAG NO \[BADCHARSET/);
    // The base subject: the Lunch messages (three spellings and a reply) sort and thread together.
    const lunch = (await s.cmd('SORT (SUBJECT DATE) UTF-8 SUBJECT lunch'))[0]!.split(' ').slice(2).map(Number);
    assert.equal(lunch.length, 4);
    const threads = (await s.cmd('THREAD ORDEREDSUBJECT UTF-8 SUBJECT lunch'))[0]!;
    assert.equal(threads, `* THREAD (${lunch[0]} ${lunch.slice(1).map((n) => `(${n})`).join('')})`);
    // ESORT: MIN/MAX/COUNT in one ESEARCH response tagged with the command's tag (RFC 5267 section 3).
    const es = await s.cmd('UID SORT RETURN (COUNT MIN) (ARRIVAL) UTF-8 ALL');
    assert.match(es[0]!, /^\* ESEARCH \(TAG "t\d+"\) UID MIN \d+ COUNT \d+$/);
    s.close();
  });

  test('SORT and THREAD see expunges and new messages; sequence numbers stay stable during SORT', async () => {
    const s = await login(roost.ports.imap);
    await s.cmd('CREATE Threads');
    for (const [i, name] of ['01-root.eml', '02-reply.eml', '03-reply-reply.eml'].entries()) {
      const m = readFileSync(join(dirs[1]!, name));
      s.c.send(`x${i} APPEND Threads {${m.length}+}\r\n`);
      s.c.send(Buffer.concat([m, Buffer.from('\r\n')]));
      await s.c.readUntil((l) => l.startsWith(`x${i} `));
    }
    await s.cmd('SELECT Threads');
    // 03 is dated 11:30 UTC, after 02: a chain root -> reply -> reply-to-reply.
    assert.equal((await s.cmd('THREAD REFERENCES UTF-8 ALL'))[0], '* THREAD (1 2 3)');
    await s.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
    await s.cmd('EXPUNGE');
    // The reply is gone: its child hangs directly under the root (its References name the root first).
    assert.equal((await s.cmd('THREAD REFERENCES UTF-8 ALL'))[0], '* THREAD (1 2)');
    assert.equal((await s.cmd('UID THREAD REFERENCES UTF-8 ALL'))[0], '* THREAD (1 3)');
    assert.equal((await s.cmd('SORT (REVERSE DATE) UTF-8 ALL'))[0], '* SORT 2 1');
    s.close();
  });

  test("Python's imaplib sorts and threads", async () => {
    const out = await runPython(
      `
import imaplib, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login('u', 'pw')
M.select('INBOX')
typ, data = M.sort('(REVERSE SIZE)', 'UTF-8', 'ALL')
print(typ, len(data[0].split()))
typ, data = M.thread('REFERENCES', 'UTF-8', 'ALL')
print(typ, data[0].decode()[:1])
typ, data = M.uid('SORT', '(DISPLAYFROM)', 'UTF-8', 'ALL')
print(typ, len(data[0].split()))
M.logout()
`,
      [roost.ports.imap],
    );
    assert.deepEqual(out.trim().split('\n'), [`OK ${corpus.length}`, 'OK (', `OK ${corpus.length}`]);
  });
});

describe('SORT keys kept per message in the index and in memory', () => {
  let base: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'roost-sort-cache-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  const message = (from: string, subject: string, date: string): Buffer =>
    Buffer.from(`From: ${from}\r\nTo: x@example.com\r\nSubject: ${subject}\r\nDate: ${date}\r\nMessage-ID: <${Math.random()}@example.com>\r\n\r\nbody\r\n`);
  const MESSAGES = [
    // "Re: Ärger" from "Jörg": base subject ÄRGER, decomposed (A U+0308), after APFEL; display name JÖRG, after CARL.
    message('=?ISO-8859-1?Q?J=F6rg?= <zed@example.com>', '=?UTF-8?B?UmU6IMOEcmdlcg==?=', 'Mon, 4 Mar 2024 10:00:00 +0000'),
    message('b@example.com', 'Apfel', 'Mon, 4 Mar 2024 11:00:00 +0000'),
    message('Carl <c@example.com>', 'Zebra', 'Mon, 4 Mar 2024 09:00:00 +0000'),
  ];

  async function append(s: Session, m: Buffer, tag: string): Promise<void> {
    s.c.send(`${tag} APPEND INBOX {${m.length}+}\r\n`);
    s.c.send(Buffer.concat([m, Buffer.from('\r\n')]));
    assert.match((await s.c.readUntil((l) => l.startsWith(`${tag} `))).at(-1)!, new RegExp(`^${tag} OK`));
  }

  async function withIndex<T>(dataDir: string, fn: (index: UserIndex) => T): Promise<T> {
    const dir = indexDirFor(dataDir, USER.name);
    const index = UserIndex.acquire(dir, false);
    try {
      return fn(index);
    } finally {
      await index.release();
      await UserIndex.closeIdle(dir);
    }
  }

  test('an encoded-word subject and display name are cached decoded; another version or a bad entry is computed again', async () => {
    const dataDir = join(base, 'data');
    let roost = await startRoost({ dataDir, users: [USER], keepData: true });
    try {
      const s = await login(roost.ports.imap);
      for (const [i, m] of MESSAGES.entries()) await append(s, m, `ap${i}`);
      await s.cmd('SELECT INBOX');
      assert.equal((await s.cmd('SORT (SUBJECT) UTF-8 ALL'))[0], '* SORT 2 1 3');
      assert.equal((await s.cmd('SORT (DISPLAYFROM) UTF-8 ALL'))[0], '* SORT 2 3 1');
      assert.equal((await s.cmd('SORT (REVERSE DATE) UTF-8 ALL'))[0], '* SORT 2 1 3');
      s.close();
    } finally {
      await roost.stop();
    }

    await withIndex(dataDir, (index) => {
      const first = unpackSortData(index.getCached('INBOX', 1, SORT_CACHE_KEY));
      assert.ok(first, 'the sort keys are in the index');
      assert.equal(first.subject, 'A\u0308RGER');
      assert.equal(first.replyOrForward, true);
      assert.equal(first.displayFrom, 'JO\u0308RG');
      assert.equal(first.from, 'ZED');
      // An entry of another version is not read; an entry that is not sort data is computed again; a good one is used.
      index.cache.putSync(['INBOX', 1, SORT_CACHE_KEY], { subject: 'AAA', references: [] });
      index.cache.putSync(['INBOX', 2, 'imap.sort.v1'], { ...first, subject: '' });
      index.cache.putSync(['INBOX', 3, SORT_CACHE_KEY], packSortData({ ...first, subject: '0 FROM THE CACHE' }));
    });

    roost = await startRoost({ dataDir, users: [USER], keepData: true });
    try {
      const s = await login(roost.ports.imap);
      await s.cmd('SELECT INBOX');
      assert.equal((await s.cmd('SORT (SUBJECT) UTF-8 ALL'))[0], '* SORT 3 2 1');
      s.close();
    } finally {
      await roost.stop();
    }
    await withIndex(dataDir, (index) => {
      assert.equal(unpackSortData(index.getCached('INBOX', 1, SORT_CACHE_KEY))?.subject, 'A\u0308RGER', 'the bad entry was replaced');
    });
  });

  test('a large mailbox sorts and threads the same from its snapshot after a restart, without messages expunged since', async () => {
    const dataDir = join(base, 'large');
    const maildir = join(dataDir, 'mail', USER.name, 'Maildir');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
    const subjects = ['Budget', 'Lunch', 'Ärger', 'Zebra crossing', 'Q3 plan', '😀 party'];
    for (let i = 0; i < 1500; i++) {
      const subject = `${['', 'Re: ', 'Fwd: '][i % 3]}${subjects[(i * 7) % subjects.length]} ${i % 40}`;
      const refs = i % 4 ? `References: <m${i - 1 - (i % 5)}@example.com>\r\n` : '';
      const date = i % 50 === 7 ? '' : `Date: ${new Date(Date.UTC(2024, 0, 1) + ((i * 7919) % 1500) * 3_600_000).toUTCString()}\r\n`;
      const body = `From: Sender ${i % 13} <s${i % 17}@example.com>\r\nTo: r${i % 3}@example.com\r\nSubject: ${subject}\r\n${date}Message-ID: <m${i}@example.com>\r\n${refs}\r\nbody ${i}\r\n`;
      writeFileSync(join(maildir, 'cur', `${1_700_000_000 + i}.M${i}P1.test:2,`), body);
    }
    const COMMANDS = ['UID SORT (SUBJECT) UTF-8 ALL', 'UID SORT (REVERSE DATE) UTF-8 ALL', 'UID SORT (FROM DISPLAYTO SIZE) UTF-8 ALL', 'UID THREAD REFERENCES UTF-8 ALL', 'UID THREAD ORDEREDSUBJECT UTF-8 ALL'];
    const answers = async (roost: RoostHandle): Promise<string[]> => {
      const s = await login(roost.ports.imap);
      await s.cmd('SELECT INBOX');
      const out: string[] = [];
      for (const c of COMMANDS) out.push((await s.cmd(c))[0]!);
      await s.cmd('LOGOUT');
      s.close();
      return out;
    };
    const gone = new Set([5, 6, 7, 700, 1500]);
    let roost = await startRoost({ dataDir, users: [USER], keepData: true });
    let fresh: string[];
    try {
      fresh = await answers(roost);
    } finally {
      await roost.stop();
    }
    await withIndex(dataDir, (index) => {
      for (const key of [SNAPSHOT_CACHE_KEY, THREADS_CACHE_KEY]) assert.ok(Buffer.isBuffer(index.getMailboxCached('INBOX', key)), `${key} was written`);
    });
    roost = await startRoost({ dataDir, users: [USER], keepData: true });
    try {
      assert.deepEqual(await answers(roost), fresh, 'from the snapshot');
    } finally {
      await roost.stop();
    }
    // Expunged while the keys were not in memory: the next start leaves them out of the snapshot's keys.
    roost = await startRoost({ dataDir, users: [USER], keepData: true });
    let after: string[];
    try {
      const s = await login(roost.ports.imap);
      await s.cmd('SELECT INBOX');
      await s.cmd(`UID STORE ${[...gone].join(',')} +FLAGS.SILENT (\\Deleted)`);
      await s.cmd('EXPUNGE');
      s.close();
    } finally {
      await roost.stop();
    }
    roost = await startRoost({ dataDir, users: [USER], keepData: true });
    try {
      after = await answers(roost);
    } finally {
      await roost.stop();
    }
    // The SORT answers are the old ones without those UIDs; the threads are checked against a start without any keys.
    for (let i = 0; i < 3; i++) assert.deepEqual(after[i]!.split(' '), fresh[i]!.split(' ').filter((x) => !gone.has(Number(x))));
    await withIndex(dataDir, (index) => {
      for (const key of [SNAPSHOT_CACHE_KEY, THREADS_CACHE_KEY]) index.cache.removeSync(['INBOX', 0, key]);
      for (let uid = 1; uid <= 1500; uid++) index.cache.removeSync(['INBOX', uid, SORT_CACHE_KEY]);
    });
    roost = await startRoost({ dataDir, users: [USER], keepData: true });
    try {
      assert.deepEqual(await answers(roost), after, 'from the messages themselves');
    } finally {
      await roost.stop();
    }
  });

  test("a session's SORT sees messages another session added, and not those it expunged", async () => {
    const roost = await startRoost({ dataDir: join(base, 'shared'), users: [USER] });
    try {
      const a = await login(roost.ports.imap);
      const b = await login(roost.ports.imap);
      for (const [i, m] of MESSAGES.entries()) await append(a, m, `ap${i}`);
      await a.cmd('SELECT INBOX');
      await b.cmd('SELECT INBOX');
      assert.equal((await a.cmd('SORT (SUBJECT) UTF-8 ALL'))[0], '* SORT 2 1 3');
      await append(b, message('d@example.com', 'Re: Aardvark', 'Mon, 4 Mar 2024 12:00:00 +0000'), 'bp');
      await append(b, message('e@example.com', 'Zebra', 'Mon, 4 Mar 2024 08:00:00 +0000'), 'bq');
      await a.cmd('NOOP');
      assert.equal((await a.cmd('SORT (SUBJECT) UTF-8 ALL'))[0], '* SORT 4 2 1 3 5');
      assert.equal((await a.cmd('SORT (REVERSE SUBJECT) UTF-8 ALL'))[0], '* SORT 3 5 1 2 4');
      // ESORT ALL: runs of consecutive numbers in the sort order as ranges (RFC 5267 section 3.2).
      assert.match((await a.cmd('UID SORT RETURN (ALL MIN MAX COUNT) (REVERSE SUBJECT) UTF-8 ALL'))[0]!, /^\* ESEARCH \(TAG "t\d+"\) UID MIN 1 MAX 5 ALL 3,5,1:2,4 COUNT 5$/);
      assert.equal((await a.cmd('SORT (SUBJECT REVERSE DATE) UTF-8 ALL'))[0], '* SORT 4 2 1 3 5');
      assert.equal((await a.cmd('THREAD ORDEREDSUBJECT UTF-8 ALL'))[0], '* THREAD (5 3)(1)(2)(4)');
      await b.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
      await b.cmd('EXPUNGE');
      await a.cmd('NOOP');
      assert.equal((await a.cmd('UID SORT (SUBJECT) UTF-8 ALL'))[0], '* SORT 4 1 3 5');
      assert.equal((await a.cmd('SORT (SUBJECT) UTF-8 ALL'))[0], '* SORT 3 1 2 4');
      a.close();
      b.close();
    } finally {
      await roost.stop();
    }
  });
});
