// Workload "imap-sort": UID SORT (DATE), (SUBJECT), (FROM) (RFC 5256 section 3) and UID THREAD REFERENCES (RFC 5256
// section 4) of one large INBOX (full run 100,000 messages, quick 2,000), each repeated on one session.
import { performance } from 'node:perf_hooks';
import { copyMaildir, type Corpus } from '../corpus.js';
import { ImapClient, existsOf, ok, within } from '../imap-client.js';
import { startImapSide, type ImapServer } from '../imap-side.js';
import { benchUsers } from '../sides.js';
import type { BenchOptions, Workload, WorkloadRun } from '../types.js';
import { scaled } from './common.js';

/** the same corpus as imap-select (tail capped at 64 KB), so one cached copy of 100,000 messages serves both */
const TAIL_MAX = 64 * 1024;
const COMMAND_TIMEOUT_MS = 600_000;
const REPEATS = 10;

/** Each case: the command as a client sends it, and the untagged response it must answer with. */
const COMMANDS = [
  { id: 'date', command: 'UID SORT (DATE) UTF-8 ALL', response: 'SORT' },
  { id: 'subject', command: 'UID SORT (SUBJECT) UTF-8 ALL', response: 'SORT' },
  { id: 'from', command: 'UID SORT (FROM) UTF-8 ALL', response: 'SORT' },
  { id: 'references', command: 'UID THREAD REFERENCES UTF-8 ALL', response: 'THREAD' },
] as const;

function messageCount(options: BenchOptions): number {
  return scaled(options.quick, 2000, 100_000, options.scale);
}

const corpora = new WeakMap<ImapServer, Corpus>();

const imapSort: Workload = {
  name: 'imap-sort',
  description: `UID SORT (DATE), (SUBJECT), (FROM) and UID THREAD REFERENCES of the whole INBOX, ${REPEATS}× per run on one session (the warm-up run fills each side's sort and thread caches)`,
  opName: 'sorts',
  cases(options) {
    const n = messageCount(options);
    return COMMANDS.map((c) => ({ id: c.id, label: `${c.command.replace(/^UID /, '').replace(/ UTF-8 ALL$/, '')}, ${n} msgs`, params: { command: c.command, response: c.response } }));
  },
  async setup(kind, context) {
    const count = messageCount(context.options);
    const corpus = await context.corpus(count, TAIL_MAX);
    context.log(`imap-sort: copying ${count} messages into the ${kind} store`);
    const server = await startImapSide(kind, context, { users: benchUsers(1), populate: (_user, maildir) => copyMaildir(corpus, maildir) });
    corpora.set(server, corpus);
    return server;
  },
  async run(server, benchCase) {
    const corpus = corpora.get(server as ImapServer)!;
    const command = String(benchCase.params.command);
    const response = String(benchCase.params.response);
    const user = server.users[0]!;
    const client = await ImapClient.login(server.endpoints.imap!, user.name, user.password);
    try {
      const selected = ok(await within(client.command('SELECT INBOX', { keepLines: true }), COMMAND_TIMEOUT_MS, 'SELECT'), 'SELECT INBOX');
      if (existsOf(selected) !== corpus.count) throw new Error(`SELECT INBOX: ${existsOf(selected)} EXISTS, the corpus holds ${corpus.count}`);
      const latenciesMs: number[] = [];
      let bytes = 0;
      const started = performance.now();
      for (let i = 0; i < REPEATS; i++) {
        const t0 = performance.now();
        const result = ok(await within(client.command(command, { keepLines: true }), COMMAND_TIMEOUT_MS, command), command);
        latenciesMs.push(performance.now() - t0);
        bytes += result.bytes;
        // One UID per message at least ("n " each): a shorter answer left messages out.
        if (!result.lines.some((l) => l.startsWith(`* ${response}`)) || result.bytes < corpus.count * 2) {
          throw new Error(`${command}: ${result.bytes} bytes without a full ${response} response for ${corpus.count} messages`);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      return { ops: REPEATS, bytes, seconds, latenciesMs, errors: 0 } satisfies WorkloadRun;
    } finally {
      await client.logout();
    }
  },
  teardown: (server) => server.stop(),
};

export default imapSort;
