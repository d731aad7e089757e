// Eight LMTP connections (RFC 2033) delivering into one Maildir while Dovecot's doveadm saves into it too: every
// message stored once, dovecot-uidlist UIDs unique and ascending, the same UIDs seen by Roost's IMAP and by Dovecot.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';
import { taggedSession } from '../helpers/imap-session.js';
import { ensureMailUser, findBinary, makeTraversable, requirePeer } from './peers.js';

const CONNECTIONS = 8;
const PER_CONNECTION = 12;
const DOVECOT_SAVES = 10;

const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function message(id: string): string {
  return `From: sender@example.net\r\nTo: carol@localhost\r\nSubject: ${id}\r\nMessage-ID: <${id}@example.net>\r\n\r\nbody of ${id}\r\n`;
}

async function reply(c: LineClient): Promise<string> {
  for (;;) {
    const line = await c.readLine(60_000);
    if (line === null) throw new Error('LMTP connection closed');
    if (line[3] !== '-') return line;
  }
}

/** One LMTP connection delivering `ids` one after another, MAIL/RCPT/DATA pipelined (RFC 2920). */
async function lmtpConnection(port: number, ids: string[]): Promise<string[]> {
  const c = await LineClient.connect({ port });
  const replies: string[] = [];
  try {
    await reply(c);
    c.sendLine('LHLO concurrent.test');
    await reply(c);
    for (const id of ids) {
      c.send('MAIL FROM:<sender@example.net>\r\nRCPT TO:<carol@localhost>\r\nDATA\r\n');
      const head = [await reply(c), await reply(c), await reply(c)];
      assert.match(head.join('|'), /^250 .*\|250 .*\|354 /);
      c.send(message(id) + '.\r\n');
      replies.push(await reply(c));
    }
    c.sendLine('QUIT');
  } finally {
    c.close();
  }
  return replies;
}

function run(cmd: string, args: string[], env: Record<string, string>, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
    child.stdin.on('error', () => undefined); // an early exit is reported by its status and stderr
    child.stdin.end(input ?? '');
  });
}

