/**
 * Consumer: one outgoing track to one subscriber. Per forwarded packet it
 * decides (forward or drop, and the output numbering), then applies:
 * copy into a fresh buffer, rewrite SSRC / payload type / sequence number /
 * timestamp / header-extension ids (and VP8/VP9 picture id and TL0PICIDX),
 * and hand the buffer to the subscriber transport, which encrypts it in
 * place and sends it (STYLE.md 4).
 *
 * Video goes through a `VideoLayerSelector` (src/simulcast): which simulcast
 * encoding or SVC layer, which temporal layers, keyframe-gated switches. The
 * consumer applies its decisions (STYLE.md 5: decide, then apply):
 *
 *  - Numbering is continuous on the subscriber side across pauses, keyframe
 *    waits, layer switches and dropped temporal/spatial packets: at every
 *    (re)start the offsets are chosen so the next packet follows the last
 *    one sent, and a packet dropped in order consumes no output number.
 *  - Timestamps: on a switch between simulcast encodings the new one is
 *    mapped onto the old one's time line through both encodings' sender
 *    reports (NTP <-> RTP), at the codec's clock rate; without reports (or
 *    when they disagree with the wall clock) the elapsed wall time is used.
 *  - VP8/VP9 picture id and TL0PICIDX are rebased at each switch and the
 *    picture id skips nothing for dropped temporal pictures, so the decoder
 *    sees one stream.
 *  - Dependency Descriptor (when the subscriber receives it): see
 *    `Consumer.ddRewrite` below for what is rewritten and why.
 *  - A small ring (the "sequencer") remembers, per output sequence number,
 *    where the packet came from, so subscriber NACKs are served from the
 *    producer's store with the exact rewritten header.
 */
import { EventEmitter } from 'node:events';
import { randomInt, randomUUID } from 'node:crypto';
import { RtpView } from '../rtp/rtp.js';
import type { PacketContext, Producer, ProducerEncoding } from './producer.js';
import { SenderReportGenerator, writeRtx } from '../rtp/feedback/index.js';
import type { SenderReportPacket } from '../rtp/rtcp/index.js';
import { createVp8Descriptor, parseVp8, writeVp8PictureId, writeVp8Tl0PicIdx } from '../rtp/codecs/index.js';
import { decodeTargetsUpTo, writeDdActiveDecodeTargets, writeDdFrameNumber } from '../rtp/dependency-descriptor.js';
import { VideoLayerSelector, type LayerPacket } from '../simulcast/layer-selector.js';
import type { SendHistory } from '../bwe/send-history.js';
import { PacketFlag, type Pacer } from '../bwe/pacer.js';

/** Where a consumer's packets go: the subscriber's transport. */
export interface RtpSink {
  /** Takes ownership of `buf` (sized for the SRTP tag) and sends `length` bytes of RTP. */
  sendRtpOwned(buf: Buffer, length: number): boolean;
  /** Trailer room the sink's SRTP needs after the packet. */
  readonly rtpTrailerRoom: number;
}

export interface ConsumerOptions {
  producer: Producer;
  sink: RtpSink;
  /** The SSRC this consumer sends with (what the subscriber's SDP announces). */
  ssrc: number;
  /** Producer payload type -> subscriber payload type; absent = not negotiated (dropped). */
  payloadTypes: ReadonlyMap<number, number>;
  /** Producer extension id -> subscriber extension id (0 or absent: removed). */
  extensionIds: ReadonlyMap<number, number>;
  paused?: boolean;
  /**
   * Transport-wide congestion control toward the subscriber: the shared
   * sequence-number history of its transport and the transport-cc extension
   * id it negotiated. The publisher's id must map to it in `extensionIds`;
   * when the publisher's packets carry no transport-cc element (it did not
   * negotiate one), `insert` makes the consumer add one to every packet, so
   * the subscriber's downlink is still estimated from its feedback (and
   * probed) rather than left to REMB, which cannot rise while nothing flows.
   */
  transportCc?: { history: SendHistory; extId: number; insert?: boolean } | undefined;
  /**
   * The subscriber transport's pacer (src/bwe/pacer.ts): packets leave
   * through it, and it numbers them for transport-cc as they leave (it must
   * hold the same `history`). Absent: sent at once.
   */
  pacer?: Pacer | undefined;
  /**
   * RTX toward the subscriber (RFC 4588): its SSRC and, per subscriber
   * payload type, the RTX payload type the subscriber accepted. Resent
   * packets go there, under their own sequence numbers, so a copy whose
   * first arrived meanwhile is a duplicate the receiver drops after counting
   * it (transport-wide feedback reports it received), not an SRTP replay.
   * Absent: resent on the media SSRC.
   */
  rtx?: { ssrc: number; payloadTypes: ReadonlyMap<number, number> } | undefined;
  /** Start on the highest layer (ion-sfu `bestqualityfirst`, default) or the lowest. */
  bestQualityFirst?: boolean;
  appData?: Record<string, unknown>;
  now?: () => number;
}

/** Spatial/temporal caps (ion-sfu: 0 low .. 2 high). */
export interface PreferredLayers {
  spatial: number;
  temporal?: number | undefined;
}

export interface ConsumerEvents {
  close: [];
  producerclose: [];
  /** The forwarded spatial layer changed (-1: nothing forwarded). */
  layerchange: [spatial: number];
}

const NO_PT = 0xff;
/** A padding packet: 12-byte header, 8 bytes of transport-cc extension, 255 bytes of padding. */
export const PADDING_PACKET_BYTES = 12 + 8 + 255;
/** Highest layer index a preference can name (3 simulcast encodings / temporal layers). */
const MAX_LAYER = 2;
/** Output packets remembered for NACKs (a power of two; ion-sfu's maxpackettrack default is 500). */
const SEQUENCER_SIZE = 512;
const SEQUENCER_MASK = SEQUENCER_SIZE - 1;
/**
 * A packet resent once is not resent again until the subscriber has had a
 * round trip to see the copy (at least this long): the receiver re-NACKs
 * every RTT or so while the copy is still queued on a congested link, and
 * without RTX every extra copy is an SRTP replay that the receiver throws
 * away, reports as lost in its transport-wide feedback, and pays for on the
 * very link that is already full.
 */
