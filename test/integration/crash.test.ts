// Crash safety of Maildir delivery and the LMDB index: the daemon is SIGKILLed at random moments while Python
// LMTP clients send numbered messages and IMAP clients storm STORE; no partial or lost mail, same UIDs after a rebuild.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { mainScript, repoRoot, startRoost, type RoostHandle, type RoostUser } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';
import { openUserStorage } from '../../src/storage/api.js';
import { lettersToFlags, parseMaildirFilename } from '../../src/storage/backends/maildir/filename.js';
import { parseKeywordsFile } from '../../src/storage/backends/maildir/keywords.js';
import { parseUidlist } from '../../src/storage/backends/maildir/uidlist.js';

const CYCLES = Number(process.env.CRASH_CYCLES ?? 3);
const LMTP_CLIENTS = 3;
const STORE_CLIENTS = 2;
const SEEDED = 40;
const USERS: RoostUser[] = [
  { name: 'alice', password: 'pw' },
  { name: 'bob', password: 'pw' },
];

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

/** Sends numbered messages over one LMTP connection until the server goes away; prints "ACK <id>" after each 250. */
const LMTP_CLIENT = `
import smtplib, sys, random
port, prefix, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rnd = random.Random(seed)
try:
    c = smtplib.LMTP('127.0.0.1', port)
    c.ehlo_or_helo_if_needed()
    for n in range(100000):
        mid = '%s-%d' % (prefix, n)
        lines = rnd.randint(20, 2500)
        body = ('x' * 76 + '\\r\\n') * lines
        msg = ('From: crash@example.org\\r\\nTo: alice@localhost\\r\\nSubject: %s\\r\\nMessage-ID: <%s@crash.test>\\r\\n'
               'X-Body-Lines: %d\\r\\n\\r\\nBEGIN %s\\r\\n%sEND %s\\r\\n') % (mid, mid, lines, mid, body, mid)
        c.sendmail('crash@example.org', ['alice@localhost'], msg.encode())
        print('ACK', mid, flush=True)
except Exception as e:
    print('STOP', type(e).__name__, flush=True)
`;

/** Changes flags and keywords of random UID ranges of bob's INBOX until the server goes away. */
const STORE_CLIENT = `
import imaplib, sys, random
port, seed, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
flags = ['\\\\Seen', '\\\\Flagged', '\\\\Answered', '\\\\Draft', '$Label1', '$Label2', 'Work', 'Later']
try:
    M = imaplib.IMAP4('127.0.0.1', port)
    M.login('bob', 'pw')
    M.select('INBOX')
    print('READY', flush=True)
    n = 0
    while True:
        lo = rnd.randint(1, count)
        hi = min(count, lo + rnd.randint(0, 12))
        op = rnd.choice(['+FLAGS.SILENT', '-FLAGS.SILENT', 'FLAGS.SILENT'])
        chosen = ' '.join(rnd.sample(flags, rnd.randint(1, 3)))
        typ, data = M.uid('STORE', '%d:%d' % (lo, hi), op, '(%s)' % chosen)
        if typ != 'OK':
            raise Exception('STORE answered %s %r' % (typ, data))
        n += 1
        print('STORED', n, flush=True)
except Exception as e:
    print('STOP', type(e).__name__, str(e)[:200], flush=True)
`;

/** Each user's INBOX as IMAP shows it (EXAMINE, so nothing changes): UIDVALIDITY and [uid, message-id, flags]. */
const IMAP_SNAPSHOT = `
import imaplib, sys, json, re
port = int(sys.argv[1])
out = {}
for user in sys.argv[2:]:
    M = imaplib.IMAP4('127.0.0.1', port)
    M.login(user, 'pw')
    typ, data = M.select('INBOX', readonly=True)
    exists = int(data[0])
    uidvalidity = int(M.response('UIDVALIDITY')[1][0])
    msgs = []
    if exists:
        typ, data = M.uid('FETCH', '1:*', '(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])')
        assert typ == 'OK', data
        i = 0
        while i < len(data):
            item = data[i]
            if isinstance(item, tuple):
                text = item[0]
                if i + 1 < len(data) and isinstance(data[i + 1], bytes):
                    text += data[i + 1]
                text = text.decode()
                uid = int(re.search(r'UID (\\d+)', text).group(1))
                flags = re.search(r'FLAGS \\(([^)]*)\\)', text).group(1).split()
                mid = re.search(rb'<([^>@]*)@', item[1]).group(1).decode()
                msgs.append([uid, mid, sorted(f for f in flags if f != '\\\\Recent')])
            i += 1
    msgs.sort()
    out[user] = {'uidValidity': uidvalidity, 'messages': msgs}
    M.logout()
print(json.dumps(out))
`;

