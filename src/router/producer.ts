/**
 * Producer: one incoming track (one publisher m-section), seen in router
 * space. Ingress parses each packet once (STYLE.md 3): extended sequence
 * number and timestamp, keyframe and layer from the codec descriptor, audio
 * level from RFC 6464, and leaves them in a reused `PacketContext` that every
 * consumer reads. Nothing downstream re-parses.
 *
 * The fan-out loop walks a plain array of consumers, rebuilt when one is
 * added or removed (STYLE.md 4: never a Map per packet).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { RtpView } from '../rtp/rtp.js';
import { SeqWindow, Unwrapper } from '../rtp/seq.js';
import { readAudioLevelByte } from '../rtp/extensions.js';
import {
  DD_MALFORMED,
  DD_OK,
  createDdStream,
  createDependencyDescriptor,
  parseDependencyDescriptor,
  temporalSwitchMask,
  type DdStream,
  type DependencyDescriptor,
} from '../rtp/dependency-descriptor.js';
import {
  createCodecDescriptors,
  createCodecSummary,
  parseCodecPayload,
  type CodecDescriptors,
  type CodecKind,
  type CodecSummary,
} from '../rtp/codecs/index.js';
import type { Consumer } from './consumer.js';
import {
  KeyframeRequester,
  NackGenerator,
  ReceiveStatistics,
  RetransmissionStore,
  type KeyframeRequestKind,
} from '../rtp/feedback/index.js';
import { compactNtp, ntpToMs } from '../rtp/rtcp/ntp.js';
import { orderRids } from '../simulcast/layer-selector.js';

export type MediaKind = 'audio' | 'video';

/** A codec as negotiated with the publisher, in router space. */
export interface RouterCodec {
  /** Payload type the publisher uses (router space keeps publisher PTs per producer). */
  payloadType: number;
  kind: CodecKind;
  mimeType: string;
  clockRate: number;
  channels?: number;
  parameters?: Record<string, string | number>;
  /** RTX payload type paired with this codec, if negotiated. */
  rtxPayloadType?: number;
}

/** One encoding as the publisher's SDP describes it (simulcast: one per rid or per SIM SSRC). */
export interface EncodingOptions {
  /** Media SSRC; 0 when the SDP gave none (learned from the rid/MID extension on first sight). */
  ssrc: number;
  /** RFC 8851 rid, for rid-based simulcast. */
  rid?: string | undefined;
  /** RTX SSRC paired with it (FID group), 0/undefined when unknown or learned later. */
  rtxSsrc?: number | undefined;
  /** Resolution limits from `a=rid` restrictions, used to order non-ion rids before any keyframe. */
  maxWidth?: number | undefined;
  maxHeight?: number | undefined;
}

export interface ProducerOptions {
  kind: MediaKind;
  /** Publisher's msid stream id and track id (ion-sdk-js keys everything on the stream id). */
  streamId: string;
  trackId: string;
  mid: string;
  codecs: readonly RouterCodec[];
  /** SSRC of a single-encoding producer (ignored when `encodings` is given). */
  ssrc?: number;
  /**
   * Simulcast encodings in SDP order (rids in `a=simulcast` order, or the
   * SSRCs of an `a=ssrc-group:SIM`, lowest first as libwebrtc lists them).
   */
  encodings?: readonly EncodingOptions[];
  /** Publisher extension ids for the extensions ingress reads (0 = not negotiated). */
  extensionIds: {
    audioLevel?: number;
    transportWideCc?: number;
    mid?: number;
    rid?: number;
    repairedRid?: number;
    dependencyDescriptor?: number;
  };
  /** The publisher negotiated `nack pli` / `ccm fir` (keyframe request kind). */
  feedback?: { pli?: boolean; fir?: boolean };
  appData?: Record<string, unknown>;
  /**
   * Called when a consumer needs a keyframe of `encoding` and the
   * encoding's throttle lets a request through now (or later, see
   * `ProducerEncoding.keyframe.pending`).
   */
  requestKeyframe?: (producer: Producer, encoding: ProducerEncoding, kind: KeyframeRequestKind) => void;
  /**
   * A consumer was NACKed for packets (16-bit seqs) of `encoding` that the
   * store no longer (or never) had. A producer fed by a pipe asks the far
   * side; a publisher's producer ignores it (its own NACK generator already
   * asked for every gap it saw).
   */
  retransmitMiss?: (producer: Producer, encoding: ProducerEncoding, seq: number) => void;
  /** Asks the publisher to resend packets (16-bit seqs) of `encoding` (a NACK from a pipe the store could not serve). */
  requestRetransmission?: (producer: Producer, encoding: ProducerEncoding, seqs: readonly number[]) => void;
}