const RETRANSMIT_GUARD_MS = 100;
/** The guard never waits longer than this, whatever the RTT estimate says (the store keeps packets for a second). */
const RETRANSMIT_GUARD_MAX_MS = 500;
/**
 * A NACK is not answered while the subscriber's pacer holds more than this
 * (ms at its rate): the link is already behind, and a retransmission
 * would only queue behind (and delay) the media it is meant to repair.
 */
const RETRANSMIT_MAX_BACKLOG_MS = 250;
/** Probe padding is not added while the pacer holds more than this (ms at its rate). */
const PADDING_MAX_BACKLOG_MS = 30;
/** A consumer asks for a keyframe at most this often while a switch waits for one. */
const KEYFRAME_ASK_INTERVAL_MS = 250;
/**
 * A simulcast layer with no packet for this long is taken as stopped. Longer
 * than the selector's default: a CPU-starved encoder skips frames for half a
 * second at a time, and treating that as a stop sends every consumer down and
 * back up, two keyframe requests per hiccup, which starves it further.
 */
const LAYER_TIMEOUT_MS = 1500;
/** A timestamp derived from sender reports is trusted only within this much of the wall-clock estimate. */
const MAX_SR_DISAGREEMENT_MS = 1000;

/** Per output sequence number: where the packet came from and how it was rewritten (lazily allocated). */
class Sequencer {
  readonly seq = new Int32Array(SEQUENCER_SIZE).fill(-1);
  readonly srcSeq = new Uint16Array(SEQUENCER_SIZE);
  readonly encoding = new Uint8Array(SEQUENCER_SIZE);
  readonly ts = new Uint32Array(SEQUENCER_SIZE);
  /** Rewritten picture id (low 16 bits) and TL0PICIDX (bits 16-23), -1 when none. */
  readonly pic = new Int32Array(SEQUENCER_SIZE);
  readonly marker = new Uint8Array(SEQUENCER_SIZE);
  /** When the packet was last resent (-Infinity: never since it was first sent). */
  readonly resentMs = new Float64Array(SEQUENCER_SIZE);
  /** Rewritten DD frame number (-1: none) and active decode targets (bit position -1: not rewritten). */
  readonly ddFrame = new Int32Array(SEQUENCER_SIZE);
  readonly ddMaskBit = new Int16Array(SEQUENCER_SIZE);
  readonly ddMaskCount = new Uint8Array(SEQUENCER_SIZE);
  readonly ddMask = new Float64Array(SEQUENCER_SIZE);
}

/** What `send()` writes into the copy besides the RTP header; offsets relative to the packet start, -1: nothing. */
interface Rewrite {
  pic: number;
  picAt: number;
  tl0: number;
  tl0At: number;
  ddAt: number;
  ddFrame: number;
  ddMaskBit: number;
  ddMaskCount: number;
  ddMask: number;
}

export class Consumer extends EventEmitter<ConsumerEvents> {
  readonly id = randomUUID();
  readonly producer: Producer;
  readonly kind: 'audio' | 'video';
  readonly ssrc: number;
  readonly appData: Record<string, unknown>;
  private readonly sink: RtpSink;
  private readonly ptMap = new Uint8Array(128).fill(NO_PT);
  /** Subscriber payload type -> its RTX payload type (NO_PT: resend on the media SSRC). */
  private readonly rtxPtMap = new Uint8Array(128).fill(NO_PT);
  private readonly rtxSsrc: number;
  private rtxSeq = randomInt(0, 0x10000);
  private readonly extMap = new Uint8Array(256);
  private readonly out = new RtpView();
  private readonly now: () => number;
  private _paused: boolean;
  private _closed = false;
  /** Video: spatial/temporal decisions. Audio: none. */
  private readonly selector: VideoLayerSelector | undefined;
  private readonly lp: LayerPacket = {
    layer: 0,
    keyframe: false,
    startOfFrame: false,
    endOfFrame: undefined,
    marker: false,
    temporalLayer: 0,
    temporalLayerSync: false,
    temporalSwitchMask: 0,
    size: 0,
  };
  private preferred: { spatial: number; temporal: number } = { spatial: MAX_LAYER, temporal: MAX_LAYER };
  private allocated: { spatial: number; temporal: number } = { spatial: MAX_LAYER, temporal: MAX_LAYER };
  /** The highest layer the last bandwidth allocation can carry (undefined: no such limit). */
  private bandwidthCeiling: number | undefined;
  /**
   * Output packets numbered below this (extended) are not resent: they
   * belong to a layer stopped for congestion, which the subscriber will
   * leave at the next keyframe anyway; resending them is the very load
   * the stop took off its link. -1: none.
   */
  private resendFloor = -1;
  /** Room policy (last-N): paused outside the subscriber's set, and a spatial cap (the dominant speaker gets more). */
  private policyPaused = false;
  private policyMaxSpatial = MAX_LAYER;
  private lastKeyframeAskMs = -Infinity;
  /** Set when the next forwarded packet must re-derive the numbering offsets (audio, and video restarts). */
  private resync = true;
  private seqOffset = 0;
  private tsOffset = 0;
  private picOffset = 0;
  private tl0Offset = 0;
  /** The encoding currently forwarded (its numbering is what the offsets apply to). */
  private encoding: ProducerEncoding | undefined;
  /** Producer extended seq of the first packet after the last resync (older ones are dropped). */
  private resyncExtSeq = 0;
  /** Highest producer extended seq seen on the current encoding since the resync (for in-order drops). */
  private highestInExtSeq = -1;
  private started = false;
  /** Last output: extended sequence number (monotonic counter), timestamp, picture id, TL0PICIDX. */
  private lastOutExtSeq = -1;
  private lastOutTs = 0;
  private lastOutPic = -1;
  private lastOutTl0 = -1;
  private lastSentMs = 0;
  private sequencer: Sequencer | undefined;
  private readonly transportCc: { history: SendHistory; extId: number; insert?: boolean } | undefined;
  private readonly pacer: Pacer | undefined;
  /** Payload type and marker of the last packet sent (padding follows a finished frame, with its PT). */
  private lastOutPt = -1;
  private lastOutMarker = false;
  private readonly vp8 = createVp8Descriptor();
  private readonly rw: Rewrite = { pic: -1, picAt: -1, tl0: -1, tl0At: -1, ddAt: -1, ddFrame: 0, ddMaskBit: -1, ddMaskCount: 0, ddMask: 0 };
  /**
   * Dependency Descriptor rewriting, when the DD reaches the subscriber. The
   * receiver (libwebrtc's RtpVideoStreamReceiver2) builds its frame graph
   * from frame_number and the frame diffs, takes a frame with a structure as
   * a key frame, and drops a key frame whose frame number is older than the
   * last structure's. So:
   *  - frame_number: offset at every (re)start so the first frame follows
   *    the last one sent (a simulcast switch lands on another encoding's
   *    numbering; a restart may land behind it). Never compacted within a
   *    run, unlike the VP8 picture id: fdiffs and chain diffs are
   *    differences of frame numbers, and a dropped frame is one no forwarded
   *    frame refers to (its layer is above every forwarded one).
   *  - active_decode_targets_bitmask: rewritten in place, when the packet
   *    carries one, to the targets the forwarded layers still make (A.4).
   *    Not inserted where the publisher sent none: that changes the
   *    element's and the header's length (a re-serialisation and a byte
   *    shift per packet), and libwebrtc decodes from the frame graph alone.
   *  - The template structure needs nothing: it rides on the first packet
   *    of every key frame, and every (re)start and layer switch waits for a
   *    key frame, so the subscriber has the structure before any frame
   *    that needs it.
   */
  private readonly ddRewrite: boolean;
  private ddFrameOffset = 0;
  private lastOutFrame = -1;

