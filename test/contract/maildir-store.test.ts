// What only the Maildir backend does, beside the shared storage contract: Dovecot's file names (base,S=,W= and the :2,
// info with flag letters and keyword letters from dovecot-keywords), new/ to cur/ on first sight, dovecot-uidlist records.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { renameSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { openUserStorage, type StorageOptions } from '../../src/storage/api.js';
import { indexInStepWithStore } from './storage-helpers.js';
import { waitFor } from '../helpers/wait-for.js';

const MSG = 'Subject: a\n\nx\n'; // 14 bytes on disk, RFC822.SIZE 17
const BASE = /^\d+\.M\d+P\d+\.[^/:,]+,S=14,W=17$/;

test('messages are named and moved as Dovecot does; flags and keywords are letters of the :2, info', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-maildir-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'Maildir');
  const opts: StorageOptions = { dataDir: join(dir, 'data'), defaultMailLocation: `maildir:${root}`, fsync: true };
  const st = await openUserStorage({ user: 'alice' }, opts);
  try {
    await st.save('INBOX', Buffer.from(MSG));
    await st.save('INBOX', Buffer.from(MSG), { flags: ['\\Seen', 'Work'] });
    // unflagged mail waits in new/ without info; flagged mail goes to cur/ with it
    const [unflagged, ...moreNew] = await readdir(join(root, 'new'));
    assert.deepEqual(moreNew, []);
    assert.match(unflagged!, BASE);
    const [flagged, ...moreCur] = await readdir(join(root, 'cur'));
    assert.deepEqual(moreCur, []);
    assert.match(flagged!, /:2,Sa$/);
    const flaggedBase = flagged!.slice(0, -':2,Sa'.length);
    assert.match(flaggedBase, BASE);
    assert.equal(await readFile(join(root, 'dovecot-keywords'), 'utf8'), '0 Work\n');
    const uidlist = (await readFile(join(root, 'dovecot-uidlist'), 'utf8')).split('\n');
    assert.match(uidlist[0]!, new RegExp(`^3 V${(await st.status('INBOX')).uidValidity} N\\d+ G[0-9a-f]{32}$`));
    assert.deepEqual(uidlist.slice(1), [`1 :${unflagged}`, `2 :${flaggedBase}`, '']);

    // a session sees the new message: it moves to cur/ with an empty info
    const box = await st.openMailbox('INBOX');
    assert.deepEqual(await readdir(join(root, 'new')), []);
    assert.deepEqual((await readdir(join(root, 'cur'))).sort(), [`${unflagged}:2,`, flagged].sort());
    await box.updateFlags([1], 'add', ['\\Flagged', '\\Answered', 'Later', 'Work']);
    await box.updateFlags([2], 'replace', ['\\Seen', '\\Draft', '\\Deleted', '\\Flagged', '\\Answered']);
    assert.equal(await readFile(join(root, 'dovecot-keywords'), 'utf8'), '0 Work\n1 Later\n');
    assert.deepEqual((await readdir(join(root, 'cur'))).sort(), [`${unflagged}:2,FRab`, `${flaggedBase}:2,DFRST`].sort());
    await box.close();
  } finally {
    await st.close();
  }
});

test("a session reads a message from its own view's record after another session renamed or expunged the file", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-maildir-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const opts: StorageOptions = { dataDir: join(dir, 'data'), defaultMailLocation: `maildir:${join(dir, 'Maildir')}`, fsync: false };
  const st = await openUserStorage({ user: 'alice' }, opts);
  try {
    const large = `Subject: large\n\n${'y'.repeat(199)}\n`.repeat(1000); // over the size read with one blocking read
    await st.save('INBOX', Buffer.from(MSG), { flags: ['\\Seen'] });
    await st.save('INBOX', Buffer.from(large), { flags: ['\\Seen'] });
    await st.save('INBOX', Buffer.from(MSG), { flags: ['\\Seen'] });
    const reader = await st.openMailbox('INBOX');
    const writer = await st.openMailbox('INBOX');
    await writer.updateFlags([1, 2], 'add', ['\\Flagged']); // both files renamed (:2,FS); the reader's view still has :2,S
    await writer.updateFlags([3], 'add', ['\\Deleted']);
    await writer.expunge([3]);
    assert.equal((await (await reader.openMessage(1)).read()).toString(), MSG.replaceAll('\n', '\r\n'));
    // The reader's own flag change renames the file again; its view follows the new name.
    await reader.updateFlags([1], 'add', ['\\Answered']);
    assert.equal((await (await reader.openMessage(1)).read()).toString(), MSG.replaceAll('\n', '\r\n'));
    assert.equal((await (await reader.openMessage(2)).read()).toString(), large.replaceAll('\n', '\r\n'));
    await assert.rejects(reader.openMessage(3), { code: 'EXPUNGED' });
    await reader.close();
    await writer.close();
  } finally {
    await st.close();
  }
});

