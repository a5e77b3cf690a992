/**
 * DownlinkController: one subscriber transport's bandwidth, end to end.
 * Estimates the downlink from the subscriber's transport-wide feedback
 * (falling back to REMB, then to receiver-report loss, when it negotiated
 * none or sends none), spends the estimate
 * across the subscriber's consumers (`allocate`: audio first, then screen
 * share, the active speaker, the rest; each capped by its preference; video
 * that does not fit is paused), probes upward with padding when the
 * allocation is limited and capacity may have returned, and sets the rate
 * of the transport's egress pacer (src/bwe/pacer.ts) from the estimate.
 *
 * Decisions come from the pure modules beside it (estimator, allocator,
 * probe controller); this class only gathers their inputs from consumers and
 * applies their outputs (STYLE.md 5). Driven by the peer's 20 ms RTCP tick.
 */
import { PADDING_PACKET_BYTES, type Consumer } from '../router/consumer.js';
import type { TwccPacket } from '../rtp/rtcp/index.js';
import { BandwidthEstimator, PROBE_SHARE } from './estimator.js';
import { allocate, type AllocationTrack, type TrackOption } from './allocator.js';
import { ProbeController } from './probe-controller.js';
import { SendHistory } from './send-history.js';
import { DEFAULT_MAX_QUEUE_MS, Pacer } from './pacer.js';
import type { PacketResult } from './estimator.js';

/** How often the estimate is re-spent across consumers. */
const ALLOCATE_INTERVAL_MS = 500;
/** A step up needs the estimate to cover it with this much to spare (the allocation is rerun at 85 %). */
const UPGRADE_HEADROOM = 0.85;
/** Audio is allocated before anything else at this rate (Opus at its usual 32-64 kbps, plus headers). */
const AUDIO_BPS = 64_000;
/** Feedback for the last probe packets needs this long to come back before the probe is judged. */
const PROBE_SETTLE_MS = 500;
/**
 * The first probe may follow this soon after the subscriber's allocation is
 * first limited: the start estimate (1 Mbps) is a guess, and every viewer of
 * a top layer above it would otherwise wait 2 s on a lower layer.
 */
const PROBE_INITIAL_WAIT_MS = 300;
/** After a successful probe the next may follow this soon (the path just proved more). */
const PROBE_AFTER_SUCCESS_MS = 500;
/** Egress is paced at this multiple of the estimate (libwebrtc's pacing factor): bursts are spread, not cut. */
const PACING_FACTOR = 2.5;
/**
 * Near the link's capacity egress is paced at 1 x the estimate: a burst
 * above it lands in the link's queue faster than it drains. A step up's
 * keyframe, even at 1.5 x, overflowed a 300 ms queue that way in the
 * bandwidth test (2 runs in 8 over 2 % loss); at 1 x it waits here instead,
 * where it delays only this subscriber's video (up to the pacer's 2 s
 * bound) and loses nothing. The link is near capacity while the allocation
 * is limited by the estimate, and for `CONGESTION_MEMORY_MS` after the link
 * last showed itself full (see `BandwidthEstimator.congested`): the estimate
 * then sits at what the link carries whether or not anything wants more. A
 * clean-clone CI run lost 4.95 % when the publisher paused its top layer,
 * nothing was left wanted, and the pacer went back to 2.5 x on a link
 * measured full 4 s before.
 */
const LIMITED_PACING_FACTOR = 1.0;
const CONGESTION_MEMORY_MS = 10_000;
/**
 * Near capacity the pacer may hold this much (ms at the estimate) before it
 * drains faster (libwebrtc's pacer allows 2 s; elsewhere 500 ms). A noisy
 * 180p keyframe was 41 KB, 1.1 s at a 300 kbps estimate: drained within
 * 500 ms it went out at 650 kbps into a 500 kbps link and lost 3.5 %. A late
 * keyframe delays one subscriber's switch; a lost one costs a retransmission
 * or another keyframe on a link that is already full.
 */
const NEAR_CAPACITY_MAX_QUEUE_MS = 2000;
/** A probe toward the next step aims this much above it. */
const PROBE_STEP_MARGIN = 1.15;
/** While a probe runs the pacer lets its target through with this much to spare. */
const PROBE_PACING_FACTOR = 1.25;

