// SORT keys held in memory (RFC 5256 section 3, RFC 5957): interned strings ranked in code point order as they come
// in, and the order of a set of messages under any criteria, which must be the plain rule of the RFC: compare the keys
// in turn (REVERSE per key), strings by code point, ties by sequence number.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareCodePoints, titlecase } from '../../../src/protocols/imap/sort/collate.js';
import { packSortData, unpackSortData, type SortData } from '../../../src/protocols/imap/sort/sort-data.js';
import { RankedStrings, SortKeys, type SortKeyName } from '../../../src/protocols/imap/sort/sort-keys.js';
import {
  decodeSnapshot,
  decodeThreads,
  encodeSnapshot,
  encodeThreads,
  readSnapshot,
  readThreads,
  saveSnapshotLater,
  SNAPSHOT_CACHE_KEY,
  sortKeysOf,
  THREADS_CACHE_KEY,
} from '../../../src/protocols/imap/sort/sort-snapshot.js';
import { sortOrder, type SortCriterion, type SortSet } from '../../../src/protocols/imap/sort/sort.js';
import type { MailboxSession, MessageMeta } from '../../../src/storage/api.js';

/** Strings that tell code point order from UTF-16 unit order: BMP letters, U+E000-FFFF, and astral characters. */
const text = fc
  .array(fc.constantFrom('', 'A', 'B', 'a', 'Z', ' ', 'Ä', 'É', '\u00ff', '\ue000', '\uffee', '😀', '𝒜', 'RE', 'ÄRGER'), { maxLength: 4 })
  .map((parts) => parts.join(''));

interface Msg {
  uid: number;
  internalDate: number;
  size: number;
  data: SortData;
}

const textKeys = { subject: text, from: text, to: text, cc: text, displayFrom: text, displayTo: text };

const sortData = fc.record({
  ...textKeys,
  // Dates far apart (year 9999, before 1970) make the folded integers too wide: the comparison path takes over.
  sentDate: fc.option(fc.oneof(fc.integer({ min: 1_700_000_000, max: 1_700_000_100 }), fc.constantFrom(0, -86_400, 253_402_300_799)), { nil: null }),
});

const message = fc.record({
  internalDate: fc.integer({ min: 1_700_000_000, max: 1_700_000_050 }).map((s) => s * 1000 + 999),
  size: fc.integer({ min: 0, max: 20 }),
  data: sortData.map((d): SortData => ({ ...d, replyOrForward: false, hasSubject: true, messageId: null, references: [] })),
});

const KEY_NAMES: SortKeyName[] = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];
const criteria = fc.array(fc.record({ key: fc.constantFrom(...KEY_NAMES), reverse: fc.boolean() }), { minLength: 1, maxLength: 3 });

const meta = (m: Msg): MessageMeta => ({ uid: m.uid, internalDate: m.internalDate, size: m.size, flags: [], modseq: 1 }) as unknown as MessageMeta;

/** RFC 5256 section 3 as written: each key in turn, then the sequence number. */
function reference(msgs: Array<Msg & { seq: number }>, crit: readonly SortCriterion[]): number[] {
  const date = (m: Msg): number => (m.data.sentDate !== null && m.data.sentDate !== 0 ? m.data.sentDate : Math.floor(m.internalDate / 1000));
  const text: Record<string, 'subject' | 'from' | 'to' | 'cc' | 'displayFrom' | 'displayTo'> = {
    SUBJECT: 'subject',
    FROM: 'from',
    TO: 'to',
    CC: 'cc',
    DISPLAYFROM: 'displayFrom',
    DISPLAYTO: 'displayTo',
  };
  const value = (m: Msg, key: SortKeyName): number | string =>
    key === 'ARRIVAL' ? Math.floor(m.internalDate / 1000) : key === 'SIZE' ? m.size : key === 'DATE' ? date(m) : m.data[text[key]!];
  return [...msgs]
    .sort((a, b) => {
      for (const c of crit) {
        const x = value(a, c.key);
        const y = value(b, c.key);
        const d = typeof x === 'number' ? x - (y as number) : compareCodePoints(x, y as string);
        if (d !== 0) return c.reverse ? -d : d;
      }
      return a.seq - b.seq;
    })
    .map((m) => m.seq);
}

