// What only the mbox backend does, beside the shared storage contract: Dovecot's file format on disk (From_ lines, X-IMAPbase,
// X-UID, Status, X-Status, X-Keywords, the folder-data pseudo message), padding overflow, folder rules, locking, torn appends.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, readFile, appendFile, writeFile, stat, readdir, utimes } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { deleteIndex, type StorageOptions, type MailUserInfo } from '../../src/storage/api.js';
import { crlf, indexInStepWithStore, isCode, withStorage } from './storage-helpers.js';
import { createMboxUserBackend } from '../../src/storage/backends/mbox/mbox-user.js';
import type { MailboxStore } from '../../src/storage/backends/backend.js';
import type { MboxLockOptions } from '../../src/storage/backends/mbox/lock.js';

const MSG1 = 'From: a@example.org\nTo: b@example.org\nSubject: one\n\nHello\nWorld\nFrom the start\n>From quoted\n';
const MSG2 = 'From: c@example.org\r\nSubject: two\r\n\r\nBody two\r\n';

/** A fresh temp dir for this test (removed after it) holding one mbox user: root <dir>/mail, INBOX <dir>/mail/inbox. */
async function fresh(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'roost-mbox-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'mail');
  const opts: StorageOptions = { dataDir: join(dir, 'data'), defaultMailLocation: `mbox:${root}:INBOX=${root}/inbox`, fsync: true };
  const user: MailUserInfo = { user: 'alice' };
  return { dir, root, inbox: join(root, 'inbox'), opts, user };
}


/** The backend's INBOX store of a fresh mbox user (no index layer above it), closed after `fn`. */
async function withInboxStore(t: TestContext, user: string, fn: (store: MailboxStore, root: string) => Promise<void>, lock?: Partial<MboxLockOptions>): Promise<void> {
  const { root } = await fresh(t);
  const be = await createMboxUserBackend({ root, inboxPath: join(root, 'inbox'), user, lock });
  try {
    await be.createMailbox('INBOX');
    await fn(be.mailboxStore('INBOX'), root);
  } finally {
    await be.close();
  }
}

/** Saves one message straight into the store, as a commit under its lock does. */
async function saveLocked(store: MailboxStore, text: string): Promise<void> {
  const prepared = await store.prepareSave({ data: Buffer.from(text), flags: [] });
  await store.locked(() => prepared.commit());
}

/** A child process holding a POSIX (fcntl) write lock on a file until stopped. */
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

test('a save is written in Dovecot mbox format: dated From_ line, X-IMAPbase, X-UID, Status; body From lines as they are', async (t) => {
  const { opts, user, inbox } = await fresh(t);
  await withStorage(user, opts, async (st) => {
    const r1 = await st.save('INBOX', Buffer.from(MSG1), { internalDate: new Date('2020-02-03T04:05:06Z') });
    await st.save('INBOX', Buffer.from(MSG2), { flags: ['\\Seen'] });
    const text = await readFile(inbox, 'latin1');
    assert.match(text, /^From alice@\S+  Mon Feb 03 0\d:05:06 2020\nFrom: a@example.org\n/);
    assert.match(text, new RegExp(`X-IMAPbase: ${r1.uidValidity} 0000000002\nX-UID: 1\nStatus: O?\n`));
    assert.match(text, /\nX-UID: 2\nStatus: RO?\n/);
    assert.ok(text.includes('\nFrom the start\n>From quoted\n'), 'body From lines are left as they are');
  });
});

test('flags and keywords are kept in Status, X-Status and X-Keywords', async (t) => {
  const { opts, user, inbox } = await fresh(t);
  await withStorage(user, opts, async (st) => {
    await st.save('INBOX', Buffer.from(MSG1));
    await st.save('INBOX', Buffer.from(MSG2));
    const box = await st.openMailbox('INBOX');
    await box.updateFlags([1], 'add', ['\\Flagged', '$Forwarded']);
    await box.updateFlags([2], 'replace', ['\\Seen', '\\Answered', '\\Draft', '\\Deleted']);
    await box.close();
    const text = await readFile(inbox, 'latin1');
    assert.match(text, /X-Status: F\nX-Keywords: \$Forwarded +\n/);
    assert.match(text, /Status: RO?\nX-Status: ATD\nX-Keywords: +\n/);
  });
});

