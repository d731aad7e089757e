// Session views of one mailbox in one process: the index's cached view is carried forward by this process's writes and
// shared by sessions, never changed in place; a sync reports exactly what another session added, flagged and expunged.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openUserStorage, type StorageOptions } from '../../../src/storage/api.js';
import { UserIndex } from '../../../src/index/user-index.js';

let dir: string;
let opts: StorageOptions;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-session-view-'));
  opts = { dataDir: join(dir, 'data'), defaultMailLocation: `maildir:${join(dir, 'Maildir')}`, fsync: false };
});
after(() => rm(dir, { recursive: true, force: true }));

test('a sync sees the other session\'s saves, flag changes and expunges; views handed out earlier stay as they were', async () => {
  const st = await openUserStorage({ user: 'view' }, opts);
  try {
    for (const n of [1, 2, 3]) await st.save('INBOX', Buffer.from(`Subject: ${n}\r\n\r\nbody ${n}\r\n`));
    const a = await st.openMailbox('INBOX');
    const b = await st.openMailbox('INBOX');
    assert.deepEqual(b.messages().map((m) => m.uid), [1, 2, 3]);
    const bBefore = b.messages();
    const flagsOf2 = bBefore[1]!.flags;

    await a.updateFlags([2], 'add', ['\\Flagged', 'Work']);
    assert.deepEqual(a.keywordsInUse(), ['Work']);
    assert.deepEqual(a.messages()[1]!.flags.slice().sort(), ['Work', '\\Flagged']);
    // b's array and objects are untouched until b syncs.
    assert.equal(b.messages(), bBefore);
    assert.deepEqual(bBefore[1]!.flags, flagsOf2);

    let sync = await b.sync();
    assert.deepEqual(sync.flagsChanged.map((c) => [c.seq, c.uid, [...c.flags].sort()]), [[2, 2, ['Work', '\\Flagged']]]);
    assert.deepEqual(sync.expunged, []);
    assert.deepEqual(sync.added, []);
    assert.deepEqual(b.keywordsInUse(), ['Work']);

    await st.save('INBOX', Buffer.from('Subject: 4\r\n\r\nbody 4\r\n'));
    await a.updateFlags([1, 3], 'add', ['\\Deleted']);
    await a.expunge();
    sync = await b.sync();
    assert.deepEqual(sync.expunged, [{ seq: 3, uid: 3 }, { seq: 1, uid: 1 }], 'highest sequence number first');
    assert.deepEqual(sync.added.map((m) => m.uid), [4]);
    assert.deepEqual(b.messages().map((m) => m.uid), [2, 4]);
    assert.equal(b.seqOf(4), 2);
    assert.equal(b.seqOf(3), undefined);
    assert.deepEqual(bBefore.map((m) => m.uid), [1, 2, 3], 'an array handed out before is never changed');

    // A third session opened now sees the same state as b, from the view carried forward by the writes.
    const c = await st.openMailbox('INBOX');
    assert.deepEqual(c.messages().map((m) => [m.uid, [...m.flags].sort()]), b.messages().map((m) => [m.uid, [...m.flags].sort()]));
    assert.equal(c.highestModseq(), b.highestModseq());
    // A session whose own change was the only one has nothing left to sync.
    await c.updateFlags([4], 'add', ['\\Seen']);
    const own = await c.sync();
    assert.deepEqual([own.expunged, own.added, own.flagsChanged], [[], [], []]);
    await Promise.all([a.close(), b.close(), c.close()]);
  } finally {
    await st.close();
  }
});

test('the view built after a restart equals the one carried forward by writes', async () => {
  const st = await openUserStorage({ user: 'view' }, opts);
  let carried: Array<[number, string[], number]>;
  try {
    const box = await st.openMailbox('INBOX');
    await box.updateFlags([2], 'remove', ['\\Flagged']);
    await box.sync();
    carried = box.messages().map((m) => [m.uid, [...m.flags].sort(), m.modseq]);
    await box.close();
  } finally {
    await st.close();
  }
  await UserIndex.closeIdle(); // the index is read again from disk, as after a restart
  const again = await openUserStorage({ user: 'view' }, opts);
  try {
    const box = await again.openMailbox('INBOX');
    assert.deepEqual(box.messages().map((m) => [m.uid, [...m.flags].sort(), m.modseq]), carried);
    await box.close();
  } finally {
    await again.close();
  }
});
