// Summary statistics for benchmark samples: median, percentiles (nearest rank), and relative spread across repetitions.
// Pure functions over arrays of numbers; no input is modified.

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** (max - min) / median: how far repetitions disagree, as a fraction of the median. */
export function relativeSpread(values: number[]): number {
  if (values.length < 2) return 0;
  const m = median(values);
  if (!Number.isFinite(m) || m === 0) return NaN;
  return (Math.max(...values) - Math.min(...values)) / m;
}
