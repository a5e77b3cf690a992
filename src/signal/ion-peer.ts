/**
 * One ion-sfu participant: the `SignalSession` behind one `/ws` socket.
 *
 * Two transports, as ion-sfu has two PeerConnections (reference/ion-sfu-
 * protocol.md 1.4): the publisher, where the client offers and sfud
 * answers and receives; the subscriber, where sfud offers the other members'
 * tracks plus the `ion-sfu` data channel, debounced 250 ms, at most one offer
 * outstanding.
 *
 * Ingress: publisher RTP is routed to its producer by SSRC (learned from the
 * SDP, or from the MID header extension on first sight). Egress: one
 * consumer per (other member's producer), writing to the subscriber
 * transport. Subscriber RTCP (PLI/FIR) reaches the producer, which asks the
 * publisher for a keyframe at most every 500 ms.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { RtpView } from '../rtp/rtp.js';
import { RtcpCursor, RtcpType, PsfbFmt, RtpfbFmt, decodeRtcpAt, writeRtcp, type RtcpPacket } from '../rtp/rtcp/index.js';
import { u16 } from '../rtp/rtcp/header.js';
import { msToCompactNtp, rttMs } from '../rtp/rtcp/ntp.js';
import { DownlinkController, Priority, type DownlinkSnapshot, type DownlinkTrack } from '../bwe/downlink.js';
import { RembEstimator, TwccRecorder, unwrapRtx, type KeyframeRequestKind } from '../rtp/feedback/index.js';
import { readAudioLevelByte, readSdesString, readTransportWideSeq, EXT_URI } from '../rtp/extensions.js';
import { NTP_UNIX_OFFSET_MS } from '../rtp/rtcp/ntp.js';
import type { ReportBlock, SenderReportPacket, TwccPacket } from '../rtp/rtcp/index.js';
import { codecKindFromMimeType } from '../rtp/codecs/index.js';
import { Producer, type EncodingOptions, type ProducerEncoding, type RouterCodec } from '../router/producer.js';
import { Consumer, type PreferredLayers } from '../router/consumer.js';
import { layerName } from '../simulcast/layer-selector.js';
import type { Room, RoomMember, RoomRegistry, SpeakerDecision } from '../router/room.js';
import { selectLastN } from '../speaker/ranking.js';
import type { WebRtcServer } from '../transport/webrtc-server.js';
import type { WebRtcTransport } from '../transport/webrtc-transport.js';
import type { DataChannel } from '../sctp/index.js';
import {
  ROUTER_CAPABILITIES,
  createPublisherAnswer,
  createSubscriberOffer,
  parseSessionDescription,
  parseSubscriberAnswer,
  type NegotiatedSection,
  type SubscriberOfferInput,
  type SubscriberSection,
} from './sdp/index.js';
import type {
  AnswerDescription,
  IceCandidateInit,
  JoinParams,
  OfferDescription,
  SignalNotifier,
  SignalSession,
  TrickleTarget,
} from './jsonrpc/types.js';
import { SfuError } from '../errors.js';
import type { Logger } from '../logger.js';
import { observeReportBlocks, type LinkQualitySink } from '../metrics/link-quality.js';

export const API_CHANNEL_LABEL = 'ion-sfu';
/** ion-sfu's layer names (data channel `video`, `framerate`, `layers`). */
const LAYER_BY_NAME: ReadonlyMap<unknown, number> = new Map([
  ['low', 0],
  ['medium', 1],
  ['high', 2],
]);
const MAX_SPATIAL = 2;
const NEGOTIATION_DEBOUNCE_MS = 250;
/**
 * Subscriber TWCC feedback limits. Statuses: 4096 is 0.4 s of a 10,000
 * packets/s downlink (libwebrtc reports every 50-250 ms). Packets per tick
 * (~20 ms): libwebrtc sends one or two per interval.
 */
const TWCC_MAX_STATUSES = 4096;
const TWCC_PER_TICK = 8;
/** Bytes a fan-out channel toward one subscriber may hold unsent before messages to it are dropped. */
const FANOUT_MAX_BUFFERED = 1024 * 1024;
/** RTCP cadence (DESIGN.md "RTCP"): reports every second, TWCC feedback every 100 ms. */
const REPORT_INTERVAL_MS = 1000;
const TWCC_INTERVAL_MS = 100;
/** Our RTCP sender SSRC toward publishers (RFC 4585 allows any; 1 is what ion-sfu's pion stack uses too). */
const RTCP_SENDER_SSRC = 1;
/** Extensions forwarded to subscribers: per-hop ones (mid, rid, transport-cc) are not. */
const FORWARDED_EXTENSIONS = new Set<string>([
  EXT_URI.audioLevel,
  EXT_URI.absSendTime,
  EXT_URI.videoOrientation,
  EXT_URI.playoutDelay,
  // The subscriber's decoder builds its frame graph from it (the consumer rewrites it: see Consumer.ddRewrite).
  EXT_URI.dependencyDescriptor,
]);

export interface IonPeerOptions {
  rooms: RoomRegistry;
  server: WebRtcServer;
  notify: SignalNotifier;
  logger: Logger;
  /** Data channels the client may open on its publisher connection; more are closed at once. Default: no limit. */
  maxDataChannels?: number;
  /** A limit refused something (counted by the caller). */
  onRefusal?: (reason: 'tooManyDataChannels') => void;
  /** Receives loss/jitter/RTT of report blocks in both directions (metrics). */
  quality?: LinkQualitySink;
}

/** Where a publisher SSRC goes: a producer's encoding, as media or as its RTX stream. */
interface Route {
  producer: Producer;
  encoding: ProducerEncoding;
  rtx: boolean;
}

/** One outgoing track on the subscriber connection (an m-line we keep in place). */
interface Subscription {
  mid: string;
  producer: Producer;
  ssrc: number;
  /** Video: the RTX SSRC offered with it (0 for audio). */
  rtxSsrc: number;
  consumer: Consumer | undefined;
  active: boolean;
  /** Stops listening for the producer's close (a live producer must not keep a departed subscriber). */
  unwatch: () => void;
}

