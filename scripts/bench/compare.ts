// Reproducibility of the benchmark: the Roost/baseline throughput ratio of every case in two runs side by side, and how
// far apart they are. A full run's docs carry this table against the previous full run of the same workloads.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RunReport, WorkloadResult } from './report.js';

/** Two runs' ratios differ by more than this fraction of the earlier one: the figure is not reproducible yet. */
export const REPRODUCIBLE_WITHIN = 0.25;

export interface RatioChange {
  workload: string;
  case: string;
  earlier: number;
  later: number;
  /** |later − earlier| / earlier */
  change: number;
}

function throughputRatios(w: WorkloadResult): Map<string, { label: string; ratio: number }> {
  const out = new Map<string, { label: string; ratio: number }>();
  for (const c of w.cases) {
    const r = c.summary.roost?.opsPerSec;
    const b = c.summary.baseline?.opsPerSec;
    if (r !== undefined && b !== undefined && b > 0 && Number.isFinite(r)) out.set(c.id, { label: c.label, ratio: r / b });
  }
  return out;
}

/** Every case both runs measured on both sides, in the later run's order. */
export function compareRuns(earlier: RunReport, later: RunReport): RatioChange[] {
  const changes: RatioChange[] = [];
  for (const w of later.workloads) {
    const before = earlier.workloads.find((x) => x.name === w.name);
    if (!before) continue;
    const old = throughputRatios(before);
    for (const [id, now] of throughputRatios(w)) {
      const prev = old.get(id);
      if (!prev) continue;
      changes.push({ workload: w.name, case: now.label, earlier: prev.ratio, later: now.ratio, change: Math.abs(now.ratio - prev.ratio) / prev.ratio });
    }
  }
  return changes;
}

/** The newest full run in `resultsDir` (other than `exclude`) that measured every workload `report` did. */
export function previousFullRun(resultsDir: string, report: RunReport, exclude: string): { file: string; report: RunReport } | undefined {
  const wanted = report.workloads.map((w) => w.name);
  const files = readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json') && !f.endsWith('-quick.json') && f !== basename(exclude))
    .sort()
    .reverse();
  for (const f of files) {
    try {
      const run = JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as RunReport;
      if (run.options.quick || run.options.cases || run.options.scale !== report.options.scale) continue;
      if (wanted.every((name) => run.workloads.some((w) => w.name === name))) return { file: join(resultsDir, f), report: run };
    } catch {
      /* not a run report */
    }
  }
  return undefined;
}

/** A markdown table of the changes, with a verdict line. */
export function comparisonMarkdown(changes: RatioChange[]): string {
  const rows = changes.map((c) => {
    const mark = c.change > REPRODUCIBLE_WITHIN ? ' (over)' : '';
    return `| ${c.workload} | ${c.case} | ${c.earlier.toFixed(2)}× | ${c.later.toFixed(2)}× | ${(c.change * 100).toFixed(0)}%${mark} |`;
  });
  const over = changes.filter((c) => c.change > REPRODUCIBLE_WITHIN).length;
  const verdict =
    over === 0
      ? `All ${changes.length} throughput ratios are within ${REPRODUCIBLE_WITHIN * 100}% of the previous run's.`
      : `${over} of ${changes.length} throughput ratios moved more than ${REPRODUCIBLE_WITHIN * 100}% from the previous run's.`;
  return [verdict, '', '| workload | case | previous ratio | this ratio | change |', '|---|---|---|---|---|', ...rows].join('\n');
}