/**
 * Sees every packet the producer forwards, before its consumers do (the
 * pipe to other shards holding subscribers of the room). Called
 * synchronously with the reused context: copy what must outlive the call.
 */
export interface ProducerTap {
  onPacket(ctx: PacketContext): void;
}

/**
 * Per-encoding ingress state: everything that is per SSRC (numbering,
 * reception statistics, NACK, the retransmission store, sender-report clock
 * mapping, keyframe throttle).
 */
export class ProducerEncoding {
  readonly index: number;
  readonly rid: string | undefined;
  /** Media SSRC (0 until learned). */
  ssrc: number;
  /** RTX SSRC (0 until learned or when none). */
  rtxSsrc: number;
  /** Spatial layer this encoding is (simulcast order, re-ranked by observed resolution for non-ion rids). */
  layer: number;
  readonly maxWidth: number | undefined;
  readonly maxHeight: number | undefined;
  readonly seq = new Unwrapper(16);
  /** Which recent sequence numbers arrived: copies are not forwarded twice. */
  readonly received = new SeqWindow();
  readonly ts = new Unwrapper(32);
  readonly descriptors: CodecDescriptors = createCodecDescriptors();
  /** Dependency Descriptor state of this SSRC (the template structure in force); video with the DD negotiated only. */
  dd: DdStream | undefined;
  readonly receiveStats: ReceiveStatistics;
  readonly nack: NackGenerator | undefined;
  /** Copies of recent packets, serving subscribers' NACKs (video only; released when the producer closes). */
  store: RetransmissionStore | undefined;
  readonly keyframe: KeyframeRequester;
  /** Latest sender report: NTP time (ms since 1900) and the RTP timestamp it maps to; ntp < 0 before one. */
  srNtpMs = -1;
  srRtp = 0;
  /** Resolution from the latest keyframe that carried one (VP8), 0 before. */
  width = 0;
  height = 0;
  packets = 0;
  bytes = 0;
  /** Video frames begun (packets starting a frame): the encoding's frame rate, as sent. */
  frames = 0;
  keyframes = 0;
  lastKeyframeMs = -1;
  lastPacketMs = -1;

  constructor(index: number, kind: MediaKind, o: EncodingOptions, feedback: { pli?: boolean; fir?: boolean } | undefined) {
    this.index = index;
    this.rid = o.rid;
    this.ssrc = o.ssrc >>> 0;
    this.rtxSsrc = (o.rtxSsrc ?? 0) >>> 0;
    this.layer = index;
    this.maxWidth = o.maxWidth;
    this.maxHeight = o.maxHeight;
    this.receiveStats = new ReceiveStatistics(this.ssrc);
    if (kind === 'video') {
      this.nack = new NackGenerator();
      this.store = new RetransmissionStore();
    }
    // Keyframes of the higher simulcast layers are expensive to encode: at most one a second (one
    // every 500 ms for the lowest layer and plain tracks), as LiveKit throttles them.
    this.keyframe = new KeyframeRequester({ pli: feedback?.pli ?? true, fir: feedback?.fir ?? false, minIntervalMs: index === 0 ? 500 : 1000 });
  }

