// The IMAP mailbox commands through the real server: CREATE (special-use), DELETE, RENAME, SUBSCRIBE,
// UNSUBSCRIBE, LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CHILDREN), LSUB, STATUS (SIZE), NAMESPACE;
// exact response lines over a raw socket, and imapflow and Python's imaplib as real clients.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';

const run = promisify(execFile);
const users = ['raw', 'ext', 'status', 'names', 'flow', 'py', 'again'].map((name) => ({ name, password: `${name}-secret` }));
let h: RoostHandle;
const clients: LineClient[] = [];

before(async () => {
  h = await startRoost({ users });
});
after(async () => {
  for (const c of clients) c.close();
  await h?.stop();
});

/** A logged-in raw connection; cmd() sends one tagged command and returns every line up to its completion. */
async function login(user: string): Promise<{ c: LineClient; cmd: (text: string) => Promise<string[]> }> {
  const c = await LineClient.connect({ port: h.ports.imap });
  clients.push(c);
  await c.readLine();
  let n = 0;
  const cmd = async (text: string): Promise<string[]> => {
    const tag = `m${++n}`;
    // Test strings are byte strings (latin1), so 8-bit names go out exactly as written.
    c.send(Buffer.from(`${tag} ${text}\r\n`, 'latin1'));
    return c.readUntil((l) => l.startsWith(`${tag} `));
  };
  const reply = await cmd(`LOGIN ${user} ${user}-secret`);
  assert.match(reply.at(-1)!, /^m1 OK /);
  return { c, cmd };
}

/** CREATE's one-line answer: OK with the new mailbox's MAILBOXID (RFC 8474 section 4.1), in Dovecot's words. */
function assertCreated(reply: string[], tag: string, message?: string): void {
  assert.equal(reply.length, 1, reply.join(' | '));
  assert.match(reply[0]!, new RegExp(`^${tag} OK \\[MAILBOXID \\([A-Za-z0-9_-]{1,255}\\)\\] Create completed\\.$`), message);
}

const DEFAULT_LIST = [
  '* LIST (\\HasNoChildren) "." INBOX',
  '* LIST (\\HasNoChildren \\Archive) "." Archive',
  '* LIST (\\HasNoChildren \\Drafts) "." Drafts',
  '* LIST (\\HasNoChildren \\Junk) "." Junk',
  '* LIST (\\HasNoChildren \\Sent) "." Sent',
  '* LIST (\\HasNoChildren \\Trash) "." Trash',
];

test('capabilities, NAMESPACE, LIST "" "" and the default mailboxes with special-use and children', async () => {
  const { cmd } = await login('raw');
  const caps = (await cmd('CAPABILITY'))[0]!.split(' ');
  for (const c of ['NAMESPACE', 'CHILDREN', 'LIST-EXTENDED', 'LIST-STATUS', 'SPECIAL-USE', 'CREATE-SPECIAL-USE', 'STATUS=SIZE']) {
    assert.ok(caps.includes(c), `${c} advertised`);
  }
  assert.deepEqual(await cmd('NAMESPACE'), ['* NAMESPACE (("" ".")) NIL NIL', 'm3 OK Namespace completed.']);
  assert.deepEqual(await cmd('LIST "" ""'), ['* LIST (\\Noselect) "." ""', 'm4 OK List completed.']);
  assert.deepEqual(await cmd('LIST "a.b" ""'), ['* LIST (\\Noselect) "." a.', 'm5 OK List completed.']);
  assert.deepEqual((await cmd('LIST "" "*"')).slice(0, -1), DEFAULT_LIST);
  assert.deepEqual((await cmd('LIST "" "%"')).slice(0, -1), DEFAULT_LIST);
  // INBOX is case-insensitive in patterns.
  assert.deepEqual((await cmd('LIST "" "inBox"')).slice(0, -1), ['* LIST (\\HasNoChildren) "." INBOX']);
});

