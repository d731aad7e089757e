// The storage contract for the mbox backend, through src/storage/api.ts: save, flags, keywords, copy, move, expunge,
// rename, subscriptions, concurrent sessions, outside appends as events, index rebuild, locking, torn-append recovery.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, appendFile, writeFile, stat, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { openUserStorage, rebuildIndex, deleteIndex, StorageError, type StorageOptions, type MailUserInfo, type MailboxSession, type ChangesEvent } from '../../src/storage/api.js';
import { createMboxUserBackend } from '../../src/storage/backends/mbox/mbox-user.js';

const MSG1 = 'From: a@example.org\nTo: b@example.org\nSubject: one\n\nHello\nWorld\nFrom the start\n>From quoted\n';
const MSG2 = 'From: c@example.org\r\nSubject: two\r\n\r\nBody two\r\n';
const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

function waitForChanges(session: MailboxSession, what: string): Promise<ChangesEvent> {
  return Promise.race([
    once(session, 'changes').then(([e]) => e as ChangesEvent),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no 'changes' event within 15 s: ${what}`)), 15_000).unref()),
  ]);
}

/** A child process that holds locks on a file until it is killed: 'fcntl' (POSIX write lock) or nothing. */
function holdFcntlInChild(path: string): Promise<{ stop(): Promise<void> }> {
  const script = `
    const fsExt = require('fs-ext'); const fs = require('fs');
    const fd = fs.openSync(process.argv[1], 'r+');
    fsExt.fcntl(fd, 'setlk', fsExt.constants.F_WRLCK, (err) => { if (err) { console.error(err); process.exit(1); } process.stdout.write('locked\\n'); });
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script, path], { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () =>
      resolve({
        stop: async () => {
          child.kill('SIGKILL');
          await once(child, 'exit').catch(() => undefined);
        },
      }),
    );
    child.once('exit', (code) => reject(new Error(`lock holder exited ${code}`)));
  });
}

