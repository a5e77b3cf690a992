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
import { RtcpCursor, RtcpType, PsfbFmt, writeRtcp, type RtcpPacket } from '../rtp/rtcp/index.js';
import { KeyframeRequester, RembEstimator, TwccRecorder, unwrapRtx } from '../rtp/feedback/index.js';
import { readSdesString, readTransportWideSeq, EXT_URI } from '../rtp/extensions.js';
import { NTP_UNIX_OFFSET_MS } from '../rtp/rtcp/ntp.js';
import type { ReportBlock, SenderReportPacket, TwccPacket } from '../rtp/rtcp/index.js';
import { codecKindFromMimeType } from '../rtp/codecs/index.js';
import { Producer, type RouterCodec } from '../router/producer.js';
import { Consumer } from '../router/consumer.js';
import type { Room, RoomMember, RoomRegistry } from '../router/room.js';
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
const NEGOTIATION_DEBOUNCE_MS = 250;
/** RTCP cadence (DESIGN.md "RTCP"): reports every second, TWCC feedback every 100 ms. */
const REPORT_INTERVAL_MS = 1000;
const TWCC_INTERVAL_MS = 100;
/** Our RTCP sender SSRC toward publishers (RFC 4585 allows any; 1 is what ion-sfu's pion stack uses too). */
const RTCP_SENDER_SSRC = 1;
/** Extensions forwarded to subscribers: per-hop ones (mid, rid, transport-cc) are not. */
const FORWARDED_EXTENSIONS = new Set<string>([EXT_URI.audioLevel, EXT_URI.absSendTime, EXT_URI.videoOrientation, EXT_URI.playoutDelay]);

export interface IonPeerOptions {
  rooms: RoomRegistry;
  server: WebRtcServer;
  notify: SignalNotifier;
  logger: Logger;
  /** Receives loss/jitter/RTT of report blocks in both directions (metrics). */
  quality?: LinkQualitySink;
}

