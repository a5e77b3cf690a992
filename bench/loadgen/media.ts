/**
 * The media half of the load generator, independent of any server's
 * signalling: `MediaSource` sends synthetic VP8-shaped video and Opus-shaped
 * audio over a connected RtcConnection; `MediaSink` reads what a server
 * forwards, checks continuity and records one-way latency.
 *
 * Every media packet ends with a 12-byte stamp: the send time
 * (`process.hrtime.bigint()`, CLOCK_MONOTONIC, the same clock in every
 * process on the host) and a per-stream sequence number, so loss and latency
 * are measured on what the publisher sent, whatever the server rewrites in the
 * RTP header.
 */
import { randomBytes } from 'node:crypto';
import type { RtcConnection } from './connection.js';
import type { Histogram } from './histogram.js';
import { EXT, OPUS_PT, PUB_EXT_ID, VP8_PT, type ParsedSessionDescription } from './sdp.js';
import { RtpView } from '../../src/rtp/rtp.js';
import { readTransportWideSeq } from '../../src/rtp/extensions.js';
import { TwccRecorder } from '../../src/rtp/feedback/twcc-recorder.js';
import { writeRtcp, type TwccPacket } from '../../src/rtp/rtcp/index.js';

/** Bytes of the bench stamp at the end of every payload: send time (u64 ns) + stream sequence (u32). */
export const STAMP_BYTES = 12;

export interface MediaSourceOptions {
  audio?: boolean;
  video?: boolean;
  videoKbps?: number;
  fps?: number;
  /** Largest RTP payload (a frame is cut into ceil(bytes / maxPayload) packets). */
  maxPayload?: number;
  /** A keyframe every this many seconds (servers forward video to a new subscriber from a keyframe on). */
  keyframeIntervalS?: number;
  /** Keyframe size relative to a delta frame. */
  keyframeScale?: number;
  /** Answer PLI/FIR with a keyframe, as browsers do (at most every 100 ms). */
  answerKeyframeRequests?: boolean;
  /** Opus payload bytes per packet (80 at 20 ms = 32 kbps). */
  audioBytes?: number;
  /** Opus frame duration, ms (20 default; 60 is legal Opus and a third of the packets). */
  audioPtimeMs?: number;
  /** Audio level in -dBov (0 loudest, 127 silence) written in the ssrc-audio-level extension. */
  audioLevel?: number;
  /**
   * Send video as three SSRC-based simulcast layers (`a=ssrc-group:SIM`, low
   * first) at 1/10, 3/10 and all of `videoKbps`, 320x180, 640x360 and
   * 1280x720 in their key frames, as a browser's q/h/f encodings; default false.
   */
  simulcast?: boolean;
}

/** Simulcast layers, low to high: share of `videoKbps` and the size key frames announce. */
const SIMULCAST_LAYERS = [
  { share: 0.1, width: 320, height: 180 },
  { share: 0.3, width: 640, height: 360 },
  { share: 1, width: 1280, height: 720 },
] as const;
const SINGLE_LAYER = [{ share: 1, width: 640, height: 480 }] as const;

/**
 * Stamp sequences carry the simulcast layer in their top 2 bits, so a sink
 * counts each layer's packets as its own stream even when the server rewrites
 * them onto one SSRC (loss and continuity stay exact across layer switches).
 */
export const STAMP_LAYER_UNIT = 2 ** 30;

/** How often a sink sends receiver reports (browsers: about every second). */
const RR_INTERVAL_MS = 1000;
/** How often a sink sends transport-wide feedback (browsers: about every 100 ms, more at high rates). */
const TWCC_INTERVAL_MS = 100;

/** One video encoding's RTP state. */
interface VideoLayer {
  readonly ssrc: number;
  readonly share: number;
  /** VP8 key frame header bytes 6-9: width and height, 14 bits each, no scaling. */
  readonly size: readonly number[];
  seq: number;
  pictureId: number;
  /** Layer index x STAMP_LAYER_UNIT. */
  readonly stampBase: number;
  stampCount: number;
  keyframeRequested: boolean;
  /** Requests are answered at most every 100 ms per layer, as browsers do. */
  lastKeyframeRequestMs: number;
}

