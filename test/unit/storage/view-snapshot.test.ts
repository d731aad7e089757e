// The index's view snapshot: a large mailbox's records packed in one value plus the UIDs changed since. After a restart
// the view it gives equals the records read one by one, after flag changes, expunges, new mail and a rewrite.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openUserStorage, type StorageOptions } from '../../../src/storage/api.js';
import { UserIndex, indexDirFor, type MessageRecord } from '../../../src/index/user-index.js';
import { SnapshotColumns, decodeViewSnapshot, encodeViewSnapshot, openViewSnapshot } from '../../../src/index/view-snapshot.js';
import type { MailboxSessionImpl } from '../../../src/storage/mailbox.js';
import type { MessageMeta } from '../../../src/storage/api.js';

let dir: string;
let opts: StorageOptions;
let maildir: string;
const USER = 'snap';
const MESSAGES = 1500;

function dropFile(sub: 'new' | 'cur', n: number, info = ''): void {
  const body = `Subject: message ${n}\r\nMessage-ID: <${n}@snap.test>\r\n\r\nbody ${n}\r\n`;
  writeFileSync(join(maildir, sub, `${1700000000 + n}.M${n}P1.snap.test,S=${body.length}${info}`), body);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-view-snapshot-'));
  maildir = join(dir, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  for (let n = 0; n < MESSAGES; n++) dropFile('cur', n, n % 3 === 0 ? ':2,S' : ':2,');
  opts = { dataDir: join(dir, 'data'), defaultMailLocation: `maildir:${maildir}`, fsync: false };
});
after(() => rm(dir, { recursive: true, force: true }));

/** After a restart (the index closed and opened again): the view loaded from the snapshot and the records one by one. */
async function viewAfterRestart(): Promise<{ loaded: readonly MessageRecord[]; plain: MessageRecord[]; hasSnapshot: boolean; dirty: number }> {
  await UserIndex.closeIdle();
  const index = UserIndex.acquire(indexDirFor(opts.dataDir, USER), false);
  try {
    const loaded = index.cachedRecords('INBOX');
    const plain = index.records('INBOX');
    const dirty = [...index.viewDirty.getKeys({ start: ['INBOX', 0], end: ['INBOX', Number.MAX_SAFE_INTEGER] })].length;
    return { loaded, plain, hasSnapshot: index.views.doesExist('INBOX'), dirty };
  } finally {
    await index.release();
    await UserIndex.closeIdle();
  }
}

const normal = (recs: readonly MessageRecord[]) => recs.map((r) => ({ ...r, flags: [...r.flags].sort(), pop3Uidl: r.pop3Uidl ?? undefined }));

test('snapshot and decode give back the records, including POP3 UIDLs; a string with a NUL is not snapshotted', () => {
  const recs: MessageRecord[] = [
    { uid: 1, key: 'cur/a:2,S', flags: ['\\Seen'], internalDate: 1.7e12, saveDate: 1.7e12 + 5, size: 10, physicalSize: 9, modseq: 17e14, guid: 'g1', pop3Uidl: 'u1' },
    { uid: 7, key: 'cur/b:2,', flags: [], internalDate: 0, saveDate: 1, size: 2 ** 33, physicalSize: 3, modseq: 17e14 + 1, guid: 'ü-g2', pop3Uidl: undefined },
  ];
  assert.deepEqual(decodeViewSnapshot(encodeViewSnapshot(recs)!), recs);
  assert.equal(encodeViewSnapshot([{ ...recs[0]!, key: 'cur/a\0b' }]), undefined);
  assert.equal(encodeViewSnapshot([{ ...recs[0]!, pop3Uidl: '' }]), undefined);
  assert.deepEqual(decodeViewSnapshot(encodeViewSnapshot([])!), []);
  assert.equal(decodeViewSnapshot(Buffer.from('not a snapshot')), undefined);
  // Text that does not hold one set of strings per message: the columns open, the records do not decode.
  const columns = openViewSnapshot(Buffer.concat([encodeViewSnapshot(recs)!, Buffer.from([0])]))!;
  assert.deepEqual([columns.length, columns.lastUid, columns.firstUnseenIndex], [2, 7, 1]);
  assert.equal(columns.decode(), undefined);
});