interface MailboxSnapshot {
  uidValidity: number;
  /** [uid, message-id, flags without \Recent], ascending by UID. */
  messages: Array<[number, string, string[]]>;
}
type Snapshot = Record<string, MailboxSnapshot>;

/** The snapshot; when it fails (a SELECT answered [INUSE]), the error names the dotlocks left in `dataDir`. */
async function imapSnapshot(port: number, dataDir: string): Promise<Snapshot> {
  try {
    return JSON.parse(await runPython(IMAP_SNAPSHOT, [port, ...USERS.map((u) => u.name)])) as Snapshot;
  } catch (err) {
    throw new Error(`${(err as Error).message}; locks left: ${JSON.stringify(await lockFiles(dataDir))}`, { cause: err });
  }
}

/** A Python client whose stdout lines arrive as they are printed. */
interface StreamingClient {
  lines: string[];
  exited: Promise<void>;
}

function startClient(code: string, args: (string | number)[], onLine: (line: string) => void): StreamingClient {
  const child = spawn('python3', ['-c', code, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    onLine(line);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`python client exited ${status}: ${stderr}`))));
  });
  return { lines, exited };
}

/** Resolves when `condition` holds, checked after every client line; rejects after `ceilingMs`. */
class Progress {
  private waiters: Array<() => void> = [];
  acks = 0;
  stores = 0;
  ready = 0;

  note(line: string): void {
    if (line.startsWith('ACK ')) this.acks++;
    else if (line.startsWith('STORED ')) this.stores++;
    else if (line === 'READY') this.ready++;
    for (const w of [...this.waiters]) w();
  }

