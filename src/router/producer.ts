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
import { Unwrapper } from '../rtp/seq.js';
import { readAudioLevelByte } from '../rtp/extensions.js';
import {
  createCodecDescriptors,
  createCodecSummary,
  parseCodecPayload,
  type CodecDescriptors,
  type CodecKind,
  type CodecSummary,
} from '../rtp/codecs/index.js';
import type { Consumer } from './consumer.js';
import { NackGenerator, ReceiveStatistics, RetransmissionStore } from '../rtp/feedback/index.js';

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

export interface ProducerOptions {
  kind: MediaKind;
  /** Publisher's msid stream id and track id (ion-sdk-js keys everything on the stream id). */
  streamId: string;
  trackId: string;
  mid: string;
  codecs: readonly RouterCodec[];
  /** SSRC of the (single-layer) encoding; later issues add simulcast layers. */
  ssrc: number;
  /** Publisher extension ids for the extensions ingress reads (0 = not negotiated). */
  extensionIds: { audioLevel?: number; transportWideCc?: number; mid?: number; rid?: number };
  appData?: Record<string, unknown>;
  /** Called (throttled by the owner) when a consumer needs a keyframe. */
  requestKeyframe?: (producer: Producer) => void;
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
  /** RFC 6464 level (0 loudest .. 127 silence), or -1 when absent. */
  audioLevel: number;
  voiceActivity: boolean;
}

export interface ProducerEvents {
  close: [];
  /** Paused or resumed by the publisher side (mute). */
  pause: [];
  resume: [];
  /** A consumer started reading this producer (metrics follow consumers through this). */
  consumer: [consumer: Consumer];
}

export class Producer extends EventEmitter<ProducerEvents> {
  readonly id = randomUUID();
  readonly kind: MediaKind;
  readonly streamId: string;
  readonly trackId: string;
  readonly mid: string;
  readonly ssrc: number;
  readonly codecs: readonly RouterCodec[];
  readonly appData: Record<string, unknown>;
  private readonly opts: ProducerOptions;
  /** Indexed by payload type: the codec, for O(1) lookup per packet. */
  private readonly codecByPt: (RouterCodec | undefined)[] = new Array<RouterCodec | undefined>(128);
  private readonly seq = new Unwrapper(16);
  private readonly ts = new Unwrapper(32);
  private readonly descriptors: CodecDescriptors = createCodecDescriptors();
  private readonly ctx: PacketContext;
  private consumers: Consumer[] = [];
  /** RFC 3550 reception statistics, for receiver reports to the publisher. */
  readonly receiveStats: ReceiveStatistics;
  /** Gaps to NACK toward the publisher (video only). */
  readonly nack: NackGenerator | undefined;
  /** Copies of recent packets, serving subscribers' NACKs (video only; released at close). */
  get store(): RetransmissionStore | undefined {
    return this._store;
  }
  private _store: RetransmissionStore | undefined;
  /** Receives each packet's RFC 6464 level (set by the room's audio-level observer). */
  audioLevelSink: ((level: number) => void) | undefined;
  private _closed = false;
  private _paused = false;
  /** Last keyframe arrival (ms) and the last time a consumer asked for one. */
  private lastKeyframeMs = -1;

  readonly stats = {
    packets: 0,
    bytes: 0,
    keyframes: 0,
    keyframeRequests: 0,
    drops: { unknownPayloadType: 0, malformedPayload: 0 },
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
    this.ssrc = opts.ssrc;
    this.codecs = opts.codecs;
    this.appData = opts.appData ?? {};
    for (const c of opts.codecs) this.codecByPt[c.payloadType & 0x7f] = c;
    this.receiveStats = new ReceiveStatistics(opts.ssrc);
    if (opts.kind === 'video') {
      this.nack = new NackGenerator();
      this._store = new RetransmissionStore();
    }
    const first = opts.codecs[0];
    if (!first) throw new Error('a producer needs at least one codec');
    this.ctx = {
      view: new RtpView(),
      length: 0,
      extSeq: 0,
      extTimestamp: 0,
      arrivalMs: 0,
      codec: first,
      summary: createCodecSummary(),
      audioLevel: -1,
      voiceActivity: false,
    };
  }

  get closed(): boolean {
    return this._closed;
  }

  get paused(): boolean {
    return this._paused;
  }

  /** The codec of the last packet (what consumers currently receive). */
  get currentCodec(): RouterCodec {
    return this.ctx.codec;
  }

  /**
   * Ingress for one decrypted RTP packet of this producer's SSRC. `view` has
   * already been reset on the packet by the caller (the transport routing
   * by SSRC parsed it once).
   */
  receive(view: RtpView, length: number, arrivalMs: number): void {
    if (this._closed) return;
    const codec = this.codecByPt[view.payloadType];
    if (!codec) {
      this.stats.drops.unknownPayloadType++;
      return;
    }
    const ctx = this.ctx;
    ctx.view = view;
    ctx.length = length;
    ctx.codec = codec;
    ctx.arrivalMs = arrivalMs;
    ctx.extSeq = this.seq.update(view.sequenceNumber);
    ctx.extTimestamp = this.ts.update(view.timestamp);
    this.receiveStats.onPacket(ctx.extSeq, view.timestamp, arrivalMs, codec.clockRate);
    if (this.nack) {
      this.nack.onPacket(ctx.extSeq, arrivalMs);
      this._store!.store(view.buf, view.offset, length, ctx.extSeq, arrivalMs);
    }
    if (!parseCodecPayload(codec.kind, view.buf, view.payloadOffset, view.payloadLength, this.descriptors, ctx.summary)) {
      // Padding-only packets (probing) have no payload: forward nothing, count nothing wrong.
      if (view.payloadLength > 0) this.stats.drops.malformedPayload++;
      return;
    }
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
    if (this.kind === 'video' && ctx.summary.keyframe && ctx.summary.startOfFrame) {
      this.stats.keyframes++;
      this.lastKeyframeMs = arrivalMs;
    }
    this.stats.packets++;
    this.stats.bytes += length;
    if (this._paused) return;
    const list = this.consumers;
    for (let i = 0; i < list.length; i++) list[i]!.forward(ctx);
  }

  /** A consumer (or the owner) asks for a keyframe; the owner throttles and sends PLI/FIR. */
  requestKeyframe(): void {
    if (this._closed || this.kind !== 'video') return;
    this.stats.keyframeRequests++;
    this.opts.requestKeyframe?.(this);
  }

  addConsumer(c: Consumer): void {
    if (this.consumers.includes(c)) return;
    this.consumers = [...this.consumers, c];
    this.emit('consumer', c);
  }

  removeConsumer(c: Consumer): void {
    this.consumers = this.consumers.filter((x) => x !== c);
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
    for (const c of list) c.producerClosed();
    this.emit('close');
    // A closed producer can stay referenced for long (a subscriber keeps an ended
    // subscription's m-line and its description): hold nothing big, and nothing
    // that reaches the publisher, or one live peer keeps every peer it ever saw
    // (and their retransmission stores) alive. Found by the churn soak.
    this._store = undefined;
    this.opts.requestKeyframe = undefined;
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
      paused: this._paused,
      codecs: this.codecs.map((c) => ({ payloadType: c.payloadType, mimeType: c.mimeType, clockRate: c.clockRate })),
      consumers: this.consumers.map((c) => c.id),
      lastKeyframeMs: this.lastKeyframeMs,
    };
  }

  getStats(): Record<string, unknown> {
    return { id: this.id, kind: this.kind, consumers: this.consumers.length, ...this.stats };
  }
}