describe('RankedStrings', () => {
  test('ranks follow code point order however the strings come in', () => {
    fc.assert(
      fc.property(fc.array(fc.array(text, { maxLength: 12 }), { minLength: 1, maxLength: 4 }), (batches) => {
        const ranked = new RankedStrings();
        for (const batch of batches) {
          for (const s of batch) ranked.intern(s);
          const ranks = ranked.rankTable();
          const byRank = [...ranked.strings].sort(compareCodePoints);
          assert.equal(new Set(ranked.strings).size, ranked.strings.length, 'each string interned once');
          ranked.strings.forEach((s, id) => assert.equal(byRank[ranks[id]!], s));
        }
      }),
    );
  });

  test('an astral character sorts after U+FFEE, as in UTF-8 byte order', () => {
    const ranked = new RankedStrings();
    const astral = ranked.intern('😀');
    const high = ranked.intern('\uffee');
    const plain = ranked.intern('Z');
    const ranks = ranked.rankTable();
    assert.ok(ranks[plain]! < ranks[high]! && ranks[high]! < ranks[astral]!);
  });
});

describe('sortOrder', () => {
  test('is the RFC 5256 order for any keys, REVERSE, subsets, and messages added between sorts', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 60 }),
        fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
        fc.array(criteria, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 3 }),
        (raw, picked, programs, gap) => {
          // UIDs ascending in sequence order, with gaps; added to the keys in a shuffled order.
          const msgs: Msg[] = raw.map((m, i) => ({ ...m, uid: 1 + i * gap }));
          const keys = new SortKeys();
          const half = Math.floor(msgs.length / 2);
          for (const m of [...msgs.slice(half)].reverse()) keys.add(meta(m), m.data);
          for (const program of programs) {
            for (const m of msgs.slice(0, half)) keys.add(meta(m), m.data);
            for (const subset of [msgs.map(() => true), picked]) {
              const chosen = msgs.map((m, i) => ({ ...m, seq: i + 1 })).filter((_, i) => subset[i]);
              const set: SortSet = {
                keys,
                seqs: Int32Array.from(chosen, (m) => m.seq),
                slots: Int32Array.from(chosen, (m) => keys.slotOf(m.uid)!),
              };
              const order = Array.from(sortOrder(set, program), (j) => set.seqs[j]!);
              assert.deepEqual(order, reference(chosen, program), JSON.stringify(program));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('dates from year 1 to year 9999 over many messages (too wide to fold into one number) still sort right', () => {
    const years = [-62_135_596_800, 253_402_300_799, 1_700_000_000, 0];
    const msgs = Array.from({ length: 30_000 }, (_, i) => ({
      uid: i + 1,
      seq: i + 1,
      internalDate: 1_700_000_000_000 + (i % 7) * 1000,
      size: i % 5,
      data: { subject: String(i % 11), replyOrForward: false, hasSubject: true, from: '', to: '', cc: '', displayFrom: '', displayTo: '', sentDate: years[(i * 7) % 4]! + (i % 3), messageId: null, references: [] },
    }));
    const keys = new SortKeys();
    for (const m of msgs) keys.add(meta(m), m.data);
    const set: SortSet = { keys, seqs: Int32Array.from(msgs, (m) => m.seq), slots: Int32Array.from(msgs, (m) => keys.slotOf(m.uid)!) };
    for (const program of [[{ key: 'DATE', reverse: false }], [{ key: 'DATE', reverse: true }], [{ key: 'SUBJECT', reverse: false }, { key: 'DATE', reverse: true }]] as SortCriterion[][]) {
      assert.deepEqual(Array.from(sortOrder(set, program), (j) => set.seqs[j]!), reference(msgs, program));
    }
  });

  test('UIDs far apart are found as well as dense ones', () => {
    const keys = new SortKeys();
    const data: SortData = { subject: 'S', replyOrForward: false, hasSubject: true, from: '', to: '', cc: '', displayFrom: '', displayTo: '', sentDate: null, messageId: null, references: [] };
    const uids = [5, 3, 4_000_000_000, 7, 1_000_000, ...Array.from({ length: 3000 }, (_, i) => 10 + i)];
    for (const uid of uids) keys.add({ uid, internalDate: uid, size: 1 } as unknown as MessageMeta, data);
    uids.forEach((uid, slot) => assert.equal(keys.slotOf(uid), slot));
    assert.equal(keys.slotOf(6), undefined);
    assert.equal(keys.slotOf(4_000_000_001), undefined);
    assert.equal(keys.add({ uid: 7, internalDate: 0, size: 1 } as unknown as MessageMeta, data), 3, 'a UID is added once');
  });
});

describe('the sort keys of a mailbox', () => {
  const fakeMailbox = (count: number): MailboxSession => {
    const memos = new Map<string, unknown>();
    return {
      getMailboxCached: () => undefined,
      messages: () => Array.from({ length: count }, (_, i) => ({ uid: i + 1 })),
      memo: <T>(key: string, create: () => T): T => {
        if (!memos.has(key)) memos.set(key, create());
        return memos.get(key) as T;
      },
    } as unknown as MailboxSession;
  };

  test('are shared, and started afresh once expunged messages outnumber the messages', () => {
    const box = fakeMailbox(100);
    const keys = sortKeysOf(box);
    assert.equal(sortKeysOf(box), keys);
    const data: SortData = { subject: 'S', replyOrForward: false, hasSubject: true, from: '', to: '', cc: '', displayFrom: '', displayTo: '', sentDate: null, messageId: null, references: [] };
    for (let uid = 1; uid <= 1224; uid++) keys.add({ uid, internalDate: 0, size: 1 } as unknown as MessageMeta, data);
    assert.equal(sortKeysOf(box), keys, 'within 2 × messages + 1024');
    for (let uid = 1225; uid <= 1230; uid++) keys.add({ uid, internalDate: 0, size: 1 } as unknown as MessageMeta, data);
    const fresh = sortKeysOf(box);
    assert.notEqual(fresh, keys);
    assert.equal(fresh.slots, 0);
    assert.equal(keys.slotOf(5), 4, 'a command still holding the old keys keeps them whole');
  });
});

describe('the cached form', () => {
  test('packs and unpacks every field; other shapes (the v1 object) are not sort data', () => {
    const d: SortData = {
      subject: 'ÄRGER',
      replyOrForward: true,
      hasSubject: true,
      from: 'ALICE',
      to: 'BOB',
      cc: '',
      displayFrom: 'ALICE A.',
      displayTo: 'BOB@EXAMPLE.COM',
      sentDate: 1_700_000_000,
      messageId: 'a@b',
      references: ['x@y', 'z@w'],
    };
    assert.deepEqual(unpackSortData(packSortData(d)), d);
    assert.deepEqual(unpackSortData(packSortData({ ...d, replyOrForward: false, hasSubject: false, sentDate: null, messageId: null, references: [] })), {
      ...d,
      replyOrForward: false,
      hasSubject: false,
      sentDate: null,
      messageId: null,
      references: [],
    });
    assert.equal(unpackSortData(d), undefined);
    assert.equal(unpackSortData(undefined), undefined);
    assert.equal(unpackSortData([1, 2, 3]), undefined);
  });
});

describe("the snapshot of a mailbox's keys", () => {
  const full = fc.record({
    internalDate: fc.integer({ min: 1_700_000_000, max: 1_700_000_050 }).map((x) => x * 1000),
    size: fc.integer({ min: 0, max: 20 }),
    data: fc.record({
      ...textKeys,
      sentDate: fc.option(fc.integer({ min: 1_700_000_000, max: 1_700_000_100 }), { nil: null }),
      replyOrForward: fc.boolean(),
      hasSubject: fc.boolean(),
      messageId: fc.option(text, { nil: null }),
      references: fc.array(text, { maxLength: 3 }),
    }),
  });

  /** Everything SORT and THREAD read of a message, by UID. */
  const view = (keys: SortKeys, uids: number[]): unknown[] =>
    uids.map((uid) => {
      const s = keys.slotOf(uid);
      if (s === undefined) return undefined;
      return [keys.arrival[s], keys.size[s], keys.date[s], keys.text.map((t, k) => t.strings[keys.textIds[k]![s]!]), keys.flags[s], keys.messageId[s], keys.references[s]];
    });

  test('gives back every key and the same orders, without the expunged, and takes new messages after', () => {
    fc.assert(
      fc.property(fc.array(full, { minLength: 1, maxLength: 40 }), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), criteria, (raw, gone, program) => {
        const msgs: Msg[] = raw.map((m, i) => ({ ...m, uid: 3 + i * 2 }));
        const keys = new SortKeys();
        for (const m of msgs) keys.add(meta(m), m.data);
        const uids = msgs.map((m) => m.uid);
        const buf = encodeSnapshot(keys, 77);
        const threads = encodeThreads(keys, 77);
        assert.equal(decodeSnapshot(buf, 78, () => true), undefined, 'another UIDVALIDITY');
        const back = decodeSnapshot(buf, 77, () => true)!;
        assert.ok(back.threadsPending && !back.hasThreadData(0), 'THREAD data comes apart');
        assert.equal(decodeThreads(threads, 78, back), false);
        assert.ok(decodeThreads(threads, 77, back));
        assert.deepEqual(view(back, uids), view(keys, uids));
        const live = msgs.filter((_, i) => !gone[i]);
        const kept = decodeSnapshot(buf, 77, (uid) => live.some((m) => m.uid === uid))!;
        // A snapshot of keys whose THREAD data was never read keeps it unknown, not empty.
        assert.ok(decodeThreads(encodeThreads(kept, 77), 77, decodeSnapshot(buf, 77, () => true)!));
        assert.equal(kept.slots, live.length);
        decodeThreads(threads, 77, kept);
        assert.deepEqual(view(kept, live.map((m) => m.uid)), view(keys, live.map((m) => m.uid)));
        // New messages after a restore: interned against the restored strings, ranked among them.
        const more = [...live, ...msgs.map((m, i) => ({ ...m, uid: 1000 + i, data: { ...msgs[msgs.length - 1 - i]!.data } }))];
        for (const m of more) kept.add(meta(m), m.data);
        const chosen = more.map((m, i) => ({ ...m, seq: i + 1 }));
        const set: SortSet = { keys: kept, seqs: Int32Array.from(chosen, (m) => m.seq), slots: Int32Array.from(chosen, (m) => kept.slotOf(m.uid)!) };
        assert.deepEqual(Array.from(sortOrder(set, program), (j) => set.seqs[j]!), reference(chosen, program));
      }),
      { numRuns: 200 },
    );
  });

  test('THREAD data unknown when a snapshot was written stays unknown', () => {
    const data: SortData = { subject: 'S', replyOrForward: false, hasSubject: true, from: '', to: '', cc: '', displayFrom: '', displayTo: '', sentDate: null, messageId: 'a@b', references: ['c@d'] };
    const keys = new SortKeys();
    for (let uid = 1; uid <= 3; uid++) keys.add({ uid, internalDate: 0, size: 1 } as unknown as MessageMeta, data);
    const restored = decodeSnapshot(encodeSnapshot(keys, 1), 1, () => true)!;
    restored.setThreadData(1, { messageId: null, references: [] });
    const again = decodeSnapshot(encodeSnapshot(keys, 1), 1, () => true)!;
    decodeThreads(encodeThreads(restored, 1), 1, again);
    assert.deepEqual([0, 1, 2].map((s) => [again.messageId[s], again.references[s]]), [[undefined, undefined], [null, []], [undefined, undefined]]);
  });

  test('a snapshot mostly expunged since it was written is written again at once, a small one too', async () => {
    const data: SortData = { subject: 'S', replyOrForward: false, hasSubject: true, from: '', to: '', cc: '', displayFrom: '', displayTo: '', sentDate: null, messageId: null, references: [] };
    const keys = new SortKeys();
    for (let uid = 1; uid <= 10; uid++) keys.add({ uid, internalDate: 0, size: 1 } as unknown as MessageMeta, data);
    const buf = encodeSnapshot(keys, 3);
    assert.equal(decodeSnapshot(buf, 3, (uid) => uid > 5)!.snapshotStale, false, 'half left');
    const few = decodeSnapshot(buf, 3, (uid) => uid > 6)!;
    assert.ok(few.snapshotStale);
    const written: string[] = [];
    const box = { uidValidity: 3, getMailboxCached: () => undefined, setMailboxCached: (key: string) => written.push(key) } as unknown as MailboxSession;
    saveSnapshotLater(box, few);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(written, [SNAPSHOT_CACHE_KEY, THREADS_CACHE_KEY]);
    saveSnapshotLater(box, few);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(written.length, 2, 'once');
  });

  test('a damaged or foreign entry is no snapshot', () => {
    const keys = new SortKeys();
    for (let uid = 1; uid <= 5; uid++) keys.add({ uid, internalDate: 0, size: 1 } as unknown as MessageMeta, { subject: `S${uid}`, replyOrForward: false, hasSubject: true, from: '', to: '', cc: '', displayFrom: '', displayTo: '', sentDate: null, messageId: `${uid}@x`, references: ['a@b'] });
    const buf = encodeSnapshot(keys, 9);
    const box = (value: unknown): MailboxSession =>
      ({ uidValidity: 9, seqOf: () => 1, getMailboxCached: (key: string) => (key === SNAPSHOT_CACHE_KEY ? value : undefined) }) as unknown as MailboxSession;
    assert.equal(readSnapshot(box(buf))?.slots, 5);
    assert.equal(readSnapshot(box(new Uint8Array(buf)))?.slots, 5);
    assert.equal(readSnapshot(box(buf.subarray(0, buf.length - 9))), undefined);
    assert.equal(readSnapshot(box(Buffer.concat([buf.subarray(0, 40), Buffer.alloc(64)]))), undefined);
    assert.equal(readSnapshot(box({ subject: 'x' })), undefined);
    // The subjects' code point order (after the 40-byte header, 4 columns of 5 doubles, 5 ids padded to 24 bytes)
    // naming one string twice.
    const twice = Buffer.from(buf);
    twice.writeUInt32LE(twice.readUInt32LE(224), 228);
    assert.equal(readSnapshot(box(twice)), undefined);
    const outOfRange = Buffer.from(buf);
    outOfRange.writeUInt32LE(99, 200);
    assert.equal(readSnapshot(box(outOfRange)), undefined, 'a subject id past the table');
    assert.equal(readSnapshot(box(undefined)), undefined);
    // THREAD's part: a damaged one gives nothing (those slots load per message) and is not read again.
    const restored = readSnapshot(box(buf))!;
    const threads = encodeThreads(keys, 9);
    const threadBox = (value: unknown): MailboxSession =>
      ({ uidValidity: 9, getMailboxCached: (key: string) => (key === THREADS_CACHE_KEY ? value : undefined) }) as unknown as MailboxSession;
    readThreads(threadBox(threads.subarray(0, threads.length - 3)), restored);
    assert.equal(restored.threadsPending, false);
    readThreads(threadBox(threads), restored);
    assert.equal(restored.hasThreadData(0), false, 'read once');
  });
});

describe('titlecase', () => {
  /** i;unicode-casemap as the sort keys apply it: per character, upper case when it stays one character, then NFKD. */
  const reference = (text: string): string => {
    let out = '';
    for (const ch of text) {
      const upper = ch.toUpperCase();
      out += (upper.length === ch.length ? upper : ch).normalize('NFKD');
    }
    return out;
  };

  test('is the per-character rule for any text, lone surrogates and combining marks included', () => {
    const chars = fc.oneof(
      fc.constantFrom('a', 'z', 'A', ' ', '{', 'ß', 'ﬁ', 'ǆ', 'é', 'e\u0301', '\u0301\u0323', 'ŉ', '\ud800', '\udc00', '😀', 'ｆ', '①', 'İ', 'ı'),
      fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
      fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    );
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 12 }), (parts) => {
        const text = parts.join('');
        assert.equal(titlecase(text), reference(text));
      }),
      { numRuns: 2000 },
    );
  });
});