  until(condition: () => boolean, ceilingMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (condition()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} (acks ${this.acks}, stores ${this.stores})`)), ceilingMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }
}

async function maildirFiles(maildir: string): Promise<Array<{ subdir: string; name: string }>> {
  const out: Array<{ subdir: string; name: string }> = [];
  for (const subdir of ['new', 'cur']) {
    for (const name of await readdir(join(maildir, subdir))) if (!name.startsWith('.')) out.push({ subdir, name });
  }
  return out;
}

/**
 * Reads every visible message of alice's INBOX and checks it is whole: headers, "BEGIN id", the announced number of
 * body lines, "END id" last, and the file size the name claims. Returns how often each message id occurs.
 */
async function wholeMessagesIn(maildir: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { subdir, name } of await maildirFiles(maildir)) {
    const data = await readFile(join(maildir, subdir, name));
    const text = data.toString('latin1');
    const parsed = parseMaildirFilename(name);
    assert.equal(data.length, parsed.size, `${name}: S= size matches the file`);
    const id = /\nMessage-ID: <([^>]+)@crash\.test>\n/.exec(text)?.[1];
    assert.ok(id, `${name}: has its Message-ID`);
    const lines = Number(/\nX-Body-Lines: (\d+)\n/.exec(text)?.[1]);
    const bodyStart = text.indexOf('\n\n') + 2;
    const expectedBody = `BEGIN ${id}\n` + ('x'.repeat(76) + '\n').repeat(lines) + `END ${id}\n`;
    assert.ok(text.slice(bodyStart) === expectedBody, `${name} (${id}): the whole body, ${lines} lines and the end marker`);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** bob's flags as the store holds them: UID from dovecot-uidlist, letters from the file name, keywords from dovecot-keywords. */
async function storeFlags(maildir: string): Promise<Map<number, string[]>> {
  const uidlist = parseUidlist(await readFile(join(maildir, 'dovecot-uidlist'), 'utf8'));
  const keywords = parseKeywordsFile(await readFile(join(maildir, 'dovecot-keywords'), 'utf8').catch(() => ''));
  const uidByBase = new Map(uidlist.records.map((r) => [r.filename, r.uid]));
  const out = new Map<number, string[]>();
  for (const { name } of await maildirFiles(maildir)) {
    const parsed = parseMaildirFilename(name);
    const uid = uidByBase.get(parsed.base);
    assert.ok(uid !== undefined, `${name} has a UID in dovecot-uidlist`);
    const { systemFlags, keywordIndexes } = lettersToFlags(parsed.letters);
    out.set(uid, [...systemFlags, ...keywordIndexes.map((i) => keywords.get(i)!)].sort());
  }
  return out;
}

/** Every dotlock in the data directory with its content (for the report when a wait times out). */
async function lockFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.lock')) {
      const path = join(entry.parentPath, entry.name);
      out[path] = await readFile(path, 'utf8').catch((err: Error) => `(${err.message})`);
    }
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

test('SIGKILL during LMTP DATA and a STORE storm: no partial or lost mail, index consistent, rebuild keeps UIDs', { timeout: 170_000 }, async (t) => {
  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`CRASH_SEED=${seed}`);
  const random = seededRandom(seed);
  const dataDir = await mkdtemp(join(tmpdir(), 'roost-crash-'));
  const aliceMaildir = join(dataDir, 'mail', 'alice', 'Maildir');
  const bobMaildir = join(dataDir, 'mail', 'bob', 'Maildir');
  const storageOptions = { dataDir, defaultMailLocation: '', fsync: true };
  let h: RoostHandle | undefined;
  try {
    // bob's INBOX: numbered messages the STORE storm works on (UIDs 1..SEEDED).
    const bob = await openUserStorage({ user: 'bob' }, storageOptions);
    try {
      for (let i = 1; i <= SEEDED; i++) await bob.save('INBOX', Buffer.from(`Subject: bob ${i}\r\nMessage-ID: <bob-${i}@crash.test>\r\n\r\nbody ${i}\r\n`), { flags: i % 2 ? ['\\Seen'] : [] });
    } finally {
      await bob.close();
    }

    const acked = new Set<string>();
    let previous: Snapshot | undefined;
    const bobIds = Array.from({ length: SEEDED }, (_, i) => [i + 1, `bob-${i + 1}`]);

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      h = await startRoost({ dataDir, users: USERS });
      const lmtpPort = h.ports.lmtp!;
      const imapPort = h.ports.imap!;

      // Recovery: what IMAP shows matches the store, and UIDs seen before the crash did not move.
      const snap = await imapSnapshot(imapPort, dataDir);
      const fileCounts = await wholeMessagesIn(aliceMaildir);
      assert.deepEqual(
        snap.alice!.messages.map((m) => m[1]).sort(),
        [...fileCounts.keys()].sort(),
        `cycle ${cycle}: IMAP shows exactly the messages in the Maildir`,
      );
      assert.equal(new Set(snap.alice!.messages.map((m) => m[0])).size, snap.alice!.messages.length, 'UIDs are unique');
      assert.deepEqual(snap.bob!.messages.map((m) => [m[0], m[1]]), bobIds, `cycle ${cycle}: bob keeps UIDs 1..${SEEDED}`);
      const flagsInStore = await storeFlags(bobMaildir);
      for (const [uid, , flags] of snap.bob!.messages) assert.deepEqual(flags, flagsInStore.get(uid), `cycle ${cycle}: bob UID ${uid} flags in the index equal the store's`);
      if (previous) {
        assert.equal(snap.alice!.uidValidity, previous.alice!.uidValidity);
        assert.equal(snap.bob!.uidValidity, previous.bob!.uidValidity);
        const uidNow = new Map(snap.alice!.messages.map((m) => [m[1], m[0]]));
        for (const [uid, id] of previous.alice!.messages) assert.equal(uidNow.get(id), uid, `cycle ${cycle}: ${id} keeps UID ${uid}`);
      }
      previous = snap;

      // The storm: LMTP deliveries to alice and STOREs on bob, killed once a random amount of work was acknowledged.
      const progress = new Progress();
      const clients: StreamingClient[] = [];
      for (let c = 0; c < STORE_CLIENTS; c++) clients.push(startClient(STORE_CLIENT, [imapPort, Math.floor(random() * 1e9), SEEDED], (l) => progress.note(l)));
      for (let c = 0; c < LMTP_CLIENTS; c++) {
        clients.push(
          startClient(LMTP_CLIENT, [lmtpPort, `k${cycle}-c${c}`, Math.floor(random() * 1e9)], (l) => {
            if (l.startsWith('ACK ')) acked.add(l.slice(4));
            progress.note(l);
          }),
        );
      }
      const wantAcks = 1 + Math.floor(random() * 12);
      const wantStores = 1 + Math.floor(random() * 20);
      await progress.until(() => progress.acks >= wantAcks && progress.stores >= wantStores && progress.ready === STORE_CLIENTS, 40_000, 'deliveries and stores under way').catch(async (err: Error) => {
        t.diagnostic(`locks left: ${JSON.stringify(await lockFiles(dataDir))}; client output: ${JSON.stringify(clients.map((c) => c.lines.filter((l) => !l.startsWith('ACK')).slice(-3)))}`);
        throw err;
      });
      // A random moment inside the running deliveries: up to 40 ms past the point reached above.
      const jitterMs = Math.floor(random() * 40);
      if (jitterMs > 0) await new Promise((resolve) => setTimeout(resolve, jitterMs));
      await h.kill();
      h = undefined;
      await Promise.all(clients.map((c) => c.exited));
      t.diagnostic(`cycle ${cycle}: killed after ${progress.acks} acks and ${progress.stores} stores (+${jitterMs} ms)`);

      // Straight after the crash, before anything recovers: no partial message is visible, no message twice,
      // every acknowledged one present.
      const counts = await wholeMessagesIn(aliceMaildir);
      for (const [id, n] of counts) assert.equal(n, 1, `cycle ${cycle}: ${id} is stored once`);
      for (const id of acked) assert.ok(counts.has(id), `cycle ${cycle}: acknowledged ${id} is in the Maildir`);
    }

