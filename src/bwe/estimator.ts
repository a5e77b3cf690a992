/**
 * Send-side bandwidth estimate of one subscriber's downlink, in the spirit of
 * Google Congestion Control (draft-ietf-rmcat-gcc-02,
 * https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02).
 * Pure: no sockets, no timers; every call carries `nowMs` (monotone; a
 * non-finite or backward value is replaced by the last good one).
 *
 * Modes, by what the subscriber negotiated:
 * - twcc: transport-wide feedback drives a delay-based estimate
 *   (`DelayDetector` -> `AimdRateControl`), the acknowledged throughput
 *   (`AckedRate`), probe results (`ProbeClusters`, which may raise the
 *   estimate at once: that is how capacity comes back quickly) and a
 *   loss-based cap from the feedback's losses over windows of about 1 s.
 *   Receiver reports only contribute their RTT.
 * - remb: the receiver's REMB is the base, under the RR loss cap.
 * - loss: receiver reports only; the loss controller alone moves the rate.
 * The estimate is min(base, loss cap), clamped to [minBps, maxBps]. Once
 * TWCC has been seen, REMB and RR loss are ignored until TWCC has been
 * silent for `fallbackMs` (10 s); and once TWCC is expected
 * (`expectTransportFeedback`: the subscriber negotiated it and packets
 * carrying it went out), until `fallbackMs` has passed without any: a
 * subscriber that negotiates transport-cc but never sends feedback still
 * gets an estimate, from its REMB or its receiver reports.
 *
 * Feedback is untrusted: results with non-finite or absurd times or sizes
 * are counted (`invalid`) and skipped; results older than the newest
 * already processed (repeated or reordered feedback) are counted (`stale`)
 * and skipped. No NaN can reach the estimate.
 */
import { AckedRate } from './acked-rate.js';
import { AimdRateControl, clampBps } from './aimd.js';
import { DelayDetector } from './delay-detector.js';
import type { DelayDetectorOptions, DelaySignal } from './delay-detector.js';
import { LossControl } from './loss-control.js';
import { ProbeClusters } from './probe-clusters.js';

export type { DelaySignal } from './delay-detector.js';

/**
 * NOTE for probes: mark every packet sent while a cluster runs (media and
 * padding alike) with its id, since the cluster's rate is measured from its
 * marked packets alone: marking only the padding would measure the padding.
 */
export interface PacketResult {
  /** Our send time (ms, same clock as nowMs) and size in bytes (RTP incl. header). */
  sendMs: number;
  size: number;
  /** Arrival time at the receiver (ms, receiver clock, arbitrary offset: only differences matter); -1 if reported lost. */
  arrivalMs: number;
  /** Part of a probe cluster (padding sent to test capacity), with its cluster id; -1 otherwise. */
  probeCluster: number;
  /**
   * A NACKed packet sent again under its first sequence number (no RTX).
   * Reported lost, it says nothing about the link: the receiver throws away
   * a copy whose first has arrived meanwhile as an SRTP replay before its
   * transport-wide accounting sees it, so it counts neither as loss nor in
   * a probe's rate. Absent: false.
   */
  retransmission?: boolean;
}

export interface EstimatorOptions {
  startBps?: number;
  minBps?: number;
  maxBps?: number;
  /** Delay detector tuning (tests and experiments). */
  delay?: DelayDetectorOptions;
  /** TWCC silent this long (ms) lets REMB / RR loss take over again. */
  fallbackMs?: number;
  /** A probe cluster counts once its reported packets span this long at the sender (ms; default 100, see ProbeClustersOptions). */
  probeMinSendSpanMs?: number;
  /** The head of a probe cluster left out of its receive rate (ms; default 40, see ProbeClustersOptions). */
  probeSkipHeadMs?: number;
}

export type EstimatorMode = 'start' | 'twcc' | 'remb' | 'loss';

/** Loss windows (TWCC mode): at least this long and this many packets, or this long with any packet. */
const LOSS_WINDOW_MS = 1000;
const LOSS_WINDOW_PACKETS = 20;
const LOSS_WINDOW_MAX_MS = 4000;
/** A send time more than this ahead of now, or older than the age limit, is not one of ours. */
const SEND_FUTURE_MS = 1000;
const SEND_MAX_AGE_MS = 30_000;
const MAX_PACKET_BYTES = 65_535;
/**
 * A probe raises the estimate to this share of what it measured. A probe
 * spans only ~110 ms of receive time, and a link's burst allowance (a
 * shaper's bucket, a queue that was empty) passes at any rate: probes on the
 * bandwidth test's 500 kbps link read 15-20 % high, and a step up bought on
 * such a reading (601 kbps) put a 495 kbps layer on the link and lost 3 %.
 */