export class IonPeer implements SignalSession, RoomMember {
  readonly id = randomUUID();
  uid = '';
  private room: Room | undefined;
  private readonly opts: IonPeerOptions;
  private log: Logger;
  /** The peer's logger with its ids, for its transports (they add their own subsystem tag). */
  private peerLog: Logger;
  private pub: WebRtcTransport | undefined;
  private sub: WebRtcTransport | undefined;
  private readonly _producers: Producer[] = [];
  /** Publisher SSRC -> producer encoding (media or RTX), from the SDP or learned from MID/RID extensions. */
  private readonly routes = new Map<number, Route>();
  private readonly producerByMid = new Map<string, Producer>();
  private pubMidExtId = 0;
  private pubRidExtId = 0;
  private pubRepairedRidExtId = 0;
  private pubAudioLevelExtId = 0;
  /** RTX (RFC 4588) from publishers: per producer, RTX PT -> primary PT. */
  private readonly rtxPrimaryPt = new Map<Producer, Map<number, number>>();
  private readonly subscriptions: Subscription[] = [];
  private readonly consumerBySsrc = new Map<number, Consumer>();
  /** Packets and bytes of subscriptions that ended. */
  private readonly egressEnded = { packets: 0, bytes: 0 };
  private nextMid = 1;
  private readonly subSessionId = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
  private subSessionVersion = 0;
  private negotiateTimer: NodeJS.Timeout | undefined;
  private offerOutstanding = false;
  private negotiationPending = false;
  private api: DataChannel | undefined;
  private readonly apiQueue: string[] = [];
  private noAutoSubscribe = false;
  /** Data channels the client opened on its publisher connection (for the limit). */
  private channelsOpened = 0;
  private closed = false;
  private readonly view = new RtpView();
  private readonly rtcp = new RtcpCursor({ allowInnerPadding: true });
  private readonly rtcpOut = Buffer.alloc(1500);
  private readonly nackSeqs: number[] = [];
  /** Publisher transport-wide-cc id (0: TWCC not negotiated, REMB instead). */
  private twccExtId = 0;
  private readonly twcc = new TwccRecorder();
  private readonly remb = new RembEstimator();
  private lastReportMs = 0;
  private lastTwccMs = 0;
  /** The subscriber link: estimate, allocation, probing (transport-cc stamps come from its history). */
  private readonly downlink = new DownlinkController();
  private readonly downlinkTracks: DownlinkTrack[] = [];
  /** This subscriber's own last-N (overrides the room's; undefined: the room's) and pinned streams. */
  private lastNOverride: number | undefined;
  private pinned: ReadonlySet<string> = new Set();
  private lastDominantNotified: string | null | undefined;
  /** Quiet audio of streams outside the loudest-K, dropped before decryption (and one in 50 let through). */
  readonly speakerStats = { decryptionsSkipped: 0, decryptionsSkippedBytes: 0 };
  private gateCounter = 0;
  /**
   * What passed SRTP (or SCTP) but nothing here could use, by reason
   * (metrics: `sfud_drops_total{stage="peer"}`): RTP whose decrypted header
   * is malformed (padding past the payload), RTP of an SSRC no producer
   * claims, RTX that cannot be restored, RTCP compounds whose walk stopped
   * early (what came before the bad packet was still used), subscriber
   * transport-wide feedback claiming more statuses than TWCC_MAX_STATUSES
   * or arriving faster than TWCC_PER_TICK per tick, `ion-sfu`
   * channel messages that are not API JSON, and fan-out messages a
   * subscriber's channel could not take (buffer full or over its size limit).
   */
  readonly drops = {
    rtpMalformed: 0,
    unknownSsrc: 0,
    rtxUnrestorable: 0,
    rtcpMalformed: 0,
    twccTooLarge: 0,
    twccRateLimited: 0,
    apiMalformed: 0,
    fanoutDropped: 0,
  };
  /** Subscriber TWCC feedback packets decoded since the last tick. */
  private twccThisTick = 0;
  readonly rtcpStats = {
    nacksSent: 0,
    nackedSeqs: 0,
    receiverReports: 0,
    senderReports: 0,
    twccFeedback: 0,
    remb: 0,
    nacksReceived: 0,
    retransmitted: 0,
    /** RTX packets restored and taken by their producer, and their restored bytes. */
    rtxReceived: 0,
    rtxBytes: 0,
    pliSent: 0,
    firSent: 0,
    pliReceived: 0,
    firReceived: 0,
    /** SRs from the publisher; RRs/SRs from the subscriber. */
    senderReportsReceived: 0,
    reportsReceived: 0,
  };

  constructor(opts: IonPeerOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.peerLog = opts.logger;
  }

  get producers(): readonly Producer[] {
    return this._producers;
  }

  // ---- SignalSession ----

  /**
   * ion-sfu's JoinConfig is honoured: NoPublish makes no publisher connection
   * (the offer is ignored and the result is null), NoSubscribe no subscriber
   * connection (no offers, no `ion-sfu` channel, no tracks), NoAutoSubscribe
   * a subscriber connection that is offered no tracks.
   */
  async join(p: JoinParams): Promise<AnswerDescription | null> {
    if (this.closed) throw new SfuError('ERR_SFUD_CLOSED', 'peer closed');
    const offer = p.config.noPublish ? undefined : parseSessionDescription(p.offer.sdp);
    this.uid = p.uid || randomUUID();
    this.noAutoSubscribe = p.config.noAutoSubscribe;
    this.peerLog = this.opts.logger.child({ sid: p.sid, uid: this.uid });
    this.log = this.peerLog.child({ sub: 'peer' });
    const answer = offer && this.openPublisher(offer);
    if (!p.config.noSubscribe) this.openSubscriber();

    const room = this.opts.rooms.getOrCreate(p.sid);
    this.room = room;
    room.join(this);
    if (answer) this.applyPublisherSections(answer.sections);
    if (this.sub && !this.noAutoSubscribe) for (const producer of room.producersFor(this)) this.subscribe(producer);
    // The first subscriber offer always goes out: it carries the ion-sfu data channel.
    if (this.sub) this.scheduleNegotiation();
    this.log.info({ tracks: this._producers.length, publisher: !!answer, subscriber: !!this.sub }, 'joined');
    return answer ? { type: 'answer', sdp: answer.sdp } : null;
  }

  private openPublisher(offer: ReturnType<typeof parseSessionDescription>): ReturnType<typeof createPublisherAnswer> {
    const pub = this.opts.server.createWebRtcTransport({ enableSctp: true, appData: { role: 'publisher', uid: this.uid }, logger: this.peerLog });
    let answer: ReturnType<typeof createPublisherAnswer>;
    try {
      answer = createPublisherAnswer(offer, this.localDescription(pub));
      if (!answer.transport) throw new SfuError('ERR_SFUD_SDP', 'the offer has no usable transport parameters');
      pub.connect({
        dtlsParameters: answer.transport.dtlsParameters,
        iceUsernameFragment: answer.transport.iceUsernameFragment,
        sctp: answer.transport.sctp,
      });
    } catch (err) {
      pub.close('join failed');
      throw new SfuError('ERR_SFUD_SDP', `setting remote description: ${(err as Error).message}`, { cause: err });
    }
    this.pub = pub;
    pub.rtpGate = (buf, len) => this.gatePublisherRtp(buf, len);
    pub.onRtp = (buf, len) => this.onPublisherRtp(buf, len);
    pub.onRtcp = (buf, len) => this.onPublisherRtcp(buf, len);
    pub.on('datachannel', (ch) => this.onPublisherChannel(ch));
    pub.on('close', (reason) => this.log.debug({ reason }, 'publisher transport closed'));
    return answer;
  }

  private openSubscriber(): void {
    const sub = this.opts.server.createWebRtcTransport({ enableSctp: true, appData: { role: 'subscriber', uid: this.uid }, logger: this.peerLog });
    this.sub = sub;
    sub.onRtcp = (buf, len) => this.onSubscriberRtcp(buf, len);
    sub.on('dtlsstatechange', (state) => {
      if (state !== 'connected') return;
      this.openApiChannel();
      // Consumers asked for a keyframe when the answer arrived, possibly long
      // before the subscriber could receive it: ask again now that it can.
      for (const s of this.subscriptions) s.consumer?.requestKeyframe();
    });
  }