test('CREATE with a hierarchy: parents are \\Noselect (plain) or \\NonExistent (extended); % and * and references', async () => {
  const { cmd } = await login('ext');
  assertCreated(await cmd('CREATE a.b.c'), 'm2');
  assertCreated(await cmd('CREATE x.'), 'm3', 'a trailing separator is allowed');
  const all = await cmd('LIST "" "*"');
  assert.deepEqual(all.slice(-5, -1), [
    '* LIST (\\Noselect \\HasChildren) "." a',
    '* LIST (\\Noselect \\HasChildren) "." a.b',
    '* LIST (\\HasNoChildren) "." a.b.c',
    '* LIST (\\HasNoChildren) "." x',
  ]);
  assert.deepEqual(await cmd('LIST "" "a.%"'), ['* LIST (\\Noselect \\HasChildren) "." a.b', 'm5 OK List completed.']);
  assert.deepEqual(await cmd('LIST "a." "%"'), ['* LIST (\\Noselect \\HasChildren) "." a.b', 'm6 OK List completed.']);
  assert.deepEqual(await cmd('LIST "" "a*" RETURN (CHILDREN)'), [
    '* LIST (\\NonExistent \\HasChildren) "." a',
    '* LIST (\\NonExistent \\HasChildren) "." a.b',
    '* LIST (\\HasNoChildren) "." a.b.c',
    'm7 OK List completed.',
  ]);
  // Several patterns make an extended LIST: only what was asked for, no children or special-use.
  assert.deepEqual(await cmd('LIST "" ("Sent" "x")'), ['* LIST () "." Sent', '* LIST () "." x', 'm8 OK List completed.']);
  assert.deepEqual(await cmd('CREATE a.b.c'), ['m9 NO [ALREADYEXISTS] Mailbox already exists.']);
  assert.deepEqual(await cmd('CREATE INBOX'), ['m10 NO [ALREADYEXISTS] Mailbox already exists.']);
});

test('CREATE-SPECIAL-USE, LIST (SPECIAL-USE), RETURN (SPECIAL-USE), USEATTR for unknown uses', async () => {
  const { cmd } = await login('ext');
  assertCreated(await cmd('CREATE Outbox (USE (\\Sent))'), 'm2');
  assert.deepEqual(await cmd('CREATE Weird (USE (\\Bogus))'), ['m3 NO [USEATTR] Unsupported special-use attribute.']);
  assert.deepEqual(await cmd('LIST "" "Weird"'), ['m4 OK List completed.'], 'a refused CREATE leaves no mailbox');
  assert.deepEqual(await cmd('LIST (SPECIAL-USE) "" "*"'), [
    '* LIST (\\Archive) "." Archive',
    '* LIST (\\Drafts) "." Drafts',
    '* LIST (\\Junk) "." Junk',
    '* LIST (\\Sent) "." Outbox',
    '* LIST (\\Sent) "." Sent',
    '* LIST (\\Trash) "." Trash',
    'm5 OK List completed.',
  ]);
  assert.deepEqual(await cmd('LIST "" "Outbox" RETURN (SPECIAL-USE CHILDREN)'), ['* LIST (\\HasNoChildren \\Sent) "." Outbox', 'm6 OK List completed.']);
  assert.deepEqual(await cmd('LIST "" "Outbox" RETURN ()'), ['* LIST () "." Outbox', 'm7 OK List completed.']);
  assert.match((await cmd('LIST (RECURSIVEMATCH) "" "%"')).at(-1)!, /^m8 BAD /, 'RECURSIVEMATCH alone is an error');
  assert.match((await cmd('LIST (BOGUS) "" "%"')).at(-1)!, /^m9 BAD /);
});