/** Allocation priority (lower first), as `allocate` reads it. */
export const Priority = { Audio: 0, Screen: 1, Speaker: 2, Video: 3 } as const;

/** One subscriber's downlink for metrics: the estimate, what it buys, the pacer's counters. */
export interface DownlinkSnapshot {
  /** 0 until feedback (or REMB, or a receiver report) gives an estimate. */
  estimateBps: number;
  allocatedBps: number;
  /** Something wants more than the estimate gives. */
  limited: boolean;
  /** Packets the pacer held back, dropped for a full queue, and holds now. */
  paced: number;
  pacerDropped: number;
  queued: number;
}

export interface DownlinkTrack {
  consumer: Consumer;
  priority: number;
}

interface ActiveProbe {
  cluster: number;
  targetBps: number;
  endMs: number;
  startMs: number;
  /** Bytes stamped and queued when it started: what went out since counts toward its target. */
  bytesAtStart: number;
  /** The estimator's probe measurement count when it started: unchanged at the end, nothing was measured. */
  measurementsBefore: number;
}

export class DownlinkController {
  readonly history = new SendHistory();
  /** The subscriber transport's egress (consumers send through it); paced once an estimate exists. */
  readonly pacer = new Pacer(this.history);
  readonly estimator = new BandwidthEstimator();
  private readonly probes = new ProbeController({ successWaitMs: PROBE_AFTER_SUCCESS_MS, initialWaitMs: PROBE_INITIAL_WAIT_MS });
  /** The last probe got (nearly) all of its target through: the next may aim for everything wanted. */
  private lastProbeFull = false;
  private readonly results: PacketResult[] = [];
  private lastAllocMs = -Infinity;
  private lastAllocEstimate = 0;
  /** What each consumer was given last (id -> spatial*4 + temporal; -1 paused), for upgrade hysteresis. */
  private readonly applied = new Map<string, number>();
  private lastTickMs = -1;
  private limited = false;
  /** What the allocation wants, with the headroom a step up needs (what a probe must prove). */
  private wantedBps = 0;
  private usedBps = 0;
  /** What the cheapest single step up would cost in all (with its headroom): a probe needs to prove no more. */
  private nextStepBps = 0;
  private probe: ActiveProbe | undefined;
  private lastProbeTargetBps = 0;
  /** When the link last showed itself full (overuse, loss, a falling estimate). */
  private lastCongestedMs = -Infinity;
  readonly stats = { feedback: 0, reported: 0, reportedLost: 0, remb: 0, receiverReports: 0, allocations: 0, paused: 0, probes: 0, paddingBytes: 0 };

  onTransportFeedback(fb: TwccPacket, nowMs: number): void {
    this.stats.feedback++;
    this.history.toResults(fb, this.results);
    if (this.results.length === 0) return;
    this.stats.reported += this.results.length;
    for (const r of this.results) if (r.arrivalMs < 0) this.stats.reportedLost++;
    this.estimator.onTransportFeedback(this.results, nowMs);
  }

  onRemb(bps: number, nowMs: number): void {
    this.stats.remb++;
    this.estimator.onRemb(bps, nowMs);
  }

  onReceiverReport(fractionLost: number, rttMs: number | undefined, nowMs: number): void {
    this.stats.receiverReports++;
    this.estimator.onReceiverReport(fractionLost, rttMs, nowMs);
  }

  /**
   * Some source of an estimate counts (TWCC; or REMB or RR loss, which wait
   * while transport-wide feedback is due); before that nothing is limited.
   */
  private get haveEstimate(): boolean {
    return this.estimator.mode !== 'start';
  }

  get estimateBps(): number {
    return this.haveEstimate ? this.estimator.estimateBps : 0;
  }