export const PROBE_SHARE = 0.9;
/** A loss report at least this high says the link is full (the loss controller's hold threshold). */
const CONGESTED_LOSS = 0.02;
/** A loss report says something about the link now for this long (receiver reports come about every second). */
const LOSS_REPORT_TTL_MS = 2500;
/** The delay verdict counts as current this long after the last acknowledged packet. */
const SIGNAL_TTL_MS = 1000;
/** The acknowledged rate is forgotten after this long without a received packet. */
const ACKED_TTL_MS = 2000;
/** An RTT from receiver reports is preferred while this fresh. */
const RR_RTT_TTL_MS = 5000;
const DEFAULT_RTT_MS = 100;

export class BandwidthEstimator {
  readonly minBps: number;
  readonly maxBps: number;
  readonly startBps: number;
  private readonly fallbackMs: number;
  private readonly delay: DelayDetector;
  private readonly aimd: AimdRateControl;
  private readonly loss = new LossControl();
  private readonly acked = new AckedRate();
  /** The send rate of the same received packets, by send time: acked close to it means the link kept up. */
  private readonly sentOfAcked = new AckedRate();
  private readonly clusters: ProbeClusters;

  private _mode: EstimatorMode = 'start';
  private estimate: number;
  private nowMs = NaN;
  private rembBps = 0;
  private lastRembMs = -Infinity;
  private lastTwccMs = -Infinity;
  /** When transport-wide feedback became due (-Infinity: not expected). */
  private twccExpectedMs = -Infinity;
  private lastAckMs = -Infinity;
  private rttMs = DEFAULT_RTT_MS;
  private lastRrRttMs = -Infinity;
  /** Newest send time processed: anything older in later feedback is stale. */
  private highWaterMs = -Infinity;
  private windowStartMs = NaN;
  private windowExpected = 0;
  private windowLost = 0;
  private lastProbeBps = 0;

  // Counters for stats().
  private feedbacks = 0;
  private packets = 0;
  private lost = 0;
  private lostRetransmissions = 0;
  private invalid = 0;
  private stale = 0;
  private probeRaises = 0;
  private rembs = 0;
  private receiverReports = 0;

  constructor(opts: EstimatorOptions = {}) {
    this.minBps = positive(opts.minBps, 30_000);
    this.maxBps = Math.max(this.minBps, positive(opts.maxBps, 20_000_000));
    this.startBps = this.clamp(positive(opts.startBps, 1_000_000));
    this.fallbackMs = opts.fallbackMs ?? 10_000;
    this.estimate = this.startBps;
    this.delay = new DelayDetector(opts.delay);
    this.clusters = new ProbeClusters({ minSendSpanMs: opts.probeMinSendSpanMs ?? 100, skipHeadMs: opts.probeSkipHeadMs ?? 40 });
    this.aimd = new AimdRateControl({ startBps: this.startBps, minBps: this.minBps, maxBps: this.maxBps });
  }

  get estimateBps(): number {
    return this.estimate;
  }

  /** The round-trip time the controllers use (receiver reports, else feedback timing). */
  get roundTripMs(): number {
    return this.rttMs;
  }

  /** The delay-based estimate alone (TWCC mode; 0 otherwise), before the loss cap. */
  get delayBasedBps(): number {
    return this._mode === 'twcc' ? this.aimd.bps : 0;
  }

  /**
   * The delay detector's verdict, while it is current: with no packet
   * acknowledged for `SIGNAL_TTL_MS` nothing is in flight to queue, and an
   * old overuse must not hold off the probes that could bring a paused link
   * back (nothing sent, no feedback, the verdict never changes).
   */
  get delaySignal(): DelaySignal {
    if (this._mode !== 'twcc' || this.nowMs - this.lastAckMs > SIGNAL_TTL_MS) return 'normal';
    return this.delay.signal;
  }

  /** Which source drives the estimate now. */
  get mode(): EstimatorMode {
    return this._mode;
  }

  /**
   * Transport-wide feedback is due from now on (the first packet carrying a
   * transport-wide sequence number went out): REMB and RR loss wait
   * `fallbackMs` for it before they count. Later calls change nothing.
   */
  expectTransportFeedback(nowMs: number): void {
    if (this.twccExpectedMs === -Infinity) this.twccExpectedMs = this.time(nowMs);
  }

  /**
   * The link shows it is full: the delay-based detector overuses, or the
   * last loss report (a TWCC window, a receiver report), if under
   * `LOSS_REPORT_TTL_MS` old, lost 2 % or more. An estimate merely still
   * climbing from its start is not congestion.
   */
  get congested(): boolean {
    if (this.delaySignal === 'overusing') return true;
    return this.nowMs - this.loss.lastReportMs <= LOSS_REPORT_TTL_MS && this.loss.lastLoss >= CONGESTED_LOSS;
  }