test('SUBSCRIBE, UNSUBSCRIBE, LIST (SUBSCRIBED RECURSIVEMATCH) with CHILDINFO, RETURN (SUBSCRIBED), LSUB', async () => {
  const { cmd } = await login('ext');
  assert.deepEqual(await cmd('SUBSCRIBE a.b.c'), ['m2 OK Subscribe completed.']);
  assert.deepEqual(await cmd('SUBSCRIBE Sent'), ['m3 OK Subscribe completed.']);
  assert.deepEqual(await cmd('SUBSCRIBE nosuch'), ["m4 NO Mailbox doesn't exist: nosuch"]);
  assert.deepEqual(await cmd('LIST (SUBSCRIBED) "" "*"'), ['* LIST (\\Subscribed) "." Sent', '* LIST (\\Subscribed) "." a.b.c', 'm5 OK List completed.']);
  assert.deepEqual(await cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'), [
    '* LIST (\\Subscribed) "." Sent',
    '* LIST (\\NonExistent) "." a (CHILDINFO ("SUBSCRIBED"))',
    'm6 OK List completed.',
  ]);
  assert.deepEqual(await cmd('LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN)'), [
    '* LIST (\\Subscribed \\HasNoChildren) "." Sent',
    '* LIST (\\Subscribed \\HasNoChildren) "." a.b.c',
    'm7 OK List completed.',
  ]);
  assert.deepEqual(await cmd('LIST "" "S*" RETURN (SUBSCRIBED)'), ['* LIST (\\Subscribed) "." Sent', 'm8 OK List completed.']);
  assert.deepEqual(await cmd('LSUB "" "*"'), ['* LSUB (\\Sent) "." Sent', '* LSUB () "." a.b.c', 'm9 OK Lsub completed.']);
  assert.deepEqual(await cmd('LSUB "" "%"'), ['* LSUB (\\Sent) "." Sent', '* LSUB (\\Noselect) "." a', 'm10 OK Lsub completed.']);
  assert.deepEqual(await cmd('UNSUBSCRIBE a.b.c'), ['m11 OK Unsubscribe completed.']);
  assert.deepEqual(await cmd('UNSUBSCRIBE a.b.c'), ['m12 OK Unsubscribe completed.'], 'not subscribed is no error');
  assert.deepEqual(await cmd('LSUB "" "*"'), ['* LSUB (\\Sent) "." Sent', 'm13 OK Lsub completed.']);
});

test('DELETE: INBOX refused, \\Noselect parent with children refused (HASCHILDREN), a parent keeps its children', async () => {
  const { cmd } = await login('ext');
  assert.deepEqual(await cmd('DELETE INBOX'), ["m2 NO INBOX can't be deleted."]);
  assert.deepEqual(await cmd('DELETE a'), ['m3 NO [HASCHILDREN] Mailbox has children, delete them first.']);
  assert.deepEqual(await cmd('DELETE nosuch'), ["m4 NO [NONEXISTENT] Mailbox doesn't exist: nosuch"]);
  assertCreated(await cmd('CREATE p.q'), 'm5');
  assertCreated(await cmd('CREATE p'), 'm6');
  assert.deepEqual(await cmd('DELETE p'), ['m7 OK Delete completed.']);
  assert.deepEqual(await cmd('LIST "" "p*"'), ['* LIST (\\Noselect \\HasChildren) "." p', '* LIST (\\HasNoChildren) "." p.q', 'm8 OK List completed.']);
  assert.deepEqual(await cmd('DELETE p.q'), ['m9 OK Delete completed.']);
  assert.deepEqual(await cmd('LIST "" "p*"'), ['m10 OK List completed.']);
  // Deleting the selected mailbox closes it.
  assertCreated(await cmd('CREATE gone'), 'm11');
  assert.match((await cmd('SELECT gone')).at(-1)!, /^m12 OK \[READ-WRITE\]/);
  assert.deepEqual(await cmd('DELETE gone'), ['m13 OK Delete completed.']);
  assert.deepEqual(await cmd('CHECK'), ['m14 BAD No mailbox selected.']);
});

