/**
 * Delay-based congestion signal: packet groups, inter-group delay variation,
 * a trendline of the accumulated delay and an overuse detector with an
 * adaptive threshold. In the spirit of Google Congestion Control
 * (draft-ietf-rmcat-gcc-02 §5, https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02)
 * and the later trendline variant of the same design.
 *
 * - Groups: packets sent within `burstMs` (5 ms) of a group's first packet
 *   form one group (a paced burst or one frame); so do packets that arrive
 *   within `burstMs` of the group's last arrival while catching up on it
 *   (negative delay variation: a burst the network held and released), as
 *   long as the group spans under 100 ms of arrival time (a long draining
 *   queue must not fold into one group and hide its own gradient).
 * - When a group completes, its delay variation against the previous group
 *   is d = (arrival delta) - (send delta): positive while a queue grows.
 * - The accumulated d, exponentially smoothed, is regressed linearly against
 *   the arrival time over the last `windowSize` (20) groups. The slope is the
 *   delay gradient: 0 on an idle path, about (rate - capacity) / rate when
 *   the sender overshoots.
 * - The slope times min(deltas seen, 60) times `gain` (4) is compared with an
 *   adaptive threshold gamma. Overuse is declared when the trend stays above
 *   gamma for more than `overuseTimeMs` (10 ms of send time) and at least two
 *   groups, and is not falling; underuse when below -gamma.
 * - gamma follows |trend| with k_u = 0.01 (up) and k_d = 0.00018 (down) per
 *   ms, clamped to 6..600, and ignores spikes more than 15 above it: a fixed
 *   threshold would starve against loss-based TCP flows (they keep a queue)
 *   or be too deaf on a quiet path.
 *
 * Only received packets are fed, in transport-sequence (= send) order. The
 * receiver's clock offset is irrelevant: only arrival differences are used.
 * Nothing allocates per packet (the window is two Float64Array rings).
 */

export type DelaySignal = 'normal' | 'overusing' | 'underusing';

export interface DelayDetectorOptions {
  burstMs?: number;
  windowSize?: number;
  smoothing?: number;
  gain?: number;
  initialThreshold?: number;
  kUp?: number;
  kDown?: number;
  overuseTimeMs?: number;
}

const MIN_THRESHOLD = 6;
const MAX_THRESHOLD = 600;
/** |trend| this far above gamma is a spike (a route change, a stall) that must not drag gamma up. */
const MAX_ADAPT_OFFSET = 15;
/** gamma adapts over at most this much time per sample, so a long gap is not one giant step. */
const MAX_ADAPT_DT_MS = 100;
/** The delta count saturates here in the trend's scaling. */
const MAX_DELTAS = 60;
/** A group joined by catch-up arrivals ends after this much arrival time. */
const MAX_BURST_MS = 100;
/** Arrival spacing this much larger than send spacing is a receiver clock jump or a stall: start over. */
const ARRIVAL_JUMP_MS = 3000;

export class DelayDetector {
  readonly burstMs: number;
  readonly windowSize: number;
  private readonly smoothing: number;
  private readonly gain: number;
  private readonly initialThreshold: number;
  private readonly kUp: number;
  private readonly kDown: number;
  private readonly overuseTimeMs: number;

  /** Current group (NaN: none yet). */
  private gFirstSend = NaN;
  private gLastSend = NaN;
  private gLastArrival = NaN;
  private gFirstArrival = NaN;
  /** Previous complete group. */
  private pLastSend = NaN;
  private pLastArrival = NaN;

  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private count = 0;
  private head = 0;
  private firstArrival = NaN;
  private accumulated = 0;
  private smoothed = 0;
  private deltas = 0;
  private prevSlope = 0;
  private overTimeMs = -1;
  private overCount = 0;
  private lastAdaptArrival = NaN;

  signal: DelaySignal = 'normal';
  /** gamma, in the trend's units (ms of accumulated delay per ms, scaled). */
  threshold: number;
  /** The last scaled trend compared with gamma. */
  trend = 0;
  /** The last raw slope (delay ms per arrival ms). */
  slope = 0;
  groups = 0;
  reordered = 0;
  resets = 0;
  overuses = 0;

  constructor(opts: DelayDetectorOptions = {}) {
    this.burstMs = opts.burstMs ?? 5;
    this.windowSize = Math.max(2, Math.floor(opts.windowSize ?? 20));
    this.smoothing = opts.smoothing ?? 0.9;
    this.gain = opts.gain ?? 4;
    this.initialThreshold = opts.initialThreshold ?? 12.5;
    this.kUp = opts.kUp ?? 0.01;
    this.kDown = opts.kDown ?? 0.00018;
    this.overuseTimeMs = opts.overuseTimeMs ?? 10;
    this.threshold = this.initialThreshold;
    this.xs = new Float64Array(this.windowSize);
    this.ys = new Float64Array(this.windowSize);
  }

