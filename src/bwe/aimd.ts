/**
 * AIMD rate control driven by the delay signal (draft-ietf-rmcat-gcc-02 §5.5,
 * https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02#section-5.5).
 *
 * Overuse -> decrease (then hold), underuse -> hold (the queue is draining:
 * wait for it), normal -> increase (from hold, one verdict later).
 *
 * - Decrease: to `beta` (0.85) x the throughput the receiver acknowledged,
 *   never upward, at most once per clamp(rtt, 10, 200) ms unless the
 *   acknowledged rate fell below half the estimate (the link collapsed).
 *   But when the receiver got what was sent as fast as it was sent (the
 *   flow was application-limited: a thin layer and one burst, a keyframe),
 *   the acknowledged rate says what was sent, not what the link carries:
 *   then the cut is `beta` x the estimate itself, once per interval.
 *   Cutting to 0.85 x a 106 kbps acknowledged rate put a 500 kbps link's
 *   estimate at 44 kbps in the bandwidth test and paused video for 4 s.
 *   And when the acknowledged rate is unmeasured (its window held a
 *   silence over 200 ms or under 8 packets: it measured the sender's
 *   pauses, not the link), the cut is `beta` x the estimate the overuse
 *   found, once for the whole overuse: cutting by 0.85 x such a rate,
 *   while sfud had stopped a layer and waited for the next one's keyframe,
 *   put the estimate at its 30 kbps floor for 10 s.
 *   Each decrease feeds the acknowledged rate into the link-capacity
 *   estimate (an average and a variance of the rates at which we hit the
 *   ceiling).
 * - Increase: multiplicative, 8 % per second, while no link capacity is
 *   known (or the throughput left its 3-sigma band above: the path got
 *   better); additive, about one packet per response time (rtt + 100 ms),
 *   near a known capacity, so the estimate creeps up on the ceiling instead
 *   of overshooting it. Never above 1.5 x acknowledged + 10 kbps: a sender
 *   that does not use its estimate must not grow it unseen (that is the
 *   probes' job).
 */
import type { DelaySignal } from './delay-detector.js';

/** After a decrease the state is hold: the next normal verdict moves it to increase. */
export type AimdState = 'hold' | 'increase';

export interface AimdOptions {
  startBps: number;
  minBps: number;
  maxBps: number;
  beta?: number;
  /** Multiplicative increase per second, as a factor (1.08: 8 %). */
  increasePerSecond?: number;
}

/**
 * The receiver's rate at least this fraction of the send rate of the same
 * packets: the link kept up, the flow was application-limited.
 */
const APP_LIMITED_RATIO = 0.9;
/** Bits of one full-size packet: the additive step is about one of these per response time. */
const PACKET_BITS = 1200 * 8;
const MIN_ADDITIVE_BPS_PER_S = 4000;
/** Normalized variance bounds of the link capacity (bps), as its spread relative to the average. */
const MIN_NORM_VAR = 400;
const MAX_NORM_VAR = 2500;
const LINK_ALPHA = 0.05;

export class AimdRateControl {
  private readonly minBps: number;
  private readonly maxBps: number;
  private readonly beta: number;
  private readonly increasePerSecond: number;
  bps: number;
  state: AimdState = 'increase';
  /** Link capacity: average and normalized variance of the acked rate at decreases (-1: unknown). */
  linkBps = -1;
  private linkNormVar = MIN_NORM_VAR;
  private lastUpdateMs = NaN;
  private lastDecreaseMs = -Infinity;
  /** The estimate when the current overuse began (-1: not overusing). */
  private overuseFromBps = -1;
  decreases = 0;

  constructor(opts: AimdOptions) {
    this.minBps = opts.minBps;
    this.maxBps = opts.maxBps;
    this.beta = opts.beta ?? 0.85;
    this.increasePerSecond = opts.increasePerSecond ?? 1.08;
    this.bps = this.clamp(opts.startBps);
  }