test('RENAME moves children; below itself refused; INBOX rename moves its messages and keeps INBOX', async () => {
  const { c, cmd } = await login('names');
  assertCreated(await cmd('CREATE r.s.t'), 'm2');
  assert.deepEqual(await cmd('SUBSCRIBE r.s.t'), ['m3 OK Subscribe completed.']);
  assert.deepEqual(await cmd('RENAME r.s z'), ['m4 OK Rename completed.']);
  // r.s existed only as a parent, so z is one too.
  assert.deepEqual(await cmd('LIST "" "z*"'), ['* LIST (\\Noselect \\HasChildren) "." z', '* LIST (\\HasNoChildren) "." z.t', 'm5 OK List completed.']);
  assert.deepEqual(await cmd('LSUB "" "*"'), ['* LSUB () "." z.t', 'm6 OK Lsub completed.'], 'subscriptions follow the rename');
  assert.deepEqual(await cmd('RENAME z z.inner'), ["m7 NO Can't rename mailbox under its own child."]);
  assert.deepEqual(await cmd('RENAME nosuch y'), ['m8 NO [NONEXISTENT] Mailbox does not exist.']);
  assert.deepEqual(await cmd('RENAME Sent Trash'), ['m9 NO [ALREADYEXISTS] Mailbox already exists.']);
  c.send('ap1 APPEND INBOX {5+}\r\nfirst\r\nap2 APPEND INBOX {6+}\r\nsecond\r\n');
  assert.match((await c.readUntil((l) => l.startsWith('ap1 ')))[0]!, /^ap1 OK \[APPENDUID \d+ 1\]/);
  assert.match((await c.readUntil((l) => l.startsWith('ap2 ')))[0]!, /^ap2 OK \[APPENDUID \d+ 2\]/);
  assert.deepEqual(await cmd('RENAME INBOX Old'), ['m10 OK Rename completed.']);
  assert.deepEqual((await cmd('STATUS Old (MESSAGES)'))[0], '* STATUS Old (MESSAGES 2)');
  assert.deepEqual((await cmd('STATUS INBOX (MESSAGES)'))[0], '* STATUS INBOX (MESSAGES 0)');
  assert.deepEqual(await cmd('RENAME INBOX Empty'), ['m13 OK Rename completed.'], 'an empty INBOX renames too');
  assert.deepEqual((await cmd('STATUS Empty (MESSAGES)'))[0], '* STATUS Empty (MESSAGES 0)');
});

test('STATUS with SIZE and DELETED in Dovecot order; LIST-STATUS; HIGHESTMODSEQ needs CONDSTORE; selected mailbox', async () => {
  const { c, cmd } = await login('status');
  const body = 'Subject: hi\r\n\r\nhello\r\n';
  c.send(`s1 APPEND INBOX (\\Seen) {${body.length}+}\r\n${body} {${body.length}+}\r\n${body}\r\n`);
  const appended = await c.readUntil((l) => l.startsWith('s1 '));
  const uidValidity = /APPENDUID (\d+) 1:2/.exec(appended.at(-1)!)?.[1];
  assert.ok(uidValidity, appended.join(' | '));
  assert.deepEqual(await cmd('STATUS INBOX (SIZE UNSEEN DELETED MESSAGES UIDVALIDITY UIDNEXT RECENT)'), [
    `* STATUS INBOX (MESSAGES 2 RECENT 2 UIDNEXT 3 UIDVALIDITY ${uidValidity} UNSEEN 1 DELETED 0 SIZE ${2 * body.length})`,
    'm2 OK Status completed.',
  ]);
  assert.deepEqual(await cmd('LIST "" "INBOX" RETURN (STATUS (MESSAGES SIZE))'), [
    '* LIST () "." INBOX',
    `* STATUS INBOX (MESSAGES 2 SIZE ${2 * body.length})`,
    'm3 OK List completed.',
  ]);
  const highest = await cmd('STATUS INBOX (HIGHESTMODSEQ)');
  const caps = (await cmd('CAPABILITY'))[0]!.split(' ');
  if (caps.includes('CONDSTORE')) assert.match(highest[0]!, /^\* STATUS INBOX \(HIGHESTMODSEQ \d+\)$/);
  else assert.match(highest.at(-1)!, /^m4 BAD /, 'HIGHESTMODSEQ without CONDSTORE is refused');
  assert.deepEqual(await cmd('STATUS nosuch (MESSAGES)'), ["m6 NO Mailbox doesn't exist: nosuch"]);
  assert.match((await cmd('STATUS INBOX ()')).at(-1)!, /^m7 BAD /);
  assert.match((await cmd('STATUS INBOX (BOGUS)')).at(-1)!, /^m8 BAD /);
  assert.match((await cmd('SELECT INBOX')).at(-1)!, /^m9 OK/);
  assert.deepEqual(await cmd('STATUS INBOX (MESSAGES)'), ['* STATUS INBOX (MESSAGES 2)', 'm10 OK [CLIENTBUG] Status on selected mailbox completed.']);
});