test('many keywords overflow the padding: the file is rewritten and nothing is lost', async (t) => {
  const { opts, user } = await fresh(t);
  const many = Array.from({ length: 20 }, (_, i) => `keyword${i}`);
  await withStorage(user, opts, async (st) => {
    for (let i = 0; i < 3; i++) await st.save('INBOX', Buffer.from(MSG1 + i));
    const box = await st.openMailbox('INBOX');
    await box.updateFlags([2], 'add', many);
    await box.close();
  });
  await deleteIndex(user, opts);
  await withStorage(user, opts, async (st) => {
    const box = await st.openMailbox('INBOX');
    assert.deepEqual(box.messages().map((m) => m.uid), [1, 2, 3]);
    assert.deepEqual([...box.messages()[1]!.flags].sort(), [...many].sort());
    for (let i = 0; i < 3; i++) assert.equal((await (await box.openMessage(i + 1)).read()).toString(), crlf(MSG1 + i));
    await box.close();
  });
});

test('expunging every message leaves the pseudo message that holds UIDVALIDITY and the last UID', async (t) => {
  const { opts, user, inbox } = await fresh(t);
  await withStorage(user, opts, async (st) => {
    await st.save('INBOX', Buffer.from(MSG1));
    const uidValidity = (await st.status('INBOX')).uidValidity;
    const box = await st.openMailbox('INBOX');
    await box.updateFlags([1], 'add', ['\\Deleted']);
    await box.expunge();
    await box.close();
    const text = await readFile(inbox, 'latin1');
    assert.match(text, /^From MAILER_DAEMON .*\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n/s);
    assert.match(text, new RegExp(`\nX-IMAP: ${uidValidity} 0000000001\n`));
  });
});

test('mail appended by an outside program gets its X-UID written back into the file', async (t) => {
  const { opts, user, inbox } = await fresh(t);
  await withStorage(user, opts, async (st) => {
    await st.save('INBOX', Buffer.from(MSG1));
    await appendFile(inbox, 'From someone@example.org  Mon Nov  2 10:00:00 2026\nSubject: outside\n\nhi\n\n');
    assert.equal((await st.status('INBOX')).messages, 2);
    assert.match(await readFile(inbox, 'latin1'), /\nSubject: outside\nX-UID: 2\n/);
  });
});

test("a first scan's own X-IMAPbase and X-UID writes are in the stamp it records: the next open does not parse the file again", async (t) => {
  const { opts, user, root, inbox } = await fresh(t);
  // An mbox from another program: no X-IMAPbase, no X-UID.
  await mkdir(root, { recursive: true });
  let mbox = '';
  for (let i = 0; i < 3; i++) mbox += `From someone@example.org  Mon Nov  2 10:00:00 2026\nSubject: m${i}\n\nbody ${i}\n\n`;
  await writeFile(inbox, mbox);
  await withStorage(user, opts, async (st) => {
    const box = await st.openMailbox('INBOX');
    assert.equal(box.messages().length, 3);
    assert.match(await readFile(inbox, 'latin1'), /\nSubject: m2\nX-UID: 3\n/);
    assert.ok(await indexInStepWithStore(box), 'the index is in step with the file after its first scan');
    await box.close();
  });
});

test('folders: a mailbox file holds no children, names ending in .lock are refused, no temp files stay behind', async (t) => {
  const { opts, user, root } = await fresh(t);
  await withStorage(user, opts, async (st) => {
    await st.createMailbox('Box');
    await assert.rejects(st.createMailbox('Box/Sub'), isCode('BADNAME'));
    await assert.rejects(st.createMailbox('Box.lock'), isCode('BADNAME'));
    await assert.rejects(st.createMailbox('Dir/Box.lock'), isCode('BADNAME'));
    await st.createMailbox('Dir/Inner');
    await assert.rejects(st.renameMailbox('Dir', 'Box/Dir'), isCode('BADNAME'));
    await st.save('Box', Buffer.from(MSG1));
    const box = await st.openMailbox('Box');
    await box.copy([1], 'Dir/Inner');
    await box.updateFlags([1], 'add', ['\\Deleted']);
    await box.expunge();
    await box.close();
    assert.deepEqual((await st.listMailboxes()).map((m) => [m.name, m.noSelect]), [['INBOX', false], ['Box', false], ['Dir', true], ['Dir/Inner', false]]);
    const files = [...(await readdir(root)), ...(await readdir(join(root, 'Dir'))).map((f) => join('Dir', f))];
    assert.deepEqual(files.filter((f) => /roost-(save|rewrite)/.test(f)), [], 'no temp files left behind');
    for (const journal of files.filter((f) => f.endsWith('.roost-append'))) assert.equal((await stat(join(root, journal))).size, 0, `${journal} is empty after complete appends`);
  });
});