  /** A sender report from this encoding's SSRC (RFC 3550 6.4.1): its NTP/RTP pair aligns layers. */
  onSenderReport(ntpSec: number, ntpFrac: number, rtpTimestamp: number, arrivalMs: number): void {
    this.srNtpMs = ntpToMs(ntpSec, ntpFrac);
    this.srRtp = rtpTimestamp >>> 0;
    this.receiveStats.onSenderReport(compactNtp(ntpSec, ntpFrac), arrivalMs);
  }

  toJSON(): Record<string, unknown> {
    return {
      index: this.index,
      rid: this.rid,
      ssrc: this.ssrc,
      rtxSsrc: this.rtxSsrc,
      layer: this.layer,
      width: this.width,
      height: this.height,
      packets: this.packets,
      bytes: this.bytes,
      frames: this.frames,
      keyframes: this.keyframes,
    };
  }
}

/** Per-packet facts computed once at ingress. Valid only during the fan-out call. */
export interface PacketContext {
  view: RtpView;
  length: number;
  extSeq: number;
  extTimestamp: number;
  arrivalMs: number;
  codec: RouterCodec;
  summary: CodecSummary;
  /** The encoding the packet arrived on. */
  encoding: ProducerEncoding;
  /** Its spatial layer: the simulcast layer, or (SVC) the layer from the payload descriptor. */
  layer: number;
  /** RFC 6464 level (0 loudest .. 127 silence), or -1 when absent. */
  audioLevel: number;
  voiceActivity: boolean;
  /** Offset in `view.buf` of the Dependency Descriptor element, -1 when absent or malformed. */
  ddOffset: number;
  /** Its parse: the mandatory fields when `ddOffset >= 0`, everything when `ddKnown`. */
  dd: DependencyDescriptor;
  /** The DD resolved through the stream's structure: `summary`'s frame and layer facts come from it. */
  ddKnown: boolean;
}

export interface ProducerEvents {
  close: [];
  /** Paused or resumed by the publisher side (mute). */
  pause: [];
  resume: [];
  /** The encodings' layer ranking changed (non-ion rids ranked by observed resolution). */
  layerschange: [];
  /** A consumer started reading this producer (metrics follow consumers through this). */
  consumer: [consumer: Consumer];
  /** A consumer stopped reading this producer. */
  consumerclose: [consumer: Consumer];
  /** A sender report of an encoding was taken (pipes pass it on: consumers elsewhere align layers with it). */
  senderreport: [encodingIndex: number, ntpSec: number, ntpFrac: number, rtpTimestamp: number];
}

const ION_RIDS = new Set(['q', 'h', 'f']);

export class Producer extends EventEmitter<ProducerEvents> {
  readonly id = randomUUID();
  readonly kind: MediaKind;
  readonly streamId: string;
  readonly trackId: string;
  readonly mid: string;
  readonly codecs: readonly RouterCodec[];
  readonly appData: Record<string, unknown>;
  /** Simulcast encodings (one for a plain track). */
  readonly encodings: readonly ProducerEncoding[];
  /** Layers live in one RTP stream (VP9/AV1 SVC): consumers drop by the descriptor's spatial id. */
  readonly svc: boolean;
  /** The publisher's Dependency Descriptor extension id (0: not negotiated, or audio). */
  readonly ddExtId: number;
  private readonly opts: ProducerOptions;
  /** Indexed by payload type: the codec, for O(1) lookup per packet. */
  private readonly codecByPt: (RouterCodec | undefined)[] = new Array<RouterCodec | undefined>(128);
  private readonly ctx: PacketContext;
  private consumers: Consumer[] = [];
  private taps: ProducerTap[] = [];
  /** Receives each packet's RFC 6464 level (set by the room's audio-level observer). */
  audioLevelSink: ((level: number) => void) | undefined;
  /**
   * Audio only: among the room's loudest-K (or loudest-K is off). When not,
   * packets still feed the level observers (so the stream can become loud
   * again) but go to no consumer; the owner also drops its quiet packets
   * before decryption.
   */
  audioSelected = true;
  private _closed = false;
  private _paused = false;
  /** Rids other than ion-sfu's q/h/f are ranked by resolution once every encoding has shown one. */
  private rankByResolution: boolean;

