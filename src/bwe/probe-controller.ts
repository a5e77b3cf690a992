/**
 * When to probe: padding above the estimate, sent to learn whether the
 * downlink can carry what the allocation wants. Pure and clock-injected:
 * the caller asks `decide()` every tick and sends the returned cluster
 * (marking its packets with the cluster id), then reports `onProbeDone()`
 * once the cluster's feedback is in.
 *
 * Rules:
 * - Only while the allocation is limited (something wants more than the
 *   estimate) and the estimate has been stable, with no overuse and no
 *   decrease, for `stableMs` (2 s) since the last probe or decrease: a
 *   probe into a queue that is still draining measures the queue. The first
 *   probe may wait less (`initialWaitMs`) unless overuse or a decrease
 *   came first: at the start there is no queue to drain, and the start
 *   estimate is a guess (libwebrtc probes at 3 and 6 x its start at once).
 * - Target min(wanted, 2 x estimate), at least 1.25 x estimate (and at
 *   most `maxBps`); `durationMs` (150 ms: long enough for a rate over tens
 *   of packets, short enough that a probe at twice a link's rate queues
 *   only 150 ms of it instead of overflowing a shallow buffer).
 * - One probe at a time; a probe not reported done within
 *   duration + `doneTimeoutMs` counts as failed.
 * - A probe fails when the estimate did not rise by `successRatio` (5 %).
 *   Each failure doubles the wait (exponential backoff, at most
 *   `maxIntervalMs`); a success resets it, and so does new information: the
 *   wanted rate growing by more than 25 % since the last probe (a new track,
 *   a raised cap), or the estimate climbing 20 % above where the last probe
 *   failed (the path carries more than it did then: the failure is stale).
 */

export interface ProbeDecision {
  clusterId: number;
  targetBps: number;
  durationMs: number;
}

export interface ProbeState {
  nowMs: number;
  estimateBps: number;
  limited: boolean;
  wantedBps: number;
  overusing: boolean;
  /**
   * The delay-based estimate alone (TWCC mode), when a loss cap holds the
   * estimate below it: evidence the path carries more, so a probe goes there
   * at once instead of doubling up from the cap step by step.
   */
  delayBasedBps?: number;
}

export interface ProbeControllerOptions {
  stableMs?: number;
  /**
   * The wait after a successful probe (default `stableMs`): the estimate
   * just rose on evidence, so the next step may be tried sooner (unless
   * the estimate falls or overuse shows meanwhile, which restarts the wait
   * at `stableMs`).
   */
  successWaitMs?: number;
  durationMs?: number;
  /** The wait before the first probe, while nothing has shown congestion (default `stableMs`). */
  initialWaitMs?: number;
  maxIntervalMs?: number;
  doneTimeoutMs?: number;
  successRatio?: number;
  maxBps?: number;
  /** First cluster id (ids increase by one per probe, wrapping below 2^31). */
  firstClusterId?: number;
}

/** A drop of the estimate by more than this fraction between decisions counts as a decrease. */
const DECREASE_FRACTION = 0.05;
const WANTED_GROWTH_RESET = 1.25;
const ESTIMATE_GROWTH_RESET = 1.2;

export class ProbeController {
  private readonly stableMs: number;
  private readonly successWaitMs: number;
  /** The last probe succeeded and nothing has restarted the wait since. */
  private afterSuccess = false;
  private readonly durationMs: number;
  private readonly initialWaitMs: number;
  /** No probe sent yet and no congestion seen: the first probe needs only `initialWaitMs`. */
  private initial = true;
  private readonly maxIntervalMs: number;
  private readonly doneTimeoutMs: number;
  private readonly successRatio: number;
  private readonly maxBps: number;
  private nextId: number;
  /** Start of the current stable period (NaN until the first decision). */
  private stableSinceMs = NaN;
  private lastEstimate = 0;
  private failures = 0;
  private wantedAtProbe = 0;
  private pendingId = -1;
  private pendingStartMs = 0;
  private pendingEstimate = 0;
  probes = 0;
  successes = 0;
  failed = 0;
  inconclusive = 0;