test('a lock held elsewhere gives TEMP within the bounded time, never a hang; a stale dotlock is taken over', async (t) => {
  await withInboxStore(
    t,
    'locker',
    async (store, root) => {
      await store.scan();
      // a fresh dotlock from a live process (the test runner's parent)
      await writeFile(join(root, 'inbox.lock'), `${process.ppid}:${hostname()}\n`);
      let t0 = Date.now();
      await assert.rejects(store.scan(), isCode('TEMP'));
      assert.ok(Date.now() - t0 < 5_000);
      await rm(join(root, 'inbox.lock'));
      // an fcntl write lock held by another process
      const holder = await holdFcntlInChild(join(root, 'inbox'));
      try {
        t0 = Date.now();
        await assert.rejects(store.scan(), isCode('TEMP'));
        assert.ok(Date.now() - t0 < 5_000);
      } finally {
        await holder.stop();
      }
      await assert.rejects(stat(join(root, 'inbox.lock')), 'our dotlock is gone after the failure');
      assert.equal((await store.scan()).messages.length, 0);
      // a stale dotlock (old mtime) is taken over
      await writeFile(join(root, 'inbox.lock'), '');
      await utimes(join(root, 'inbox.lock'), new Date(0), new Date(0));
      assert.equal((await store.scan()).messages.length, 0);
    },
    { timeoutMs: 400 },
  );
});

test('work started under the lock that runs after its release takes the lock again, after the holder of the moment', async (t) => {
  await withInboxStore(t, 'later', async (store, root) => {
    const lockFile = join(root, 'inbox.lock');
    const events: string[] = [];
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let later!: Promise<boolean>;
    let lateWorkStarted!: () => void;
    const lateWorkStarts = new Promise<void>((resolve) => (lateWorkStarted = resolve));
    await store.locked(async () => {
      // A continuation made under the lock (as a timer or an fs event handler started by an own change) carries the
      // lock's async context with it.
      later = gate.then(() =>
        store.locked(async () => {
          lateWorkStarted();
          events.push('later');
          return existsSync(lockFile);
        }),
      );
    });
    assert.equal(existsSync(lockFile), false, 'the dotlock is gone after the release');
    let holding!: () => void;
    const holds = new Promise<void>((resolve) => (holding = resolve));
    const holder = store.locked(async () => {
      events.push('holder in');
      holding();
      // Long enough for late work that wrongly counts as holding the lock to run beside this holder.
      await Promise.race([lateWorkStarts, new Promise((resolve) => setTimeout(resolve, 300))]);
      events.push('holder out');
    });
    await holds;
    openGate();
    await holder;
    assert.equal(await later, true, 'the dotlock is held while the late work runs');
    assert.deepEqual(events, ['holder in', 'holder out', 'later']);
  });
});

test('a message opened before another session expunges it is read whole, the last one and one in the middle', async (t) => {
  await withInboxStore(t, 'reader', async (store, root) => {
    const texts = ['Subject: one\n\n' + 'first\n'.repeat(20), 'Subject: two\n\n' + 'second\n'.repeat(20), 'Subject: three\n\n' + 'third\n'.repeat(20)];
    for (const text of texts) await saveLocked(store, text);
    const [, second, third] = (await store.scan()).messages;
    // the last message: expunging it alone would cut the file short under the reader
    const lastOpen = await store.open(third!);
    await store.expunge([third!]);
    assert.equal((await lastOpen.read()).toString(), crlf(texts[2]!));
    // one in the middle: the file is rewritten into a new one
    const middleOpen = await store.open(second!);
    await store.expunge([second!]);
    assert.equal((await middleOpen.read()).toString(), crlf(texts[1]!));
    assert.deepEqual((await store.scan()).messages.map((m) => m.uid), [1]);
    assert.doesNotMatch(await readFile(join(root, 'inbox'), 'latin1'), /Subject: (two|three)/);
  });
});

