// Differential test: Roost's POP3 and Debian's Dovecot POP3 (pop3_lock_session = yes) serving the same
// Maildir, first written by Dovecot's LMTP, give identical answers to STAT, LIST, UIDL, TOP and RETR.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { lmtpDeliver } from '../helpers/python.js';
import { requirePeer, startDovecot, makeTraversable } from './peers.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const CORPUS = [
  'From: Alice <alice@example.org>\r\nTo: u@localhost\r\nSubject: plain\r\nMessage-ID: <p1@example.org>\r\n\r\nHello.\r\n.dot at start\r\n..two dots\r\nlast line',
  'From: b@example.org\r\nSubject: =?UTF-8?B?w6TDtsO8?=\r\nContent-Type: multipart/alternative; boundary="b1"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\n' +
    Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\r\n') +
    '\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b1--\r\n',
  'Subject: no body\r\n\r\n',
  'From: c@example.org\r\nSubject: long\r\n\r\n' + 'x'.repeat(5000) + '\r\n' + 'y\r\n'.repeat(200),
];

/** One POP3 session's answers to the commands under test, every line exactly as received. */
async function transcript(port: number, user: string, password: string, count = CORPUS.length): Promise<string[]> {
  const c = await LineClient.connect({ port });
  await c.readLine();
  const out: string[] = [];
  const single = async (cmd: string) => {
    c.sendLine(cmd);
    out.push(`${cmd} => ${await c.readLine()}`);
  };
  const multi = async (cmd: string) => {
    c.sendLine(cmd);
    const first = await c.readLine();
    out.push(`${cmd} => ${first}`);
    if (first?.startsWith('+OK')) out.push(...(await c.readUntil((l) => l === '.')));
  };
  c.sendLine(`USER ${user}`);
  await c.readLine();
  c.sendLine(`PASS ${password}`);
  assert.match((await c.readLine())!, /^\+OK/);
  await single('STAT');
  await multi('LIST');
  await multi('UIDL');
  for (let n = 1; n <= count; n++) {
    await single(`LIST ${n}`);
    await single(`UIDL ${n}`);
    await multi(`TOP ${n} 0`);
    await multi(`TOP ${n} 10`);
    await multi(`RETR ${n}`);
  }
  await single(`LIST ${count + 1}`);
  c.sendLine('QUIT');
  await c.readLine();
  c.close();
  return out;
}

test('Roost and Dovecot give identical POP3 answers for a store Dovecot wrote', async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const base = mkdtempSync(join(tmpdir(), 'roost-pop3-diff-'));
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  const dovecot = await startDovecot({ dir: join(base, 'dovecot'), users: [{ name: 'u', password: 'pw' }], pop3LockSession: true, extraConfig: 'pop3_uidl_format = %08Xu%08Xv\n' });
  cleanups.push(() => dovecot.stop());
  for (const m of CORPUS) await lmtpDeliver(dovecot.lmtpPort, 'sender@example.org', ['u@localhost'], m);
  const theirs = await transcript(dovecot.pop3Port, 'u', 'pw');
  await dovecot.stop();

  const maildir = join(dovecot.mailRoot, 'u');
  makeTraversable(maildir);
  const roost = await startRoost({ dataDir: join(base, 'roost'), users: [{ name: 'u', password: 'pw', extra: `userdb_mail=maildir:${maildir}` }] });
  cleanups.push(() => roost.stop());
  const ours = await transcript(roost.ports.pop3, 'u', 'pw');
  assert.ok(theirs.length > 100, `compared ${theirs.length} lines`);
  assert.deepEqual(ours, theirs);
  t.diagnostic(`compared ${theirs.length} POP3 response lines with Dovecot`);
});

test('UIDLs Dovecot saved (P records) and X-UIDL headers are kept when Roost takes over the store', async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const base = mkdtempSync(join(tmpdir(), 'roost-pop3-uidl-'));
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  // Dovecot saves the UIDLs it handed out (pop3_save_uidl) in a format Roost does not use, so only the
  // saved P records can make Roost's answers equal; one message carries an X-UIDL from an older server.
  const dovecot = await startDovecot({
    dir: join(base, 'dovecot'),
    users: [{ name: 'u', password: 'pw' }],
    pop3LockSession: true,
    extraConfig: 'pop3_uidl_format = %g\npop3_save_uidl = yes\npop3_reuse_xuidl = yes\n',
  });
  cleanups.push(() => dovecot.stop());
  for (const m of CORPUS.slice(0, 2)) await lmtpDeliver(dovecot.lmtpPort, 'sender@example.org', ['u@localhost'], m);
  await lmtpDeliver(dovecot.lmtpPort, 'sender@example.org', ['u@localhost'], 'X-UIDL: legacy-uidl-0042\r\nSubject: migrated\r\n\r\nold mail\r\n');
  const theirs = await transcript(dovecot.pop3Port, 'u', 'pw', 3);
  await dovecot.stop();
  assert.ok(theirs.some((l) => / legacy-uidl-0042$/.test(l)), 'Dovecot answers the X-UIDL');

  const maildir = join(dovecot.mailRoot, 'u');
  makeTraversable(maildir);
  const roost = await startRoost({
    dataDir: join(base, 'roost'),
    users: [{ name: 'u', password: 'pw', extra: `userdb_mail=maildir:${maildir}` }],
    configToml: '[pop3]\npop3_reuse_xuidl = true\n',
  });
  cleanups.push(() => roost.stop());
  const ours = await transcript(roost.ports.pop3, 'u', 'pw', 3);
  assert.deepEqual(ours, theirs, 'every answer, UIDLs included, equals Dovecot\'s');
});
