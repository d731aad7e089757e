// Benchmark harness entry point: runs workload plugins (scripts/bench/workloads/*.ts) against Roost and the Dovecot baseline
// side by side, interleaved, and reports ratios. Usage: node --import tsx scripts/bench.ts <workload|all> [--quick] [--scale N] [--repeat N]
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, hostname, release, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { cpuSeconds, dovecotVersion, makeTraversable, measurePss, peerAvailable, postfixVersion } from '../test/interop/peers.js';
import { pinHarness, pinServer } from './bench/cpu-pinning.js';
import { compareRuns, comparisonMarkdown, previousFullRun } from './bench/compare.js';
import { DEFAULT_CACHE_DIR, REPO_ROOT, ensureCorpus } from './bench/corpus.js';
import { roostVersion } from './bench/sides.js';
import { median, percentile, relativeSpread } from './bench/stats.js';
import {
  textTable,
  writeDocs,
  writeJson,
  type CaseResult,
  type RepSample,
  type RunReport,
  type SideSummary,
  type WorkloadResult,
} from './bench/report.js';
import { EXTRA_REPS_WHEN_NOISY, SideUnavailable, type BenchOptions, type Server, type SideKind, type Workload } from './bench/types.js';

const WORKLOAD_DIR = join(REPO_ROOT, 'scripts', 'bench', 'workloads');
const SIDES: SideKind[] = ['roost', 'baseline'];
/** A case whose throughput spread (max - min over median) on either side exceeds this after --repeat runs is noisy. */
const NOISY_SPREAD = 0.3;
/** Servers running right now, so an interrupt stops them before the harness exits. */
const running = new Set<Server>();

/** Every plugin in scripts/bench/workloads: a file whose default export is a Workload. */
export async function loadWorkloads(): Promise<Workload[]> {
  const out: Workload[] = [];
  for (const file of readdirSync(WORKLOAD_DIR).sort()) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const mod = (await import(pathToFileURL(join(WORKLOAD_DIR, file)).href)) as { default?: Workload };
    const w = mod.default;
    if (w && typeof w.name === 'string' && typeof w.run === 'function') out.push(w);
  }
  return out;
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** One measured repetition: the workload's own figures plus peak PSS (sampled) and CPU seconds of the server. */
async function measure(workload: Workload, server: Server, benchCase: CaseResult & { params: Record<string, number | string> }, options: BenchOptions, rep: number, warmup: boolean): Promise<RepSample> {
  // Again before every repetition: processes a server forked since (Dovecot's login and mail processes) follow their parent,
  // but one restarted by a workload starts on the harness's CPU.
  pinServer(server.pids());
  const cpuBefore = cpuSeconds(server.pids());
  let peak = await measurePss(server.pids());
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    measurePss(server.pids())
      .then((pss) => {
        peak = Math.max(peak, pss);
      })
      .finally(() => {
        sampling = false;
      });
  }, 250);
  try {
    const run = await workload.run(server, { id: benchCase.id, label: benchCase.label, params: benchCase.params }, { options, warmup });
    peak = Math.max(peak, await measurePss(server.pids()));
    const cpu = cpuSeconds(server.pids()) - cpuBefore;
    return {
      rep,
      ops: run.ops,
      bytes: run.bytes,
      seconds: run.seconds,
      errors: run.errors,
      opsPerSec: run.ops / run.seconds,
      mbPerSec: run.bytes / (1024 * 1024) / run.seconds,
      p50Ms: percentile(run.latenciesMs, 50),
      p99Ms: percentile(run.latenciesMs, 99),
      peakPssBytes: peak,
      cpuSeconds: Math.max(0, cpu),
      latenciesMs: run.latenciesMs.map((l) => Math.round(l * 1000) / 1000),
    };
  } finally {
    clearInterval(sampler);
  }
}

function summarize(samples: RepSample[]): SideSummary | undefined {
  if (samples.length === 0) return undefined;
  const throughput = samples.map((s) => s.opsPerSec);
  return {
    reps: samples.length,
    opsPerSec: median(throughput),
    spread: relativeSpread(throughput),
    mbPerSec: median(samples.map((s) => s.mbPerSec)),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
    peakPssBytes: Math.max(...samples.map((s) => s.peakPssBytes)),
    cpuSeconds: median(samples.map((s) => s.cpuSeconds)),
  };
}

