// Integration tests of CONDSTORE and QRESYNC (RFC 7162) on the real server: the RFC's examples (ENABLE, SELECT
// (CONDSTORE), FETCH CHANGEDSINCE, STORE UNCHANGEDSINCE and MODIFIED, SEARCH MODSEQ, VANISHED), and a resync.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { taggedSession, type TaggedSession } from '../helpers/imap-session.js';
import { isRoostOnlyResponse } from '../interop/imap-normalize.js';

const USER = { name: 'carol', password: 'secret' };

type Session = TaggedSession;

const login = (port: number): Promise<Session> => taggedSession(port, USER.name, USER.password, 'c');

function message(i: number): Buffer {
  return Buffer.from(`From: sender${i}@example.com\r\nTo: carol@example.com\r\nSubject: message ${i}\r\nMessage-ID: <m${i}@example.com>\r\n\r\nBody ${i}\r\n`);
}

/** Appends `count` messages with LITERAL+, pipelined in batches. */
async function appendMany(s: Session, mailbox: string, count: number, first = 1): Promise<void> {
  const batch = 200;
  for (let start = first; start < first + count; start += batch) {
    const end = Math.min(first + count, start + batch);
    const parts: Buffer[] = [];
    for (let i = start; i < end; i++) {
      const m = message(i);
      parts.push(Buffer.from(`ap${i} APPEND ${mailbox} () {${m.length}+}\r\n`), m, Buffer.from('\r\n'));
    }
    s.c.send(Buffer.concat(parts));
    const lines = await s.c.readUntil((l) => l.startsWith(`ap${end - 1} `), 60_000);
    const failed = lines.filter((l) => /^ap\d+ (NO|BAD)/.test(l));
    assert.deepEqual(failed, [], 'APPEND failures');
  }
}

const code = (lines: string[], name: string): string | undefined => {
  for (const l of lines) {
    const m = new RegExp(`\\[${name} ([^\\]]*)\\]`).exec(l);
    if (m) return m[1];
  }
  return undefined;
};

/** Expands an IMAP number set ("1:3,7") into numbers. */
function expand(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    for (let n = a!; n <= (b ?? a!); n++) out.push(n);
  }
  return out;
}

/** "* 3 FETCH (UID 7 FLAGS (\Seen) MODSEQ (12))" -> { seq, uid, flags, modseq } */
function parseFetch(line: string): { seq: number; uid?: number; flags?: string[]; modseq?: number } {
  const m = /^\* (\d+) FETCH \((.*)\)$/.exec(line);
  assert.ok(m, `not a FETCH line: ${line}`);
  const body = m[2]!;
  const uid = /UID (\d+)/.exec(body);
  const flags = /FLAGS \(([^)]*)\)/.exec(body);
  const modseq = /MODSEQ \((\d+)\)/.exec(body);
  return {
    seq: Number(m[1]),
    ...(uid ? { uid: Number(uid[1]) } : {}),
    // \Recent depends on which session saw a message first; the tests look at the stored flags.
    ...(flags ? { flags: flags[1] ? flags[1].split(' ').filter((f) => f !== '\\Recent') : [] } : {}),
    ...(modseq ? { modseq: Number(modseq[1]) } : {}),
  };
}

let roost: RoostHandle;

before(async () => {
  roost = await startRoost({ users: [USER] });
});

after(async () => {
  await roost?.stop();
});

