// QUOTA (RFC 9208) through the live server: the RFC's GETQUOTAROOT/GETQUOTA/SETQUOTA examples, usage after
// APPEND, [OVERQUOTA] on APPEND/COPY/MOVE, SETQUOTA only for admins (master user) kept across logins, imapflow,
// imaplib, and the same script against Dovecot 2.3 with its quota and imap_quota plugins (RFC 9208 sections 4, 5).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { runPython } from '../helpers/python.js';
import { requirePeer, startDovecot } from '../interop/peers.js';
import { normalizeTranscript } from '../interop/imap-normalize.js';

let h: RoostHandle;
const dataDir = mkdtempSync(join(tmpdir(), 'roost-quota-'));
const clients: LineClient[] = [];
const RULE = '*:storage=1M:messages=3';

before(async () => {
  writeFileSync(join(dataDir, 'master-users'), 'admin:{PLAIN}admin-secret::::::\n');
  h = await startRoost({
    dataDir,
    configToml: '[auth]\nmaster_passwd_file = "master-users"\n',
    users: [
      { name: 'q', password: 'q-secret', extra: `userdb_quota_rule=${RULE}` },
      { name: 'rfc', password: 'rfc-secret', extra: 'userdb_quota_rule=*:storage=512K' },
      { name: 'free', password: 'free-secret' },
      { name: 'flow', password: 'flow-secret', extra: 'userdb_quota_rule=*:storage=2M:messages=100' },
      { name: 'boss', password: 'boss-secret', extra: 'userdb_admin=yes userdb_quota_rule=*:messages=5' },
    ],
  });
});
after(async () => {
  for (const c of clients) c.close();
  await h?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

type Cmd = (text: string) => Promise<string[]>;

async function session(port: number, login: string): Promise<{ c: LineClient; cmd: Cmd }> {
  const c = await LineClient.connect({ port });
  clients.push(c);
  await c.readLine();
  let n = 0;
  const cmd: Cmd = async (text) => {
    const tag = `q${++n}`;
    c.sendLine(`${tag} ${text}`);
    return c.readUntil((l) => l.startsWith(`${tag} `));
  };
  const reply = await cmd(`LOGIN ${login}`);
  assert.match(reply.at(-1)!, /^q1 OK /, reply.join('\n'));
  return { c, cmd };
}

async function append(c: LineClient, tag: string, mailbox: string, msg: string): Promise<string[]> {
  c.send(`${tag} APPEND ${mailbox} {${msg.length}+}\r\n${msg}\r\n`);
  return c.readUntil((l) => l.startsWith(`${tag} `));
}

const MSG = (i: number) => `From: a@example.org\r\nSubject: quota ${i}\r\n\r\n${'x'.repeat(1500)} ${i}\r\n`;

test('capabilities: QUOTA, QUOTA=RES-STORAGE, QUOTA=RES-MESSAGE, QUOTASET', async () => {
  const { cmd } = await session(h.ports.imap, 'q q-secret');
  const caps = (await cmd('CAPABILITY'))[0]!.split(' ');
  for (const c of ['QUOTA', 'QUOTA=RES-STORAGE', 'QUOTA=RES-MESSAGE', 'QUOTASET']) assert.ok(caps.includes(c), c);
});

test('RFC 9208 examples: GETQUOTAROOT INBOX, GETQUOTA of the root, unknown root and mailbox', async () => {
  const { cmd } = await session(h.ports.imap, 'rfc rfc-secret');
  // RFC 9208 section 4.3: "* QUOTAROOT INBOX <root>" then "* QUOTA <root> (STORAGE 10 512)".
  assert.deepEqual(await cmd('GETQUOTAROOT INBOX'), ['* QUOTAROOT INBOX "User quota"', '* QUOTA "User quota" (STORAGE 0 512)', 'q2 OK Getquotaroot completed.']);
  assert.deepEqual(await cmd('GETQUOTA "User quota"'), ['* QUOTA "User quota" (STORAGE 0 512)', 'q3 OK Getquota completed.']);
  assert.match((await cmd('GETQUOTA ""')).at(-1)!, /^q4 NO /);
  assert.match((await cmd('GETQUOTAROOT Nowhere')).at(-1)!, /^q5 NO \[NONEXISTENT\]/);
  assert.match((await cmd('GETQUOTA')).at(-1)!, /^q6 BAD /);
});

test('a user without a quota rule has no quota root', async () => {
  const { cmd } = await session(h.ports.imap, 'free free-secret');
  assert.deepEqual(await cmd('GETQUOTAROOT INBOX'), ['* QUOTAROOT INBOX', 'q2 OK Getquotaroot completed.']);
  assert.match((await cmd('GETQUOTA "User quota"')).at(-1)!, /^q3 NO /);
});

test('usage follows APPEND and EXPUNGE; [OVERQUOTA] on APPEND, COPY and MOVE', async () => {
  const { c, cmd } = await session(h.ports.imap, 'q q-secret');
  for (let i = 1; i <= 3; i++) assert.match((await append(c, `a${i}`, 'INBOX', MSG(i))).at(-1)!, new RegExp(`^a${i} OK \\[APPENDUID`));
  const usage = await cmd('GETQUOTA "User quota"');
  const kib = Math.ceil((3 * MSG(1).length) / 1024);
  assert.deepEqual(usage[0], `* QUOTA "User quota" (STORAGE ${kib} 1024 MESSAGE 3 3)`);
  // RFC 9208 section 5: "A003 NO [OVERQUOTA] APPEND Failed".
  assert.match((await append(c, 'a4', 'INBOX', MSG(4))).at(-1)!, /^a4 NO \[OVERQUOTA\] /);
  await cmd('SELECT INBOX');
  assert.match((await cmd('COPY 1 Archive')).at(-1)!, /^q\d+ NO \[OVERQUOTA\] /);
  // MOVE within the user's store adds a message to the destination before the source loses it: Dovecot refuses it too.
  assert.match((await cmd('MOVE 1 Archive')).at(-1)!, /^q\d+ NO \[OVERQUOTA\] /);
  assert.deepEqual((await cmd('STATUS Archive (MESSAGES)'))[0], '* STATUS Archive (MESSAGES 0)');
  await cmd('STORE 3 +FLAGS.SILENT (\\Deleted)');
  await cmd('EXPUNGE');
  assert.match((await cmd('GETQUOTAROOT INBOX'))[1]!, /^\* QUOTA "User quota" \(STORAGE \d+ 1024 MESSAGE 2 3\)$/);
  assert.match((await cmd('COPY 1 Archive')).at(-1)!, /OK \[COPYUID /);
});

test('SETQUOTA: NO [NOPERM] for the user, allowed for a master user and a userdb admin, kept across logins', async () => {
  const user = await session(h.ports.imap, 'rfc rfc-secret');
  assert.match((await user.cmd('SETQUOTA "User quota" (STORAGE 100)')).at(-1)!, /^q2 NO \[NOPERM\] /);
  const admin = await session(h.ports.imap, 'rfc*admin admin-secret');
  // RFC 9208 section 4.1.3: "A001 SETQUOTA "" (STORAGE 512)" -> "* QUOTA "" (STORAGE 10 512)".
  assert.deepEqual(await admin.cmd('SETQUOTA "User quota" (STORAGE 256 MESSAGE 50)'), ['* QUOTA "User quota" (STORAGE 0 256 MESSAGE 0 50)', 'q2 OK Setquota completed.']);
  assert.match((await admin.cmd('SETQUOTA "User quota" (FOO 1)')).at(-1)!, /^q3 NO /);
  assert.match((await admin.cmd('SETQUOTA "Other" (STORAGE 1)')).at(-1)!, /^q4 NO /);
  assert.match((await admin.cmd('SETQUOTA "User quota" STORAGE 1')).at(-1)!, /^q5 BAD /);
  const again = await session(h.ports.imap, 'rfc rfc-secret');
  assert.deepEqual((await again.cmd('GETQUOTAROOT INBOX'))[1], '* QUOTA "User quota" (STORAGE 0 256 MESSAGE 0 50)');
  // An empty list removes every limit: the root goes away until an admin sets one again.
  assert.deepEqual(await admin.cmd('SETQUOTA "User quota" ()'), ['q6 OK Setquota completed.']);
  assert.deepEqual((await again.cmd('GETQUOTAROOT INBOX'))[0], '* QUOTAROOT INBOX');
  const boss = await session(h.ports.imap, 'boss boss-secret');
  assert.deepEqual(await boss.cmd('SETQUOTA "User quota" (MESSAGE 7)'), ['* QUOTA "User quota" (MESSAGE 0 7)', 'q2 OK Setquota completed.']);
});

test('imapflow getQuota and imaplib getquotaroot', async () => {
  const client = new ImapFlow({ host: '127.0.0.1', port: h.ports.imap, secure: false, auth: { user: 'flow', pass: 'flow-secret' }, tls: { rejectUnauthorized: false }, logger: false });
  await client.connect();
  try {
    await client.append('INBOX', MSG(1));
    const q = await client.getQuota('INBOX');
    assert.ok(q, 'imapflow sees a quota');
    assert.equal(q.path, 'INBOX');
    assert.deepEqual(q.storage?.usage, Math.ceil(MSG(1).length / 1024) * 1024);
    assert.deepEqual(q.storage?.limit, 2048 * 1024);
    assert.deepEqual((q as unknown as Record<string, unknown>).message, { usage: 1, limit: 100, status: '1%' });
  } finally {
    await client.logout();
  }
  const out = await runPython(
    `
import imaplib, sys
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
c.login('flow', 'flow-secret')
typ, data = c.getquotaroot('INBOX')
print(typ, data)
typ, data = c.getquota('"User quota"')
print(typ, data)
c.logout()
`,
    [h.ports.imap],
  );
  assert.equal(out, `OK [[b'INBOX "User quota"'], [b'"User quota" (STORAGE 2 2048 MESSAGE 1 100)']]\nOK [b'"User quota" (STORAGE 2 2048 MESSAGE 1 100)']\n`);
});

/** The script both servers run; returns the transcript. */
async function quotaScript(port: number): Promise<string[]> {
  const { c, cmd } = await session(port, 'u pw');
  const out: string[] = [];
  const run = async (text: string) => out.push(`>>> ${text}`, ...(await cmd(text)));
  await run('GETQUOTAROOT INBOX');
  await run('GETQUOTA "User quota"');
  await run('GETQUOTA "nothing"');
  for (let i = 1; i <= 3; i++) out.push(...(await append(c, `a${i}`, 'INBOX', MSG(i))).map((l) => l.replace(/APPENDUID \d+/, 'APPENDUID v')));
  await run('GETQUOTA "User quota"');
  out.push(...(await append(c, 'a4', 'INBOX', MSG(4))));
  await run('SELECT INBOX');
  await run('COPY 1:2 Archive');
  await run('STORE 1 +FLAGS.SILENT (\\Deleted)');
  await run('EXPUNGE');
  await run('GETQUOTAROOT INBOX');
  // SETQUOTA by a plain user: both refuse (Roost with [NOPERM] as RFC 5530 suggests, Dovecot without a code),
  // tested on its own above. Dovecot also re-announces RECENT after EXPUNGE (an IMAP core difference): dropped.
  return normalizeTranscript(out.filter((l) => !/^\* \d+ RECENT$/.test(l) || !out.includes('>>> EXPUNGE') || out.indexOf(l) < out.indexOf('>>> EXPUNGE'))).map((l) => l.replace(/UIDVALIDITY \d+/, 'UIDVALIDITY v').replace(/COPYUID \d+/, 'COPYUID v'));
}

test('the same QUOTA session against Dovecot 2.3 (quota=maildir, imap_quota) answers the same', async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const dir = mkdtempSync(join(tmpdir(), 'roost-quota-dovecot-'));
  const dovecot = await startDovecot({
    dir,
    users: [{ name: 'u', password: 'pw' }],
    protocols: ['imap'],
    extraConfig: `mail_plugins = $mail_plugins quota
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
  quota_rule = ${RULE}
}
namespace inbox {
  mailbox Archive {
    auto = create
  }
}
`,
  });
  const roost = await startRoost({ users: [{ name: 'u', password: 'pw', extra: `userdb_quota_rule=${RULE}` }] });
  try {
    const [theirs, ours] = [await quotaScript(dovecot.imapPort), await quotaScript(roost.ports.imap)];
    assert.deepEqual(ours, theirs);
  } finally {
    await roost.stop();
    await dovecot.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
