// Crash safety of the mbox expunge (RFC 9051 section 6.4.3 EXPUNGE over Dovecot's mbox format): the daemon is SIGKILLed at
// random moments while it expunges; no partial message, confirmed expunges gone, the rest once with UIDs and flags, same UIDs after a rebuild.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mainScript, repoRoot, startRoost, type RoostHandle, type RoostUser } from '../helpers/roost.js';
import { readReply, taggedSession, type TaggedSession } from '../helpers/imap-session.js';
import { readMboxFile } from '../helpers/mbox-file.js';
import { openUserStorage } from '../../src/storage/api.js';

const CYCLES = Number(process.env.CRASH_CYCLES ?? 8);
/** The ceiling: 170 s for the default 8 cycles, and as much per cycle when CRASH_CYCLES asks for more. */
const TIMEOUT_MS = 170_000 * Math.max(1, CYCLES / 8);
const SEEDED = 240;
const USER = 'mbx';
const PASSWORD = 'pw';

/** mulberry32: a small seeded generator so a failing run can be repeated with CRASH_SEED. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Message n: a header naming its body length, and a body that can only be whole ("BEGIN", the lines, "END"). */
function messageText(n: number, lines: number): string {
  return (
    `From: crash@example.org\nTo: ${USER}@localhost\nSubject: expunge crash ${n}\nMessage-ID: <m${n}@expunge.crash>\nX-Body-Lines: ${lines}\n\n` +
    expectedBody(n, lines)
  );
}

function expectedBody(n: number, lines: number): string {
  return `BEGIN m${n}\n` + `${'y'.repeat(70)} ${n}\n`.repeat(lines) + `END m${n}\n`;
}

interface Expected {
  uid: number;
  /** flags without \Recent, sorted */
  flags: string[];
}

interface FileView {
  uidValidity: number;
  lastUid: number;
  /** message id → uid and flags, as the file holds them */
  messages: Map<string, Expected>;
}

/**
 * Reads the mbox as it lies on disk and checks every message is whole: its body is exactly the one its Message-ID and
 * X-Body-Lines announce, its Content-Length matches, it has an X-UID; no id and no UID twice; UIDs ascend.
 */
async function fileView(path: string, what: string): Promise<FileView> {
  const msgs = readMboxFile(await readFile(path, 'latin1'), what).filter((m) => !m.pseudo);
  assert.ok(msgs.length > 0, `${what}: the mbox holds mail`);
  const base = msgs[0]!.imapBase;
  assert.ok(base, `${what}: the first message holds X-IMAPbase`);
  const messages = new Map<string, Expected>();
  let previous = 0;
  for (const m of msgs) {
    const id = m.messageId;
    assert.ok(id && /^m\d+@expunge\.crash$/.test(id), `${what}: a message with an unknown Message-ID ${id}`);
    const n = Number(/^m(\d+)@/.exec(id)![1]);
    const lines = Number(m.headers.get('x-body-lines')?.[0]);
    assert.ok(m.body === expectedBody(n, lines), `${what}: ${id} is whole (${lines} body lines and its END line)`);
    assert.equal(m.contentLength, Buffer.byteLength(m.body, 'latin1'), `${what}: ${id} Content-Length`);
    assert.ok(m.uid !== undefined && m.uid > previous, `${what}: ${id} has an X-UID above the previous one (${m.uid} after ${previous})`);
    assert.ok(!messages.has(id), `${what}: ${id} is in the file once`);
    messages.set(id, { uid: m.uid, flags: m.flags });
    previous = m.uid;
  }
  assert.ok(base.lastUid >= previous, `${what}: X-IMAPbase's last UID ${base.lastUid} covers UID ${previous}`);
  return { uidValidity: base.uidValidity, lastUid: base.lastUid, messages };
}

interface ImapView {
  uidValidity: number;
  uidNext: number;
  /** message id → uid and flags (without \Recent) */
  messages: Map<string, Expected>;
}

