/**
 * Consumer: one outgoing track to one subscriber. Per forwarded packet it
 * decides (forward or drop, and the output numbering), then applies:
 * copy into a fresh buffer, rewrite SSRC / payload type / sequence number /
 * timestamp / header-extension ids, and hand the buffer to the subscriber
 * transport, which encrypts it in place and sends it (STYLE.md 4).
 *
 * Numbering is continuous on the subscriber side across pauses, keyframe
 * waits and producer changes: at every (re)start the offsets are chosen so
 * the next packet follows the last one sent (sequence + 1, timestamp advanced
 * by the wall time elapsed at the codec's clock rate, never a fixed 90 kHz).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { RtpView } from '../rtp/rtp.js';
import type { PacketContext, Producer } from './producer.js';
import { SenderReportGenerator } from '../rtp/feedback/index.js';
import type { SenderReportPacket } from '../rtp/rtcp/index.js';

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
  appData?: Record<string, unknown>;
  now?: () => number;
}

export interface ConsumerEvents {
  close: [];
  producerclose: [];
}

const NO_PT = 0xff;

export class Consumer extends EventEmitter<ConsumerEvents> {
  readonly id = randomUUID();
  readonly producer: Producer;
  readonly kind: 'audio' | 'video';
  readonly ssrc: number;
  readonly appData: Record<string, unknown>;
  private readonly sink: RtpSink;
  private readonly ptMap = new Uint8Array(128).fill(NO_PT);
  private readonly extMap = new Uint8Array(256);
  private readonly out = new RtpView();
  private readonly now: () => number;
  private _paused: boolean;
  private _closed = false;
  /** Video waits for a keyframe after (re)start; audio never does. */
  private waitingKeyframe: boolean;
  /** Set when the next forwarded packet must re-derive the numbering offsets. */
  private resync = true;
  private seqOffset = 0;
  private tsOffset = 0;
  /** Producer extended seq of the first packet after the last resync (older ones are dropped). */
  private resyncExtSeq = 0;
  private started = false;
  private lastOutSeq = 0;
  private lastOutTs = 0;
  private lastSentMs = 0;
  private highestOutExtSeq = -Infinity;

  readonly stats = {
    packets: 0,
    bytes: 0,
    drops: { paused: 0, waitingKeyframe: 0, payloadType: 0, stale: 0, sink: 0 },
    keyframeRequests: 0,
    resyncs: 0,
    retransmitted: 0,
    retransmittedBytes: 0,
    retransmitMisses: 0,
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
    this._paused = opts.paused ?? false;
    this.sr = new SenderReportGenerator(this.ssrc, opts.producer.currentCodec.clockRate);
    this.waitingKeyframe = this.kind === 'video';
    opts.producer.addConsumer(this);
    if (!this._paused && this.waitingKeyframe) this.askKeyframe();
  }

  get paused(): boolean {
    return this._paused;
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Last sequence number sent to the subscriber (for NACK mapping and SR). */
  get lastSequenceNumber(): number {
    return this.lastOutSeq;
  }

  /** Called by the producer for every packet (the fan-out loop). */
  forward(ctx: PacketContext): void {
    if (this._paused) {
      this.stats.drops.paused++;
      return;
    }
    if (this.waitingKeyframe) {
      if (!(ctx.summary.keyframe && ctx.summary.startOfFrame)) {
        this.stats.drops.waitingKeyframe++;
        return;
      }
      this.waitingKeyframe = false;
    }
    const src = ctx.view;
    const pt = this.ptMap[src.payloadType]!;
    if (pt === NO_PT) {
      this.stats.drops.payloadType++;
      return;
    }
    const now = this.now();
    if (this.resync) {
      this.resync = false;
      this.stats.resyncs++;
      this.resyncExtSeq = ctx.extSeq;
      if (this.started) {
        const clockRate = ctx.codec.clockRate;
        const elapsedTicks = Math.max(1, Math.round(((now - this.lastSentMs) * clockRate) / 1000));
        this.seqOffset = this.lastOutSeq + 1 - ctx.extSeq;
        this.tsOffset = this.lastOutTs + elapsedTicks - ctx.extTimestamp;
      } else {
        // First packet ever: keep the producer's numbering (offset 0) so
        // captures line up; any offset is valid for a new stream.
        this.seqOffset = 0;
        this.tsOffset = 0;
      }
      this.highestOutExtSeq = -Infinity;
    } else if (ctx.extSeq < this.resyncExtSeq) {
      // Reordered packet from before the (re)start point: it would number backwards.
      this.stats.drops.stale++;
      return;
    }
    const outExtSeq = ctx.extSeq + this.seqOffset;
    const outSeq = outExtSeq & 0xffff;
    const outTs = (ctx.extTimestamp + this.tsOffset) >>> 0;

    const len = ctx.length;
    if (!this.send(src.buf, src.offset, len, pt, outSeq, outTs)) {
      this.stats.drops.sink++;
      return;
    }
    this.started = true;
    this.sr.onPacketSent(outTs, src.payloadLength, now);
    if (outExtSeq > this.highestOutExtSeq) {
      this.highestOutExtSeq = outExtSeq;
      this.lastOutSeq = outSeq;
      this.lastOutTs = outTs;
      this.lastSentMs = now;
    }
    this.stats.packets++;
    this.stats.bytes += len;
  }

  /** Copies a packet, rewrites it into this consumer's numbering and sends it. */
  private send(srcBuf: Buffer, offset: number, len: number, pt: number, seq: number, ts: number): boolean {
    const buf = Buffer.allocUnsafe(len + this.sink.rtpTrailerRoom);
    srcBuf.copy(buf, 0, offset, offset + len);
    const out = this.out;
    if (!out.reset(buf, 0, len)) return false;
    out.payloadType = pt;
    out.sequenceNumber = seq;
    out.timestamp = ts;
    out.ssrc = this.ssrc;
    if (out.extLength > 0) out.remapExtensionIds(this.extMap);
    return this.sink.sendRtpOwned(buf, len);
  }

  /**
   * The subscriber NACKed `seq` (our numbering): resend it from the
   * producer's store, as plain retransmission in the same numbering (RFC
   * 4585; RTX toward subscribers is not offered). Packets from before the
   * last (re)start, or gone from the store, cannot be resent.
   */
  retransmit(seq: number): boolean {
    const store = this.producer.store;
    if (!store || this._closed || !this.started) return false;
    // Map our 16-bit number back to the producer's, through the current offset.
    const producerSeq = (seq - this.seqOffset) & 0xffff;
    const slot = store.get(producerSeq, this.now());
    if (slot < 0 || store.extSeqOf(slot) < this.resyncExtSeq) {
      this.stats.retransmitMisses++;
      return false;
    }
    const off = store.offsetOf(slot);
    const len = store.lengthOf(slot);
    const slab = store.slab;
    const pt = this.ptMap[slab[off + 1]! & 0x7f]!;
    if (pt === NO_PT) return false;
    const ts = (slab.readUInt32BE(off + 4) + this.tsOffset) >>> 0;
    if (!this.send(slab, off, len, pt, seq, ts)) return false;
    this.stats.retransmitted++;
    this.stats.retransmittedBytes += len;
    return true;
  }

  /** A sender report for this stream, or false before anything was sent. */
  writeSenderReport(nowMs: number, ntpNowMs: number, out: SenderReportPacket): boolean {
    return this.sr.write(nowMs, ntpNowMs, out);
  }

  private askKeyframe(): void {
    this.stats.keyframeRequests++;
    this.producer.requestKeyframe();
  }

  /** The subscriber asked for a keyframe (PLI/FIR on our SSRC). */
  requestKeyframe(): void {
    if (this.kind === 'video' && !this._paused) this.askKeyframe();
  }

  pause(): void {
    if (this._paused || this._closed) return;
    this._paused = true;
  }

  /** Resumes forwarding; video restarts at the next keyframe, which is requested now. */
  resume(): void {
    if (!this._paused || this._closed) return;
    this._paused = false;
    this.resync = true;
    if (this.kind === 'video') {
      this.waitingKeyframe = true;
      this.askKeyframe();
    }
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
      waitingKeyframe: this.waitingKeyframe,
      seqOffset: this.seqOffset,
      tsOffset: this.tsOffset,
    };
  }

  getStats(): Record<string, unknown> {
    return { id: this.id, kind: this.kind, ssrc: this.ssrc, ...this.stats };
  }
}
