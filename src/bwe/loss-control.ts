/**
 * Loss-based limit (draft-ietf-rmcat-gcc-02 §6,
 * https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02#section-6).
 *
 * A cap on top of whatever the other controller allows (the delay-based
 * estimate, the receiver's REMB, or nothing in RR-only mode), updated per
 * loss report (a TWCC window of about a second, or one receiver report):
 * - loss > 10 %: cap = min(cap, estimate) x (1 - 0.5 x loss), at most once
 *   per 300 ms + rtt (the previous cut must be seen before judging again),
 *   and never below half of what the receiver acknowledged meanwhile
 *   (`floorBps`): a sudden capacity drop makes a second or two of heavy loss
 *   while the sender still runs at the old rate, and cutting on each of
 *   those windows would pin the rate far below what the path just proved
 *   it delivers, for tens of seconds at 8 %/s;
 * - 2..10 %: hold, cap = min(cap, estimate): the loss is tolerable but the
 *   rate must not climb into more of it;
 * - < 2 %: the cap grows 8 % per second (+1 kbps/s) and, once it reaches
 *   the other controller's rate, stops limiting (`capBps` = Infinity), so
 *   a clean path follows the delay-based estimate freely.
 */

export interface LossControlOptions {
  lowLoss?: number;
  highLoss?: number;
  increasePerSecond?: number;
}

export class LossControl {
  private readonly lowLoss: number;
  private readonly highLoss: number;
  private readonly increasePerSecond: number;
  /** The limit in bps; Infinity while loss does not limit. */
  capBps = Infinity;
  /** The last reported loss fraction, 0..1. */
  lastLoss = 0;
  /** When the last loss report came (NaN: none yet). */
  lastReportMs = NaN;
  private lastDecreaseMs = -Infinity;
  decreases = 0;

  constructor(opts: LossControlOptions = {}) {
    this.lowLoss = opts.lowLoss ?? 0.02;
    this.highLoss = opts.highLoss ?? 0.1;
    this.increasePerSecond = opts.increasePerSecond ?? 1.08;
  }

  /**
   * A loss report (fraction 0..1, validated by the caller). `estimateBps` is
   * the final estimate now, `baseBps` what the other controller allows.
   */
  onLoss(loss: number, estimateBps: number, baseBps: number, rttMs: number, nowMs: number, floorBps = 0): void {
    const last = this.lastReportMs;
    this.lastReportMs = nowMs;
    this.lastLoss = loss;
    if (loss > this.highLoss) {
      if (nowMs - this.lastDecreaseMs < 300 + rttMs) return;
      const cut = Math.min(this.capBps, estimateBps) * (1 - 0.5 * loss);
      this.capBps = Math.max(cut, Math.min(floorBps, this.capBps));
      this.lastDecreaseMs = nowMs;
      this.decreases++;
    } else if (loss >= this.lowLoss) {
      this.capBps = Math.min(this.capBps, estimateBps);
    } else if (this.capBps !== Infinity) {
      const dtS = last === last ? Math.min(Math.max(nowMs - last, 0), 1000) / 1000 : 0;
      this.capBps = this.capBps * Math.pow(this.increasePerSecond, dtS) + 1000 * dtS;
      if (this.capBps >= baseBps) this.capBps = Infinity;
    }
  }

  /**
   * A successful probe proved `bps` deliverable: lift the cap to it unless
   * loss is high right now (`loss`: the fraction lost among the packets
   * reported since the last loss report, the probe's among them).
   */
  onProbe(bps: number, loss: number): void {
    if (this.capBps < bps && loss <= this.highLoss) this.capBps = bps;
  }

  /** Start limiting at `bps` (RR-only mode: loss is the only controller). */
  limitTo(bps: number): void {
    this.capBps = bps;
  }

  /** Stop limiting (entering a mode where another controller leads). */
  release(): void {
    this.capBps = Infinity;
  }
}
