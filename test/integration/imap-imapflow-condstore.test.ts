// imapflow as a real CONDSTORE/QRESYNC client (RFC 7162 sections 3.1.4, 3.1.9, 3.2.4, 3.2.5, 3.2.6, 3.2.10): FETCH with
// CHANGEDSINCE (and VANISHED), a QRESYNC SELECT after a reconnect, and VANISHED during IDLE, each beside Dovecot 2.3.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow, type ExpungeEvent, type FlagsEvent, type MailboxOpenOptions } from 'imapflow';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { taggedSession, type TaggedSession } from '../helpers/imap-session.js';
import { peerAvailable, requirePeer, startDovecot, type DovecotHandle } from '../interop/peers.js';

const USER = { name: 'flow', password: 'flow-secret' };
const MESSAGES = 10;
/** Ceiling for an event that must come (never a fixed wait). */
const EVENT_TIMEOUT_MS = 20_000;

let roost: RoostHandle;
let dovecot: DovecotHandle | undefined;
const dovecotDir = mkdtempSync(join(tmpdir(), 'roost-imapflow-condstore-'));
const open: { close(): void }[] = [];

before(async () => {
  roost = await startRoost({ users: [USER] });
  if (peerAvailable('dovecot')) dovecot = await startDovecot({ dir: dovecotDir, users: [USER], protocols: ['imap'] });
});
after(async () => {
  for (const c of open) c.close();
  await roost?.stop();
  await dovecot?.stop();
  rmSync(dovecotDir, { recursive: true, force: true });
});

/** What imapflow reported: 'expunge' and 'flags' events, in order. */
interface Events {
  expunged: ExpungeEvent[];
  flags: FlagsEvent[];
}

/**
 * An imapflow client with QRESYNC (which also enables CONDSTORE). Auto-IDLE is off so that each test decides when
 * the client idles; `idleStarted` resolves once the server answered IDLE with its continuation.
 */
async function flow(port: number): Promise<{ client: ImapFlow; events: Events; idleStarted: () => Promise<void> }> {
  const idleWaiters: (() => void)[] = [];
  const quiet = () => undefined;
  const logger = {
    trace: quiet,
    info: quiet,
    warn: quiet,
    error: quiet,
    fatal: quiet,
    debug: (entry: { msg?: string }) => {
      if (entry?.msg?.startsWith('Initiated IDLE')) for (const w of idleWaiters.splice(0)) w();
    },
  };
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    tls: { rejectUnauthorized: false },
    auth: { user: USER.name, pass: USER.password },
    qresync: true,
    disableAutoIdle: true,
    logger,
  });
  const events: Events = { expunged: [], flags: [] };
  client.on('expunge', (e: ExpungeEvent) => events.expunged.push(e));
  client.on('flags', (e: FlagsEvent) => events.flags.push(e));
  client.on('error', () => undefined);
  await client.connect();
  open.push({ close: () => client.close() });
  return { client, events, idleStarted: () => new Promise<void>((resolve) => idleWaiters.push(resolve)) };
}

async function raw(port: number): Promise<TaggedSession> {
  const s = await taggedSession(port, USER.name, USER.password);
  open.push(s);
  return s;
}

/** A mailbox with messages 1..MESSAGES (UIDs 1..MESSAGES), made over a raw session. */
async function fill(port: number, mailbox: string): Promise<void> {
  const s = await raw(port);
  assert.match((await s.cmd(`CREATE ${mailbox}`)).at(-1)!, /^TAG OK/);
  for (let i = 1; i <= MESSAGES; i++) {
    const msg = `From: a@example.com\r\nSubject: message ${i}\r\nMessage-ID: <${mailbox}-${i}@example.com>\r\n\r\nbody ${i}\r\n`;
    assert.match((await s.cmd(`APPEND ${mailbox} {${msg.length}+}\r\n${msg}`)).at(-1)!, /^TAG OK/);
  }
  s.close();
}

/** Another session's changes: flags on `flagged` and `labelled`, then `gone` deleted and expunged. */
async function changeElsewhere(port: number, mailbox: string, change: { flagged: string; labelled: string; gone: string }): Promise<void> {
  const s = await raw(port);
  await s.cmd(`SELECT ${mailbox}`);
  assert.match((await s.cmd(`UID STORE ${change.flagged} +FLAGS (\\Flagged)`)).at(-1)!, /^TAG OK/);
  assert.match((await s.cmd(`UID STORE ${change.labelled} FLAGS ($Label1)`)).at(-1)!, /^TAG OK/);
  assert.match((await s.cmd(`UID STORE ${change.gone} +FLAGS.SILENT (\\Deleted)`)).at(-1)!, /^TAG OK/);
  assert.match((await s.cmd('EXPUNGE')).at(-1)!, /^TAG OK/);
  await s.cmd('LOGOUT');
  s.close();
}

