/**
 * A load-generator peer for servers that speak ion-sfu's JSON-RPC (sfud, the
 * naive werift SFU): like ion-sdk-js, a publisher connection (we offer, with
 * Opus + VP8 when publishing, or only a data channel) and a subscriber
 * connection (the server offers; we answer every offer recvonly). Media goes
 * through `MediaSource` / `MediaSink` (media.ts). Everything talks to
 * loopback only; every wait has a timeout.
 */
import type { DtlsCertificate } from '../../src/dtls/certificate.js';
import { RtcConnection } from './connection.js';
import { MediaSink, MediaSource, type MediaSinkOptions, type MediaSourceOptions } from './media.js';
import { IonSignal } from './signal.js';
import {
  dataOnlyOffer,
  hasLoopbackCandidate,
  parseSessionDescription,
  parseTrickledCandidate,
  publisherOffer,
  remoteTransport,
  rolesFor,
  subscriberAnswer,
  type ParsedSessionDescription,
  type RemoteTransport,
} from './sdp.js';

export interface IonPeerOptions {
  /** ws://HOST:PORT/ws */
  url: string;
  sid: string;
  uid: string;
  cert: DtlsCertificate;
  /** Local address of our sockets (default 127.0.0.1). */
  host?: string;
  /** Publish Opus + VP8 with these options; absent: join with a data-channel-only offer. */
  publish?: MediaSourceOptions;
  /** Receive on the subscriber connection into a sink; absent: answer offers, never connect. */
  subscribe?: MediaSinkOptions & { recvBufferBytes?: number };
  /**
   * Connect the publisher connection even when not publishing (ion-sdk-js does,
   * for its data channel); otherwise the server times that transport out.
   */
  connectPublisherPc?: boolean;
  /** Signalling and connection timeout. */
  timeoutMs?: number;
}

const PUBLISHER = 0;
const SUBSCRIBER = 1;

export class IonPeer {
  source: MediaSource | undefined;
  sink: MediaSink | undefined;
  /** Subscriber offers answered. */
  offers = 0;
  private connecting = false;
  private closed = false;
  /** Candidates trickled per target before the matching description was read. */
  private readonly trickled: { address: string; port: number }[][] = [[], []];
  private readonly trickleWaiters: (() => void)[][] = [[], []];

  private constructor(
    private readonly o: IonPeerOptions,
    private readonly sig: IonSignal,
    readonly pubConn: RtcConnection,
    readonly subConn: RtcConnection | undefined,
  ) {
    sig.onTrickle = (target, candidate) => {
      const c = parseTrickledCandidate(candidate);
      if (!c || (target !== PUBLISHER && target !== SUBSCRIBER)) return;
      this.trickled[target]!.push(c);
      for (const w of this.trickleWaiters[target]!.splice(0)) w();
    };
    sig.onOffer = (sdp) => this.onOffer(sdp);
    sig.onClose = () => this.sink?.fail(new Error('signalling closed'));
  }

  static async join(o: IonPeerOptions): Promise<IonPeer> {
    const start = performance.now();
    const host = o.host ?? '127.0.0.1';
    const pubConn = await RtcConnection.open(o.cert, { host });
    const subConn = o.subscribe ? await RtcConnection.open(o.cert, { host, recvBufferBytes: o.subscribe.recvBufferBytes ?? 0 }) : undefined;
    let sig: IonSignal | undefined;
    try {
      sig = await IonSignal.connect(o.url, o.timeoutMs ?? 10_000);
      const p = new IonPeer(o, sig, pubConn, subConn);
      if (o.subscribe && subConn) {
        p.sink = new MediaSink(o.subscribe);
        p.sink.times.start = start;
        p.sink.attach(subConn);
      }
      let offer: string;
      if (o.publish) {
        p.source = new MediaSource(pubConn, o.publish);
        const streamId = p.streamId;
        offer = publisherOffer(pubConn.local, {
          streamId,
          audio: p.source.hasAudio ? { ssrc: p.source.audioSsrc, trackId: `${streamId}-audio` } : undefined,
          video: p.source.hasVideo ? { ssrc: p.source.videoSsrc, trackId: `${streamId}-video`, simulcast: p.source.videoSsrcs } : undefined,
        });
      } else {
        offer = dataOnlyOffer(pubConn.local);
      }
      const answer = (await sig.call('join', { sid: o.sid, uid: o.uid, offer: { type: 'offer', sdp: offer } }, o.timeoutMs ?? 15_000)) as { sdp?: unknown };
      if (typeof answer?.sdp !== 'string') throw new Error('join: no answer SDP');
      if (p.sink) p.sink.times.joined = performance.now();
      if (o.publish || o.connectPublisherPc) {
        const connected = p.remoteFor(PUBLISHER, parseSessionDescription(answer.sdp)).then((remote) =>
          pubConn.connect(remote, { ...rolesFor(remote, true), timeoutMs: o.timeoutMs ?? 20_000 }),
        );
        // A publisher must be connected before it is useful; a subscriber's publisher PC is a side show.
        if (o.publish) await connected;
        else connected.catch((err: unknown) => p.sink?.fail(err as Error));
      }
      return p;
    } catch (err) {
      pubConn.close();
      subConn?.close();
      sig?.close();
      throw err;
    }
  }

  /** The remote transport of a description, waiting (bounded) for a trickled candidate when it has none. */
  private async remoteFor(target: number, desc: ParsedSessionDescription): Promise<RemoteTransport> {
    if (hasLoopbackCandidate(desc)) return remoteTransport(desc, [this.o.host ?? '127.0.0.1']);
    const deadline = performance.now() + (this.o.timeoutMs ?? 10_000);
    while (this.trickled[target]!.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0 || this.closed) throw new Error(`no loopback candidate for target ${target} in SDP or trickle`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.trickleWaiters[target]!.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const c = this.trickled[target]![0]!;
    return remoteTransport(desc, [], [c]);
  }

  private onOffer(sdp: string): void {
    if (this.closed) return;
    this.offers++;
    let desc: ParsedSessionDescription;
    const conn = this.subConn ?? this.pubConn;
    try {
      desc = parseSessionDescription(sdp);
      this.sink?.learnPayloadTypes(desc);
      this.sig.notify('answer', { desc: { type: 'answer', sdp: subscriberAnswer(desc, conn.local) } });
    } catch (err) {
      this.sink?.fail(err as Error);
      return;
    }
    const sub = this.subConn;
    if (!sub || this.connecting) return;
    this.connecting = true;
    this.remoteFor(SUBSCRIBER, desc)
      .then((remote) => sub.connect(remote, { ...rolesFor(remote, false), timeoutMs: this.o.timeoutMs ?? 20_000 }))
      .then(
        () => {
          if (this.sink) this.sink.times.connected = performance.now();
        },
        (err: unknown) => this.sink?.fail(err as Error),
      );
  }

  /** The stream id (msid) of what this peer publishes. */
  get streamId(): string {
    return `pub-${this.o.uid}`;
  }

  /** UDP ports of the sockets that receive forwarded media. */
  get ports(): number[] {
    return this.subConn ? [this.subConn.port] : [];
  }

  get srtpProfile(): string | null {
    return (this.subConn ?? this.pubConn).srtpProfile;
  }

  describe(): string {
    return `${this.o.uid}: ${this.offers} offers answered, ${this.sink?.videoStreams ?? 0} video streams${this.sink?.error ? `, ${this.sink.error.message}` : ''}`;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.source?.stop();
    this.sink?.close();
    this.pubConn.close();
    this.subConn?.close();
    this.sig.close();
  }
}
