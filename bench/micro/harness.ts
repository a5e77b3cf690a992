/**
 * A tiny micro-benchmark harness: warm up, then time batches with
 * process.hrtime.bigint() and report the median ns/op over several rounds.
 * Medians over rounds keep one GC pause or a noisy neighbour from deciding a
 * result; ratios against a baseline measured in the same process are what we
 * report (DESIGN.md: figures are ratios, never absolute claims).
 */

export interface BenchResult {
  name: string;
  nsPerOp: number;
  ops: number;
}

export interface BenchOptions {
  /** Operations per timed round. */
  ops?: number;
  /** Timed rounds; the median is reported. */
  rounds?: number;
  /** Untimed warm-up operations (lets the JIT settle). */
  warmup?: number;
}

/** Sink that defeats dead-code elimination of benchmarked expressions. */
export let blackhole: unknown;
export function consume(v: unknown): void {
  blackhole = v;
}

export function bench(name: string, fn: (i: number) => unknown, opts: BenchOptions = {}): BenchResult {
  const ops = opts.ops ?? 100_000;
  const rounds = opts.rounds ?? 7;
  const warmup = opts.warmup ?? Math.min(ops, 20_000);
  for (let i = 0; i < warmup; i++) blackhole = fn(i);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) blackhole = fn(i);
    const t1 = process.hrtime.bigint();
    samples.push(Number(t1 - t0) / ops);
  }
  samples.sort((a, b) => a - b);
  return { name, nsPerOp: samples[Math.floor(samples.length / 2)] ?? 0, ops };
}

/** Prints a group of results as ns/op with each one's ratio to the first (the baseline). */
export function report(title: string, results: BenchResult[]): void {
  const base = results[0];
  if (!base) return;
  console.log(`\n## ${title} (node ${process.version})`);
  for (const r of results) {
    const ratio = base.nsPerOp / r.nsPerOp;
    console.log(
      `${r.name.padEnd(52)} ${r.nsPerOp.toFixed(1).padStart(10)} ns/op   ${ratio.toFixed(1).padStart(7)}x vs ${base.name}`,
    );
  }
}