async function runWorkload(workload: Workload, options: BenchOptions, workRoot: string): Promise<WorkloadResult> {
  const result: WorkloadResult = {
    name: workload.name,
    description: workload.description,
    opName: workload.opName,
    reportBytes: workload.reportBytes ?? false,
    sides: { roost: { available: false }, baseline: { available: false } },
    cases: [],
  };
  const servers: Partial<Record<SideKind, Server>> = {};
  try {
    for (const kind of ['baseline', 'roost'] as SideKind[]) {
      const dir = mkdtempSync(join(workRoot, `${workload.name}-${kind}-`));
      makeTraversable(dir);
      try {
        log(`${workload.name}: starting ${kind}`);
        const server = await workload.setup(kind, {
          options,
          dir,
          corpus: async (count, tailMax) => ensureCorpus({ count, tailMax, cacheDir: DEFAULT_CACHE_DIR, log }),
          log,
        });
        servers[kind] = server;
        running.add(server);
        pinServer(server.pids());
        result.sides[kind] = { available: true, label: server.label };
      } catch (err) {
        const reason = err instanceof SideUnavailable ? err.message : `failed to start: ${(err as Error).message.split('\n')[0]}`;
        result.sides[kind] = { available: false, reason };
        log(`${workload.name}: ${kind} ${reason}`);
      }
    }

    for (const benchCase of workload.cases(options).filter((c) => !options.cases || options.cases.includes(c.id))) {
      const caseResult: CaseResult & { params: Record<string, number | string> } = {
        id: benchCase.id,
        label: benchCase.label,
        params: benchCase.params,
        samples: { roost: [], baseline: [] },
        summary: {},
        failures: {},
      };
      const active = () => SIDES.filter((k) => servers[k] && !caseResult.failures[k]);
      const attempt = async (kind: SideKind, rep: number, warmup: boolean) => {
        try {
          const sample = await measure(workload, servers[kind]!, caseResult, options, rep, warmup);
          if (!warmup) caseResult.samples[kind].push(sample);
        } catch (err) {
          caseResult.failures[kind] = (err as Error).message.split('\n')[0]!;
          log(`${workload.name} ${benchCase.label}: ${kind} failed: ${caseResult.failures[kind]}`);
        }
      };
      log(`${workload.name} ${benchCase.label}: warm-up`);
      for (const kind of active()) await attempt(kind, -1, true);
      const noisy = () => SIDES.some((k) => relativeSpread(caseResult.samples[k].map((s) => s.opsPerSec)) > NOISY_SPREAD);
      const runPair = async (rep: number) => {
        // ABBA: alternate which side goes first, so drift over time hits both alike.
        const order = rep % 2 === 0 ? SIDES : [...SIDES].reverse();
        for (const kind of order) if (active().includes(kind)) await attempt(kind, rep, false);
      };
      for (let rep = 0; rep < options.repeat; rep++) await runPair(rep);
      // A full run gives a noisy case more pairs: the median of nine moves less from run to run than that of five.
      if (!options.quick && noisy()) for (let rep = options.repeat; rep < options.repeat + EXTRA_REPS_WHEN_NOISY; rep++) await runPair(rep);
      for (const kind of SIDES) caseResult.summary[kind] = summarize(caseResult.samples[kind]);
      const { params: _params, ...stored } = caseResult;
      result.cases.push(stored);
    }
  } finally {
    for (const kind of SIDES) {
      const server = servers[kind];
      if (!server) continue;
      await workload.teardown(server).catch((err) => log(`${workload.name}: stopping ${kind}: ${(err as Error).message}`));
      running.delete(server);
    }
  }
  return result;
}

async function versions(): Promise<Record<string, string>> {
  const out: Record<string, string> = { node: process.version, roost: roostVersion() };
  if (peerAvailable('dovecot')) out.dovecot = await dovecotVersion().catch((e: Error) => `unknown (${e.message})`);
  if (peerAvailable('postfix')) out.postfix = await postfixVersion().catch((e: Error) => `unknown (${e.message})`);
  return out;
}

