// Workload "imap-fetch": FETCH (RFC 9051 section 6.4.5) as a client syncing a mailbox: `FETCH 1:* (UID FLAGS RFC822.SIZE
// ENVELOPE)` over 10,000 messages (quick 1,000), and `FETCH 1 BODY[]` of one 10 MB message (quick 2 MB) in its own mailbox.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { copyMaildir, generateMessage, type Corpus } from '../corpus.js';
import { ImapClient, existsOf, ok, within } from '../imap-client.js';
import { startImapSide, type ImapServer } from '../imap-side.js';
import { benchUsers } from '../sides.js';
import type { BenchOptions, Workload, WorkloadRun } from '../types.js';
import { minRunSeconds, scaled } from './common.js';

/** a tail to 1 MB keeps 10,000 messages near 200 MB per side; the 10 MB case has its own message */
const TAIL_MAX = 1024 * 1024;
const COMMAND_TIMEOUT_MS = 300_000;

function messageCount(options: BenchOptions): number {
  return scaled(options.quick, 1000, 10_000, options.scale);
}

function largeSize(options: BenchOptions): number {
  return options.quick ? 2 * 1024 * 1024 : 10 * 1024 * 1024;
}

const largeMessages = new Map<number, { name: string; raw: Buffer }>();

/** One large message (a base64 attachment), generated once per size and run, named as the corpus names its files. */
function largeMessage(size: number): { name: string; raw: Buffer } {
  let message = largeMessages.get(size);
  if (!message) {
    const { raw } = generateMessage(7, 0, size);
    let lf = 0;
    for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) lf++;
    message = { name: `1704182400.Mlarge.bench.roost.test,S=${raw.length},W=${raw.length + lf}:2,`, raw };
    largeMessages.set(size, message);
  }
  return message;
}

const state = new WeakMap<ImapServer, { corpus: Corpus; largeBytes: number }>();

async function session(server: ImapServer, mailbox: string, expected: number): Promise<ImapClient> {
  const user = server.users[0]!;
  const client = await ImapClient.login(server.endpoints.imap!, user.name, user.password);
  const selected = ok(await within(client.command(`SELECT ${mailbox}`, { keepLines: true }), COMMAND_TIMEOUT_MS, 'SELECT'), `SELECT ${mailbox}`);
  if (existsOf(selected) !== expected) {
    client.close();
    throw new Error(`SELECT ${mailbox}: ${existsOf(selected)} EXISTS, expected ${expected}`);
  }
  return client;
}

const imapFetch: Workload = {
  name: 'imap-fetch',
  description:
    'FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE) of the whole INBOX (one fetch = every message; at least 5 per run on one session, more until the run lasts 2 s), and FETCH 1 BODY[] of one large message; MB/s counts every byte on the wire',
  opName: 'fetches',
  reportBytes: true,
  cases(options) {
    const n = messageCount(options);
    const mb = largeSize(options) / (1024 * 1024);
    return [
      { id: 'envelope', label: `1:* ENVELOPE, ${n} msgs`, params: { mode: 'envelope' } },
      { id: 'body', label: `BODY[] of ${mb} MB`, params: { mode: 'body' } },
    ];
  },
  async setup(kind, context) {
    const { options } = context;
    const corpus = await context.corpus(messageCount(options), TAIL_MAX);
    const large = largeMessage(largeSize(options));
    const server = await startImapSide(kind, context, {
      users: benchUsers(1),
      populate: (_user, maildir) => {
        copyMaildir(corpus, maildir);
        const folder = join(maildir, '.Large');
        for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(folder, sub), { recursive: true });
        writeFileSync(join(folder, 'maildirfolder'), '');
        writeFileSync(join(folder, 'cur', large.name), large.raw);
      },
    });
    state.set(server, { corpus, largeBytes: large.raw.length });
    return server;
  },
  async run(server, benchCase, { options, warmup }) {
    const imapServer = server as ImapServer;
    const { corpus } = state.get(imapServer)!;
    const mode = String(benchCase.params.mode);
    // At least 5 fetches (quick 3), and more until minRunSeconds have passed: one 10 MB fetch takes tens of milliseconds.
    const minFetches = warmup ? 1 : options.quick ? 3 : 5;
    const minSeconds = minRunSeconds(options, warmup);
    const latenciesMs: number[] = [];
    let bytes = 0;
    const client = await session(imapServer, mode === 'envelope' ? 'INBOX' : 'Large', mode === 'envelope' ? corpus.count : 1);
    try {
      const started = performance.now();
      let fetches = 0;
      for (; fetches < minFetches || performance.now() - started < minSeconds * 1000; fetches++) {
        const t0 = performance.now();
        const command = mode === 'envelope' ? 'FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)' : 'FETCH 1 BODY[]';
        const result = ok(await within(client.command(command), COMMAND_TIMEOUT_MS, command), command);
        latenciesMs.push(performance.now() - t0);
        bytes += result.bytes;
        if (mode === 'envelope' && result.untagged < corpus.count) {
          throw new Error(`${command}: ${result.untagged} untagged responses for ${corpus.count} messages`);
        }
        if (mode === 'body' && result.literalBytes < state.get(imapServer)!.largeBytes) {
          throw new Error(`${command}: a literal of ${result.literalBytes} bytes for a message of ${state.get(imapServer)!.largeBytes}`);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      if (!warmup) {
        process.stderr.write(`bench: imap-fetch ${benchCase.label}: ${server.label}: ${Math.round(bytes / fetches)} bytes per fetch\n`);
      }
      return { ops: fetches, bytes, seconds, latenciesMs, errors: 0 } satisfies WorkloadRun;
    } finally {
      await client.logout();
    }
  },
  teardown: (server) => server.stop(),
};

export default imapFetch;
