// METADATA (RFC 5464) through the live server: the RFC's GETMETADATA/SETMETADATA examples (server and mailbox
// entries, MAXSIZE with LONGENTRIES, DEPTH 1 and infinity, NIL to delete), limits ([METADATA MAXSIZE n],
// [METADATA TOOMANY]), the per-user file beside the store, RENAME/DELETE, imaplib, and Dovecot 2.3 with imap_metadata.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { readReply } from '../helpers/imap-session.js';
import { runPython } from '../helpers/python.js';
import { requirePeer, startDovecot } from '../interop/peers.js';
import { normalizeTranscript } from '../interop/imap-normalize.js';

let h: RoostHandle;
const clients: LineClient[] = [];

before(async () => {
  h = await startRoost({
    users: ['m', 'lim', 'ren', 'py'].map((name) => ({ name, password: `${name}-secret` })),
  });
});
after(async () => {
  for (const c of clients) c.close();
  await h?.stop();
});

type Cmd = (text: string) => Promise<string[]>;

async function session(port: number, user: string, password = `${user}-secret`): Promise<{ c: LineClient; cmd: Cmd }> {
  const c = await LineClient.connect({ port });
  clients.push(c);
  await c.readLine();
  let n = 0;
  const cmd: Cmd = async (text) => {
    const tag = `m${++n}`;
    c.send(`${tag} ${text}\r\n`);
    return readReply(c, tag);
  };
  assert.match((await cmd(`LOGIN ${user} ${password}`)).at(-1)!, /^m1 OK /);
  return { c, cmd };
}

test('capabilities METADATA and METADATA-SERVER', async () => {
  const { cmd } = await session(h.ports.imap, 'm');
  const caps = (await cmd('CAPABILITY'))[0]!.split(' ');
  assert.ok(caps.includes('METADATA') && caps.includes('METADATA-SERVER'));
});

test('RFC 5464 examples: server and mailbox entries, literals, MAXSIZE, DEPTH, NIL deletes', async () => {
  const { cmd } = await session(h.ports.imap, 'm');
  // Section 4.3.1: set a server comment, then a two-line mailbox comment as a literal.
  assert.deepEqual(await cmd('SETMETADATA "" (/shared/comment "Shared comment")'), ['m2 OK Setmetadata completed.']);
  assert.deepEqual(await cmd('SETMETADATA INBOX (/private/comment {33+}\r\nMy new comment across\r\ntwo lines.)'), ['m3 OK Setmetadata completed.']);
  // Section 4.2: "* METADATA "" (/shared/comment "Shared comment")" (Roost, as Dovecot, sends values as literals).
  assert.deepEqual(await cmd('GETMETADATA "" /shared/comment'), ['* METADATA "" (/shared/comment {14}\nShared comment)', 'm4 OK Getmetadata completed.']);
  assert.deepEqual(await cmd('GETMETADATA INBOX (/shared/comment /private/comment)'), ['* METADATA INBOX (/shared/comment NIL /private/comment {33}\nMy new comment across\r\ntwo lines.)', 'm5 OK Getmetadata completed.']);
  // Entry names are case-insensitive.
  assert.deepEqual((await cmd('GETMETADATA inbox /PRIVATE/Comment'))[0], '* METADATA INBOX (/PRIVATE/Comment {33}\nMy new comment across\r\ntwo lines.)');
  // Section 4.2.1 MAXSIZE: "a OK [METADATA LONGENTRIES 2199] GETMETADATA complete".
  assert.deepEqual(await cmd('GETMETADATA (MAXSIZE 10) INBOX /private/comment'), ['m7 OK [METADATA LONGENTRIES 33] Getmetadata completed.']);
  // Section 4.2.2 DEPTH: children one level down, then all descendants.
  await cmd('SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" /private/filters/values/big "LARGER 5000" /private/filters/values/big/x "deep")');
  assert.deepEqual((await cmd('GETMETADATA (DEPTH 1) INBOX (/private/filters/values)'))[0], '* METADATA INBOX (/private/filters/values/big {11}\nLARGER 5000 /private/filters/values/small {12}\nSMALLER 5000)');
  assert.deepEqual((await cmd('GETMETADATA (DEPTH infinity) INBOX /private/filters'))[0], '* METADATA INBOX (/private/filters/values/big {11}\nLARGER 5000 /private/filters/values/big/x {4}\ndeep /private/filters/values/small {12}\nSMALLER 5000)');
  assert.deepEqual(await cmd('GETMETADATA (DEPTH 1 MAXSIZE 11) INBOX /private/filters/values'), ['* METADATA INBOX (/private/filters/values/big {11}\nLARGER 5000)', 'm11 OK [METADATA LONGENTRIES 12] Getmetadata completed.']);
  // Section 4.3: NIL removes an entry.
  assert.deepEqual(await cmd('SETMETADATA INBOX (/private/comment NIL)'), ['m12 OK Setmetadata completed.']);
  assert.deepEqual((await cmd('GETMETADATA INBOX /private/comment'))[0], '* METADATA INBOX (/private/comment NIL)');
  // Binary values come back as literal8 (section 5).
  assert.deepEqual(await cmd('SETMETADATA INBOX (/private/bin ~{3+}\r\na\0b)'), ['m14 OK Setmetadata completed.']);
  assert.deepEqual((await cmd('GETMETADATA INBOX /private/bin'))[0], '* METADATA INBOX (/private/bin ~{3}\na\0b)');
});