  async offer(desc: OfferDescription): Promise<AnswerDescription> {
    const pub = this.pub;
    if (!pub || this.closed) throw new SfuError('ERR_SFUD_STATE', 'no rtc transport exists for this Peer');
    const offer = parseSessionDescription(desc.sdp);
    let answer: ReturnType<typeof createPublisherAnswer>;
    try {
      answer = createPublisherAnswer(offer, this.localDescription(pub));
    } catch (err) {
      throw new SfuError('ERR_SFUD_SDP', `setting remote description: ${(err as Error).message}`, { cause: err });
    }
    this.applyPublisherSections(answer.sections);
    return { type: 'answer', sdp: answer.sdp };
  }

  async answer(desc: AnswerDescription): Promise<void> {
    const sub = this.sub;
    if (!sub || this.closed) throw new SfuError('ERR_SFUD_STATE', 'no rtc transport exists for this Peer');
    if (!this.offerOutstanding) throw new SfuError('ERR_SFUD_STATE', 'setting remote description: no offer outstanding');
    const offered = this.lastOffer;
    if (!offered) throw new SfuError('ERR_SFUD_STATE', 'setting remote description: no offer outstanding');
    let parsed: ReturnType<typeof parseSubscriberAnswer>;
    try {
      parsed = parseSubscriberAnswer(desc.sdp, offered);
    } catch (err) {
      throw new SfuError('ERR_SFUD_SDP', `setting remote description: ${(err as Error).message}`, { cause: err });
    }
    this.offerOutstanding = false;
    if (sub.dtlsState === 'new') {
      sub.connect({ dtlsParameters: parsed.dtlsParameters, iceUsernameFragment: parsed.ice.usernameFragment, sctp: parsed.sctp });
    }
    for (const s of parsed.sections) {
      const subn = this.subscriptions.find((x) => x.mid === s.mid);
      if (!subn || !subn.active) continue;
      if (!s.accepted) {
        this.endSubscription(subn);
        continue;
      }
      if (!subn.consumer) this.startConsumer(subn, s.payloadTypes, s.extensions, s.rtxPayloadTypes);
    }
    if (this.negotiationPending) {
      this.negotiationPending = false;
      this.scheduleNegotiation();
    }
  }

  async trickle(target: TrickleTarget, candidate: IceCandidateInit): Promise<void> {
    if (!(target === 0 ? this.pub : this.sub)) throw new SfuError('ERR_SFUD_STATE', 'no rtc transport exists for this Peer');
    // sfud is ICE-lite: the client's checks reach it without its candidates.
    // They are validated (by the signalling layer) and otherwise not needed.
    void candidate;
  }

  downlinkStats(): DownlinkSnapshot {
    return this.downlink.snapshot();
  }

  egressStats(): { packets: number; bytes: number } {
    let packets = this.egressEnded.packets;
    let bytes = this.egressEnded.bytes;
    for (const s of this.subscriptions) {
      if (!s.consumer) continue;
      packets += s.consumer.stats.packets;
      bytes += s.consumer.stats.bytes;
    }
    return { packets, bytes };
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    // Closing the socket calls close() again, which the flag above makes a no-op.
    if (reason) this.opts.notify.close(reason);
    clearTimeout(this.negotiateTimer);
    // Through its 'close' listener a publisher that stays would keep this peer (transports and all) alive.
    for (const s of this.subscriptions) {
      s.consumer?.close();
      s.unwatch();
    }
    for (const p of this._producers) {
      p.close();
      this.room?.producerRemoved(p);
    }
    this.downlink.close();
    this.pub?.close('peer left');
    this.sub?.close('peer left');
    this.room?.leave(this);
    this.log.info('left');
  }

  // ---- publisher side ----

  private localDescription(t: WebRtcTransport) {
    const fp = t.dtlsParameters.fingerprints[0]!;
    return {
      ice: { usernameFragment: t.iceParameters.usernameFragment, password: t.iceParameters.password },
      candidates: t.iceCandidates,
      fingerprint: { algorithm: fp.algorithm, value: fp.value },
    };
  }

  /** Creates producers for new accepted media sections; closes those the client removed. */
  private applyPublisherSections(sections: readonly NegotiatedSection[]): void {
    for (const s of sections) {
      if (s.kind === 'application') continue;
      if (s.kind !== 'audio' && s.kind !== 'video') continue;
        for (const [id, uri] of Object.entries(s.extensions)) {
        if (uri === EXT_URI.mid) this.pubMidExtId = Number(id);
        if (uri === EXT_URI.rid) this.pubRidExtId = Number(id);
        if (uri === EXT_URI.audioLevel) this.pubAudioLevelExtId = Number(id);
        if (uri === EXT_URI.repairedRid) this.pubRepairedRidExtId = Number(id);
        if (uri === EXT_URI.transportWideCc && s.feedback.transportCc) this.twccExtId = Number(id);
      }
      const existing = this.producerByMid.get(s.mid);
      const sending = s.accepted && s.codecs.length > 0;
      if (existing && (!sending || existing.trackId !== (s.msid?.trackId ?? existing.trackId))) this.removeProducer(existing);
      if (!sending || this.producerByMid.get(s.mid)) continue;
      this.addProducer(s);
    }
  }

  private addProducer(s: NegotiatedSection): void {
    const codecs: RouterCodec[] = [];
    for (const c of s.codecs) {
      const kind = codecKindFromMimeType(c.capability.mimeType);
      if (!kind) continue;
      codecs.push({
        payloadType: c.payloadType,
        kind,
        mimeType: c.capability.mimeType,
        clockRate: c.capability.clockRate,
        channels: c.capability.channels,
        parameters: c.parameters,
        rtxPayloadType: c.rtxPayloadType,
      });
    }
    if (codecs.length === 0) return;
    const extIdOf = (uri: string): number => Number(Object.entries(s.extensions).find(([, u]) => u === uri)?.[0] ?? 0);
    const encodings = publisherEncodings(s);
    const msid = s.msid ?? s.ssrcs.find((x) => x.msid)?.msid;
    const producer = new Producer({
      kind: s.kind as 'audio' | 'video',
      streamId: msid?.streamId ?? `stream-${this.uid}`,
      trackId: msid?.trackId ?? `${s.kind}-${s.mid}`,
      mid: s.mid,
      codecs,
      encodings,
      extensionIds: {
        audioLevel: extIdOf(EXT_URI.audioLevel),
        transportWideCc: extIdOf(EXT_URI.transportWideCc),
        mid: extIdOf(EXT_URI.mid),
        rid: extIdOf(EXT_URI.rid),
        repairedRid: extIdOf(EXT_URI.repairedRid),
        dependencyDescriptor: extIdOf(EXT_URI.dependencyDescriptor),
      },
      feedback: { pli: s.feedback.pli, fir: s.feedback.fir },
      appData: { extensions: s.extensions, feedback: s.feedback },
      requestKeyframe: (_producer, enc, kind) => this.sendKeyframe(enc, kind),
      requestRetransmission: (_producer, enc, seqs) => this.sendNack(enc, seqs),
    });
    this._producers.push(producer);
    this.producerByMid.set(s.mid, producer);
    this.rtxPrimaryPt.set(producer, new Map(Object.entries(s.rtx).map(([rtx, primary]) => [Number(rtx), primary])));
    for (const encoding of producer.encodings) {
      if (encoding.ssrc) this.routes.set(encoding.ssrc, { producer, encoding, rtx: false });
      if (encoding.rtxSsrc) this.routes.set(encoding.rtxSsrc, { producer, encoding, rtx: true });
    }
    this.log.debug(
      { mid: s.mid, kind: s.kind, encodings: producer.encodings.map((e) => e.rid ?? e.ssrc), streamId: producer.streamId },
      'producer added',
    );
    this.room?.producerAdded(this, producer);
  }