export interface MediaSourceStats {
  audioPackets: number;
  videoPackets: number;
  /** Video packets of the top simulcast layer (all of them without simulcast): what one full-quality copy receives. */
  topLayerVideoPackets: number;
  videoFrames: number;
  keyframes: number;
  bytes: number;
  keyframeRequests: number;
  nacks: number;
  twccFeedback: number;
  receiverReports: number;
}

export class MediaSource {
  readonly audioSsrc = randomBytes(4).readUInt32BE() || 1;
  private readonly layers: VideoLayer[];
  private readonly o: Required<MediaSourceOptions>;
  private timer: NodeJS.Timeout | undefined;
  private readonly pkt = Buffer.alloc(1500);
  // RTP state
  private audioSeq = randomBytes(2).readUInt16BE();
  private audioTs = randomBytes(4).readUInt32BE();
  private videoTs = randomBytes(4).readUInt32BE();
  private twSeq = 0;
  private audioStampSeq = 0;
  private nextAudioMs = 0;
  private nextVideoMs = 0;
  private lastKeyframeMs = -Infinity;

  readonly stats: MediaSourceStats = {
    audioPackets: 0,
    videoPackets: 0,
    topLayerVideoPackets: 0,
    videoFrames: 0,
    keyframes: 0,
    bytes: 0,
    keyframeRequests: 0,
    nacks: 0,
    twccFeedback: 0,
    receiverReports: 0,
  };

  constructor(
    private readonly conn: RtcConnection,
    opts: MediaSourceOptions = {},
  ) {
    this.o = {
      audio: opts.audio ?? true,
      video: opts.video ?? true,
      videoKbps: opts.videoKbps ?? 1000,
      fps: opts.fps ?? 30,
      maxPayload: opts.maxPayload ?? 1100,
      keyframeIntervalS: opts.keyframeIntervalS ?? 2,
      keyframeScale: opts.keyframeScale ?? 3,
      answerKeyframeRequests: opts.answerKeyframeRequests ?? true,
      audioBytes: opts.audioBytes ?? 80,
      audioPtimeMs: opts.audioPtimeMs ?? 20,
      audioLevel: opts.audioLevel ?? 30,
      simulcast: opts.simulcast ?? false,
    };
    this.layers = (this.o.simulcast ? SIMULCAST_LAYERS : SINGLE_LAYER).map((l, i) => ({
      ssrc: randomBytes(4).readUInt32BE() || 2 + i,
      share: l.share,
      size: [l.width & 0xff, l.width >> 8, l.height & 0xff, l.height >> 8],
      seq: randomBytes(2).readUInt16BE(),
      pictureId: randomBytes(2).readUInt16BE() & 0x7fff,
      stampBase: i * STAMP_LAYER_UNIT,
      stampCount: 0,
      keyframeRequested: true,
      lastKeyframeRequestMs: -Infinity,
    }));
    conn.onRtcp = (buf, len) => this.onRtcp(buf, len);
  }

  get hasAudio(): boolean {
    return this.o.audio;
  }

  get hasVideo(): boolean {
    return this.o.video;
  }

  /** The video SSRC (the top layer's with simulcast). */
  get videoSsrc(): number {
    return this.layers[this.layers.length - 1]!.ssrc;
  }

  /** Every video SSRC, low layer first (one without simulcast). */
  get videoSsrcs(): number[] {
    return this.layers.map((l) => l.ssrc);
  }

  /** The level written in the next audio packets (talk schedules change it while sending). */
  set audioLevel(level: number) {
    this.o.audioLevel = Math.max(0, Math.min(127, Math.round(level)));
  }

  get audioLevel(): number {
    return this.o.audioLevel;
  }