  /**
   * One feedback's verdict. `ackedBps` 0 = unknown; `rttMs` > 0; `sentBps`:
   * the send rate of the packets `ackedBps` measures (0 = unknown);
   * `busyAckedBps`: the acknowledged rate over a window the link was kept
   * busy through (`AckedRate.busyBps`; 0 = unknown: the window held a
   * silence or too few packets), the only one a cut takes as the link's.
   */
  update(signal: DelaySignal, ackedBps: number, rttMs: number, nowMs: number, sentBps = 0, busyAckedBps = ackedBps): void {
    const last = this.lastUpdateMs;
    this.lastUpdateMs = nowMs;
    const dtMs = last === last ? Math.min(Math.max(nowMs - last, 0), 1000) : 0;
    if (signal !== 'overusing') this.overuseFromBps = -1;
    else if (this.overuseFromBps < 0) this.overuseFromBps = this.bps;
    switch (signal) {
      case 'overusing':
        this.decrease(ackedBps, rttMs, nowMs, sentBps, busyAckedBps);
        return;
      case 'underusing':
        this.state = 'hold';
        return;
      case 'normal':
        if (this.state !== 'increase') {
          this.state = 'increase';
          return;
        }
        this.increase(ackedBps, rttMs, dtMs);
        return;
    }
  }

  /** A probe result or a mode change sets the rate directly; the old capacity no longer holds. */
  set(bps: number): void {
    this.bps = this.clamp(bps);
    this.linkBps = -1;
  }

  private decrease(ackedBps: number, rttMs: number, nowMs: number, sentBps: number, busyBps: number): void {
    const interval = rttMs < 10 ? 10 : rttMs > 200 ? 200 : rttMs;
    const measured = busyBps > 0;
    const appLimited = measured && sentBps > 0 && ackedBps >= APP_LIMITED_RATIO * sentBps && ackedBps < this.bps;
    const collapsed = measured && !appLimited && busyBps < 0.5 * this.bps;
    if (nowMs - this.lastDecreaseMs < interval && !collapsed) return;
    // Unmeasured: one cut for the whole overuse, no compounding; application-limited: the
    // estimate itself, cut again while the overuse lasts (a flow at its estimate just above the
    // link reads as "the link kept up" within 10 %, and only repeated cuts drain its queue).
    const base = !measured ? (this.overuseFromBps > 0 ? this.overuseFromBps : this.bps) : appLimited ? this.bps : busyBps;
    const next = this.clamp(this.beta * base);
    if (next < this.bps) this.bps = next;
    // An application-limited rate is no sample of the link's capacity.
    if (measured && !appLimited) this.onCapacitySample(busyBps);
    this.state = 'hold';
    this.lastDecreaseMs = nowMs;
    this.decreases++;
  }

  private increase(ackedBps: number, rttMs: number, dtMs: number): void {
    if (this.linkBps > 0 && ackedBps > this.linkUpper()) this.linkBps = -1;
    let step: number;
    if (this.linkBps > 0) {
      const perSecond = Math.max(MIN_ADDITIVE_BPS_PER_S, (PACKET_BITS * 1000) / (rttMs + 100));
      step = (perSecond * dtMs) / 1000;
    } else {
      step = Math.max(this.bps * (Math.pow(this.increasePerSecond, dtMs / 1000) - 1), dtMs);
    }
    let next = this.bps + step;
    if (ackedBps > 0) {
      const cap = 1.5 * ackedBps + 10_000;
      if (next > cap) next = Math.max(cap, this.bps);
    }
    this.bps = this.clamp(next);
  }

  private linkUpper(): number {
    return this.linkBps + 3 * Math.sqrt(this.linkNormVar * this.linkBps);
  }

  private onCapacitySample(bps: number): void {
    if (this.linkBps > 0) {
      const sigma3 = 3 * Math.sqrt(this.linkNormVar * this.linkBps);
      // Far outside the band: the path changed, start a new average.
      if (bps < this.linkBps - sigma3 || bps > this.linkBps + sigma3) this.linkBps = -1;
    }
    if (this.linkBps <= 0) {
      this.linkBps = bps;
      this.linkNormVar = MIN_NORM_VAR;
      return;
    }
    this.linkBps = (1 - LINK_ALPHA) * this.linkBps + LINK_ALPHA * bps;
    const err = this.linkBps - bps;
    const v = (1 - LINK_ALPHA) * this.linkNormVar + (LINK_ALPHA * err * err) / this.linkBps;
    this.linkNormVar = v < MIN_NORM_VAR ? MIN_NORM_VAR : v > MAX_NORM_VAR ? MAX_NORM_VAR : v;
  }

  private clamp(bps: number): number {
    return clampBps(bps, this.minBps, this.maxBps);
  }
}

/** `bps` within [min, max]; NaN becomes min, so no NaN ever leaves a controller. */
export function clampBps(bps: number, min: number, max: number): number {
  if (!(bps >= min)) return min;
  return bps > max ? max : bps;
}