  readonly stats = {
    packets: 0,
    bytes: 0,
    keyframes: 0,
    keyframeRequests: 0,
    /** `duplicate`: a copy of a packet already received (see SeqWindow), not forwarded again. */
    drops: { unknownPayloadType: 0, malformedPayload: 0, duplicate: 0 },
    /** Packets whose Dependency Descriptor gave their layers and frame facts. */
    ddParsed: 0,
    /** Dependency Descriptors that did not parse / whose template structure was not known (packets forwarded as without one). */
    ddMalformed: 0,
    ddUnknown: 0,
    /** Audio packets (and bytes) decrypted but not forwarded: not among the loudest-K. */
    notLoudest: 0,
    notLoudestBytes: 0,
  };

  constructor(opts: ProducerOptions) {
    super();
    // Every subscriber's subscription listens for 'close': hundreds are normal.
    this.setMaxListeners(0);
    this.opts = opts;
    this.kind = opts.kind;
    this.streamId = opts.streamId;
    this.trackId = opts.trackId;
    this.mid = opts.mid;
    this.codecs = opts.codecs;
    this.appData = opts.appData ?? {};
    for (const c of opts.codecs) this.codecByPt[c.payloadType & 0x7f] = c;
    const encs = opts.encodings && opts.encodings.length > 0 ? opts.encodings : [{ ssrc: opts.ssrc ?? 0 }];
    this.encodings = encs.map((e, i) => new ProducerEncoding(i, opts.kind, e, opts.feedback));
    const rids = encs.map((e) => e.rid);
    this.rankByResolution = false;
    if (rids.every((r) => r !== undefined) && encs.length > 1) {
      const order = orderRids(
        encs.map((e) => ({
          rid: e.rid!,
          width: e.maxWidth,
          height: e.maxHeight,
        })),
      );
      for (const e of this.encodings) e.layer = order.get(e.rid!) ?? e.index;
      this.rankByResolution = !rids.every((r) => ION_RIDS.has(r!));
    }
    const first = opts.codecs[0];
    if (!first) throw new Error('a producer needs at least one codec');
    this.ddExtId = opts.kind === 'video' ? (opts.extensionIds.dependencyDescriptor ?? 0) : 0;
    if (this.ddExtId > 0) for (const e of this.encodings) e.dd = createDdStream();
    this.svc = this.encodings.length === 1 && opts.kind === 'video' && opts.codecs.some((c) => c.kind === 'vp9' || c.kind === 'av1');
    this.ctx = {
      view: new RtpView(),
      length: 0,
      extSeq: 0,
      extTimestamp: 0,
      arrivalMs: 0,
      codec: first,
      summary: createCodecSummary(),
      encoding: this.encodings[0]!,
      layer: 0,
      audioLevel: -1,
      voiceActivity: false,
      ddOffset: -1,
      dd: createDependencyDescriptor(),
      ddKnown: false,
    };
  }

  get closed(): boolean {
    return this._closed;
  }

  /** What it was created with (a pipe describes the producer to the far side from it). */
  get options(): Readonly<ProducerOptions> {
    return this.opts;
  }

  get paused(): boolean {
    return this._paused;
  }

  /** SSRC of the first encoding (the only one for a plain track). */
  get ssrc(): number {
    return this.encodings[0]!.ssrc;
  }

  /** True when the publisher sends more than one encoding. */
  get simulcast(): boolean {
    return this.encodings.length > 1;
  }