describe('CONDSTORE (RFC 7162 section 3.1)', () => {
  test('advertised, enabled by ENABLE, and answered with ENABLED as RFC 5161 says', async () => {
    const s = await login(roost.ports.imap);
    const caps = (await s.cmd('CAPABILITY')).find((l) => l.startsWith('* CAPABILITY'))!;
    assert.match(caps, / CONDSTORE( |$)/);
    assert.match(caps, / QRESYNC( |$)/);
    assert.deepEqual(await s.cmd('ENABLE CONDSTORE'), ['* ENABLED CONDSTORE', 'TAG OK Enabled.']);
    // Already on: not listed again.
    assert.deepEqual(await s.cmd('ENABLE CONDSTORE'), ['* ENABLED', 'TAG OK Enabled.']);
    s.close();

    const q = await login(roost.ports.imap);
    // QRESYNC implies CONDSTORE; asking for both lists both.
    assert.deepEqual(await q.cmd('ENABLE QRESYNC CONDSTORE'), ['* ENABLED QRESYNC CONDSTORE', 'TAG OK Enabled.']);
    q.close();
  });

  test('SELECT (CONDSTORE) reports HIGHESTMODSEQ; FETCH MODSEQ and CHANGEDSINCE (RFC 7162 3.1.4, 3.1.8)', async () => {
    const s = await login(roost.ports.imap);
    await s.cmd('CREATE Cond1');
    await appendMany(s, 'Cond1', 10);
    const sel = await s.cmd('SELECT Cond1 (CONDSTORE)');
    assert.match(sel.at(-1)!, /^TAG OK \[READ-WRITE\]/);
    const highest = Number(code(sel, 'HIGHESTMODSEQ'));
    assert.ok(highest > 0, 'HIGHESTMODSEQ after SELECT (CONDSTORE)');
    // Every message's MODSEQ is at most HIGHESTMODSEQ, and they differ (each APPEND made a change).
    const all = (await s.cmd('FETCH 1:* (MODSEQ)')).filter((l) => l.startsWith('* ')).map(parseFetch);
    assert.equal(all.length, 10);
    assert.ok(all.every((f) => f.modseq! <= highest && f.modseq! > 0));
    assert.equal(new Set(all.map((f) => f.modseq)).size, 10);

    // Change two messages, then ask what changed since the old HIGHESTMODSEQ.
    const store = await s.cmd('STORE 2,5 +FLAGS (\\Flagged)');
    const stored = store.filter((l) => l.startsWith('* ')).map(parseFetch);
    assert.deepEqual(stored.map((f) => [f.seq, f.flags]), [[2, ['\\Flagged']], [5, ['\\Flagged']]]);
    // CONDSTORE is on: the FETCH responses to STORE carry the new MODSEQ.
    assert.ok(stored.every((f) => f.modseq! > highest));
    const changed = (await s.cmd(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`)).filter((l) => l.startsWith('* ')).map(parseFetch);
    assert.deepEqual(changed.map((f) => [f.seq, f.flags, f.modseq]), stored.map((f) => [f.seq, f.flags, f.modseq]));
    // UID FETCH with CHANGEDSINCE also answers UID and MODSEQ (RFC 7162 3.1.4.1).
    const byUid = await s.cmd(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`);
    const byUidFetches = byUid.filter((l) => l.startsWith('* ')).map(parseFetch);
    assert.deepEqual(byUidFetches.map((f) => [f.seq, f.flags, f.modseq]), stored.map((f) => [f.seq, f.flags, f.modseq]));
    assert.ok(byUidFetches.every((f) => f.uid! > 0));
    // Nothing changed since the newest modseq.
    const newest = Math.max(...stored.map((f) => f.modseq!));
    assert.deepEqual(await s.cmd(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${newest})`), ['TAG OK Fetch completed.']);
    // STATUS HIGHESTMODSEQ of another mailbox; the selected one moved to the newest modseq.
    await s.cmd('UNSELECT');
    const st = await s.cmd('STATUS Cond1 (HIGHESTMODSEQ MESSAGES)');
    assert.equal(st[0], `* STATUS Cond1 (MESSAGES 10 HIGHESTMODSEQ ${newest})`);
    s.close();
  });

  test('a CONDSTORE enabling command while selected reports HIGHESTMODSEQ once (RFC 7162 3.1)', async () => {
    const s = await login(roost.ports.imap);
    await s.cmd('CREATE Cond2');
    await appendMany(s, 'Cond2', 3);
    const sel = await s.cmd('SELECT Cond2');
    assert.equal(code(sel, 'HIGHESTMODSEQ'), undefined, 'no HIGHESTMODSEQ before CONDSTORE is enabled');
    const first = await s.cmd('FETCH 1 (MODSEQ)');
    assert.match(first[0]!, /^\* OK \[HIGHESTMODSEQ \d+\]/);
    assert.match(first[1]!, /^\* 1 FETCH \(MODSEQ \(\d+\)\)$/);
    const second = await s.cmd('FETCH 1 (MODSEQ)');
    assert.equal(second.length, 2);
    // From now on SELECT reports HIGHESTMODSEQ without being asked.
    assert.ok(code(await s.cmd('EXAMINE Cond2'), 'HIGHESTMODSEQ'));
    s.close();
  });

  test('STORE UNCHANGEDSINCE: MODIFIED for messages changed meanwhile, MODSEQ even with .SILENT (RFC 7162 3.1.3 example)', async () => {
    const a = await login(roost.ports.imap);
    await a.cmd('CREATE Cond3');
    await appendMany(a, 'Cond3', 10);
    const highest = Number(code(await a.cmd('SELECT Cond3 (CONDSTORE)'), 'HIGHESTMODSEQ'));
    // Another client changes messages 7 and 9 after this one read HIGHESTMODSEQ.
    const b = await login(roost.ports.imap);
    await b.cmd('SELECT Cond3');
    await b.cmd('STORE 7,9 +FLAGS.SILENT ($Other)');
    b.close();

    // The RFC's example: "STORE 7,5,9 (UNCHANGEDSINCE ...) +FLAGS.SILENT (\Deleted)".
    const r = await a.cmd(`STORE 7,5,9 (UNCHANGEDSINCE ${highest}) +FLAGS.SILENT (\\Deleted)`);
    const tagged = r.at(-1)!;
    assert.match(tagged, /^TAG OK \[MODIFIED 7,9\]/);
    // Message 5 was stored and reports only its new MODSEQ; after it, the other client's flag changes are announced
    // (sequence numbers stay put during STORE, flag changes do not move them), as Dovecot's fast sync does.
    const fetches = r.filter((l) => /^\* \d+ FETCH/.test(l)).map(parseFetch);
    assert.deepEqual(fetches.map((f) => [f.seq, f.flags]), [[5, undefined], [7, ['$Other']], [9, ['$Other']]]);
    assert.ok(fetches.every((f) => f.modseq! > highest), 'unsolicited FETCH carries MODSEQ once CONDSTORE is on');
    // Told once: the next command does not repeat them.
    assert.deepEqual((await a.cmd('NOOP')).filter((l) => /^\* \d+ FETCH/.test(l)), []);
    // 7 and 9 kept their flags: no \Deleted.
    const check = (await a.cmd('FETCH 5,7,9 (FLAGS)')).filter((l) => l.startsWith('* ')).map(parseFetch);
    assert.deepEqual(check.map((f) => [f.seq, f.flags!.includes('\\Deleted')]), [[5, true], [7, false], [9, false]]);
    // UNCHANGEDSINCE 0 always fails (RFC 7162 3.1.3); UID STORE answers MODIFIED with UIDs.
    assert.match((await a.cmd('STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)')).at(-1)!, /^TAG OK \[MODIFIED 1\]/);
    const uids = (await a.cmd('FETCH 2 (UID)')).map((l) => /UID (\d+)/.exec(l)?.[1]).find(Boolean);
    assert.match((await a.cmd(`UID STORE ${uids} (UNCHANGEDSINCE 1) +FLAGS (\\Seen)`)).at(-1)!, new RegExp(`^TAG OK \\[MODIFIED ${uids}\\]`));
    a.close();
  });

  test('SEARCH MODSEQ answers the highest modseq of the matches (RFC 7162 3.1.5 example)', async () => {
    const s = await login(roost.ports.imap);
    await s.cmd('CREATE Cond4');
    await appendMany(s, 'Cond4', 6);
    const highest = Number(code(await s.cmd('SELECT Cond4'), 'HIGHESTMODSEQ') ?? 0);
    assert.equal(highest, 0, 'CONDSTORE not yet enabled in this session');
    const before = (await s.cmd('FETCH 6 (MODSEQ)')).map((l) => /MODSEQ \((\d+)\)/.exec(l)?.[1]).find(Boolean);
    const stored = (await s.cmd('STORE 2,5 +FLAGS (\\Answered)')).filter((l) => l.startsWith('* ')).map(parseFetch);
    const top = Math.max(...stored.map((f) => f.modseq!));
    assert.deepEqual(await s.cmd(`SEARCH MODSEQ ${Number(before) + 1}`), [`* SEARCH 2 5 (MODSEQ ${top})`, 'TAG OK Search completed.']);
    // The entry-name form of the key (per-flag modseqs count as the message's).
    assert.deepEqual(await s.cmd(`SEARCH MODSEQ "/flags/\\\\answered" all ${Number(before) + 1}`), [`* SEARCH 2 5 (MODSEQ ${top})`, 'TAG OK Search completed.']);
    const es = await s.cmd(`UID SEARCH RETURN (COUNT) MODSEQ ${top + 1}`);
    assert.match(es[0]!, /^\* ESEARCH \(TAG "c\d+"\) UID COUNT 0$/);
    s.close();
  });
});

describe('QRESYNC (RFC 7162 section 3.2)', () => {
  test('SELECT (QRESYNC) needs ENABLE QRESYNC; [CLOSED] on reselect; VANISHED instead of EXPUNGE', async () => {
    const s = await login(roost.ports.imap);
    await s.cmd('CREATE Q1');
    await appendMany(s, 'Q1', 5);
    const st = await s.cmd('STATUS Q1 (UIDVALIDITY)');
    const uidValidity = /UIDVALIDITY (\d+)/.exec(st[0]!)![1];
    assert.match((await s.cmd(`SELECT Q1 (QRESYNC (${uidValidity} 1))`)).at(-1)!, /^TAG BAD/);
    assert.deepEqual(await s.cmd('ENABLE QRESYNC'), ['* ENABLED QRESYNC', 'TAG OK Enabled.']);
    await s.cmd('SELECT Q1');
    const again = await s.cmd('EXAMINE Q1');
    assert.match(again[0]!, /^\* OK \[CLOSED\]/);
    await s.cmd('SELECT Q1');
    const uids = (await s.cmd('FETCH 2,4 (UID)')).map((l) => /UID (\d+)/.exec(l)?.[1]).filter(Boolean);
    await s.cmd('STORE 2,4 +FLAGS.SILENT (\\Deleted)');
    const ex = await s.cmd('EXPUNGE');
    // The tagged OK carries the HIGHESTMODSEQ after the expunge (RFC 7162 section 3.2.10).
    assert.equal(ex[0], `* VANISHED ${uids[0]},${uids[1]}`);
    assert.match(ex[1]!, /^TAG OK \[HIGHESTMODSEQ \d+\] Expunge completed\.$/);
    assert.equal(ex.length, 2);
    // Another session's flag change arrives as FETCH with UID and MODSEQ.
    const b = await login(roost.ports.imap);
    await b.cmd('SELECT Q1');
    await b.cmd('STORE 1 +FLAGS (\\Flagged)');
    b.close();
    const noop = await s.cmd('NOOP');
    assert.match(noop[0]!, /^\* 1 FETCH \(UID \d+ FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/);
    s.close();
  });

  test('UID FETCH (CHANGEDSINCE n VANISHED) answers VANISHED (EARLIER) first (RFC 7162 3.2.6 example)', async () => {
    const s = await login(roost.ports.imap);
    await s.cmd('ENABLE QRESYNC');
    await s.cmd('CREATE Q2');
    await appendMany(s, 'Q2', 20);
    const highest = Number(code(await s.cmd('SELECT Q2'), 'HIGHESTMODSEQ'));
    const uids = (await s.cmd('FETCH 1:* (UID)')).map((l) => Number(/UID (\d+)/.exec(l)?.[1])).filter((n) => n > 0);
    // Expunge 3, 4, 5 and 10 in another session, change 7.
    const b = await login(roost.ports.imap);
    await b.cmd('SELECT Q2');
    await b.cmd(`UID STORE ${uids[2]}:${uids[4]},${uids[9]} +FLAGS.SILENT (\\Deleted)`);
    await b.cmd('EXPUNGE');
    await b.cmd(`UID STORE ${uids[6]} +FLAGS.SILENT ($Seven)`);
    b.close();
    // Not yet told of the expunges: they stay out of VANISHED (EARLIER), and come as VANISHED at the sync.
    const r = await s.cmd(`UID FETCH ${uids[0]}:* (FLAGS) (CHANGEDSINCE ${highest} VANISHED)`);
    assert.ok(!r.some((l) => l.startsWith('* VANISHED (EARLIER)')), r.join('\n'));
    assert.ok(r.some((l) => l === `* VANISHED ${uids[2]}:${uids[4]},${uids[9]}`), r.join('\n'));
    // Once the view has caught up, the same question answers VANISHED (EARLIER) within the UID set asked for.
    const r2 = await s.cmd(`UID FETCH ${uids[3]}:${uids[19]} (FLAGS) (CHANGEDSINCE ${highest} VANISHED)`);
    assert.equal(r2[0], `* VANISHED (EARLIER) ${uids[3]}:${uids[4]},${uids[9]}`);
    const seven = parseFetch(r2[1]!);
    assert.deepEqual([seven.uid, seven.flags], [uids[6], ['$Seven']]);
    assert.ok(seven.modseq! > highest);
    assert.equal(r2.length, 3);
    // VANISHED needs CHANGEDSINCE and UID FETCH.
    assert.match((await s.cmd('FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)')).at(-1)!, /^TAG BAD/);
    assert.match((await s.cmd('UID FETCH 1:* (FLAGS) (VANISHED)')).at(-1)!, /^TAG BAD/);
    s.close();
  });

  test('a client offline while 1,000 flags changed and 500 messages were expunged resyncs with one SELECT', async () => {
    const TOTAL = 2000;
    const setup = await login(roost.ports.imap);
    await setup.cmd('CREATE Resync');
    await appendMany(setup, 'Resync', TOTAL);
    setup.close();

    // The client's state when it went offline.
    const offline = await login(roost.ports.imap);
    await offline.cmd('ENABLE QRESYNC');
    const sel = await offline.cmd('SELECT Resync');
    const uidValidity = Number(code(sel, 'UIDVALIDITY'));
    const modseq = Number(code(sel, 'HIGHESTMODSEQ'));
    const knownUids = (await offline.cmd('UID SEARCH ALL'))[0]!.replace('* SEARCH ', '').split(' ').map(Number);
    assert.equal(knownUids.length, TOTAL);
    offline.close();

    // Meanwhile: 1,000 messages get a flag, 500 others are expunged, and 100 of the flagged ones are later
    // expunged too (changed, then gone: they must only be reported as vanished).
    const flagged = knownUids.filter((_, i) => i % 2 === 0).slice(0, 1000);
    const expunged = knownUids.filter((_, i) => i % 4 === 1).slice(0, 400);
    const flaggedThenGone = flagged.filter((_, i) => i % 10 === 3);
    const other = await login(roost.ports.imap);
    await other.cmd('SELECT Resync');
    for (let i = 0; i < flagged.length; i += 100) {
      const r = await other.cmd(`UID STORE ${flagged.slice(i, i + 100).join(',')} +FLAGS.SILENT (\\Seen $Changed)`);
      assert.match(r.at(-1)!, /^TAG OK/);
    }
    const gone = [...expunged, ...flaggedThenGone];
    for (let i = 0; i < gone.length; i += 100) await other.cmd(`UID STORE ${gone.slice(i, i + 100).join(',')} +FLAGS.SILENT (\\Deleted)`);
    assert.match((await other.cmd('EXPUNGE')).at(-1)!, /^TAG OK/);
    // A message delivered meanwhile is announced by EXISTS, not as a change the client knew of.
    await appendMany(other, 'Resync', 1, TOTAL + 1);
    other.close();
    assert.equal(gone.length, 500);

    const back = await login(roost.ports.imap);
    await back.cmd('ENABLE QRESYNC');
    const r = await back.cmd(`SELECT Resync (QRESYNC (${uidValidity} ${modseq} ${knownUids[0]}:${knownUids.at(-1)}))`);
    assert.match(r.at(-1)!, /^TAG OK \[READ-WRITE\]/);
    assert.ok(r.includes(`* ${TOTAL - 500 + 1} EXISTS`));
    const vanished = r.filter((l) => l.startsWith('* VANISHED'));
    assert.equal(vanished.length, 1);
    assert.match(vanished[0]!, /^\* VANISHED \(EARLIER\) /);
    assert.deepEqual(expand(vanished[0]!.replace('* VANISHED (EARLIER) ', '')), [...gone].sort((a, b) => a - b));
    const changed = r.filter((l) => / FETCH /.test(l)).map(parseFetch);
    const stillThere = flagged.filter((u) => !flaggedThenGone.includes(u));
    assert.deepEqual(changed.map((f) => f.uid), stillThere);
    assert.ok(changed.every((f) => f.flags!.join(' ') === '\\Seen $Changed' && f.modseq! > modseq));
    // Sequence numbers in the FETCH responses are those of the new view.
    const seqs = (await back.cmd(`UID SEARCH UID ${stillThere[0]}`))[0];
    assert.ok(seqs);
    const newHighest = Number(code(r, 'HIGHESTMODSEQ'));
    assert.ok(newHighest >= Math.max(...changed.map((f) => f.modseq!)));
    // Without known UIDs the answer is the same (the index remembers every expunge since the client's modseq).
    await back.cmd('UNSELECT');
    const r2 = await back.cmd(`EXAMINE Resync (QRESYNC (${uidValidity} ${modseq}))`);
    assert.deepEqual(r2.filter((l) => l.startsWith('* VANISHED')), vanished);
    assert.equal(r2.filter((l) => / FETCH /.test(l)).length, stillThere.length + 1, 'the new message changed after the modseq too');
    // A wrong UIDVALIDITY: a plain SELECT, nothing to resync.
    await back.cmd('UNSELECT');
    const r3 = await back.cmd(`SELECT Resync (QRESYNC (${uidValidity + 1} ${modseq}))`);
    assert.ok(!r3.some((l) => l.startsWith('* VANISHED') || / FETCH /.test(l)));
    // Up to date: nothing at all.
    await back.cmd('UNSELECT');
    const r4 = await back.cmd(`SELECT Resync (QRESYNC (${uidValidity} ${newHighest}))`);
    assert.ok(!r4.some((l) => l.startsWith('* VANISHED') || / FETCH /.test(l)));
    back.close();
  });
});

describe('CONDSTORE and QRESYNC against Dovecot 2.3', () => {
  /** A client resyncs after another session changed flags and expunged; every answer, with modseqs abstracted. */
  async function resyncScript(port: number): Promise<string[]> {
    const out: string[] = [];
    // Modseq and UIDVALIDITY values are each server's own; their presence and order are compared.
    const values = new Map<string, string>();
    const abstract = (l: string) => {
      const out = l.replace(/MODSEQ (\(?)\d+/g, 'MODSEQ $1n').replace(/UIDVALIDITY \d+/g, 'UIDVALIDITY n');
      return out;
    };
    const run = async (s: Session, text: string) => {
      let shown = text;
      for (const [value, name] of values) shown = shown.replace(new RegExp(`\\b${value}\\b`, 'g'), name);
      out.push(`>>> ${shown}`);
      for (const l of await s.cmd(text)) {
        if (isRoostOnlyResponse(l)) continue;
        const tagged = /^TAG (OK|NO|BAD)( \[[^\]]*\])?/.exec(l);
        out.push(abstract((tagged ? tagged[0] : l).replace(/^\* OK (\[[^\]]*\]).*$/, '* OK $1')));
      }
    };
    const setup = await login(port);
    await setup.cmd('CREATE Diff');
    await appendMany(setup, 'Diff', 30);
    setup.close();
    const a = await login(port);
    await run(a, 'ENABLE QRESYNC');
    const sel = await a.cmd('SELECT Diff');
    const uidValidity = code(sel, 'UIDVALIDITY');
    const modseq = code(sel, 'HIGHESTMODSEQ');
    values.set(uidValidity!, 'uidvalidity').set(modseq!, 'modseq');
    a.close();
    const b = await login(port);
    await run(b, 'SELECT Diff (CONDSTORE)');
    await run(b, 'STORE 2:6 +FLAGS (\\Seen)');
    await run(b, 'STORE 8,10 FLAGS.SILENT ($Label)');
    await run(b, 'STORE 12:14,20 +FLAGS.SILENT (\\Deleted)');
    await run(b, 'EXPUNGE');
    await run(b, 'FETCH 1:4 (FLAGS MODSEQ)');
    await run(b, 'SEARCH MODSEQ 2');
    b.close();
    const c = await login(port);
    await run(c, 'ENABLE QRESYNC');
    await run(c, `SELECT Diff (QRESYNC (${uidValidity} ${modseq} 1:30))`);
    await run(c, `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    await run(c, `UID FETCH 5:15 (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    await run(c, `STORE 1,2 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Answered)`);
    await run(c, 'STORE 3 +FLAGS.SILENT (\\Flagged)');
    await run(c, 'UID STORE 30 +FLAGS (\\Deleted)');
    await run(c, 'UID EXPUNGE 30');
    await run(c, `EXAMINE Diff (QRESYNC (${uidValidity} ${modseq}))`);
    await run(c, 'STATUS INBOX (HIGHESTMODSEQ)');
    c.close();
    return out;
  }

  test('resync after flag changes and expunges in another session answers as Dovecot does', async (t) => {
    const { requirePeer, startDovecot } = await import('../interop/peers.js');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    if (!requirePeer(t, 'dovecot')) return;
    const base = mkdtempSync(join(tmpdir(), 'roost-condstore-diff-'));
    try {
      const dovecot = await startDovecot({ dir: join(base, 'dovecot'), users: [USER], protocols: ['imap'] });
      let theirs: string[];
      try {
        theirs = await resyncScript(dovecot.imapPort);
      } finally {
        await dovecot.stop();
      }
      const ours = await resyncScript(roost.ports.imap);
      t.diagnostic(`compared ${ours.length} lines`);
      assert.deepEqual(ours, theirs);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