    // Recovery once more, then the index is thrown away and rebuilt by `roost index rebuild`: same UIDs, flags, UIDVALIDITY.
    h = await startRoost({ dataDir, users: USERS });
    const recovered = await imapSnapshot(h.ports.imap!, dataDir);
    const flagsInStore = await storeFlags(bobMaildir);
    for (const [uid, , flags] of recovered.bob!.messages) assert.deepEqual(flags, flagsInStore.get(uid), `bob UID ${uid}: index flags equal the store's`);
    assert.deepEqual(recovered.alice!.messages.map((m) => m[1]).sort(), [...(await wholeMessagesIn(aliceMaildir)).keys()].sort());
    assert.ok(acked.size >= CYCLES, 'messages were acknowledged in every cycle');
    await h.stop();
    h = undefined;

    await rm(join(dataDir, 'index'), { recursive: true, force: true });
    const config = join(dataDir, 'roost-test.toml');
    const rebuilds = await Promise.all(USERS.map((u) => runRoostCli(['index', 'rebuild', u.name, '--data', dataDir, '--config', config])));
    for (const r of rebuilds) assert.equal(r.code, 0, `${r.output}; locks left: ${JSON.stringify(await lockFiles(dataDir))}`);

    h = await startRoost({ dataDir, users: USERS });
    const rebuilt = await imapSnapshot(h.ports.imap!, dataDir);
    assert.deepEqual(rebuilt, recovered, 'the rebuilt index has the same UIDVALIDITY, UIDs, message ids and flags');
  } finally {
    if (h) await h.kill();
    await rm(dataDir, { recursive: true, force: true });
  }
});