  readonly stats = {
    packets: 0,
    bytes: 0,
    drops: { paused: 0, waitingKeyframe: 0, payloadType: 0, stale: 0, sink: 0, temporalLayer: 0, spatialLayer: 0, otherLayer: 0, lastN: 0 },
    /** Bytes not sent because the room's last-N left this stream out. */
    lastNBytes: 0,
    keyframeRequests: 0,
    resyncs: 0,
    retransmitted: 0,
    /** Of those, sent as RTX. */
    retransmittedRtx: 0,
    retransmittedBytes: 0,
    retransmitMisses: 0,
    retransmitGuarded: 0,
    /** NACKs not answered: for a layer stopped for congestion, or while the link was backlogged. */
    retransmitSkipped: 0,
    layerSwitches: 0,
    /** Layers stopped at once because the bandwidth allocation fell below them. */
    congestionStops: 0,
    paddingPackets: 0,
    /** Timestamps on a layer switch taken from sender reports / from the wall clock. */
    tsFromSenderReports: 0,
    tsFromWallClock: 0,
  };
  private readonly sr: SenderReportGenerator;

  constructor(opts: ConsumerOptions) {
    super();
    this.producer = opts.producer;
    this.kind = opts.producer.kind;
    this.sink = opts.sink;
    this.ssrc = opts.ssrc >>> 0;
    this.appData = opts.appData ?? {};
    this.now = opts.now ?? (() => performance.now());
    for (const [from, to] of opts.payloadTypes) this.ptMap[from & 0x7f] = to & 0x7f;
    for (const [from, to] of opts.extensionIds) this.extMap[from & 0xff] = to & 0xff;
    this.rtxSsrc = (opts.rtx?.ssrc ?? 0) >>> 0;
    if (this.rtxSsrc !== 0) for (const [pt, rtxPt] of opts.rtx!.payloadTypes) this.rtxPtMap[pt & 0x7f] = rtxPt & 0x7f;
    this._paused = opts.paused ?? false;
    this.transportCc = opts.transportCc;
    this.pacer = opts.pacer;
    this.sr = new SenderReportGenerator(this.ssrc, opts.producer.currentCodec.clockRate);
    const ddId = opts.producer.ddExtId;
    this.ddRewrite = ddId > 0 && this.extMap[ddId]! !== 0;
    if (this.kind === 'video') {
      // ion-sfu's bestqualityfirst=false starts on the lowest layer; allocation may raise it.
      if (opts.bestQualityFirst === false) this.allocated.spatial = 0;
      this.selector = new VideoLayerSelector({
        svc: opts.producer.svc,
        targetSpatial: this.allocated.spatial,
        targetTemporal: MAX_LAYER,
        layerTimeoutMs: LAYER_TIMEOUT_MS,
      });
      this.selector.resume(this.now());
    }
    opts.producer.addConsumer(this);
    if (!this._paused && this.selector) this.askKeyframe(this.selector.desiredLayer(this.now()), this.now());
  }