  tick(nowMs: number, tracks: readonly DownlinkTrack[]): void {
    const dt = this.lastTickMs < 0 ? 0 : nowMs - this.lastTickMs;
    this.lastTickMs = nowMs;
    // Packets with a transport-wide number went out (the subscriber negotiated it): feedback is due.
    if (this.history.packetsStamped > 0) this.estimator.expectTransportFeedback(nowMs);
    this.estimator.tick(nowMs);
    if (!this.haveEstimate) return;
    // On the allocation cadence, and at once when the estimate falls: every
    // 500 ms at the old layers is another burst of loss on a link that shrank.
    const est = this.estimator.estimateBps;
    const fell = est < this.lastAllocEstimate * 0.85;
    const congested = fell || this.estimator.congested;
    if (congested) this.lastCongestedMs = nowMs;
    if (nowMs - this.lastAllocMs >= ALLOCATE_INTERVAL_MS || fell) {
      this.lastAllocMs = nowMs;
      this.lastAllocEstimate = est;
      this.reallocate(tracks, congested);
    }
    this.runProbe(nowMs, dt, tracks);
    const probe = this.probe;
    const nearCapacity = this.limited || nowMs - this.lastCongestedMs < CONGESTION_MEMORY_MS;
    const factor = nearCapacity ? LIMITED_PACING_FACTOR : PACING_FACTOR;
    this.pacer.maxQueueMs = nearCapacity ? NEAR_CAPACITY_MAX_QUEUE_MS : DEFAULT_MAX_QUEUE_MS;
    this.pacer.rateBps = Math.max(factor * est, probe && nowMs < probe.endMs ? PROBE_PACING_FACTOR * probe.targetBps : 0);
  }

  /** The subscriber is gone: nothing queued is sent. */
  close(): void {
    this.pacer.close();
  }

  /**
   * `congested`: the link is measured full, so a layer above its new
   * allocation stops at once; otherwise it flows until the lower layer's
   * keyframe (see Consumer.setAllocatedLayers).
   */
  private reallocate(tracks: readonly DownlinkTrack[], congested: boolean): void {
    const input: AllocationTrack[] = [];
    for (const t of tracks) {
      const c = t.consumer;
      if (c.closed || c.suspended) continue;
      if (c.kind === 'audio') {
        input.push({ id: c.id, kind: 'audio', priority: Priority.Audio, options: [], maxSpatial: 0, maxTemporal: 0, bps: AUDIO_BPS });
        continue;
      }
      const pref = c.preferredLayers;
      input.push({ id: c.id, kind: 'video', priority: t.priority, options: videoOptions(c, pref.temporal, pref.spatial), maxSpatial: pref.spatial, maxTemporal: pref.temporal });
    }
    const est = this.estimator.estimateBps;
    const result = allocate(est, input);
    // Hysteresis: a step up must also fit with 15 % to spare; a step down is taken at once.
    // Without it a stream at the edge is paused and resumed every 500 ms, a keyframe each time.
    const spare = allocate(est * UPGRADE_HEADROOM, input);
    this.limited = result.limited;
    // A step up needs the estimate to cover it with the headroom to spare, so that is what a probe must prove.
    this.wantedBps = result.wantedBps / UPGRADE_HEADROOM;
    this.stats.allocations++;
    // What is spent is what is applied (after the hysteresis), not what the allocation would
    // give: a probe pads from it up to its target, and a step is priced on top of it.
    let used = 0;
    let paused = 0;
    const applied: { consumer: Consumer; track: AllocationTrack | undefined; rank: number }[] = [];
    for (const t of input) if (t.kind === 'audio') used += t.bps ?? 0;
    for (const t of tracks) {
      const c = t.consumer;
      const a = result.byId.get(c.id);
      if (!a || c.kind !== 'video') continue;
      let rank = a.spatial < 0 ? -1 : a.spatial * 4 + a.temporal;
      const before = this.applied.get(c.id);
      const track = input.find((x) => x.id === c.id);
      if (before !== undefined && track?.options.length === 0) {
        // No prices (a layer in its first second): no information, so no change either.
        rank = before;
      } else if (before !== undefined && rank > before) {
        const b = spare.byId.get(c.id);
        const spareRank = !b || b.spatial < 0 ? -1 : b.spatial * 4 + b.temporal;
        const held = Math.max(before, Math.min(rank, spareRank));
        // Held below what fits: probe for the headroom the step up needs.
        if (held < rank) this.limited = true;
        rank = held;
      }
      this.applied.set(c.id, rank);
      if (rank < 0) paused++;
      used += optionBps(track, rank);
      applied.push({ consumer: c, track, rank });
    }
    this.usedBps = used;
    this.nextStepBps = 0;
    for (const { consumer, track, rank } of applied) {
      this.noteNextStep(track, rank);
      consumer.setAllocatedLayers(rank < 0 ? -1 : rank >> 2, rank < 0 ? 0 : rank & 3, congested);
    }
    for (const id of this.applied.keys()) if (!tracks.some((t) => t.consumer.id === id)) this.applied.delete(id);
    this.stats.paused = paused;
  }