  /**
   * Audio level (-dBov, 127 silence) and Opus payload bytes from the next
   * packet on: lets a talk schedule switch a speaker between talking and silence.
   */
  setAudio(level: number, bytes: number = this.o.audioBytes): void {
    this.audioLevel = level;
    this.o.audioBytes = bytes;
  }

  /** Starts sending (a keyframe first). */
  start(): void {
    if (this.timer) return;
    const now = performance.now();
    this.nextAudioMs = now;
    this.nextVideoMs = now;
    this.timer = setInterval(() => this.tick(), 2);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = performance.now();
    // Far behind (a stalled event loop): skip ahead instead of bursting.
    if (now - this.nextAudioMs > 500) this.nextAudioMs = now;
    if (now - this.nextVideoMs > 500) this.nextVideoMs = now;
    if (this.o.audio) {
      while (now >= this.nextAudioMs) {
        this.sendAudio();
        this.nextAudioMs += this.o.audioPtimeMs;
      }
    }
    if (this.o.video) {
      while (now >= this.nextVideoMs) {
        this.sendFrame(now);
        this.nextVideoMs += 1000 / this.o.fps;
      }
    }
  }

  /** RTP header + one-byte extensions (RFC 8285); returns the payload offset. */
  private header(pt: number, marker: boolean, seq: number, ts: number, ssrc: number, audio: boolean): number {
    const b = this.pkt;
    b[0] = 0x90; // V=2, X=1
    b[1] = (marker ? 0x80 : 0) | pt;
    b.writeUInt16BE(seq & 0xffff, 2);
    b.writeUInt32BE(ts >>> 0, 4);
    b.writeUInt32BE(ssrc >>> 0, 8);
    b.writeUInt16BE(0xbede, 12);
    const tw = this.twSeq++ & 0xffff;
    if (audio) {
      b.writeUInt16BE(2, 14); // 8 bytes of elements
      b[16] = (PUB_EXT_ID.audioLevel << 4) | 0;
      // V bit (voice activity) only when the level says someone speaks.
      b[17] = (this.o.audioLevel < 60 ? 0x80 : 0) | (this.o.audioLevel & 0x7f);
      b[18] = (PUB_EXT_ID.transportCc << 4) | 1;
      b.writeUInt16BE(tw, 19);
      b.fill(0, 21, 24);
      return 24;
    }
    b.writeUInt16BE(1, 14);
    b[16] = (PUB_EXT_ID.transportCc << 4) | 1;
    b.writeUInt16BE(tw, 17);
    b[19] = 0;
    return 20;
  }

  private stamp(end: number, seq: number): void {
    this.pkt.writeBigUInt64BE(process.hrtime.bigint(), end - STAMP_BYTES);
    this.pkt.writeUInt32BE(seq >>> 0, end - 4);
  }

  private sendAudio(): void {
    const p = this.header(OPUS_PT, false, this.audioSeq, this.audioTs, this.audioSsrc, true);
    const len = Math.max(this.o.audioBytes, STAMP_BYTES + 1);
    this.pkt[p] = 0x78; // Opus TOC: SILK-WB 20 ms, mono
    this.pkt.fill(0x55, p + 1, p + len - STAMP_BYTES);
    this.stamp(p + len, this.audioStampSeq++);
    if (this.conn.sendRtp(this.pkt, p + len)) {
      this.stats.audioPackets++;
      this.stats.bytes += p + len;
    }
    this.audioSeq = (this.audioSeq + 1) & 0xffff;
    this.audioTs = (this.audioTs + 48 * this.o.audioPtimeMs) >>> 0;
  }

  private sendFrame(now: number): void {
    const o = this.o;
    const periodic = now - this.lastKeyframeMs >= o.keyframeIntervalS * 1000;
    if (periodic) this.lastKeyframeMs = now;
    for (const layer of this.layers) {
      const key = periodic || layer.keyframeRequested;
      layer.keyframeRequested = false;
      if (key) this.stats.keyframes++;
      this.sendLayerFrame(layer, key);
    }
    this.stats.videoFrames++;
    this.videoTs = (this.videoTs + Math.round(90000 / o.fps)) >>> 0;
  }