test('a large mailbox loads the same view from its snapshot as from its records, through changes of every kind', async () => {
  const st = await openUserStorage({ user: USER }, opts);
  try {
    const box = await st.openMailbox('INBOX');
    assert.equal(box.messages().length, MESSAGES);
    await box.close();
  } finally {
    await st.close();
  }
  let view = await viewAfterRestart();
  assert.ok(view.hasSnapshot, 'the first scan wrote a snapshot');
  assert.equal(view.dirty, 0);
  assert.deepEqual(normal(view.loaded), normal(view.plain));

  // Flag changes, an expunge, a save and mail dropped in by another program: noted beside the snapshot.
  const st2 = await openUserStorage({ user: USER }, opts);
  try {
    const box = await st2.openMailbox('INBOX');
    await box.updateFlags([2, 5, 900], 'add', ['\\Flagged', 'Later']);
    await box.updateFlags([10, 11, 12], 'add', ['\\Deleted']);
    await box.expunge();
    await st2.save('INBOX', Buffer.from('Subject: saved\r\n\r\nsaved\r\n'));
    dropFile('new', MESSAGES);
    await box.sync();
    assert.equal(box.messages().length, MESSAGES - 3 + 2);
    await box.close();
  } finally {
    await st2.close();
  }
  view = await viewAfterRestart();
  assert.ok(view.dirty >= 8, `changed UIDs are noted (${view.dirty})`);
  assert.equal(view.loaded.length, MESSAGES - 1);
  assert.deepEqual(normal(view.loaded), normal(view.plain));
  assert.deepEqual([...view.loaded.find((r) => r.uid === 900)!.flags].sort(), ['Later', '\\Flagged']);
  assert.equal(view.loaded.find((r) => r.uid === 11), undefined);

  // More changes than the snapshot's limit: the next load writes a new snapshot and forgets the noted UIDs.
  const st3 = await openUserStorage({ user: USER }, opts);
  try {
    const box = await st3.openMailbox('INBOX');
    await box.updateFlags(box.messages().map((m) => m.uid).slice(0, 1200), 'add', ['\\Answered']);
    await box.close();
  } finally {
    await st3.close();
  }
  view = await viewAfterRestart();
  assert.deepEqual(normal(view.loaded), normal(view.plain));
  view = await viewAfterRestart();
  assert.equal(view.dirty, 0, 'the snapshot was rewritten with the changes in it');
  assert.deepEqual(normal(view.loaded), normal(view.plain));
  assert.equal(view.loaded.filter((r) => r.flags.includes('\\Answered')).length, 1200);
});