  private removeProducer(p: Producer): void {
    const i = this._producers.indexOf(p);
    if (i >= 0) this._producers.splice(i, 1);
    this.producerByMid.delete(p.mid);
    for (const [ssrc, r] of this.routes) if (r.producer === p) this.routes.delete(ssrc);
    this.rtxPrimaryPt.delete(p);
    p.close();
    this.room?.producerRemoved(p);
  }

  private onPublisherRtp(buf: Buffer, len: number): void {
    const view = this.view;
    if (!view.reset(buf, 0, len)) {
      this.drops.rtpMalformed++;
      return;
    }
    const now = performance.now();
    const route = this.routes.get(view.ssrc) ?? this.learnRoute(view);
    if (!route) {
      this.drops.unknownSsrc++;
      return;
    }
    if (route.rtx) {
      // A retransmission we asked for: restore the original packet in place (RFC 4588 4).
      const primaryPt = this.rtxPrimaryPt.get(route.producer)?.get(view.payloadType);
      if (primaryPt === undefined || route.encoding.ssrc === 0) {
        this.drops.rtxUnrestorable++;
        return;
      }
      const n = unwrapRtx(buf, 0, len, route.encoding.ssrc, primaryPt);
      if (n < 0 || !view.reset(buf, 0, n)) {
        this.drops.rtxUnrestorable++;
        return;
      }
      // Counted only when the producer took it, so metrics can tell first transmissions from repairs.
      const before = route.producer.stats.packets;
      route.producer.receive(view, n, now, route.encoding.index);
      if (route.producer.stats.packets !== before) {
        this.rtcpStats.rtxReceived++;
        this.rtcpStats.rtxBytes += n;
      }
      return;
    }
    route.producer.receive(view, len, now, route.encoding.index);
  }

  /**
   * Before decryption (the header is in clear): congestion-control arrival
   * records for every packet the publisher numbered (RTX and probing padding
   * included: a probe reported lost stops its ramp-up; a packet dropped here
   * still arrived), then loudest-K: quiet audio of a stream outside the
   * loudest set is dropped undecrypted. One in 50 goes through anyway so the
   * SRTP rollover state never falls 2^15 packets behind, and any loud packet
   * does, so the stream can become loud again on authenticated levels.
   */
  private gatePublisherRtp(buf: Buffer, len: number): boolean {
    const view = this.view;
    if (!view.reset(buf, 0, len)) return true;
    if (this.twccExtId > 0) {
      const p = view.findExtension(this.twccExtId);
      if (p >= 0) this.twcc.onPacket(readTransportWideSeq(buf, p, view.extValueLength), performance.now());
    } else this.remb.onPacket(len, performance.now());
    const route = this.routes.get(view.ssrc);
    if (!route || route.rtx || route.producer.audioSelected || route.producer.kind !== 'audio') return true;
    const levelId = this.pubAudioLevelExtId;
    const at = levelId > 0 ? view.findExtension(levelId) : -1;
    const level = at < 0 ? -1 : readAudioLevelByte(buf, at, view.extValueLength) & 0x7f;
    const quiet = level < 0 || level > (this.room?.ranking.quietLevel ?? 127);
    if (!quiet || ++this.gateCounter % 50 === 0) return true;
    this.speakerStats.decryptionsSkipped++;
    this.speakerStats.decryptionsSkippedBytes += len;
    return false;
  }

  /**
   * An SSRC the SDP did not name: find its producer by the MID extension and
   * its encoding by the RID (or, for RTX, repaired RID) extension, once
   * (RFC 8843 9.2, RFC 8852). A single-encoding producer without a=ssrc
   * takes the first SSRC that names its MID.
   */
  private learnRoute(view: RtpView): Route | undefined {
    if (this.pubMidExtId === 0) return undefined;
    const buf = view.buf;
    const at = view.findExtension(this.pubMidExtId);
    const mid = at < 0 ? null : readSdesString(buf, at, view.extValueLength);
    const producer = mid === null ? undefined : this.producerByMid.get(mid);
    if (!producer) return undefined;
    let encoding: ProducerEncoding | undefined;
    let rtx = false;
    const ridAt = this.pubRidExtId > 0 ? view.findExtension(this.pubRidExtId) : -1;
    const rrAt = ridAt < 0 && this.pubRepairedRidExtId > 0 ? view.findExtension(this.pubRepairedRidExtId) : -1;
    if (ridAt >= 0 || rrAt >= 0) {
      const rid = readSdesString(buf, ridAt >= 0 ? ridAt : rrAt, view.extValueLength);
      encoding = producer.encodings.find((e) => e.rid !== undefined && e.rid === rid);
      rtx = rrAt >= 0;
    }
    if (!encoding && producer.encodings.length === 1 && !this.rtxPrimaryPt.get(producer)?.has(view.payloadType)) {
      encoding = producer.encodings[0];
    }
    if (!encoding) return undefined;
    if (rtx) {
      if (encoding.rtxSsrc !== 0) return undefined;
      encoding.rtxSsrc = view.ssrc;
    } else {
      if (encoding.ssrc !== 0) return undefined;
      encoding.ssrc = view.ssrc;
    }
    const route: Route = { producer, encoding, rtx };
    this.routes.set(view.ssrc, route);
    return route;
  }

  /** A generic NACK (RFC 4585 6.2.1) to the publisher for `seqs` of `enc`. */
  private sendNack(enc: ProducerEncoding, seqs: readonly number[]): void {
    const pub = this.pub;
    if (!pub || enc.ssrc === 0 || pub.dtlsState !== 'connected') return;
    const len = writeRtcp({ type: 'nack', senderSsrc: RTCP_SENDER_SSRC, mediaSsrc: enc.ssrc, lost: [...seqs] }, this.rtcpOut, 0);
    if (pub.sendRtcp(this.rtcpOut, 0, len)) {
      this.rtcpStats.nacksSent++;
      this.rtcpStats.nackedSeqs += seqs.length;
    }
  }

  /** Writes and sends the PLI or FIR a producer encoding's throttle let through. */
  private sendKeyframe(enc: ProducerEncoding, kind: KeyframeRequestKind): void {
    const pub = this.pub;
    const mediaSsrc = enc.ssrc;
    if (!pub || mediaSsrc === 0) return;
    const pkt: RtcpPacket =
      kind === 'pli'
        ? { type: 'pli', senderSsrc: RTCP_SENDER_SSRC, mediaSsrc }
        : { type: 'fir', senderSsrc: RTCP_SENDER_SSRC, mediaSsrc: 0, entries: [{ ssrc: mediaSsrc, seqNr: enc.keyframe.firSeqNr }] };
    const n = writeRtcp(pkt, this.rtcpOut, 0);
    if (pub.sendRtcp(this.rtcpOut, 0, n)) this.rtcpStats[kind === 'pli' ? 'pliSent' : 'firSent']++;
  }