describe('storage contract: mbox', () => {
  let dir: string;
  let opts: StorageOptions;
  let n = 0;
  const newUser = (): MailUserInfo => ({ user: `user${++n}` });
  const rootOf = (u: MailUserInfo) => join(dir, 'mail', u.user);
  const inboxOf = (u: MailUserInfo) => join(dir, 'mail', u.user, 'inbox');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roost-mbox-contract-'));
    opts = { dataDir: join(dir, 'data'), defaultMailLocation: `mbox:${dir}/mail/%u:INBOX=${dir}/mail/%u/inbox`, fsync: true };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('save is durable, numbered, sized in CRLF, dated; >From and From lines come back as sent', async () => {
    const u = newUser();
    const st = await openUserStorage(u, opts);
    try {
      const date = new Date('2020-02-03T04:05:06Z');
      const r1 = await st.save('INBOX', Buffer.from(MSG1), { internalDate: date });
      const r2 = await st.save('inbox', Buffer.from(MSG2), { flags: ['\\Seen'] });
      assert.deepEqual([r1.uid, r2.uid], [1, 2]);
      assert.equal(r1.uidValidity, r2.uidValidity);
      const status = await st.status('INBOX');
      assert.equal(status.messages, 2);
      assert.equal(status.unseen, 1);
      assert.equal(status.uidNext, 3);
      assert.equal(status.size, crlf(MSG1).length + MSG2.length);
      const box = await st.openMailbox('INBOX');
      try {
        assert.deepEqual(box.messages().map((m) => m.uid), [1, 2]);
        assert.equal(box.messages()[0]!.internalDate.getTime(), date.getTime());
        assert.deepEqual(box.messages()[1]!.flags, ['\\Seen']);
        const content = await box.openMessage(1);
        assert.equal((await content.read()).toString(), crlf(MSG1));
        // ranges of the CRLF form, each end (around every line end) from the start and from three bytes before it
        for (let end = 0; end <= crlf(MSG1).length + 1; end++) {
          for (const start of [0, Math.max(0, end - 3)]) {
            const chunks: Buffer[] = [];
            for await (const c of content.stream(start, end)) chunks.push(c as Buffer);
            assert.equal(Buffer.concat(chunks).toString(), crlf(MSG1).slice(start, end), `stream(${start}, ${end})`);
          }
        }
        assert.deepEqual([...box.recentUids()].sort(), [1, 2]);
      } finally {
        await box.close();
      }
      const box2 = await st.openMailbox('INBOX');
      assert.equal(box2.recentUids().size, 0, 'a second session does not get \\Recent again');
      await box2.close();
      // What is on disk is Dovecot's format.
      const text = await readFile(inboxOf(u), 'latin1');
      assert.match(text, /^From user\d+@\S+  Mon Feb 03 0\d:05:06 2020\nFrom: a@example.org\n/);
      assert.match(text, new RegExp(`X-IMAPbase: ${r1.uidValidity} 0000000002\nX-UID: 1\nStatus: O?\n`));
      assert.match(text, /\nX-UID: 2\nStatus: RO?\n/);
      assert.ok(text.includes('\nFrom the start\n>From quoted\n'), 'body From lines are left as they are');
    } finally {
      await st.close();
    }
  });

  test('flags and keywords, with modseq, kept in the mbox across an index rebuild', async () => {
    const u = newUser();
    const st = await openUserStorage(u, opts);
    try {
      await st.save('INBOX', Buffer.from(MSG1));
      await st.save('INBOX', Buffer.from(MSG2));
      const box = await st.openMailbox('INBOX');
      const before_ = box.highestModseq();
      const r = await box.updateFlags([1, 2], 'add', ['\\Flagged', '$Forwarded', 'Work']);
      assert.equal(r.updated.length, 2);
      assert.ok(r.updated.every((x) => x.modseq > before_));
      await box.updateFlags([1], 'remove', ['Work']);
      await box.updateFlags([2], 'replace', ['\\Seen', '\\Answered', '\\Draft', '\\Deleted']);
      await box.close();
      const text = await readFile(inboxOf(u), 'latin1');
      assert.match(text, /X-Status: F\nX-Keywords: \$Forwarded +\n/);
      assert.match(text, /Status: RO?\nX-Status: ATD\nX-Keywords: +\n/);
      await st.close();
      await deleteIndex(u, opts);
      const st2 = await openUserStorage(u, opts);
      const box2 = await st2.openMailbox('INBOX');
      assert.deepEqual(box2.messages().map((m) => [...m.flags].sort()), [['$Forwarded', '\\Flagged'], ['\\Answered', '\\Deleted', '\\Draft', '\\Seen']]);
      await box2.close();
      await st2.close();
    } finally {
      await st.close();
    }
  });

  test('many keywords overflow the padding: the file is rewritten and nothing is lost', async () => {
    const u = newUser();
    const st = await openUserStorage(u, opts);
    try {
      for (let i = 0; i < 3; i++) await st.save('INBOX', Buffer.from(MSG1 + i));
      const box = await st.openMailbox('INBOX');
      const many = Array.from({ length: 20 }, (_, i) => `keyword${i}`);
      await box.updateFlags([2], 'add', many);
      await box.close();
      await st.close();
      await deleteIndex(u, opts);
      const st2 = await openUserStorage(u, opts);
      const box2 = await st2.openMailbox('INBOX');
      assert.deepEqual(box2.messages().map((m) => m.uid), [1, 2, 3]);
      assert.deepEqual([...box2.messages()[1]!.flags].sort(), [...many].sort());
      for (let i = 0; i < 3; i++) assert.equal((await (await box2.openMessage(i + 1)).read()).toString(), crlf(MSG1 + i));
      await box2.close();
      await st2.close();
    } finally {
      await st.close();
    }
  });

  test('copy, move and expunge (rewrite keeps UIDs, UIDVALIDITY and the last UID)', async () => {
    const u = newUser();
    const st = await openUserStorage(u, opts);
    try {
      await st.createMailbox('Archive');
      for (let i = 0; i < 4; i++) await st.save('INBOX', Buffer.from(MSG1 + i));
      const box = await st.openMailbox('INBOX');
      await box.updateFlags([2], 'add', ['\\Seen', 'Kw']);
      const c = await box.copy([1, 2], 'Archive');
      assert.deepEqual(c.destUids, [1, 2]);
      const m = await box.move([4], 'Archive');
      assert.deepEqual(m.destUids, [3]);
      let sync = await box.sync();
      assert.deepEqual(sync.expunged, [{ seq: 4, uid: 4 }]);
      await box.updateFlags([1], 'add', ['\\Deleted']);
      assert.deepEqual(await box.expunge(), [1]);
      sync = await box.sync();
      assert.deepEqual(sync.expunged, [{ seq: 1, uid: 1 }]);
      assert.deepEqual(box.messages().map((x) => x.uid), [2, 3]);
      assert.equal((await (await box.openMessage(3)).read()).toString(), crlf(MSG1 + '2'));
      await box.close();
      const arch = await st.openMailbox('Archive');
      assert.deepEqual(arch.messages().map((x) => [x.uid, x.flags]), [[1, []], [2, ['\\Seen', 'Kw']], [3, []]]);
      assert.equal((await (await arch.openMessage(3)).read()).toString(), crlf(MSG1 + '3'));
      await arch.close();
      // expunging everything leaves Dovecot's pseudo message holding UIDVALIDITY and the last UID
      const uv = (await st.status('INBOX')).uidValidity;
      const box3 = await st.openMailbox('INBOX');
      await box3.updateFlags([2, 3], 'add', ['\\Deleted']);
      await box3.expunge();
      await box3.close();
      assert.match(await readFile(inboxOf(u), 'latin1'), /^From MAILER_DAEMON .*\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n/s);
      await st.close();
      await deleteIndex(u, opts);
      const st2 = await openUserStorage(u, opts);
      const status = await st2.status('INBOX');
      assert.equal(status.messages, 0);
      assert.equal(status.uidValidity, uv);
      assert.equal(status.uidNext, 5);
      await st2.close();
    } finally {
      await st.close();
    }
  });

  test('folders: files under the root, parents as directories, rename with children, delete, .subscriptions', async () => {
    const u = newUser();
    const st = await openUserStorage(u, opts);
    try {
      assert.equal(st.separator, '/');
      await st.createMailbox('Work/Projects');
      await st.createMailbox('Entwürfe', { specialUse: '\\Drafts' });
      await assert.rejects(st.createMailbox('Work/Projects'), (e: unknown) => e instanceof StorageError && e.code === 'EXISTS');
      await assert.rejects(st.createMailbox('Entwürfe/Sub'), (e: unknown) => e instanceof StorageError && e.code === 'BADNAME');
      await st.save('Work/Projects', Buffer.from(MSG1));
      await st.subscribe('Work/Projects');
      assert.ok((await stat(join(rootOf(u), 'Work', 'Projects'))).isFile());
      assert.ok((await stat(join(rootOf(u), 'Entw&APw-rfe'))).isFile());
      assert.equal(await readFile(join(rootOf(u), '.subscriptions'), 'utf8'), 'V\t2\n\nWork\tProjects\n');
      let list = await st.listMailboxes();
      assert.deepEqual(list.map((m) => m.name).sort(), ['Entwürfe', 'INBOX', 'Work', 'Work/Projects'].sort());
      assert.equal(list.find((m) => m.name === 'Work')!.hasChildren, true);
      const uv = (await st.status('Work/Projects')).uidValidity;
      await st.renameMailbox('Work', 'Job');
      list = await st.listMailboxes();
      assert.deepEqual(list.map((m) => m.name).sort(), ['Entwürfe', 'INBOX', 'Job', 'Job/Projects'].sort());
      const moved = await st.status('Job/Projects');
      assert.equal(moved.messages, 1);
      assert.equal(moved.uidValidity, uv);
      assert.deepEqual(await st.listSubscriptions(), ['Job/Projects']);
      await st.deleteMailbox('Job/Projects');
      await assert.rejects(st.status('Job/Projects'), (e: unknown) => e instanceof StorageError && e.code === 'NOTFOUND');
      await assert.rejects(st.deleteMailbox('INBOX'), (e: unknown) => e instanceof StorageError && e.code === 'PERM');
      await st.save('INBOX', Buffer.from(MSG2));
      await st.renameMailbox('INBOX', 'Old');
      assert.equal((await st.status('INBOX')).messages, 0);
      assert.equal((await st.status('Old')).messages, 1);
      for (const bad of ['..', 'a/../b', '.hidden', 'x\0y', '', 'a//b', '~root', '/lead', 'Box.lock']) {
        await assert.rejects(st.createMailbox(bad), (e: unknown) => e instanceof StorageError && e.code === 'BADNAME', `accepted ${JSON.stringify(bad)}`);
      }
      assert.ok(!(await readdir(rootOf(u))).some((f) => /\.roost-(save|rewrite)/.test(f)), 'no temp files left behind');
    } finally {
      await st.close();
    }
  });

  test('two sessions see each other through events and sync', async () => {
    const u = newUser();
    const st1 = await openUserStorage(u, opts);
    const st2 = await openUserStorage(u, opts);
    try {
      await st1.save('INBOX', Buffer.from(MSG1));
      const a = await st1.openMailbox('INBOX');
      const b = await st2.openMailbox('INBOX');
      let ev = waitForChanges(b, 'save by another storage');
      await st1.save('INBOX', Buffer.from(MSG2));
      await ev;
      let s = await b.sync();
      assert.deepEqual(s.added.map((m) => m.uid), [2]);
      ev = waitForChanges(b, 'flag change');
      await a.updateFlags([1], 'add', ['\\Seen']);
      await ev;
      s = await b.sync();
      assert.deepEqual(s.flagsChanged.map((f) => [f.seq, f.flags]), [[1, ['\\Seen']]]);
      await a.updateFlags([1], 'add', ['\\Deleted']);
      ev = waitForChanges(b, 'expunge');
      await a.expunge();
      await ev;
      s = await b.sync();
      assert.deepEqual(s.expunged, [{ seq: 1, uid: 1 }]);
      await assert.rejects(b.openMessage(1), (e: unknown) => e instanceof StorageError && e.code === 'EXPUNGED');
      assert.equal((await (await b.openMessage(2)).read()).toString(), MSG2);
      await a.close();
      await b.close();
    } finally {
      await st1.close();
      await st2.close();
    }
  });

  test('mail appended by an outside program (cat >> mbox) shows up as an event, gets the next UID written back', async () => {
    const u = newUser();
    const st = await openUserStorage(u, opts);
    try {
      await st.save('INBOX', Buffer.from(MSG1));
      const box = await st.openMailbox('INBOX');
      const ev = waitForChanges(box, 'outside append');
      await appendFile(inboxOf(u), 'From someone@example.org  Mon Nov  2 10:00:00 2026\nSubject: outside\n\nhi\n>From x\n\n');
      await ev;
      const s = await box.sync();
      assert.deepEqual(s.added.map((m) => m.uid), [2]);
      assert.equal(s.added[0]!.size, 'Subject: outside\r\n\r\nhi\r\n>From x\r\n'.length);
      assert.equal((await (await box.openMessage(2)).read()).toString(), 'Subject: outside\r\n\r\nhi\r\n>From x\r\n');
      assert.match(await readFile(inboxOf(u), 'latin1'), /Subject: outside\nX-UID: 2\n/);
      await box.close();
      await appendFile(inboxOf(u), 'From someone@example.org  Mon Nov  2 10:00:00 2026\nSubject: outside 2\n\nhi\n\n');
      assert.equal((await st.status('INBOX')).messages, 3);
    } finally {
      await st.close();
    }
  });

  test('deleted index is rebuilt with identical UIDs', async () => {
    const u = newUser();
    let st = await openUserStorage(u, opts);
    await st.createMailbox('Box');
    for (let i = 0; i < 5; i++) await st.save('Box', Buffer.from(MSG1 + i));
    let box = await st.openMailbox('Box');
    await box.updateFlags([2, 4], 'add', ['\\Deleted']);
    await box.updateFlags([3], 'add', ['\\Seen', 'Later']);
    await box.expunge();
    await box.close();
    const before_ = await st.status('Box');
    await st.close();
    await rebuildIndex(u, opts);
    st = await openUserStorage(u, opts);
    const after_ = await st.status('Box');
    assert.equal(after_.uidValidity, before_.uidValidity);
    assert.equal(after_.uidNext, before_.uidNext);
    box = await st.openMailbox('Box');
    assert.deepEqual(box.messages().map((m) => [m.uid, m.flags]), [[1, []], [3, ['\\Seen', 'Later']], [5, []]]);
    await box.close();
    await st.close();
  });

  test('a lock held elsewhere gives TEMP within the bounded time, never a hang', async () => {
    const root = join(dir, 'locking');
    const be = await createMboxUserBackend({ root, inboxPath: join(root, 'inbox'), user: 'locker', lock: { timeoutMs: 400 } });
    try {
      await be.createMailbox('INBOX');
      const store = be.mailboxStore('INBOX');
      await store.scan();
      // a fresh dotlock from a live process (the test runner's parent)
      await writeFile(join(root, 'inbox.lock'), `${process.ppid}:${(await import('node:os')).hostname()}\n`);
      let t0 = Date.now();
      await assert.rejects(store.scan(), (e: unknown) => e instanceof StorageError && e.code === 'TEMP');
      assert.ok(Date.now() - t0 < 5_000);
      await rm(join(root, 'inbox.lock'));
      // an fcntl write lock held by another process
      const holder = await holdFcntlInChild(join(root, 'inbox'));
      try {
        t0 = Date.now();
        await assert.rejects(store.scan(), (e: unknown) => e instanceof StorageError && e.code === 'TEMP');
        assert.ok(Date.now() - t0 < 5_000);
      } finally {
        await holder.stop();
      }
      await assert.rejects(stat(join(root, 'inbox.lock')), 'our dotlock is gone after the failure');
      assert.equal((await store.scan()).messages.length, 0);
      // a stale dotlock (old mtime) is taken over
      await writeFile(join(root, 'inbox.lock'), '');
      const { utimes } = await import('node:fs/promises');
      await utimes(join(root, 'inbox.lock'), new Date(0), new Date(0));
      assert.equal((await store.scan()).messages.length, 0);
    } finally {
      await be.close();
    }
  });

  test('an append torn by a crash is cut away at the next lock; mail appended after it survives', async () => {
    const root = join(dir, 'torn');
    const be = await createMboxUserBackend({ root, inboxPath: join(root, 'inbox'), user: 'torn' });
    try {
      await be.createMailbox('INBOX');
      const store = be.mailboxStore('INBOX');
      const p = await store.prepareSave({ data: Buffer.from(MSG1), flags: [] });
      await store.locked(() => p.commit());
      const good = await readFile(join(root, 'inbox'));
      const ino = (await stat(join(root, 'inbox'), { bigint: true })).ino;
      // what a crash halfway through the next append leaves: the journal and half a message
      await writeFile(join(root, '.inbox.roost-append'), `${ino} ${good.length}\n`);
      await appendFile(join(root, 'inbox'), 'From torn@x  Mon Nov  2 10:00:00 2026\nSubject: torn\nX-UID: 2\nStatus: \nX-Keywords:     \nContent-Length: 500\n\npartial bo');
      // then Postfix appends a complete message
      await appendFile(join(root, 'inbox'), '\nFrom later@x  Mon Nov  2 11:00:00 2026\nSubject: later\n\nlater\n\n');
      const snap = await store.scan();
      assert.deepEqual(snap.messages.map((m) => m.uid), [1, 2]);
      const text = await readFile(join(root, 'inbox'), 'latin1');
      assert.ok(!text.includes('Subject: torn') && !text.includes('partial bo'), 'the torn message is gone');
      assert.ok(text.startsWith(good.toString('latin1').replace('0000000001', '0000000002')), 'the good message is intact');
      assert.equal((await (await store.open(snap.messages[1]!)).read()).toString(), 'Subject: later\r\n\r\nlater\r\n');
    } finally {
      await be.close();
    }
  });
});