  private sendLayerFrame(layer: VideoLayer, key: boolean): void {
    const o = this.o;
    const frameBytes = Math.round(((o.videoKbps * layer.share * 125) / o.fps) * (key ? o.keyframeScale : 1));
    const packets = Math.max(1, Math.ceil(frameBytes / o.maxPayload));
    const perPacket = Math.max(Math.ceil(frameBytes / packets), 4 + 10 + STAMP_BYTES + 1);
    const pid = layer.pictureId;
    const top = this.layers[this.layers.length - 1];
    for (let i = 0; i < packets; i++) {
      const p = this.header(VP8_PT, i === packets - 1, layer.seq, this.videoTs, layer.ssrc, false);
      const b = this.pkt;
      // VP8 payload descriptor (RFC 7741 4.2): X=1, S on the first packet, PID 0; I=1 with a 15-bit picture id.
      b[p] = 0x80 | (i === 0 ? 0x10 : 0);
      b[p + 1] = 0x80;
      b[p + 2] = 0x80 | (pid >> 8);
      b[p + 3] = pid & 0xff;
      let q = p + 4;
      if (i === 0) {
        if (key) {
          // Frame tag with P=0 (key frame), show_frame; start code 9d 01 2a; the layer's size.
          b.set([0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a], q);
          b.set(layer.size, q + 6);
          q += 10;
        } else {
          b.set([0x11, 0x00, 0x00], q); // P=1: inter frame
          q += 3;
        }
      }
      const end = p + perPacket;
      b.fill(0xaa, q, end - STAMP_BYTES);
      this.stamp(end, layer.stampBase + layer.stampCount);
      layer.stampCount = (layer.stampCount + 1) % STAMP_LAYER_UNIT;
      if (this.conn.sendRtp(b, end)) {
        this.stats.videoPackets++;
        if (layer === top) this.stats.topLayerVideoPackets++;
        this.stats.bytes += end;
      }
      layer.seq = (layer.seq + 1) & 0xffff;
    }
    layer.pictureId = (layer.pictureId + 1) & 0x7fff;
  }

  private onRtcp(buf: Buffer, len: number): void {
    let off = 0;
    while (off + 4 <= len) {
      const fmt = buf[off]! & 0x1f;
      const pt = buf[off + 1]!;
      const size = (buf.readUInt16BE(off + 2) + 1) * 4;
      if (pt === 206 && (fmt === 1 || fmt === 4) && off + 12 <= len) {
        this.stats.keyframeRequests++;
        const now = performance.now();
        // PLI names the stream in its media SSRC, FIR in its first FCI entry.
        const ssrc = fmt === 1 ? buf.readUInt32BE(off + 8) : off + 16 <= len ? buf.readUInt32BE(off + 12) : 0;
        const layer = this.layers.find((l) => l.ssrc === ssrc);
        if (layer && this.o.answerKeyframeRequests && now - layer.lastKeyframeRequestMs >= 100) {
          layer.lastKeyframeRequestMs = now;
          layer.keyframeRequested = true;
        }
      } else if (pt === 205 && fmt === 1) this.stats.nacks++;
      else if (pt === 205 && fmt === 15) this.stats.twccFeedback++;
      else if (pt === 201) this.stats.receiverReports++;
      off += size;
    }
  }
}

/** True when a decrypted RTP packet starts a VP8 key frame (RFC 7741 4.2/4.3). */
export function isVp8KeyframeStart(buf: Buffer, len: number): boolean {
  let off = 12 + 4 * (buf[0]! & 0x0f);
  if (buf[0]! & 0x10) off += 4 + 4 * buf.readUInt16BE(off + 2);
  if (off >= len) return false;
  const b0 = buf[off++]!;
  if (!(b0 & 0x10) || (b0 & 0x07) !== 0) return false; // S=1 and PID=0
  if (b0 & 0x80) {
    const x = buf[off++]!;
    if (x & 0x80) off += buf[off]! & 0x80 ? 2 : 1;
    if (x & 0x40) off++;
    if (x & 0x30) off++;
  }
  return off < len && (buf[off]! & 0x01) === 0;
}

