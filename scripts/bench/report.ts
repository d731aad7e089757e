// Benchmark output: the result model, the stdout table (Roost, baseline, ratio per case), the JSON file per run with raw
// samples, versions and machine, an SVG chart per workload, and docs/BENCHMARKS.md with the latest table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { SideKind } from './types.js';

export interface RepSample {
  rep: number;
  ops: number;
  bytes: number;
  seconds: number;
  errors: number;
  opsPerSec: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
  peakPssBytes: number;
  cpuSeconds: number;
  latenciesMs: number[];
}

export interface SideSummary {
  reps: number;
  opsPerSec: number;
  /** (max - min) / median of ops/s over the repetitions */
  spread: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
  peakPssBytes: number;
  cpuSeconds: number;
}

export interface CaseResult {
  id: string;
  label: string;
  samples: Record<SideKind, RepSample[]>;
  summary: Partial<Record<SideKind, SideSummary>>;
  /** set when a side failed on this case (the error, never a figure) */
  failures: Partial<Record<SideKind, string>>;
}

export interface SideStatus {
  available: boolean;
  label?: string;
  reason?: string;
}

export interface WorkloadResult {
  name: string;
  description: string;
  opName: string;
  reportBytes: boolean;
  sides: Record<SideKind, SideStatus>;
  cases: CaseResult[];
}

export interface RunReport {
  startedAt: string;
  finishedAt: string;
  argv: string[];
  options: { quick: boolean; scale: number; repeat: number; cases?: string[] };
  versions: Record<string, string>;
  machine: Record<string, string | number>;
  workloads: WorkloadResult[];
}

const fmt = (n: number | undefined, digits = 1): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));
const mb = (bytes: number | undefined): string => (bytes === undefined ? '–' : fmt(bytes / (1024 * 1024), 1));
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '–' : `${(a / b).toFixed(2)}×`;

/** Keeps table cells short; the JSON keeps the whole text. */
const clip = (s: string, max = 72): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** Rows for one workload: per case a Roost row, a baseline row and a ratio row (Roost / baseline). */
export function tableRows(w: WorkloadResult): string[][] {
  const rows: string[][] = [];
  for (const c of w.cases) {
    const r = c.summary.roost;
    const b = c.summary.baseline;
    const side = (kind: SideKind, s: SideSummary | undefined): string[] => {
      const status = w.sides[kind];
      const name = status.label ?? (kind === 'roost' ? 'Roost' : 'Dovecot');
      if (!status.available) return [c.label, name, clip(status.reason ?? 'not available'), '', '', '', '', ''];
      const failure = c.failures[kind];
      if (!s) return [c.label, name, clip(failure ? `failed: ${failure}` : 'no samples'), '', '', '', '', ''];
      return [
        c.label,
        name,
        `${fmt(s.opsPerSec)} ±${fmt(s.spread * 100, 0)}%`,
        w.reportBytes ? fmt(s.mbPerSec) : '',
        fmt(s.p50Ms, 2),
        fmt(s.p99Ms, 2),
        mb(s.peakPssBytes),
        fmt(s.cpuSeconds, 2),
      ];
    };
    rows.push(side('roost', r), side('baseline', b));
    rows.push([
      c.label,
      'ratio',
      ratio(r?.opsPerSec, b?.opsPerSec),
      w.reportBytes ? ratio(r?.mbPerSec, b?.mbPerSec) : '',
      ratio(r?.p50Ms, b?.p50Ms),
      ratio(r?.p99Ms, b?.p99Ms),
      ratio(r?.peakPssBytes, b?.peakPssBytes),
      ratio(r?.cpuSeconds, b?.cpuSeconds),
    ]);
  }
  return rows;
}

function headers(w: WorkloadResult): string[] {
  return ['case', 'side', `${w.opName}/s`, w.reportBytes ? 'MB/s' : '', 'p50 ms', 'p99 ms', 'peak PSS MB', 'CPU s'];
}