  private onPublisherChannel(ch: DataChannel): void {
    // ion-sdk-js opens `ion-sfu` on the publisher only to get an m=application; ion-sfu drops it.
    if (ch.label === API_CHANNEL_LABEL) return;
    if (++this.channelsOpened > (this.opts.maxDataChannels ?? Infinity)) {
      this.opts.onRefusal?.('tooManyDataChannels');
      this.log.debug({ label: ch.label }, 'data channel over the limit, closed');
      ch.close();
      return;
    }
    ch.on('message', (data) => this.room?.fanout(this, ch.label, data));
    this.room?.addFanoutLabel(this, ch.label);
  }

  // ---- subscriber side ----

  /**
   * The room's speaker decision: the last-N set (this subscriber's override,
   * else the room's; pinned streams and screen shares always in) decides
   * which video consumers run; under last-N everyone but the dominant
   * speaker is capped at the room's layer. Also tells the client of a new
   * dominant speaker over JSON-RPC (the data channel got it from the room).
   */
  onSpeakerDecision(d: SpeakerDecision): void {
    if (this.closed) return;
    if (d.dominant !== this.lastDominantNotified && d.dominant !== null) {
      this.lastDominantNotified = d.dominant;
      this.opts.notify.event('dominantSpeaker', { streamId: d.dominant });
    }
    const n = this.lastNOverride ?? d.lastN;
    let selected: Set<string> | undefined;
    if (n !== undefined) {
      const own = new Set(this._producers.map((p) => p.streamId));
      const always = new Set([...this.pinned, ...d.screens]);
      selected = selectLastN(d.order, n, own, always);
    }
    for (const s of this.subscriptions) {
      const c = s.consumer;
      if (!c || c.kind !== 'video') continue;
      const id = s.producer.streamId;
      if (!selected) c.setPolicy(false, MAX_SPATIAL);
      else c.setPolicy(!selected.has(id), id === d.dominant || this.pinned.has(id) ? MAX_SPATIAL : d.othersMaxLayer);
    }
  }

  /** This subscriber's last-N (undefined: the room's) and pinned streams; applied at the next decision. */
  setLastN(n: number | undefined, pinned?: readonly string[]): void {
    this.lastNOverride = n === undefined ? undefined : Math.max(0, Math.trunc(n));
    if (pinned) this.pinned = new Set(pinned.slice(0, 64));
  }

  onProducerAdded(producer: Producer): void {
    if (this.closed || this.noAutoSubscribe || !this.sub) return;
    this.subscribe(producer);
    this.scheduleNegotiation();
  }

  private subscribe(producer: Producer): void {
    if (this.subscriptions.some((s) => s.producer === producer && s.active)) return;
    const onClose = (): void => {
      this.endSubscription(subn);
      this.scheduleNegotiation();
    };
    const subn: Subscription = {
      mid: String(this.nextMid++),
      producer,
      ssrc: randomBytes(4).readUInt32BE() >>> 0 || 1,
      rtxSsrc: producer.kind === 'video' ? randomBytes(4).readUInt32BE() >>> 0 || 2 : 0,
      consumer: undefined,
      active: true,
      unwatch: () => producer.off('close', onClose),
    };
    this.subscriptions.push(subn);
    producer.once('close', onClose);
  }

  private endSubscription(s: Subscription): void {
    if (!s.active) return;
    s.active = false;
    s.unwatch();
    if (s.consumer) {
      // Keep what it sent: egress counters only grow (room stats, per-peer metrics).
      this.egressEnded.packets += s.consumer.stats.packets;
      this.egressEnded.bytes += s.consumer.stats.bytes;
      this.consumerBySsrc.delete(s.consumer.ssrc);
      s.consumer.close();
      s.consumer = undefined;
    }
  }

  private startConsumer(s: Subscription, acceptedPts: readonly number[], extensions: Record<number, string>, acceptedRtxPts: readonly number[]): void {
    const sub = this.sub;
    if (!sub) return;
    const payloadTypes = new Map<number, number>();
    const rtxPayloadTypes = new Map<number, number>();
    for (const c of s.producer.codecs) {
      const routerPt = this.routerPayloadType(c);
      if (routerPt === undefined || !acceptedPts.includes(routerPt)) continue;
      payloadTypes.set(c.payloadType, routerPt);
      const rtxPt = ROUTER_CAPABILITIES.codecs.find((x) => x.payloadType === routerPt)?.rtxPayloadType;
      if (rtxPt !== undefined && acceptedRtxPts.includes(rtxPt)) rtxPayloadTypes.set(routerPt, rtxPt);
    }
    const rtx = s.rtxSsrc !== 0 && rtxPayloadTypes.size > 0 ? { ssrc: s.rtxSsrc, payloadTypes: rtxPayloadTypes } : undefined;
    const pubExt = (s.producer.appData.extensions ?? {}) as Record<number, string>;
    const extensionIds = new Map<number, number>();
    for (const [id, uri] of Object.entries(pubExt)) {
      const to = Object.entries(extensions).find(([, u]) => u === uri)?.[0];
      if (to !== undefined && FORWARDED_EXTENSIONS.has(uri)) extensionIds.set(Number(id), Number(to));
    }
    // Transport-wide cc: the publisher's slot carries our own sequence number to the subscriber.
    const subTwcc = Number(Object.entries(extensions).find(([, u]) => u === EXT_URI.transportWideCc)?.[0] ?? 0);
    const pubTwcc = Number(Object.entries(pubExt).find(([, u]) => u === EXT_URI.transportWideCc)?.[0] ?? 0);
    let transportCc: { history: DownlinkController['history']; extId: number; insert: boolean } | undefined;
    if (subTwcc > 0 && subTwcc <= 14) {
      // A publisher without transport-cc leaves no slot: the consumer adds one (ConsumerOptions.transportCc).
      if (pubTwcc > 0) extensionIds.set(pubTwcc, subTwcc);
      transportCc = { history: this.downlink.history, extId: subTwcc, insert: pubTwcc === 0 };
    }
    const consumer = new Consumer({ producer: s.producer, sink: sub, ssrc: s.ssrc, payloadTypes, extensionIds, transportCc, rtx, pacer: this.downlink.pacer });
    const track: DownlinkTrack = { consumer, priority: s.producer.kind === 'audio' ? Priority.Audio : Priority.Video };
    this.downlinkTracks.push(track);
    consumer.once('close', () => {
      const i = this.downlinkTracks.indexOf(track);
      if (i >= 0) this.downlinkTracks.splice(i, 1);
    });
    s.consumer = consumer;
    if (s.producer.simulcast || s.producer.svc) {
      // The subscriber learns which layer it gets whenever that changes (ion-sfu `activeLayer`).
      consumer.on('layerchange', (layer) => {
        if (layer >= 0) this.sendActiveLayer(s.producer.streamId, layer, consumer.availableLayers());
      });
    }
    this.consumerBySsrc.set(s.ssrc, consumer);
  }

  /** The router-space payload type (our subscriber offers) of a producer codec. */
  private routerPayloadType(c: RouterCodec): number | undefined {
    return ROUTER_CAPABILITIES.codecs.find(
      (cap) => cap.mimeType.toLowerCase() === c.mimeType.toLowerCase() && cap.clockRate === c.clockRate && sameProfile(cap.parameters, c.parameters),
    )?.payloadType;
  }