test('8 concurrent LMTP deliveries and Dovecot saving into the same Maildir: each message once, one UID each', { timeout: 240_000 }, async (t) => {
  if (!requirePeer(t, 'dovecot')) return;
  const doveadm = findBinary('doveadm')!;
  if (process.getuid?.() !== 0) {
    t.skip('needs root to run doveadm as the mail user');
    return;
  }
  const vmail = ensureMailUser();
  const dir = mkdtempSync(join(tmpdir(), 'roost-maildir-concurrent-'));
  if (!process.env.KEEP) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const maildir = join(dir, 'Maildir');
  const home = join(dir, 'home');
  mkdirSync(home);
  mkdirSync(join(dir, 'run'));
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(conf, `base_dir = ${join(dir, 'run')}\nstate_dir = ${join(dir, 'run')}\nlog_path = /dev/stderr\nssl = no\nmail_uid = ${vmail.uid}\nmail_gid = ${vmail.gid}\nfirst_valid_uid = 1\nfirst_valid_gid = 1\n`);
  for (const p of [dir, home, join(dir, 'run')]) await run('chown', [`${vmail.uid}:${vmail.gid}`, p], {});
  makeTraversable(dir);
  // Dovecot reads the Maildir without an index of its own, so the UIDs it reports come from dovecot-uidlist alone.
  const doveArgs = ['-c', conf, '-o', `mail_location=maildir:${maildir}:INDEX=MEMORY`];
  const doveEnv = { USER: vmail.name, HOME: home };
  const doveSave = (id: string) => run(doveadm, [...doveArgs, 'save', '-m', 'INBOX'], doveEnv, message(id).replace(/\r\n/g, '\n'));
  // Dovecot makes the Maildir and its uidlist (as the mail user); Roost, running as root here, delivers into it.
  await doveSave('dovecot-first');

  const h = await startRoost({ users: [{ name: 'carol', password: 'pw', extra: `userdb_mail=maildir:${maildir}` }] });
  cleanups.push(() => h.stop());

  const lmtpIds = Array.from({ length: CONNECTIONS }, (_, c) => Array.from({ length: PER_CONNECTION }, (_, i) => `lmtp-${c}-${i}`));
  const dovecotIds = Array.from({ length: DOVECOT_SAVES }, (_, i) => `dovecot-${i}`);
  const deliveries: string[][] = [...lmtpIds];
  const deliveryReplies: string[][] = [];
  const [replies] = await Promise.all([
    Promise.all(lmtpIds.map((ids) => lmtpConnection(h.ports.lmtp!, ids))),
    (async () => {
      for (const id of dovecotIds) await doveSave(id);
    })(),
  ]);
  deliveryReplies.push(...replies);
  for (const r of replies.flat()) assert.match(r, /^250 2\.0\.0 /);
  // Then turn about, so that Dovecot gets the lock between Roost's saves and appends its own records.
  const turnIds: string[] = [];
  for (let i = 0; i < 4; i++) {
    await doveSave(`dovecot-turn-${i}`);
    const ids = [`lmtp-turn-${i}-a`, `lmtp-turn-${i}-b`];
    const turnReplies = await Promise.all(ids.map((id) => lmtpConnection(h.ports.lmtp!, [id])));
    for (const r of turnReplies.flat()) assert.match(r, /^250 2\.0\.0 /);
    deliveries.push(...ids.map((id) => [id]));
    deliveryReplies.push(...turnReplies);
    turnIds.push(`dovecot-turn-${i}`, ...ids);
  }

  const expected = ['dovecot-first', ...lmtpIds.flat(), ...dovecotIds, ...turnIds].sort();
  assert.equal(existsSync(join(maildir, 'dovecot-uidlist.lock')), false, 'no uidlist lock left behind');
  assert.deepEqual(readdirSync(join(maildir, 'tmp')), [], 'no temp file left behind');

  // Roost's IMAP and then Dovecot see the same message under the same UID.
  const imap = await taggedSession(h.ports.imap!, 'carol', 'pw');
  cleanups.push(() => imap.close());
  assert.match((await imap.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);
  const fetched = await imap.cmd('UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  // Each FETCH response is its line, the header literal's lines and the closing line; UID may sit on either end.
  const roostByUid = new Map<number, string>();
  let uid: number | undefined;
  let subject: string | undefined;
  for (const line of fetched) {
    if (/^\* \d+ FETCH /.test(line)) uid = subject = undefined;
    uid ??= Number(/UID (\d+)/.exec(line)?.[1]) || undefined;
    subject ??= /^Subject: (\S+)/.exec(line)?.[1];
    if (uid && subject) {
      roostByUid.set(uid, subject);
      uid = subject = undefined;
    }
  }
  assert.deepEqual([...roostByUid.values()].sort(), expected, 'Roost lists every message once');
  // Every delivery keeps the UID it was given when it was acknowledged (the daemon logs it with the session id,
  // which the 250 reply names), whatever Dovecot did with the uidlist meanwhile.
  const savedUids = new Map<string, number[]>();
  for (const line of h.output) {
    if (!line.includes('"saved"')) continue;
    const entry = JSON.parse(line) as { msg: string; uid: number; session: string };
    if (entry.msg === 'saved') savedUids.set(entry.session, [...(savedUids.get(entry.session) ?? []), entry.uid]);
  }
  for (const [i, ids] of deliveries.entries()) {
    const session = deliveryReplies[i]![0]!.split(' ')[3]!;
    assert.deepEqual(savedUids.get(session)?.map((u) => roostByUid.get(u)), ids, `UIDs of session ${session}`);
  }

  // dovecot-uidlist: one record per file, UIDs strictly ascending. (Dovecot leaves a mail in new/ without a UID when
  // the uidlist lock is busy; the next sync, here Roost's SELECT, gives it one.)
  const lines = readFileSync(join(maildir, 'dovecot-uidlist'), 'utf8').split('\n').filter(Boolean);
  assert.match(lines[0]!, /^3 V\d+ N\d+/);
  const records = lines.slice(1).map((l) => ({ uid: Number(l.split(' ')[0]), base: l.slice(l.indexOf(' :') + 2) }));
  for (let i = 1; i < records.length; i++) assert.ok(records[i]!.uid > records[i - 1]!.uid, `uid ${records[i]!.uid} after ${records[i - 1]!.uid}`);
  const files = [...readdirSync(join(maildir, 'new')), ...readdirSync(join(maildir, 'cur'))].map((f) => f.split(':')[0]!).sort();
  assert.equal(files.length, expected.length, 'one file per message');
  const recorded = new Set(records.map((r) => r.base));
  assert.deepEqual(files.filter((f) => !recorded.has(f)), [], 'every file has a uidlist record');
  assert.equal(records.length, files.length, 'one uidlist record per file');

  // Roost ran as root here: its files become the mail user's so that Dovecot may read them.
  await run('chown', ['-R', `${vmail.uid}:${vmail.gid}`, maildir], {});
  const out = await run(doveadm, [...doveArgs, 'fetch', 'uid hdr.subject', 'mailbox', 'INBOX', 'all'], doveEnv);
  const dovecotByUid = new Map<number, string>();
  for (const block of out.split(/\f\n?/)) {
    const uid = /^uid: (\d+)$/m.exec(block);
    const subject = /^hdr\.subject: (\S+)$/m.exec(block);
    if (uid && subject) dovecotByUid.set(Number(uid[1]), subject[1]!);
  }
  assert.deepEqual([...dovecotByUid.entries()].sort((a, b) => a[0] - b[0]), [...roostByUid.entries()].sort((a, b) => a[0] - b[0]), 'Dovecot reads the same UIDs');
});
