// Workload "imap-select": SELECT (RFC 9051 section 6.3.2) of one large INBOX (full run 100,000 messages, quick 2,000):
// the first SELECT ever (index built from the Maildir), the first after a server restart (cold), and repeated on a live session (warm).
import { spawnSync } from 'node:child_process';
import { chownSync, linkSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { copyMaildir, type Corpus } from '../corpus.js';
import { ImapClient, existsOf, ok, within } from '../imap-client.js';
import { startImapSide, type ImapServer } from '../imap-side.js';
import { benchUsers } from '../sides.js';
import { EXTRA_REPS_WHEN_NOISY, type BenchOptions, type Workload, type WorkloadRun } from '../types.js';
import { minRunSeconds, scaled } from './common.js';

/** the tail of large messages is capped: SELECT reads names and headers, and 100,000 messages must fit the disk twice */
const TAIL_MAX = 64 * 1024;
const SELECT_TIMEOUT_MS = 600_000;
const WARM_SELECTS = 200;
/** Cold SELECTs per run, each after its own restart: one takes milliseconds on the baseline, too short for a single sample. */
const COLD_SELECTS = 3;

const corpora = new WeakMap<ImapServer, { corpus: Corpus; freshUsed: number; freshUsers: number }>();

function messageCount(options: BenchOptions): number {
  return scaled(options.quick, 2000, 100_000, options.scale);
}

/** A user's Maildir as a new hard-linked copy of bench0's messages: no index, no uidlist, as after a migration. */
function freshCopy(server: ImapServer, user: string): void {
  const source = join(server.maildirOf('bench0'), 'cur');
  const dest = server.maildirOf(user);
  for (const sub of ['', 'cur', 'new', 'tmp']) {
    mkdirSync(join(dest, sub), { recursive: true });
    if (server.mailOwner) chownSync(join(dest, sub), server.mailOwner.uid, server.mailOwner.gid);
  }
  if (server.mailOwner) chownSync(join(dest, '..'), server.mailOwner.uid, server.mailOwner.gid);
  for (const name of readdirSync(source)) linkSync(join(source, name), join(dest, 'cur', name));
}

async function timedSelect(client: ImapClient, expected: number, latencies: number[]): Promise<number> {
  const started = performance.now();
  const result = ok(await within(client.command('SELECT INBOX', { keepLines: true }), SELECT_TIMEOUT_MS, 'SELECT INBOX'), 'SELECT INBOX');
  latencies.push(performance.now() - started);
  const exists = existsOf(result);
  if (exists !== expected) throw new Error(`SELECT INBOX: ${exists} EXISTS, the corpus holds ${expected}`);
  return result.bytes;
}

const imapSelect: Workload = {
  name: 'imap-select',
  description:
    'SELECT INBOX of a large mailbox: first ever (fresh hard-linked Maildir copy, index built), cold (first after a server restart, 3 per run, time of the SELECTs only; CPU s not comparable there), warm (re-SELECTs on one session: at least 200, more until the run lasts 2 s)',
  opName: 'SELECTs',
  cases(options) {
    const n = messageCount(options);
    return [
      { id: 'first', label: `${n} msgs, first ever`, params: { mode: 'first' } },
      { id: 'cold', label: `${n} msgs, cold (restart)`, params: { mode: 'cold' } },
      { id: 'warm', label: `${n} msgs, warm`, params: { mode: 'warm' } },
    ];
  },
  async setup(kind, context) {
    const { options } = context;
    const count = messageCount(options);
    const corpus = await context.corpus(count, TAIL_MAX);
    // bench0 holds the corpus; fresh0.. get a hard-linked copy of it at run time, one per repetition of "first" (the
    // warm-up, --repeat runs and the extra ones of a noisy case)
    const freshUsers = options.repeat + 2 + EXTRA_REPS_WHEN_NOISY;
    const users = [
      ...benchUsers(1),
      ...Array.from({ length: freshUsers }, (_, i) => ({ name: `fresh${i}`, password: `fresh-pass-${i}` })),
    ];
    context.log(`imap-select: copying ${count} messages into the ${kind} store`);
    const server = await startImapSide(kind, context, {
      users,
      populate: (user, maildir) => {
        if (user === 'bench0') copyMaildir(corpus, maildir);
      },
    });
    corpora.set(server, { corpus, freshUsed: 0, freshUsers });
    return server;
  },
  async run(server, benchCase, { options, warmup }) {
    const imapServer = server as ImapServer;
    const state = corpora.get(imapServer)!;
    const expected = state.corpus.count;
    const mode = String(benchCase.params.mode);
    const latenciesMs: number[] = [];
    let bytes = 0;
    let user = server.users[0]!;
    if (mode === 'first') {
      if (state.freshUsed >= state.freshUsers) throw new Error('no fresh user left for another first SELECT');
      user = server.users[1 + state.freshUsed++]!;
      freshCopy(imapServer, user.name);
      // The copy's 100,000 new links and the previous repetition's index are written back before the clock starts: left
      // to the kernel, that write-back overlapped the timed SELECT now and then (Dovecot's took 0.35-0.70 s in one pair).
      spawnSync('sync', ['-f', imapServer.maildirOf(user.name)]);
    } else if (mode === 'cold') {
      let seconds = 0;
      for (let i = 0; i < COLD_SELECTS; i++) {
        await imapServer.restart();
        const client = await ImapClient.login(server.endpoints.imap!, user.name, user.password);
        try {
          bytes += await timedSelect(client, expected, latenciesMs);
          seconds += latenciesMs[latenciesMs.length - 1]! / 1000;
        } finally {
          await client.logout();
        }
      }
      return { ops: COLD_SELECTS, bytes, seconds, latenciesMs, errors: 0 } satisfies WorkloadRun;
    }
    const client = await ImapClient.login(server.endpoints.imap!, user.name, user.password);
    const started = performance.now();
    try {
      if (mode === 'warm') {
        bytes += await timedSelect(client, expected, []);
        latenciesMs.length = 0;
        const warmStarted = performance.now();
        // At least WARM_SELECTS, and more until minRunSeconds have passed: a warm SELECT takes a fraction of a millisecond.
        const minSeconds = minRunSeconds(options, warmup);
        let selects = 0;
        for (; selects < WARM_SELECTS || performance.now() - warmStarted < minSeconds * 1000; selects++) bytes += await timedSelect(client, expected, latenciesMs);
        const seconds = (performance.now() - warmStarted) / 1000;
        return { ops: selects, bytes, seconds, latenciesMs, errors: 0 } satisfies WorkloadRun;
      }
      bytes += await timedSelect(client, expected, latenciesMs);
      return { ops: 1, bytes, seconds: (performance.now() - started) / 1000, latenciesMs, errors: 0 } satisfies WorkloadRun;
    } finally {
      await client.logout();
    }
  },
  teardown: (server) => server.stop(),
};

export default imapSelect;