/** One outgoing track on the subscriber connection (an m-line we keep in place). */
interface Subscription {
  mid: string;
  producer: Producer;
  ssrc: number;
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
  private pub: WebRtcTransport | undefined;
  private sub: WebRtcTransport | undefined;
  private readonly _producers: Producer[] = [];
  private readonly producerBySsrc = new Map<number, Producer>();
  private readonly producerByMid = new Map<string, Producer>();
  /** SSRCs learned from the MID extension for producers whose SDP had no a=ssrc. */
  private readonly learnedSsrc = new Map<Producer, number>();
  private pubMidExtId = 0;
  /** RTX (RFC 4588) from publishers: RTX SSRC -> the producer it repairs, and RTX PT -> primary PT. */
  private readonly rtxProducerBySsrc = new Map<number, Producer>();
  private readonly rtxPrimaryPt = new Map<Producer, Map<number, number>>();
  private readonly keyframes = new Map<Producer, KeyframeRequester>();
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
  }

  get producers(): readonly Producer[] {
    return this._producers;
  }

  // ---- SignalSession ----

  async join(p: JoinParams): Promise<AnswerDescription> {
    if (this.closed) throw new SfuError('ERR_SFUD_CLOSED', 'peer closed');
    const offer = parseSessionDescription(p.offer.sdp);
    this.uid = p.uid || randomUUID();
    this.noAutoSubscribe = p.config.noAutoSubscribe;
    const peerLog = this.opts.logger.child({ sid: p.sid, uid: this.uid });
    this.log = peerLog.child({ sub: 'peer' });
    const server = this.opts.server;
    const pub = server.createWebRtcTransport({ enableSctp: true, appData: { role: 'publisher', uid: this.uid }, logger: peerLog });
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
    pub.onRtp = (buf, len) => this.onPublisherRtp(buf, len);
    pub.onRtcp = (buf, len) => this.onPublisherRtcp(buf, len);
    pub.on('datachannel', (ch) => this.onPublisherChannel(ch));
    pub.on('close', (reason) => this.log.debug({ reason }, 'publisher transport closed'));

    const sub = server.createWebRtcTransport({ enableSctp: true, appData: { role: 'subscriber', uid: this.uid }, logger: peerLog });
    this.sub = sub;
    sub.onRtcp = (buf, len) => this.onSubscriberRtcp(buf, len);
    sub.on('dtlsstatechange', (state) => {
      if (state !== 'connected') return;
      this.openApiChannel();
      // Consumers asked for a keyframe when the answer arrived, possibly long
      // before the subscriber could receive it: ask again now that it can.
      for (const s of this.subscriptions) s.consumer?.requestKeyframe();
    });

    const room = this.opts.rooms.getOrCreate(p.sid);
    this.room = room;
    room.join(this);
    this.applyPublisherSections(answer.sections);
    if (!this.noAutoSubscribe) for (const producer of room.producersFor(this)) this.subscribe(producer);
    // The first subscriber offer always goes out: it carries the ion-sfu data channel.
    this.scheduleNegotiation();
    this.log.info({ tracks: this._producers.length }, 'joined');
    return { type: 'answer', sdp: answer.sdp };
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
      if (!subn.consumer) this.startConsumer(subn, s.payloadTypes, s.extensions);
    }
    if (this.negotiationPending) {
      this.negotiationPending = false;
      this.scheduleNegotiation();
    }
  }

  async trickle(_target: TrickleTarget, candidate: IceCandidateInit): Promise<void> {
    // sfud is ICE-lite: the client's checks reach it without its candidates.
    // They are validated (by the signalling layer) and otherwise not needed.
    void candidate;
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
    // The primary SSRC: the first one that is not the second member of an FID (RTX) group.
    const rtxSsrcs = new Set(s.ssrcGroups.filter((g) => g.semantics === 'FID').map((g) => g.ssrcs[1]));
    const ssrc = s.ssrcs.map((x) => x.ssrc).find((id) => !rtxSsrcs.has(id)) ?? 0;
    const msid = s.msid ?? s.ssrcs.find((x) => x.msid)?.msid;
    const producer = new Producer({
      kind: s.kind as 'audio' | 'video',
      streamId: msid?.streamId ?? `stream-${this.uid}`,
      trackId: msid?.trackId ?? `${s.kind}-${s.mid}`,
      mid: s.mid,
      codecs,
      ssrc,
      extensionIds: {
        audioLevel: extIdOf(EXT_URI.audioLevel),
        transportWideCc: extIdOf(EXT_URI.transportWideCc),
        mid: extIdOf(EXT_URI.mid),
        rid: extIdOf(EXT_URI.rid),
      },
      appData: { extensions: s.extensions, feedback: s.feedback },
      requestKeyframe: (p) => this.sendKeyframeRequest(p),
    });
    this.keyframes.set(producer, new KeyframeRequester({ pli: s.feedback.pli, fir: s.feedback.fir }));
    this._producers.push(producer);
    this.producerByMid.set(s.mid, producer);
    const fid = s.ssrcGroups.find((g) => g.semantics === 'FID' && g.ssrcs[0] === ssrc);
    if (fid?.ssrcs[1] !== undefined) this.rtxProducerBySsrc.set(fid.ssrcs[1], producer);
    this.rtxPrimaryPt.set(producer, new Map(Object.entries(s.rtx).map(([rtx, primary]) => [Number(rtx), primary])));
    if (ssrc) this.producerBySsrc.set(ssrc, producer);
    this.log.debug({ mid: s.mid, kind: s.kind, ssrc, streamId: producer.streamId }, 'producer added');
    this.room?.producerAdded(this, producer);
  }

  private removeProducer(p: Producer): void {
    const i = this._producers.indexOf(p);
    if (i >= 0) this._producers.splice(i, 1);
    this.producerByMid.delete(p.mid);
    for (const [ssrc, x] of this.producerBySsrc) if (x === p) this.producerBySsrc.delete(ssrc);
    this.learnedSsrc.delete(p);
    for (const [ssrc, x] of this.rtxProducerBySsrc) if (x === p) this.rtxProducerBySsrc.delete(ssrc);
    this.rtxPrimaryPt.delete(p);
    this.keyframes.delete(p);
    p.close();
    this.room?.producerRemoved(p);
  }

  private onPublisherRtp(buf: Buffer, len: number): void {
    const view = this.view;
    if (!view.reset(buf, 0, len)) return;
    let producer = this.producerBySsrc.get(view.ssrc);
    if (!producer) {
      const repaired = this.rtxProducerBySsrc.get(view.ssrc);
      if (repaired) {
        // A retransmission we asked for: restore the original packet in place (RFC 4588 4).
        const primaryPt = this.rtxPrimaryPt.get(repaired)?.get(view.payloadType);
        if (primaryPt === undefined) return;
        const n = unwrapRtx(buf, 0, len, this.ssrcOf(repaired), primaryPt);
        if (n < 0 || !view.reset(buf, 0, n)) return;
        // Counted only when the producer took it, so metrics can tell first transmissions from repairs.
        const before = repaired.stats.packets;
        repaired.receive(view, n, performance.now());
        if (repaired.stats.packets !== before) {
          this.rtcpStats.rtxReceived++;
          this.rtcpStats.rtxBytes += n;
        }
        return;
      }
      // No a=ssrc for this stream: learn the SSRC from the MID extension once.
      if (this.pubMidExtId === 0) return;
      const p = view.findExtension(this.pubMidExtId);
      const mid = p < 0 ? null : readSdesString(buf, p, view.extValueLength);
      producer = mid === null ? undefined : this.producerByMid.get(mid);
      if (!producer || producer.ssrc !== 0) return;
      this.producerBySsrc.set(view.ssrc, producer);
      this.learnedSsrc.set(producer, view.ssrc);
    }
    const now = performance.now();
    if (this.twccExtId > 0) {
      const p = view.findExtension(this.twccExtId);
      if (p >= 0) this.twcc.onPacket(readTransportWideSeq(buf, p, view.extValueLength), now);
    } else this.remb.onPacket(len, now);
    producer.receive(view, len, now);
  }

  private sendKeyframeRequest(p: Producer): void {
    const kr = this.keyframes.get(p);
    if (kr) this.sendKeyframe(p, kr.request(performance.now()));
  }

  /** Writes and sends the PLI or FIR the requester let through (null: nothing now). */
  private sendKeyframe(p: Producer, kind: 'pli' | 'fir' | null): void {
    const pub = this.pub;
    const kr = this.keyframes.get(p);
    if (!kind || !pub || !kr) return;
    const mediaSsrc = this.ssrcOf(p);
    const pkt: RtcpPacket =
      kind === 'pli'
        ? { type: 'pli', senderSsrc: 1, mediaSsrc }
        : { type: 'fir', senderSsrc: 1, mediaSsrc: 0, entries: [{ ssrc: mediaSsrc, seqNr: kr.firSeqNr }] };
    const n = writeRtcp(pkt, this.rtcpOut, 0);
    if (pub.sendRtcp(this.rtcpOut, 0, n)) this.rtcpStats[kind === 'pli' ? 'pliSent' : 'firSent']++;
  }

  private onPublisherChannel(ch: DataChannel): void {
    // ion-sdk-js opens `ion-sfu` on the publisher only to get an m=application; ion-sfu drops it.
    if (ch.label === API_CHANNEL_LABEL) return;
    ch.on('message', (data) => this.room?.fanout(this, ch.label, data));
    this.room?.addFanoutLabel(this, ch.label);
  }

  // ---- subscriber side ----

  onProducerAdded(producer: Producer): void {
    if (this.closed || this.noAutoSubscribe) return;
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

  private startConsumer(s: Subscription, acceptedPts: readonly number[], extensions: Record<number, string>): void {
    const sub = this.sub;
    if (!sub) return;
    const payloadTypes = new Map<number, number>();
    for (const c of s.producer.codecs) {
      const routerPt = this.routerPayloadType(c);
      if (routerPt !== undefined && acceptedPts.includes(routerPt)) payloadTypes.set(c.payloadType, routerPt);
    }
    const pubExt = (s.producer.appData.extensions ?? {}) as Record<number, string>;
    const extensionIds = new Map<number, number>();
    for (const [id, uri] of Object.entries(pubExt)) {
      const to = Object.entries(extensions).find(([, u]) => u === uri)?.[0];
      if (to !== undefined && FORWARDED_EXTENSIONS.has(uri)) extensionIds.set(Number(id), Number(to));
    }
    const consumer = new Consumer({ producer: s.producer, sink: sub, ssrc: s.ssrc, payloadTypes, extensionIds });
    s.consumer = consumer;
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
    while (cur.next()) {
      if (cur.type === RtcpType.RTPFB && cur.fmt === 1) {
        this.onSubscriberNack(buf, cur.offset, cur.payloadEnd, cur.mediaSsrc);
        continue;
      }
      if (cur.type === RtcpType.RR || cur.type === RtcpType.SR) {
        this.rtcpStats.reportsReceived++;
        if (this.opts.quality) observeReportBlocks(buf, cur, this.consumerBySsrc, this.opts.quality);
        continue;
      }
      if (cur.type !== RtcpType.PSFB) continue;
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
  }

  /** Generic NACK (RFC 4585 6.2.1): PID + BLP pairs after the 12-byte header; served from the store. */
  private onSubscriberNack(buf: Buffer, offset: number, end: number, mediaSsrc: number): void {
    const consumer = this.consumerBySsrc.get(mediaSsrc);
    this.rtcpStats.nacksReceived++;
    if (!consumer) return;
    for (let p = offset + 12; p + 4 <= end; p += 4) {
      const pid = buf.readUInt16BE(p);
      const blp = buf.readUInt16BE(p + 2);
      if (consumer.retransmit(pid)) this.rtcpStats.retransmitted++;
      for (let i = 0; i < 16; i++) {
        if (blp & (1 << i) && consumer.retransmit((pid + i + 1) & 0xffff)) this.rtcpStats.retransmitted++;
      }
    }
  }

  /** Publisher SRs give receiver reports their LSR/DLSR; nothing of the publisher's RTCP is forwarded. */
  private onPublisherRtcp(buf: Buffer, len: number): void {
    const cur = this.rtcp.reset(buf, 0, len);
    while (cur.next()) {
      if (cur.type !== RtcpType.SR || cur.length < 28) continue;
      this.rtcpStats.senderReportsReceived++;
      const producer = this.producerBySsrc.get(cur.senderSsrc);
      // The middle 32 bits of the NTP timestamp (RFC 3550 6.4.1 LSR).
      producer?.receiveStats.onSenderReport(buf.readUInt32BE(cur.offset + 10) >>> 0, performance.now());
    }
  }

  /**
   * Called every ~20 ms by the SFU's shared RTCP timer: NACKs toward the
   * publisher (and a keyframe request when a gap is given up), and on their
   * own cadences TWCC/REMB feedback, receiver reports to the publisher and
   * sender reports + SDES to the subscriber.
   */
  tick(now: number): void {
    const pub = this.pub;
    if (this.closed || !pub || pub.dtlsState !== 'connected') return;
    // Keyframe requests that fell inside the throttle window are owed, not dropped.
    for (const [p, kr] of this.keyframes) if (kr.pending) this.sendKeyframe(p, kr.due(now));
    for (const p of this._producers) {
      const nack = p.nack;
      if (!nack) continue;
      const n = nack.collect(now, 50, this.nackSeqs);
      if (n > 0) {
        const mediaSsrc = this.ssrcOf(p);
        const len = writeRtcp({ type: 'nack', senderSsrc: RTCP_SENDER_SSRC, mediaSsrc, lost: this.nackSeqs.slice(0, n) }, this.rtcpOut, 0);
        if (pub.sendRtcp(this.rtcpOut, 0, len)) {
          this.rtcpStats.nacksSent++;
          this.rtcpStats.nackedSeqs += n;
        }
      }
      if (nack.keyframeNeeded) {
        nack.keyframeNeeded = false;
        p.requestKeyframe();
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

  /** The publisher SSRC of a producer: from the SDP, or learned from the MID extension. */
  private ssrcOf(p: Producer): number {
    return p.ssrc || (this.learnedSsrc.get(p) ?? 0);
  }

  private sendCongestionFeedback(pub: WebRtcTransport, now: number): void {
    const media = this._producers[0];
    if (!media) return;
    if (this.twccExtId > 0) {
      if (!this.twcc.hasPending) return;
      const packets: TwccPacket[] = [];
      this.twcc.buildFeedback(RTCP_SENDER_SSRC, this.ssrcOf(media), packets);
      for (const fb of packets) {
        const len = writeRtcp(fb, this.rtcpOut, 0);
        if (pub.sendRtcp(this.rtcpOut, 0, len)) this.rtcpStats.twccFeedback++;
      }
      return;
    }
    const bitrate = this.remb.value(now);
    if (bitrate < 0) return;
    const ssrcs = this._producers.map((p) => this.ssrcOf(p)).filter((x) => x !== 0);
    const len = writeRtcp({ type: 'remb', senderSsrc: RTCP_SENDER_SSRC, bitrate, ssrcs }, this.rtcpOut, 0);
    if (pub.sendRtcp(this.rtcpOut, 0, len)) this.rtcpStats.remb++;
  }

  private sendReceiverReports(pub: WebRtcTransport, now: number): void {
    const reports: ReportBlock[] = [];
    for (const p of this._producers) {
      const block: ReportBlock = { ssrc: 0, fractionLost: 0, totalLost: 0, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };
      if (p.receiveStats.writeReportBlock(block, now)) {
        block.ssrc = this.ssrcOf(p);
        reports.push(block);
        this.opts.quality?.ingress(p.kind, block.fractionLost / 256, block.jitter / p.currentCodec.clockRate);
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
        if (cap) codecs.push({ payloadType: cap.payloadType, capability: cap });
      }
      const extensions: Record<number, string> = {};
      for (const e of ROUTER_CAPABILITIES.headerExtensions) {
        if (e.kind === p.kind && FORWARDED_EXTENSIONS.has(e.uri)) extensions[e.id] = e.uri;
      }
      sections.push({
        kind: p.kind,
        mid: s.mid,
        codecs,
        extensions,
        ssrc: s.ssrc,
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

  private onApiMessage(m: string | Buffer): void {
    if (typeof m !== 'string') return;
    let msg: unknown;
    try {
      msg = JSON.parse(m);
    } catch {
      return; // ion-sfu ignores unparseable messages silently
    }
    if (typeof msg !== 'object' || msg === null) return;
    const { streamId, video, audio } = msg as { streamId?: unknown; video?: unknown; audio?: unknown; layers?: unknown };
    if (typeof streamId !== 'string' || (msg as { layers?: unknown[] }).layers?.length) return;
    for (const s of this.subscriptions) {
      const c = s.consumer;
      if (!c || s.producer.streamId !== streamId) continue;
      if (c.kind === 'audio') {
        // ion-sfu: `audio` is a Go bool, so an absent key mutes.
        if (audio === true) c.resume();
        else c.pause();
      } else if (video === 'none') c.pause();
      else if (video === 'high' || video === 'medium' || video === 'low') c.resume();
    }
  }

  sendApi(message: string): void {
    if (this.api?.readyState === 'open') this.api.send(message);
    else if (this.apiQueue.length < 16) this.apiQueue.push(message);
  }

  private readonly pendingFanoutLabels: string[] = [];
  private readonly fanoutOut = new Map<string, DataChannel>();

  onFanoutLabel(label: string): void {
    if (this.api?.readyState === 'open') this.openFanout(label);
    else this.pendingFanoutLabels.push(label);
  }

  private openFanout(label: string): void {
    if (this.fanoutOut.has(label) || !this.sub) return;
    this.fanoutOut.set(label, this.sub.createDataChannel(label));
  }

  onFanoutMessage(label: string, data: string | Buffer): void {
    const ch = this.fanoutOut.get(label);
    if (ch?.readyState === 'open') ch.send(data);
  }

  getStats(): Record<string, unknown> {
    return {
      uid: this.uid,
      publisher: this.pub?.getStats(),
      subscriber: this.sub?.getStats(),
      rtcp: this.rtcpStats,
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
