/**
 * A load-generator client for Janus's VideoRoom plugin over Janus's WebSocket
 * API (subprotocol `janus-protocol`): one WebSocket and one Janus session per
 * client, a publisher handle (join as publisher, then `publish` with our
 * offer) and a subscriber handle (join as subscriber to a list of feeds:
 * Janus offers, we answer with `start`; later feeds are added with
 * `subscribe`, which brings an `updated` offer answered the same way).
 *
 * Janus is a full ICE agent (libnice): toward its answer we control; toward
 * its subscriber offers we are controlled and it nominates. Both ways we
 * answer its checks (connection.ts). Every request has a timeout.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { JsonSocket, openWebSocket, type Json } from './ws.js';
import type { DtlsCertificate } from '../../src/dtls/certificate.js';
import { RtcConnection } from './connection.js';
import { MediaSink, MediaSource, type MediaSinkOptions, type MediaSourceOptions } from './media.js';
import { parseSessionDescription, publisherOffer, remoteTransport, rolesFor, subscriberAnswer } from './sdp.js';

export type { Json };

const KEEPALIVE_MS = 25_000;

/** One WebSocket to Janus with transaction matching; events without a pending transaction go to `onEvent`. */
export class JanusWs extends JsonSocket<Json> {
  onEvent: (msg: Json) => void = () => {};

  private constructor(ws: WebSocket) {
    super(ws, 'Janus WebSocket closed');
  }

  static async connect(url: string, timeoutMs = 10_000): Promise<JanusWs> {
    return new JanusWs(await openWebSocket(url, 'janus-protocol', timeoutMs));
  }

  protected onMessage(msg: Json): void {
    // An `ack` only says an asynchronous request was queued: its answer is a later `event`.
    if (msg.janus === 'ack') return;
    const tx = typeof msg.transaction === 'string' ? msg.transaction : undefined;
    if (tx === undefined || !this.pending.has(tx)) {
      this.onEvent(msg);
      return;
    }
    const pluginError = ((msg.plugindata as Json | undefined)?.data as Json | undefined)?.error;
    let err: Error | undefined;
    if (msg.janus === 'error') err = new Error(`Janus error ${JSON.stringify(msg.error)}`);
    else if (pluginError !== undefined) err = new Error(`VideoRoom error: ${String(pluginError)}`);
    this.pending.settle(tx, msg, err);
  }

  /** Sends `msg` with a fresh transaction; resolves with the `success` or (asynchronous requests) the `event`. */
  request(msg: Json, timeoutMs = 15_000): Promise<Json> {
    if (this.closed) return Promise.reject(new Error('Janus WebSocket closed'));
    const transaction = randomBytes(8).toString('hex');
    const answer = this.pending.add(transaction, timeoutMs, `Janus ${String(msg.janus)} ${JSON.stringify((msg.body as Json | undefined)?.request ?? '')}`);
    this.sendJson({ ...msg, transaction });
    return answer;
  }

  /** Fire and forget (keepalive). */
  send(msg: Json): void {
    this.sendJson({ ...msg, transaction: randomBytes(8).toString('hex') });
  }
}

function dataOf(msg: Json): Json {
  return (msg.data ?? {}) as Json;
}

function pluginDataOf(msg: Json): Json {
  return ((msg.plugindata as Json | undefined)?.data ?? {}) as Json;
}

function jsepSdp(msg: Json, type: 'offer' | 'answer'): string {
  const jsep = msg.jsep as Json | undefined;
  if (jsep?.type !== type || typeof jsep.sdp !== 'string') throw new Error(`expected a Janus jsep ${type}, got ${JSON.stringify(jsep ?? null)}`);
  return jsep.sdp;
}

/** A Janus session on its own WebSocket, kept alive. */
export class JanusSession {
  private readonly keepalive: NodeJS.Timeout;

  private constructor(
    readonly ws: JanusWs,
    readonly id: number,
  ) {
    this.keepalive = setInterval(() => ws.send({ janus: 'keepalive', session_id: id }), KEEPALIVE_MS);
  }

  static async create(url: string, timeoutMs = 10_000): Promise<JanusSession> {
    const ws = await JanusWs.connect(url, timeoutMs);
    try {
      const res = await ws.request({ janus: 'create' }, timeoutMs);
      const id = dataOf(res).id;
      if (typeof id !== 'number') throw new Error(`Janus create: no session id in ${JSON.stringify(res)}`);
      return new JanusSession(ws, id);
    } catch (err) {
      ws.close();
      throw err;
    }
  }

