// Workload "imap-idle-memory": N sessions (full 2,000, quick 200) logged in, INBOX selected and in IDLE (RFC 2177) at once
// on each server; the figure is memory, the sum of PSS over every process of the server (Dovecot runs one per session).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { measurePss } from '../../../test/interop/peers.js';
import { copyMaildir } from '../corpus.js';
import { ImapClient, ok, within } from '../imap-client.js';
import { startImapSide } from '../imap-side.js';
import { benchUsers } from '../sides.js';
import type { BenchOptions, Server, Workload, WorkloadRun } from '../types.js';
import { scaled } from './common.js';

const USERS = 10;
/** sessions being opened at once */
const OPENING = 50;
/** file descriptors kept free besides one per session (the load client and the Roost process each hold all sessions) */
const FD_RESERVE = 256;
const SETTLE_MS = 3_000;

function fdLimit(): number {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout?.trim();
  const n = Number(out);
  return out === 'unlimited' || !Number.isFinite(n) ? Number.MAX_SAFE_INTEGER : n;
}

/** N as asked, or scaled down to what `ulimit -n` allows, with the reason. */
function sessionCount(options: BenchOptions): { n: number; note?: string } {
  const wanted = scaled(options.quick, 200, 2000, options.scale);
  const limit = fdLimit();
  if (wanted + FD_RESERVE <= limit) return { n: wanted };
  const n = Math.max(10, limit - FD_RESERVE);
  return { n, note: `scaled down from ${wanted}: ulimit -n is ${limit}` };
}

function limitsFor(n: number): { roostToml: string; dovecotConfig: string } {
  const sessions = n + 100;
  return {
    roostToml: `[server]\nmax_connections = ${sessions + 100}\nmax_connections_per_ip = ${sessions}\n[imap]\nmail_max_userip_connections = ${sessions}\n`,
    // later settings win over test/interop/peers' defaults; a second service block merges with the first
    dovecotConfig: [
      `mail_max_userip_connections = ${sessions}`,
      `default_process_limit = ${sessions}`,
      `default_client_limit = ${2 * sessions + 1000}`,
      `service imap {\n  process_limit = ${sessions}\n}`,
      `service imap-login {\n  process_limit = ${sessions}\n}`,
      `service anvil {\n  client_limit = ${2 * sessions + 1000}\n}`,
      `service auth {\n  client_limit = ${2 * sessions + 1000}\n}`,
    ].join('\n'),
  };
}

/** Dovecot's per-session processes of the server still running (Roost has none). */
function sessionProcesses(server: Server): number {
  let count = 0;
  for (const pid of server.pids()) {
    try {
      if (/^imap(-login)?$/.test(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) count++;
    } catch {
      // exited
    }
  }
  return count;
}

/** Waits (bounded) until the per-session processes are gone after the sessions closed. */
async function settleProcesses(server: Server): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (sessionProcesses(server) > 0 && Date.now() < deadline) await sleep(250);
}

const imapIdleMemory: Workload = {
  name: 'imap-idle-memory',
  description:
    'N sessions at once: connect, LOGIN, SELECT INBOX (60 messages), IDLE; ops/s is sessions brought to IDLE per second, peak PSS the whole server with all N idle (per session: peak PSS / N)',
  opName: 'sessions',
  cases(options) {
    const { n, note } = sessionCount(options);
    return [{ id: `n${n}`, label: note ? `${n} idle (${note})` : `${n} idle`, params: { sessions: n } }];
  },
  async setup(kind, context) {
    const { n, note } = sessionCount(context.options);
    if (note) context.log(`imap-idle-memory: ${note}`);
    const corpus = await context.corpus(60, 1024 * 1024);
    return startImapSide(kind, context, {
      users: benchUsers(USERS),
      populate: (_user, maildir) => copyMaildir(corpus, maildir),
      ...limitsFor(n),
    });
  },
  async run(server, benchCase, { warmup }) {
    const total = Number(benchCase.params.sessions);
    const n = warmup ? Math.max(10, Math.ceil(total / 10)) : total;
    const port = server.endpoints.imap!;
    const pssBefore = await measurePss(server.pids());
    const clients: ImapClient[] = [];
    const latenciesMs: number[] = [];
    let next = 0;
    let errors = 0;
    let failure: Error | undefined;
    const open = async (i: number) => {
      const user = server.users[i % server.users.length]!;
      const started = performance.now();
      const client = await ImapClient.login(port, user.name, user.password);
      clients.push(client);
      ok(await client.command('SELECT INBOX'), 'SELECT INBOX');
      await client.startContinuation('IDLE');
      latenciesMs.push(performance.now() - started);
    };
    const started = performance.now();
    try {
      await Promise.all(
        Array.from({ length: Math.min(OPENING, n) }, async () => {
          while (next < n && !failure) {
            const i = next++;
            try {
              await within(open(i), 60_000, `session ${i}`);
            } catch (err) {
              errors += 1;
              if (errors > Math.max(5, n / 100)) failure ??= err as Error;
            }
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      if (failure) throw failure;
      // every session idle: let the servers settle so the harness's PSS sampler (every 250 ms) sees this state
      await sleep(SETTLE_MS);
      const pss = await measurePss(server.pids());
      if (!warmup) {
        const perSession = (pss / n / 1024).toFixed(0);
        const added = ((pss - pssBefore) / n / 1024).toFixed(0);
        process.stderr.write(`bench: imap-idle-memory: ${server.label}: ${n} idle, PSS ${(pss / 2 ** 20).toFixed(1)} MB = ${perSession} KB per session (${added} KB per session above the idle server)\n`);
      }
      return { ops: latenciesMs.length, bytes: 0, seconds, latenciesMs, errors } satisfies WorkloadRun;
    } finally {
      for (const client of clients) client.close();
      await settleProcesses(server);
    }
  },
  teardown: (server) => server.stop(),
};

export default imapIdleMemory;
