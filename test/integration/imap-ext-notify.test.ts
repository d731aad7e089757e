// NOTIFY (RFC 5465) through the live server: a delivery over LMTP into an unselected mailbox arrives as an unsolicited
// "* STATUS" line, the selected mailbox's EXISTS/FETCH come without IDLE, other sessions' CREATE/RENAME/DELETE as
// LIST, NOTIFY SET STATUS, NONE, BAD and BADEVENT cases, and the same session against Dovecot 2.3 (notify plugin).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { lmtpDeliver, runPython } from '../helpers/python.js';
import { requirePeer, startDovecot } from '../interop/peers.js';
import { normalizeTranscript } from '../interop/imap-normalize.js';

let h: RoostHandle;
const clients: LineClient[] = [];

before(async () => {
  h = await startRoost({ users: ['n', 'sel', 'names', 'bad', 'py'].map((name) => ({ name, password: `${name}-secret` })) });
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
    const tag = `n${++n}`;
    c.sendLine(`${tag} ${text}`);
    return c.readUntil((l) => l.startsWith(`${tag} `));
  };
  assert.match((await cmd(`LOGIN ${user} ${password}`)).at(-1)!, /^n1 OK /);
  return { c, cmd };
}

const MSG = 'From: a@example.org\r\nTo: n@localhost\r\nSubject: notify me\r\n\r\nHello.\r\n';

test('capability NOTIFY; NOTIFY reports an LMTP delivery into an unselected mailbox as STATUS', async () => {
  const { c, cmd } = await session(h.ports.imap, 'n');
  assert.ok((await cmd('CAPABILITY'))[0]!.split(' ').includes('NOTIFY'));
  await cmd('SELECT Archive');
  const v = /UIDVALIDITY (\d+)/.exec((await cmd('STATUS INBOX (UIDVALIDITY)'))[0]!)![1];
  // RFC 5465 section 3.1 with STATUS: the current state of each watched mailbox first.
  assert.deepEqual(await cmd('NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) (inboxes (MessageNew MessageExpunge))'), [
    `* STATUS INBOX (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ${v} UNSEEN 0)`,
    'n5 OK NOTIFY completed.',
  ]);
  const result = await lmtpDeliver(h.ports.lmtp, 'a@example.org', ['n@localhost'], MSG);
  assert.deepEqual(result, {});
  // No command is sent: the STATUS comes on its own (RFC 5465 section 5.2).
  assert.equal(await c.readLine(), `* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${v} UNSEEN 1)`);
  await lmtpDeliver(h.ports.lmtp, 'a@example.org', ['n@localhost'], MSG);
  assert.equal(await c.readLine(), `* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ${v} UNSEEN 2)`);
  // NOTIFY NONE: nothing more; the next line is the NOOP's completion.
  assert.deepEqual(await cmd('NOTIFY NONE'), ['n6 OK NOTIFY completed.']);
  await lmtpDeliver(h.ports.lmtp, 'a@example.org', ['n@localhost'], MSG);
  assert.deepEqual(await cmd('NOOP'), ['n7 OK NOOP completed.']);
});

test('SELECTED: EXISTS, FETCH FLAGS and EXPUNGE of the selected mailbox arrive without IDLE; FlagChange of others as STATUS', async () => {
  const watcher = await session(h.ports.imap, 'sel');
  const other = await session(h.ports.imap, 'sel');
  await watcher.cmd('SELECT INBOX');
  await watcher.cmd('NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge FlagChange))');
  other.c.send(`a APPEND INBOX {${MSG.length}+}\r\n${MSG}\r\n`);
  await other.c.readUntil((l) => l.startsWith('a '));
  assert.deepEqual(await watcher.c.readUntil((l) => / EXISTS$/.test(l)), ['* 1 EXISTS']);
  assert.equal(await watcher.c.readLine(), '* 1 RECENT');
  await other.cmd('SELECT INBOX');
  await other.cmd('STORE 1 +FLAGS (\\Flagged)');
  assert.equal(await watcher.c.readLine(), '* 1 FETCH (FLAGS (\\Flagged \\Recent))');
  await other.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
  assert.equal(await watcher.c.readLine(), '* 1 FETCH (FLAGS (\\Flagged \\Deleted \\Recent))');
  await other.cmd('EXPUNGE');
  assert.equal(await watcher.c.readLine(), '* 1 EXPUNGE');
  // Another mailbox: new messages and flag changes come as STATUS.
  other.c.send(`b APPEND Archive {${MSG.length}+}\r\n${MSG}\r\n`);
  await other.c.readUntil((l) => l.startsWith('b '));
  assert.match((await watcher.c.readLine())!, /^\* STATUS Archive \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$/);
  await other.cmd('SELECT Archive');
  await other.cmd('STORE 1 +FLAGS (\\Seen)');
  assert.match((await watcher.c.readLine())!, /^\* STATUS Archive \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 0\)$/);
  assert.deepEqual(await watcher.cmd('NOOP'), ['n4 OK NOOP completed.']);
});