function waitFor(what: string, condition: () => boolean, client: ImapFlow): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!condition()) return;
      clearTimeout(timer);
      client.off('expunge', check).off('flags', check);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('expunge', check).off('flags', check);
      reject(new Error(`no ${what} within ${EVENT_TIMEOUT_MS} ms`));
    }, EVENT_TIMEOUT_MS);
    client.on('expunge', check).on('flags', check);
    check();
  });
}

/**
 * The stored flags, without \\Recent: imapflow enables IMAP4rev2, which Roost has and which drops \\Recent (RFC 9051
 * appendix E), while Dovecot 2.3 stays IMAP4rev1 and shows it to the first session.
 */
function stored(flags: Set<string> | undefined): string[] {
  return [...(flags ?? [])].filter((f) => f !== '\\Recent').sort();
}

interface Fetched {
  seq: number;
  uid: number;
  modseq: bigint;
  flags: string[];
}

async function fetchChanged(client: ImapFlow, changedSince: bigint, uid: boolean): Promise<Fetched[]> {
  const out: Fetched[] = [];
  for await (const m of client.fetch('1:*', { uid: true, flags: true }, { uid, changedSince })) {
    out.push({ seq: m.seq, uid: m.uid, modseq: m.modseq!, flags: stored(m.flags) });
  }
  return out;
}

/** The servers to run each scenario on: Roost, and Dovecot 2.3 as the reference (a missing Dovecot fails under CI=true). */
function servers(): { name: string; port: number }[] {
  const list = [{ name: 'Roost', port: roost.ports.imap }];
  if (dovecot) list.push({ name: 'Dovecot', port: dovecot.imapPort });
  else requirePeer(undefined, 'dovecot');
  return list;
}

/** Modseqs are each server's own: shown as "above" / "not above" a reference value. */
const above = (modseq: bigint | undefined, reference: bigint) => (modseq !== undefined && modseq > reference ? 'above' : 'not above');

test('FETCH CHANGEDSINCE through imapflow returns exactly the messages another session changed, with MODSEQ; VANISHED gives expunge events', async () => {
  const seen: Record<string, unknown> = {};
  for (const { name, port } of servers()) {
    await fill(port, 'Changes');
    const { client, events } = await flow(port);
    // Section 3.1 / 3.2.3: ENABLE QRESYNC (which implies CONDSTORE), answered by ENABLED.
    assert.ok(client.enabled.has('CONDSTORE') && client.enabled.has('QRESYNC'), `${name}: ${[...client.enabled].join(' ')}`);
    const mailbox = await client.mailboxOpen('Changes');
    assert.equal(mailbox.exists, MESSAGES);
    // Section 3.1.2.1: HIGHESTMODSEQ on SELECT.
    const highest = mailbox.highestModseq!;
    assert.equal(typeof highest, 'bigint', `${name}: HIGHESTMODSEQ`);
    assert.ok(highest > 0n);
    if (name === 'Roost') assert.match(mailbox.mailboxId ?? '', /^[A-Za-z0-9_-]+$/, 'OBJECTID: MAILBOXID on SELECT');

    await changeElsewhere(port, 'Changes', { flagged: '2,4', labelled: '9', gone: '7' });

    // Section 3.1.4.1 and 3.2.6: UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE n VANISHED).
    const changed = await fetchChanged(client, highest, true);
    assert.deepEqual(
      changed.map((m) => [m.uid, m.flags]),
      [
        [2, ['\\Flagged']],
        [4, ['\\Flagged']],
        [9, ['$Label1']],
      ],
      `${name}: the changed messages and nothing else`,
    );
    for (const m of changed) assert.ok(m.modseq > highest, `${name}: UID ${m.uid} has MODSEQ ${m.modseq} above ${highest}`);
    // The expunge reaches imapflow as VANISHED with its UID (never as a bare sequence number, QRESYNC is on).
    assert.deepEqual(
      events.expunged.map((e) => [e.uid, e.vanished]),
      [[7, true]],
      `${name}: ${JSON.stringify(events.expunged)}`,
    );

    // The plain FETCH form (sequence numbers, no VANISHED) names the same messages at their new positions.
    const bySeq = await fetchChanged(client, highest, false);
    assert.deepEqual(
      bySeq.map((m) => [m.seq, m.uid]),
      [
        [2, 2],
        [4, 4],
        [8, 9],
      ],
    );
    // Nothing changed after the highest MODSEQ seen.
    const newest = changed.reduce((max, m) => (m.modseq > max ? m.modseq : max), highest);
    assert.deepEqual(await fetchChanged(client, newest, true), []);
    seen[name] = {
      changed: changed.map((m) => ({ uid: m.uid, flags: m.flags, modseq: above(m.modseq, highest) })),
      expunged: events.expunged.map((e) => ({ uid: e.uid, vanished: e.vanished })),
    };
    await client.logout();
  }
  if (seen.Dovecot) assert.deepEqual(seen.Roost, seen.Dovecot);
});