/**
 * What a sink saw of one incoming stream, keyed by the SSRC the server sends
 * with (plus layer x 2^32 for simulcast layers above the lowest, read from the
 * stamp, so a layer switch starts a stream instead of faking loss).
 */
export interface StreamState {
  kind: 'audio' | 'video';
  /** Packets received. */
  received: number;
  /** Highest bench sequence seen, and the first one. */
  highest: number;
  first: number;
  /** Packets whose bench sequence was not above the highest (reordered or duplicated). */
  late: number;
  /**
   * Packets expected in earlier stretches of this stream: a subscriber that
   * moves between simulcast layers and comes back starts a new stretch at
   * `first` (the gap was another layer's time, not loss).
   */
  closedExpected: number;
}

export interface MediaSinkOptions {
  /** One-way latency (us) of every received packet goes here. */
  latency: Histogram;
  /**
   * Decrypt and read the stamp (latency, loss by stamp sequence). When false,
   * only the clear RTP header is read: loss by RTP sequence (servers keep it
   * continuous per stream), no latency. Default true.
   */
  decrypt?: boolean;
  /**
   * With `decrypt: false`: also decrypt every K-th packet of this sink and
   * record its stamp's latency, so a cheap sink still yields a latency
   * histogram (loss stays counted from every packet's clear header). SRTP
   * index estimation tolerates the gaps (far below 2^15 packets). 0: never.
   */
  latencySample?: number;
  /** Ready once video arrived from this many distinct streams (default 1). */
  videoStreams?: number;
  /** Ready within this time, or the sink fails. */
  timeoutMs?: number;
  /** What makes the sink ready: video from `videoStreams` streams (default) or its first packet of any kind (audio-only rooms). */
  readyOn?: 'video' | 'media';
}

/** performance.now() (ms) at each step of a join; 0 until it happens. */
export interface JoinTimes {
  start: number;
  joined: number;
  connected: number;
  firstRtp: number;
  firstVideo: number;
  /** The first video packet that starts a VP8 key frame (decodable video; decrypting sinks only). */
  firstKeyframe: number;
  /** Video from every expected stream (`videoStreams`). */
  allVideo: number;
}

export class MediaSink {
  readonly times: JoinTimes = { start: performance.now(), joined: 0, connected: 0, firstRtp: 0, firstVideo: 0, firstKeyframe: 0, allVideo: 0 };
  readonly streams = new Map<number, StreamState>();
  packets = 0;
  bytes = 0;
  error: Error | undefined;
  /** Resolves once video arrived from `videoStreams` streams; rejects on failure or timeout. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private readyTimer: NodeJS.Timeout | undefined;
  private videoStreamsSeen = 0;
  /** RTP sequence state per SSRC the server sends with, for receiver reports. */
  private readonly rtpStreams = new Map<number, { base: number; extHighest: number; received: number; priorExpected: number; priorReceived: number }>();
  private readonly rrSsrc = randomBytes(4).readUInt32BE() || 3;
  private rrTimer: NodeJS.Timeout | undefined;
  /**
   * Transport-wide feedback, as browsers send it: the server's answer or
   * offer names the extension id (0: not negotiated, none sent). Arrival
   * times are read from the (unencrypted) RTP header of every packet.
   */
  private twccExtId = 0;
  private readonly twcc = new TwccRecorder();
  private readonly twccView = new RtpView();
  private readonly twccOut: TwccPacket[] = [];
  private readonly rtcpOut = Buffer.alloc(1500);
  private twccTimer: NodeJS.Timeout | undefined;
  private mediaSsrc = 0;
  private readonly videoSsrcs = new Set<number>();
  /** The stream (layer) each server SSRC carried last: a change is a layer switch. */
  private readonly layerOnSsrc = new Map<number, number>();
  private readonly wantVideoStreams: number;
  private readonly readyOnMedia: boolean;
  private readonly streamWaiters: { n: number; resolve: () => void }[] = [];
  /** Payload types that carry audio (from the server's offers; Opus 111 until one is read). */
  private readonly audioPts = new Set<number>([OPUS_PT]);
  private readonly latency: Histogram;