test('bad entry names are BAD; a missing mailbox is NO; nothing is half-set', async () => {
  const { cmd } = await session(h.ports.imap, 'm');
  for (const [i, entry] of ['/foo', '/private/a*', '/private/a%b', '/private//a', '/private/a/', '/private'].entries()) {
    assert.match((await cmd(`SETMETADATA INBOX (${entry} "x")`)).at(-1)!, new RegExp(`^m${i + 2} BAD `), entry);
  }
  assert.match((await cmd('SETMETADATA Nowhere (/private/comment "x")')).at(-1)!, /^m8 NO Mailbox doesn't exist/);
  assert.match((await cmd('GETMETADATA Nowhere /private/comment')).at(-1)!, /^m9 NO /);
  assert.match((await cmd('SETMETADATA INBOX (/private/ok "x" /bad "y")')).at(-1)!, /^m10 BAD /);
  assert.deepEqual((await cmd('GETMETADATA INBOX /private/ok'))[0], '* METADATA INBOX (/private/ok NIL)');
  assert.match((await cmd('GETMETADATA (DEPTH 2) INBOX /private')).at(-1)!, /^m12 BAD /);
});

test('limits: [METADATA MAXSIZE n] for a big value, [METADATA TOOMANY] past the entry count', async () => {
  const { c, cmd } = await session(h.ports.imap, 'lim');
  const big = 'v'.repeat(64 * 1024 + 1);
  c.send(`t1 SETMETADATA INBOX (/private/big {${big.length}+}\r\n${big})\r\n`);
  assert.deepEqual(await readReply(c, 't1'), ['t1 NO [METADATA MAXSIZE 65536] Metadata value too large.']);
  const entries = Array.from({ length: 256 }, (_, i) => `/private/e${i} "${i}"`).join(' ');
  assert.deepEqual(await cmd(`SETMETADATA INBOX (${entries})`), ['m2 OK Setmetadata completed.']);
  assert.deepEqual(await cmd('SETMETADATA INBOX (/private/one-more "x")'), ['m3 NO [METADATA TOOMANY] Too many metadata entries.']);
  // Replacing an existing entry is no new entry; other mailboxes have their own count.
  assert.deepEqual(await cmd('SETMETADATA INBOX (/private/e0 "zero")'), ['m4 OK Setmetadata completed.']);
  assert.deepEqual(await cmd('SETMETADATA Archive (/private/one-more "x")'), ['m5 OK Setmetadata completed.']);
});

test('kept in a file beside the store; seen by other sessions; RENAME moves and DELETE drops annotations', async () => {
  const a = await session(h.ports.imap, 'ren');
  const b = await session(h.ports.imap, 'ren');
  await a.cmd('CREATE Projects');
  await a.cmd('CREATE Projects.Sub');
  await a.cmd('SETMETADATA Projects (/private/comment "top")');
  await a.cmd('SETMETADATA Projects.Sub (/private/comment "child")');
  await a.cmd('SETMETADATA "" (/private/vendor/roost/x "server")');
  const file = JSON.parse(readFileSync(join(h.dataDir, 'mail', 'ren', 'Maildir', 'roost-metadata.json'), 'utf8')) as { scopes: Record<string, Record<string, string>> };
  assert.equal(Buffer.from(file.scopes['Projects.Sub']!['/private/comment']!, 'base64').toString(), 'child');
  assert.deepEqual((await b.cmd('GETMETADATA "" /private/vendor/roost/x'))[0], '* METADATA "" (/private/vendor/roost/x {6}\nserver)');
  await a.cmd('RENAME Projects Done');
  assert.deepEqual((await b.cmd('GETMETADATA Done.Sub /private/comment'))[0], '* METADATA Done.Sub (/private/comment {5}\nchild)');
  await a.cmd('DELETE Done.Sub');
  await a.cmd('CREATE Done.Sub');
  assert.deepEqual((await b.cmd('GETMETADATA Done.Sub /private/comment'))[0], '* METADATA Done.Sub (/private/comment NIL)');
  assert.deepEqual((await b.cmd('GETMETADATA Done /private/comment'))[0], '* METADATA Done (/private/comment {3}\ntop)');
});

test('imaplib sets and reads metadata with plain commands', async () => {
  const out = await runPython(
    `
import imaplib, sys
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
c.login('py', 'py-secret')
imaplib.Commands['SETMETADATA'] = ('AUTH', 'SELECTED')
imaplib.Commands['GETMETADATA'] = ('AUTH', 'SELECTED')
print(c._simple_command('SETMETADATA', 'INBOX', '(/private/comment "from python")'))
typ, data = c._simple_command('GETMETADATA', 'INBOX', '/private/comment')
print(typ, c.untagged_responses.pop('METADATA', None))
c.logout()
`,
    [h.ports.imap],
  );
  assert.equal(out, "('OK', [b'Setmetadata completed.'])\nOK [(b'INBOX (/private/comment {11}', b'from python'), b')']\n");
});

async function metadataScript(port: number): Promise<string[]> {
  const { cmd } = await session(port, 'u', 'pw');
  const out: string[] = [];
  for (const text of [
    'GETMETADATA "" /private/comment',
    'SETMETADATA INBOX (/private/comment "hello")',
    'GETMETADATA INBOX /private/comment',
    'GETMETADATA INBOX (/private/comment /shared/comment)',
    'SETMETADATA INBOX (/shared/comment {12+}\r\ntwo\r\nlines..)',
    'GETMETADATA INBOX (/shared/comment)',
    'GETMETADATA (MAXSIZE 2) INBOX /private/comment',
    'GETMETADATA (MAXSIZE 5) INBOX /private/comment',
    'SETMETADATA INBOX (/private/comment NIL)',
    'GETMETADATA INBOX /private/comment',
    'SETMETADATA INBOX (/foo "x")',
    'SETMETADATA INBOX (/private/a*b "x")',
    'SETMETADATA nosuch (/private/comment "x")',
    'SETMETADATA Archive (/private/comment "a" /shared/comment "b")',
    'GETMETADATA Archive (/private/comment /shared/comment)',
  ]) {
    out.push(`>>> ${text}`, ...(await cmd(text)));
  }
  return normalizeTranscript(out);
}

test('the same METADATA session against Dovecot 2.3 (imap_metadata, mail_attribute_dict) answers the same', async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const dir = mkdtempSync(join(tmpdir(), 'roost-metadata-dovecot-'));
  const dovecot = await startDovecot({
    dir,
    users: [{ name: 'u', password: 'pw' }],
    protocols: ['imap'],
    extraConfig: 'imap_metadata = yes\nmail_attribute_dict = file:%h/dovecot-attributes\nnamespace inbox {\n  mailbox Archive {\n    auto = create\n  }\n}\n',
  });
  const roost = await startRoost({ users: [{ name: 'u', password: 'pw' }] });
  try {
    const theirs = await metadataScript(dovecot.imapPort);
    const ours = await metadataScript(roost.ports.imap);
    assert.deepEqual(ours, theirs);
  } finally {
    await roost.stop();
    await dovecot.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