  private onSubscriberRtcp(buf: Buffer, len: number): void {
    const cur = this.rtcp.reset(buf, 0, len);
    const now = performance.now();
    while (cur.next()) {
      if (cur.type === RtcpType.RTPFB && cur.fmt === RtpfbFmt.NACK) {
        this.onSubscriberNack(buf, cur.offset, cur.payloadEnd, cur.mediaSsrc);
        continue;
      }
      if (cur.type === RtcpType.RTPFB && cur.fmt === RtpfbFmt.TWCC) {
        // Decoding costs a few objects per status and a 40-byte packet can claim 65535 of them
        // (5 ms of CPU): refuse what no real feedback interval needs, and more packets than a
        // subscriber sends between two ticks.
        if (cur.payloadEnd - cur.offset >= 16 && u16(buf, cur.offset + 14) > TWCC_MAX_STATUSES) {
          this.drops.twccTooLarge++;
          continue;
        }
        if (++this.twccThisTick > TWCC_PER_TICK) {
          this.drops.twccRateLimited++;
          continue;
        }
        const fb = decodeRtcpAt(cur);
        if (fb?.type === 'twcc') this.downlink.onTransportFeedback(fb, now);
        continue;
      }
      if (cur.type === RtcpType.RR || cur.type === RtcpType.SR) {
        this.rtcpStats.reportsReceived++;
        if (this.opts.quality) observeReportBlocks(buf, cur, this.consumerBySsrc, this.opts.quality);
        this.onSubscriberReport(cur, now);
        continue;
      }
      if (cur.type !== RtcpType.PSFB) continue;
      if (cur.fmt === PsfbFmt.AFB) {
        // REMB counts only while the subscriber gives no transport-wide feedback (the estimator decides).
        const remb = decodeRtcpAt(cur);
        if (remb?.type === 'remb') this.downlink.onRemb(remb.bitrate, now);
        continue;
      }
      const fmt = cur.fmt;
      if (fmt === PsfbFmt.PLI) {
        this.rtcpStats.pliReceived++;
        this.consumerBySsrc.get(cur.mediaSsrc)?.requestKeyframe();
      } else if (fmt === PsfbFmt.FIR && cur.length >= 20) {
        this.rtcpStats.firReceived++;
        // FIR names the SSRC in its FCI entry (RFC 5104 4.3.1), not in the media SSRC field.
        this.consumerBySsrc.get(buf.readUInt32BE(cur.offset + 12))?.requestKeyframe();
      }
    }
    if (cur.error !== null) this.drops.rtcpMalformed++;
  }

  /**
   * The subscriber's receiver report blocks about our streams: loss and RTT
   * (from LSR/DLSR of our sender reports) for the loss-based fallback when
   * no transport-wide feedback comes.
   */
  private onSubscriberReport(cur: RtcpCursor, now: number): void {
    const pkt = decodeRtcpAt(cur);
    if (!pkt || (pkt.type !== 'rr' && pkt.type !== 'sr')) return;
    let worst = -1;
    let rtt: number | undefined;
    for (const b of pkt.reports) {
      if (!this.consumerBySsrc.has(b.ssrc)) continue;
      worst = Math.max(worst, b.fractionLost);
      if (b.lsr !== 0) rtt = rttMs(msToCompactNtp(Date.now() + NTP_UNIX_OFFSET_MS), b.lsr, b.dlsr);
    }
    // Always: the RTT counts in every mode, the loss only while no transport-wide feedback comes.
    if (worst >= 0) this.downlink.onReceiverReport(worst, rtt, now);
  }

  /** Generic NACK (RFC 4585 6.2.1): PID + BLP pairs after the 12-byte header; served from the store. */
  private onSubscriberNack(buf: Buffer, offset: number, end: number, mediaSsrc: number): void {
    const consumer = this.consumerBySsrc.get(mediaSsrc);
    this.rtcpStats.nacksReceived++;
    if (!consumer) return;
    const rtt = this.downlink.estimator.roundTripMs;
    for (let p = offset + 12; p + 4 <= end; p += 4) {
      const pid = buf.readUInt16BE(p);
      const blp = buf.readUInt16BE(p + 2);
      if (consumer.retransmit(pid, rtt)) this.rtcpStats.retransmitted++;
      for (let i = 0; i < 16; i++) {
        if (blp & (1 << i) && consumer.retransmit((pid + i + 1) & 0xffff, rtt)) this.rtcpStats.retransmitted++;
      }
    }
  }

  /** Publisher SRs give receiver reports their LSR/DLSR; nothing of the publisher's RTCP is forwarded. */
  private onPublisherRtcp(buf: Buffer, len: number): void {
    const cur = this.rtcp.reset(buf, 0, len);
    while (cur.next()) {
      if (cur.type !== RtcpType.SR || cur.length < 28) continue;
      this.rtcpStats.senderReportsReceived++;
      const route = this.routes.get(cur.senderSsrc);
      if (!route || route.rtx) continue;
      // RFC 3550 6.4.1: NTP seconds, fraction, then the RTP timestamp of the same instant.
      const o = cur.offset;
      route.producer.onSenderReport(route.encoding.index, buf.readUInt32BE(o + 8), buf.readUInt32BE(o + 12), buf.readUInt32BE(o + 16), performance.now());
    }
    if (cur.error !== null) this.drops.rtcpMalformed++;
  }

  /**
   * Called every ~20 ms by the SFU's shared RTCP timer: NACKs toward the
   * publisher (and a keyframe request when a gap is given up), and on their
   * own cadences TWCC/REMB feedback, receiver reports to the publisher and
   * sender reports + SDES to the subscriber.
   */
  tick(now: number): void {
    this.twccThisTick = 0;
    if (!this.closed && this.sub?.dtlsState === 'connected') {
      // The subscriber link: estimate, allocation (the dominant speaker first), probes.
      const speaker = this.room?.dominantSpeakerStreamId;
      for (const t of this.downlinkTracks) {
        if (t.consumer.kind === 'video') t.priority = t.consumer.producer.streamId === speaker ? Priority.Speaker : Priority.Video;
      }
      this.downlink.tick(now, this.downlinkTracks);
    }
    const pub = this.pub;
    if (!pub && !this.closed && now - this.lastReportMs >= REPORT_INTERVAL_MS) {
      // A NoPublish viewer: only the subscriber's sender reports.
      this.lastReportMs = now;
      this.sendSenderReports(now);
    }
    if (this.closed || !pub || pub.dtlsState !== 'connected') return;
    for (const p of this._producers) {
      // Keyframe requests that fell inside the throttle window are owed, not dropped.
      p.flushKeyframeRequests(now);
      for (const enc of p.encodings) {
        const nack = enc.nack;
        if (!nack || enc.ssrc === 0) continue;
        const n = nack.collect(now, 50, this.nackSeqs);
        if (n > 0) this.sendNack(enc, this.nackSeqs.slice(0, n));
        if (nack.keyframeNeeded) {
          nack.keyframeNeeded = false;
          p.requestKeyframe(enc.layer, now);
        }
      }
    }
    if (now - this.lastTwccMs >= TWCC_INTERVAL_MS) {
      this.lastTwccMs = now;
      this.sendCongestionFeedback(pub, now);
    }
    if (now - this.lastReportMs >= REPORT_INTERVAL_MS) {
      this.lastReportMs = now;
      this.sendReceiverReports(pub, now);
      this.sendSenderReports(now);
    }
  }

