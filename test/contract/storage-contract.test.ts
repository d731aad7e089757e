// The storage contract: every backend + layout behind src/storage/api.ts must pass these (save, flags, keywords,
// copy, move, expunge, rename, delete, subscribe, quota, concurrent sessions, outside deliveries, index rebuild).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, rename as fsRename, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { openUserStorage, rebuildIndex, deleteIndex, StorageError, type StorageOptions, type MailUserInfo, type MailboxSession, type ChangesEvent } from '../../src/storage/api.js';

export interface BackendCase {
  name: string;
  /** Mail location template; {dir} is replaced by the test's temp dir. */
  location: string;
  separator: string;
  /** Drops a complete message into the store the way an outside program would (Maildir: tmp then rename into new/). */
  dropOutside(root: string, message: string): Promise<void>;
}

export const BACKENDS: BackendCase[] = [
  {
    name: 'maildir++',
    location: 'maildir:{dir}/mail/%u/Maildir',
    separator: '.',
    dropOutside: dropIntoMaildirNew,
  },
  {
    name: 'maildir LAYOUT=fs',
    location: 'maildir:{dir}/mail/%u/Maildir:LAYOUT=fs',
    separator: '/',
    dropOutside: dropIntoMaildirNew,
  },
];

async function dropIntoMaildirNew(root: string, message: string): Promise<void> {
  const name = `${Math.floor(Date.now() / 1000)}.outside${Math.random().toString(36).slice(2)}.testhost`;
  await writeFile(join(root, 'tmp', name), message);
  await fsRename(join(root, 'tmp', name), join(root, 'new', name));
}

const MSG1 = 'From: a@example.org\nTo: b@example.org\nSubject: one\n\nHello\nWorld\n';
const MSG2 = 'From: c@example.org\r\nSubject: two\r\n\r\nBody two\r\n';