test('MailboxName: CREATE, RENAME and DELETE by another session come as LIST', async () => {
  const watcher = await session(h.ports.imap, 'names');
  const other = await session(h.ports.imap, 'names');
  await watcher.cmd('NOTIFY SET (personal (MailboxName))');
  await other.cmd('CREATE Lists');
  assert.equal(await watcher.c.readLine(), '* LIST () "." Lists');
  await other.cmd('RENAME Lists Groups');
  assert.equal(await watcher.c.readLine(), '* LIST () "." Groups ("OLDNAME" (Lists))');
  await other.cmd('DELETE Groups');
  assert.equal(await watcher.c.readLine(), '* LIST (\\NonExistent) "." Groups');
  await watcher.cmd('NOTIFY SET (personal (MailboxName SubscriptionChange))');
  await other.cmd('SUBSCRIBE Archive');
  assert.equal(await watcher.c.readLine(), '* LIST (\\Subscribed) "." Archive');
  await other.cmd('UNSUBSCRIBE Archive');
  assert.equal(await watcher.c.readLine(), '* LIST () "." Archive');
  // The session's own CREATE is answered by the command alone.
  const mine = await watcher.cmd('CREATE Mine');
  assert.equal(mine.length, 1, mine.join(' | '));
  assert.match(mine[0]!, /^n4 OK \[MAILBOXID \([A-Za-z0-9_-]+\)\] Create completed\.$/);
  // SUBTREE limits which names are reported.
  await watcher.cmd('NOTIFY SET (subtree Work (MailboxName))');
  await other.cmd('CREATE Elsewhere');
  await other.cmd('CREATE Work');
  assert.equal(await watcher.c.readLine(), '* LIST () "." Work');
});

test('bad NOTIFY arguments: BAD for forbidden combinations, NO [BADEVENT] for events not reported', async () => {
  const { cmd } = await session(h.ports.imap, 'bad');
  for (const args of [
    'SET',
    'SET (selected (MessageNew))',
    'SET (selected (FlagChange))',
    'SET (selected (MailboxName))',
    'SET (nowhere (MessageNew MessageExpunge))',
    'SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))',
    'SET (personal (Bogus))',
    'FOO',
  ]) {
    assert.match((await cmd(`NOTIFY ${args}`)).at(-1)!, /^n\d+ BAD /, args);
  }
  const reply = await cmd('NOTIFY SET (personal (AnnotationChange))');
  assert.match(reply.at(-1)!, /^n\d+ NO \[BADEVENT \(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange\)\] /);
  // RFC 5465 section 3 example with fetch attributes for MessageNew: not offered by Roost.
  assert.match((await cmd('NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From To Subject)]) MessageExpunge))')).at(-1)!, /^n\d+ NO \[BADEVENT /);
  assert.deepEqual((await cmd('NOTIFY SET (inboxes NONE)')).at(-1), `n${11 + 1} OK NOTIFY completed.`);
});

test('imaplib: NOTIFY, then a delivery shows up as an untagged STATUS', async () => {
  const code = `
import imaplib, sys, json, base64, smtplib
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
c.login('py', 'py-secret')
imaplib.Commands['NOTIFY'] = ('AUTH', 'SELECTED')
print(c._simple_command('NOTIFY', 'SET', '(inboxes (MessageNew MessageExpunge))'))
l = smtplib.LMTP('127.0.0.1', int(sys.argv[2]))
l.sendmail('a@example.org', ['py@localhost'], b'Subject: x\\r\\n\\r\\nbody\\r\\n')
l.quit()
print(c.readline())
c.logout()
`;
  const out = (await runPython(code, [h.ports.imap, h.ports.lmtp])).replace(/UIDVALIDITY \d+/, 'UIDVALIDITY v');
  assert.equal(out, "('OK', [b'NOTIFY completed.'])\nb'* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY v UNSEEN 1)\\r\\n'\n");
});

async function notifyScript(imapPort: number, lmtpPort: number): Promise<string[]> {
  const { c, cmd } = await session(imapPort, 'u', 'pw');
  const out: string[] = [];
  const run = async (text: string) => out.push(`>>> ${text}`, ...(await cmd(text)));
  await run('SELECT Archive');
  // Dovecot 2.3 sends no initial STATUS for NOTIFY SET STATUS (RFC 5465 section 3.1 asks for it; Roost sends it,
  // tested above), so the reply is compared without it.
  const setStatus = 'NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) (inboxes (MessageNew MessageExpunge))';
  out.push(`>>> ${setStatus}`, ...(await cmd(setStatus)).filter((l) => !l.startsWith('* STATUS ')));
  await lmtpDeliver(lmtpPort, 'a@example.org', ['u@localhost'], MSG);
  out.push('--- delivered', (await c.readLine(30_000))!);
  await run('NOTIFY SET (selected (MessageNew))');
  await run('NOTIFY SET (personal (SubscriptionChange))');
  await run('NOTIFY NONE');
  // Dovecot may repeat an unchanged STATUS (a second copy before the next reply): repeats are dropped.
  const deduped = out.filter((l, i) => !(l.startsWith('* STATUS ') && out.slice(0, i).includes(l)));
  return normalizeTranscript(deduped).map((l) => l.replace(/UIDVALIDITY \d+/, 'UIDVALIDITY v'));
}

test('the same NOTIFY session against Dovecot 2.3 answers the same', async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const dir = mkdtempSync(join(tmpdir(), 'roost-notify-dovecot-'));
  const dovecot = await startDovecot({
    dir,
    users: [{ name: 'u', password: 'pw' }],
    protocols: ['imap', 'lmtp'],
    // Dovecot notices changes of other mailboxes by its idle check (30 s by default) when inotify does not fire.
    extraConfig: 'mail_plugins = $mail_plugins notify\nmailbox_idle_check_interval = 1s\nnamespace inbox {\n  mailbox Archive {\n    auto = create\n  }\n}\n',
  });
  const roost = await startRoost({ users: [{ name: 'u', password: 'pw' }] });
  try {
    const theirs = await notifyScript(dovecot.imapPort, dovecot.lmtpPort);
    const ours = await notifyScript(roost.ports.imap, roost.ports.lmtp);
    assert.deepEqual(ours, theirs);
  } finally {
    await roost.stop();
    await dovecot.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