  /** The codec of the last packet (what consumers currently receive). */
  get currentCodec(): RouterCodec {
    return this.ctx.codec;
  }

  /** The encoding carrying spatial layer `layer`, if any. */
  encodingForLayer(layer: number): ProducerEncoding | undefined {
    const list = this.encodings;
    for (let i = 0; i < list.length; i++) if (list[i]!.layer === layer) return list[i];
    return undefined;
  }

  /**
   * Ingress for one decrypted RTP packet of encoding `encodingIndex`. `view`
   * has already been reset on the packet by the caller (the transport
   * routing by SSRC parsed it once).
   */
  receive(view: RtpView, length: number, arrivalMs: number, encodingIndex = 0): void {
    if (this._closed) return;
    const enc = this.encodings[encodingIndex];
    const codec = this.codecByPt[view.payloadType];
    if (!codec || !enc) {
      this.stats.drops.unknownPayloadType++;
      return;
    }
    const ctx = this.ctx;
    ctx.view = view;
    ctx.length = length;
    ctx.codec = codec;
    ctx.arrivalMs = arrivalMs;
    ctx.encoding = enc;
    ctx.extSeq = enc.seq.update(view.sequenceNumber);
    ctx.extTimestamp = enc.ts.update(view.timestamp);
    enc.receiveStats.onPacket(ctx.extSeq, view.timestamp, arrivalMs, codec.clockRate);
    enc.lastPacketMs = arrivalMs;
    if (enc.nack) {
      enc.nack.onPacket(ctx.extSeq, arrivalMs);
      enc.store!.store(view.buf, view.offset, length, ctx.extSeq, arrivalMs);
    }
    if (!enc.received.add(ctx.extSeq)) {
      this.stats.drops.duplicate++;
      return;
    }
    if (!parseCodecPayload(codec.kind, view.buf, view.payloadOffset, view.payloadLength, enc.descriptors, ctx.summary)) {
      // Padding-only packets (probing) have no payload: forward nothing, count nothing wrong.
      if (view.payloadLength > 0) this.stats.drops.malformedPayload++;
      return;
    }
    ctx.summary.temporalSwitchMask = 0;
    ctx.ddOffset = -1;
    ctx.ddKnown = false;
    if (enc.dd) this.readDependencyDescriptor(view, enc.dd, ctx);
    ctx.layer = this.svc ? ctx.summary.spatialLayer : enc.layer;
    ctx.audioLevel = -1;
    ctx.voiceActivity = false;
    const levelId = this.opts.extensionIds.audioLevel ?? 0;
    if (levelId > 0) {
      const p = view.findExtension(levelId);
      if (p >= 0) {
        const b = readAudioLevelByte(view.buf, p, view.extValueLength);
        if (b >= 0) {
          ctx.audioLevel = b & 0x7f;
          ctx.voiceActivity = (b & 0x80) !== 0;
          this.audioLevelSink?.(ctx.audioLevel);
        }
      }
    }
    if (this.kind === 'video' && ctx.summary.startOfFrame) {
      enc.frames++;
      if (ctx.summary.keyframe) this.onKeyframe(enc, codec, arrivalMs);
    }
    enc.packets++;
    enc.bytes += length;
    this.stats.packets++;
    this.stats.bytes += length;
    if (this._paused) return;
    if (!this.audioSelected && this.kind === 'audio') {
      this.stats.notLoudest++;
      this.stats.notLoudestBytes += length;
      return;
    }
    const taps = this.taps;
    for (let i = 0; i < taps.length; i++) taps[i]!.onPacket(ctx);
    const list = this.consumers;
    for (let i = 0; i < list.length; i++) list[i]!.forward(ctx);
  }

