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
import { KeyframeRequester } from '../rtp/feedback/index.js';
import { readSdesString, EXT_URI } from '../rtp/extensions.js';
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

export const API_CHANNEL_LABEL = 'ion-sfu';
const NEGOTIATION_DEBOUNCE_MS = 250;
/** Extensions forwarded to subscribers: per-hop ones (mid, rid, transport-cc) are not. */
const FORWARDED_EXTENSIONS = new Set<string>([EXT_URI.audioLevel, EXT_URI.absSendTime, EXT_URI.videoOrientation, EXT_URI.playoutDelay]);

export interface IonPeerOptions {
  rooms: RoomRegistry;
  server: WebRtcServer;
  notify: SignalNotifier;
  logger: Logger;
}

/** One outgoing track on the subscriber connection (an m-line we keep in place). */
interface Subscription {
  mid: string;
  producer: Producer;
  ssrc: number;
  consumer: Consumer | undefined;
  active: boolean;
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
  private pubMidExtId = 0;
  private readonly keyframes = new Map<Producer, KeyframeRequester>();
  private readonly subscriptions: Subscription[] = [];
  private readonly consumerBySsrc = new Map<number, Consumer>();
  private nextMid = 1;
  private readonly subSessionId = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
  private subSessionVersion = 0;
  private negotiateTimer: NodeJS.Timeout | undefined;
  private offerOutstanding = false;
  private negotiationPending = false;
  private api: DataChannel | undefined;
  private readonly apiQueue: string[] = [];
  private readonly fanout = new Map<string, DataChannel>();
  private noAutoSubscribe = false;
  private closed = false;
  private readonly view = new RtpView();
  private readonly rtcp = new RtcpCursor({ allowInnerPadding: true });
  private readonly rtcpOut = Buffer.alloc(64);

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
    this.log = this.opts.logger.child({ sid: p.sid, uid: this.uid });
    const server = this.opts.server;
    const pub = server.createWebRtcTransport({ enableSctp: true, appData: { role: 'publisher', uid: this.uid } });
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
    pub.onRtcp = () => {
      // Publisher SRs feed receiver reports once the RTCP policy lands; nothing is forwarded.
    };
    pub.on('datachannel', (ch) => this.onPublisherChannel(ch));
    pub.on('close', (reason) => this.log.debug({ reason }, 'publisher transport closed'));

    const sub = server.createWebRtcTransport({ enableSctp: true, appData: { role: 'subscriber', uid: this.uid } });
    this.sub = sub;
    sub.onRtcp = (buf, len) => this.onSubscriberRtcp(buf, len);
    sub.on('dtlsstatechange', (state) => {
      if (state === 'connected') this.openApiChannel();
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
    let packets = 0;
    let bytes = 0;
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
    for (const s of this.subscriptions) s.consumer?.close();
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
      for (const [id, uri] of Object.entries(s.extensions)) if (uri === EXT_URI.mid) this.pubMidExtId = Number(id);
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
    if (ssrc) this.producerBySsrc.set(ssrc, producer);
    this.log.debug({ mid: s.mid, kind: s.kind, ssrc, streamId: producer.streamId }, 'producer added');
    this.room?.producerAdded(this, producer);
  }

  private removeProducer(p: Producer): void {
    const i = this._producers.indexOf(p);
    if (i >= 0) this._producers.splice(i, 1);
    this.producerByMid.delete(p.mid);
    for (const [ssrc, x] of this.producerBySsrc) if (x === p) this.producerBySsrc.delete(ssrc);
    this.keyframes.delete(p);
    p.close();
    this.room?.producerRemoved(p);
  }

  private onPublisherRtp(buf: Buffer, len: number): void {
    const view = this.view;
    if (!view.reset(buf, 0, len)) return;
    let producer = this.producerBySsrc.get(view.ssrc);
    if (!producer) {
      // No a=ssrc for this stream: learn the SSRC from the MID extension once.
      if (this.pubMidExtId === 0) return;
      const p = view.findExtension(this.pubMidExtId);
      const mid = p < 0 ? null : readSdesString(buf, p, view.extValueLength);
      producer = mid === null ? undefined : this.producerByMid.get(mid);
      if (!producer || producer.ssrc !== 0) return;
      this.producerBySsrc.set(view.ssrc, producer);
    }
    producer.receive(view, len, performance.now());
  }

  private sendKeyframeRequest(p: Producer): void {
    const kr = this.keyframes.get(p);
    const pub = this.pub;
    if (!kr || !pub) return;
    const kind = kr.request(performance.now());
    if (!kind) return;
    const mediaSsrc = [...this.producerBySsrc].find(([, x]) => x === p)?.[0] ?? p.ssrc;
    const pkt: RtcpPacket =
      kind === 'pli'
        ? { type: 'pli', senderSsrc: 1, mediaSsrc }
        : { type: 'fir', senderSsrc: 1, mediaSsrc: 0, entries: [{ ssrc: mediaSsrc, seqNr: kr.firSeqNr }] };
    const n = writeRtcp(pkt, this.rtcpOut, 0);
    pub.sendRtcp(this.rtcpOut, 0, n);
  }

  private onPublisherChannel(ch: DataChannel): void {
    // ion-sdk-js opens `ion-sfu` on the publisher only to get an m=application; ion-sfu drops it.
    if (ch.label === API_CHANNEL_LABEL) return;
    this.fanout.set(ch.label, ch);
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
    const subn: Subscription = { mid: String(this.nextMid++), producer, ssrc: randomBytes(4).readUInt32BE() >>> 0 || 1, consumer: undefined, active: true };
    this.subscriptions.push(subn);
    producer.once('close', () => {
      this.endSubscription(subn);
      this.scheduleNegotiation();
    });
  }

  private endSubscription(s: Subscription): void {
    if (!s.active) return;
    s.active = false;
    if (s.consumer) {
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
      if (cur.type !== RtcpType.PSFB) continue;
      const fmt = cur.fmt;
      if (fmt === PsfbFmt.PLI) this.consumerBySsrc.get(cur.mediaSsrc)?.requestKeyframe();
      else if (fmt === PsfbFmt.FIR && cur.length >= 20) {
        // FIR names the SSRC in its FCI entry (RFC 5104 4.3.1), not in the media SSRC field.
        this.consumerBySsrc.get(buf.readUInt32BE(cur.offset + 12))?.requestKeyframe();
      }
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