/** A temp dir (removed after the test) with an empty Maildir made by hand, as an outside program leaves one. */
async function bareMaildir(t: TestContext): Promise<{ root: string; opts: StorageOptions }> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-maildir-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(root, sub), { recursive: true });
  return { root, opts: { dataDir: join(dir, 'data'), defaultMailLocation: `maildir:${root}`, fsync: false } };
}

test("a first scan's own dovecot-uidlist write is in the stamp it records: the next open does not scan the mailbox again", async (t) => {
  // A mailbox copied in from elsewhere: files in cur/ and no dovecot-uidlist, untouched for an hour.
  const { root, opts } = await bareMaildir(t);
  for (let i = 0; i < 3; i++) await writeFile(join(root, 'cur', `1700000000.M${i}P1.old,S=14,W=17:2,S`), MSG);
  const anHourAgo = new Date(Date.now() - 3_600_000);
  for (const sub of ['cur', 'new']) await utimes(join(root, sub), anHourAgo, anHourAgo);
  const st = await openUserStorage({ user: 'alice' }, opts);
  try {
    const box = await st.openMailbox('INBOX');
    assert.equal(box.messages().length, 3);
    assert.match(await readFile(join(root, 'dovecot-uidlist'), 'utf8'), /\n3 :1700000000\.M2P1\.old,S=14,W=17\n$/);
    assert.ok(await indexInStepWithStore(box), 'the index is in step with the store after its first scan');
    await box.close();
  } finally {
    await st.close();
  }
});

test('a delivery that leaves new/ with the time it had at the last scan (the same clock tick) still reaches open sessions', async (t) => {
  const { root, opts } = await bareMaildir(t);
  // new/ changed "just now", at a whole second the test can give it again after the delivery.
  const tick = new Date(Math.ceil(Date.now() / 1000) * 1000);
  await utimes(join(root, 'new'), tick, tick);
  const st = await openUserStorage({ user: 'alice' }, opts);
  try {
    const box = await st.openMailbox('INBOX');
    assert.equal(box.messages().length, 0);
    // A timer that keeps the process up (the store's own timers do not) and fails the test if nothing comes.
    let timer: NodeJS.Timeout | undefined;
    const changes = new Promise<void>((resolve, reject) => {
      box.once('changes', () => resolve());
      timer = setTimeout(() => reject(new Error('the delivery never reached the session')), 15_000);
    }).finally(() => clearTimeout(timer));
    // An outside delivery, and new/'s time as the scan saw it: its stamp is what the index recorded.
    await writeFile(join(root, 'tmp', '1700000000.M1P1.outside'), MSG);
    renameSync(join(root, 'tmp', '1700000000.M1P1.outside'), join(root, 'new', '1700000000.M1P1.outside'));
    utimesSync(join(root, 'new'), tick, tick);
    await changes;
    const synced = await box.sync();
    assert.deepEqual(synced.added.map((m) => m.uid), [1]);
    await box.close();
  } finally {
    await st.close();
  }
});

test('the confirmation a second after an own change lists the directories and, finding the files the index holds, scans nothing', async (t) => {
  const { opts } = await bareMaildir(t);
  const st = await openUserStorage({ user: 'alice' }, opts);
  try {
    for (let i = 0; i < 3; i++) await st.save('INBOX', Buffer.from(MSG));
    const box = await st.openMailbox('INBOX');
    const { shared } = box as unknown as { shared: { name: string; index: { state(name: string): { stampUnconfirmedSince?: number } }; store: { scan: (...args: unknown[]) => Promise<unknown> } } };
    let scans = 0;
    const scan = shared.store.scan.bind(shared.store);
    shared.store.scan = (...args) => (scans++, scan(...args));
    await box.updateFlags([1], 'add', ['\\Flagged']); // renames a file: the stamp after it waits for confirmation
    assert.ok(shared.index.state(shared.name).stampUnconfirmedSince, 'unconfirmed after the own change');
    await waitFor('the confirmation', () => !shared.index.state(shared.name).stampUnconfirmedSince, 15_000);
    assert.equal(scans, 0, 'confirmed from the listing, without a scan');
    await box.close();
  } finally {
    await st.close();
  }
});
