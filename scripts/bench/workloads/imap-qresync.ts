// Workload "imap-qresync": a reconnecting client's SELECT INBOX (QRESYNC (uidvalidity modseq)) (RFC 7162 section 3.2.5)
// over 10,000 messages (quick 1,000) after another session changed the flags of 1,000 of them (quick 200), and with nothing
// changed, then pipelined within a session (RFC 7162 section 3.2.11: a SELECT from the selected state closes it first).
import { performance } from 'node:perf_hooks';
import { copyMaildir, type Corpus } from '../corpus.js';
import { ImapClient, existsOf, ok, within, type ImapResult } from '../imap-client.js';
import { startImapSide, type ImapServer } from '../imap-side.js';
import { benchUsers } from '../sides.js';
import type { BenchOptions, Workload, WorkloadRun } from '../types.js';
import { minRunSeconds, scaled } from './common.js';

/** the same corpus as imap-fetch and imap-search, so one cached copy serves all three */
const TAIL_MAX = 1024 * 1024;
const COMMAND_TIMEOUT_MS = 300_000;
/**
 * Resyncs per run after changes (each follows 1,000 STOREs), and after nothing changed: such a resync takes a millisecond
 * or so, and one of them now and then takes ten times that (on either side), so a run needs hundreds for a stable
 * figure (a baseline session takes tens of milliseconds to log in, so 200 of them are several seconds of a run).
 */
const RESYNCS_AFTER_CHANGES = 5;
const RESYNCS_UNCHANGED = 200;
/**
 * After nothing changed, resyncs per session, pipelined: one at a time, a resync of a fraction of a millisecond measured
 * the machine's wake-up latency more than either server (Roost's p50 0.16 ms in one run, 0.31 ms in the next, Dovecot's
 * 2.1 and 2.8 ms), while pipelined ones keep the server busy, so the figure is its CPU time per resync.
 */
const PIPELINED_UNCHANGED = 25;
const WARMUP_SECONDS_UNCHANGED = 6;
/** a keyword no corpus message has: adding it and removing it again always changes the message (and its MODSEQ) */
const KEYWORD = '$BenchResync';

function messageCount(options: BenchOptions): number {
  return scaled(options.quick, 1000, 10_000, options.scale);
}

function changeCount(options: BenchOptions): number {
  return Math.min(messageCount(options), scaled(options.quick, 200, 1000, options.scale));
}

/** Per side: the corpus, and whether the changed messages carry KEYWORD now (each run of "changed" flips it). */
const state = new WeakMap<ImapServer, { corpus: Corpus; keywordSet: boolean }>();

function responseCode(result: ImapResult, code: string): string {
  for (const line of result.lines) {
    const m = new RegExp(`^\\* OK \\[${code} (\\d+)\\]`, 'i').exec(line);
    if (m) return m[1]!;
  }
  throw new Error(`SELECT INBOX: no ${code} in ${result.lines.length} lines`);
}

/** Another session's changes: one STORE per message, pipelined, spread over the mailbox; each flips KEYWORD. */
async function changeFlags(server: ImapServer, messages: number, changes: number, add: boolean): Promise<void> {
  const user = server.users[0]!;
  const client = await ImapClient.login(server.endpoints.imap!, user.name, user.password);
  try {
    ok(await within(client.command('SELECT INBOX'), COMMAND_TIMEOUT_MS, 'SELECT'), 'SELECT INBOX');
    const stores: Promise<ImapResult>[] = [];
    for (let i = 0; i < changes; i++) {
      const seq = 1 + Math.floor((i * messages) / changes);
      stores.push(client.command(`STORE ${seq} ${add ? '+' : '-'}FLAGS.SILENT (${KEYWORD})`));
    }
    for (const result of await within(Promise.all(stores), COMMAND_TIMEOUT_MS, `${changes} STOREs`)) ok(result, 'STORE');
  } finally {
    await client.logout();
  }
}

/** What a QRESYNC client remembers of its last session: UIDVALIDITY and HIGHESTMODSEQ (RFC 7162 section 3.2.5). */
interface ClientState {
  uidValidity: string;
  modseq: string;
}

/** The client's last session (not measured): ENABLE QRESYNC, SELECT INBOX, remember its state, LOGOUT. */
async function lastState(imapServer: ImapServer): Promise<ClientState> {
  const messages = state.get(imapServer)!.corpus.count;
  const user = imapServer.users[0]!;
  const before = await ImapClient.login(imapServer.endpoints.imap!, user.name, user.password);
  try {
    ok(await before.command('ENABLE QRESYNC'), 'ENABLE QRESYNC');
    const selected = ok(await within(before.command('SELECT INBOX', { keepLines: true }), COMMAND_TIMEOUT_MS, 'SELECT'), 'SELECT INBOX');
    if (existsOf(selected) !== messages) throw new Error(`SELECT INBOX: ${existsOf(selected)} EXISTS, the corpus holds ${messages}`);
    return { uidValidity: responseCode(selected, 'UIDVALIDITY'), modseq: responseCode(selected, 'HIGHESTMODSEQ') };
  } finally {
    await before.logout();
  }
}

/**
 * One reconnecting client: another session's changes (not measured), then the measured resync SELECT from `last`, the
 * state from just before them.
 */