function waitForChanges(session: MailboxSession, what: string): Promise<ChangesEvent> {
  return Promise.race([
    once(session, 'changes').then(([e]) => e as ChangesEvent),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no 'changes' event within 15 s: ${what}`)), 15_000).unref()),
  ]);
}

for (const backend of BACKENDS) {
  describe(`storage contract: ${backend.name}`, () => {
    let dir: string;
    let opts: StorageOptions;
    let n = 0;
    const newUser = (extra: Partial<MailUserInfo> = {}): MailUserInfo => ({ user: `user${++n}`, ...extra });
    const rootOf = (u: MailUserInfo) => join(dir, 'mail', u.user, 'Maildir');
    const sep = backend.separator;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'roost-contract-'));
      opts = { dataDir: join(dir, 'data'), defaultMailLocation: backend.location.replace('{dir}', dir), fsync: true };
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('save is durable, numbered, sized in CRLF, dated', async () => {
      const u = newUser();
      const st = await openUserStorage(u, opts);
      try {
        const date = new Date('2020-02-03T04:05:06Z');
        const r1 = await st.save('INBOX', Buffer.from(MSG1), { internalDate: date });
        const r2 = await st.save('inbox', Buffer.from(MSG2), { flags: ['\\Seen'] });
        assert.equal(r1.uid, 1);
        assert.equal(r2.uid, 2);
        assert.equal(r1.uidValidity, r2.uidValidity);
        const status = await st.status('INBOX');
        assert.equal(status.messages, 2);
        assert.equal(status.unseen, 1);
        assert.equal(status.uidNext, 3);
        const crlf1 = Buffer.from(MSG1.replace(/\n/g, '\r\n'));
        assert.equal(status.size, crlf1.length + Buffer.byteLength(MSG2));
        const box = await st.openMailbox('INBOX');
        try {
          const msgs = box.messages();
          assert.deepEqual(msgs.map((m) => m.uid), [1, 2]);
          assert.equal(msgs[0]!.size, crlf1.length);
          assert.equal(msgs[0]!.internalDate.getTime(), date.getTime());
          assert.deepEqual(msgs[1]!.flags, ['\\Seen']);
          const content = await box.openMessage(1);
          assert.deepEqual(await content.read(), crlf1);
          const chunks: Buffer[] = [];
          for await (const c of content.stream(6, 20)) chunks.push(c as Buffer);
          assert.deepEqual(Buffer.concat(chunks), crlf1.subarray(6, 20));
          assert.deepEqual([...box.recentUids()].sort(), [1, 2]);
        } finally {
          await box.close();
        }
        // A second session does not get \Recent again.
        const box2 = await st.openMailbox('INBOX');
        assert.equal(box2.recentUids().size, 0);
        await box2.close();
      } finally {
        await st.close();
      }
    });

    test('flags and keywords, all or nothing, with modseq', async () => {
      const u = newUser();
      const st = await openUserStorage(u, opts);
      try {
        await st.save('INBOX', Buffer.from(MSG1));
        await st.save('INBOX', Buffer.from(MSG2));
        const box = await st.openMailbox('INBOX');
        const before = box.highestModseq();
        const r = await box.updateFlags([1, 2], 'add', ['\\Flagged', '$Forwarded', 'Work']);
        assert.equal(r.updated.length, 2);
        assert.ok(r.updated.every((x) => x.modseq > before));
        assert.deepEqual(box.messages()[0]!.flags, ['\\Flagged', '$Forwarded', 'Work']);
        await box.updateFlags([1], 'remove', ['Work']);
        await box.updateFlags([2], 'replace', ['\\Seen']);
        const cond = await box.updateFlags([1], 'add', ['\\Answered'], { unchangedSince: before });
        assert.deepEqual(cond.modified, [1]);
        await assert.rejects(box.updateFlags([1], 'add', ['bad keyword']), (e: unknown) => e instanceof StorageError && e.code === 'BADNAME');
        await box.close();
        // What the store holds survives a fresh index.
        await st.close();
        await deleteIndex(u, opts);
        const st2 = await openUserStorage(u, opts);
        const box2 = await st2.openMailbox('INBOX');
        assert.deepEqual(box2.messages().map((m) => m.flags), [['\\Flagged', '$Forwarded'], ['\\Seen']]);
        await box2.close();
        await st2.close();
      } finally {
        await st.close();
      }
    });

    test('copy, move and expunge', async () => {
      const u = newUser();
      const st = await openUserStorage(u, opts);
      try {
        await st.createMailbox('Archive');
        for (let i = 0; i < 3; i++) await st.save('INBOX', Buffer.from(MSG1 + i));
        const box = await st.openMailbox('INBOX');
        await box.updateFlags([2], 'add', ['\\Seen', 'Kw']);
        const c = await box.copy([1, 2], 'Archive');
        assert.deepEqual(c.srcUids, [1, 2]);
        assert.deepEqual(c.destUids, [1, 2]);
        assert.equal(c.uidValidity, (await st.status('Archive')).uidValidity);
        const m = await box.move([3], 'Archive');
        assert.deepEqual(m.destUids, [3]);
        const sync = await box.sync();
        assert.deepEqual(sync.expunged, [{ seq: 3, uid: 3 }]);
        assert.equal(box.messages().length, 2);
        await box.updateFlags([1], 'add', ['\\Deleted']);
        assert.deepEqual(await box.expunge(), [1]);
        const s2 = await box.sync();
        assert.deepEqual(s2.expunged, [{ seq: 1, uid: 1 }]);
        assert.deepEqual(box.messages().map((x) => x.uid), [2]);
        await box.close();
        const arch = await st.openMailbox('Archive');
        assert.deepEqual(arch.messages().map((x) => [x.uid, x.flags]), [[1, []], [2, ['\\Seen', 'Kw']], [3, []]]);
        assert.deepEqual((await (await arch.openMessage(3)).read()).toString(), (MSG1 + '2').replace(/\n/g, '\r\n'));
        await assert.rejects(arch.copy([1], 'Nope'), (e: unknown) => e instanceof StorageError && e.code === 'NOTFOUND');
        await arch.close();
      } finally {
        await st.close();
      }
    });

    test('create, list, rename with children, delete, subscribe, special-use', async () => {
      const u = newUser();
      const st = await openUserStorage(u, opts);
      try {
        assert.equal(st.separator, sep);
        await st.createMailbox('Work');
        await st.createMailbox(`Work${sep}Projects`);
        await st.createMailbox('Entwürfe', { specialUse: '\\Drafts' });
        await assert.rejects(st.createMailbox('Work'), (e: unknown) => e instanceof StorageError && e.code === 'EXISTS');
        await st.save(`Work${sep}Projects`, Buffer.from(MSG1));
        await st.subscribe(`Work${sep}Projects`);
        let list = await st.listMailboxes();
        const names = list.map((m) => m.name).sort();
        assert.deepEqual(names, ['Entwürfe', 'INBOX', 'Work', `Work${sep}Projects`].sort());
        assert.equal(list.find((m) => m.name === 'Work')!.hasChildren, true);
        assert.equal(list.find((m) => m.name === 'Entwürfe')!.specialUse, '\\Drafts');
        const uv = (await st.status(`Work${sep}Projects`)).uidValidity;
        await st.renameMailbox('Work', 'Job');
        list = await st.listMailboxes();
        assert.deepEqual(list.map((m) => m.name).sort(), ['Entwürfe', 'INBOX', 'Job', `Job${sep}Projects`].sort());
        const moved = await st.status(`Job${sep}Projects`);
        assert.equal(moved.messages, 1);
        assert.equal(moved.uidValidity, uv);
        assert.deepEqual(await st.listSubscriptions(), [`Job${sep}Projects`]);
        assert.equal(list.find((m) => m.name === `Job${sep}Projects`)!.subscribed, true);
        await st.unsubscribe(`Job${sep}Projects`);
        assert.deepEqual(await st.listSubscriptions(), []);
        await st.deleteMailbox(`Job${sep}Projects`);
        await assert.rejects(st.status(`Job${sep}Projects`), (e: unknown) => e instanceof StorageError && e.code === 'NOTFOUND');
        await assert.rejects(st.deleteMailbox('INBOX'), (e: unknown) => e instanceof StorageError && e.code === 'PERM');
        // INBOX rename moves the messages and leaves INBOX empty.
        await st.save('INBOX', Buffer.from(MSG2));
        await st.renameMailbox('INBOX', 'Old');
        assert.equal((await st.status('INBOX')).messages, 0);
        assert.equal((await st.status('Old')).messages, 1);
        await st.ensureDefaultMailboxes();
        list = await st.listMailboxes();
        assert.equal(list.find((m) => m.name === 'Sent')!.specialUse, '\\Sent');
        assert.equal(list.find((m) => m.name === 'Trash')!.specialUse, '\\Trash');
      } finally {
        await st.close();
      }
    });

    test('bad mailbox names are refused', async () => {
      const st = await openUserStorage(newUser(), opts);
      try {
        const bad_ = ['..', `a${sep}..${sep}b`, '.hidden', `a${sep}.b`, 'x\0y', 'a'.repeat(600), '', `a${sep}${sep}b`, '~root', `${sep}lead`];
        if (sep !== '/') bad_.push('a/b', '../../etc');
        for (const bad of bad_) {
          await assert.rejects(st.createMailbox(bad), (e: unknown) => e instanceof StorageError && e.code === 'BADNAME', `accepted ${JSON.stringify(bad)}`);
        }
      } finally {
        await st.close();
      }
    });

    test('quota is enforced on save and copy', async () => {
      const u = newUser({ quotaRule: '*:bytes=200:messages=3' });
      const st = await openUserStorage(u, opts);
      try {
        await st.save('INBOX', Buffer.from(MSG1));
        await st.save('INBOX', Buffer.from(MSG1));
        await assert.rejects(st.save('INBOX', Buffer.from('Subject: big\n\n' + 'x'.repeat(300))), (e: unknown) => e instanceof StorageError && e.code === 'NOQUOTA');
        await st.save('INBOX', Buffer.from(MSG1));
        await assert.rejects(st.save('INBOX', Buffer.from('a\n')), (e: unknown) => e instanceof StorageError && e.code === 'NOQUOTA');
        const box = await st.openMailbox('INBOX');
        await assert.rejects(box.copy([1], 'INBOX'), (e: unknown) => e instanceof StorageError && e.code === 'NOQUOTA');
        await box.updateFlags([1], 'add', ['\\Deleted']);
        await box.expunge();
        await box.close();
        const q = await st.quota();
        assert.equal(q!.messages, 2);
        assert.equal(q!.bytes, Buffer.byteLength(MSG1) * 2);
        await st.save('INBOX', Buffer.from('a\n'));
        const recalc = await st.recalculateQuota();
        assert.equal(recalc!.messages, 3);
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
        assert.equal(b.messages().length, 1, 'the view changes only at sync');
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
        // b still sees message 1 until it syncs (RFC 9051 7.5.1)
        assert.equal(b.messages()[0]!.uid, 1);
        s = await b.sync();
        assert.deepEqual(s.expunged, [{ seq: 1, uid: 1 }]);
        await assert.rejects(b.openMessage(1), (e: unknown) => e instanceof StorageError && e.code === 'EXPUNGED');
        await a.close();
        await b.close();
      } finally {
        await st1.close();
        await st2.close();
      }
    });

    test('a message dropped into new/ by an outside program shows up as an event and at sync', async () => {
      const u = newUser();
      const st = await openUserStorage(u, opts);
      try {
        await st.save('INBOX', Buffer.from(MSG1));
        const box = await st.openMailbox('INBOX');
        const ev = waitForChanges(box, 'outside delivery');
        await backend.dropOutside(rootOf(u), 'Subject: outside\n\nhi\n');
        await ev;
        const s = await box.sync();
        assert.deepEqual(s.added.map((m) => m.uid), [2]);
        assert.equal(s.added[0]!.size, 'Subject: outside\r\n\r\nhi\r\n'.length);
        assert.equal((await (await box.openMessage(2)).read()).toString(), 'Subject: outside\r\n\r\nhi\r\n');
        await box.close();
        // And without any session open, STATUS notices it too.
        await backend.dropOutside(rootOf(u), 'Subject: outside 2\n\nhi\n');
        assert.equal((await st.status('INBOX')).messages, 3);
      } finally {
        await st.close();
      }
    });

    test('deleted index is rebuilt with identical UIDs and forward modseq', async () => {
      const u = newUser();
      let st = await openUserStorage(u, opts);
      await st.createMailbox('Box');
      for (let i = 0; i < 5; i++) await st.save('Box', Buffer.from(MSG1 + i));
      let box = await st.openMailbox('Box');
      await box.updateFlags([2, 4], 'add', ['\\Deleted']);
      await box.updateFlags([3], 'add', ['\\Seen', 'Later']);
      await box.expunge();
      await box.close();
      const before = await st.status('Box');
      await st.close();
      await deleteIndex(u, opts);
      st = await openUserStorage(u, opts);
      const after_ = await st.status('Box');
      assert.equal(after_.uidValidity, before.uidValidity);
      assert.equal(after_.uidNext, before.uidNext);
      assert.equal(after_.messages, 3);
      assert.ok(after_.highestModseq > before.highestModseq);
      box = await st.openMailbox('Box');
      assert.deepEqual(box.messages().map((m) => [m.uid, m.flags]), [[1, []], [3, ['\\Seen', 'Later']], [5, []]]);
      await box.close();
      await st.close();
      await rebuildIndex(u, opts);
      st = await openUserStorage(u, opts);
      assert.deepEqual((await st.openMailbox('Box')).messages().map((m) => m.uid), [1, 3, 5]);
      await st.close();
    });

    test('store files are where Dovecot expects them', async () => {
      const u = newUser();
      const st = await openUserStorage(u, opts);
      try {
        await st.createMailbox(`A${sep}B`);
        const root = rootOf(u);
        const entries = await readdir(root);
        if (sep === '.') assert.ok(entries.includes('.A.B'));
        else assert.deepEqual((await readdir(join(root, 'A'))).sort(), ['B']);
      } finally {
        await st.close();
      }
    });
  });
}