  get paused(): boolean {
    return this._paused;
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Paused by the subscriber or left out by the room's last-N: nothing is sent. */
  get suspended(): boolean {
    return this._paused || this.policyPaused;
  }

  /** Last sequence number sent to the subscriber (for NACK mapping and SR). */
  get lastSequenceNumber(): number {
    return this.lastOutExtSeq < 0 ? 0 : this.lastOutExtSeq & 0xffff;
  }

  /** Switch requests that waited for a keyframe while the old layer kept flowing (freezes avoided). */
  get keyframeWaits(): number {
    return this.selector?.keyframeWaits ?? 0;
  }

  /** Spatial layer being forwarded (-1: none yet, paused, or audio). */
  get currentLayer(): number {
    return this.selector?.currentSpatialLayer ?? -1;
  }

  get currentTemporalLayer(): number {
    return this.selector?.currentTemporalLayer ?? -1;
  }

  /** The spatial layer the consumer is heading for (preference and allocation), -1 for none. */
  get targetLayer(): number {
    return this.selector?.targetSpatialLayer ?? -1;
  }

  get preferredLayers(): { spatial: number; temporal: number } {
    return { ...this.preferred };
  }

  /** Layers of the producer that are arriving now, ascending. */
  availableLayers(): number[] {
    return this.selector?.availableLayers(this.now()) ?? [];
  }

  /** Layer bitrate (bits/s): the higher of its last two one-second windows, 0 when unknown. */
  layerBitrate(layer: number): number {
    return this.selector?.layerStats(layer)?.bitrate ?? 0;
  }

  /**
   * What forwarding temporal layers 0..i of `layer` costs (bits/s, over the
   * last second), one entry per temporal layer seen; empty when unknown.
   */
  temporalBitrates(layer: number): number[] {
    return this.selector?.layerStats(layer)?.temporalBitrates ?? [];
  }

  /**
   * The subscriber's (or the application's) cap: the highest spatial and
   * temporal layer to forward. A lower layer is used when the cap's layer is
   * not arriving, or when bandwidth allocation says so.
   */
  setPreferredLayers(p: PreferredLayers): void {
    const spatial = clampLayer(p.spatial);
    const temporal = p.temporal === undefined ? this.preferred.temporal : clampLayer(p.temporal);
    this.preferred = { spatial, temporal };
    this.applyTarget();
  }

  /**
   * The bandwidth allocator's cap (-1 spatial: no video fits; the consumer
   * sends nothing). Like a preference, a cap below the layer being sent
   * moves down at the lower layer's keyframe, the current layer flowing
   * until then (no freeze): the cap may come from an estimate still
   * climbing from its start, not from a full link. With `congested` (the
   * link is measured full: the delay overuses, loss is reported, the
   * estimate fell) it stops at once instead: every frame more of it until
   * the lower layer's keyframe is loss (and a lower estimate) on the
   * subscriber's link, so the picture holds until that keyframe.
   */
  setAllocatedLayers(spatial: number, temporal: number, congested = false): void {
    const sel = this.selector;
    const current = sel?.currentSpatialLayer ?? -1;
    if (spatial !== this.allocated.spatial || temporal !== this.allocated.temporal) {
      this.allocated = { spatial: Math.min(MAX_LAYER, spatial), temporal: clampLayer(temporal) };
      // The link cannot carry more: no fallback above it either (layer selector rule 5).
      this.bandwidthCeiling = spatial >= 0 && spatial < MAX_LAYER ? spatial : undefined;
      this.applyTarget();
    }
    // Also when the allocation is unchanged: a move down taken on a link not yet measured
    // full leaves the layer above flowing until the keyframe, and if the link then fills,
    // that layer must stop now. (It kept flowing at 1.7 Mbps into a 400 kbps pacer for a
    // slow keyframe: 3.5 s queued, and the drain lost 8 %.)
    if (congested && sel && spatial >= 0 && current > spatial && !this.suspended) {
      this.stats.congestionStops++;
      this.resendFloor = this.lastOutExtSeq + 1;
      this.restart();
      this.noteLayer();
    }
  }

  private applyTarget(): void {
    const sel = this.selector;
    if (!sel) return;
    const spatial = Math.min(this.preferred.spatial, this.allocated.spatial, this.policyMaxSpatial);
    const temporal = Math.min(this.preferred.temporal, this.allocated.temporal);
    const wasNone = sel.targetSpatialLayer < 0;
    sel.setTarget(spatial, temporal, this.bandwidthCeiling);
    if (spatial < 0) {
      this.noteLayer();
      return;
    }
    if (this.suspended) return;
    if (wasNone) {
      // Restarting from nothing: a keyframe first, with continuous numbering.
      this.resync = true;
      sel.resume(this.now());
    }
    if (sel.switchPending(this.now())) {
      // A new target is a new request, not a repeat of the last one.
      this.lastKeyframeAskMs = -Infinity;
      this.askKeyframe(sel.desiredLayer(this.now()), this.now());
    }
  }

  /**
   * The room's last-N decision for this consumer: `paused` leaves the stream
   * out (nothing is encrypted or sent; it resumes at a keyframe), and
   * `maxSpatial` caps its layer (the dominant speaker is not capped).
   */
  setPolicy(paused: boolean, maxSpatial: number): void {
    if (this._closed) return;
    if (maxSpatial !== this.policyMaxSpatial) {
      this.policyMaxSpatial = Math.min(MAX_LAYER, maxSpatial);
      this.applyTarget();
    }
    if (paused === this.policyPaused) return;
    this.policyPaused = paused;
    if (paused) {
      this.selector?.pause();
      this.noteLayer();
    } else if (!this._paused) {
      this.restart();
    }
  }

  /** Called by the producer for every packet (the fan-out loop). */
  forward(ctx: PacketContext): void {
    if (this._paused) {
      this.stats.drops.paused++;
      return;
    }
    if (this.policyPaused) {
      this.stats.drops.lastN++;
      this.stats.lastNBytes += ctx.length;
      return;
    }
    const src = ctx.view;
    const pt = this.ptMap[src.payloadType]!;
    if (pt === NO_PT) {
      this.stats.drops.payloadType++;
      return;
    }
    const sel = this.selector;
    let marker = src.marker;
    if (sel) {
      const s = ctx.summary;
      const lp = this.lp;
      lp.layer = ctx.layer;
      lp.keyframe = s.keyframe;
      lp.startOfFrame = s.startOfFrame;
      lp.endOfFrame = s.endOfFrame;
      lp.marker = marker;
      lp.temporalLayer = s.temporalLayer;
      lp.temporalLayerSync = s.layerSync;
      lp.temporalSwitchMask = s.temporalSwitchMask;
      lp.size = ctx.length;
      const d = sel.select(lp, ctx.arrivalMs);
      if (d.needKeyframe >= 0) this.askKeyframe(d.needKeyframe, ctx.arrivalMs);
      if (!d.forward) {
        if (d.dropTemporal || d.dropSpatial) this.dropInOrder(ctx, d.dropTemporal);
        else if (d.spatial < 0) this.stats.drops.waitingKeyframe++;
        else this.stats.drops.otherLayer++;
        return;
      }
      if (d.switched) {
        this.switchTo(ctx);
        this.noteLayer();
      } else if (ctx.extSeq < this.resyncExtSeq) {
        // Reordered packet from before the (re)start point: it would number backwards.
        this.stats.drops.stale++;
        return;
      }
      // SVC: the picture ends with the highest spatial layer forwarded, which may not be the publisher's.
      if (this.producer.svc && s.endOfFrame === true && ctx.layer === d.spatial) marker = true;
    } else if (this.resync) {
      this.switchTo(ctx);
    } else if (ctx.extSeq < this.resyncExtSeq) {
      this.stats.drops.stale++;
      return;
    }
    if (ctx.extSeq > this.highestInExtSeq) this.highestInExtSeq = ctx.extSeq;
    const now = this.now();
    const outExtSeq = ctx.extSeq + this.seqOffset;
    const outSeq = outExtSeq & 0xffff;
    const outTs = (ctx.extTimestamp + this.tsOffset) >>> 0;
    const s = ctx.summary;
    let pic = -1;
    let tl0 = -1;
    if (s.pictureIdOffset >= 0) pic = (s.pictureId + this.picOffset) & 0x7fff;
    if (s.tl0PicIdxOffset >= 0) tl0 = (s.tl0PicIdx + this.tl0Offset) & 0xff;
    const len = ctx.length;
    const rel = src.offset;
    const rw = this.rw;
    rw.pic = pic;
    rw.picAt = s.pictureIdOffset - rel;
    rw.tl0 = tl0;
    rw.tl0At = s.tl0PicIdxOffset - rel;
    rw.ddAt = -1;
    rw.ddMaskBit = -1;
    if (this.ddRewrite && ctx.ddOffset >= 0) this.planDdRewrite(ctx, rel);
    if (!this.send(src.buf, rel, len, pt, outSeq, outTs, marker)) {
      this.stats.drops.sink++;
      return;
    }
    this.started = true;
    this.sr.onPacketSent(outTs, src.payloadLength, now);
    if (outExtSeq > this.lastOutExtSeq) {
      this.lastOutExtSeq = outExtSeq;
      this.lastOutTs = outTs;
      this.lastSentMs = now;
      this.lastOutPt = pt;
      this.lastOutMarker = marker;
      if (pic >= 0) this.lastOutPic = pic;
      if (tl0 >= 0) this.lastOutTl0 = tl0;
      if (rw.ddAt >= 0) this.lastOutFrame = rw.ddFrame;
    }
    if (this.kind === 'video') this.remember(outSeq, ctx, outTs, pic, tl0, marker);
    this.stats.packets++;
    this.stats.bytes += len;
  }

  /** Fills the DD part of `rw` for `ctx` (see `ddRewrite`). */
  private planDdRewrite(ctx: PacketContext, rel: number): void {
    const rw = this.rw;
    const dd = ctx.dd;
    rw.ddAt = ctx.ddOffset - rel;
    rw.ddFrame = (dd.frameNumber + this.ddFrameOffset) & 0xffff;
    const stream = ctx.encoding.dd;
    const sel = this.selector;
    if (!ctx.ddKnown || dd.activeDecodeTargetsBit < 0 || !stream || !sel) return;
    const st = stream.structure;
    // Simulcast: the encoding is forwarded whole spatially; SVC: up to the current spatial layer.
    const spatial = this.producer.svc ? sel.currentSpatialLayer : st.maxSpatialId;
    const forwarded = decodeTargetsUpTo(st, spatial, sel.currentTemporalLayer);
    rw.ddMaskBit = dd.activeDecodeTargetsBit;
    rw.ddMaskCount = st.decodeTargetCount;
    // Bitwise AND on up to 32 bits without the sign: both are non-negative integers below 2^32.
    rw.ddMask = (forwarded & stream.activeDecodeTargets) >>> 0;
  }

  /**
   * A packet of the current stream not forwarded (a temporal layer above the
   * cap, or an SVC spatial layer above the current one). In order, it
   * consumes no output number (and a dropped picture no picture id);
   * reordered, numbers were already given out and a gap stays.
   */
  private dropInOrder(ctx: PacketContext, temporal: boolean): void {
    if (temporal) this.stats.drops.temporalLayer++;
    else this.stats.drops.spatialLayer++;
    if (!this.started || ctx.encoding !== this.encoding || ctx.extSeq <= this.highestInExtSeq) return;
    this.highestInExtSeq = ctx.extSeq;
    this.seqOffset--;
    // A whole picture dropped (VP8 temporal): the next one takes its picture id.
    if (temporal && ctx.summary.startOfFrame && ctx.summary.pictureIdOffset >= 0) this.picOffset--;
  }

  /** (Re)start on `ctx`'s encoding: offsets so the output continues where it stopped. */
  private switchTo(ctx: PacketContext): void {
    this.resync = false;
    this.stats.resyncs++;
    const prev = this.encoding;
    if (prev && prev !== ctx.encoding) this.stats.layerSwitches++;
    this.encoding = ctx.encoding;
    this.resyncExtSeq = ctx.extSeq;
    this.highestInExtSeq = ctx.extSeq - 1;
    const s = ctx.summary;
    if (!this.started) {
      // First packet ever: keep the producer's numbering (offset 0) so
      // captures line up; any offset is valid for a new stream.
      this.seqOffset = 0;
      this.tsOffset = 0;
      this.picOffset = 0;
      this.tl0Offset = 0;
      this.ddFrameOffset = 0;
      return;
    }
    this.seqOffset = this.lastOutExtSeq + 1 - ctx.extSeq;
    if (ctx.ddOffset >= 0 && this.lastOutFrame >= 0) this.ddFrameOffset = (this.lastOutFrame + 1 - ctx.dd.frameNumber) & 0xffff;
    const outTs = this.alignedTimestamp(ctx, prev);
    this.tsOffset = mod32(outTs - ctx.extTimestamp);
    if (s.pictureId >= 0 && this.lastOutPic >= 0) this.picOffset = (this.lastOutPic + 1 - s.pictureId) & 0x7fff;
    if (s.tl0PicIdx >= 0 && this.lastOutTl0 >= 0) this.tl0Offset = (this.lastOutTl0 + 1 - s.tl0PicIdx) & 0xff;
  }

  /**
   * The output timestamp for the first packet after a (re)start. Switching
   * between encodings with sender reports from both: the new packet's
   * capture time on the old encoding's RTP clock, plus the old offset. Else
   * (or if that disagrees with the wall clock by more than a second): the
   * last output timestamp plus the wall time elapsed since, at the codec's
   * clock rate. Never earlier than one tick after the last.
   */
  private alignedTimestamp(ctx: PacketContext, prev: ProducerEncoding | undefined): number {
    const clockRate = ctx.codec.clockRate;
    const now = this.now();
    const elapsedTicks = Math.max(1, Math.round(((now - this.lastSentMs) * clockRate) / 1000));
    const wall = mod32(this.lastOutTs + elapsedTicks);
    const next = ctx.encoding;
    if (prev && prev !== next && prev.srNtpMs >= 0 && next.srNtpMs >= 0) {
      // ts on prev's clock = ts + (srRtp_prev - srRtp_next) + (ntp_next - ntp_prev) * rate
      const onPrev = ctx.extTimestamp + (prev.srRtp - next.srRtp) + Math.round(((next.srNtpMs - prev.srNtpMs) * clockRate) / 1000);
      const aligned = mod32(onPrev + this.tsOffset);
      const ahead = (aligned - this.lastOutTs) | 0;
      const disagreement = Math.abs(((aligned - wall) | 0) / clockRate) * 1000;
      if (disagreement <= MAX_SR_DISAGREEMENT_MS) {
        this.stats.tsFromSenderReports++;
        // The new layer's keyframe may carry the same capture time as the last frame sent.
        return ahead >= 1 ? aligned : mod32(this.lastOutTs + 1);
      }
    }
    this.stats.tsFromWallClock++;
    return wall;
  }

  /** Copies a packet, rewrites it into this consumer's numbering (and `this.rw`) and sends it, as RTX with `rtxPt`. */
  private send(srcBuf: Buffer, offset: number, len: number, pt: number, seq: number, ts: number, marker: boolean, retransmission = false, rtxPt = NO_PT): boolean {
    const tcc = this.transportCc;
    // Room for an RTX copy's 2 bytes and for a transport-cc element sfud adds (at most 8).
    const buf = Buffer.allocUnsafe(len + (rtxPt !== NO_PT ? 2 : 0) + (tcc?.insert ? 8 : 0) + this.sink.rtpTrailerRoom);
    srcBuf.copy(buf, 0, offset, offset + len);
    const out = this.out;
    if (!out.reset(buf, 0, len)) return false;
    out.payloadType = pt;
    out.sequenceNumber = seq;
    out.timestamp = ts;
    out.ssrc = this.ssrc;
    if (marker !== out.marker) out.marker = marker;
    if (out.extLength > 0) out.remapExtensionIds(this.extMap);
    const rw = this.rw;
    if (rw.pic >= 0 && rw.picAt >= 0) writeVp8PictureId(buf, rw.picAt, rw.pic);
    if (rw.tl0 >= 0 && rw.tl0At >= 0) writeVp8Tl0PicIdx(buf, rw.tl0At, rw.tl0);
    if (rw.ddAt >= 0) {
      writeDdFrameNumber(buf, rw.ddAt, rw.ddFrame);
      if (rw.ddMaskBit >= 0) writeDdActiveDecodeTargets(buf, rw.ddAt, rw.ddMaskBit, rw.ddMaskCount, rw.ddMask);
    }
    let tccAt = -1;
    if (tcc) {
      // After the remap: the element added carries the subscriber's id already.
      if (tcc.insert) tccAt = out.appendExtension(tcc.extId, 2);
      else if ((tccAt = out.findExtension(tcc.extId)) >= 0 && out.extValueLength !== 2) tccAt = -1;
    }
    let sendLen = out.length;
    if (rtxPt !== NO_PT) {
      sendLen = writeRtx(buf, 0, sendLen, this.rtxSsrc, rtxPt, this.rtxSeq, buf, 0);
      if (sendLen < 0) return false;
      this.rtxSeq = (this.rtxSeq + 1) & 0xffff;
    }
    // The header (and the extension's place in it) is the same in the RTX form.
    const resent = retransmission && rtxPt === NO_PT;
    if (this.pacer) return this.pacer.send(this.sink, buf, sendLen, tccAt, (this.kind === 'audio' ? PacketFlag.Audio : 0) | (resent ? PacketFlag.Resent : 0));
    if (tcc && tccAt >= 0) tcc.history.stamp(buf, tccAt, sendLen, this.now(), tcc.history.activeCluster, resent);
    return this.sink.sendRtpOwned(buf, sendLen);
  }

  /**
   * Padding-only RTP packets (RFC 3550 5.1, P bit) to probe the subscriber's
   * link: `count` packets of 255 padding bytes, each with a transport-wide
   * sequence number in probe cluster `cluster` (through a pacer: the one
   * running when the packet leaves). With RTX they go on the RTX
   * SSRC under its own numbers (as libwebrtc pads), at any time, and the
   * media numbering never sees them. Without it they go on this stream: they
   * take sequence numbers (the decoder skips padding) and the last
   * timestamp, and go only between frames. A stream the allocation paused
   * carries padding too: probing is how it comes back. Returns the bytes sent.
   */
  sendPadding(count: number, cluster: number): number {
    const tcc = this.transportCc;
    if (!tcc || this._closed || !this.started || this.lastOutPt < 0) return 0;
    // Media is well behind already: padding would only queue behind it. A few packets
    // waiting are normal (a frame being spread), and skipping the padding then would
    // leave a probe short of its target: a busy machine would read as a full link.
    if (this.pacer && this.pacer.queueMs > PADDING_MAX_BACKLOG_MS) return 0;
    const rtxPt = this.rtxPtMap[this.lastOutPt & 0x7f]!;
    const onRtx = rtxPt !== NO_PT;
    // A suspended stream carries no frame, so padding may follow whatever was sent last;
    // a flowing one only between frames.
    if (!onRtx && !this.suspended && this.selector?.currentSpatialLayer !== -1 && !this.lastOutMarker) return 0;
    let sent = 0;
    const len = PADDING_PACKET_BYTES;
    for (let k = 0; k < count; k++) {
      const buf = Buffer.alloc(len + this.sink.rtpTrailerRoom);
      const outExt = this.lastOutExtSeq + 1;
      buf[0] = 0xb0; // V=2, P=1, X=1
      buf[1] = onRtx ? rtxPt : this.lastOutPt & 0x7f;
      buf.writeUInt16BE(onRtx ? this.rtxSeq : outExt & 0xffff, 2);
      buf.writeUInt32BE(this.lastOutTs >>> 0, 4);
      buf.writeUInt32BE(onRtx ? this.rtxSsrc : this.ssrc, 8);
      buf.writeUInt16BE(0xbede, 12); // one-byte extensions, 1 word
      buf.writeUInt16BE(1, 14);
      buf[16] = (tcc.extId << 4) | 1; // id, 2 bytes
      buf[len - 1] = PADDING_PACKET_BYTES - 20;
      if (this.pacer) {
        if (!this.pacer.send(this.sink, buf, len, 17)) break;
      } else {
        tcc.history.stamp(buf, 17, len, this.now(), cluster);
        if (!this.sink.sendRtpOwned(buf, len)) break;
      }
      if (onRtx) {
        this.rtxSeq = (this.rtxSeq + 1) & 0xffff;
      } else {
        // Media after the padding continues one number further on.
        this.lastOutExtSeq = outExt;
        this.seqOffset++;
      }
      this.stats.paddingPackets++;
      sent += len;
    }
    return sent;
  }

  private remember(outSeq: number, ctx: PacketContext, ts: number, pic: number, tl0: number, marker: boolean): void {
    const q = (this.sequencer ??= new Sequencer());
    const i = outSeq & SEQUENCER_MASK;
    q.seq[i] = outSeq;
    q.srcSeq[i] = ctx.view.sequenceNumber;
    q.encoding[i] = ctx.encoding.index;
    q.ts[i] = ts;
    q.pic[i] = pic < 0 ? -1 : (pic & 0xffff) | ((tl0 < 0 ? 0xff : tl0) << 16);
    q.marker[i] = marker ? 1 : 0;
    q.resentMs[i] = -Infinity;
    const rw = this.rw;
    q.ddFrame[i] = rw.ddAt >= 0 ? rw.ddFrame : -1;
    q.ddMaskBit[i] = rw.ddAt >= 0 ? rw.ddMaskBit : -1;
    q.ddMaskCount[i] = rw.ddMaskCount;
    q.ddMask[i] = rw.ddMask;
  }

  /**
   * The subscriber NACKed `seq` (our numbering): resend it from the
   * producer's store with the header it was first sent with (RFC 4585; RTX
   * toward subscribers is not offered). Packets older than the sequencer or
   * the store cannot be resent. The first NACK is always answered (on a
   * short path it comes well within 100 ms of the original); a packet
   * already resent is resent again only once `rttMs` (the subscriber's
   * round trip, at least 100 ms) has passed since.
   */
  retransmit(seq: number, rttMs = 0): boolean {
    const q = this.sequencer;
    if (!q || this._closed) return false;
    const i = seq & SEQUENCER_MASK;
    if (q.seq[i] !== seq) {
      this.stats.retransmitMisses++;
      return false;
    }
    if (this.resendFloor >= 0 && this.lastOutExtSeq - ((this.lastOutExtSeq - seq) & 0xffff) < this.resendFloor) {
      this.stats.retransmitSkipped++;
      return false;
    }
    if (this.pacer && this.pacer.queueMs > RETRANSMIT_MAX_BACKLOG_MS) {
      this.stats.retransmitSkipped++;
      return false;
    }
    const now = this.now();
    const guard = Math.min(Math.max(rttMs, RETRANSMIT_GUARD_MS), RETRANSMIT_GUARD_MAX_MS);
    if (now - q.resentMs[i]! < guard) {
      this.stats.retransmitGuarded++;
      return false;
    }
    const store = this.producer.encodings[q.encoding[i]!]?.store;
    const slot = store ? store.get(q.srcSeq[i]!, now) : -1;
    if (!store || slot < 0) {
      this.stats.retransmitMisses++;
      this.producer.retransmitMiss(q.encoding[i]!, q.srcSeq[i]!);
      return false;
    }
    const off = store.offsetOf(slot);
    const len = store.lengthOf(slot);
    const slab = store.slab;
    const pt = this.ptMap[slab[off + 1]! & 0x7f]!;
    if (pt === NO_PT) return false;
    const packed = q.pic[i]!;
    const rw = this.rw;
    rw.picAt = -1;
    rw.tl0At = -1;
    rw.ddAt = -1;
    const parsed = this.out.reset(slab, off, len);
    if (packed >= 0 && parsed && parseVp8(slab, this.out.payloadOffset, this.out.payloadLength, this.vp8)) {
      rw.picAt = this.vp8.pictureIdOffset - off;
      rw.tl0At = this.vp8.tl0PicIdxOffset - off;
    }
    rw.pic = packed >= 0 ? packed & 0xffff : -1;
    rw.tl0 = packed >= 0 && packed >>> 16 !== 0xff ? packed >>> 16 : -1;
    if (q.ddFrame[i]! >= 0 && parsed) {
      // The stored copy is the publisher's packet: find its DD again and write what was first sent.
      const at = this.out.findExtension(this.producer.ddExtId);
      if (at >= 0) {
        rw.ddAt = at - off;
        rw.ddFrame = q.ddFrame[i]!;
        rw.ddMaskBit = q.ddMaskBit[i]!;
        rw.ddMaskCount = q.ddMaskCount[i]!;
        rw.ddMask = q.ddMask[i]!;
      }
    }
    const rtxPt = this.rtxPtMap[pt]!;
    if (!this.send(slab, off, len, pt, seq, q.ts[i]!, q.marker[i] === 1, true, rtxPt)) return false;
    q.resentMs[i] = now;
    this.stats.retransmitted++;
    if (rtxPt !== NO_PT) this.stats.retransmittedRtx++;
    this.stats.retransmittedBytes += len;
    return true;
  }

  /** A sender report for this stream, or false before anything was sent. */
  writeSenderReport(nowMs: number, ntpNowMs: number, out: SenderReportPacket): boolean {
    return this.sr.write(nowMs, ntpNowMs, out);
  }

  /** Asks the producer for a keyframe of `layer`, at most every 250 ms from this consumer. */
  private askKeyframe(layer: number, nowMs: number): void {
    if (nowMs - this.lastKeyframeAskMs < KEYFRAME_ASK_INTERVAL_MS) return;
    this.lastKeyframeAskMs = nowMs;
    this.stats.keyframeRequests++;
    this.producer.requestKeyframe(Math.max(0, layer), nowMs);
  }

  /** The subscriber asked for a keyframe (PLI/FIR on our SSRC). */
  requestKeyframe(): void {
    const sel = this.selector;
    if (!sel || this._paused) return;
    const layer = sel.currentSpatialLayer >= 0 ? sel.currentSpatialLayer : sel.desiredLayer(this.now());
    this.lastKeyframeAskMs = -Infinity;
    this.askKeyframe(layer, this.now());
  }

  pause(): void {
    if (this._paused || this._closed) return;
    this._paused = true;
    this.selector?.pause();
    this.noteLayer();
  }

  /** Resumes forwarding; video restarts at the next keyframe, which is requested now. */
  resume(): void {
    if (!this._paused || this._closed) return;
    this._paused = false;
    if (!this.policyPaused) this.restart();
  }

  /** Restarts forwarding with continuous numbering; video at the next keyframe, requested now. */
  private restart(): void {
    this.resync = true;
    const sel = this.selector;
    if (sel) {
      const now = this.now();
      sel.resume(now);
      this.lastKeyframeAskMs = -Infinity;
      this.askKeyframe(sel.desiredLayer(now), now);
    }
  }

  private reportedLayer = -1;
  private noteLayer(): void {
    const layer = this.currentLayer;
    if (layer === this.reportedLayer) return;
    this.reportedLayer = layer;
    this.emit('layerchange', layer);
  }

  /** The producer closed: silent toward the producer, loud toward the owner. */
  producerClosed(): void {
    if (this._closed) return;
    this._closed = true;
    this.emit('producerclose');
    this.emit('close');
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.producer.removeConsumer(this);
    this.emit('close');
  }

  dump(): Record<string, unknown> {
    return {
      id: this.id,
      producerId: this.producer.id,
      kind: this.kind,
      ssrc: this.ssrc,
      paused: this._paused,
      seqOffset: this.seqOffset,
      tsOffset: this.tsOffset,
      layers: this.layerState(),
    };
  }

  private layerState(): Record<string, unknown> | undefined {
    const sel = this.selector;
    if (!sel) return undefined;
    return {
      current: sel.currentSpatialLayer,
      currentTemporal: sel.currentTemporalLayer,
      target: sel.targetSpatialLayer,
      targetTemporal: sel.targetTemporalLayer,
      preferred: this.preferred,
      allocated: this.allocated,
      switches: sel.switches,
      /** Packets that arrived while a switch waited for its keyframe and the old layer kept flowing. */
      freezesAvoided: sel.keyframeWaits,
      /** What each arriving spatial layer costs to forward (bits/s), as the allocation prices it. */
      bitrates: Object.fromEntries(this.availableLayers().map((l) => [l, Math.round(this.layerBitrate(l))])),
    };
  }

  getStats(): Record<string, unknown> {
    return {
      id: this.id,
      kind: this.kind,
      ssrc: this.ssrc,
      rtxSsrc: this.rtxSsrc === 0 ? undefined : this.rtxSsrc,
      streamId: this.producer.streamId,
      suspended: this.suspended,
      ...this.stats,
      layers: this.layerState(),
    };
  }
}

function clampLayer(n: number): number {
  return Math.max(0, Math.min(MAX_LAYER, Math.trunc(n)));
}

function mod32(n: number): number {
  const m = n % 4294967296;
  return m < 0 ? m + 4294967296 : m;
}