/** SELECT INBOX and UID FETCH of every message's flags and Message-ID. */
async function imapView(s: TaggedSession): Promise<ImapView> {
  const selected = await s.cmd('SELECT INBOX');
  assert.match(selected.at(-1)!, /^TAG OK/, selected.join('\n'));
  const uidValidity = Number(/\[UIDVALIDITY (\d+)\]/.exec(selected.join('\n'))?.[1]);
  const uidNext = Number(/\[UIDNEXT (\d+)\]/.exec(selected.join('\n'))?.[1]);
  s.c.send('v1 UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n');
  const lines = await readReply(s.c, 'v1');
  assert.match(lines.at(-1)!, /^v1 OK/, lines.join('\n'));
  const messages = new Map<string, Expected>();
  for (const line of lines.slice(0, -1)) {
    if (!/^\* \d+ FETCH/.test(line)) continue;
    const uid = Number(/UID (\d+)/.exec(line)?.[1]);
    const flags = (/FLAGS \(([^)]*)\)/.exec(line)?.[1] ?? '').split(' ').filter((f) => f && f !== '\\Recent').sort();
    const id = /Message-ID: <([^>]+)>/i.exec(line)?.[1];
    assert.ok(id, line);
    assert.ok(!messages.has(id), `IMAP shows ${id} once`);
    messages.set(id, { uid, flags });
  }
  return { uidValidity, uidNext, messages };
}

/** Names, sizes and (for lock files) contents of a directory's files, for the report when a wait times out. */
async function describeDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir)) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    out[name] = `${st?.size ?? '?'} bytes` + (name.endsWith('.lock') ? `: ${JSON.stringify(await readFile(join(dir, name), 'latin1').catch(() => ''))}` : '');
  }
  return out;
}

