// IMAP sequence sets: parse, normalise, membership, iteration and canonical formatting.
// Implements RFC 9051 section 9 (sequence-set, seq-range, seq-number, "*") and RFC 5182 "$".
//
// Public API:
//   class SequenceSet
//     static parse(text: string, opts?: { allowSaved?: boolean; allowStar?: boolean }): SequenceSet
//                                  throws SequenceSetError on "0", "", "1:", "a", leading zeros, > 2^32-1
//     static fromNumbers(nums: Iterable<number>): SequenceSet      (numbers must be 1..2^32-1)
//     static fromRanges(ranges: Iterable<readonly [number, number]>): SequenceSet
//     readonly ranges: readonly SeqRange[]   as written; a SeqRange is { start, end } of number | '*'
//     readonly saved: boolean                true for "$" (the saved search result, RFC 5182)
//     readonly hasStar: boolean
//     resolve(max: number): Array<[number, number]>   "*" = max, sorted, merged, clipped to 1..max
//     has(n: number, max: number): boolean
//     count(max: number): number
//     values(max: number): Generator<number>          ascending, each number once
//     toString(): string                      the set as written ("$" when saved)
//   formatNumberRanges(ranges: Array<[number, number]>): string   "1:3,5" from normalised ranges
//   compressNumbers(nums: Iterable<number>): string                "1:3,5" from any numbers
//   class SequenceSetError extends Error

export class SequenceSetError extends Error {
  override name = 'SequenceSetError';
}

export type SeqNumber = number | '*';
export interface SeqRange {
  readonly start: SeqNumber;
  readonly end: SeqNumber;
}

const MAX_NZ_NUMBER = 0xffffffff;

function parseSeqNumber(text: string, allowStar: boolean): SeqNumber {
  if (text === '*') {
    if (!allowStar) throw new SequenceSetError('"*" is not allowed here');
    return '*';
  }
  if (text.length === 0) throw new SequenceSetError('Empty sequence number');
  if (text.length > 10) throw new SequenceSetError(`Sequence number out of range: ${text}`);
  const first = text.charCodeAt(0);
  if (first < 0x31 || first > 0x39) throw new SequenceSetError(`Invalid sequence number: ${text}`);
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw new SequenceSetError(`Invalid sequence number: ${text}`);
  }
  const n = Number(text);
  if (n > MAX_NZ_NUMBER) throw new SequenceSetError(`Sequence number out of range: ${text}`);
  return n;
}

function mergeRanges(pairs: Array<[number, number]>): Array<[number, number]> {
  pairs.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of pairs) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) {
      if (b > last[1]) last[1] = b;
    } else {
      out.push([a, b]);
    }
  }
  return out;
}

export class SequenceSet {
  readonly ranges: readonly SeqRange[];
  readonly saved: boolean;
  readonly hasStar: boolean;
  private resolvedFor = -1;
  private resolvedCache: Array<[number, number]> = [];

  private constructor(ranges: readonly SeqRange[], saved: boolean) {
    this.ranges = ranges;
    this.saved = saved;
    this.hasStar = ranges.some((r) => r.start === '*' || r.end === '*');
  }

  static parse(text: string, opts: { allowSaved?: boolean; allowStar?: boolean } = {}): SequenceSet {
    const allowStar = opts.allowStar ?? true;
    if (text === '$') {
      if (opts.allowSaved === false) throw new SequenceSetError('"$" is not allowed here');
      return new SequenceSet([], true);
    }
    if (text.length === 0) throw new SequenceSetError('Empty sequence set');
    const ranges: SeqRange[] = [];
    for (const part of text.split(',')) {
      const colon = part.indexOf(':');
      if (colon < 0) {
        const n = parseSeqNumber(part, allowStar);
        ranges.push({ start: n, end: n });
      } else {
        if (part.indexOf(':', colon + 1) >= 0) throw new SequenceSetError(`Invalid range: ${part}`);
        ranges.push({
          start: parseSeqNumber(part.slice(0, colon), allowStar),
          end: parseSeqNumber(part.slice(colon + 1), allowStar),
        });
      }
    }
    return new SequenceSet(ranges, false);
  }

  static fromRanges(pairs: Iterable<readonly [number, number]>): SequenceSet {
    const list: Array<[number, number]> = [];
    for (const [a, b] of pairs) {
      for (const n of [a, b]) {
        if (!Number.isInteger(n) || n < 1 || n > MAX_NZ_NUMBER) throw new SequenceSetError(`Invalid number: ${n}`);
      }
      list.push([Math.min(a, b), Math.max(a, b)]);
    }
    if (list.length === 0) throw new SequenceSetError('Empty sequence set');
    return new SequenceSet(
      mergeRanges(list).map(([start, end]) => ({ start, end })),
      false,
    );
  }

  static fromNumbers(nums: Iterable<number>): SequenceSet {
    const pairs: Array<[number, number]> = [];
    for (const n of nums) pairs.push([n, n]);
    return SequenceSet.fromRanges(pairs);
  }

  /** Sorted, merged, disjoint ranges within 1..max, with "*" standing for max. */
  resolve(max: number): Array<[number, number]> {
    if (this.saved) throw new SequenceSetError('"$" must be replaced by the saved result before use');
    if (this.resolvedFor !== max) {
      const pairs: Array<[number, number]> = [];
      for (const r of this.ranges) {
        let a = r.start === '*' ? max : r.start;
        let b = r.end === '*' ? max : r.end;
        if (a > b) [a, b] = [b, a];
        if (a < 1) a = 1;
        if (b > max) b = max;
        if (a <= b) pairs.push([a, b]);
      }
      this.resolvedCache = mergeRanges(pairs);
      this.resolvedFor = max;
    }
    return this.resolvedCache.map(([a, b]) => [a, b]);
  }

  has(n: number, max: number): boolean {
    if (this.saved) throw new SequenceSetError('"$" must be replaced by the saved result before use');
    if (n < 1 || n > max) return false;
    if (!this.hasStar) {
      for (const r of this.ranges) {
        const a = r.start as number;
        const b = r.end as number;
        if ((n >= a && n <= b) || (n >= b && n <= a)) return true;
      }
      return false;
    }
    if (this.resolvedFor !== max) this.resolve(max);
    const resolved = this.resolvedCache;
    let lo = 0;
    let hi = resolved.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [a, b] = resolved[mid]!;
      if (n < a) hi = mid - 1;
      else if (n > b) lo = mid + 1;
      else return true;
    }
    return false;
  }

  count(max: number): number {
    let total = 0;
    for (const [a, b] of this.resolve(max)) total += b - a + 1;
    return total;
  }

  *values(max: number): Generator<number> {
    for (const [a, b] of this.resolve(max)) {
      for (let n = a; n <= b; n++) yield n;
    }
  }

  toString(): string {
    if (this.saved) return '$';
    return this.ranges.map((r) => (r.start === r.end ? String(r.start) : `${r.start}:${r.end}`)).join(',');
  }
}

export function formatNumberRanges(ranges: ReadonlyArray<readonly [number, number]>): string {
  return ranges.map(([a, b]) => (a === b ? String(a) : `${a}:${b}`)).join(',');
}

export function compressNumbers(nums: Iterable<number>): string {
  const pairs: Array<[number, number]> = [];
  for (const n of nums) pairs.push([n, n]);
  return formatNumberRanges(mergeRanges(pairs));
}