  constructor(opts: MediaSinkOptions) {
    this.latency = opts.latency;
    this.wantVideoStreams = opts.videoStreams ?? 1;
    this.readyOnMedia = opts.readyOn === 'media';
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // observed through `error` too
    const timeoutMs = opts.timeoutMs ?? 30_000;
    this.readyTimer = setTimeout(() => this.fail(new Error(`video from ${this.videoStreamsSeen} of ${this.wantVideoStreams} streams within ${timeoutMs} ms`)), timeoutMs);
    this.decrypt = opts.decrypt ?? true;
    this.latencySample = Math.max(0, Math.floor(opts.latencySample ?? 0));
  }

  private readonly decrypt: boolean;
  private readonly latencySample: number;
  /** Packets until the next sampled decryption. */
  private sampleCountdown = 1;

  /** Reads media from `conn` (decrypting or header-only, as configured). */
  attach(conn: RtcConnection): void {
    if (this.decrypt) conn.onRtp = (buf, len) => this.onRtp(buf, len);
    else if (this.latencySample > 0) conn.onSrtpRaw = (buf, len) => this.onSrtpSampled(conn, buf, len);
    else conn.onSrtpRaw = (buf, len) => this.onSrtpHeader(buf, len);
    // Receiver reports once a second, as browsers send them: without any
    // feedback a server's bandwidth estimate stays at its start value.
    this.rrTimer = setInterval(() => this.sendReceiverReport(conn), RR_INTERVAL_MS);
    this.rrTimer.unref();
    // And transport-wide feedback, as browsers do when it is negotiated: a
    // server that gets none has no delay-based estimate of this sink.
    this.twccTimer = setInterval(() => this.sendTransportFeedback(conn), TWCC_INTERVAL_MS);
    this.twccTimer.unref();
  }

  /**
   * Records the arrival of one RTP packet (plain, or SRTP with `encrypted`:
   * the header is in the clear) that carries a transport-wide number.
   */
  private noteTransportSeq(buf: Buffer, len: number, encrypted = false): void {
    if (this.twccExtId === 0) return;
    const view = this.twccView;
    // An SRTP packet's padding count is in its encrypted tail: read the clear
    // header as unpadded (the P bit is put back at once), or about one padded
    // packet in 256 would fail the count's check and read as lost.
    const b0 = buf[0]!;
    if (encrypted) buf[0] = b0 & ~0x20;
    const ok = view.reset(buf, 0, len);
    buf[0] = b0;
    if (!ok) return;
    const p = view.findExtension(this.twccExtId);
    if (p < 0) return;
    this.twcc.onPacket(readTransportWideSeq(buf, p, view.extValueLength), performance.now());
    if (this.mediaSsrc === 0) this.mediaSsrc = view.ssrc;
  }

  private sendTransportFeedback(conn: RtcConnection): void {
    if (!this.twcc.hasPending) return;
    const out = this.twccOut;
    out.length = 0;
    this.twcc.buildFeedback(this.rrSsrc, this.mediaSsrc, out);
    for (const fb of out) conn.sendRtcp(this.rtcpOut, writeRtcp(fb, this.rtcpOut, 0));
  }

  /** Per RTP stream: extended highest sequence number and packets received (RFC 3550 6.4.1 and A.3). */
  private noteRtpSeq(ssrc: number, seq16: number): void {
    const r = this.rtpStreams.get(ssrc);
    if (!r) {
      this.rtpStreams.set(ssrc, { base: seq16, extHighest: seq16, received: 1, priorExpected: 0, priorReceived: 0 });
      return;
    }
    r.received++;
    const d = (seq16 - (r.extHighest & 0xffff)) & 0xffff;
    if (d !== 0 && d < 0x8000) r.extHighest += d;
  }

