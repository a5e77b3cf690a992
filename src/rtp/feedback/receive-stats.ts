/**
 * Reception statistics for one incoming SSRC, the numbers behind a receiver
 * report block. RFC 3550 appendix A.3 (expected/lost, fraction lost per
 * interval) and A.8 (interarrival jitter),
 * https://www.rfc-editor.org/rfc/rfc3550#appendix-A.3 and
 * https://www.rfc-editor.org/rfc/rfc3550#appendix-A.8:
 *
 *   expected          = highest extended seq - base extended seq + 1
 *   lost (cumulative) = expected - received      (duplicates may make it < 0)
 *   fraction          = (lost in interval << 8) / expected in interval, 0 if <= 0
 *   D(i-1,i)          = (R_i - R_{i-1}) - (S_i - S_{i-1})   in RTP clock units
 *   J                 = J + (|D(i-1,i)| - J) / 16
 *
 * Sequence numbers arrive already extended (`Unwrapper`), so wrap-around is
 * not special here. Arrival times are milliseconds from the caller's injected
 * clock and are converted with the stream's own clock rate (never 90 kHz).
 * Pure and synchronous; `onPacket` allocates nothing.
 */
import { msToCompactNtp } from '../rtcp/ntp.js';
import type { ReportBlock } from '../rtcp/types.js';

const MAX_LOST = 0x7fffff;
const MIN_LOST = -0x800000;
const TWO_32 = 2 ** 32;

export class ReceiveStatistics {
  readonly ssrc: number;
  /** First extended seq (lowered if an older packet arrives late). -1 before the first packet. */
  private baseSeq = -1;
  private maxSeq = -1;
  /** Packets received, duplicates and retransmissions included (RFC 3550 A.3). */
  packetsReceived = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  /** A.8 jitter estimate in RTP timestamp units (fractional; reports floor it). */
  private jitterUnits = 0;
  /** Previous in-order packet: arrival (ms) and RTP timestamp; -1 before one. */
  private lastArrivalMs = -1;
  private lastRtpTs = 0;
  private lsr = 0;
  private lsrArrivalMs = -1;

  constructor(ssrc: number) {
    this.ssrc = ssrc >>> 0;
  }

  /**
   * Accounts one received RTP packet. `extSeq` is the extended sequence
   * number, `rtpTimestamp` the 32-bit header timestamp, `clockRate` the
   * codec's clock in Hz.
   */
  onPacket(extSeq: number, rtpTimestamp: number, arrivalMs: number, clockRate: number): void {
    this.packetsReceived++;
    if (this.maxSeq < 0) {
      this.baseSeq = this.maxSeq = extSeq;
      this.lastArrivalMs = arrivalMs;
      this.lastRtpTs = rtpTimestamp;
      return;
    }
    if (extSeq < this.baseSeq) this.baseSeq = extSeq;
    if (extSeq <= this.maxSeq) return; // reordered, duplicate or retransmitted: no jitter sample
    this.maxSeq = extSeq;
    // NOTE: jitter only from in-order packets (libwebrtc does the same); a
    // retransmission's transit time says nothing about network jitter.
    // (ts - last) | 0 is the signed 32-bit difference, so timestamp wrap is free.
    const d = ((arrivalMs - this.lastArrivalMs) * clockRate) / 1000 - ((rtpTimestamp - this.lastRtpTs) | 0);
    this.jitterUnits += (Math.abs(d) - this.jitterUnits) / 16;
    this.lastArrivalMs = arrivalMs;
    this.lastRtpTs = rtpTimestamp;
  }

  /** Records a sender report from this source: the middle 32 bits of its NTP time, and when it arrived. */
  onSenderReport(ntpMiddle32: number, arrivalMs: number): void {
    this.lsr = ntpMiddle32 >>> 0;
    this.lsrArrivalMs = arrivalMs;
  }

  /** True once a packet has been received (before that a report block says nothing). */
  get active(): boolean {
    return this.maxSeq >= 0;
  }

  /** Highest extended seq received, or -1. */
  get highestSeq(): number {
    return this.maxSeq;
  }

  /** Current jitter in RTP timestamp units. */
  get jitter(): number {
    return this.jitterUnits;
  }

  /** Cumulative packets lost since the first packet (may be negative with duplicates), unclamped. */
  get cumulativeLost(): number {
    return this.maxSeq < 0 ? 0 : this.maxSeq - this.baseSeq + 1 - this.packetsReceived;
  }

  /**
   * Fills `out` with the report block for this source as of `nowMs` and
   * starts a new reporting interval (fraction lost is per interval). Returns
   * false, leaving `out` untouched, before the first packet.
   */
  writeReportBlock(out: ReportBlock, nowMs: number): boolean {
    if (this.maxSeq < 0) return false;
    const expected = this.maxSeq - this.baseSeq + 1;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.packetsReceived - this.receivedPrior;
    const lostInterval = expectedInterval - receivedInterval;
    this.expectedPrior = expected;
    this.receivedPrior = this.packetsReceived;
    const lost = expected - this.packetsReceived;
    out.ssrc = this.ssrc;
    out.fractionLost = expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval);
    out.totalLost = lost > MAX_LOST ? MAX_LOST : lost < MIN_LOST ? MIN_LOST : lost;
    // Cycles count from the first packet's cycle, as RFC 3550 A.1 starts them at 0.
    const firstCycle = this.baseSeq - (this.baseSeq % 65536);
    out.highestSeq = (this.maxSeq - firstCycle) % TWO_32;
    out.jitter = Math.min(Math.floor(this.jitterUnits), TWO_32 - 1);
    if (this.lsrArrivalMs < 0) {
      out.lsr = 0;
      out.dlsr = 0;
    } else {
      out.lsr = this.lsr;
      out.dlsr = msToCompactNtp(Math.max(0, nowMs - this.lsrArrivalMs));
    }
    return true;
  }

  toJSON(): Record<string, number> {
    return {
      ssrc: this.ssrc,
      packetsReceived: this.packetsReceived,
      highestSeq: this.maxSeq,
      cumulativeLost: this.cumulativeLost,
      jitter: this.jitterUnits,
    };
  }
}
