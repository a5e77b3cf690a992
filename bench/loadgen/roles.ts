/**
 * The two roles most benches and tests need, on top of `IonPeer`: a
 * publisher that sends synthetic media and a subscriber that only receives.
 * They keep call sites short (`pub.start()`, `sub.ready`, `sub.counters()`)
 * without exposing the connection plumbing; anything richer uses IonPeer.
 */
import type { DtlsCertificate } from '../../src/dtls/certificate.js';
import { IonPeer } from './client.js';
import type { Histogram } from './histogram.js';
import type { JoinTimes, MediaSink, MediaSource, MediaSourceOptions, MediaSourceStats, StreamState } from './media.js';

interface JoinTarget {
  /** ws://HOST:PORT/ws */
  url: string;
  sid: string;
  uid: string;
  cert: DtlsCertificate;
  /** Signalling and connection timeout. */
  timeoutMs?: number;
}

export type PublisherOptions = JoinTarget & MediaSourceOptions;

/** Joins, publishes and connects; call `start()` to send. */
export class Publisher {
  private constructor(
    readonly peer: IonPeer,
    readonly source: MediaSource,
  ) {}

  static async join(o: PublisherOptions): Promise<Publisher> {
    const { url, sid, uid, cert, timeoutMs, ...publish } = o;
    const peer = await IonPeer.join({ url, sid, uid, cert, timeoutMs, publish });
    return new Publisher(peer, peer.source!);
  }

  /** The stream id (msid) subscribers see this publisher's tracks under. */
  get streamId(): string {
    return this.peer.streamId;
  }

  get stats(): MediaSourceStats {
    return this.source.stats;
  }

  /** Starts sending (a keyframe first). */
  start(): void {
    this.source.start();
  }

  stop(): void {
    this.source.stop();
  }

  /** Audio level (-dBov, 127 silence) and Opus payload bytes from the next packet on. */
  setAudio(level: number, bytes?: number): void {
    this.source.setAudio(level, bytes);
  }

  close(): void {
    this.peer.close();
  }
}

export interface SubscriberOptions extends JoinTarget {
  /** One-way latency (us) of every received packet goes here. */
  latency: Histogram;
  /** SO_RCVBUF for the subscriber socket (0: the system default). */
  recvBufferBytes?: number;
  /**
   * Also connect the publisher connection (ICE + DTLS, no media), as
   * ion-sdk-js does for its data channel; otherwise the server times that
   * transport out.
   */
  connectPublisherPc?: boolean;
  /** Decrypt and read the stamp (latency, loss by stamp sequence); false: headers only. Default true. */
  decrypt?: boolean;
  /** With `decrypt: false`, decrypt every K-th packet for latency (MediaSinkOptions.latencySample). */
  latencySample?: number;
  /** Ready on the first video packet (default) or the first packet of any kind (audio-only rooms). */
  readyOn?: 'video' | 'media';
}

/** Joins with a data-channel-only offer and receives whatever the server forwards. */
export class Subscriber {
  private constructor(
    readonly peer: IonPeer,
    readonly sink: MediaSink,
  ) {}

  static async join(o: SubscriberOptions): Promise<Subscriber> {
    const peer = await IonPeer.join({
      url: o.url,
      sid: o.sid,
      uid: o.uid,
      cert: o.cert,
      connectPublisherPc: o.connectPublisherPc,
      subscribe: { latency: o.latency, decrypt: o.decrypt, latencySample: o.latencySample, timeoutMs: o.timeoutMs, readyOn: o.readyOn, recvBufferBytes: o.recvBufferBytes },
    });
    return new Subscriber(peer, peer.sink!);
  }

  /** Resolves once media arrived (see `readyOn`); rejects on failure or timeout. */
  get ready(): Promise<void> {
    return this.sink.ready;
  }

  get times(): JoinTimes {
    return this.sink.times;
  }

  get streams(): Map<number, StreamState> {
    return this.sink.streams;
  }

  /** Media packets received (and their bytes). */
  get packets(): number {
    return this.sink.packets;
  }

  get bytes(): number {
    return this.sink.bytes;
  }

  get error(): Error | undefined {
    return this.sink.error;
  }

  /** The UDP port forwarded media arrives on. */
  get port(): number {
    return this.peer.ports[0]!;
  }

  /** Sum over streams: packets expected from the sequence range, and received. */
  counters(): { expected: number; received: number } {
    return this.sink.counters();
  }

  close(): void {
    this.peer.close();
  }
}
