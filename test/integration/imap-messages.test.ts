// Integration tests of the IMAP message commands on the real server: FETCH, STORE, COPY, MOVE and their UID
// forms (RFC 9051 6.4.5-6.4.9, RFC 3516, RFC 4315, RFC 6851) through imapflow, Python imaplib and raw sockets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { repoRoot } from '../helpers/roost.js';

const USER = { name: 'alice', password: 'secret' };
const scratch = mkdtempSync(join(tmpdir(), 'roost-imap-messages-'));

/** Delivers messages through LMTP with Python's smtplib, one transaction each, in order. */
function deliver(port: number, user: string, messages: (string | Buffer)[]): void {
  const files = messages.map((m, i) => {
    const file = join(scratch, `msg-${Date.now()}-${i}.eml`);
    writeFileSync(file, m);
    return file;
  });
  const script = [
    'import smtplib, sys',
    'for path in sys.argv[3:]:',
    '    c = smtplib.LMTP("127.0.0.1", int(sys.argv[1]))',
    '    c.sendmail("sender@example.com", [sys.argv[2] + "@localhost"], open(path, "rb").read())',
    '    c.quit()',
  ].join('\n');
  execFileSync('python3', ['-c', script, String(port), user, ...files]);
}

/** Runs one IMAP script with Python's imaplib and returns what it printed (JSON). */
function imaplib(port: number, body: string): unknown {
  const script = [
    'import imaplib, json, sys',
    'M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))',
    'M.login("alice", "secret")',
    'out = {}',
    body,
    'M.logout()',
    'print(json.dumps(out, default=lambda b: b.decode("latin1")))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script, String(port)], { encoding: 'utf8' }));
}

/** A logged-in raw connection; cmd() sends a tagged command and returns every line up to the tagged reply. */
async function rawSession(port: number): Promise<{ c: LineClient; cmd(text: string): Promise<string[]> }> {
  const c = await LineClient.connect({ port });
  await c.readLine();
  let n = 0;
  const cmd = async (text: string): Promise<string[]> => {
    const tag = `r${++n}`;
    c.send(`${tag} ${text}\r\n`);
    const lines = await c.readUntil((l) => l.startsWith(`${tag} `));
    // The tagged reply is returned as "TAG <status> ..." so that assertions need not count commands.
    lines[lines.length - 1] = `TAG ${lines[lines.length - 1]!.slice(tag.length + 1)}`;
    return lines;
  };
  const login = await cmd(`LOGIN ${USER.name} ${USER.password}`);
  assert.match(login.at(-1)!, /^TAG OK/);
  return { c, cmd };
}

/** APPENDs exact bytes with a LITERAL+ literal and returns the new UID (from APPENDUID). */
async function append(c: LineClient, mailbox: string, message: Buffer, flags = ''): Promise<number> {
  const tag = `ap${Math.random().toString(36).slice(2, 8)}`;
  c.send(Buffer.concat([Buffer.from(`${tag} APPEND ${mailbox} ${flags ? `(${flags}) ` : ''}{${message.length}+}\r\n`), message, Buffer.from('\r\n')]));
  const lines = await c.readUntil((l) => l.startsWith(`${tag} `));
  const m = /APPENDUID \d+ (\d+)/.exec(lines.at(-1)!);
  assert.ok(m, lines.join('\n'));
  return Number(m[1]);
}

/**
 * Reads one FETCH response holding a single item after "* n FETCH (": when the value is one literal, its bytes;
 * else the value's text as sent (embedded literals included). Also returns the text before the value.
 */
async function readFetchItem(c: LineClient, tag: string): Promise<{ head: string; value: Buffer; literal8: boolean; tagged: string }> {
  const first = await c.readLine();
  assert.ok(first !== null);
  if (first.startsWith(`${tag} `)) return { head: '', value: Buffer.alloc(0), literal8: false, tagged: first };
  const lit = /^(.*?)(~?)\{(\d+)\}$/.exec(first);
  if (lit && /^\* \d+ FETCH \((?:UID \d+ )?\S+(?: \([^)]*\))?\]?(?:<\d+>)? $/.test(lit[1]!)) {
    const value = await c.readBytes(Number(lit[3]));
    const rest = await c.readLine();
    if (rest === ')') {
      const tagged = (await c.readUntil((l) => l.startsWith(`${tag} `))).at(-1)!;
      return { head: lit[1]!, value, literal8: lit[2] === '~', tagged };
    }
    throw new Error(`unexpected text after a literal: ${rest}`);
  }
  // An inline value, possibly with literals inside (ENVELOPE, BODYSTRUCTURE)
  let text = first;
  for (let m = /\{(\d+)\}$/.exec(text); m; m = /\{(\d+)\}$/.exec(text)) {
    text += '\r\n' + (await c.readBytes(Number(m[1]))).toString('latin1') + (await c.readLine());
  }
  const head = /^\* \d+ FETCH \((?:UID \d+ )?\S+ /.exec(text);
  assert.ok(head && text.endsWith(')'), text);
  const tagged = (await c.readUntil((l) => l.startsWith(`${tag} `))).at(-1)!;
  return { head: head[0], value: Buffer.from(text.slice(head[0].length, -1), 'latin1'), literal8: false, tagged };
}

function flow(port: number): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: USER.name, pass: USER.password }, logger: false });
}