/** Header and rows without the MB/s column when the workload does not report bytes. */
function columns(w: WorkloadResult): { head: string[]; rows: string[][] } {
  const keep = (cells: string[]) => (w.reportBytes ? cells : cells.filter((_, i) => i !== 3));
  return { head: keep(headers(w)), rows: tableRows(w).map(keep) };
}

export function textTable(w: WorkloadResult): string {
  const { head, rows } = columns(w);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`== ${w.name}: ${w.description}`, line(head), widths.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(w: WorkloadResult): string {
  const { head, rows } = columns(w);
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n');
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A horizontal bar chart of throughput per case, Roost beside Dovecot, with the ratio. */
export function svgChart(w: WorkloadResult): string {
  const barHeight = 18;
  const gap = 14;
  const left = 170;
  const width = 760;
  const plot = width - left - 170;
  const rowsHeight = w.cases.length * (2 * barHeight + gap);
  const height = 50 + rowsHeight + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(`${w.name}: ${w.opName}/s (higher is better)`)}</text>`,
    `<rect x="${left}" y="30" width="12" height="12" fill="#d9822b"/><text x="${left + 16}" y="40">${escapeXml(w.sides.roost.label ?? 'Roost')}</text>`,
    `<rect x="${left + 220}" y="30" width="12" height="12" fill="#4a6fa5"/><text x="${left + 236}" y="40">${escapeXml(w.sides.baseline.label ?? 'Dovecot')}</text>`,
  ];
  let y = 55;
  for (const c of w.cases) {
    const r = c.summary.roost?.opsPerSec;
    const b = c.summary.baseline?.opsPerSec;
    const max = Math.max(r ?? 0, b ?? 0, 1e-9);
    out.push(`<text x="10" y="${y + barHeight + 4}">${escapeXml(c.label)}</text>`);
    const bar = (value: number | undefined, at: number, color: string, missing: string) => {
      if (value === undefined) {
        out.push(`<text x="${left + 4}" y="${at + 13}" fill="#888">${escapeXml(missing)}</text>`);
        return;
      }
      const len = Math.max(1, (value / max) * plot);
      out.push(`<rect x="${left}" y="${at}" width="${len.toFixed(1)}" height="${barHeight}" fill="${color}"/>`);
      out.push(`<text x="${(left + len + 4).toFixed(1)}" y="${at + 13}">${fmt(value)}</text>`);
    };
    bar(r, y, '#d9822b', w.sides.roost.available ? (c.failures.roost ? 'Roost failed' : 'no samples') : `Roost ${w.sides.roost.reason ?? 'not available'}`);
    bar(b, y + barHeight, '#4a6fa5', w.sides.baseline.available ? 'no samples' : 'baseline not available');
    if (r !== undefined && b !== undefined) {
      out.push(`<text x="${width - 70}" y="${y + barHeight + 4}" font-weight="bold">${ratio(r, b)}</text>`);
    }
    y += 2 * barHeight + gap;
  }
  out.push(`<text x="10" y="${height - 10}" fill="#666">ratio = Roost / baseline; median over repetitions</text>`, '</svg>');
  return out.join('\n');
}

export function writeJson(report: RunReport, resultsDir: string): string {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const names = report.workloads.map((w) => w.name).join('+') || 'none';
  const file = join(resultsDir, `${stamp}-${names.length > 60 ? 'all' : names}${report.options.quick ? '-quick' : ''}.json`);
  // Latencies are kept to the microsecond, one line per repetition, so a run's raw samples stay small.
  const json = JSON.stringify(report, (key, value) => (key === 'latenciesMs' && Array.isArray(value) ? (value as number[]).map((v) => Math.round(v * 1000) / 1000) : value));
  writeFileSync(file, json);
  return file;
}

/** Writes bench/charts/<workload>.svg and docs/BENCHMARKS.md for the run. */
export function writeDocs(report: RunReport, repoRoot: string, resultFile: string, comparison?: { file: string; markdown: string }): string {
  const chartsDir = join(repoRoot, 'bench', 'charts');
  mkdirSync(chartsDir, { recursive: true });
  const docsFile = join(repoRoot, 'docs', 'BENCHMARKS.md');
  const sections: string[] = [];
  for (const w of report.workloads) {
    const chart = join(chartsDir, `${w.name}.svg`);
    writeFileSync(chart, svgChart(w));
    sections.push(`### ${w.name}\n\n${w.description}.\n\n${markdownTable(w)}\n\n![${w.name}](${relative(join(repoRoot, 'docs'), chart)})\n`);
  }
  const versions = Object.entries(report.versions).map(([k, v]) => `- ${k}: ${v}`).join('\n');
  const machine = Object.entries(report.machine).map(([k, v]) => `- ${k}: ${v}`).join('\n');
  const text = `# Benchmarks: Roost beside Dovecot, as ratios

This file is written by \`npm run bench -- all\` (\`scripts/bench.ts\`); do not edit it by hand.
The only claim made here is a side-by-side one: both servers on the same machine, in the same run,
over the same users and the same generated store, driven by the same load clients.

## How the figures are made

- **Sides.** Roost as \`test/helpers/roost.ts\` starts it (default configuration, durable saves) and
  Debian's Dovecot as \`test/interop/peers.ts\` starts it (own config on 127.0.0.1 high ports,
  \`mail_fsync = optimized\`, so deliveries are fsynced on both sides; process and client limits high
  enough for the connection counts; plaintext allowed on loopback on both).
- **Load.** Clients in \`scripts/bench/net.ts\` on raw sockets, neither server's code: LMTP with MAIL/RCPT/DATA
  pipelined, POP3 RETR pipelined 16 deep, auth-client requests pipelined by id, IMAP one session per login.
- **Repetitions.** One warm-up run per side and case (discarded), then \`--repeat\` runs with Roost and Dovecot
  interleaved (ABBA order); in a full run a case whose runs disagree by more than 30% on either side gets
  four more pairs. Throughput is the median over runs, ± the spread (max − min) / median;
  p50/p99 are the medians of each run's percentiles of per-operation latency.
- **CPUs.** On a machine with two CPUs or more the harness and its clients run on the first one and both
  servers, every process and thread, on the others (\`taskset\`, \`scripts/bench/cpu-pinning.ts\`; \`--no-pin\`
  turns it off): a client never takes CPU from the server it measures, and both sides get the same cores.
- **Memory** is the peak of the sum of PSS over every process of the server (\`/proc/PID/smaps_rollup\`,
  sampled every 250 ms), since Dovecot runs a process per connection. **CPU** is user + system seconds of the
  server's processes (reaped children included) per run, median over runs.
- **Ratio** is Roost / Dovecot for every column: above 1 is better for throughput, below 1 is better
  for latency, memory and CPU.
- A side that cannot run a workload yet says so instead of showing a figure.
- The corpus (\`scripts/bench/corpus.ts\`) is reproducible from its seed: sizes mostly 1–50 KB with a tail to
  10 MB, plain, multipart/alternative and attachments, RFC 2047 headers in several charsets, threads; cached
  under \`bench/cache/\`.

Run: \`npm run bench -- <workload|all> [--quick] [--scale N] [--repeat N] [--case ID] [--no-pin]\`. Raw samples of every run are in
\`bench/results/\`; this table is from \`${relative(repoRoot, resultFile)}\`.

## Latest run

${report.startedAt} – ${report.finishedAt}; ${report.options.quick ? 'quick' : 'full'} run, scale ${report.options.scale}, ${report.options.repeat} repetitions${report.options.quick ? '' : ' (four more for a noisy case)'}.

${versions}

Machine:

${machine}

${sections.join('\n')}${
    comparison
      ? `
## Reproducibility

Throughput ratios (Roost / baseline) of this run beside those of the previous full run,
\`${relative(repoRoot, comparison.file)}\`.

${comparison.markdown}
`
      : ''
  }`;
  writeFileSync(docsFile, text);
  return docsFile;
}