  private sendCongestionFeedback(pub: WebRtcTransport, now: number): void {
    const media = this._producers[0];
    if (!media) return;
    if (this.twccExtId > 0) {
      if (!this.twcc.hasPending) return;
      const packets: TwccPacket[] = [];
      this.twcc.buildFeedback(RTCP_SENDER_SSRC, media.ssrc, packets);
      for (const fb of packets) {
        const len = writeRtcp(fb, this.rtcpOut, 0);
        if (pub.sendRtcp(this.rtcpOut, 0, len)) this.rtcpStats.twccFeedback++;
      }
      return;
    }
    const bitrate = this.remb.value(now);
    if (bitrate < 0) return;
    const ssrcs = this._producers.flatMap((p) => p.encodings.map((e) => e.ssrc)).filter((x) => x !== 0);
    const len = writeRtcp({ type: 'remb', senderSsrc: RTCP_SENDER_SSRC, bitrate, ssrcs }, this.rtcpOut, 0);
    if (pub.sendRtcp(this.rtcpOut, 0, len)) this.rtcpStats.remb++;
  }

  private sendReceiverReports(pub: WebRtcTransport, now: number): void {
    const reports: ReportBlock[] = [];
    for (const p of this._producers) {
      for (const enc of p.encodings) {
        const block: ReportBlock = { ssrc: 0, fractionLost: 0, totalLost: 0, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };
        if (enc.ssrc !== 0 && enc.receiveStats.writeReportBlock(block, now)) {
          block.ssrc = enc.ssrc;
          reports.push(block);
          this.opts.quality?.ingress(p.kind, block.fractionLost / 256, block.jitter / p.currentCodec.clockRate);
        }
      }
    }
    // RFC 3550 6.4.2: at most 31 report blocks per RR.
    for (let i = 0; i < reports.length; i += 31) {
      const len = writeRtcp({ type: 'rr', ssrc: RTCP_SENDER_SSRC, reports: reports.slice(i, i + 31) }, this.rtcpOut, 0);
      if (pub.sendRtcp(this.rtcpOut, 0, len)) this.rtcpStats.receiverReports++;
    }
  }

  /** One compound per consumer: SR + SDES CNAME (RFC 3550 6.1 requires both in a compound). */
  private sendSenderReports(now: number): void {
    const sub = this.sub;
    if (!sub || sub.dtlsState !== 'connected') return;
    const ntpNowMs = Date.now() + NTP_UNIX_OFFSET_MS;
    for (const s of this.subscriptions) {
      const c = s.consumer;
      if (!c) continue;
      const sr: SenderReportPacket = { type: 'sr', ssrc: c.ssrc, ntpSec: 0, ntpFrac: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0, reports: [] };
      if (!c.writeSenderReport(now, ntpNowMs, sr)) continue;
      let len = writeRtcp(sr, this.rtcpOut, 0);
      len += writeRtcp({ type: 'sdes', chunks: [{ ssrc: c.ssrc, items: [{ type: 1, text: s.producer.streamId }] }] }, this.rtcpOut, len);
      if (sub.sendRtcp(this.rtcpOut, 0, len)) this.rtcpStats.senderReports++;
    }
  }

  private lastOffer: SubscriberOfferInput | undefined;

  private scheduleNegotiation(): void {
    if (this.closed) return;
    if (this.offerOutstanding) {
      this.negotiationPending = true;
      return;
    }
    clearTimeout(this.negotiateTimer);
    this.negotiateTimer = setTimeout(() => this.negotiate(), NEGOTIATION_DEBOUNCE_MS);
  }

  private negotiate(): void {
    const sub = this.sub;
    if (this.closed || !sub) return;
    if (this.offerOutstanding) {
      this.negotiationPending = true;
      return;
    }
    const sections: SubscriberSection[] = [{ kind: 'application', mid: '0' }];
    for (const s of this.subscriptions) {
      const p = s.producer;
      const codecs = [];
      for (const c of p.codecs) {
        const cap = ROUTER_CAPABILITIES.codecs.find((x) => x.payloadType === this.routerPayloadType(c));
        if (!cap) continue;
        // RTX toward subscribers (RFC 4588): see ConsumerOptions.rtx.
        if (p.kind === 'video' && cap.rtxPayloadType !== undefined) codecs.push({ payloadType: cap.payloadType, capability: cap, rtxPayloadType: cap.rtxPayloadType });
        else codecs.push({ payloadType: cap.payloadType, capability: cap });
      }
      const extensions: Record<number, string> = {};
      for (const e of ROUTER_CAPABILITIES.headerExtensions) {
        if (e.kind === p.kind && (FORWARDED_EXTENSIONS.has(e.uri) || e.uri === EXT_URI.transportWideCc)) extensions[e.id] = e.uri;
      }
      sections.push({
        kind: p.kind,
        mid: s.mid,
        codecs,
        extensions,
        ssrc: s.ssrc,
        ...(s.rtxSsrc !== 0 ? { rtxSsrc: s.rtxSsrc } : {}),
        cname: p.streamId,
        streamId: p.streamId,
        trackId: p.trackId,
        direction: s.active && codecs.length > 0 ? 'sendonly' : 'inactive',
      });
    }
    const fp = sub.dtlsParameters.fingerprints[0]!;
    const input: SubscriberOfferInput = {
      ice: { usernameFragment: sub.iceParameters.usernameFragment, password: sub.iceParameters.password },
      candidates: sub.iceCandidates,
      fingerprint: { algorithm: fp.algorithm, value: fp.value },
      sessionId: this.subSessionId,
      sessionVersion: ++this.subSessionVersion,
      sections,
    };
    const sdp = createSubscriberOffer(input);
    this.lastOffer = input;
    this.offerOutstanding = true;
    this.opts.notify.offer({ type: 'offer', sdp });
  }

  // ---- data channels ----

  private openApiChannel(): void {
    const sub = this.sub;
    if (!sub || this.api) return;
    const ch = sub.createDataChannel(API_CHANNEL_LABEL);
    this.api = ch;
    ch.on('open', () => {
      for (const m of this.apiQueue.splice(0)) ch.send(m);
      for (const label of this.pendingFanoutLabels.splice(0)) this.openFanout(label);
    });
    ch.on('message', (m) => this.onApiMessage(m));
  }