const plain = (subject: string, body = 'Hello there.\r\n'): string =>
  `From: Bob Example <bob@example.com>\r\nTo: alice@localhost\r\nSubject: ${subject}\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.com>\r\n\r\n${body}`;

let roost: RoostHandle;
const open: { close(): void }[] = [];

before(async () => {
  roost = await startRoost({ users: [USER] });
});

after(async () => {
  for (const o of open) o.close();
  await roost?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('STORE, COPY and MOVE', () => {
  test('STORE reports changed flags once, honours .SILENT and UID STORE adds UID', async () => {
    deliver(roost.ports.lmtp, 'alice', [plain('store one'), plain('store two'), plain('store three')]);
    const { c, cmd } = await rawSession(roost.ports.imap);
    open.push(c);
    await cmd('CREATE StoreBox');
    const sel = await cmd('SELECT INBOX');
    assert.match(sel.at(-1)!, /OK \[READ-WRITE\]/);
    const first = await cmd('STORE 1 +FLAGS (\\Seen)');
    assert.deepEqual(first, ['* 1 FETCH (FLAGS (\\Seen \\Recent))', 'TAG OK Store completed.']);
    // Already set: nothing changed, nothing to report (as Dovecot)
    assert.deepEqual(await cmd('STORE 1 +FLAGS (\\Seen)'), ['TAG OK Store completed.']);
    const silent = await cmd('STORE 2 FLAGS.SILENT (\\Answered \\Draft)');
    assert.deepEqual(silent, ['TAG OK Store completed.']);
    const keyword = await cmd('UID STORE 3 +FLAGS (\\Flagged $Important)');
    assert.ok(keyword.includes('* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent $Important))'), keyword.join('\n'));
    assert.ok(keyword.some((l) => /^\* FLAGS \(.*\$Important\)$/.test(l)), 'new keyword announced in FLAGS');
    const removed = await cmd('STORE 1:3 -FLAGS (\\Seen \\Draft)');
    assert.deepEqual(removed.filter((l) => l.includes('FETCH')), ['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Answered \\Recent))']);
    const fetched = await cmd('FETCH 1:3 FLAGS');
    assert.deepEqual(fetched.slice(0, 3), ['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Answered \\Recent))', '* 3 FETCH (FLAGS (\\Flagged \\Recent $Important))']);
    assert.match((await cmd('STORE 1 +FLAGS (\\Recent)')).at(-1)!, /^TAG BAD/);
    assert.match((await cmd('STORE 1 +FLAGZ (\\Seen)')).at(-1)!, /^TAG BAD/);
    assert.match((await cmd('NOOP')).at(-1)!, /^TAG OK/);
  });

  test('STORE in an EXAMINEd mailbox is refused and the connection stays usable', async () => {
    const { c, cmd } = await rawSession(roost.ports.imap);
    open.push(c);
    await cmd('EXAMINE INBOX');
    const refused = await cmd('STORE 1 +FLAGS (\\Deleted)');
    assert.match(refused.at(-1)!, /^TAG NO \[READ-ONLY\]/);
    assert.ok(!refused.some((l) => l.includes('FETCH')));
    assert.match((await cmd('UID STORE 1:* +FLAGS (\\Deleted)')).at(-1)!, /^TAG NO/);
    const flags = await cmd('FETCH 1 FLAGS');
    assert.ok(!flags[0]!.includes('\\Deleted'));
    assert.match(flags.at(-1)!, /^TAG OK/);
  });

  test('flags set by STORE in one session reach another session at NOOP', async () => {
    const a = await rawSession(roost.ports.imap);
    const b = await rawSession(roost.ports.imap);
    open.push(a.c, b.c);
    await a.cmd('SELECT INBOX');
    await b.cmd('SELECT INBOX');
    await a.cmd('UID STORE 2 +FLAGS.SILENT (\\Flagged)');
    const noop = await b.cmd('NOOP');
    const update = noop.find((l) => l.startsWith('* 2 FETCH '));
    assert.ok(update, noop.join('\n'));
    assert.deepEqual(new Set(/FLAGS \(([^)]*)\)/.exec(update)![1]!.split(' ')), new Set(['\\Answered', '\\Flagged']));
  });

  test('COPY answers COPYUID, UID COPY of nothing is OK, a missing destination gives TRYCREATE', async () => {
    const { c, cmd } = await rawSession(roost.ports.imap);
    open.push(c);
    await cmd('SELECT INBOX');
    const status = await cmd('STATUS StoreBox (UIDVALIDITY UIDNEXT)');
    const validity = /UIDVALIDITY (\d+)/.exec(status.join(' '))![1];
    const copied = await cmd('COPY 1:2 StoreBox');
    assert.equal(copied.at(-1), `TAG OK [COPYUID ${validity} 1:2 1:2] Copy completed.`);
    const uidCopied = await cmd('UID COPY 3,1 StoreBox');
    assert.equal(uidCopied.at(-1), `TAG OK [COPYUID ${validity} 1,3 3:4] Copy completed.`);
    assert.equal((await cmd('UID COPY 999 StoreBox')).at(-1), 'TAG OK No messages found.');
    assert.equal((await cmd('COPY 1 NoSuchBox')).at(-1), 'TAG NO [TRYCREATE] Mailbox does not exist.');
    assert.match((await cmd('COPY 99 StoreBox')).at(-1)!, /^TAG BAD/);
    // Flags travel with the copy
    await cmd('SELECT StoreBox');
    const flags = await cmd('UID FETCH 1:4 FLAGS');
    assert.ok(flags.includes('* 2 FETCH (UID 2 FLAGS (\\Answered \\Flagged \\Recent))'), flags.join('\n'));
    assert.ok(flags.includes('* 4 FETCH (UID 4 FLAGS (\\Flagged \\Recent $Important))'), flags.join('\n'));
  });

  test('MOVE sends COPYUID, then each EXPUNGE exactly once, then OK', async () => {
    deliver(roost.ports.lmtp, 'alice', [plain('move a'), plain('move b'), plain('move c')]);
    const { c, cmd } = await rawSession(roost.ports.imap);
    open.push(c);
    const sel = await cmd('SELECT INBOX');
    const exists = Number(/\* (\d+) EXISTS/.exec(sel.join('\n'))![1]);
    const validity = /UIDVALIDITY (\d+)/.exec((await cmd('STATUS StoreBox (UIDVALIDITY)')).join(' '))![1];
    const moved = await cmd(`MOVE ${exists - 1}:${exists} StoreBox`);
    assert.equal(moved[0], `* OK [COPYUID ${validity} ${exists - 1}:${exists} 5:6] Moved UIDs.`);
    const expunges = moved.filter((l) => l.endsWith(' EXPUNGE'));
    assert.deepEqual(expunges, [`* ${exists} EXPUNGE`, `* ${exists - 1} EXPUNGE`]);
    assert.equal(moved.at(-1), 'TAG OK Move completed.');
    const after = await cmd('NOOP');
    assert.ok(!after.some((l) => l.includes('EXPUNGE')), 'no second EXPUNGE');
    const uidMove = await cmd(`UID MOVE ${exists - 2} StoreBox`);
    assert.ok(uidMove.includes(`* ${exists - 2} EXPUNGE`));
    assert.equal(uidMove.filter((l) => l.includes('EXPUNGE')).length, 1);
    assert.equal((await cmd('MOVE 1 NoSuchBox')).at(-1), 'TAG NO [TRYCREATE] Mailbox does not exist.');
    await cmd('EXAMINE INBOX');
    assert.match((await cmd('MOVE 1 StoreBox')).at(-1)!, /^TAG NO \[READ-ONLY\]/);
  });

  test('imapflow flags, copies, moves and deletes', async () => {
    deliver(roost.ports.lmtp, 'alice', [plain('flow one'), plain('flow two')]);
    const client = flow(roost.ports.imap);
    await client.connect();
    open.push({ close: () => client.close() });
    await client.mailboxCreate('FlowBox');
    const lock = await client.getMailboxLock('INBOX');
    try {
      const uids = (await client.search({ subject: 'flow' }, { uid: true })) as number[];
      assert.equal(uids.length, 2);
      assert.ok(await client.messageFlagsAdd({ uid: uids.join(',') }, ['\\Flagged', 'Work'], { uid: true }));
      const flagged = await client.fetchOne(String(uids[0]), { flags: true, uid: true }, { uid: true });
      assert.ok(flagged && flagged.flags!.has('\\Flagged') && flagged.flags!.has('Work'));
      const copy = await client.messageCopy({ uid: String(uids[0]) }, 'FlowBox', { uid: true });
      assert.ok(copy && copy.uidMap && copy.uidMap.size === 1);
      const move = await client.messageMove({ uid: String(uids[1]) }, 'FlowBox', { uid: true });
      assert.ok(move && move.uidMap && move.uidMap.get(uids[1]!) !== undefined);
      assert.ok(await client.messageDelete({ uid: String(uids[0]) }, { uid: true }));
      const left = (await client.search({ subject: 'flow' }, { uid: true })) as number[];
      assert.deepEqual(left, []);
    } finally {
      lock.release();
    }
    const status = await client.status('FlowBox', { messages: true });
    assert.equal(status && status.messages, 2);
    await client.logout();
  });
});

describe('FETCH', () => {
  const fixtures = join(repoRoot, 'test', 'fixtures', 'mime');
  const multipart = readFileSync(join(fixtures, 'messages', '05-mixed-attach.eml'));
  let c: LineClient;
  let cmd: (text: string) => Promise<string[]>;
  let multipartUid = 0;

  before(async () => {
    ({ c, cmd } = await rawSession(roost.ports.imap));
    open.push(c);
    await cmd('CREATE FetchBox');
    multipartUid = await append(c, 'FetchBox', multipart);
    await cmd('SELECT FetchBox');
  });

  test('the answers equal Dovecot 2.3.19\'s recorded answers for the MIME corpus', async () => {
    const answers = JSON.parse(readFileSync(join(fixtures, 'dovecot-answers.json'), 'utf8')) as {
      recorded: { file: string; items: { item: string; text?: string; base64?: string; error?: string }[] }[];
    };
    await cmd('CREATE Corpus');
    const uids = new Map<string, number>();
    for (const r of answers.recorded) uids.set(r.file, await append(c, 'Corpus', readFileSync(join(fixtures, 'messages', r.file))));
    await cmd('EXAMINE Corpus');
    let compared = 0;
    const mismatches: string[] = [];
    let n = 0;
    for (const r of answers.recorded) {
      for (const it of r.items) {
        const inline = it.text !== undefined && /^(ENVELOPE|BODYSTRUCTURE|BODY|RFC822\.SIZE|BINARY\.SIZE\[.*\])$/.test(it.item);
        const literal = it.base64 !== undefined && /^(BODY|BINARY)\.PEEK\[/.test(it.item);
        if (!inline && !literal && it.error === undefined) continue;
        const tag = `cx${++n}`;
        c.send(`${tag} UID FETCH ${uids.get(r.file)} (${it.item})\r\n`);
        const got = await readFetchItem(c, tag);
        compared++;
        if (it.error !== undefined) {
          const code = /\[([A-Z-]+)\]/.exec(it.error)![1];
          if (!got.tagged.startsWith(`${tag} NO [${code}]`)) mismatches.push(`${r.file} ${it.item}: ${got.tagged}`);
          continue;
        }
        const expected = it.text !== undefined ? Buffer.from(it.text, 'latin1') : Buffer.from(it.base64!, 'base64');
        const value = got.value;
        if (!value.equals(expected)) mismatches.push(`${r.file} ${it.item}:\n  dovecot ${JSON.stringify(expected.toString('latin1')).slice(0, 300)}\n  roost   ${JSON.stringify(value.toString('latin1')).slice(0, 300)}`);
      }
    }
    console.log(`compared ${compared} FETCH answers with Dovecot's, ${mismatches.length} differ`);
    assert.ok(compared > 500);
    assert.deepEqual(mismatches, []);
  });

  test('exact bytes: HEADER.FIELDS, partial ranges, BINARY, BINARY.SIZE and Dovecot\'s item order', async () => {
    await cmd('SELECT FetchBox');
    const tag = 'hf1';
    c.send(`${tag} UID FETCH ${multipartUid} (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])\r\n`);
    const hf = await readFetchItem(c, tag);
    assert.equal(hf.head, `* 1 FETCH (UID ${multipartUid} BODY[HEADER.FIELDS (FROM SUBJECT)] `);
    assert.equal(hf.value.toString('latin1'), 'From: "Report Bot" <bot@example.com>\r\nSubject: Monthly report\r\n\r\n'.replace('"Report Bot" <bot@example.com>', /^From: (.*)$/m.exec(multipart.toString('latin1'))![1]!.replace(/\r$/, '')));
    assert.match(hf.tagged, /^hf1 OK Fetch completed\.$/);

    c.send('p1 FETCH 1 (BODY.PEEK[]<0.10>)\r\n');
    const partial = await readFetchItem(c, 'p1');
    assert.equal(partial.head, '* 1 FETCH (BODY[]<0> ');
    assert.equal(partial.value.toString('latin1'), multipart.subarray(0, 10).toString('latin1'));
    c.send('p2 FETCH 1 (BODY.PEEK[TEXT]<100000000.5>)\r\n');
    assert.equal((await readFetchItem(c, 'p2')).value.length, 0);

    // Plain items first in request order, body items after them, implicit FLAGS before the body items
    const order = await cmd('FETCH 1 (RFC822.SIZE BINARY.SIZE[1] INTERNALDATE BINARY.SIZE[3] UID)');
    assert.match(order[0]!, new RegExp(`^\\* 1 FETCH \\(RFC822.SIZE ${multipart.length} INTERNALDATE "[^"]+" UID ${multipartUid} BINARY.SIZE\\[1\\] 32 BINARY.SIZE\\[3\\] 70\\)$`));

    c.send('b1 FETCH 1 (BINARY.PEEK[3])\r\n');
    const png = await readFetchItem(c, 'b1');
    assert.equal(png.head, '* 1 FETCH (BINARY[3] ');
    assert.equal(png.literal8, true, 'decoded PNG holds NUL bytes: literal8');
    assert.equal(png.value.subarray(1, 4).toString('latin1'), 'PNG');
    assert.equal(png.value.length, 70);
  });

  test('BODY[] sets \\Seen and reports FLAGS; BODY.PEEK and EXAMINE do not', async () => {
    await cmd('SELECT FetchBox');
    const peek = await cmd('FETCH 1 (BODY.PEEK[HEADER])');
    assert.ok(!peek[0]!.includes('FLAGS'));
    await cmd('EXAMINE FetchBox');
    const ro = await cmd('FETCH 1 (FLAGS BODY[TEXT]<0.5>)');
    assert.ok(ro[0]!.startsWith('* 1 FETCH (FLAGS () BODY[TEXT]<0> {5}'), ro[0]);
    await cmd('SELECT FetchBox');
    const seen = await cmd('FETCH 1 (UID BODY[TEXT]<0.5>)');
    assert.ok(seen[0]!.startsWith(`* 1 FETCH (UID ${multipartUid} FLAGS (\\Seen) BODY[TEXT]<0> {5}`), seen[0]);
    const again = await cmd('FETCH 1 (UID BODY[TEXT]<0.5>)');
    assert.ok(again[0]!.startsWith(`* 1 FETCH (UID ${multipartUid} BODY[TEXT]<0> {5}`), 'no FLAGS once \\Seen is set');
    const rfc822 = await cmd('UID FETCH 1:* (FLAGS)');
    assert.ok(rfc822[0]!.startsWith(`* 1 FETCH (UID ${multipartUid} FLAGS (\\Seen)`));
  });

  test('bad input gets BAD or NO and the connection stays usable', async () => {
    await cmd('SELECT FetchBox');
    assert.match((await cmd('FETCH 0 FLAGS')).at(-1)!, /^TAG BAD/);
    assert.match((await cmd('FETCH 1:* (BODY[1.0])')).at(-1)!, /^TAG BAD/);
    assert.match((await cmd('FETCH 1 (FLAGS BOGUS)')).at(-1)!, /^TAG BAD/);
    assert.match((await cmd('FETCH 99 FLAGS')).at(-1)!, /^TAG BAD/);
    assert.match((await cmd('FETCH 1 BODY[HEADER.FIELDS ()]')).at(-1)!, /^TAG BAD/);
    assert.match((await cmd('FETCH 1 BODY[]<5.0>')).at(-1)!, /^TAG BAD/);
    assert.match((await cmd('UID FETCH 1 (BODY.PEEK[1.2.3.MIME])')).at(-1)!, /^TAG OK/);
    const fine = await cmd('FETCH 1 (UID)');
    assert.equal(fine.at(-1), 'TAG OK Fetch completed.');
  });

  test('a 10 MB message comes back byte for byte (raw socket and imapflow)', async () => {
    const lines: string[] = [];
    let seed = 12345;
    let size = 0;
    while (size < 10 * 1024 * 1024) {
      let line = '';
      for (let i = 0; i < 19; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        line += seed.toString(36).padStart(6, '0').slice(0, 4);
      }
      lines.push(line);
      size += line.length + 2;
    }
    const big = Buffer.from(`From: big@example.com\r\nSubject: big one\r\n\r\n${lines.join('\r\n')}\r\n`);
    const digest = createHash('sha256').update(big).digest('hex');
    await cmd('CREATE BigBox');
    const uid = await append(c, 'BigBox', big);
    await cmd('SELECT BigBox');
    assert.equal((await cmd(`UID FETCH ${uid} RFC822.SIZE`))[0], `* 1 FETCH (UID ${uid} RFC822.SIZE ${big.length})`);
    c.send(`big1 UID FETCH ${uid} (BODY.PEEK[])\r\n`);
    const got = await readFetchItem(c, 'big1');
    assert.equal(got.head, `* 1 FETCH (UID ${uid} BODY[] `);
    assert.equal(got.value.length, big.length);
    assert.equal(createHash('sha256').update(got.value).digest('hex'), digest);
    assert.match(got.tagged, /^big1 OK/);

    const client = flow(roost.ports.imap);
    await client.connect();
    open.push({ close: () => client.close() });
    const lock = await client.getMailboxLock('BigBox');
    try {
      const msg = await client.fetchOne(String(uid), { source: true, uid: true, size: true }, { uid: true });
      assert.ok(msg && msg.source);
      assert.equal(createHash('sha256').update(msg.source).digest('hex'), digest);
    } finally {
      lock.release();
    }
    await client.logout();
  });

  test('imapflow reads envelope, body structure, source and flags', async () => {
    const client = flow(roost.ports.imap);
    await client.connect();
    open.push({ close: () => client.close() });
    const lock = await client.getMailboxLock('FetchBox');
    try {
      const msg = await client.fetchOne(String(multipartUid), { envelope: true, bodyStructure: true, source: true, flags: true, uid: true }, { uid: true });
      assert.ok(msg);
      assert.equal(msg.uid, multipartUid);
      assert.equal(msg.envelope!.subject, 'Monthly report');
      assert.equal(msg.envelope!.messageId, '<report-42@example.com>');
      assert.equal(msg.envelope!.from![0]!.address, 'bot@example.com');
      assert.equal(msg.bodyStructure!.type, 'multipart/mixed');
      assert.deepEqual(msg.bodyStructure!.childNodes!.map((p) => p.type), ['text/plain', 'application/pdf', 'image/png']);
      assert.ok(msg.source!.equals(multipart));
      assert.ok(msg.flags!.has('\\Seen'));
      const all = [];
      for await (const m of client.fetch('1:*', { uid: true, flags: true, size: true })) all.push(m);
      assert.equal(all.length, 1);
      assert.equal(all[0]!.size, multipart.length);
      const part = await client.download(String(multipartUid), '2', { uid: true });
      const chunks: Buffer[] = [];
      for await (const chunk of part.content!) chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).length, 3000);
    } finally {
      lock.release();
    }
    await client.logout();
  });

  test('Python imaplib fetches, stores, searches and copies', () => {
    deliver(roost.ports.lmtp, 'alice', [plain('python one', 'Körper text\r\n'), plain('python two')]);
    const out = imaplib(
      roost.ports.imap,
      [
        'M.select("INBOX")',
        'typ, data = M.search(None, "SUBJECT", "python")',
        'out["search"] = data[0].decode()',
        'first = data[0].split()[0]',
        'typ, data = M.fetch(first, "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")',
        'out["fetch"] = [d if isinstance(d, bytes) else list(d) for d in data]',
        'typ, data = M.store(first, "+FLAGS", "(\\\\Flagged)")',
        'out["store"] = [typ, data[0].decode()]',
        'typ, data = M.uid("SEARCH", None, "FLAGGED", "SUBJECT", "python")',
        'out["uidsearch"] = data[0].decode()',
        'typ, data = M.copy(first, "Archive")',
        'out["copy"] = [typ, data[0].decode()]',
        'typ, data = M.uid("FETCH", out["uidsearch"].split()[0], "(RFC822.SIZE)")',
        'out["uidfetch"] = [d.decode() for d in data if d]',
      ].join('\n'),
    ) as Record<string, unknown>;
    const found = (out.search as string).split(' ');
    assert.equal(found.length, 2);
    const fetched = out.fetch as [string, string][];
    assert.match(fetched[0]![0], /FLAGS \(.*\) BODY\[HEADER.FIELDS \(SUBJECT\)\] \{\d+\}$/);
    assert.equal(fetched[0]![1], 'Subject: python one\r\n\r\n');
    assert.deepEqual(out.store, ['OK', `${found[0]} (FLAGS (\\Flagged \\Recent))`]);
    assert.equal((out.uidsearch as string).split(' ').length, 1);
    assert.equal((out.copy as string[])[0], 'OK');
    assert.match((out.copy as string[])[1]!, /^\[COPYUID \d+ \d+ \d+\] Copy completed\.$/);
    assert.ok((out.uidfetch as string[]).some((d) => /^\d+ \(UID \d+ RFC822.SIZE \d+\)$/.test(d)), JSON.stringify(out.uidfetch));
  });
});

