// Workload "imap-compress": `FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[HEADER])` (RFC 9051 section 6.4.5)
// over 10,000 messages (quick 1,000), plain and with COMPRESS=DEFLATE (RFC 4978): bytes on the wire and time.
import { performance } from 'node:perf_hooks';
import { copyMaildir, type Corpus } from '../corpus.js';
import { ImapClient, existsOf, ok, within } from '../imap-client.js';
import { startImapSide, type ImapServer } from '../imap-side.js';
import { benchUsers } from '../sides.js';
import type { BenchOptions, Workload, WorkloadRun } from '../types.js';
import { minRunSeconds, scaled } from './common.js';

/** the same corpus as imap-fetch and imap-search, so one cached copy serves all of them */
const TAIL_MAX = 1024 * 1024;
const COMMAND_TIMEOUT_MS = 300_000;
const COMMAND = 'FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[HEADER])';
/** Dovecot 2.3 offers COMPRESS=DEFLATE through its imap_zlib plugin (Roost always does, after login). */
const DOVECOT_ZLIB = 'protocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}\n';

function messageCount(options: BenchOptions): number {
  return scaled(options.quick, 1000, 10_000, options.scale);
}

const corpora = new WeakMap<ImapServer, Corpus>();

const imapCompress: Workload = {
  name: 'imap-compress',
  description: `${COMMAND} of the whole INBOX, plain and after COMPRESS DEFLATE (one fetch = every message; at least 3 per run on one session, more until the run lasts 2 s); MB/s counts bytes on the wire (compressed where on), the bytes per fetch are logged`,
  opName: 'fetches',
  reportBytes: true,
  cases(options) {
    const n = messageCount(options);
    return [
      { id: 'plain', label: `${n} msgs, plain`, params: { compress: 0 } },
      { id: 'deflate', label: `${n} msgs, COMPRESS=DEFLATE`, params: { compress: 1 } },
    ];
  },
  async setup(kind, context) {
    const corpus = await context.corpus(messageCount(context.options), TAIL_MAX);
    const server = await startImapSide(kind, context, {
      users: benchUsers(1),
      populate: (_user, maildir) => copyMaildir(corpus, maildir),
      dovecotConfig: DOVECOT_ZLIB,
    });
    corpora.set(server, corpus);
    return server;
  },
  async run(server, benchCase, { options, warmup }) {
    const corpus = corpora.get(server as ImapServer)!;
    const compress = Number(benchCase.params.compress) === 1;
    // At least 3 fetches (quick 2), and more until minRunSeconds have passed: one fetch takes 100-400 ms.
    const minFetches = warmup ? 1 : options.quick ? 2 : 3;
    const minSeconds = minRunSeconds(options, warmup);
    const user = server.users[0]!;
    const client = await ImapClient.login(server.endpoints.imap!, user.name, user.password);
    try {
      if (compress) await client.compress();
      const selected = ok(await within(client.command('SELECT INBOX', { keepLines: true }), COMMAND_TIMEOUT_MS, 'SELECT'), 'SELECT INBOX');
      if (existsOf(selected) !== corpus.count) throw new Error(`SELECT INBOX: ${existsOf(selected)} EXISTS, the corpus holds ${corpus.count}`);
      const latenciesMs: number[] = [];
      let wireBytes = 0;
      let plainBytes = 0;
      const started = performance.now();
      let fetches = 0;
      for (; fetches < minFetches || performance.now() - started < minSeconds * 1000; fetches++) {
        const t0 = performance.now();
        const result = ok(await within(client.command(COMMAND), COMMAND_TIMEOUT_MS, COMMAND), COMMAND);
        latenciesMs.push(performance.now() - t0);
        wireBytes += result.wireBytes;
        plainBytes += result.bytes;
        if (result.untagged < corpus.count) throw new Error(`${COMMAND}: ${result.untagged} untagged responses for ${corpus.count} messages`);
      }
      const seconds = (performance.now() - started) / 1000;
      if (compress && wireBytes >= plainBytes) throw new Error(`COMPRESS DEFLATE: ${wireBytes} bytes on the wire for ${plainBytes} bytes of responses`);
      if (!warmup) {
        const perFetch = (n: number) => Math.round(n / fetches);
        const note = compress ? ` (${perFetch(plainBytes)} decompressed, ${((100 * wireBytes) / plainBytes).toFixed(1)}%)` : '';
        process.stderr.write(`bench: imap-compress ${benchCase.label}: ${server.label}: ${perFetch(wireBytes)} bytes on the wire per fetch${note}\n`);
      }
      return { ops: fetches, bytes: wireBytes, seconds, latenciesMs, errors: 0 } satisfies WorkloadRun;
    } finally {
      await client.logout();
    }
  },
  teardown: (server) => server.stop(),
};

export default imapCompress;
