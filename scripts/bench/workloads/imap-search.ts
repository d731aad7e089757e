// Workload "imap-search": `UID SEARCH TEXT "<word>"` (RFC 9051 section 6.4.4) over 10,000 messages (quick 1,000), no
// full-text index on either side: the first search after a server restart (cold) and the same search repeated on one session.
import { performance } from 'node:perf_hooks';
import { copyMaildir, type Corpus } from '../corpus.js';
import { ImapClient, existsOf, ok, within } from '../imap-client.js';
import { startImapSide, type ImapServer } from '../imap-side.js';
import { benchUsers } from '../sides.js';
import type { BenchOptions, Workload, WorkloadRun } from '../types.js';
import { scaled } from './common.js';

/** the same corpus as imap-fetch (a tail to 1 MB), so one cached copy serves both */
const TAIL_MAX = 1024 * 1024;
const COMMAND_TIMEOUT_MS = 600_000;
/** a word of the generator's English vocabulary: in bodies of some messages, subjects of others */
const WORD = 'invoice';
const REPEATS = 5;

function messageCount(options: BenchOptions): number {
  return scaled(options.quick, 1000, 10_000, options.scale);
}

const corpora = new WeakMap<ImapServer, Corpus>();
const hitsSeen = new Map<string, number>();

const imapSearch: Workload = {
  name: 'imap-search',
  description: `UID SEARCH TEXT "${WORD}" over the whole INBOX: first after a server restart (cold; CPU s not comparable there), then repeated ${REPEATS}× on one session`,
  opName: 'searches',
  cases(options) {
    const n = messageCount(options);
    return [
      { id: 'cold', label: `${n} msgs, first (restart)`, params: { mode: 'cold' } },
      { id: 'repeated', label: `${n} msgs, repeated`, params: { mode: 'repeated' } },
    ];
  },
  async setup(kind, context) {
    const corpus = await context.corpus(messageCount(context.options), TAIL_MAX);
    const server = await startImapSide(kind, context, { users: benchUsers(1), populate: (_user, maildir) => copyMaildir(corpus, maildir) });
    corpora.set(server, corpus);
    return server;
  },
  async run(server, benchCase) {
    const imapServer = server as ImapServer;
    const corpus = corpora.get(imapServer)!;
    const mode = String(benchCase.params.mode);
    if (mode === 'cold') await imapServer.restart();
    const user = server.users[0]!;
    const client = await ImapClient.login(server.endpoints.imap!, user.name, user.password);
    try {
      const selected = ok(await within(client.command('SELECT INBOX', { keepLines: true }), COMMAND_TIMEOUT_MS, 'SELECT'), 'SELECT INBOX');
      if (existsOf(selected) !== corpus.count) throw new Error(`SELECT INBOX: ${existsOf(selected)} EXISTS, the corpus holds ${corpus.count}`);
      const searches = mode === 'cold' ? 1 : REPEATS;
      const latenciesMs: number[] = [];
      let bytes = 0;
      const started = performance.now();
      for (let i = 0; i < searches; i++) {
        const command = `UID SEARCH TEXT "${WORD}"`;
        const t0 = performance.now();
        const result = ok(await within(client.command(command, { keepLines: true }), COMMAND_TIMEOUT_MS, command), command);
        latenciesMs.push(performance.now() - t0);
        bytes += result.bytes;
        const line = result.lines.find((l) => /^\* SEARCH/i.test(l)) ?? '';
        const hits = line.split(' ').length - 2;
        if (hits <= 0) throw new Error(`${command}: no match in ${corpus.count} messages`);
        const key = `${server.label} ${corpus.count}`;
        if (hitsSeen.get(key) !== hits) {
          hitsSeen.set(key, hits);
          process.stderr.write(`bench: imap-search: ${server.label}: ${hits} of ${corpus.count} messages match TEXT "${WORD}"\n`);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      return { ops: searches, bytes, seconds, latenciesMs, errors: 0 } satisfies WorkloadRun;
    } finally {
      await client.logout();
    }
  },
  teardown: (server) => server.stop(),
};

export default imapSearch;