  async attach(plugin = 'janus.plugin.videoroom', timeoutMs = 10_000): Promise<number> {
    const res = await this.ws.request({ janus: 'attach', session_id: this.id, plugin }, timeoutMs);
    const id = dataOf(res).id;
    if (typeof id !== 'number') throw new Error(`Janus attach: no handle id in ${JSON.stringify(res)}`);
    return id;
  }

  /** A plugin message; resolves with Janus's `success` or `event` answer. */
  message(handle: number, body: Json, jsep?: Json, timeoutMs = 15_000): Promise<Json> {
    return this.ws.request({ janus: 'message', session_id: this.id, handle_id: handle, body, ...(jsep ? { jsep } : {}) }, timeoutMs);
  }

  close(): void {
    clearInterval(this.keepalive);
    this.ws.send({ janus: 'destroy', session_id: this.id });
    this.ws.close();
  }
}

/** Creates a VideoRoom room (synchronous request) on `handle`. */
export async function createVideoRoom(s: JanusSession, handle: number, room: number, extra: Json = {}): Promise<void> {
  const res = await s.message(handle, {
    request: 'create',
    room,
    publishers: 1000,
    audiocodec: 'opus',
    videocodec: 'vp8',
    bitrate: 0,
    ...extra,
  });
  const d = pluginDataOf(res);
  if (d.videoroom !== 'created') throw new Error(`VideoRoom create: ${JSON.stringify(d)}`);
}

export interface JanusClientOptions {
  /** ws://HOST:PORT/ */
  url: string;
  room: number;
  uid: string;
  cert: DtlsCertificate;
  /** Local address of our sockets. */
  host: string;
  /** Candidate addresses to prefer in Janus's descriptions (127.0.0.2: where it gathers). */
  prefer: readonly string[];
  publish?: MediaSourceOptions;
  subscribe?: MediaSinkOptions & { recvBufferBytes?: number };
  timeoutMs?: number;
}

/**
 * One bench client on Janus: publishes (optional) and subscribes (optional) to
 * the feeds it is given with `addFeeds`, now and later.
 */
export class JanusClient {
  source: MediaSource | undefined;
  sink: MediaSink | undefined;
  /** Our publisher id in the room, once published. */
  feedId: number | undefined;
  private pubConn: RtcConnection | undefined;
  private subConn: RtcConnection | undefined;
  private subHandle: number | undefined;
  private readonly subscribed = new Set<number>();
  /** Subscriber-handle requests run one at a time (each may bring an offer to answer). */
  private chain: Promise<void> = Promise.resolve();
  private connecting = false;
  private closed = false;
  /** Handles whose PeerConnection Janus reported up (`webrtcup`), and who waits for one. */
  private readonly upHandles = new Set<number>();
  private readonly upWaiters = new Map<number, () => void>();
  offers = 0;

  private constructor(
    private readonly o: JanusClientOptions,
    private readonly session: JanusSession,
  ) {
    session.ws.onEvent = (msg) => this.onEvent(msg);
    session.ws.onClose = () => this.sink?.fail(new Error('Janus WebSocket closed'));
  }

  static async create(o: JanusClientOptions): Promise<JanusClient> {
    const start = performance.now();
    const session = await JanusSession.create(o.url, o.timeoutMs ?? 10_000);
    const c = new JanusClient(o, session);
    try {
      if (o.subscribe) {
        c.subConn = await RtcConnection.open(o.cert, { host: o.host, recvBufferBytes: o.subscribe.recvBufferBytes ?? 0 });
        c.sink = new MediaSink(o.subscribe);
        c.sink.times.start = start;
        c.sink.attach(c.subConn);
      }
      if (o.publish) await c.publish(o.publish);
      return c;
    } catch (err) {
      c.close();
      throw err;
    }
  }

  private async publish(media: MediaSourceOptions): Promise<void> {
    const o = this.o;
    const t = o.timeoutMs ?? 15_000;
    const handle = await this.session.attach('janus.plugin.videoroom', t);
    const joined = pluginDataOf(await this.session.message(handle, { request: 'join', ptype: 'publisher', room: o.room, display: o.uid }, undefined, t));
    if (joined.videoroom !== 'joined' || typeof joined.id !== 'number') throw new Error(`VideoRoom join: ${JSON.stringify(joined)}`);
    const conn = await RtcConnection.open(o.cert, { host: o.host });
    this.pubConn = conn;
    this.source = new MediaSource(conn, media);
    const streamId = `pub-${o.uid}`;
    const offer = publisherOffer(conn.local, {
      streamId,
      audio: this.source.hasAudio ? { ssrc: this.source.audioSsrc, trackId: `${streamId}-audio` } : undefined,
      video: this.source.hasVideo ? { ssrc: this.source.videoSsrc, trackId: `${streamId}-video`, simulcast: this.source.videoSsrcs } : undefined,
    });
    const res = await this.session.message(handle, { request: 'publish' }, { type: 'offer', sdp: offer }, t);
    const remote = remoteTransport(parseSessionDescription(jsepSdp(res, 'answer')), o.prefer);
    const up = this.webrtcUp(handle, o.timeoutMs ?? 20_000);
    up.catch(() => {}); // awaited below; a connect failure must not leave it unhandled
    await conn.connect(remote, { ...rolesFor(remote, true), timeoutMs: o.timeoutMs ?? 20_000 });
    // Janus refuses subscriptions ("No such feed") until its side of the publisher's
    // PeerConnection is up, which may be a moment after ours.
    await up;
    this.feedId = joined.id;
  }

