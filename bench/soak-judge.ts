/**
 * The soak's pass/fail rule, pure (unit-tested with synthetic series in
 * test/unit/soak-judge.test.ts, so it is known to fail on a leak).
 *
 * Memory is judged on the daemon's heap after a forced full GC (through the
 * inspector), plus external memory (Buffers live there), so the number is
 * what is really retained, not where the GC sawtooth happened to be:
 *
 *  1. after churn stops and a settle period, the rooms, peers, transports,
 *     producers, consumers and WebSocket gauges are 0;
 *  2. retained memory after settling is at most `maxGrowthMB` above the
 *     baseline taken after a warm-up churn (which pays for JIT code, lazy
 *     pools and metric series once): a per-peer leak of L bytes over P peers
 *     shows as L x P here;
 *  3. the least-squares slope of retained memory over the second half of
 *     the churn is at most `maxSlopeMBPerMin` (judged only with at least
 *     `minSlopeSamples` samples: a short run's slope is mostly noise, and
 *     rule 2 covers it);
 *  4. active handles and open file descriptors after settling are at most
 *     `maxHandleGrowth` / `maxFdGrowth` above the baseline;
 *  5. at most `maxJoinFailureShare` of the joins failed (else the churn did
 *     not really happen and rules 1-4 prove little).
 */

export interface SoakSample {
  /** Seconds since the churn started (negative before it). */
  t: number;
  /** Heap used after a forced GC, and external memory, bytes. */
  heapUsed: number;
  external: number;
  rss: number;
  handles: number;
  fds: number;
  gauges: SoakGauges;
}

export interface SoakGauges {
  rooms: number;
  peers: number;
  transports: number;
  producers: number;
  consumers: number;
  wsConnections: number;
}

export interface SoakLimits {
  maxGrowthMB: number;
  maxSlopeMBPerMin: number;
  minSlopeSamples: number;
  maxHandleGrowth: number;
  maxFdGrowth: number;
  maxJoinFailureShare: number;
}

export const DEFAULT_LIMITS: SoakLimits = {
  maxGrowthMB: 8,
  maxSlopeMBPerMin: 1,
  minSlopeSamples: 10,
  maxHandleGrowth: 5,
  maxFdGrowth: 5,
  maxJoinFailureShare: 0.1,
};

export interface SoakVerdict {
  pass: boolean;
  failures: string[];
  /** Retained memory (heap + external) after settling minus the baseline, MB. */
  growthMB: number;
  /** Slope over the second half of the churn, MB/min (NaN with too few samples). */
  slopeMBPerMin: number;
  slopeSamples: number;
  handleGrowth: number;
  fdGrowth: number;
}

const MB = 1024 * 1024;

export function retainedMB(s: SoakSample): number {
  return (s.heapUsed + s.external) / MB;
}

/** Least-squares slope of y over x; NaN for fewer than two distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.x;
    sy += p.y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/**
 * `baseline`: after warm-up, before the churn; `during`: samples taken while
 * peers churn (t from 0 to `churnSeconds`); `settled`: after churn and settle.
 */
export function judgeSoak(
  baseline: SoakSample,
  during: readonly SoakSample[],
  settled: SoakSample,
  churnSeconds: number,
  joins: { attempted: number; failed: number },
  limits: SoakLimits = DEFAULT_LIMITS,
): SoakVerdict {
  const failures: string[] = [];
  for (const [name, v] of Object.entries(settled.gauges)) {
    if (v !== 0) failures.push(`${name} gauge is ${v} after settling, not 0`);
  }
  const growthMB = retainedMB(settled) - retainedMB(baseline);
  if (growthMB > limits.maxGrowthMB) {
    failures.push(`retained memory grew ${growthMB.toFixed(1)} MB over the baseline (limit ${limits.maxGrowthMB} MB)`);
  }
  const half = during.filter((s) => s.t >= churnSeconds / 2 && s.t <= churnSeconds);
  const slopeMBPerMin = slope(half.map((s) => ({ x: s.t / 60, y: retainedMB(s) })));
  if (half.length >= limits.minSlopeSamples && slopeMBPerMin > limits.maxSlopeMBPerMin) {
    failures.push(`retained memory rose ${slopeMBPerMin.toFixed(2)} MB/min over the second half of the churn (limit ${limits.maxSlopeMBPerMin})`);
  }
  const handleGrowth = settled.handles - baseline.handles;
  if (handleGrowth > limits.maxHandleGrowth) failures.push(`active handles grew by ${handleGrowth} (limit ${limits.maxHandleGrowth})`);
  const fdGrowth = settled.fds - baseline.fds;
  if (fdGrowth > limits.maxFdGrowth) failures.push(`open file descriptors grew by ${fdGrowth} (limit ${limits.maxFdGrowth})`);
  const share = joins.attempted === 0 ? 1 : joins.failed / joins.attempted;
  if (share > limits.maxJoinFailureShare) {
    failures.push(`${joins.failed} of ${joins.attempted} joins failed (limit ${(limits.maxJoinFailureShare * 100).toFixed(0)}%)`);
  }
  return { pass: failures.length === 0, failures, growthMB, slopeMBPerMin, slopeSamples: half.length, handleGrowth, fdGrowth };
}