function runRoostCli(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', mainScript, ...args], { cwd: repoRoot, env: { ...process.env, ROOST_LOG_LEVEL: 'warn' } });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

function sorted(map: Map<string, Expected>): Array<[string, number, string[]]> {
  return [...map.entries()].map(([id, e]): [string, number, string[]] => [id, e.uid, e.flags]).sort((a, b) => a[1] - b[1]);
}

test('SIGKILL during mbox EXPUNGE, many times over: nothing partial, confirmed expunges gone, the rest kept with UIDs and flags, rebuild keeps UIDs', { timeout: TIMEOUT_MS }, async (t) => {
  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`CRASH_SEED=${seed} CRASH_CYCLES=${CYCLES}`);
  const random = seededRandom(seed);
  const base = await mkdtemp(join(tmpdir(), 'roost-mbox-crash-'));
  const dataDir = join(base, 'data');
  const mailDir = join(base, 'home', USER, 'mail');
  const inbox = join(mailDir, 'inbox');
  const location = `mbox:${mailDir}:INBOX=${inbox}`;
  const users: RoostUser[] = [{ name: USER, password: PASSWORD, extra: `userdb_mail=${location}` }];
  let h: RoostHandle | undefined;
  try {
    await mkdir(mailDir, { recursive: true });
    // The mailbox: numbered messages of 1-30 KB (so that a rewrite takes a while), some with flags and keywords.
    const expected = new Map<string, Expected>();
    const st = await openUserStorage({ user: USER, mail: location }, { dataDir, defaultMailLocation: '', fsync: false });
    try {
      for (let n = 1; n <= SEEDED; n++) {
        const flags = [...(n % 3 === 0 ? ['\\Seen'] : []), ...(n % 7 === 0 ? ['\\Flagged'] : []), ...(n % 11 === 0 ? ['$Label1'] : [])];
        const { uid } = await st.save('INBOX', Buffer.from(messageText(n, 10 + Math.floor(random() * 400))), { flags });
        expected.set(`m${n}@expunge.crash`, { uid, flags: flags.sort() });
      }
    } finally {
      await st.close();
    }
    const first = await fileView(inbox, 'seeded');
    assert.deepEqual(sorted(first.messages), sorted(expected));

    /** Messages a confirmed EXPUNGE removed; messages marked \Deleted whose expunge was not confirmed. */
    const gone = new Set<string>();
    const doomed = new Set<string>();
    let expungeMs = 0;
    let appliedUnconfirmed = 0;
    let notApplied = 0;
    let lastUidValidity = first.uidValidity;

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      let confirmed = false;
      let report = '';
      h = await startRoost({ dataDir, users });
      const s = await taggedSession(h.ports.imap!, USER, PASSWORD, 'c');
      try {
        // Recovery: IMAP shows what the file holds, and the file holds what is expected.
        const view = await imapView(s).catch(async (err: Error) => {
          throw new Error(`${err.message}; mail directory: ${JSON.stringify(await describeDir(mailDir))}\n${h?.output.slice(-15).join('\n')}`);
        });
        const disk = await fileView(inbox, `cycle ${cycle} after restart`);
        assert.equal(view.uidValidity, lastUidValidity, `cycle ${cycle}: UIDVALIDITY kept`);
        assert.deepEqual(sorted(view.messages), sorted(disk.messages), `cycle ${cycle}: IMAP shows the messages, UIDs and flags of the file`);
        const leftovers = (await readdir(mailDir)).filter((f) => /\.roost-(rewrite|save)\./.test(f));
        assert.deepEqual(leftovers, [], `cycle ${cycle}: no temp files of an interrupted rewrite remain after recovery`);

        // A confirmed EXPUNGE of one message first, timed: the SIGKILL below falls within that time, mostly inside the expunge.
        const candidates = sorted(expected).filter(([id]) => !doomed.has(id));
        const [probeId, probeUid] = candidates[Math.floor(random() * candidates.length)]!;
        assert.match((await s.cmd(`UID STORE ${probeUid} +FLAGS.SILENT (\\Deleted)`)).at(-1)!, /^TAG OK/);
        const probeStart = performance.now();
        assert.match((await s.cmd('EXPUNGE')).at(-1)!, /^TAG OK/);
        expungeMs = performance.now() - probeStart;
        for (const id of [probeId, ...doomed]) {
          gone.add(id);
          expected.delete(id);
        }
        doomed.clear();

        // Mark some messages \Deleted: at random, or (every third cycle) the last few, which Roost expunges by truncation.
        const live = sorted(expected).filter(([id]) => !doomed.has(id));
        const count = 2 + Math.floor(random() * 8);
        const chosen = cycle % 3 === 2 ? live.slice(-count) : live.filter(() => random() < count / live.length);
        if (chosen.length === 0) chosen.push(live[Math.floor(random() * live.length)]!);
        const uids = chosen.map(([, uid]) => uid).join(',');
        assert.match((await s.cmd(`UID STORE ${uids} +FLAGS.SILENT (\\Deleted)`)).at(-1)!, /^TAG OK/);
        for (const [id] of chosen) {
          doomed.add(id);
          const e = expected.get(id)!;
          e.flags = [...new Set([...e.flags, '\\Deleted'])].sort();
        }
        // And change a kept message's flags (an in-place header rewrite before the expunge).
        const [keptId, keptUid] = live.filter(([id]) => !doomed.has(id))[Math.floor(random() * (live.length - chosen.length))]!;
        const kept = expected.get(keptId)!;
        const toggle = kept.flags.includes('\\Answered') ? '-' : '+';
        assert.match((await s.cmd(`UID STORE ${keptUid} ${toggle}FLAGS.SILENT (\\Answered)`)).at(-1)!, /^TAG OK/);
        kept.flags = toggle === '+' ? [...kept.flags, '\\Answered'].sort() : kept.flags.filter((f) => f !== '\\Answered');

        // EXPUNGE, and SIGKILL at a random moment around the time an expunge takes.
        const delay = Math.floor(random() * expungeMs);
        const sent = performance.now();
        s.c.send('x1 EXPUNGE\r\n');
        let tookMs: number | undefined;
        const reply = s.c
          .readUntil((l) => l.startsWith('x1 '), 60_000)
          .then((lines) => {
            tookMs = performance.now() - sent;
            return lines;
          })
          .catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, delay));
        await h.kill();
        h = undefined;
        const answer = await reply;
        confirmed = answer !== undefined && /^x1 OK/.test(answer.at(-1)!);
        report = `cycle ${cycle}: ${chosen.length} marked, SIGKILL ${delay} ms after EXPUNGE (a probe took ${Math.round(expungeMs)} ms), ${confirmed ? `confirmed in ${Math.round(tookMs!)} ms` : 'unconfirmed'}`;
        if (confirmed) {
          for (const id of doomed) {
            gone.add(id);
            expected.delete(id);
          }
          doomed.clear();
        }
      } finally {
        s.close();
      }

      // Straight after the crash, before anything recovers: every message whole and once; the confirmed ones gone;
      // every message not marked \Deleted there with its UID and flags; each unconfirmed one whole or gone.
      const after = await fileView(inbox, `cycle ${cycle} after SIGKILL`);
      for (const id of gone) assert.ok(!after.messages.has(id), `cycle ${cycle}: ${id} was expunged with a tagged OK and is gone`);
      for (const [id, e] of expected) {
        const found = after.messages.get(id);
        if (doomed.has(id) && !found) continue;
        assert.deepEqual(found, e, `cycle ${cycle}: ${id} is there with UID ${e.uid} and flags ${e.flags.join(' ')}`);
      }
      for (const id of after.messages.keys()) assert.ok(expected.has(id), `cycle ${cycle}: ${id} is expected`);
      // Unconfirmed expunges that did happen are expected no more.
      const marked = doomed.size;
      for (const id of [...doomed]) {
        if (after.messages.has(id)) continue;
        doomed.delete(id);
        expected.delete(id);
      }
      if (!confirmed && doomed.size < marked) appliedUnconfirmed++;
      if (!confirmed && doomed.size === marked) notApplied++;
      t.diagnostic(`${report}; ${marked - doomed.size} of ${marked} gone from the file`);
      lastUidValidity = after.uidValidity;
    }
    t.diagnostic(`of ${CYCLES} kills: ${notApplied} before the expunge reached the file, ${appliedUnconfirmed} after it but before the OK, the rest after the OK`);

    // Once more up, then the index is thrown away and rebuilt by `roost index rebuild`: the same UIDVALIDITY, UIDs, flags, UIDNEXT.
    h = await startRoost({ dataDir, users });
    let s = await taggedSession(h.ports.imap!, USER, PASSWORD, 'r');
    const recovered = await imapView(s);
    s.close();
    assert.deepEqual(sorted(recovered.messages), sorted(expected), 'the recovered index holds what is expected');
    await h.stop();
    h = undefined;
    await rm(join(dataDir, 'index'), { recursive: true, force: true });
    const rebuild = await runRoostCli(['index', 'rebuild', USER, '--data', dataDir, '--config', join(dataDir, 'roost-test.toml')]);
    assert.equal(rebuild.code, 0, rebuild.output);
    h = await startRoost({ dataDir, users });
    s = await taggedSession(h.ports.imap!, USER, PASSWORD, 'b');
    const rebuilt = await imapView(s);
    s.close();
    assert.equal(rebuilt.uidValidity, recovered.uidValidity, 'UIDVALIDITY after the rebuild');
    assert.equal(rebuilt.uidNext, recovered.uidNext, 'UIDNEXT after the rebuild');
    assert.deepEqual(sorted(rebuilt.messages), sorted(recovered.messages), 'the rebuilt index has the same UIDs and flags');
  } finally {
    if (h) await h.kill();
    await rm(base, { recursive: true, force: true });
  }
});