  /**
   * A retransmission that came back over a pipe for a consumer's NACK: kept
   * in the store (the subscriber's next NACK is served from it) and counted
   * as received, but not forwarded (the consumers moved past it).
   */
  receiveRepair(view: RtpView, length: number, arrivalMs: number, encodingIndex: number): void {
    const enc = this.encodings[encodingIndex];
    if (this._closed || !enc?.store || !enc.nack) return;
    const extSeq = enc.seq.peek(view.sequenceNumber);
    enc.nack.onPacket(extSeq, arrivalMs);
    enc.store.store(view.buf, view.offset, length, extSeq, arrivalMs);
    enc.received.add(extSeq);
  }

  /** Packets the store could not serve to a pipe: asked of the publisher (see `ProducerOptions.requestRetransmission`). */
  requestRetransmission(encodingIndex: number, seqs: readonly number[]): void {
    const enc = this.encodings[encodingIndex];
    if (enc && !this._closed && seqs.length > 0) this.opts.requestRetransmission?.(this, enc, seqs);
  }

  /** A sender report (RFC 3550 6.4.1) for encoding `encodingIndex`, from the publisher or a pipe. */
  onSenderReport(encodingIndex: number, ntpSec: number, ntpFrac: number, rtpTimestamp: number, arrivalMs: number): void {
    const enc = this.encodings[encodingIndex];
    if (!enc || this._closed) return;
    enc.onSenderReport(ntpSec, ntpFrac, rtpTimestamp, arrivalMs);
    this.emit('senderreport', encodingIndex, ntpSec, ntpFrac, rtpTimestamp);
  }

  /** A consumer's store miss (see `ProducerOptions.retransmitMiss`). */
  retransmitMiss(encodingIndex: number, seq: number): void {
    const enc = this.encodings[encodingIndex];
    if (enc && !this._closed) this.opts.retransmitMiss?.(this, enc, seq);
  }

  /**
   * The Dependency Descriptor, when the packet has one: with its stream's
   * structure it gives frame boundaries, layers and key frames for any codec
   * (H.264 has no layer ids of its own). Without a known structure, or
   * malformed, the payload descriptor's facts stand, as before the DD.
   */
  private readDependencyDescriptor(view: RtpView, stream: DdStream, ctx: PacketContext): void {
    const p = view.findExtension(this.ddExtId);
    if (p < 0) return;
    const d = ctx.dd;
    const r = parseDependencyDescriptor(view.buf, p, view.extValueLength, stream, d);
    if (r === DD_MALFORMED) {
      this.stats.ddMalformed++;
      return;
    }
    ctx.ddOffset = p;
    if (r !== DD_OK) {
      this.stats.ddUnknown++;
      return;
    }
    ctx.ddKnown = true;
    this.stats.ddParsed++;
    const s = ctx.summary;
    s.startOfFrame = d.startOfFrame;
    s.endOfFrame = d.endOfFrame;
    s.spatialLayer = d.spatialId;
    s.temporalLayer = d.temporalId;
    // A key frame starts a coded video sequence, which is where the structure comes (A.8.3).
    s.keyframe = d.structureAttached && d.fdiffCount === 0;
    s.temporalSwitchMask = temporalSwitchMask(stream.structure, d);
  }

  private onKeyframe(enc: ProducerEncoding, codec: RouterCodec, arrivalMs: number): void {
    this.stats.keyframes++;
    enc.keyframes++;
    enc.lastKeyframeMs = arrivalMs;
    let width = 0;
    let height = 0;
    const dd = this.ctx.dd;
    if (this.ctx.ddKnown && dd.structureAttached && dd.width > 0) {
      // The structure's largest layer is what the encoding shows (the DD says it for every codec).
      const s = enc.dd!.structure;
      width = s.width[s.maxSpatialId]!;
      height = s.height[s.maxSpatialId]!;
    } else if (codec.kind === 'vp8') {
      width = enc.descriptors.vp8.width;
      height = enc.descriptors.vp8.height;
    }
    if (width === 0 || (width === enc.width && height === enc.height)) return;
    enc.width = width;
    enc.height = height;
    if (this.rankByResolution) this.rerank();
  }

