/**
 * A tiny log-linear histogram (HDR-style) for latencies in microseconds:
 * values below 128 have their own bucket, above that each power of two is
 * split into 64 linear sub-buckets, so any percentile is within ~1.6% of the
 * true value. Fixed memory (one Float64Array), O(1) record, no allocation.
 */
const SUB_BITS = 6;
const SUB = 1 << SUB_BITS; // 64 sub-buckets per power of two
const LINEAR = SUB * 2; // values 0..127 are exact
const MAX_EXP = 40; // up to 2^40 us (~12 days): anything larger is clamped

function indexOf(v: number): number {
  if (v < LINEAR) return v;
  const e = Math.floor(Math.log2(v)); // >= 7
  const sub = Math.floor(v / 2 ** (e - SUB_BITS)) - SUB; // 0..63
  return LINEAR + (e - SUB_BITS - 1) * SUB + sub;
}

/** Lower bound of a bucket (what percentiles report). */
function valueOf(i: number): number {
  if (i < LINEAR) return i;
  const j = i - LINEAR;
  const e = Math.floor(j / SUB) + SUB_BITS + 1;
  const sub = j % SUB;
  return (SUB + sub) * 2 ** (e - SUB_BITS);
}

export interface HistogramSummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface HistogramData {
  /** [bucket index, count] for every non-empty bucket. */
  buckets: [number, number][];
  count: number;
  max: number;
  sum: number;
}

export class Histogram {
  private readonly counts = new Float64Array(LINEAR + (MAX_EXP - SUB_BITS) * SUB);
  private _count = 0;
  private _max = 0;
  private sum = 0;

  /** Records one value (non-negative; fractions are truncated, negatives count as 0). */
  record(value: number): void {
    let v = value > 0 ? Math.floor(value) : 0;
    if (v > 2 ** MAX_EXP - 1) v = 2 ** MAX_EXP - 1;
    this.counts[indexOf(v)]!++;
    this._count++;
    this.sum += v;
    if (v > this._max) this._max = v;
  }

  get count(): number {
    return this._count;
  }

  get max(): number {
    return this._max;
  }

  /** The value at quantile q (0..1): the lower bound of the bucket holding it. */
  quantile(q: number): number {
    if (this._count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this._count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(valueOf(i), this._max);
    }
    return this._max;
  }

  /** The recorded values in a form that crosses a process boundary (IPC): non-empty buckets only. */
  data(): HistogramData {
    const buckets: [number, number][] = [];
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!]);
    return { buckets, count: this._count, max: this._max, sum: this.sum };
  }

  /** Adds another histogram's values (from `data()`, possibly of another process). */
  merge(d: HistogramData): void {
    for (const [i, c] of d.buckets) if (i >= 0 && i < this.counts.length) this.counts[i]! += c;
    this._count += d.count;
    this.sum += d.sum;
    if (d.max > this._max) this._max = d.max;
  }

  reset(): void {
    this.counts.fill(0);
    this._count = 0;
    this._max = 0;
    this.sum = 0;
  }

  summary(): HistogramSummary {
    return {
      count: this._count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this._max,
      mean: this._count === 0 ? 0 : this.sum / this._count,
    };
  }
}