test('after a restart a large mailbox opens on its snapshot columns: count, keywords, first unseen and UIDNEXT without a record, then one decode for every session', async () => {
  // A mailbox of its own whose directories changed long ago: its first scan leaves a confirmed stamp.
  const user = 'columns';
  const home = join(dir, 'ColumnsMaildir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(home, sub), { recursive: true });
  for (let n = 0; n < 1200; n++) {
    const body = `Subject: ${n}\r\n\r\nbody\r\n`;
    const info = n < 700 ? ':2,S' : n % 50 === 0 ? ':2,a' : ':2,';
    writeFileSync(join(home, 'cur', `${1700000000 + n}.M${n}P1.columns.test,S=${body.length}${info}`), body);
  }
  writeFileSync(join(home, 'dovecot-keywords'), '0 Project\n');
  const past = new Date(Date.now() - 3600_000);
  for (const sub of ['cur', 'new']) utimesSync(join(home, sub), past, past);
  const columnsOpts = { ...opts, defaultMailLocation: `maildir:${home}` };
  const first = await openUserStorage({ user }, columnsOpts);
  const expected = await (async () => {
    try {
      const box = await first.openMailbox('INBOX');
      const answers = { count: box.messages().length, keywords: box.keywordsInUse(), firstUnseen: box.firstUnseenSeq(), uidNext: box.uidNext() };
      await box.close();
      return answers;
    } finally {
      await first.close();
    }
  })();
  assert.deepEqual(expected, { count: 1200, keywords: ['Project'], firstUnseen: 701, uidNext: 1201 });
  await UserIndex.closeIdle();

  const st = await openUserStorage({ user }, columnsOpts);
  try {
    const a = (await st.openMailbox('INBOX')) as MailboxSessionImpl;
    const b = (await st.openMailbox('INBOX')) as MailboxSessionImpl;
    const columns = a.shared.index.cachedView('INBOX');
    assert.ok(columns instanceof SnapshotColumns, 'the sessions opened on the columns');
    const answers = { count: a.messageCount(), keywords: a.keywordsInUse(), firstUnseen: a.firstUnseenSeq(), uidNext: a.uidNext() };
    assert.equal((await b.sync()).exists, 1200);
    assert.equal(columns.isDecoded, false, 'a SELECT\'s answers and an idle sync decode nothing');
    assert.deepEqual(answers, expected);
    const msgs = a.messages();
    assert.equal(columns.isDecoded, true);
    assert.equal(b.firstUnseenSeq(), 701, 'a session still on the columns another one decoded answers from the records');
    assert.equal(b.messages(), msgs, 'both sessions have the one decoded array');
    assert.equal(a.shared.index.cachedRecords('INBOX'), msgs);
    assert.deepEqual(normal(msgs as readonly MessageRecord[]), normal(a.shared.index.records('INBOX')));
    // A flag change after the decode is carried forward as before.
    await a.updateFlags([701], 'add', ['\\Seen']);
    assert.equal(a.firstUnseenSeq(), 702);
    await a.close();
    await b.close();
  } finally {
    await st.close();
  }
});

/** A Maildir of 1,200 messages (the first 700 \Seen) whose directories changed long ago, so its first scan is confirmed. */
function oldMaildir(name: string): string {
  const home = join(dir, name);
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(home, sub), { recursive: true });
  for (let n = 0; n < 1200; n++) {
    const body = `Subject: ${n}\r\n\r\nbody\r\n`;
    writeFileSync(join(home, 'cur', `${1700000000 + n}.M${n}P1.${name}.test,S=${body.length}${n < 700 ? ':2,S' : ':2,'}`), body);
  }
  const past = new Date(Date.now() - 3600_000);
  for (const sub of ['cur', 'new']) utimesSync(join(home, sub), past, past);
  return home;
}

/**
 * `count` records of the mailbox put again with \Flagged in one index write, as a rescan after another program's changes
 * writes them, then a load of the view: over the snapshot's limit of changes, that load writes a new snapshot.
 */
const rewriteSnapshotScript = (indexDir: string, count: number) => `
  const { UserIndex } = await import(${JSON.stringify(new URL('../../../src/index/user-index.ts', import.meta.url).href)});
  const index = UserIndex.acquire(${JSON.stringify(indexDir)}, false);
  const records = index.records('INBOX').slice(0, ${count});
  index.write('INBOX', () => { throw new Error('no state'); }, (w) => {
    for (const r of records) w.put({ ...r, flags: r.flags.includes('\\\\Flagged') ? r.flags : [...r.flags, '\\\\Flagged'], modseq: w.nextModseq() });
  });
  index.cachedRecords('INBOX');
  await index.release();
  await UserIndex.closeIdle();
`;