async function resyncOnce(imapServer: ImapServer, last: ClientState, changes: number): Promise<{ ms: number; bytes: number }> {
  const side = state.get(imapServer)!;
  const user = imapServer.users[0]!;
  if (changes > 0) {
    await changeFlags(imapServer, side.corpus.count, changes, !side.keywordSet);
    side.keywordSet = !side.keywordSet;
  }

  const client = await ImapClient.login(imapServer.endpoints.imap!, user.name, user.password);
  try {
    ok(await client.command('ENABLE QRESYNC'), 'ENABLE QRESYNC');
    const command = `SELECT INBOX (QRESYNC (${last.uidValidity} ${last.modseq}))`;
    const started = performance.now();
    const result = ok(await within(client.command(command, { keepLines: true }), COMMAND_TIMEOUT_MS, command), command);
    const ms = performance.now() - started;
    const fetches = result.lines.filter((l) => /^\* \d+ FETCH /i.test(l)).length;
    if (fetches !== changes) throw new Error(`${command}: ${fetches} FETCH responses for ${changes} changed messages`);
    return { ms, bytes: result.bytes };
  } finally {
    await client.logout();
  }
}

/**
 * One session of a client that resyncs again and again with nothing changed since `last`: `count` resync SELECTs sent
 * at once. Their answers arrive several to a read, so each resync's latency is the session's mean: the time from sending
 * the first to the completion of the last, over `count`.
 */
async function pipelinedResyncs(imapServer: ImapServer, last: ClientState, count: number): Promise<{ latenciesMs: number[]; bytes: number }> {
  const user = imapServer.users[0]!;
  const messages = state.get(imapServer)!.corpus.count;
  const client = await ImapClient.login(imapServer.endpoints.imap!, user.name, user.password);
  try {
    ok(await client.command('ENABLE QRESYNC'), 'ENABLE QRESYNC');
    const command = `SELECT INBOX (QRESYNC (${last.uidValidity} ${last.modseq}))`;
    let bytes = 0;
    const started = performance.now();
    const resyncs = Array.from({ length: count }, () => client.command(command, { keepLines: true }));
    const results = await within(Promise.all(resyncs), COMMAND_TIMEOUT_MS, `${count} x ${command}`);
    const meanMs = (performance.now() - started) / count;
    for (const result of results) {
      ok(result, command);
      if (existsOf(result) !== messages) throw new Error(`${command}: ${existsOf(result)} EXISTS, the corpus holds ${messages}`);
      if (result.lines.some((l) => /^\* (\d+ FETCH|VANISHED) /i.test(l))) throw new Error(`${command}: changes reported where there were none`);
      bytes += result.bytes;
    }
    return { latenciesMs: Array.from({ length: count }, () => meanMs), bytes };
  } finally {
    await client.logout();
  }
}

const imapQresync: Workload = {
  name: 'imap-qresync',
  description: `SELECT INBOX (QRESYNC (uidvalidity modseq)) of a client reconnecting after another session changed the flags of many messages (one STORE each), and after nothing changed; ${RESYNCS_AFTER_CHANGES} resyncs per run after changes, each a new session after its own changes (CPU s includes the other session's STOREs); after nothing changed, sessions of ${PIPELINED_UNCHANGED} resyncs pipelined (latency: a session's mean time per resync), at least ${RESYNCS_UNCHANGED} resyncs, more until the run lasts 2 s (quick: one session of 5), after a warm-up of ${WARMUP_SECONDS_UNCHANGED} s`,
  opName: 'resyncs',
  cases(options) {
    const n = messageCount(options);
    const changes = changeCount(options);
    // "nothing changed" first, on servers that have not yet run the heavy case: after 45 resyncs of 1,000 STOREs each,
    // Roost's repetitions of it varied by a factor of two (1.19x and 1.83x in two full runs), on fresh servers by 15%.
    return [
      { id: 'unchanged', label: `${n} msgs, nothing changed`, params: { changes: 0 } },
      { id: 'changed', label: `${n} msgs, ${changes} flag changes`, params: { changes } },
    ];
  },
  async setup(kind, context) {
    const corpus = await context.corpus(messageCount(context.options), TAIL_MAX);
    const server = await startImapSide(kind, context, { users: benchUsers(1), populate: (_user, maildir) => copyMaildir(corpus, maildir) });
    state.set(server, { corpus, keywordSet: false });
    return server;
  },
  async run(server, benchCase, { options, warmup }) {
    const latenciesMs: number[] = [];
    let bytes = 0;
    const changes = Number(benchCase.params.changes);
    const imapServer = server as ImapServer;
    const resyncs = warmup ? 1 : changes > 0 || options.quick ? RESYNCS_AFTER_CHANGES : RESYNCS_UNCHANGED;
    // After nothing changed a resync takes a millisecond or so: more of them until minRunSeconds have passed, and a
    // warm-up of several seconds: Roost's per-session code runs once per login and takes a few thousand sessions to be
    // optimised by the JIT, so a short warm-up left the first measured repetitions slower than the rest.
    const minSeconds = changes > 0 ? 0 : minRunSeconds(options, warmup, WARMUP_SECONDS_UNCHANGED);
    const started = performance.now();
    if (changes > 0) {
      for (let i = 0; i < resyncs; i++) {
        const one = await resyncOnce(imapServer, await lastState(imapServer), changes);
        latenciesMs.push(one.ms);
        bytes += one.bytes;
      }
    } else {
      const unchangedState = await lastState(imapServer);
      while (latenciesMs.length < resyncs || performance.now() - started < minSeconds * 1000) {
        const session = await pipelinedResyncs(imapServer, unchangedState, options.quick ? resyncs : PIPELINED_UNCHANGED);
        latenciesMs.push(...session.latenciesMs);
        bytes += session.bytes;
      }
    }
    const seconds = latenciesMs.reduce((a, b) => a + b, 0) / 1000;
    return { ops: latenciesMs.length, bytes, seconds, latenciesMs, errors: 0 } satisfies WorkloadRun;
  },
  teardown: (server) => server.stop(),
};

export default imapQresync;