function machine(): Record<string, string | number> {
  const cpuList = cpus();
  return {
    host: hostname(),
    kernel: release(),
    cpu: cpuList[0]?.model ?? 'unknown',
    cores: cpuList.length,
    memoryGB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
  };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

async function main(): Promise<void> {
  const workloads = await loadWorkloads();
  const program = new Command()
    .name('bench')
    .description(`Roost beside Dovecot, as ratios. Workloads: ${workloads.map((w) => w.name).join(', ')}, or all.`)
    .argument('<workload>', 'a workload name, or "all"')
    .option('--quick', 'a smoke run: little work, 2 repetitions', false)
    .option('--scale <n>', 'multiply the work per repetition', positiveNumber, 1)
    .option('--repeat <n>', 'measured repetitions per side and case (default 5, quick 2)', positiveInt)
    .option('--case <id>', 'only the cases with this id (repeatable; ids are in the JSON of a run)', (id: string, ids: string[]) => [...ids, id], [] as string[])
    .option('--no-pin', 'leave the client and the servers on every CPU (by default the client gets one CPU, servers the rest)')
    .option('--results <dir>', 'where the JSON of the run goes', join(REPO_ROOT, 'bench', 'results'))
    .option('--docs', 'write docs/BENCHMARKS.md and bench/charts even for a quick run')
    .option('--no-docs', 'do not write docs/BENCHMARKS.md and bench/charts')
    .parse();
  const name = program.args[0]!;
  const flags = program.opts<{ quick: boolean; scale: number; repeat?: number; case: string[]; pin: boolean; results: string; docs?: boolean }>();
  const options: BenchOptions = { quick: flags.quick, scale: flags.scale, repeat: flags.repeat ?? (flags.quick ? 2 : 5), cases: flags.case.length > 0 ? flags.case : undefined };
  const selected = name === 'all' ? workloads : workloads.filter((w) => w.name === name);
  if (selected.length === 0) {
    log(`unknown workload "${name}"; known: ${workloads.map((w) => w.name).join(', ')}, all`);
    process.exitCode = 2;
    return;
  }
  const unknownCases = (options.cases ?? []).filter((id) => !selected.some((w) => w.cases(options).some((c) => c.id === id)));
  if (unknownCases.length > 0) {
    log(`no case ${unknownCases.join(', ')} in ${selected.map((w) => w.name).join(', ')}; case ids: ${selected.flatMap((w) => w.cases(options).map((c) => c.id)).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  // --docs / --no-docs given explicitly wins; by default only a full run writes the docs.
  const explicitDocs = process.argv.includes('--docs') || process.argv.includes('--no-docs');
  // A run of chosen cases is an investigation, not the latest full run: it writes no docs unless asked.
  const writeDocsNow = explicitDocs ? flags.docs !== false : !options.quick && !options.cases;

  const cpuPlan = flags.pin ? pinHarness() : undefined;
  log(cpuPlan ? `client on CPU ${cpuPlan.client}, servers on CPU ${cpuPlan.servers}` : 'client and servers share every CPU');

  const workRoot = mkdtempSync(join(tmpdir(), 'roost-bench-'));
  makeTraversable(workRoot);
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping ${running.size} server(s)`);
    void Promise.allSettled([...running].map((s) => s.stop())).finally(() => {
      rmSync(workRoot, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const report: RunReport = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    argv: process.argv.slice(2),
    options,
    versions: await versions(),
    machine: { ...machine(), ...(cpuPlan ? { clientCpus: cpuPlan.client, serverCpus: cpuPlan.servers } : {}) },
    workloads: [],
  };
  try {
    for (const workload of selected) {
      const result = await runWorkload(workload, options, workRoot);
      report.workloads.push(result);
      process.stdout.write(`\n${textTable(result)}\n`);
    }
  } finally {
    rmSync(workRoot, { recursive: true, force: true });
  }
  report.finishedAt = new Date().toISOString();
  const file = writeJson(report, flags.results);
  log(`raw samples: ${file}`);
  let comparison: { file: string; markdown: string } | undefined;
  const previous = options.quick ? undefined : previousFullRun(flags.results, report, file);
  if (previous) {
    comparison = { file: previous.file, markdown: comparisonMarkdown(compareRuns(previous.report, report)) };
    process.stdout.write(`\nAgainst the previous full run (${previous.file}):\n${comparison.markdown}\n`);
  }
  if (writeDocsNow) log(`docs: ${writeDocs(report, REPO_ROOT, file, comparison)}`);
  const failed = report.workloads.some((w) => w.cases.some((c) => c.failures.baseline) || !w.sides.baseline.available);
  if (failed) process.exitCode = 1;
}

await main();