  private sendReceiverReport(conn: RtcConnection): void {
    const blocks = [...this.rtpStreams].slice(0, 31);
    if (blocks.length === 0) return;
    const len = 8 + 24 * blocks.length;
    const b = Buffer.alloc(len);
    b[0] = 0x80 | blocks.length;
    b[1] = 201;
    b.writeUInt16BE(len / 4 - 1, 2);
    b.writeUInt32BE(this.rrSsrc, 4);
    let off = 8;
    for (const [ssrc, r] of blocks) {
      const expected = r.extHighest - r.base + 1;
      const expectedInterval = expected - r.priorExpected;
      const lostInterval = expectedInterval - (r.received - r.priorReceived);
      r.priorExpected = expected;
      r.priorReceived = r.received;
      const fraction = expectedInterval > 0 && lostInterval > 0 ? Math.min(255, Math.floor((lostInterval * 256) / expectedInterval)) : 0;
      const cumulative = Math.max(0, Math.min(0x7fffff, expected - r.received));
      b.writeUInt32BE(ssrc, off);
      b.writeUInt32BE(((fraction << 24) | cumulative) >>> 0, off + 4);
      b.writeUInt32BE(r.extHighest >>> 0, off + 8);
      // Jitter, LSR and DLSR stay 0: the sink does not track them.
      off += 24;
    }
    conn.sendRtcp(b, len);
  }

  /** Learns which payload types are audio from an offer or answer the server sent. */
  learnPayloadTypes(desc: ParsedSessionDescription): void {
    for (const s of desc.sections) {
      const tcc = s.extensions.find((e) => e.uri === EXT.transportCc);
      if (tcc) this.twccExtId = tcc.id;
      if (s.kind !== 'audio') continue;
      for (const c of s.codecs) this.audioPts.add(c.payloadType);
    }
  }

  /** Distinct video streams received so far. */
  get videoStreams(): number {
    return this.videoStreamsSeen;
  }

