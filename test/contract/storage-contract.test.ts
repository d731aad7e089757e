// The storage contract, written once and run through src/storage/api.ts against Maildir++, Maildir LAYOUT=fs and mbox:
// save, flags, keywords, copy, move, expunge, mailbox list operations, quota, concurrent sessions, outside deliveries, rebuild.
import { test, describe, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, appendFile, readFile, readdir, rename as fsRename, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { openUserStorage, rebuildIndex, deleteIndex, type StorageOptions, type MailUserInfo, type MailboxSession, type ChangesEvent } from '../../src/storage/api.js';
import { crlf, isCode, withStorage } from './storage-helpers.js';

/** How a message format keeps mailboxes, takes outside deliveries and counts quota. */
interface StoreFormat {
  /** Whether `path` holds a mailbox as Dovecot keeps one (Maildir: cur/, new/ and tmp/; mbox: a file). */
  isMailbox(path: string): Promise<boolean>;
  /** Delivers a complete message into the mailbox at `path` the way an outside program (MTA, procmail) does. */
  deliverOutside(path: string, message: string): Promise<void>;
  /** The bytes a message counts for in quota: Maildir++ maildirsize counts file sizes, mbox counts RFC822.SIZE. */
  quotaBytes(message: string): number;
  /** The subscriptions file in the store's root (Dovecot's names). */
  subscriptionsFile: string;
}

interface BackendCase {
  name: string;
  /** Mail location for a test's temp dir. */
  location(dir: string): string;
  separator: string;
  /** The root of a user's store (folders, control files). */
  rootOf(dir: string, user: string): string;
  /** Mailbox name -> path under the root where Dovecot keeps it (mUTF-7 on disk). */
  paths: Record<string, string>;
  /** A mailbox may hold messages and children at once (Maildir); an mbox is a file or a directory, never both. */
  dualUse: boolean;
  format: StoreFormat;
}

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

const maildir: StoreFormat = {
  isMailbox: async (path) => (await isDir(join(path, 'cur'))) && (await isDir(join(path, 'new'))) && (await isDir(join(path, 'tmp'))),
  // as an MTA delivers: written to tmp/, then renamed into new/
  async deliverOutside(path, message) {
    const name = `${Math.floor(Date.now() / 1000)}.outside${Math.random().toString(36).slice(2)}.testhost`;
    await writeFile(join(path, 'tmp', name), message);
    await fsRename(join(path, 'tmp', name), join(path, 'new', name));
  },
  quotaBytes: (message) => Buffer.byteLength(message),
  subscriptionsFile: 'subscriptions',
};

const mbox: StoreFormat = {
  isMailbox: async (path) => (await stat(path).catch(() => undefined))?.isFile() ?? false,
  // as `cat >> mbox` or an MDA without locking: a From_ line, the message, the separating empty line
  deliverOutside: (path, message) => appendFile(path, `From someone@example.org  Mon Nov  2 10:00:00 2026\n${message}\n`),
  quotaBytes: (message) => Buffer.byteLength(crlf(message)),
  subscriptionsFile: '.subscriptions',
};

const BACKENDS: BackendCase[] = [
  {
    name: 'maildir++',
    location: (dir) => `maildir:${dir}/mail/%u/Maildir`,
    separator: '.',
    rootOf: (dir, user) => join(dir, 'mail', user, 'Maildir'),
    paths: { INBOX: '.', 'A.B': '.A.B', Entwürfe: '.Entw&APw-rfe' },
    dualUse: true,
    format: maildir,
  },
  {
    name: 'maildir LAYOUT=fs',
    location: (dir) => `maildir:${dir}/mail/%u/Maildir:LAYOUT=fs`,
    separator: '/',
    rootOf: (dir, user) => join(dir, 'mail', user, 'Maildir'),
    paths: { INBOX: '.', 'A/B': 'A/B', Entwürfe: 'Entw&APw-rfe' },
    dualUse: true,
    format: maildir,
  },
  {
    name: 'mbox',
    location: (dir) => `mbox:${dir}/mail/%u:INBOX=${dir}/mail/%u/inbox`,
    separator: '/',
    rootOf: (dir, user) => join(dir, 'mail', user),
    paths: { INBOX: 'inbox', 'A/B': 'A/B', Entwürfe: 'Entw&APw-rfe' },
    dualUse: false,
    format: mbox,
  },
];

// Lines starting with "From " and ">From " in the body, and LF line ends: every store must give them back as sent.
const MSG1 = 'From: a@example.org\nTo: b@example.org\nSubject: one\n\nHello\nWorld\nFrom the start\n>From quoted\n';
const MSG2 = 'From: c@example.org\r\nSubject: two\r\n\r\nBody two\r\n';

function waitForChanges(session: MailboxSession, what: string): Promise<ChangesEvent> {
  return Promise.race([
    once(session, 'changes').then(([e]) => e as ChangesEvent),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no 'changes' event within 15 s: ${what}`)), 15_000).unref()),
  ]);
}

const sorted = (flags: string[]) => [...flags].sort();

async function readAll(box: MailboxSession, uid: number): Promise<string> {
  return (await (await box.openMessage(uid)).read()).toString();
}

for (const backend of BACKENDS) {
  describe(`storage contract: ${backend.name}`, () => {
    const sep = backend.separator;
    const { format } = backend;

    /** A fresh temp dir for this test (removed after it) with one user in it. */
    async function fresh(t: TestContext, extra: Partial<MailUserInfo> = {}) {
      const dir = await mkdtemp(join(tmpdir(), 'roost-contract-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const opts: StorageOptions = { dataDir: join(dir, 'data'), defaultMailLocation: backend.location(dir), fsync: true };
      const user: MailUserInfo = { user: 'alice', ...extra };
      const root = backend.rootOf(dir, user.user);
      return { opts, user, root, pathOf: (mailbox: string) => join(root, backend.paths[mailbox]!) };
    }


    test('save is durable, numbered, sized in CRLF, dated; every byte range reads back as sent', async (t) => {
      const { opts, user } = await fresh(t);
      await withStorage(user, opts, async (st) => {
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
          const msgs = box.messages();
          assert.deepEqual(msgs.map((m) => m.uid), [1, 2]);
          assert.equal(msgs[0]!.size, crlf(MSG1).length);
          assert.equal(msgs[0]!.internalDate, date.getTime());
          assert.deepEqual(msgs[1]!.flags, ['\\Seen']);
          const content = await box.openMessage(1);
          assert.equal((await content.read()).toString(), crlf(MSG1));
          // ranges of the CRLF form: each end (around every line end) from the start and from three bytes before it
          for (let end = 0; end <= crlf(MSG1).length + 1; end++) {
            for (const start of [0, Math.max(0, end - 3)]) {
              const chunks: Buffer[] = [];
              for await (const c of content.stream(start, end)) chunks.push(c as Buffer);
              assert.equal(Buffer.concat(chunks).toString(), crlf(MSG1).slice(start, end), `stream(${start}, ${end})`);
            }
          }
          assert.equal(await readAll(box, 2), MSG2);
          assert.deepEqual([...box.recentUids()].sort(), [1, 2]);
        } finally {
          await box.close();
        }
        const box2 = await st.openMailbox('INBOX');
        assert.equal(box2.recentUids().size, 0, 'a second session does not get \\Recent again');
        await box2.close();
      });
    });

    test('a message of several read chunks streams the right bytes for ranges within, across and past chunk ends', async (t) => {
      const { opts, user } = await fresh(t);
      // 700 KiB of lines of many lengths, some sent with CRLF: the stored form spans three 256 KiB read chunks.
      const lines: string[] = ['Subject: chunks', ''];
      for (let i = 0; lines.join('\n').length < 700 * 1024; i++) lines.push(`${i % 7 === 0 ? '.' : ''}line ${i}${'x'.repeat(i % 97)}${i % 3 === 0 ? '\r' : ''}`);
      const text = lines.join('\n');
      await withStorage(user, opts, async (st) => {
        await st.save('INBOX', Buffer.from(text));
        const box = await st.openMailbox('INBOX');
        try {
          const expected = crlf(text);
          const content = await box.openMessage(1);
          assert.equal(content.size, expected.length);
          const ranges: Array<[number, number]> = [[0, Infinity], [0, 100], [262_000, 263_000], [262_143, 524_289], [500_000, expected.length + 10]];
          for (const [start, end] of ranges) {
            const chunks: Buffer[] = [];
            for await (const c of content.stream(start, end)) chunks.push(c as Buffer);
            assert.ok(Buffer.concat(chunks).equals(Buffer.from(expected.slice(start, end))), `stream(${start}, ${end})`);
          }
        } finally {
          await box.close();
        }
      });
    });

    test('readFramed gives the CRLF message with the room asked for around it, small and large, in any order of reads', async (t) => {
      const { opts, user, pathOf } = await fresh(t);
      // Over 128 KiB, so Maildir reads it the streamed way; lines starting with dots and no final line end.
      const large = `Subject: large\n\n${'.a line of forty-three bytes and a dot first\n'.repeat(4000)}last line`;
      await withStorage(user, opts, async (st) => {
        await st.save('INBOX', Buffer.from(MSG1));
        await st.save('INBOX', Buffer.from(large));
        const box = await st.openMailbox('INBOX');
        try {
          for (const [uid, text] of [[1, crlf(MSG1)], [2, crlf(large)]] as const) {
            const framedFirst = await (await box.openMessage(uid)).readFramed(7, 3);
            assert.equal(framedFirst.length, 7 + text.length + 3);
            assert.equal(framedFirst.subarray(7, 7 + text.length).toString(), text);
            // After a partial read, and read() after readFramed(): the same bytes each time.
            const content = await box.openMessage(uid);
            // Prefixes read first (one without a line end) keep their bytes when the whole message is converted after.
            const prefixes: Array<[number, Buffer[]]> = [[10, []], [20, []]];
            for (const [end, chunks] of prefixes) for await (const c of content.stream(0, end)) chunks.push(c as Buffer);
            assert.equal((await content.readFramed(0, 0)).toString(), text);
            assert.equal((await content.read()).toString(), text);
            for (const [end, chunks] of prefixes) assert.equal(Buffer.concat(chunks).toString(), text.slice(0, end), `prefix of ${end} bytes after the whole read`);
          }
          if (format === maildir) {
            // A file rewritten behind the index (longer, then shorter than its record says): its bytes as they are now.
            const files = await readdir(join(pathOf('INBOX'), 'cur'));
            for (const uid of [1, 2]) {
              const file = join(pathOf('INBOX'), 'cur', files.find((f) => f.startsWith(box.messages()[uid - 1]!.guid))!);
              for (const body of [`${await readFile(file, 'latin1')}one more line\n`, 'Subject: short\n\nx\n']) {
                await writeFile(file, body);
                const framed = await (await box.openMessage(uid)).readFramed(5, 5);
                assert.equal(framed.subarray(5, framed.length - 5).toString(), crlf(body), `uid ${uid}, ${body.length} bytes`);
              }
            }
          }
        } finally {
          await box.close();
        }
      });
    });

    test("a session's UIDNEXT follows its view: a save it has not been told of moves it only at the next sync", async (t) => {
      const { opts, user } = await fresh(t);
      await withStorage(user, opts, async (st) => {
        await st.save('INBOX', Buffer.from(MSG1));
        const box = await st.openMailbox('INBOX');
        try {
          assert.equal(box.uidNext(), 2);
          await st.save('INBOX', Buffer.from(MSG2));
          assert.equal(box.uidNext(), 2, 'the new message is not in the view yet, so neither is its UID');
          const sync = await box.sync();
          assert.deepEqual(sync.added.map((m) => m.uid), [2]);
          assert.equal(box.uidNext(), 3);
        } finally {
          await box.close();
        }
      });
    });

    test('flags and keywords, all or nothing, with modseq; the store keeps them across a fresh index', async (t) => {
      const { opts, user } = await fresh(t);
      await withStorage(user, opts, async (st) => {
        await st.save('INBOX', Buffer.from(MSG1));
        await st.save('INBOX', Buffer.from(MSG2));
        const box = await st.openMailbox('INBOX');
        const before = box.highestModseq();
        const r = await box.updateFlags([1, 2], 'add', ['\\Flagged', '$Forwarded', 'Work']);
        assert.equal(r.updated.length, 2);
        assert.ok(r.updated.every((x) => x.modseq > before));
        assert.deepEqual(box.messages()[0]!.flags, ['\\Flagged', '$Forwarded', 'Work']);
        await box.updateFlags([1], 'remove', ['Work']);
        await box.updateFlags([2], 'replace', ['\\Seen', '\\Answered', '\\Draft', '\\Deleted']);
        const cond = await box.updateFlags([1], 'add', ['\\Answered'], { unchangedSince: before });
        assert.deepEqual(cond.modified, [1], 'UNCHANGEDSINCE below the modseq changes nothing');
        await assert.rejects(box.updateFlags([1, 2], 'add', ['Fine', 'bad keyword']), isCode('BADNAME'));
        assert.deepEqual(box.messages().map((m) => sorted(m.flags)), [['$Forwarded', '\\Flagged'], ['\\Answered', '\\Deleted', '\\Draft', '\\Seen']], 'a refused change changes nothing');
        await box.close();
      });
      await deleteIndex(user, opts);
      await withStorage(user, opts, async (st) => {
        const box = await st.openMailbox('INBOX');
        assert.deepEqual(box.messages().map((m) => sorted(m.flags)), [['$Forwarded', '\\Flagged'], ['\\Answered', '\\Deleted', '\\Draft', '\\Seen']]);
        await box.close();
      });
    });

    test('copy, move and expunge; expunging everything keeps UIDVALIDITY and UIDNEXT across a fresh index', async (t) => {
      const { opts, user } = await fresh(t);
      let uidValidity = 0;
      await withStorage(user, opts, async (st) => {
        await st.createMailbox('Archive');
        for (let i = 0; i < 4; i++) await st.save('INBOX', Buffer.from(MSG1 + i));
        const box = await st.openMailbox('INBOX');
        await box.updateFlags([2], 'add', ['\\Seen', 'Kw']);
        const c = await box.copy([1, 2], 'Archive');
        assert.deepEqual(c.srcUids, [1, 2]);
        assert.deepEqual(c.destUids, [1, 2]);
        assert.equal(c.uidValidity, (await st.status('Archive')).uidValidity);
        const m = await box.move([4], 'Archive');
        assert.deepEqual(m.destUids, [3]);
        let sync = await box.sync();
        assert.deepEqual(sync.expunged, [{ seq: 4, uid: 4 }]);
        await box.updateFlags([1], 'add', ['\\Deleted']);
        assert.deepEqual(await box.expunge(), [1]);
        sync = await box.sync();
        assert.deepEqual(sync.expunged, [{ seq: 1, uid: 1 }]);
        assert.deepEqual(box.messages().map((x) => x.uid), [2, 3]);
        assert.equal(await readAll(box, 3), crlf(MSG1 + '2'));
        const arch = await st.openMailbox('Archive');
        assert.deepEqual(arch.messages().map((x) => [x.uid, x.flags]), [[1, []], [2, ['\\Seen', 'Kw']], [3, []]]);
        assert.equal(await readAll(arch, 3), crlf(MSG1 + '3'));
        await assert.rejects(arch.copy([1], 'Nope'), isCode('NOTFOUND'));
        await arch.close();
        await box.updateFlags([2, 3], 'add', ['\\Deleted']);
        assert.deepEqual(await box.expunge(), [2, 3]);
        await box.close();
        uidValidity = (await st.status('INBOX')).uidValidity;
      });
      await deleteIndex(user, opts);
      await withStorage(user, opts, async (st) => {
        const status = await st.status('INBOX');
        assert.equal(status.messages, 0);
        assert.equal(status.uidValidity, uidValidity);
        assert.equal(status.uidNext, 5);
        assert.equal((await st.status('Archive')).messages, 3);
      });
    });

    test('create, list, rename with children, delete, subscribe, special-use', async (t) => {
      const { opts, user } = await fresh(t);
      await withStorage(user, opts, async (st) => {
        assert.equal(st.separator, sep);
        await st.createMailbox(`Work${sep}Projects`);
        if (backend.dualUse) await st.createMailbox('Work');
        await st.createMailbox('Entwürfe', { specialUse: '\\Drafts' });
        await assert.rejects(st.createMailbox(`Work${sep}Projects`), isCode('EXISTS'));
        await st.save(`Work${sep}Projects`, Buffer.from(MSG1));
        await st.subscribe(`Work${sep}Projects`);
        let list = await st.listMailboxes();
        assert.deepEqual(list.map((m) => m.name).sort(), ['Entwürfe', 'INBOX', 'Work', `Work${sep}Projects`].sort());
        assert.equal(list.find((m) => m.name === 'Work')!.hasChildren, true);
        assert.equal(list.find((m) => m.name === 'Work')!.noSelect, !backend.dualUse);
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
        await assert.rejects(st.status(`Job${sep}Projects`), isCode('NOTFOUND'));
        await assert.rejects(st.deleteMailbox('INBOX'), isCode('PERM'));
        // INBOX rename moves the messages and leaves INBOX empty (RFC 9051 6.3.6).
        await st.save('INBOX', Buffer.from(MSG2));
        await st.renameMailbox('INBOX', 'Old');
        assert.equal((await st.status('INBOX')).messages, 0);
        assert.equal((await st.status('Old')).messages, 1);
        await st.ensureDefaultMailboxes();
        list = await st.listMailboxes();
        assert.equal(list.find((m) => m.name === 'Sent')!.specialUse, '\\Sent');
        assert.equal(list.find((m) => m.name === 'Trash')!.specialUse, '\\Trash');
      });
    });

    test('bad mailbox names are refused', async (t) => {
      const { opts, user } = await fresh(t);
      await withStorage(user, opts, async (st) => {
        const bad = ['..', `a${sep}..${sep}b`, '.hidden', `a${sep}.b`, 'x\0y', 'a'.repeat(600), '', `a${sep}${sep}b`, '~root', `${sep}lead`];
        if (sep !== '/') bad.push('a/b', '../../etc');
        for (const name of bad) await assert.rejects(st.createMailbox(name), isCode('BADNAME'), `accepted ${JSON.stringify(name)}`);
        assert.deepEqual((await st.listMailboxes()).map((m) => m.name), ['INBOX']);
      });
    });

    test('quota from the userdb rule is enforced on save and copy, and counts every mailbox and outside deliveries', async (t) => {
      const small = 'Subject: s\n\nsmall\n';
      const tiny = 'S: t\n\nx\n';
      const s = format.quotaBytes(small);
      const medium = 'Subject: m\n\n' + 'x'.repeat(3 * s - 20) + '\n'; // over 2s and under 3s: two of them do not fit in 6s with two small ones
      const big = 'Subject: big\n\n' + 'x'.repeat(4 * s) + '\n';
      const { opts, user, pathOf } = await fresh(t, { quotaRule: `*:bytes=${6 * s}:messages=4` });
      await withStorage(user, opts, async (st) => {
        await st.createMailbox('Other');
        await st.save('INBOX', Buffer.from(small));
        await st.save('Other', Buffer.from(small));
        let q = await st.quota();
        assert.deepEqual(q, { limits: { storage: 6 * s, messages: 4 }, bytes: 2 * s, messages: 2 }, 'usage counts every mailbox');
        // the byte limit, on save and on copy
        await assert.rejects(st.save('INBOX', Buffer.from(big)), isCode('NOQUOTA'));
        await st.save('Other', Buffer.from(medium));
        const other = await st.openMailbox('Other');
        await assert.rejects(other.copy([2], 'INBOX'), isCode('NOQUOTA'), 'a copy over the byte limit');
        await other.updateFlags([2], 'add', ['\\Deleted']);
        await other.expunge();
        // the message limit, on save and on copy
        await st.save('INBOX', Buffer.from(small));
        await st.save('INBOX', Buffer.from(tiny));
        q = await st.quota();
        assert.deepEqual([q!.messages, q!.bytes], [4, 3 * s + format.quotaBytes(tiny)]);
        await assert.rejects(st.save('INBOX', Buffer.from(tiny)), isCode('NOQUOTA'));
        await assert.rejects(other.copy([1], 'INBOX'), isCode('NOQUOTA'), 'a copy over the message limit');
        await other.close();
        const box = await st.openMailbox('INBOX');
        assert.deepEqual(box.messages().map((m) => m.uid), [1, 2, 3], 'nothing refused was stored');
        await box.updateFlags([1], 'add', ['\\Deleted']);
        await box.expunge();
        await box.close();
        q = await st.quota();
        assert.deepEqual([q!.messages, q!.bytes], [3, 2 * s + format.quotaBytes(tiny)], 'an expunge frees quota');
        await st.save('INBOX', Buffer.from(tiny));
        // mail an outside program delivered counts once usage is recounted from the store
        await format.deliverOutside(pathOf('INBOX'), small);
        q = await st.recalculateQuota();
        assert.deepEqual([q!.messages, q!.bytes], [5, 3 * s + 2 * format.quotaBytes(tiny)]);
        await assert.rejects(st.save('INBOX', Buffer.from(tiny)), isCode('NOQUOTA'));
      });
    });

    test('two sessions see each other through events and sync', async (t) => {
      const { opts, user } = await fresh(t);
      const st1 = await openUserStorage(user, opts);
      const st2 = await openUserStorage(user, opts);
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
        assert.equal(b.messages()[0]!.uid, 1, 'the other session sees message 1 until it syncs (RFC 9051 7.5.1)');
        s = await b.sync();
        assert.deepEqual(s.expunged, [{ seq: 1, uid: 1 }]);
        await assert.rejects(b.openMessage(1), isCode('EXPUNGED'));
        assert.equal(await readAll(b, 2), MSG2);
        await a.close();
        await b.close();
      } finally {
        await st1.close();
        await st2.close();
      }
    });

    test("sessions of one user changing subscriptions and special uses at once lose none of each other's changes", async (t) => {
      const { opts, user } = await fresh(t);
      const sessions = await Promise.all(Array.from({ length: 6 }, () => openUserStorage(user, opts)));
      try {
        const uses = ['\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash'];
        // Each session reads the shared list files and writes them back with its own change, all at the same time.
        await Promise.all(sessions.map(async (st, i) => {
          await st.createMailbox(`Box${i}`, { specialUse: uses[i] });
          await st.subscribe(`Box${i}`);
        }));
        await Promise.all(sessions.map((st, i) => (i % 2 ? st.ensureDefaultMailboxes() : st.unsubscribe(`Box${i}`))));
        const list = await sessions[0]!.listMailboxes();
        for (let i = 0; i < sessions.length; i++) assert.equal(list.find((m) => m.name === `Box${i}`)?.specialUse, uses[i], `Box${i}`);
        assert.deepEqual((await sessions[0]!.listSubscriptions()).sort(), ['Box1', 'Box3', 'Box5']);
      } finally {
        await Promise.all(sessions.map((st) => st.close()));
      }
    });

    test('a login that finds the default mailboxes in place writes nothing to the store, not even a lock file', async (t) => {
      const { opts, user, root } = await fresh(t);
      await withStorage(user, opts, async (st) => {
        await st.ensureDefaultMailboxes();
        await st.createMailbox('Old');
        await st.renameMailbox('Old', 'New'); // a rename makes the next login look at the defaults again
        const seen: string[] = [];
        const watcher = watch(root, (_event, name) => seen.push(String(name)));
        t.after(() => watcher.close());
        await st.ensureDefaultMailboxes();
        // Events arrive in order: once the marker's is in, any of the check's would have come before it.
        const marked = new Promise<void>((resolve) => watcher.on('change', (_event, name) => name === 'marker' && resolve()));
        await writeFile(join(root, 'marker'), '');
        await marked;
        assert.deepEqual(seen.filter((name) => name !== 'marker'), []);
      });
    });

    test("a subscriptions file Dovecot is changing (its dotlock taken) is changed only after Dovecot's rename", async (t) => {
      const { opts, user, root } = await fresh(t);
      await withStorage(user, opts, async (st) => {
        await st.createMailbox('Lists');
        const file = join(root, format.subscriptionsFile);
        // Dovecot writes the new list into the lock file itself, then renames it over the old one.
        await writeFile(`${file}.lock`, 'V\t2\n\nDovecot\n');
        let subscribed = false;
        const subscribing = st.subscribe('Lists').then(() => (subscribed = true));
        // A window for a write that ignores the lock; a correct one waits whatever the window.
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(subscribed, false, 'SUBSCRIBE waited for the lock');
        await fsRename(`${file}.lock`, file);
        await subscribing;
        assert.deepEqual((await st.listSubscriptions()).sort(), ['Dovecot', 'Lists']);
      });
    });

    test('mail delivered by an outside program shows up as an event and at sync, and in STATUS with no session open', async (t) => {
      const { opts, user, pathOf } = await fresh(t);
      await withStorage(user, opts, async (st) => {
        await st.save('INBOX', Buffer.from(MSG1));
        const box = await st.openMailbox('INBOX');
        const ev = waitForChanges(box, 'outside delivery');
        await format.deliverOutside(pathOf('INBOX'), 'Subject: outside\n\nhi\n>From x\nFrom y\n');
        await ev;
        const s = await box.sync();
        assert.deepEqual(s.added.map((m) => m.uid), [2]);
        assert.equal(s.added[0]!.size, 'Subject: outside\r\n\r\nhi\r\n>From x\r\nFrom y\r\n'.length);
        assert.equal(await readAll(box, 2), 'Subject: outside\r\n\r\nhi\r\n>From x\r\nFrom y\r\n');
        await box.close();
        await format.deliverOutside(pathOf('INBOX'), 'Subject: outside 2\n\nhi\n');
        const status = await st.status('INBOX');
        assert.equal(status.messages, 3);
        assert.equal(status.uidNext, 4);
      });
    });

    test('a deleted index is rebuilt with identical UIDs, flags and UIDNEXT, and a forward modseq', async (t) => {
      const { opts, user } = await fresh(t);
      const before = await withStorage(user, opts, async (st) => {
        await st.createMailbox('Box');
        for (let i = 0; i < 5; i++) await st.save('Box', Buffer.from(MSG1 + i));
        const box = await st.openMailbox('Box');
        await box.updateFlags([2, 4], 'add', ['\\Deleted']);
        await box.updateFlags([3], 'add', ['\\Seen', 'Later']);
        await box.expunge();
        await box.close();
        return st.status('Box');
      });
      const expected = [[1, []], [3, ['\\Seen', 'Later']], [5, []]];
      await deleteIndex(user, opts);
      await withStorage(user, opts, async (st) => {
        const after = await st.status('Box');
        assert.equal(after.uidValidity, before.uidValidity);
        assert.equal(after.uidNext, before.uidNext);
        assert.equal(after.messages, 3);
        assert.ok(after.highestModseq > before.highestModseq);
        const box = await st.openMailbox('Box');
        assert.deepEqual(box.messages().map((m) => [m.uid, m.flags]), expected);
        assert.equal(await readAll(box, 5), crlf(MSG1 + '4'));
        await box.close();
      });
      await rebuildIndex(user, opts);
      await withStorage(user, opts, async (st) => {
        const box = await st.openMailbox('Box');
        assert.deepEqual(box.messages().map((m) => [m.uid, m.flags]), expected);
        await box.close();
      });
    });

    test('store files are where Dovecot expects them', async (t) => {
      const { opts, user, root, pathOf } = await fresh(t);
      await withStorage(user, opts, async (st) => {
        const nested = `A${sep}B`;
        await st.createMailbox(nested);
        await st.createMailbox('Entwürfe');
        await st.subscribe(nested);
        for (const name of ['INBOX', nested, 'Entwürfe']) assert.ok(await format.isMailbox(pathOf(name)), `${name} at ${backend.paths[name]}`);
        assert.equal(await readFile(join(root, format.subscriptionsFile), 'utf8'), 'V\t2\n\nA\tB\n');
      });
    });
  });
}
