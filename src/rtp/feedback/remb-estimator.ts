/**
 * Receive-rate estimate for REMB (draft-alvestrand-rmcat-remb-03,
 * https://datatracker.ietf.org/doc/html/draft-alvestrand-rmcat-remb-03),
 * the fallback toward a publisher that did not negotiate transport-cc.
 *
 * One per transport. Bytes land in 10 ms buckets of a 1 s sliding window
 * (a Float64Array ring: no allocation per packet); the rate divides the
 * window's bytes by the time it covers, so a steady stream reads exactly.
 *
 * NOTE: a REMB equal to the measured rate would pin the publisher at its
 * current rate forever (the sender takes min(own estimate, REMB)), so the
 * value sent is the rate times `increaseFactor` (default 1.08: libwebrtc's
 * AIMD multiplicative increase of 8 % per second), floored at `minBitrate`.
 *
 * `value(nowMs)` answers "send a REMB now?": the bitrate once a full window
 * has been seen and either `intervalMs` has passed since the last one or the
 * value dropped by more than `dropFraction` (3 %) below it; else -1.
 */

export interface RembEstimatorOptions {
  windowMs?: number;
  bucketMs?: number;
  intervalMs?: number;
  dropFraction?: number;
  increaseFactor?: number;
  minBitrate?: number;
  maxBitrate?: number;
}

export class RembEstimator {
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly intervalMs: number;
  private readonly dropFraction: number;
  private readonly increaseFactor: number;
  private readonly minBitrate: number;
  private readonly maxBitrate: number;
  private readonly buckets: Float64Array;
  /** Absolute index (floor(ms / bucketMs)) of the newest bucket; -1 before the first packet. */
  private current = -1;
  private sum = 0;
  private firstMs = -1;
  private lastSentMs = -Infinity;
  /** The last value `value()` returned, in bps (-1 before the first). */
  lastSent = -1;
  packets = 0;
  rembsDue = 0;

  constructor(opts: RembEstimatorOptions = {}) {
    this.windowMs = opts.windowMs ?? 1000;
    this.bucketMs = opts.bucketMs ?? 10;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.dropFraction = opts.dropFraction ?? 0.03;
    this.increaseFactor = opts.increaseFactor ?? 1.08;
    this.minBitrate = opts.minBitrate ?? 30_000;
    this.maxBitrate = opts.maxBitrate ?? Infinity;
    this.buckets = new Float64Array(Math.max(1, Math.round(this.windowMs / this.bucketMs)));
  }

  /** Accounts `bytes` received at `nowMs` (whole RTP packet, any SSRC on the transport). */
  onPacket(bytes: number, nowMs: number): void {
    if (this.firstMs < 0) this.firstMs = nowMs;
    this.advance(nowMs);
    const n = this.buckets.length;
    const i = this.current % n;
    this.buckets[i] = this.buckets[i]! + bytes;
    this.sum += bytes;
    this.packets++;
  }

  /** Received bitrate over the window ending at `nowMs`, in bps (0 before the first packet). */
  bitrate(nowMs: number): number {
    if (this.firstMs < 0) return 0;
    this.advance(nowMs);
    const n = this.buckets.length;
    // Full older buckets plus the elapsed part of the current one, no earlier than the first packet.
    let span = (n - 1) * this.bucketMs + (nowMs - this.current * this.bucketMs);
    const since = nowMs - this.firstMs;
    if (since < span) span = since;
    if (span < this.bucketMs) span = this.bucketMs;
    return (this.sum * 8 * 1000) / span;
  }

  /** The REMB bitrate to send now, or -1 when none is due. */
  value(nowMs: number): number {
    if (this.firstMs < 0 || nowMs - this.firstMs < this.windowMs) return -1;
    let bps = Math.floor(this.bitrate(nowMs) * this.increaseFactor);
    if (bps < this.minBitrate) bps = this.minBitrate;
    if (bps > this.maxBitrate) bps = this.maxBitrate;
    const due = nowMs - this.lastSentMs >= this.intervalMs || bps < this.lastSent * (1 - this.dropFraction);
    if (!due) return -1;
    this.lastSent = bps;
    this.lastSentMs = nowMs;
    this.rembsDue++;
    return bps;
  }

  private advance(nowMs: number): void {
    const b = Math.floor(nowMs / this.bucketMs);
    if (this.current < 0) {
      this.current = b;
      return;
    }
    if (b <= this.current) return;
    const n = this.buckets.length;
    if (b - this.current >= n) {
      this.buckets.fill(0);
      this.sum = 0;
    } else {
      for (let k = this.current + 1; k <= b; k++) {
        const i = k % n;
        this.sum -= this.buckets[i]!;
        this.buckets[i] = 0;
      }
    }
    this.current = b;
  }

  toJSON(): Record<string, number> {
    return { packets: this.packets, lastSent: this.lastSent, rembsDue: this.rembsDue };
  }
}
