// The storage subcommands run as an admin or an MTA runs them: roost mailbox list|status|create|delete,
// roost index rebuild|delete, roost quota get|recalc and roost deliver (dovecot-lda's exit codes) on a temp data directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mainScript, repoRoot } from '../helpers/roost.js';
import { openUserStorage, type MailUserInfo, type StorageOptions } from '../../src/storage/api.js';

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;
let dataDir: string;
let common: string[];
let storageOptions: StorageOptions;

/** Runs `roost ARGS --data DIR --config FILE` with optional stdin. */
function roost(args: string[], stdin?: string | Buffer): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', mainScript, ...args, ...common], { cwd: repoRoot, env: { ...process.env, ROOST_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** Runs roost under script(1), which gives it a pseudo terminal: what a person at a terminal sees. */
function roostOnTerminal(args: string[]): Promise<RunResult> {
  const command = [process.execPath, '--import', 'tsx', mainScript, ...args, ...common].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: repoRoot, env: { ...process.env, ROOST_LOG_LEVEL: 'warn', COLUMNS: '120' } });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: '' }));
    child.stdin.end();
  });
}

function statusFields(line: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of line.trim().split(' ').slice(1)) {
    const [k, v] = part.split('=');
    out[k!] = Number(v);
  }
  return out;
}