  /**
   * One received packet, in send order; both times finite (the caller
   * validates). Returns true when it completed a group (the signal may have
   * changed).
   */
  add(sendMs: number, arrivalMs: number): boolean {
    if (this.gFirstSend !== this.gFirstSend) {
      this.startGroup(sendMs, arrivalMs);
      return false;
    }
    if (sendMs < this.gFirstSend) {
      // Older than the current group: reordered or repeated feedback.
      this.reordered++;
      return false;
    }
    if (this.inGroup(sendMs, arrivalMs)) {
      if (sendMs > this.gLastSend) this.gLastSend = sendMs;
      if (arrivalMs > this.gLastArrival) this.gLastArrival = arrivalMs;
      return false;
    }
    let completed = false;
    if (this.pLastSend === this.pLastSend) {
      completed = this.onGroupDeltas(
        this.gLastSend - this.pLastSend,
        this.gLastArrival - this.pLastArrival,
        this.gLastArrival,
      );
    }
    this.pLastSend = this.gLastSend;
    this.pLastArrival = this.gLastArrival;
    this.startGroup(sendMs, arrivalMs);
    return completed;
  }

  /** Forgets everything but the counters (a receiver clock jump, a mode change). */
  reset(): void {
    this.gFirstSend = this.gLastSend = this.gLastArrival = this.gFirstArrival = NaN;
    this.pLastSend = this.pLastArrival = NaN;
    this.count = this.head = 0;
    this.firstArrival = NaN;
    this.accumulated = this.smoothed = 0;
    this.deltas = 0;
    this.prevSlope = 0;
    this.slope = 0;
    this.trend = 0;
    this.overTimeMs = -1;
    this.overCount = 0;
    this.lastAdaptArrival = NaN;
    this.threshold = this.initialThreshold;
    this.signal = 'normal';
    this.resets++;
  }

  private startGroup(sendMs: number, arrivalMs: number): void {
    this.gFirstSend = this.gLastSend = sendMs;
    this.gLastArrival = this.gFirstArrival = arrivalMs;
  }

  private inGroup(sendMs: number, arrivalMs: number): boolean {
    if (sendMs - this.gFirstSend <= this.burstMs) return true;
    // A burst released by the network: arrives right after the group and faster than it was sent.
    const arrivalDelta = arrivalMs - this.gLastArrival;
    return (
      arrivalDelta >= 0 &&
      arrivalDelta < this.burstMs &&
      arrivalDelta - (sendMs - this.gLastSend) < 0 &&
      arrivalMs - this.gFirstArrival < MAX_BURST_MS
    );
  }

  private onGroupDeltas(sendDelta: number, arrivalDelta: number, arrivalMs: number): boolean {
    if (arrivalDelta - sendDelta > ARRIVAL_JUMP_MS || arrivalDelta < -ARRIVAL_JUMP_MS) {
      this.reset();
      return false;
    }
    if (arrivalDelta < 0) {
      this.reordered++;
      return false;
    }
    this.groups++;
    if (this.deltas < MAX_DELTAS) this.deltas++;
    this.accumulated += arrivalDelta - sendDelta;
    this.smoothed = this.smoothing * this.smoothed + (1 - this.smoothing) * this.accumulated;
    if (this.firstArrival !== this.firstArrival) this.firstArrival = arrivalMs;
    this.xs[this.head] = arrivalMs - this.firstArrival;
    this.ys[this.head] = this.smoothed;
    this.head = (this.head + 1) % this.windowSize;
    if (this.count < this.windowSize) this.count++;
    if (this.count === this.windowSize) this.slope = this.regression();
    this.detect(sendDelta, arrivalMs);
    return true;
  }

  /** Least-squares slope of the window; the previous slope when the x values do not spread. */
  private regression(): number {
    const n = this.count;
    let sx = 0;
    let sy = 0;
    for (let i = 0; i < n; i++) {
      sx += this.xs[i]!;
      sy += this.ys[i]!;
    }
    const mx = sx / n;
    const my = sy / n;
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      const dx = this.xs[i]! - mx;
      num += dx * (this.ys[i]! - my);
      den += dx * dx;
    }
    if (!(den > 0)) return this.slope;
    const s = num / den;
    return Number.isFinite(s) ? s : this.slope;
  }

  private detect(sendDelta: number, arrivalMs: number): void {
    const trend = this.deltas * this.slope * this.gain;
    this.trend = trend;
    if (trend > this.threshold) {
      this.overTimeMs = this.overTimeMs < 0 ? sendDelta / 2 : this.overTimeMs + sendDelta;
      this.overCount++;
      // Sustained (time and count) and not already easing: one noisy group is not congestion.
      if (this.overTimeMs > this.overuseTimeMs && this.overCount > 1 && this.slope >= this.prevSlope) {
        this.overTimeMs = 0;
        this.overCount = 0;
        if (this.signal !== 'overusing') this.overuses++;
        this.signal = 'overusing';
      }
    } else if (trend < -this.threshold) {
      this.overTimeMs = -1;
      this.overCount = 0;
      this.signal = 'underusing';
    } else {
      this.overTimeMs = -1;
      this.overCount = 0;
      this.signal = 'normal';
    }
    this.prevSlope = this.slope;
    this.adapt(Math.abs(trend), arrivalMs);
  }

  private adapt(absTrend: number, arrivalMs: number): void {
    const last = this.lastAdaptArrival;
    this.lastAdaptArrival = arrivalMs;
    if (last !== last || absTrend > this.threshold + MAX_ADAPT_OFFSET) return;
    const k = absTrend < this.threshold ? this.kDown : this.kUp;
    const dt = Math.min(arrivalMs - last, MAX_ADAPT_DT_MS);
    const next = this.threshold + k * (absTrend - this.threshold) * dt;
    this.threshold = next < MIN_THRESHOLD ? MIN_THRESHOLD : next > MAX_THRESHOLD ? MAX_THRESHOLD : next;
  }
}
