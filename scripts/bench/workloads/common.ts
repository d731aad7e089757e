// Shared pieces of the workload plugins: a per-side start that dispatches to Roost or the baseline, and running N
// operations over C concurrent connections. Not a workload itself (the loader skips files without a default Workload).
import { performance } from 'node:perf_hooks';
import { startBaseline, startRoostSide, type SideOptions } from '../sides.js';
import type { BenchOptions, Server, SetupContext, SideKind, WorkloadRun } from '../types.js';

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