  /**
   * The `ion-sfu` channel (reference/ion-sfu-protocol.md 2.2): a subscriber's
   * preferences for one remote stream, or a publisher announcing the layers
   * it sends. Unparseable or unknown input is ignored, as ion-sfu does.
   */
  private onApiMessage(m: string | Buffer): void {
    if (typeof m !== 'string' || m.length > 4096) {
      this.drops.apiMalformed++;
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(m);
    } catch {
      this.drops.apiMalformed++;
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.drops.apiMalformed++;
      return;
    }
    const { streamId, video, audio, framerate, layers, method, params } = msg as Record<string, unknown>;
    if (method === 'lastN' && typeof params === 'object' && params !== null) {
      // sfud's addition: {"method":"lastN","params":{"n":3,"pinned":["streamId"]}}; n null = the room's.
      const { n, pinned } = params as { n?: unknown; pinned?: unknown };
      const ids = Array.isArray(pinned) ? pinned.filter((x): x is string => typeof x === 'string') : undefined;
      if (n === null || (typeof n === 'number' && Number.isFinite(n) && n >= 0)) this.setLastN(n ?? undefined, ids);
      return;
    }
    if (typeof streamId !== 'string') return;
    if (Array.isArray(layers) && layers.length > 0) {
      const announced = layers.map((l) => LAYER_BY_NAME.get(l)).filter((l): l is number => l !== undefined);
      if (announced.length > 0 && this._producers.some((p) => p.streamId === streamId)) this.room?.announceLayers(this, streamId, announced);
      return;
    }
    for (const s of this.subscriptions) {
      const c = s.consumer;
      if (!c || s.producer.streamId !== streamId || c.kind !== 'audio') continue;
      // ion-sfu: `audio` is a Go bool, so an absent key mutes.
      if (audio === true) c.resume();
      else c.pause();
    }
    const spatial = LAYER_BY_NAME.get(video);
    const temporal = LAYER_BY_NAME.get(framerate);
    if (video === 'none') this.setPreferredLayers(streamId, 'none');
    else if (spatial !== undefined || temporal !== undefined) {
      this.setPreferredLayers(streamId, { spatial: spatial ?? MAX_SPATIAL, temporal }, spatial === undefined);
    }
  }

  /**
   * Caps this subscriber's video of `streamId` (the library's and the HTTP
   * API's `setPreferredLayers`). `keepSpatial`: only the temporal cap changes.
   */
  setPreferredLayers(streamId: string, layers: PreferredLayers | 'none', keepSpatial = false): number {
    let n = 0;
    for (const s of this.subscriptions) {
      const c = s.consumer;
      if (!c || c.kind !== 'video' || s.producer.streamId !== streamId) continue;
      n++;
      if (layers === 'none') {
        c.pause();
        continue;
      }
      c.setPreferredLayers(keepSpatial ? { spatial: c.preferredLayers.spatial, temporal: layers.temporal } : layers);
      c.resume();
    }
    return n;
  }

  /** ion-sfu `UptrackLayersChange`: tell this subscriber which layer it will get of `streamId`. */
  onPublisherLayers(streamId: string, layers: readonly number[]): void {
    for (const s of this.subscriptions) {
      const c = s.consumer;
      if (!c || c.kind !== 'video' || s.producer.streamId !== streamId) continue;
      const cap = c.preferredLayers.spatial;
      const sorted = [...layers].sort((a, b) => a - b);
      const active = sorted.filter((l) => l <= cap).at(-1) ?? sorted[0]!;
      this.sendActiveLayer(streamId, active, sorted);
    }
  }

  private sendActiveLayer(streamId: string, layer: number, available: readonly number[]): void {
    this.sendApi(
      JSON.stringify({
        method: 'activeLayer',
        params: { streamId, activeLayer: layerName(layer), availableLayers: available.map((l) => layerName(l)) },
      }),
    );
  }

  sendApi(message: string): void {
    if (this.api?.readyState === 'open') this.api.send(message);
    else if (this.apiQueue.length < 16) this.apiQueue.push(message);
  }

  private readonly pendingFanoutLabels: string[] = [];
  private readonly fanoutOut = new Map<string, DataChannel>();

  onFanoutLabel(label: string): void {
    if (!this.sub) return;
    if (this.api?.readyState === 'open') this.openFanout(label);
    else this.pendingFanoutLabels.push(label);
  }

  private openFanout(label: string): void {
    if (this.fanoutOut.has(label) || !this.sub) return;
    this.fanoutOut.set(label, this.sub.createDataChannel(label));
  }

  onFanoutMessage(label: string, data: string | Buffer): void {
    const ch = this.fanoutOut.get(label);
    if (ch?.readyState !== 'open') return;
    // A publisher flooding faster than this subscriber's association drains
    // must not grow our memory without bound: past the cap, messages are dropped.
    if (ch.bufferedAmount > FANOUT_MAX_BUFFERED) {
      this.drops.fanoutDropped++;
      return;
    }
    try {
      ch.send(data);
    } catch {
      // Over this subscriber's a=max-message-size (the publisher's limit is ours, 256 KiB):
      // a throw here would also cut the fan-out to every member after this one.
      this.drops.fanoutDropped++;
    }
  }

  getStats(): Record<string, unknown> {
    return {
      uid: this.uid,
      publisher: this.pub?.getStats(),
      subscriber: this.sub?.getStats(),
      rtcp: this.rtcpStats,
      speaker: this.speakerStats,
      downlink: this.downlink.toJSON(),
      producers: this._producers.map((p) => p.getStats()),
      consumers: this.subscriptions.filter((s) => s.consumer).map((s) => s.consumer!.getStats()),
    };
  }
}

function sameProfile(cap: Record<string, string | number>, params: Record<string, string | number> | undefined): boolean {
  const p = params ?? {};
  for (const key of ['profile-id', 'profile-level-id']) {
    if (cap[key] === undefined) continue;
    const a = String(cap[key]).toLowerCase();
    const b = String(p[key] ?? (key === 'profile-id' ? '0' : '')).toLowerCase();
    // H264: compare profile (first two bytes), not level.
    if (key === 'profile-level-id' ? a.slice(0, 4) !== b.slice(0, 4) : a !== b) return false;
  }
  return true;
}

/**
 * The encodings a publisher m-section sends, lowest layer first where the
 * SDP says: rid-based simulcast (`a=simulcast:send` order, SSRCs learned
 * from the RID extension), SSRC-based (`a=ssrc-group:SIM`, each with its
 * FID partner), or one encoding (the first SSRC that is not an RTX one).
 */
function publisherEncodings(s: NegotiatedSection): EncodingOptions[] {
  const fid = new Map<number, number>();
  for (const g of s.ssrcGroups) if (g.semantics === 'FID' && g.ssrcs.length === 2) fid.set(g.ssrcs[0]!, g.ssrcs[1]!);
  if (s.simulcast && s.simulcast.recv.length > 1) {
    const out: EncodingOptions[] = [];
    for (const alts of s.simulcast.recv) {
      const rid = alts[0]?.rid;
      if (rid === undefined || out.some((e) => e.rid === rid)) continue;
      const params = s.rids.find((r) => r.id === rid)?.params ?? {};
      const num = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
      out.push({ ssrc: 0, rid, maxWidth: num(params['max-width']), maxHeight: num(params['max-height']) });
    }
    if (out.length > 1) return out;
  }
  const sim = s.ssrcGroups.find((g) => g.semantics === 'SIM' && g.ssrcs.length > 1);
  if (sim) return sim.ssrcs.map((ssrc) => ({ ssrc, rtxSsrc: fid.get(ssrc) }));
  const rtxSsrcs = new Set(fid.values());
  const ssrc = s.ssrcs.map((x) => x.ssrc).find((id) => !rtxSsrcs.has(id)) ?? 0;
  return [{ ssrc, rtxSsrc: fid.get(ssrc) }];
}