  private runProbe(nowMs: number, dt: number, tracks: readonly DownlinkTrack[]): void {
    let p = this.probe;
    if (p && nowMs >= p.endMs) this.history.activeCluster = -1;
    if (p && nowMs >= p.endMs + PROBE_SETTLE_MS) {
      const measured = this.estimator.probeMeasurements !== p.measurementsBefore;
      // Full: the estimate rose to (nearly) the probe's target, less the share a reading is trusted with.
      this.lastProbeFull = measured && this.estimator.estimateBps >= 0.9 * PROBE_SHARE * p.targetBps;
      this.probes.onProbeDone(p.cluster, this.estimator.estimateBps, nowMs, measured);
      this.probe = p = undefined;
    }
    if (!p) {
      // Only transport-wide feedback measures a probe: with REMB or receiver reports it is noise.
      if (this.estimator.mode !== 'twcc') return;
      // A probe proves the next step up (with a margin: it may deliver somewhat less than its
      // target, ticks running late on a busy thread), not everything wanted: one step
      // is what an upgrade needs, and a probe at twice the estimate into a link that is full
      // already overflows it. After a probe the path carried in full, it aims for everything
      // wanted (the probe controller caps that at twice the estimate). Either way it aims
      // above what it must prove by the share of a reading the estimator trusts: a probe
      // aimed at exactly the wanted rate could only ever raise the estimate to 90 % of it,
      // and additive increase then took seconds for the rest (a climb back of 17 s).
      const need = this.nextStepBps > 0 && !this.lastProbeFull ? Math.min(this.wantedBps, PROBE_STEP_MARGIN * this.nextStepBps) : this.wantedBps;
      const wanted = need / PROBE_SHARE;
      const d = this.probes.decide({
        nowMs,
        estimateBps: this.estimator.estimateBps,
        limited: this.limited,
        wantedBps: wanted,
        overusing: this.estimator.delaySignal === 'overusing',
        delayBasedBps: this.estimator.delayBasedBps,
      });
      if (!d) return;
      this.stats.probes++;
      this.lastProbeTargetBps = d.targetBps;
      this.probe = p = { cluster: d.clusterId, targetBps: d.targetBps, endMs: nowMs + d.durationMs, startMs: nowMs, bytesAtStart: this.bytesOut(), measurementsBefore: this.estimator.probeMeasurements };
      this.history.activeCluster = d.clusterId;
    }
    if (nowMs >= p.endMs || dt <= 0) return;
    // Padding tops up what went out since the probe began (media and padding alike: the
    // estimator measures the cluster from all of its packets) to the target's pace, through
    // the end of the coming tick. Padding priced against the layers' rates fell 10-25 % short:
    // a price is a layer's recent peak, and media between two ticks is whatever frames came.
    const dueBytes = (p.targetBps * Math.min(nowMs + dt - p.startMs, p.endMs - p.startMs)) / 8000;
    const owed = (dueBytes - (this.bytesOut() - p.bytesAtStart)) / PADDING_PACKET_BYTES;
    // A backlog (the sender fell behind: a busy thread) is not sent in one burst: at most two ticks' worth.
    const count = Math.min(Math.floor(owed), Math.ceil((2 * p.targetBps * dt) / 8000 / PADDING_PACKET_BYTES), 64);
    if (count <= 0) return;
    // Any video stream the subscriber has seen can carry padding; flowing ones first.
    for (const pass of [true, false]) {
      for (const t of tracks) {
        const c = t.consumer;
        if (c.kind !== 'video' || c.paused || (c.currentLayer >= 0) !== pass) continue;
        const sent = c.sendPadding(count, p.cluster);
        if (sent > 0) {
          this.stats.paddingBytes += sent;
          return;
        }
      }
    }
  }

  /** Bytes sent or waiting in the pacer to be sent, since the transport began. */
  private bytesOut(): number {
    return this.history.bytesStamped + this.pacer.queuedByteCount;
  }

