// A small deterministic downlink simulator for the bandwidth estimator:
// a sender paced at the estimate (or at a probe's target), a bottleneck of
// C bps with a FIFO queue bounded in delay, a propagation delay each way,
// optional random loss and jitter, and a receiver that sends transport-wide
// feedback every 100 ms with the arrival times of what it got (and the
// losses it noticed). Time advances in 1 ms steps; everything is seeded.
import { BandwidthEstimator, type EstimatorOptions, type PacketResult } from '../../src/bwe/estimator.js';
import { ProbeController } from '../../src/bwe/probe-controller.js';

export interface LinkOptions {
  /** Bottleneck capacity (bps); Infinity: no limit. Change it with `setCapacity`. */
  capacityBps: number;
  propagationMs?: number;
  /** A packet that would wait longer than this in the queue is dropped (tail drop). */
  maxQueueMs?: number;
  /** Random loss after the bottleneck, 0..1. */
  randomLoss?: number;
  /** Uniform arrival jitter 0..jitterMs (order is kept: a FIFO link). */
  jitterMs?: number;
  seed?: number;
  packetBytes?: number;
  feedbackIntervalMs?: number;
  tickMs?: number;
  /** Probe with a ProbeController while the estimate is below `wantedBps`. */
  probes?: boolean;
  wantedBps?: number;
  estimator?: EstimatorOptions;
}

interface SimPacket {
  sendMs: number;
  size: number;
  cluster: number;
  arrivalMs: number;
  /** When the receiver knows this packet's fate (its arrival, or a later packet's for a loss). */
  resolvedMs: number;
}

export interface Sample {
  t: number;
  estimateBps: number;
  capacityBps: number;
  queueMs: number;
}