test('mailbox names: modified UTF-7 by default, UTF-8 after ENABLE IMAP4rev2; bad names refused', async () => {
  const { cmd } = await login('names');
  assertCreated(await cmd('CREATE &AOk-t&AOk-'), 'm2');
  assert.deepEqual(await cmd('LIST "" "*t&AOk-"'), ['* LIST (\\HasNoChildren) "." &AOk-t&AOk-', 'm3 OK List completed.']);
  assert.match((await cmd('CREATE &AGE-')).at(-1)!, /^m4 NO /, 'non-canonical modified UTF-7 is refused');
  assert.deepEqual(await cmd('LIST "" "&AGE-"'), ['m5 OK List completed.'], 'a non-canonical pattern matches nothing');
  assert.match((await cmd('CREATE ../x')).at(-1)!, /^m6 NO \[CANNOT\] /);
  assert.match((await cmd('CREATE "a/b"')).at(-1)!, /^m7 NO \[CANNOT\] /);
  assert.match((await cmd('CREATE ~home')).at(-1)!, /^m8 NO \[CANNOT\] /);
  assert.match((await cmd('CREATE "caf\xe9"')).at(-1)!, /^m9 (NO|BAD) /, '8-bit names need UTF8 first');
  assert.deepEqual(await cmd('ENABLE IMAP4rev2'), ['* ENABLED IMAP4rev2', 'm10 OK Enabled.']);
  assert.deepEqual(await cmd('LIST "" "*t\xc3\xa9"'), ['* LIST (\\HasNoChildren) "." "\xc3\xa9t\xc3\xa9"', 'm11 OK List completed.']);
  assertCreated(await cmd('CREATE "\xc3\xa5r"'), 'm12');
  assert.deepEqual(await cmd('STATUS "\xc3\xa5r" (MESSAGES)'), ['* STATUS "\xc3\xa5r" (MESSAGES 0)', 'm13 OK Status completed.']);
});

test('a default mailbox the user deleted or renamed away is there again at the next login; a renamed one keeps its special use', async () => {
  const first = await login('again');
  assert.match((await first.cmd('DELETE Trash')).at(-1)!, /^m2 OK /);
  assert.match((await first.cmd('RENAME Junk Spam')).at(-1)!, /^m3 OK /);
  const second = await login('again');
  const listed = await second.cmd('LIST "" *');
  assert.ok(listed.includes('* LIST (\\HasNoChildren \\Trash) "." Trash'), listed.join(' | '));
  // The use went with the renamed mailbox; the Junk created again is plain, so clients see one \Junk.
  assert.ok(listed.includes('* LIST (\\HasNoChildren \\Junk) "." Spam'), listed.join(' | '));
  assert.ok(listed.includes('* LIST (\\HasNoChildren) "." Junk'), listed.join(' | '));
  assert.equal(listed.filter((l) => l.includes('\\Junk')).length, 1, listed.join(' | '));
});