  /** Probe clusters measured so far (a change means a probe's result came in). */
  get probeMeasurements(): number {
    return this.clusters.results;
  }

  get ackedBps(): number {
    return this.acked.bps();
  }

  /** One TWCC feedback's packets in transport-sequence order (delay- and loss-based). */
  onTransportFeedback(results: readonly PacketResult[], nowMs: number): void {
    const now = this.time(nowMs);
    this.feedbacks++;
    if (this._mode !== 'twcc') this.enter('twcc', now);
    this.lastTwccMs = now;
    this.clusters.begin();
    let received = 0;
    let sawOveruse = false;
    let minRtt = Infinity;
    let newest = this.highWaterMs;
    const n = Array.isArray(results) ? results.length : 0;
    for (let i = 0; i < n; i++) {
      const r = results[i];
      if (r === undefined || r === null) {
        this.invalid++;
        continue;
      }
      const send = r.sendMs;
      const size = r.size;
      const arrival = r.arrivalMs;
      if (
        !(send <= now + SEND_FUTURE_MS && send >= now - SEND_MAX_AGE_MS) ||
        !(size >= 0 && size <= MAX_PACKET_BYTES) ||
        !Number.isFinite(arrival)
      ) {
        this.invalid++;
        continue;
      }
      if (send < this.highWaterMs) {
        this.stale++;
        continue;
      }
      if (send > newest) newest = send;
      this.packets++;
      if (arrival < 0 && r.retransmission === true) {
        this.lostRetransmissions++;
        continue;
      }
      this.windowExpected++;
      const cluster = r.probeCluster;
      const isProbe = Number.isInteger(cluster) && cluster >= 0;
      if (arrival < 0) {
        this.lost++;
        this.windowLost++;
        if (isProbe) this.clusters.add(cluster, send, size, -1);
        continue;
      }
      received++;
      if (this.delay.add(send, arrival) && this.delay.signal === 'overusing') sawOveruse = true;
      this.acked.add(arrival, size);
      this.sentOfAcked.add(send, size);
      if (isProbe) this.clusters.add(cluster, send, size, arrival);
      if (now - send < minRtt) minRtt = now - send;
    }
    this.highWaterMs = newest;
    if (received > 0) {
      this.lastAckMs = now;
      if (now - this.lastRrRttMs > RR_RTT_TTL_MS && minRtt < Infinity) {
        // From feedback: send-to-feedback time, including the receiver's batching; a rough RTT.
        this.rttMs = 0.875 * this.rttMs + 0.125 * Math.min(Math.max(minRtt, 1), 10_000);
      }
      // Empty or all-lost feedback says nothing about delay: only loss accounting moves.
      this.aimd.update(this.delay.signal, this.acked.bps(), this.rttMs, now, this.sentOfAcked.bps(), this.acked.busyBps());
      if (this.delay.signal === 'overusing') sawOveruse = true;
      if (sawOveruse) this.clusters.taintTouched();
      else this.applyProbe(this.clusters.bestTouched());
    }
    this.closeLossWindow(now);
    this.recompute();
  }

  /** The receiver's REMB (used while TWCC is not active). */
  onRemb(bps: number, nowMs: number): void {
    const now = this.time(nowMs);
    if (!(bps > 0) || bps === Infinity) {
      this.invalid++;
      return;
    }
    this.rembs++;
    this.rembBps = this.clamp(bps);
    this.lastRembMs = now;
    if (this.twccActive(now)) return;
    if (this._mode !== 'remb') this.enter('remb', now);
    this.recompute();
  }

  /** A receiver report: its RTT always counts; its loss only while TWCC is not active. */
  onReceiverReport(fractionLost: number, rttMs: number | undefined, nowMs: number): void {
    const now = this.time(nowMs);
    this.receiverReports++;
    if (rttMs !== undefined && rttMs > 0 && rttMs < 60_000) {
      this.rttMs = rttMs;
      this.lastRrRttMs = now;
    }
    if (this.twccActive(now)) return;
    if (!(fractionLost >= 0 && fractionLost <= 255)) {
      this.invalid++;
      return;
    }
    const rembFresh = now - this.lastRembMs <= this.fallbackMs && this.rembBps > 0;
    const want: EstimatorMode = rembFresh ? 'remb' : 'loss';
    if (this._mode !== want) this.enter(want, now);
    this.loss.onLoss(fractionLost / 256, this.estimate, this.base(), this.rttMs, now);
    this.recompute();
  }

  /**
   * Advance time: closes a loss window that feedback did not, forgets an
   * acknowledged rate nothing has refreshed for 2 s. The delay-based rate
   * itself moves only on feedback: without feedback there is no evidence
   * that more would get through.
   */
  tick(nowMs: number): void {
    const now = this.time(nowMs);
    if (now - this.lastAckMs > ACKED_TTL_MS) {
      this.acked.reset();
      this.sentOfAcked.reset();
    }
    this.closeLossWindow(now);
    this.recompute();
  }

