// Shared pieces of the workload plugins: a per-side start that dispatches to Roost or the baseline, and running N
// operations over C concurrent connections. Not a workload itself (the loader skips files without a default Workload).
import { performance } from 'node:perf_hooks';
import { wireMessage } from '../corpus.js';
import { LineSocket, ProtocolError, smtpReply } from '../net.js';
import { startBaseline, startRoostSide, type SideOptions } from '../sides.js';
import { EXTRA_REPS_WHEN_NOISY, type BenchOptions, type BenchUser, type Server, type SetupContext, type SideKind, type WorkloadRun } from '../types.js';

export function startSide(kind: SideKind, context: SetupContext, options: SideOptions): Promise<Server> {
  return kind === 'roost' ? startRoostSide(context.dir, options) : startBaseline(context.dir, options);
}

/**
 * Runs at least `total` operations spread over `connections` workers, and keeps taking the next operation until
 * `minSeconds` have passed (so that a fast side's repetition is long enough to measure). Each worker opens its session
 * with `open`, then runs `perform(session, opIndex)` for the operations it takes, then `close`. Latencies come from `perform`.
 */
export async function runConcurrent<S>(
  total: number,
  connections: number,
  open: (worker: number) => Promise<S>,
  perform: (session: S, op: number, latencies: number[]) => Promise<number>,
  close: (session: S) => Promise<void>,
  minSeconds = 0,
): Promise<WorkloadRun> {
  const latenciesMs: number[] = [];
  let ops = 0;
  let bytes = 0;
  let errors = 0;
  let nextOp = 0;
  const sessions = await Promise.all(Array.from({ length: connections }, (_, w) => open(w)));
  const started = performance.now();
  const more = () => nextOp < total || performance.now() - started < minSeconds * 1000;
  await Promise.all(
    sessions.map(async (session) => {
      while (more()) {
        const op = nextOp++;
        try {
          const moved = await perform(session, op, latenciesMs);
          bytes += moved;
          ops += 1;
        } catch (err) {
          errors += 1;
          if (errors > Math.max(5, total / 10)) throw err;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(sessions.map((s) => close(s)));
  return { ops, bytes, seconds, latenciesMs, errors };
}

/**
 * The shortest repetition worth measuring for operations of a few milliseconds or less: two seconds in a full run
 * (the warm-up `warmupSeconds`, by default one: enough for V8 to optimise the hot paths), none in a quick run.
 */
export function minRunSeconds(options: BenchOptions, warmup: boolean, warmupSeconds = 1): number {
  if (options.quick) return 0;
  return warmup ? warmupSeconds : 2;
}

export function scaled(quick: boolean, quickCount: number, fullCount: number, scale: number): number {
  return Math.max(1, Math.round((quick ? quickCount : fullCount) * scale));
}

/** Recipients of one delivery repetition: each message goes to one of them in turn. */
export const RECIPIENTS_PER_REP = 4;

/**
 * Users a delivery workload creates so that every repetition (warm-up included) of each of its `cases` delivers to
 * RECIPIENTS_PER_REP users of its own, whose mailboxes hold one message before it (primeMailboxes): a Maildir's cost per
 * delivery grows with the messages already in new/ (Dovecot's by half over nine repetitions), and how many repetitions
 * ran before a case differs from run to run (a noisy case gets more), so shared recipients made a case's figure depend
 * on its predecessors.
 */
export function deliveryUserCount(cases: number, options: BenchOptions): number {
  return RECIPIENTS_PER_REP * cases * (1 + options.repeat + EXTRA_REPS_WHEN_NOISY);
}

/** Per side: the delivery repetitions run so far. */
const deliveryRepsRun = new WeakMap<Server, number>();

/** The recipients of the next repetition on `server`; after every group had one repetition, the first again. */
export function nextRecipients(server: Server): BenchUser[] {
  const rep = deliveryRepsRun.get(server) ?? 0;
  deliveryRepsRun.set(server, rep + 1);
  const groups = Math.max(1, Math.floor(server.users.length / RECIPIENTS_PER_REP));
  const first = (rep % groups) * RECIPIENTS_PER_REP;
  return server.users.slice(first, first + RECIPIENTS_PER_REP);
}

/**
 * One message to every user over SMTP or LMTP (`hello` EHLO or LHLO), one transaction each, before anything is measured:
 * a user's first delivery creates the Maildir and the server's index files (directories fsynced), which is not the
 * per-message cost a delivery workload measures.
 */
export async function primeMailboxes(port: number, hello: 'EHLO' | 'LHLO', users: BenchUser[]): Promise<void> {
  const socket = await LineSocket.connect({ port });
  try {
    const expect = async (reply: Promise<{ code: number; text: string }>, want: number, what: string) => {
      const { code, text } = await reply;
      if (code !== want) throw new ProtocolError(`priming the mailboxes: ${what}: expected ${want}, got ${text}`);
    };
    await expect(socket.expect(smtpReply()), 220, 'greeting');
    await expect(socket.send(`${hello} bench.client.test\r\n`, smtpReply()), 250, hello);
    const message = wireMessage(7, 1, 1024);
    for (const user of users) {
      await expect(socket.send('MAIL FROM:<sender@example.org>\r\n', smtpReply()), 250, 'MAIL');
      await expect(socket.send(`RCPT TO:<${user.name}@localhost>\r\n`, smtpReply()), 250, `RCPT ${user.name}`);
      await expect(socket.send('DATA\r\n', smtpReply()), 354, 'DATA');
      await expect(socket.send(message, smtpReply()), 250, `DATA to ${user.name}`);
    }
    await socket.send('QUIT\r\n', smtpReply()).catch(() => undefined);
  } finally {
    socket.close();
  }
}