test('a message read once, then expunged by another session, reads whole again (a FETCH reads the header, then a section)', async (t) => {
  await withInboxStore(t, 'twice', async (store) => {
    const texts = ['Subject: one\n\n' + 'first\n'.repeat(20), 'Subject: two\n\n' + 'second\n'.repeat(20)];
    for (const text of texts) await saveLocked(store, text);
    const [, second] = (await store.scan()).messages;
    const content = await store.open(second!);
    const head: Buffer[] = [];
    for await (const c of content.stream(0, 14)) head.push(c as Buffer);
    assert.equal(Buffer.concat(head).toString(), 'Subject: two\r\n');
    // the last message: with no reader counted, the expunge would cut the file short under the second read
    await store.expunge([second!]);
    assert.equal((await content.read()).toString(), crlf(texts[1]!));
  });
});

test('a message opened and never read gives its descriptor back once collected, so the last message is then cut off in place', async (t) => {
  setFlagsFromString('--expose-gc');
  const collectGarbage = runInNewContext('gc') as () => void;
  await withInboxStore(t, 'unread', async (store, root) => {
    for (const text of ['Subject: one\n\nfirst\n', 'Subject: two\n\nsecond\n']) await saveLocked(store, text);
    const [first, second] = (await store.scan()).messages;
    const inoBefore = (await stat(join(root, 'inbox'))).ino;
    // Opened and dropped unread, as a FETCH answered from the cache after all leaves it.
    await (async () => {
      await store.open(first!);
    })();
    const shared = (store as unknown as { shared: { current(): Promise<{ readersActive: boolean }> } }).shared;
    // The give-back runs in a task after a collection: collect and yield until it has run (bounded).
    for (let i = 0; i < 200 && (await shared.current()).readersActive; i++) {
      collectGarbage();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal((await shared.current()).readersActive, false, 'the unread content still holds the descriptor');
    await store.expunge([second!]);
    assert.equal((await stat(join(root, 'inbox'))).ino, inoBefore, 'with no reader left the file is cut, not rewritten');
    assert.deepEqual((await store.scan()).messages.map((m) => m.uid), [1]);
  });
});

test('an append torn by a crash is cut away at the next lock; mail appended after it survives', async (t) => {
  await withInboxStore(t, 'torn', async (store, root) => {
    await saveLocked(store, MSG1);
    const good = await readFile(join(root, 'inbox'));
    const ino = (await stat(join(root, 'inbox'), { bigint: true })).ino;
    // what a crash halfway through the next append leaves: the journal and half a message
    await writeFile(join(root, '.inbox.roost-append'), `${ino} ${good.length}\n`);
    await appendFile(join(root, 'inbox'), 'From torn@x  Mon Nov  2 10:00:00 2026\nSubject: torn\nX-UID: 2\nStatus: \nX-Keywords:     \nContent-Length: 500\n\npartial bo');
    // then an MTA appends a complete message
    await appendFile(join(root, 'inbox'), '\nFrom later@x  Mon Nov  2 11:00:00 2026\nSubject: later\n\nlater\n\n');
    const snap = await store.scan();
    assert.deepEqual(snap.messages.map((m) => m.uid), [1, 2]);
    const text = await readFile(join(root, 'inbox'), 'latin1');
    assert.ok(!text.includes('Subject: torn') && !text.includes('partial bo'), 'the torn message is gone');
    assert.ok(text.startsWith(good.toString('latin1').replace('0000000001', '0000000002')), 'the good message is intact');
    assert.equal((await (await store.open(snap.messages[1]!)).read()).toString(), 'Subject: later\r\n\r\nlater\r\n');
  });
});