  /** Non-ion rids: rank encodings by the resolution their keyframes show, once all have shown one. */
  private rerank(): void {
    if (this.encodings.some((e) => e.width === 0)) return;
    const order = orderRids(this.encodings.map((e) => ({ rid: e.rid!, width: e.width, height: e.height })));
    let changed = false;
    for (const e of this.encodings) {
      const layer = order.get(e.rid!) ?? e.layer;
      if (layer !== e.layer) changed = true;
      e.layer = layer;
    }
    if (changed) this.emit('layerschange');
  }

  /**
   * A consumer (or the owner) asks for a keyframe of spatial layer `layer`
   * (SVC and plain tracks: the one encoding). Throttled per encoding; a
   * throttled request is owed (`keyframe.pending`) and sent by the owner's tick.
   */
  requestKeyframe(layer = 0, nowMs = performance.now()): void {
    if (this._closed || this.kind !== 'video') return;
    const enc = this.svc || !this.simulcast ? this.encodings[0] : this.encodingForLayer(layer);
    if (!enc) return;
    this.stats.keyframeRequests++;
    const kind = enc.keyframe.request(nowMs);
    if (kind) this.opts.requestKeyframe?.(this, enc, kind);
  }

  /** Sends the keyframe requests that were throttled and are now due (called from the owner's tick). */
  flushKeyframeRequests(nowMs: number): void {
    for (const enc of this.encodings) {
      if (!enc.keyframe.pending) continue;
      const kind = enc.keyframe.due(nowMs);
      if (kind) this.opts.requestKeyframe?.(this, enc, kind);
    }
  }

  addConsumer(c: Consumer): void {
    if (this.consumers.includes(c)) return;
    this.consumers = [...this.consumers, c];
    this.emit('consumer', c);
  }

  removeConsumer(c: Consumer): void {
    this.consumers = this.consumers.filter((x) => x !== c);
    this.emit('consumerclose', c);
  }

  addTap(t: ProducerTap): void {
    if (!this.taps.includes(t)) this.taps = [...this.taps, t];
  }

  removeTap(t: ProducerTap): void {
    this.taps = this.taps.filter((x) => x !== t);
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  pause(): void {
    if (this._paused || this._closed) return;
    this._paused = true;
    this.emit('pause');
  }

  resume(): void {
    if (!this._paused || this._closed) return;
    this._paused = false;
    this.emit('resume');
  }

  /** Closes the producer and, through `parentClosed`, every consumer of it. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    const list = this.consumers;
    this.consumers = [];
    this.taps = [];
    for (const c of list) c.producerClosed();
    this.emit('close');
    // A closed producer can stay referenced for long (a subscriber keeps an ended
    // subscription's m-line and its description): hold nothing big, and nothing
    // that reaches the publisher, or one live peer keeps every peer it ever saw
    // (and their retransmission stores) alive. Found by the churn soak.
    for (const e of this.encodings) e.store = undefined;
    this.opts.requestKeyframe = undefined;
    this.opts.retransmitMiss = undefined;
    this.opts.requestRetransmission = undefined;
    this.audioLevelSink = undefined;
  }

  dump(): Record<string, unknown> {
    return {
      id: this.id,
      kind: this.kind,
      streamId: this.streamId,
      trackId: this.trackId,
      mid: this.mid,
      ssrc: this.ssrc,
      svc: this.svc,
      paused: this._paused,
      codecs: this.codecs.map((c) => ({ payloadType: c.payloadType, mimeType: c.mimeType, clockRate: c.clockRate })),
      encodings: this.encodings.map((e) => e.toJSON()),
      consumers: this.consumers.map((c) => c.id),
    };
  }

  getStats(): Record<string, unknown> {
    return {
      id: this.id,
      kind: this.kind,
      consumers: this.consumers.length,
      ...this.stats,
      encodings: this.encodings.map((e) => e.toJSON()),
    };
  }
}