  stats(): Record<string, number | string> {
    return {
      mode: this._mode,
      estimateBps: Math.round(this.estimate),
      delayBasedBps: Math.round(this.aimd.bps),
      lossCapBps: this.loss.capBps === Infinity ? -1 : Math.round(this.loss.capBps),
      rembBps: Math.round(this.rembBps),
      ackedBps: Math.round(this.acked.bps()),
      linkCapacityBps: Math.round(this.aimd.linkBps),
      delaySignal: this.delaySignal,
      aimdState: this.aimd.state,
      trend: this.delay.trend,
      threshold: this.delay.threshold,
      lastLoss: this.loss.lastLoss,
      rttMs: Math.round(this.rttMs),
      feedbacks: this.feedbacks,
      packets: this.packets,
      lost: this.lost,
      lostRetransmissions: this.lostRetransmissions,
      invalid: this.invalid,
      stale: this.stale,
      groups: this.delay.groups,
      reordered: this.delay.reordered,
      detectorResets: this.delay.resets,
      overuses: this.delay.overuses,
      delayDecreases: this.aimd.decreases,
      lossDecreases: this.loss.decreases,
      probeResults: this.clusters.results,
      probesDiscarded: this.clusters.tainted,
      probeRaises: this.probeRaises,
      lastProbeBps: Math.round(this.lastProbeBps),
      lastProbeSendBps: Math.round(this.clusters.lastSendBps),
      lastProbeRecvBps: Math.round(this.clusters.lastRecvBps),
      rembs: this.rembs,
      receiverReports: this.receiverReports,
    };
  }

  private twccActive(now: number): boolean {
    if (this._mode === 'twcc') return now - this.lastTwccMs <= this.fallbackMs;
    // Expected but not seen yet: its first feedback is still due.
    return this._mode === 'start' && now - this.twccExpectedMs <= this.fallbackMs;
  }

  /** Switches mode, carrying the current estimate over as the new starting point. */
  private enter(mode: EstimatorMode, now: number): void {
    this._mode = mode;
    switch (mode) {
      case 'twcc':
        this.aimd.set(this.estimate);
        this.delay.reset();
        this.acked.reset();
        this.sentOfAcked.reset();
        this.loss.release();
        this.windowStartMs = now;
        this.windowExpected = this.windowLost = 0;
        return;
      case 'remb':
        this.loss.release();
        return;
      case 'loss':
        this.loss.limitTo(this.estimate);
        return;
      case 'start':
        return;
    }
  }

  private base(): number {
    switch (this._mode) {
      case 'twcc':
        return this.aimd.bps;
      case 'remb':
        return this.rembBps;
      case 'loss':
        return this.maxBps;
      case 'start':
        return this.startBps;
    }
  }

  private applyProbe(bps: number): void {
    if (!(bps > 0)) return;
    const p = Math.min(PROBE_SHARE * bps, this.maxBps);
    this.lastProbeBps = p;
    if (p > this.aimd.bps) {
      this.aimd.set(p);
      this.probeRaises++;
    }
    // Loss right now is the open window's, which holds the probe's own packets: the last
    // closed window may be seconds old (a paused link sends nothing to report on).
    this.loss.onProbe(p, this.windowExpected > 0 ? this.windowLost / this.windowExpected : 0);
  }

  private closeLossWindow(now: number): void {
    if (this._mode !== 'twcc') return;
    if (this.windowExpected === 0) {
      this.windowStartMs = now;
      return;
    }
    const elapsed = now - this.windowStartMs;
    if (elapsed < LOSS_WINDOW_MS || (this.windowExpected < LOSS_WINDOW_PACKETS && elapsed < LOSS_WINDOW_MAX_MS)) return;
    this.loss.onLoss(this.windowLost / this.windowExpected, this.estimate, this.aimd.bps, this.rttMs, now, 0.5 * this.acked.bps());
    this.windowStartMs = now;
    this.windowExpected = this.windowLost = 0;
  }

  private recompute(): void {
    this.estimate = this.clamp(Math.min(this.base(), this.loss.capBps));
  }

  private time(nowMs: number): number {
    if (Number.isFinite(nowMs) && !(nowMs < this.nowMs)) this.nowMs = nowMs;
    return this.nowMs === this.nowMs ? this.nowMs : 0;
  }

  private clamp(bps: number): number {
    return clampBps(bps, this.minBps, this.maxBps);
  }
}

function positive(v: number | undefined, dflt: number): number {
  return v !== undefined && v > 0 && Number.isFinite(v) ? v : dflt;
}