/** mulberry32: a tiny seeded PRNG, so every run is the same. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class LinkSim {
  readonly est: BandwidthEstimator;
  readonly prober = new ProbeController();
  readonly samples: Sample[] = [];
  readonly packets: SimPacket[] = [];
  readonly probeLog: { startMs: number; clusterId: number; targetBps: number; estimateBefore: number; estimateAfter: number }[] = [];
  now = 0;
  capacityBps: number;
  wantedBps: number;
  private readonly propagationMs: number;
  private readonly maxQueueMs: number;
  private readonly randomLoss: number;
  private readonly jitterMs: number;
  private readonly packetBytes: number;
  private readonly feedbackIntervalMs: number;
  private readonly tickMs: number;
  private readonly probes: boolean;
  private readonly rand: () => number;
  private nextSendMs = 0;
  private linkFreeMs = 0;
  private lastArrivalMs = 0;
  private nextReport = 0;
  private readonly inFlight: { atMs: number; results: PacketResult[]; upTo: number }[] = [];
  private reportedUpTo = 0;
  private probe: { clusterId: number; targetBps: number; untilMs: number; lastIndex: number } | null = null;

  constructor(opts: LinkOptions) {
    this.capacityBps = opts.capacityBps;
    this.propagationMs = opts.propagationMs ?? 20;
    this.maxQueueMs = opts.maxQueueMs ?? 300;
    this.randomLoss = opts.randomLoss ?? 0;
    this.jitterMs = opts.jitterMs ?? 1;
    this.rand = prng(opts.seed ?? 1);
    this.packetBytes = opts.packetBytes ?? 1200;
    this.feedbackIntervalMs = opts.feedbackIntervalMs ?? 100;
    this.tickMs = opts.tickMs ?? 25;
    this.probes = opts.probes ?? false;
    this.wantedBps = opts.wantedBps ?? Infinity;
    this.est = new BandwidthEstimator(opts.estimator);
  }

  /** Runs until `untilMs`, in 1 ms steps. */
  run(untilMs: number): void {
    for (let t = this.now + 1; t <= untilMs; t++) {
      this.now = t;
      this.send(t);
      if (t % this.feedbackIntervalMs === 0) this.receiverFeedback(t);
      this.deliverFeedback(t);
      if (t % this.tickMs === 0) this.tick(t);
      if (t % 100 === 0) {
        this.samples.push({
          t,
          estimateBps: this.est.estimateBps,
          capacityBps: this.capacityBps,
          queueMs: Math.max(0, this.linkFreeMs - t),
        });
      }
    }
  }

  /** First sample time at or after `fromMs` where `pred` holds (-1: never). */
  firstTime(fromMs: number, pred: (s: Sample) => boolean): number {
    for (const s of this.samples) if (s.t >= fromMs && pred(s)) return s.t;
    return -1;
  }

  /** Fraction of packets sent in [fromMs, toMs) that were lost (queue drop or random). */
  lossBetween(fromMs: number, toMs: number): number {
    let sent = 0;
    let lost = 0;
    for (const p of this.packets) {
      if (p.sendMs < fromMs || p.sendMs >= toMs) continue;
      sent++;
      if (p.arrivalMs < 0) lost++;
    }
    return sent === 0 ? 0 : lost / sent;
  }

  /** Mean and extremes of the estimate over sample times in [fromMs, toMs]. */
  estimateBetween(fromMs: number, toMs: number): { mean: number; min: number; max: number } {
    let sum = 0;
    let n = 0;
    let min = Infinity;
    let max = 0;
    for (const s of this.samples) {
      if (s.t < fromMs || s.t > toMs) continue;
      sum += s.estimateBps;
      n++;
      if (s.estimateBps < min) min = s.estimateBps;
      if (s.estimateBps > max) max = s.estimateBps;
    }
    return { mean: n ? sum / n : 0, min, max };
  }

  private send(t: number): void {
    const probing = this.probe !== null && t <= this.probe.untilMs;
    const rate = probing ? this.probe!.targetBps : this.est.estimateBps;
    const gap = (this.packetBytes * 8 * 1000) / rate;
    while (this.nextSendMs <= t) {
      const sendMs = this.nextSendMs;
      this.nextSendMs += gap;
      const size = this.packetBytes;
      const p: SimPacket = { sendMs, size, cluster: probing ? this.probe!.clusterId : -1, arrivalMs: -1, resolvedMs: 0 };
      const queueMs = Math.max(0, this.linkFreeMs - sendMs);
      if (queueMs > this.maxQueueMs) {
        p.resolvedMs = sendMs + queueMs + this.propagationMs;
      } else {
        const service = this.capacityBps === Infinity ? 0 : (size * 8 * 1000) / this.capacityBps;
        const departure = Math.max(this.linkFreeMs, sendMs) + service;
        this.linkFreeMs = departure;
        const arrival = Math.max(this.lastArrivalMs, departure + this.propagationMs + this.rand() * this.jitterMs);
        p.resolvedMs = arrival;
        if (this.randomLoss > 0 && this.rand() < this.randomLoss) {
          p.arrivalMs = -1;
        } else {
          p.arrivalMs = arrival;
          this.lastArrivalMs = arrival;
        }
      }
      if (probing) this.probe!.lastIndex = this.packets.length;
      this.packets.push(p);
    }
  }

  /** The receiver reports, in sequence order, every packet whose fate it knows by now. */
  private receiverFeedback(t: number): void {
    const results: PacketResult[] = [];
    while (this.nextReport < this.packets.length && this.packets[this.nextReport]!.resolvedMs <= t) {
      const p = this.packets[this.nextReport++]!;
      results.push({ sendMs: p.sendMs, size: p.size, arrivalMs: p.arrivalMs, probeCluster: p.cluster });
    }
    if (results.length) this.inFlight.push({ atMs: t + this.propagationMs, results, upTo: this.nextReport });
  }

  private deliverFeedback(t: number): void {
    while (this.inFlight.length && this.inFlight[0]!.atMs <= t) {
      const fb = this.inFlight.shift()!;
      this.est.onTransportFeedback(fb.results, t);
      this.reportedUpTo = fb.upTo;
    }
    const p = this.probe;
    if (p && t > p.untilMs && this.reportedUpTo > p.lastIndex) {
      const log = this.probeLog[this.probeLog.length - 1]!;
      log.estimateAfter = this.est.estimateBps;
      this.prober.onProbeDone(p.clusterId, this.est.estimateBps, t);
      this.probe = null;
    }
  }

  private tick(t: number): void {
    this.est.tick(t);
    if (!this.probes) return;
    const estimateBps = this.est.estimateBps;
    const d = this.prober.decide({
      nowMs: t,
      estimateBps,
      limited: estimateBps < this.wantedBps,
      wantedBps: this.wantedBps,
      overusing: this.est.delaySignal === 'overusing',
    });
    if (!d) return;
    this.probe = { clusterId: d.clusterId, targetBps: d.targetBps, untilMs: t + d.durationMs, lastIndex: -1 };
    this.probeLog.push({ startMs: t, clusterId: d.clusterId, targetBps: d.targetBps, estimateBefore: estimateBps, estimateAfter: -1 });
    // Start at the probe's pace now, not after the current media gap.
    if (this.nextSendMs > t) this.nextSendMs = t;
  }
}
