// Workload "pop3-retr": downloading a whole mailbox over POP3 (RFC 1939 USER/PASS, STAT, RETR; RFC 2449 PIPELINING):
// all 10,000 messages of the corpus (60 with --quick; sizes up to 1 MB), RETR pipelined 16 deep, on 1 and 4 sessions (one user each).
import { performance } from 'node:perf_hooks';
import { copyMaildir, type Corpus } from '../corpus.js';
import { benchUsers } from '../sides.js';
import { LineSocket, ProtocolError, anyLine, pop3Multiline, pop3Status } from '../net.js';
import type { Workload, WorkloadRun } from '../types.js';
import { minRunSeconds, scaled, startSide } from './common.js';

const WINDOW = 16;

async function status(reply: Promise<{ ok: boolean; text: string }>, what: string): Promise<string> {
  const r = await reply;
  if (!r.ok) throw new ProtocolError(`${what}: ${r.text}`);
  return r.text;
}

/** One session: log in, RETR 1..N with up to `window` commands in flight; returns bytes and per-RETR latencies. */
async function downloadAll(port: number, user: string, password: string, latencies: number[]): Promise<{ messages: number; bytes: number }> {
  const socket = await LineSocket.connect({ port });
  try {
    const greeting = await socket.expect(anyLine());
    if (!greeting.startsWith('+OK')) throw new ProtocolError(`greeting: ${greeting}`);
    const capa = await socket.send('CAPA\r\n', pop3Multiline());
    const window = capa.ok ? WINDOW : 1;
    await status(socket.send(`USER ${user}\r\n`, pop3Status()), 'USER');
    await status(socket.send(`PASS ${password}\r\n`, pop3Status()), 'PASS');
    const stat = await status(socket.send('STAT\r\n', pop3Status()), 'STAT');
    const count = Number(stat.split(' ')[1]);
    if (!Number.isInteger(count) || count === 0) throw new ProtocolError(`STAT: ${stat}`);
    let bytes = 0;
    let next = 1;
    let failure: Error | undefined;
    const inFlight = new Set<Promise<void>>();
    const issue = (n: number) => {
      const started = performance.now();
      const p: Promise<void> = socket.send(`RETR ${n}\r\n`, pop3Multiline()).then(
        (r) => {
          if (!r.ok) failure ??= new ProtocolError(`RETR ${n}: ${r.status}`);
          bytes += r.bytes;
          latencies.push(performance.now() - started);
          inFlight.delete(p);
        },
        (err: Error) => {
          failure ??= err;
          inFlight.delete(p);
        },
      );
      inFlight.add(p);
    };
    while (next <= count || inFlight.size > 0) {
      while (!failure && next <= count && inFlight.size < window) issue(next++);
      if (inFlight.size === 0) break;
      await Promise.race(inFlight);
    }
    if (failure) throw failure;
    await socket.send('QUIT\r\n', pop3Status()).catch(() => undefined);
    return { messages: count, bytes };
  } finally {
    socket.close();
  }
}

let corpusInUse: Corpus | undefined;

const pop3Retr: Workload = {
  name: 'pop3-retr',
  description: 'POP3 download of the whole corpus mailbox (10,000 messages in a full run; RETR every one, no DELE), pipelined 16 deep, one mailbox per session; each connection downloads it again until the run lasts 2 s',
  opName: 'messages',
  reportBytes: true,
  cases() {
    return [1, 4].map((connections) => ({ id: `c${connections}`, label: `${connections} conn`, params: { connections } }));
  },
  async setup(kind, context) {
    const { quick, scale } = context.options;
    // The corpus imap-fetch uses too (bench/cache): 10,000 messages, the largest 1 MB.
    const corpus = await context.corpus(scaled(quick, 60, 10_000, scale), 1024 * 1024);
    corpusInUse = corpus;
    return startSide(kind, context, {
      // one user per concurrent session: each has its own copy of the corpus, so POP3 session locks never collide
      users: benchUsers(4),
      services: ['pop3'],
      populate: (_user, maildir) => copyMaildir(corpus, maildir),
    });
  },
  async run(server, benchCase, { options, warmup }) {
    const connections = Number(benchCase.params.connections);
    const latenciesMs: number[] = [];
    const minSeconds = minRunSeconds(options, warmup);
    const started = performance.now();
    // Each connection downloads its mailbox, again in a new session until minRunSeconds have passed (a download of
    // the full corpus takes about a second, short enough for the machine's noise to move its rate by a third).
    const results = await Promise.all(
      Array.from({ length: connections }, async (_, i) => {
        const user = server.users[i % server.users.length]!;
        const total = { messages: 0, bytes: 0, count: 0 };
        do {
          const one = await downloadAll(server.endpoints.pop3!, user.name, user.password, latenciesMs);
          total.messages += one.messages;
          total.bytes += one.bytes;
          total.count = one.messages;
        } while (performance.now() - started < minSeconds * 1000);
        return total;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const run: WorkloadRun = {
      ops: results.reduce((a, r) => a + r.messages, 0),
      bytes: results.reduce((a, r) => a + r.bytes, 0),
      seconds,
      latenciesMs,
      errors: 0,
    };
    if (corpusInUse && results.some((r) => r.count !== corpusInUse!.count)) {
      throw new ProtocolError(`mailbox holds ${results[0]!.count} messages, the corpus ${corpusInUse.count}`);
    }
    return run;
  },
  teardown: (server) => server.stop(),
};

export default pop3Retr;