test('SELECT names the first unseen message (IMAP4rev1 UNSEEN) after this and another session change \\Seen, and none once all are read', async () => {
  const a = await rawSession(roost.ports.imap);
  const b = await rawSession(roost.ports.imap);
  open.push(a.c, b.c);
  assert.match((await a.cmd('CREATE FirstUnseen')).at(-1)!, /^TAG OK/);
  for (const [i, flags] of ['\\Seen', '', '', '\\Seen'].entries()) await append(a.c, 'FirstUnseen', Buffer.from(plain(`unseen ${i}`)), flags);
  const unseenOf = async (s: typeof a) => (await s.cmd('SELECT FirstUnseen')).find((l) => l.includes('[UNSEEN '));
  assert.equal(await unseenOf(a), '* OK [UNSEEN 2] First unseen.');
  assert.equal(await unseenOf(b), '* OK [UNSEEN 2] First unseen.', 'a second session of the unchanged mailbox');
  assert.match((await a.cmd('STORE 2 +FLAGS.SILENT (\\Seen)')).at(-1)!, /^TAG OK/);
  assert.equal(await unseenOf(a), '* OK [UNSEEN 3] First unseen.', 'after its own change');
  assert.match((await b.cmd('STORE 3 +FLAGS.SILENT (\\Seen)')).at(-1)!, /^TAG OK/);
  assert.equal(await unseenOf(a), undefined, 'after the other session read the last unseen one');
  assert.match((await b.cmd('STORE 1 -FLAGS.SILENT (\\Seen)')).at(-1)!, /^TAG OK/);
  assert.equal(await unseenOf(a), '* OK [UNSEEN 1] First unseen.');
});
