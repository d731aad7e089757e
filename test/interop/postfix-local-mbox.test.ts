// Postfix's own local(8) delivery agent appending to an mbox (its mailbox_delivery_lock: dotlock + fcntl) that a Roost IMAP
// session has selected: IDLE sees the mail (RFC 2177, RFC 9051 section 7.4.1), UIDs, flags and Dovecot metadata headers survive.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { readReply, taggedSession, type TaggedSession } from '../helpers/imap-session.js';
import { readMboxFile, type MboxFileMessage } from '../helpers/mbox-file.js';
import { openUserStorage } from '../../src/storage/api.js';
import { ensureMailUser, makeTraversable, requirePeer, startPostfix, waitFor, type PostfixHandle } from './peers.js';

/** The system account local(8) delivers to: it must exist in /etc/passwd and own its mailbox. */
const USER = 'roostlocal';
const PASSWORD = 'local-pw';
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/**
 * Sends numbered messages through Postfix's smtpd over one SMTP session: a number on stdin sends that message, "SENT id"
 * on stdout acknowledges it; each body has a line starting with "From " (local(8) quotes it).
 */
const SENDER = `
import smtplib, sys
port, prefix = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP('127.0.0.1', port)
for line in sys.stdin:
    n = int(line)
    mid = '%s%d' % (prefix, n)
    lines = ''.join('line %d of %s\\r\\n' % (i, mid) for i in range(n % 40 + 3))
    body = 'BEGIN %s\\r\\nFrom the middle of a sentence, a line that starts with From\\r\\n%sEND %s\\r\\n' % (mid, lines, mid)
    msg = 'From: sender@example.net\\r\\nTo: ${USER}@localhost\\r\\nSubject: local %s\\r\\nMessage-ID: <%s@postfix.local>\\r\\n\\r\\n%s' % (mid, mid, body)
    s.sendmail('sender@example.net', ['${USER}@localhost'], msg.encode())
    print('SENT', mid, flush=True)
s.quit()
`;

/** The body Roost must serve for a message the sender above sent: CRLF, and local(8)'s ">From " quoting. */
function sentBody(mid: string): string {
  const n = Number(/(\d+)$/.exec(mid)![1]);
  let lines = '';
  for (let i = 0; i < (n % 40) + 3; i++) lines += `line ${i} of ${mid}\r\n`;
  return `BEGIN ${mid}\r\n>From the middle of a sentence, a line that starts with From\r\n${lines}END ${mid}\r\n`;
}

interface Sender {
  /** Sends message <prefix><n>; resolves with its id once Postfix accepted it. */
  send(n: number): Promise<string>;
  close(): Promise<void>;
}

function startSender(port: number, prefix: string): Sender {
  const child = spawn('python3', ['-c', SENDER, String(port), prefix], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const waiting: Array<{ resolve: (id: string) => void; reject: (err: Error) => void }> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('SENT ')) waiting.shift()?.resolve(line.slice(5));
  });
  const exited = new Promise<void>((resolve) =>
    child.on('close', (code) => {
      for (const w of waiting.splice(0)) w.reject(new Error(`sender exited ${code}: ${stderr}`));
      resolve();
    }),
  );
  return {
    send: (n) =>
      new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write(`${n}\n`);
      }),
    close: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

async function sendThroughPostfix(port: number, prefix: string, count: number): Promise<string[]> {
  const sender = startSender(port, prefix);
  try {
    return await Promise.all(Array.from({ length: count }, (_, i) => sender.send(i + 1)));
  } finally {
    await sender.close();
  }
}

interface Fetched {
  uid: number;
  /** without \Recent, sorted */
  flags: string[];
  id: string;
  text?: string;
}

/** UID FETCH 1:* of UID, FLAGS and the Message-ID (or the whole message); by Message-ID. */
async function fetchAll(s: TaggedSession, tag: string, whole = false): Promise<Map<string, Fetched>> {
  s.c.send(`${tag} UID FETCH 1:* (UID FLAGS ${whole ? 'BODY.PEEK[]' : 'BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]'})\r\n`);
  const lines = await readReply(s.c, tag);
  assert.match(lines.at(-1)!, new RegExp(`^${tag} OK`), lines.join('\n'));
  const out = new Map<string, Fetched>();
  for (const line of lines.slice(0, -1)) {
    if (!/^\* \d+ FETCH/.test(line)) continue;
    const uid = Number(/UID (\d+)/.exec(line)?.[1]);
    const flags = (/FLAGS \(([^)]*)\)/.exec(line)?.[1] ?? '').split(' ').filter((f) => f && f !== '\\Recent').sort();
    const literal = /\{(\d+)\}\n/.exec(line);
    const text = literal ? line.slice(literal.index + literal[0].length, literal.index + literal[0].length + Number(literal[1])) : '';
    const id = /^Message-ID: <([^>]+)>/im.exec(text)?.[1];
    assert.ok(id, `a Message-ID in ${line.slice(0, 200)}`);
    assert.ok(!out.has(id), `${id} once`);
    out.set(id, { uid, flags, id, text: whole ? text : undefined });
  }
  return out;
}