  /** Resolves when Janus sends `webrtcup` for `handle`. */
  private webrtcUp(handle: number, timeoutMs: number): Promise<void> {
    if (this.upHandles.has(handle)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.upWaiters.delete(handle);
        reject(new Error(`no webrtcup from Janus within ${timeoutMs} ms`));
      }, timeoutMs);
      this.upWaiters.set(handle, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Subscribes to the feeds not yet subscribed (and not our own); the first call joins, later ones add. */
  addFeeds(feeds: readonly number[]): Promise<void> {
    if (!this.sink) return Promise.resolve();
    const next = this.chain.then(async () => {
      const fresh = feeds.filter((f) => f !== this.feedId && !this.subscribed.has(f));
      if (fresh.length === 0 || this.closed) return;
      for (const f of fresh) this.subscribed.add(f);
      const streams = fresh.map((feed) => ({ feed }));
      const t = this.o.timeoutMs ?? 15_000;
      let res: Json;
      if (this.subHandle === undefined) {
        this.subHandle = await this.session.attach('janus.plugin.videoroom', t);
        res = await this.session.message(this.subHandle, { request: 'join', ptype: 'subscriber', room: this.o.room, streams }, undefined, t);
      } else {
        res = await this.session.message(this.subHandle, { request: 'subscribe', streams }, undefined, t);
      }
      if (res.jsep) await this.answer(jsepSdp(res, 'offer'));
    });
    this.chain = next.catch((err: unknown) => this.sink?.fail(err as Error));
    return next;
  }

  /** Answers one of Janus's subscriber offers with `start` and connects on the first. */
  private async answer(sdp: string): Promise<void> {
    const conn = this.subConn!;
    const desc = parseSessionDescription(sdp);
    this.offers++;
    this.sink!.learnPayloadTypes(desc);
    const answer = subscriberAnswer(desc, conn.local);
    await this.session.message(this.subHandle!, { request: 'start' }, { type: 'answer', sdp: answer }, this.o.timeoutMs ?? 15_000);
    if (this.connecting) return;
    this.connecting = true;
    const remote = remoteTransport(desc, this.o.prefer);
    conn.connect(remote, { ...rolesFor(remote, false), timeoutMs: this.o.timeoutMs ?? 20_000 }).then(
      () => {
        if (this.sink) this.sink.times.connected = performance.now();
      },
      (err: unknown) => this.sink?.fail(err as Error),
    );
  }

  private onEvent(msg: Json): void {
    if (msg.janus === 'webrtcup' && typeof msg.sender === 'number') {
      this.upHandles.add(msg.sender);
      this.upWaiters.get(msg.sender)?.();
      this.upWaiters.delete(msg.sender);
      return;
    }
    // Offers Janus makes on its own (a publisher left, a stream changed): answer them in turn.
    if (msg.janus !== 'event' || msg.sender !== this.subHandle || (msg.jsep as Json | undefined)?.type !== 'offer') return;
    const sdp = jsepSdp(msg, 'offer');
    this.chain = this.chain.then(() => this.answer(sdp)).catch((err: unknown) => this.sink?.fail(err as Error));
  }

  get ports(): number[] {
    return this.subConn ? [this.subConn.port] : [];
  }

  describe(): string {
    const feeds = [...this.subscribed].map((f) => String(f).slice(-4)).join(',');
    return `${this.o.uid}: feeds ${feeds || 'none'}, ${this.offers} offers answered, ${this.sink?.videoStreams ?? 0} video streams${this.sink?.error ? `, ${this.sink.error.message}` : ''}`;
  }

  get srtpProfile(): string | null {
    return (this.subConn ?? this.pubConn)?.srtpProfile ?? null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.source?.stop();
    this.sink?.close();
    this.pubConn?.close();
    this.subConn?.close();
    this.session.close();
  }
}