test('mailbox commands in the wrong state are refused', async () => {
  const c = await LineClient.connect({ port: h.ports.imap });
  clients.push(c);
  await c.readLine();
  for (const [i, command] of ['LIST "" "*"', 'CREATE x', 'DELETE x', 'RENAME x y', 'SUBSCRIBE x', 'UNSUBSCRIBE x', 'LSUB "" "*"', 'STATUS INBOX (MESSAGES)', 'NAMESPACE', 'APPEND INBOX {1+}\r\nx'].entries()) {
    c.sendLine(`w${i} ${command}`);
    assert.match((await c.readUntil((l) => l.startsWith(`w${i} `))).at(-1)!, new RegExp(`^w${i} BAD `), command);
  }
  c.sendLine('w99 NOOP');
  assert.match((await c.readLine())!, /^w99 OK /, 'the connection stays usable');
});

test('imapflow: list, mailboxCreate, mailboxRename, mailboxDelete, status, special-use', async () => {
  const client = new ImapFlow({ host: '127.0.0.1', port: h.ports.imap, secure: false, tls: { rejectUnauthorized: false }, auth: { user: 'flow', pass: 'flow-secret' }, logger: false });
  await client.connect();
  try {
    const created = await client.mailboxCreate(['Projects', 'Roost']);
    assert.equal(created.path, 'Projects.Roost');
    const list = await client.list();
    const byPath = new Map(list.map((m) => [m.path, m]));
    assert.equal(byPath.get('Sent')?.specialUse, '\\Sent');
    assert.equal(byPath.get('Trash')?.specialUse, '\\Trash');
    const parentFlags = byPath.get('Projects')?.flags ?? new Set<string>();
    assert.ok(parentFlags.has('\\Noselect') || parentFlags.has('\\NonExistent'), [...parentFlags].join(' '));
    assert.ok(byPath.get('Projects.Roost'));
    const renamed = await client.mailboxRename('Projects.Roost', 'Projects.Nest');
    assert.equal(renamed.newPath, 'Projects.Nest');
    await client.append('Projects.Nest', 'Subject: one\r\n\r\nbody\r\n', ['\\Seen']);
    const status = await client.status('Projects.Nest', { messages: true, unseen: true, uidNext: true });
    assert.ok(status, 'STATUS answered');
    assert.equal(status.messages, 1);
    assert.equal(status.unseen, 0);
    assert.equal(status.uidNext, 2);
    await client.mailboxDelete('Projects.Nest');
    assert.ok(!(await client.list()).some((m) => m.path === 'Projects.Nest'));
  } finally {
    await client.logout();
  }
});

test('Python imaplib: create, list, status, rename, subscribe, lsub, delete', async () => {
  const script = `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login('py', 'py-secret')
print(m.create('Reports')[0])
print(m.create('Reports.2024')[0])
typ, data = m.list('""', 'Reports*')
for line in data: print(line.decode())
typ, data = m.status('Reports', '(MESSAGES UIDNEXT)')
print(data[0].decode())
print(m.rename('Reports.2024', 'Reports.Archive')[0])
print(m.subscribe('Reports.Archive')[0])
typ, data = m.lsub('""', '*')
for line in data: print(line.decode())
print(m.delete('Reports.Archive')[0])
typ, data = m.list('""', 'Reports*')
for line in data: print(line.decode())
m.logout()
`;
  const { stdout } = await run('python3', ['-c', script, String(h.ports.imap)], { timeout: 30_000 });
  assert.deepEqual(stdout.trim().split('\n'), [
    'OK',
    'OK',
    '(\\HasChildren) "." Reports',
    '(\\HasNoChildren) "." Reports.2024',
    'Reports (MESSAGES 0 UIDNEXT 1)',
    'OK',
    'OK',
    '() "." Reports.Archive',
    'OK',
    '(\\HasNoChildren) "." Reports',
  ]);
});