test('QRESYNC SELECT through imapflow after a reconnect: VANISHED (EARLIER) as expunge events, changed flags with MODSEQ', async () => {
  const seen: Record<string, unknown> = {};
  for (const { name, port } of servers()) {
    await fill(port, 'Resync');
    const first = await flow(port);
    const before = await first.client.mailboxOpen('Resync');
    const uidValidity = before.uidValidity;
    const highest = before.highestModseq!;
    await first.client.logout();

    await changeElsewhere(port, 'Resync', { flagged: '3', labelled: '5,6', gone: '1,8' });

    // Section 3.2.5: SELECT mailbox (QRESYNC (uidvalidity modseq)), which imapflow sends when mailboxOpen() gets
    // uidValidity and changedSince (lib commands/select.js reads both; its .d.ts does not declare them).
    const { client, events } = await flow(port);
    const resync: MailboxOpenOptions & { uidValidity: bigint; changedSince: bigint } = { uidValidity, changedSince: highest };
    const after = await client.mailboxOpen('Resync', resync);
    assert.equal(after.uidValidity, uidValidity);
    assert.equal(after.exists, MESSAGES - 2);
    assert.ok(after.highestModseq! > highest, `${name}: HIGHESTMODSEQ moved on`);
    // Section 3.2.10: the expunged UIDs come as VANISHED (EARLIER) during the SELECT.
    assert.deepEqual(
      events.expunged.map((e) => [e.uid, e.vanished, e.earlier]).sort(),
      [
        [1, true, true],
        [8, true, true],
      ],
      `${name}: ${JSON.stringify(events.expunged)}`,
    );
    // ... and the messages whose flags changed as FETCH (UID FLAGS MODSEQ).
    const flags = events.flags.map((f) => ({ uid: f.uid, flags: stored(f.flags), modseq: above(f.modseq, highest) })).sort((a, b) => a.uid! - b.uid!);
    assert.deepEqual(
      flags,
      [
        { uid: 3, flags: ['\\Flagged'], modseq: 'above' },
        { uid: 5, flags: ['$Label1'], modseq: 'above' },
        { uid: 6, flags: ['$Label1'], modseq: 'above' },
      ],
      `${name}: ${JSON.stringify(events.flags, (_k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Set ? [...v] : v))}`,
    );
    seen[name] = { expunged: events.expunged.length, flags };
    await client.logout();
  }
  if (seen.Dovecot) assert.deepEqual(seen.Roost, seen.Dovecot);
});

test('while imapflow IDLEs, another session\'s expunge arrives as VANISHED with the UID and a flag change as FETCH with MODSEQ', async () => {
  const seen: Record<string, unknown> = {};
  for (const { name, port } of servers()) {
    await fill(port, 'Live');
    const { client, events, idleStarted } = await flow(port);
    const mailbox = await client.mailboxOpen('Live');
    const highest = mailbox.highestModseq!;
    const started = idleStarted();
    const idling = client.idle();
    await started;

    await changeElsewhere(port, 'Live', { flagged: '10', labelled: '4', gone: '5' });
    // Section 3.2.10: an expunge in a QRESYNC session is reported as VANISHED (not EARLIER), with the UID.
    // UID 5's \\Deleted may be seen before it vanishes or not, as the sessions interleave: only the survivors count.
    const survivors = () => events.flags.filter((f) => f.uid !== 5);
    await waitFor('expunge event for UID 5 and flag events for UIDs 4 and 10', () => events.expunged.length >= 1 && new Set(survivors().map((f) => f.uid)).size >= 2, client);
    assert.deepEqual(
      events.expunged.map((e) => [e.uid, e.vanished, e.earlier]),
      [[5, true, false]],
      `${name}: ${JSON.stringify(events.expunged)}`,
    );
    // Section 3.2.4: unsolicited FETCH responses carry MODSEQ once CONDSTORE is on (and UID with QRESYNC).
    const last = new Map(survivors().map((f) => [f.uid, f]));
    assert.deepEqual([...last.keys()].sort((a, b) => a! - b!), [4, 10]);
    for (const f of last.values()) assert.ok(f.modseq !== undefined && f.modseq > highest, `${name}: UID ${f.uid} MODSEQ ${f.modseq}`);
    assert.deepEqual(stored(last.get(4)!.flags), ['$Label1']);
    assert.deepEqual(stored(last.get(10)!.flags), ['\\Flagged']);
    // Leaving IDLE (any command does) ends it cleanly; the server's view has one message less.
    await client.noop();
    await idling;
    assert.deepEqual((await client.search({ all: true }, { uid: true })) || [], [1, 2, 3, 4, 6, 7, 8, 9, 10]);
    seen[name] = { expunged: events.expunged.map((e) => [e.uid, e.vanished, e.earlier]), flagged: [...last.keys()].sort() };
    await client.logout();
  }
  if (seen.Dovecot) assert.deepEqual(seen.Roost, seen.Dovecot);
});