  /** Resolves once video arrived from `n` distinct streams; rejects after `timeoutMs`. */
  waitVideoStreams(n: number, timeoutMs: number): Promise<void> {
    if (this.videoStreamsSeen >= n) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.streamWaiters.indexOf(w);
        if (i >= 0) this.streamWaiters.splice(i, 1);
        reject(new Error(`video from ${this.videoStreamsSeen} of ${n} streams within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.streamWaiters.push(w);
    });
  }

  private onRtp(buf: Buffer, len: number): void {
    if (len < 12) return;
    this.noteTransportSeq(buf, len);
    // Probes count for receiver reports (they use the stream's sequence numbers) ...
    this.noteRtpSeq(buf.readUInt32BE(8), buf.readUInt16BE(2));
    // ... but padding-only packets (P bit) carry no stamp.
    if ((buf[0]! & 0x20) !== 0) return;
    // Media packets end with the stamp (servers pad nothing they forward).
    if (len < 12 + STAMP_BYTES) return;
    const sent = buf.readBigUInt64BE(len - STAMP_BYTES);
    const seq = buf.readUInt32BE(len - 4);
    const latencyUs = Number(process.hrtime.bigint() - sent) / 1000;
    this.latency.record(latencyUs);
    this.packets++;
    this.bytes += len;
    const ssrc = buf.readUInt32BE(8);
    const audio = this.audioPts.has(buf[1]! & 0x7f);
    if (this.times.firstKeyframe === 0 && !audio && isVp8KeyframeStart(buf, len)) {
      this.times.firstKeyframe = performance.now();
    }
    // A simulcast layer above the lowest is a stream of its own (see STAMP_LAYER_UNIT).
    const key = seq < STAMP_LAYER_UNIT ? ssrc : ssrc + Math.floor(seq / STAMP_LAYER_UNIT) * 2 ** 32;
    const st = this.streams.get(key);
    const from = this.layerOnSsrc.get(ssrc);
    if (from !== key) this.layerOnSsrc.set(ssrc, key);
    if (!st) {
      this.newStream(key, ssrc, audio ? 'audio' : 'video', seq);
      return;
    }
    if (from !== key) {
      // Back on a layer after time on another: what it published meanwhile was never due here.
      st.closedExpected += st.highest - st.first + 1;
      st.first = st.highest = seq;
      st.received++;
      return;
    }
    if (seq > st.highest) st.highest = seq;
    else st.late++;
    st.received++;
  }

  /** Header-only accounting: RTP sequence numbers extended over wraps. */
  private onSrtpHeader(buf: Buffer, len: number): void {
    if (len < 12) return;
    this.noteTransportSeq(buf, len, true);
    this.packets++;
    this.bytes += len;
    const seq = buf.readUInt16BE(2);
    const ssrc = buf.readUInt32BE(8);
    this.noteRtpSeq(ssrc, seq);
    const st = this.streams.get(ssrc);
    if (!st) {
      this.newStream(ssrc, ssrc, this.audioPts.has(buf[1]! & 0x7f) ? 'audio' : 'video', seq);
      return;
    }
    const d = (seq - st.highest) & 0xffff;
    if (d !== 0 && d < 0x8000) st.highest += d;
    else st.late++;
    st.received++;
  }

  /** Header accounting for every packet; every `latencySample`-th media packet is decrypted for its stamp. */
  private onSrtpSampled(conn: RtcConnection, buf: Buffer, len: number): void {
    this.onSrtpHeader(buf, len);
    // Padding-only probes carry no stamp: the next packet is sampled instead.
    if (--this.sampleCountdown > 0 || len < 12 || (buf[0]! & 0x20) !== 0) return;
    this.sampleCountdown = this.latencySample;
    const n = conn.unprotectRtp(buf, len);
    if (n < 12 + STAMP_BYTES) return;
    this.latency.record(Number(process.hrtime.bigint() - buf.readBigUInt64BE(n - STAMP_BYTES)) / 1000);
  }

  private newStream(key: number, ssrc: number, kind: 'audio' | 'video', seq: number): void {
    this.streams.set(key, { kind, received: 1, highest: seq, first: seq, late: 0, closedExpected: 0 });
    if (this.times.firstRtp === 0) this.times.firstRtp = performance.now();
    if (this.readyOnMedia && this.times.allVideo === 0 && !this.error) {
      // Audio-only rooms: the first packet of any kind is the join's end (`allVideo` keeps its name).
      this.times.allVideo = performance.now();
      clearTimeout(this.readyTimer);
      this.resolveReady();
    }
    if (kind === 'video' && !this.videoSsrcs.has(ssrc)) {
      this.videoSsrcs.add(ssrc);
      if (this.times.firstVideo === 0) this.times.firstVideo = performance.now();
      this.videoStreamsSeen++;
      this.checkReady();
      for (let i = this.streamWaiters.length - 1; i >= 0; i--) {
        const w = this.streamWaiters[i]!;
        if (this.videoStreamsSeen >= w.n) {
          this.streamWaiters.splice(i, 1);
          w.resolve();
        }
      }
    }
  }

  private checkReady(): void {
    if (this.times.allVideo !== 0 || this.error || this.videoStreamsSeen < this.wantVideoStreams) return;
    this.times.allVideo = performance.now();
    clearTimeout(this.readyTimer);
    this.resolveReady();
  }

  /** Sum over streams: packets expected from the sequence range, and received. */
  counters(): { expected: number; received: number } {
    let expected = 0;
    let received = 0;
    for (const st of this.streams.values()) {
      expected += st.closedExpected + st.highest - st.first + 1;
      received += st.received;
    }
    return { expected, received };
  }

  /** Records the first failure; `ready` rejects unless it already resolved. */
  fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    clearTimeout(this.readyTimer);
    this.rejectReady(err);
  }

  close(): void {
    clearTimeout(this.readyTimer);
    clearInterval(this.rrTimer);
    clearInterval(this.twccTimer);
    if (this.times.allVideo === 0) this.fail(new Error('closed'));
  }
}