  constructor(opts: ProbeControllerOptions = {}) {
    this.stableMs = opts.stableMs ?? 2000;
    this.successWaitMs = opts.successWaitMs ?? this.stableMs;
    this.durationMs = opts.durationMs ?? 150;
    this.initialWaitMs = opts.initialWaitMs ?? this.stableMs;
    this.maxIntervalMs = opts.maxIntervalMs ?? 30_000;
    this.doneTimeoutMs = opts.doneTimeoutMs ?? 2000;
    this.successRatio = opts.successRatio ?? 1.05;
    this.maxBps = opts.maxBps ?? Infinity;
    this.nextId = opts.firstClusterId ?? 0;
  }

  /** The wait before the next probe, given the failures so far. */
  get intervalMs(): number {
    if (this.initial) return this.initialWaitMs;
    if (this.afterSuccess) return this.successWaitMs;
    const wait = this.stableMs * Math.pow(2, Math.min(this.failures, 30));
    return wait < this.maxIntervalMs ? wait : this.maxIntervalMs;
  }

  /** The cluster being sent or awaited (-1: none). */
  get pendingCluster(): number {
    return this.pendingId;
  }

  /** Returns a probe to send now, or null. */
  decide(s: ProbeState): ProbeDecision | null {
    const now = s.nowMs;
    const est = s.estimateBps;
    if (!Number.isFinite(now) || !(est > 0) || !Number.isFinite(est)) return null;
    if (this.stableSinceMs !== this.stableSinceMs) this.stableSinceMs = now;
    if (s.overusing || est < this.lastEstimate * (1 - DECREASE_FRACTION)) {
      this.stableSinceMs = now;
      this.afterSuccess = false;
      this.initial = false;
    }
    this.lastEstimate = est;
    if (this.pendingId >= 0) {
      if (now - this.pendingStartMs <= this.durationMs + this.doneTimeoutMs) return null;
      this.finish(est, now);
    }
    if (
      this.failures > 0 &&
      (s.wantedBps > this.wantedAtProbe * WANTED_GROWTH_RESET || est > this.pendingEstimate * ESTIMATE_GROWTH_RESET)
    ) {
      this.failures = 0;
    }
    if (!s.limited || !(s.wantedBps > est)) return null;
    if (now - this.stableSinceMs < this.intervalMs) return null;
    let target = Math.min(s.wantedBps, Math.max(2 * est, 0.9 * (s.delayBasedBps ?? 0)));
    if (target < 1.25 * est) target = 1.25 * est;
    if (target > this.maxBps) target = this.maxBps;
    target = Math.round(target);
    if (!(target > est) || !Number.isFinite(target)) return null;
    const clusterId = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 0 : this.nextId + 1;
    this.pendingId = clusterId;
    this.initial = false;
    this.pendingStartMs = now;
    this.pendingEstimate = est;
    this.wantedAtProbe = s.wantedBps;
    this.probes++;
    return { clusterId, targetBps: target, durationMs: this.durationMs };
  }

  /**
   * The cluster finished; `estimateAfterBps` tells success. Unknown ids are
   * ignored. `measured` false: no measurement of the cluster came back (too
   * few of its packets left or were reported: a busy sender, feedback
   * lost). That says nothing about the path, so it is neither a success nor
   * a failure: no backoff, the next probe after the usual stable period.
   */
  onProbeDone(clusterId: number, estimateAfterBps: number, nowMs: number, measured = true): void {
    if (clusterId !== this.pendingId || this.pendingId < 0) return;
    this.finish(estimateAfterBps, nowMs, measured);
  }

  private finish(estimateAfter: number, now: number, measured = true): void {
    const success = measured && estimateAfter >= this.pendingEstimate * this.successRatio;
    if (!measured) {
      this.inconclusive++;
    } else if (success) {
      this.failures = 0;
      this.successes++;
    } else {
      this.failures++;
      this.failed++;
    }
    this.afterSuccess = success;
    this.pendingId = -1;
    if (Number.isFinite(now) && !(now < this.stableSinceMs)) this.stableSinceMs = now;
    if (measured && estimateAfter > 0 && Number.isFinite(estimateAfter)) this.lastEstimate = estimateAfter;
  }
}