test('a SELECT after a restart reads only the snapshot head; the columns load at the first use, also after the snapshot was replaced here or by another process', async () => {
  const user = 'lazy';
  const lazyOpts = { ...opts, defaultMailLocation: `maildir:${oldMaildir('LazyMaildir')}` };
  const indexDir = indexDirFor(opts.dataDir, user);
  const first = await openUserStorage({ user }, lazyOpts);
  let selectTime: MessageRecord[];
  try {
    const box = await first.openMailbox('INBOX');
    selectTime = normal(box.messages() as readonly MessageRecord[]);
    await box.close();
  } finally {
    await first.close();
  }
  await UserIndex.closeIdle();
  const gen = () => {
    const index = UserIndex.acquire(indexDir, false);
    try {
      return index.viewHeads.get('INBOX')?.gen;
    } finally {
      void index.release();
    }
  };

  /** A session opened after a restart, its answers (all from the head), and its columns, still unloaded. */
  const openAfterRestart = async () => {
    await UserIndex.closeIdle();
    const st = await openUserStorage({ user }, lazyOpts);
    const box = (await st.openMailbox('INBOX')) as MailboxSessionImpl;
    const columns = box.shared.index.cachedView('INBOX');
    assert.ok(columns instanceof SnapshotColumns);
    assert.deepEqual([box.messageCount(), box.firstUnseenSeq(), box.uidNext(), box.keywordsInUse()], [1200, 701, 1201, []]);
    assert.equal(columns.isLoaded, false, 'SELECT\'s answers read no column');
    return { st, box, columns };
  };

  // Nothing replaced: the first use loads the columns of the SELECTed state.
  let opened = await openAfterRestart();
  assert.deepEqual(normal(opened.box.messages() as readonly MessageRecord[]), selectTime);
  assert.equal(opened.columns.isLoaded, true);
  await opened.box.close();
  await opened.st.close();

  // This process replaces the snapshot (a rescan changed 1,100 records, then a load): the columns are loaded first.
  opened = await openAfterRestart();
  const genBefore = gen();
  const index = opened.box.shared.index;
  const records = index.records('INBOX').slice(0, 1100);
  index.write('INBOX', () => assert.fail('the mailbox has a state'), (w) => {
    for (const r of records) w.put({ ...r, flags: [...r.flags, '\\Answered'], modseq: w.nextModseq() });
  });
  assert.equal(opened.columns.isLoaded, false, 'a write of records leaves the snapshot and the columns alone');
  assert.equal(index.cachedRecords('INBOX').filter((r) => r.flags.includes('\\Answered')).length, 1100);
  assert.notEqual(gen(), genBefore, 'the load wrote a new snapshot');
  assert.equal(opened.columns.isLoaded, true, 'loaded before their snapshot was replaced');
  assert.deepEqual(normal(opened.box.messages() as readonly MessageRecord[]), selectTime, 'the session sees its SELECTed state');
  await opened.box.close();
  await opened.st.close();
  selectTime = normal((await viewAfterRestartOf(user, lazyOpts)) as readonly MessageRecord[]);

  // Another process replaces the snapshot once: the columns come from the previous one. Twice: they are gone.
  for (const rewrites of [1, 2]) {
    opened = await openAfterRestart();
    for (let i = 0; i < rewrites; i++) {
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', rewriteSnapshotScript(indexDir, 1050 + i)], { encoding: 'utf8' });
      assert.equal(child.status, 0, child.stderr);
    }
    // Reads see the other process's writes from the next read transaction on (LMDB's reads are snapshots).
    opened.box.shared.index.root.resetReadTxn();
    if (rewrites === 1) {
      assert.deepEqual(normal(opened.box.messages() as readonly MessageRecord[]), selectTime, 'the previous snapshot serves the session');
    } else {
      assert.throws(() => opened.box.messages(), (err: Error & { code?: string }) => err.code === 'TEMP', 'a clear temporary failure, not another state');
    }
    await opened.box.close();
    await opened.st.close();
    selectTime = normal((await viewAfterRestartOf(user, lazyOpts)) as readonly MessageRecord[]);
  }
});

/** The records a session of `user` sees after a restart. */
async function viewAfterRestartOf(user: string, options: StorageOptions): Promise<readonly MessageMeta[]> {
  await UserIndex.closeIdle();
  const st = await openUserStorage({ user }, options);
  try {
    const box = await st.openMailbox('INBOX');
    const messages = box.messages();
    await box.close();
    return messages;
  } finally {
    await st.close();
  }
}