/** Reads lines of an IDLE until `* N EXISTS` with N >= want (IDLE keepalives and other untagged lines pass by). */
async function idleUntilExists(s: TaggedSession, want: number, what: string): Promise<number> {
  for (;;) {
    const line = await s.c.readLine(60_000);
    if (line === null) throw new Error(`connection closed while waiting for ${what}`);
    const m = /^\* (\d+) EXISTS$/.exec(line);
    if (m && Number(m[1]) >= want) return Number(m[1]);
  }
}

test("Postfix local(8) appends to an mbox a Roost session has selected: IDLE sees it, nothing is lost or corrupted", { timeout: 240_000 }, async (t) => {
  if (!requirePeer(t, 'postfix')) return;
  const system = ensureMailUser(USER);
  const base = mkdtempSync(join(tmpdir(), 'roost-postfix-local-'));
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  // local(8) delivers to mail_spool_directory/<user>; the spool is root's (0755), so local(8) writes as root and
  // insists (strict_mailbox_ownership) that the mailbox belongs to the recipient.
  const spool = join(base, 'spool');
  const folders = join(base, 'home', 'mail');
  mkdirSync(spool, { recursive: true });
  mkdirSync(folders, { recursive: true });
  makeTraversable(spool);
  const inbox = join(spool, USER);
  const location = `mbox:${folders}:INBOX=${inbox}`;
  const dataDir = join(base, 'roost');

  // Three messages saved by Roost first: UIDs, flags and keywords in the file's metadata headers.
  const seeded = new Map<string, string[]>([
    ['s1@roost.local', ['\\Seen']],
    ['s2@roost.local', ['$Label1', '\\Flagged']],
    ['s3@roost.local', []],
  ]);
  const st = await openUserStorage({ user: USER, mail: location }, { dataDir, defaultMailLocation: '', fsync: false });
  try {
    for (const [id, flags] of seeded) await st.save('INBOX', Buffer.from(`From: roost@example.org\r\nSubject: seeded ${id}\r\nMessage-ID: <${id}>\r\n\r\nseeded body ${id}\r\n`), { flags });
  } finally {
    await st.close();
  }
  chownSync(inbox, system.uid, system.gid);
  const seededFile = readMboxFile(readFileSync(inbox, 'latin1'), 'seeded mbox');

  const h: RoostHandle = await startRoost({ dataDir, users: [{ name: USER, password: PASSWORD, extra: `userdb_mail=${location}` }] });
  cleanups.push(() => h.stop());
  const idler = await taggedSession(h.ports.imap!, USER, PASSWORD, 'a');
  cleanups.push(() => idler.close());
  const worker = await taggedSession(h.ports.imap!, USER, PASSWORD, 'b');
  cleanups.push(() => worker.close());
  assert.match((await idler.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);
  assert.match((await worker.cmd('SELECT INBOX')).at(-1)!, /^TAG OK/);
  const before = await fetchAll(worker, 'f0');
  assert.deepEqual([...before.keys()].sort(), [...seeded.keys()].sort());
  for (const [id, flags] of seeded) assert.deepEqual(before.get(id)!.flags, [...flags].sort(), `${id} flags`);
  const uidOf = new Map([...before].map(([id, f]) => [id, f.uid]));

  const postfix: PostfixHandle = await startPostfix({
    dir: join(base, 'postfix'),
    extraMain: {
      mail_spool_directory: spool,
      home_mailbox: '',
      mailbox_command: '',
      mailbox_transport: '',
      // a delivery deferred by a lock held too long is retried soon (and counted below), not in 5 minutes
      queue_run_delay: '1s',
      minimal_backoff_time: '1s',
      maximal_backoff_time: '2s',
    },
  });
  cleanups.push(() => postfix.stop());
  // Postfix's own default lock style (Debian: fcntl, dotlock); Roost takes both.
  t.diagnostic(`local(8) mailbox_delivery_lock = ${execFileSync('postconf', ['-c', postfix.configDir, '-h', 'mailbox_delivery_lock'], { encoding: 'utf8' }).trim()}`);
  const maillogOnFailure = (err: Error): never => {
    throw new Error(`${err.message}\n--- postfix maillog ---\n${postfix.maillog().split('\n').slice(-40).join('\n')}`);
  };

  // Round 1: the selected session IDLEs while local(8) delivers five messages.
  idler.c.send('i1 IDLE\r\n');
  assert.equal(await idler.c.readLine(), '+ idling');
  const round1 = await sendThroughPostfix(postfix.smtpPort, 'p', 5);
  await idleUntilExists(idler, seeded.size + round1.length, 'the IDLE EXISTS of round 1').catch(maillogOnFailure);
  idler.c.send('DONE\r\n');
  assert.match((await idler.c.readUntil((l) => l.startsWith('i1 '))).at(-1)!, /^i1 OK/);

  let view = await fetchAll(idler, 'f1', true);
  for (const [id, uid] of uidOf) assert.equal(view.get(id)?.uid, uid, `${id} keeps UID ${uid}`);
  for (const [id, flags] of seeded) assert.deepEqual(view.get(id)!.flags, [...flags].sort(), `${id} keeps its flags`);
  // local(8) runs several deliveries at once, so the file order (and the UID order) need not be the sending order.
  const seededMax = Math.max(...uidOf.values());
  for (const mid of round1) {
    const m = view.get(`${mid}@postfix.local`);
    assert.ok(m, `${mid} is seen by the session`);
    assert.ok(m.uid > seededMax, `${mid} gets a new UID (${m.uid} after ${seededMax})`);
    assert.ok(![...uidOf.values()].includes(m.uid), `${mid}: UID ${m.uid} is its own`);
    uidOf.set(m.id, m.uid);
    assert.deepEqual(m.flags, [], `${mid} arrives without flags`);
    assert.match(m.text!, new RegExp(`^Delivered-To: ${USER}@localhost\\r$`, 'm'), `${mid} came through local(8)`);
    assert.equal(m.text!.slice(m.text!.indexOf('\r\n\r\n') + 4), sentBody(mid), `${mid} body`);
  }
  // Roost's metadata headers of the seeded messages are intact, and the delivered ones got theirs.
  const round1File = readMboxFile(readFileSync(inbox, 'latin1'), 'mbox after round 1');
  const fileById = (msgs: MboxFileMessage[]) => new Map(msgs.filter((m) => !m.pseudo).map((m) => [m.messageId!, m]));
  for (const m of seededFile) {
    const now = fileById(round1File).get(m.messageId!);
    assert.ok(now, `${m.messageId} is in the file`);
    assert.equal(now.uid, m.uid, `${m.messageId} X-UID`);
    assert.deepEqual(now.flags, m.flags, `${m.messageId} flags in the file`);
    assert.equal(now.body, m.body, `${m.messageId} body in the file`);
  }
  assert.equal(round1File[0]!.imapBase?.uidValidity, seededFile[0]!.imapBase?.uidValidity, 'X-IMAPbase keeps UIDVALIDITY');
  for (const mid of round1) assert.equal(fileById(round1File).get(`${mid}@postfix.local`)?.uid, uidOf.get(`${mid}@postfix.local`), `${mid} X-UID written back`);

  // Round 2: each message goes to Postfix while the other session changes flags or expunges, so that every local(8)
  // delivery runs into a STORE or an EXPUNGE (and the rewrite that gives the new mail its X-UID).
  idler.c.send('i2 IDLE\r\n');
  assert.equal(await idler.c.readLine(), '+ idling');
  const expectedFlags = new Map([...view].map(([id, m]) => [id, m.flags]));
  const expunged = new Set<string>();
  const round2Count = 18;
  const sent2: string[] = [];
  const localDeliveries = () => postfix.maillog().split('\n').filter((l) => /\/local\[.*status=sent/.test(l)).length;
  let current = await fetchAll(worker, 'w0');
  const sender = startSender(postfix.smtpPort, 'q');
  try {
    for (let n = 1; n <= round2Count; n++) {
      const accepted = sender.send(n);
      // A flag on some message, or every third time an expunge, while local(8) delivers message n.
      const ids = [...current.keys()];
      const id = ids[(n * 7) % ids.length]!;
      const uid = current.get(id)!.uid;
      if (n % 3 === 0) {
        assert.match((await worker.cmd(`UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`)).at(-1)!, /^TAG OK/);
        assert.match((await worker.cmd('EXPUNGE')).at(-1)!, /^TAG OK/);
        expunged.add(id);
        expectedFlags.delete(id);
      } else {
        const flag = n % 2 ? '\\Answered' : '$Work';
        const had = expectedFlags.get(id)!.includes(flag);
        assert.match((await worker.cmd(`UID STORE ${uid} ${had ? '-' : '+'}FLAGS.SILENT (${flag})`)).at(-1)!, /^TAG OK/);
        expectedFlags.set(id, had ? expectedFlags.get(id)!.filter((f) => f !== flag) : [...expectedFlags.get(id)!, flag].sort());
      }
      sent2.push(await accepted);
      await waitFor(`local(8) delivering q${n}`, () => localDeliveries() >= round1.length + n, 60_000).catch(maillogOnFailure);
      // The session sees it; UIDs never move; flags are what this session set; nothing expunged comes back.
      assert.match((await worker.cmd('NOOP')).at(-1)!, /^TAG OK/);
      current = await fetchAll(worker, `w${n}`);
      assert.ok(current.has(`q${n}@postfix.local`), `q${n} is seen by the session`);
      for (const [mid, m] of current) {
        assert.ok(!expunged.has(mid), `${mid} was expunged and stays gone`);
        const known = uidOf.get(mid);
        if (known !== undefined) assert.equal(m.uid, known, `${mid} keeps UID ${known}`);
        else uidOf.set(mid, m.uid);
        if (!expectedFlags.has(mid)) expectedFlags.set(mid, []);
        assert.deepEqual(m.flags, expectedFlags.get(mid), `${mid} flags`);
      }
    }
  } finally {
    await sender.close();
  }
  t.diagnostic(`round 2: ${round2Count} deliveries, each beside a STORE or EXPUNGE; ${expunged.size} expunged`);

  // The idling session sees the same mailbox as the worker.
  idler.c.send('DONE\r\n');
  assert.match((await idler.c.readUntil((l) => l.startsWith('i2 '), 60_000)).at(-1)!, /^i2 OK/);
  assert.match((await idler.cmd('NOOP')).at(-1)!, /^TAG OK/);
  view = await fetchAll(idler, 'f2', true);
  const everyId = [...seeded.keys(), ...round1.map((m) => `${m}@postfix.local`), ...sent2.map((m) => `${m}@postfix.local`)];
  assert.deepEqual([...view.keys()].sort(), everyId.filter((id) => !expunged.has(id)).sort(), 'every message once, the expunged ones gone');
  for (const [id, m] of view) {
    assert.equal(m.uid, uidOf.get(id), `${id} UID`);
    assert.deepEqual(m.flags, expectedFlags.get(id), `${id} flags`);
    if (id.endsWith('@postfix.local')) assert.equal(m.text!.slice(m.text!.indexOf('\r\n\r\n') + 4), sentBody(id.split('@')[0]!), `${id} body`);
  }
  const uids = [...view.values()].map((m) => m.uid);
  assert.deepEqual(uids, [...uids].sort((a, b) => a - b), 'UIDs ascend in file order');

  // The file: every message whole and once, X-UID and flags as IMAP shows them, X-IMAPbase intact, still the recipient's.
  assert.match((await worker.cmd('NOOP')).at(-1)!, /^TAG OK/);
  const finalFile = readMboxFile(readFileSync(inbox, 'latin1'), 'final mbox').filter((m) => !m.pseudo);
  assert.deepEqual(finalFile.map((m) => m.messageId), [...view.keys()], 'the file holds the messages IMAP shows, in UID order');
  for (const m of finalFile) {
    assert.equal(m.uid, view.get(m.messageId!)!.uid, `${m.messageId} X-UID`);
    assert.deepEqual(m.flags, view.get(m.messageId!)!.flags, `${m.messageId} flags in the file`);
    if (m.messageId!.endsWith('@postfix.local')) {
      assert.equal(m.body.replace(/\n/g, '\r\n'), sentBody(m.messageId!.split('@')[0]!), `${m.messageId} body in the file`);
      assert.match(m.fromLine, /^From sender@example\.net /, `${m.messageId} From_ line by local(8)`);
    }
  }
  assert.equal(finalFile[0]!.imapBase?.uidValidity, seededFile[0]!.imapBase?.uidValidity, 'X-IMAPbase keeps UIDVALIDITY');
  assert.ok(finalFile[0]!.imapBase!.lastUid >= Math.max(...uids), 'X-IMAPbase covers the last UID');
  assert.equal(statSync(inbox).uid, system.uid, 'the mbox still belongs to the recipient');

  const maillog = postfix.maillog();
  const delivered = maillog.split('\n').filter((l) => /postfix-\d+\/local\[.*status=sent/.test(l)).length;
  assert.equal(delivered, round1.length + round2Count, 'local(8) delivered every message once');
  const deferred = maillog.split('\n').filter((l) => /status=deferred/.test(l));
  if (deferred.length) t.diagnostic(`deferred and retried: ${deferred.length}\n${deferred.slice(0, 3).join('\n')}`);
});