  /**
   * The cheapest upgrade of one video track from `rank` (spatial * 4 +
   * temporal; -1 paused) to a better option within its caps, as a total
   * rate with the upgrade headroom: the smallest over all tracks is kept.
   */
  private noteNextStep(t: AllocationTrack | undefined, rank: number): void {
    if (!t || t.kind !== 'video') return;
    const current = optionBps(t, rank);
    let step = Infinity;
    for (const o of t.options) {
      if (o.spatial > t.maxSpatial || o.temporal > t.maxTemporal || o.bps <= current) continue;
      if (o.spatial * 4 + o.temporal > rank && o.bps - current < step) step = o.bps - current;
    }
    if (step === Infinity) return;
    const total = (this.usedBps + step) / UPGRADE_HEADROOM;
    if (this.nextStepBps === 0 || total < this.nextStepBps) this.nextStepBps = total;
  }

  snapshot(): DownlinkSnapshot {
    const p = this.pacer;
    return { estimateBps: this.estimateBps, allocatedBps: this.usedBps, limited: this.limited, paced: p.stats.paced, pacerDropped: p.stats.dropped, queued: p.queued };
  }

  toJSON(): Record<string, unknown> {
    return {
      estimateBps: this.estimateBps,
      allocatedBps: this.usedBps,
      wantedBps: this.wantedBps,
      nextStepBps: Math.round(this.nextStepBps),
      lastProbeTargetBps: this.lastProbeTargetBps,
      limited: this.limited,
      ...this.stats,
      estimator: this.estimator.stats(),
      history: this.history.toJSON(),
      pacer: this.pacer.toJSON(),
    };
  }
}

/** What a track costs at `rank` (spatial * 4 + temporal): 0 paused, or with no price known for it. */
function optionBps(t: AllocationTrack | undefined, rank: number): number {
  if (!t || rank < 0) return 0;
  for (const o of t.options) if (o.spatial * 4 + o.temporal === rank) return o.bps;
  return 0;
}

/**
 * What a video consumer can be given, ascending by bitrate: every arriving
 * spatial layer at full frame rate, and the lowest one also at each of its
 * reduced frame rates (the cost of forwarding temporal layers 0..t, measured
 * at the higher of the last two seconds). Upper layers are not offered at reduced frame rates:
 * their measured base-layer rate hides the key frame a switch up needs, and
 * on a tight link that burst is what overflows it (seen in the bandwidth test:
 * the top layer at TL0 picked under 230 kbps on a 500 kbps link, then queue
 * overflow). While any arriving layer within the subscriber's spatial cap
 * has no price yet (its first second), there are no options: no information,
 * so the allocation keeps the caps. Offering only the priced lower layers
 * moved every viewer of the top layer down at its start (and back up a
 * second later, two keyframes each).
 */
export function videoOptions(c: Pick<Consumer, 'availableLayers' | 'layerBitrate' | 'temporalBitrates'>, maxTemporal = FULL_FRAME_RATE, maxSpatial = Infinity): TrackOption[] {
  const out: TrackOption[] = [];
  for (const layer of c.availableLayers()) {
    const bps = c.layerBitrate(layer);
    if (bps <= 0) {
      if (layer <= maxSpatial) return [];
      continue;
    }
    // Reduced frame rates exist only where the stream has temporal layers (the last entry is the
    // full rate). The allocator may pick them on the lowest layer only; above it, only the rate
    // the subscriber itself capped (ion-sfu `framerate`), so "high, low frame rate" is reachable.
    const byTemporal = c.temporalBitrates(layer);
    const lowest = out.length === 0;
    for (let t = 0; t < byTemporal.length - 1; t++) {
      const tbps = byTemporal[t]!;
      if (tbps > 0 && tbps < bps && (lowest || t === maxTemporal)) out.push({ spatial: layer, temporal: t, bps: tbps });
    }
    out.push({ spatial: layer, temporal: FULL_FRAME_RATE, bps });
  }
  return out.sort((a, b) => a.bps - b.bps || a.spatial - b.spatial || a.temporal - b.temporal);
}

/** The temporal label of "every temporal layer" (the highest a browser sends; preferences default to it). */
const FULL_FRAME_RATE = 2;