async function messageFiles(maildir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) for (const name of await readdir(join(maildir, sub))) out.push(join(maildir, sub, name));
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-cli-storage-'));
  dataDir = join(dir, 'data');
  const configFile = join(dir, 'roost.toml');
  await writeFile(configFile, '[mail]\nmail_fsync = true\n');
  await mkdir(dataDir, { recursive: true });
  await writeFile(
    join(dataDir, 'passwd'),
    [
      'alice:{PLAIN}pw::::::',
      'carol:{PLAIN}pw::::::userdb_quota_rule=*:messages=2',
      `broken:{PLAIN}pw::::::userdb_mail=maildir:${join(dir, 'not-a-dir', 'Maildir')}`,
      `mary:{PLAIN}pw::::::userdb_mail=mbox:${join(dir, 'mary', 'mail')}:INBOX=${join(dir, 'mary', 'inbox')}`,
      'dave:{PLAIN}pw::::::',
      // dave's store once converted to mbox (the default target location), as its own user to convert back.
      `davembox:{PLAIN}pw::::::userdb_mail=mbox:${join(dir, 'data', 'mail', 'dave', 'mail')}:INBOX=${join(dir, 'data', 'mail', 'dave', 'inbox')}`,
    ].join('\n') + '\n',
  );
  // A regular file where broken's Maildir would need a directory: every save fails with ENOTDIR.
  await writeFile(join(dir, 'not-a-dir'), 'x');
  common = ['--data', dataDir, '--config', configFile];
  storageOptions = { dataDir, defaultMailLocation: '', fsync: true };
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('roost mailbox create, list, status and delete', { timeout: 90_000 }, async () => {
  assert.equal((await roost(['mailbox', 'create', 'alice', 'Work', '-s'])).code, 0);
  const made = await roost(['mailbox', 'create', 'alice', 'Work.Projects', '--special-use', '\\Archive']);
  assert.equal(made.code, 0, made.stderr);
  const again = await roost(['mailbox', 'create', 'alice', 'Work']);
  assert.equal(again.code, 1, 'creating an existing mailbox fails');
  assert.match(again.stderr, /already exists/i);

  const [list, subscribed] = await Promise.all([roost(['mailbox', 'list', 'alice']), roost(['mailbox', 'list', 'alice', '--subscribed'])]);
  assert.deepEqual(list.stdout.trim().split('\n').sort(), ['INBOX', 'Work', 'Work.Projects']);
  assert.deepEqual(subscribed.stdout.trim().split('\n'), ['Work']);

  const storage = await openUserStorage({ user: 'alice' }, storageOptions);
  try {
    await storage.save('Work', Buffer.from('Subject: one\r\n\r\nfirst\r\n'), { flags: ['\\Seen'] });
    await storage.save('Work', Buffer.from('Subject: two\r\n\r\nsecond\r\n'), {});
  } finally {
    await storage.close();
  }
  const status = await roost(['mailbox', 'status', 'alice', 'Work']);
  assert.equal(status.code, 0, status.stderr);
  const fields = statusFields(status.stdout);
  assert.match(status.stdout, /^Work /);
  assert.equal(fields.messages, 2);
  assert.equal(fields.unseen, 1);
  assert.equal(fields.uidnext, 3);
  assert.ok(fields.uidvalidity! > 0);
  assert.equal(fields.vsize, 'Subject: one\r\n\r\nfirst\r\n'.length + 'Subject: two\r\n\r\nsecond\r\n'.length);
  const picked = await roost(['mailbox', 'status', 'alice', '-f', 'messages,uidnext']);
  assert.deepEqual(
    picked.stdout.trim().split('\n').sort(),
    ['INBOX messages=0 uidnext=1', 'Work messages=2 uidnext=3', 'Work.Projects messages=0 uidnext=1'],
  );

  const [deleted, missing, unknownUser] = await Promise.all([
    roost(['mailbox', 'delete', 'alice', 'Work.Projects']),
    roost(['mailbox', 'status', 'alice', 'Nope']),
    roost(['mailbox', 'list', 'nobody']),
  ]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
  assert.equal(unknownUser.code, 2);
  assert.match(unknownUser.stderr, /nobody doesn't exist/);
  assert.deepEqual((await roost(['mailbox', 'list', 'alice'])).stdout.trim().split('\n').sort(), ['INBOX', 'Work']);
});

test('roost deliver stores durably with Return-Path and Delivered-To and answers with sysexits codes', { timeout: 90_000 }, async () => {
  const withFromLine = 'From bounce@example.org  Thu Jan  1 00:00:00 2026\nSubject: piped\nMessage-ID: <piped@example.org>\n\nbody line\n';
  const plain = 'Subject: to work\nMessage-ID: <work@example.org>\n\nfor the work folder\n';
  const [first, toFolder, toMissing, unknown, broken] = await Promise.all([
    roost(['deliver', 'alice'], withFromLine),
    roost(['deliver', 'alice', '-m', 'Work', '-f', 'sender@example.net', '-a', 'alice@example.com'], plain),
    roost(['deliver', 'alice', '-m', 'NoSuchFolder'], 'Subject: fallback\n\nto INBOX\n'),
    roost(['deliver', 'nobody'], plain),
    roost(['deliver', 'broken'], plain),
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(toFolder.code, 0, toFolder.stderr);
  assert.equal(toMissing.code, 0, toMissing.stderr);
  assert.equal(unknown.code, 67, 'EX_NOUSER for an unknown user');
  assert.equal(broken.code, 75, `EX_TEMPFAIL when the store cannot be written: ${broken.stderr}`);

  const maildir = join(dataDir, 'mail', 'alice', 'Maildir');
  const inbox = await Promise.all((await messageFiles(maildir)).map((f) => readFile(f, 'utf8')));
  const piped = inbox.find((m) => m.includes('<piped@example.org>'));
  assert.equal(piped, 'Return-Path: <bounce@example.org>\nDelivered-To: alice\nSubject: piped\nMessage-ID: <piped@example.org>\n\nbody line\n', 'From_ line gives the sender and is dropped');
  assert.ok(inbox.some((m) => m.startsWith('Return-Path: <MAILER-DAEMON>\nDelivered-To: alice\nSubject: fallback\n')), 'missing -m mailbox falls back to INBOX');
  const work = await Promise.all((await messageFiles(join(maildir, '.Work'))).map((f) => readFile(f, 'utf8')));
  assert.ok(work.includes('Return-Path: <sender@example.net>\nDelivered-To: alice@example.com\n' + plain), '-m, -f and -a');

  // Quota: carol may hold two messages; the third is refused permanently (EX_NOPERM), nothing is stored.
  assert.equal((await roost(['deliver', 'carol'], 'Subject: 1\n\n1\n')).code, 0);
  assert.equal((await roost(['deliver', 'carol'], 'Subject: 2\n\n2\n')).code, 0);
  const over = await roost(['deliver', 'carol'], 'Subject: 3\n\n3\n');
  assert.equal(over.code, 77, over.stderr);
  assert.match(over.stderr, /Quota exceeded/);
  assert.equal((await messageFiles(join(dataDir, 'mail', 'carol', 'Maildir'))).length, 2);

  // mbox locations deliver the same way.
  const mbox = await roost(['deliver', 'mary', '-f', 'x@example.org'], 'Subject: to mbox\n\nFrom the start of a line\n');
  assert.equal(mbox.code, 0, mbox.stderr);
  const inboxFile = await readFile(join(dir, 'mary', 'inbox'), 'utf8');
  assert.match(inboxFile, /^From /);
  assert.match(inboxFile, /\nReturn-Path: <x@example\.org>\nDelivered-To: mary\n/);
  assert.match(inboxFile, /\nSubject: to mbox\n/);
});

test('roost quota get and recalc report maildirsize usage the way doveadm does', { timeout: 90_000 }, async () => {
  const got = await roost(['quota', 'get', 'carol']);
  assert.equal(got.code, 0, got.stderr);
  const lines = got.stdout.trim().split('\n');
  assert.match(lines[0]!, /^Quota name\s+Type\s+Value\s+Limit\s+%$/);
  assert.match(lines[1]!, /^User quota STORAGE\s+0\s+-\s+0$/);
  assert.match(lines[2]!, /^User quota MESSAGE\s+2\s+2\s+100$/);

  // A message removed behind the quota's back: get still trusts maildirsize, recalc counts the store again.
  const maildir = join(dataDir, 'mail', 'carol', 'Maildir');
  await unlink((await messageFiles(maildir))[0]!);
  assert.match((await roost(['quota', 'get', 'carol'])).stdout, /MESSAGE\s+2\s+2\s+100/);
  const recalc = await roost(['quota', 'recalc', 'carol']);
  assert.equal(recalc.code, 0, recalc.stderr);
  assert.match(recalc.stdout, /MESSAGE\s+1\s+2\s+50/);
  assert.match(await readFile(join(maildir, 'maildirsize'), 'utf8'), /^2C\n\d+ 1\n$/);
  assert.match((await roost(['quota', 'get', 'alice'])).stdout, /alice has no quota/);
});

test('roost index rebuild recreates a deleted index with the same UIDs, flags and counters', { timeout: 90_000 }, async () => {
  const user = { user: 'alice' };
  const storage = await openUserStorage(user, storageOptions);
  const before = new Map<string, Array<{ uid: number; flags: string[] }>>();
  const statusBefore = new Map<string, unknown>();
  try {
    await storage.createMailbox('Big');
    for (let i = 0; i < 30; i++) await storage.save('Big', Buffer.from(`Subject: m${i}\r\n\r\nbody ${i}\r\n`), { flags: i % 3 === 0 ? ['\\Seen', 'Keyword' + (i % 2)] : [] });
    const session = await storage.openMailbox('Big');
    try {
      // Expunge some so the UIDs have holes a renumbering would close.
      await session.updateFlags([3, 4, 10, 30], 'add', ['\\Deleted']);
      await session.expunge();
    } finally {
      await session.close();
    }
    for (const name of ['INBOX', 'Work', 'Big']) {
      const s = await storage.openMailbox(name, { readOnly: true });
      before.set(name, s.messages().map((m) => ({ uid: m.uid, flags: [...m.flags].filter((f) => f !== '\\Recent').sort() })));
      await s.close();
      const { highestModseq: _modseq, recent: _recent, ...stable } = await storage.status(name);
      statusBefore.set(name, stable);
    }
  } finally {
    await storage.close();
  }
  assert.deepEqual(
    before.get('Big')!.map((m) => m.uid),
    [1, 2, ...Array.from({ length: 5 }, (_, i) => i + 5), ...Array.from({ length: 19 }, (_, i) => i + 11)],
  );

  assert.equal((await roost(['index', 'delete', 'alice'])).code, 0);
  assert.deepEqual(await readdir(join(dataDir, 'index')).then((names) => names.includes('alice')), false, 'index directory removed');
  const rebuilt = await roost(['index', 'rebuild', 'alice']);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  const progressLines = rebuilt.stderr.trim().split('\n');
  assert.equal(progressLines.length, 3, 'one plain line per mailbox when stderr is not a terminal');
  for (const line of progressLines) assert.match(line, /^rebuilt (INBOX|Work|Big) \([123]\/3\)$/);
  assert.deepEqual(progressLines.map((l) => l.split(' ')[1]).sort(), ['Big', 'INBOX', 'Work']);

  const onTerminal = await roostOnTerminal(['index', 'rebuild', 'alice', 'Big']);
  assert.equal(onTerminal.code, 0, onTerminal.stdout);
  assert.match(onTerminal.stdout, /index rebuild \[[\u2588\u2591]+\] 1\/1 mailboxes \| Big/, 'a progress bar on a terminal');

  const after = await openUserStorage(user, storageOptions);
  try {
    for (const [name, messages] of before) {
      const s = await after.openMailbox(name, { readOnly: true });
      assert.deepEqual(
        s.messages().map((m) => ({ uid: m.uid, flags: [...m.flags].filter((f) => f !== '\\Recent').sort() })),
        messages,
        `${name}: same UIDs and flags after the rebuild`,
      );
      await s.close();
      const { highestModseq: _modseq, recent: _recent, ...stable } = await after.status(name);
      assert.deepEqual(stable, statusBefore.get(name), `${name}: same counters, UIDVALIDITY and UIDNEXT`);
    }
  } finally {
    await after.close();
  }
});

interface StoreSnapshot {
  subscriptions: string[];
  mailboxes: Record<string, { specialUse?: string; uidValidity: number; uidNext: number; messages: Array<{ uid: number; flags: string[]; date: number; body: string }> }>;
}

/** Everything convert must keep, read through the storage API with a private index; names in '/' form. */
async function storeSnapshot(user: MailUserInfo): Promise<StoreSnapshot> {
  const indexDir = await mkdtemp(join(tmpdir(), 'roost-snapshot-index-'));
  const storage = await openUserStorage({ ...user, mail: user.mail ? `${user.mail}:INDEX=${indexDir}` : undefined }, storageOptions);
  const norm = (name: string) => name.split(storage.separator).join('/');
  try {
    const out: StoreSnapshot = { subscriptions: (await storage.listSubscriptions()).map(norm).sort(), mailboxes: {} };
    for (const info of await storage.listMailboxes()) {
      if (info.noSelect) continue;
      const session = await storage.openMailbox(info.name, { readOnly: true });
      const messages = [];
      for (const m of session.messages()) {
        const body = (await (await session.openMessage(m.uid)).read()).toString('latin1');
        messages.push({ uid: m.uid, flags: m.flags.filter((f) => f !== '\\Recent').sort(), date: Math.floor(m.internalDate / 1000), body });
      }
      out.mailboxes[norm(info.name)] = { specialUse: info.specialUse, uidValidity: session.uidValidity, uidNext: session.uidNext(), messages };
      await session.close();
    }
    return out;
  } finally {
    await storage.close();
    await rm(indexDir, { recursive: true, force: true });
  }
}

test('roost convert to mbox and back keeps UIDVALIDITY, UIDs, UIDNEXT, flags, keywords, dates, bodies and subscriptions', { timeout: 90_000 }, async () => {
  const storage = await openUserStorage({ user: 'dave' }, storageOptions);
  try {
    await storage.createMailbox('Lists.Dev');
    await storage.createMailbox('Emptied');
    await storage.subscribe('Lists.Dev');
    await storage.ensureDefaultMailboxes();
    const date = (s: string) => new Date(s);
    await storage.save('INBOX', Buffer.from('Subject: one\r\n\r\nFrom the start of a body line\r\n>From quoted\r\n'), { flags: ['\\Seen', '$Label1'], internalDate: date('2024-03-01T10:00:00Z') });
    await storage.save('INBOX', Buffer.from('Subject: two\r\n\r\nexpunged\r\n'), { internalDate: date('2024-03-02T10:00:00Z') });
    await storage.save('INBOX', Buffer.from('Subject: three\r\nX-Mailer: test\r\n\r\nno newline at the end'), { flags: ['\\Answered', '\\Flagged', 'Work', '$Label1'], internalDate: date('2024-03-03T10:00:00Z') });
    await storage.save('INBOX', Buffer.from('Subject: four\r\n\r\nfour\r\n'), { flags: ['\\Draft', '\\Deleted'], internalDate: date('2024-03-04T10:00:00Z') });
    await storage.save('INBOX', Buffer.from('Subject: five\r\n\r\nlast, expunged\r\n'), { internalDate: date('2024-03-05T10:00:00Z') });
    await storage.save('Lists.Dev', Buffer.from('Subject: dev\r\n\r\nlist mail\r\n'), { flags: ['\\Seen'], internalDate: date('2024-04-01T00:00:00Z') });
    await storage.save('Emptied', Buffer.from('Subject: gone\r\n\r\ngone\r\n'), {});
    for (const [name, uids] of [['INBOX', [2, 5]], ['Emptied', [1]]] as const) {
      const session = await storage.openMailbox(name);
      await session.updateFlags([...uids], 'add', ['\\Deleted']);
      await session.expunge([...uids]);
      await session.close();
    }
  } finally {
    await storage.close();
  }
  const original = await storeSnapshot({ user: 'dave' });
  assert.deepEqual(original.mailboxes.INBOX!.messages.map((m) => m.uid), [1, 3, 4]);
  assert.equal(original.mailboxes.INBOX!.uidNext, 6);
  assert.equal(original.mailboxes.Emptied!.uidNext, 2);
  assert.equal(original.mailboxes.Sent!.specialUse, '\\Sent');

  const toMbox = await roost(['convert', 'dave', '--to', 'mbox']);
  assert.equal(toMbox.code, 0, toMbox.stderr);
  assert.match(toMbox.stdout, /^Lists\.Dev -> Lists\/Dev: 1 messages$/m);
  const mboxLocation = `mbox:${join(dataDir, 'mail', 'dave', 'mail')}:INBOX=${join(dataDir, 'mail', 'dave', 'inbox')}`;
  const inboxFile = await readFile(join(dataDir, 'mail', 'dave', 'inbox'), 'latin1');
  assert.match(inboxFile, /^From MAILER-DAEMON  /);
  assert.match(inboxFile, /\nX-IMAPbase: \d+ 0000000005 /, 'X-IMAPbase keeps UIDNEXT 6');
  assert.match(inboxFile, /\nX-UID: 3\nStatus: O\nX-Status: AF\nX-Keywords: (Work \$Label1|\$Label1 Work) +\nContent-Length: 21\n/);
  assert.deepEqual(await storeSnapshot({ user: 'dave', mail: mboxLocation }), original, 'the mbox store holds the same');
  const again = await roost(['convert', 'dave', '--to', 'mbox']);
  assert.equal(again.code, 1, 'an existing target is never overwritten');
  assert.match(again.stderr, /not empty/);

  const back = join(dir, 'back', 'Maildir');
  const toMaildir = await roost(['convert', 'davembox', '--to', 'maildir', '--location', `maildir:${back}`]);
  assert.equal(toMaildir.code, 0, toMaildir.stderr);
  assert.deepEqual(await storeSnapshot({ user: 'davembox', mail: `maildir:${back}` }), original, 'and back in Maildir, the same again');
  assert.match(await readFile(join(back, 'dovecot-uidlist'), 'utf8'), new RegExp(`^3 V${original.mailboxes.INBOX!.uidValidity} N6 G[0-9a-f]{32}\n1 :\\S+\n3 :\\S+\n4 :\\S+\n$`));
});
