/**
 * mediasoup 3 behind ion-sfu's JSON-RPC over WebSocket, so the side-by-side
 * bench drives it exactly as it drives sfud (same load generator, same
 * wire): `join` {sid, uid, offer, config} -> answer on the publisher PC; the
 * server's `offer` notifications on the subscriber PC, answered with
 * `answer`; `trickle` accepted and ignored (ICE-lite, candidates are in the
 * SDP, as sfud does). Per client: one WebRtcTransport per direction on a
 * shared WebRtcServer port (one UDP port, like sfud), Producers from the
 * publisher offer, and on the subscriber transport one Consumer per other
 * member's Producer, offered debounced 250 ms with at most one offer
 * outstanding (ion-sfu and sfud behave the same). The subscriber PC also
 * carries the `ion-sfu` data channel (opened with a DCEP message, because
 * mediasoup only knows pre-negotiated channels), since ion-sdk-js waits for
 * it before `join` resolves.
 *
 * Consumers leave out transport-cc and abs-send-time: sfud does not forward
 * them to subscribers either, and without them mediasoup sends no bandwidth
 * probes (padding packets the load generator would count as media).
 *
 *   node dist/bench/servers/mediasoup-ion.js --port 7100 [--udp-host 127.0.0.1] [--udp-port 0]
 *       [--workers 1] [--mediasoup-dir bench/.peers/mediasoup] [--log-level warn]
 *
 * Prints `mediasoup-ion ready {json}` (ws URL, pids of this process and of
 * the workers, UDP ports) once it listens; serves GET /health. SIGTERM/SIGINT
 * close it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import type {
  Consumer,
  DataConsumer,
  DataProducer,
  DirectTransport,
  MediasoupModule,
  Producer,
  Router,
  RtpCapabilities,
  RtpCodecCapability,
  WebRtcServer,
  WebRtcTransport,
  Worker,
} from './mediasoup-types.js';
import { answerPublisherOffer, readSubscriberAnswer, subscriberOffer, type LocalTransport, type PublisherTrack, type SubscriberSection } from './mediasoup-sdp.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const NEGOTIATION_DEBOUNCE_MS = 250;
const API_LABEL = 'ion-sfu';
/** SCTP payload protocol id of DCEP (RFC 8832 8.1). */
const PPID_DCEP = 50;
const BWE_EXTENSIONS = new Set(['http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time']);

/** Payload types as sfud and Chromium use them, so the load generator's PT-based accounting holds. */
const MEDIA_CODECS: RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 111, parameters: { minptime: 10, useinbandfec: 1 } },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 96 },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, preferredPayloadType: 98, parameters: { 'profile-id': 0 } },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    preferredPayloadType: 102,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

interface Options {
  port: number;
  host: string;
  udpHost: string;
  udpPort: number;
  workers: number;
  mediasoupDir: string;
  logLevel: 'debug' | 'warn' | 'error' | 'none';
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '7000' },
      host: { type: 'string', default: '127.0.0.1' },
      'udp-host': { type: 'string', default: '127.0.0.1' },
      'udp-port': { type: 'string', default: '0' },
      workers: { type: 'string', default: '1' },
      'mediasoup-dir': { type: 'string', default: join(ROOT, 'bench/.peers/mediasoup') },
      'log-level': { type: 'string', default: 'warn' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'node dist/bench/servers/mediasoup-ion.js [--port 7000] [--host 127.0.0.1] [--udp-host 127.0.0.1] [--udp-port 0]\n' +
        '  [--workers 1] [--mediasoup-dir bench/.peers/mediasoup] [--log-level debug|warn|error|none]\n',
    );
    process.exit(0);
  }
  const int = (v: string, name: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected a whole number from ${min} to ${max}, got "${v}"`);
    return n;
  };
  const level = values['log-level'];
  if (level !== 'debug' && level !== 'warn' && level !== 'error' && level !== 'none') throw new Error(`--log-level: "${level}" is not debug, warn, error or none`);
  return {
    port: int(values.port, 'port', 0, 65535),
    host: values.host,
    udpHost: values['udp-host'],
    udpPort: int(values['udp-port'], 'udp-port', 0, 65535),
    workers: int(values.workers, 'workers', 1, 64),
    mediasoupDir: resolve(values['mediasoup-dir']),
    logLevel: level,
  };
}

/** Loads the bench-only mediasoup build by path (it is not a dependency of this package). */
function loadMediasoup(dir: string): MediasoupModule {
  const pkg = join(dir, 'node_modules/mediasoup');
  const bin = join(pkg, 'worker/out/Release/mediasoup-worker');
  if (!existsSync(join(pkg, 'package.json'))) {
    throw new Error(`mediasoup is not installed in ${dir}: run sh bench/servers/mediasoup-setup.sh first`);
  }
  process.env.MEDIASOUP_WORKER_BIN ??= bin;
  if (!existsSync(process.env.MEDIASOUP_WORKER_BIN)) {
    throw new Error(`no mediasoup worker at ${process.env.MEDIASOUP_WORKER_BIN}: run sh bench/servers/mediasoup-setup.sh first`);
  }
  return createRequire(import.meta.url)(pkg) as MediasoupModule;
}

/** What consumers may receive: the router's capabilities without send-side bandwidth estimation. */
function consumerCapabilities(router: Router): RtpCapabilities {
  const caps = router.rtpCapabilities;
  return {
    codecs: (caps.codecs ?? []).map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type !== 'transport-cc' && f.type !== 'goog-remb') })),
    headerExtensions: (caps.headerExtensions ?? []).filter((e) => !BWE_EXTENSIONS.has(e.uri)),
  };
}

/** A DCEP DATA_CHANNEL_OPEN (RFC 8832 5.1): reliable, ordered, no protocol. */
function dcepOpen(label: string): Buffer {
  const l = Buffer.from(label, 'utf8');
  const b = Buffer.alloc(12 + l.length);
  b[0] = 0x03;
  b.writeUInt16BE(l.length, 8);
  l.copy(b, 12);
  return b;
}

function localOf(t: WebRtcTransport): LocalTransport {
  return {
    ice: t.iceParameters,
    candidates: t.iceCandidates,
    fingerprints: t.dtlsParameters.fingerprints,
    sctpPort: t.sctpParameters?.port,
    maxMessageSize: t.sctpParameters?.maxMessageSize,
  };
}

class RpcFailure extends Error {}

// ---- rooms ----

class Room {
  readonly peers = new Set<Peer>();
  readonly consumerCaps: RtpCapabilities;
  constructor(
    readonly sid: string,
    readonly router: Router,
    readonly direct: DirectTransport,
    readonly webRtcServer: WebRtcServer,
  ) {
    this.consumerCaps = consumerCapabilities(router);
  }
}

interface WorkerSlot {
  worker: Worker;
  server: WebRtcServer;
}

class Rooms {
  private readonly rooms = new Map<string, Promise<Room>>();
  private next = 0;
  constructor(private readonly workers: readonly WorkerSlot[]) {}

  get(sid: string): Promise<Room> {
    let r = this.rooms.get(sid);
    if (!r) {
      const slot = this.workers[this.next++ % this.workers.length]!;
      r = (async () => {
        const router = await slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
        const direct = await router.createDirectTransport();
        return new Room(sid, router, direct, slot.server);
      })();
      r.catch(() => this.rooms.delete(sid));
      this.rooms.set(sid, r);
    }
    return r;
  }

  left(room: Room): void {
    if (room.peers.size > 0) return;
    this.rooms.delete(room.sid);
    room.router.close();
  }

  count(): number {
    return this.rooms.size;
  }
}

// ---- one ion-sfu peer ----

interface Slot {
  mid: string;
  kind: 'audio' | 'video';
  consumer: Consumer | undefined;
  streamId: string;
  trackId: string;
}

type Json = Record<string, unknown>;

class Peer {
  private room: Room | undefined;
  private uid = '';
  private pub: WebRtcTransport | undefined;
  private sub: WebRtcTransport | undefined;
  private subConnected = false;
  private readonly producers = new Map<string, Producer>();
  private readonly slots: Slot[] = [];
  private nextMid = 1;
  private readonly sessionId = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
  private pubVersion = 0;
  private subVersion = 0;
  private timer: NodeJS.Timeout | undefined;
  private offerOutstanding = false;
  private offerWanted = false;
  private offered: Slot[] = [];
  private noAutoSubscribe = false;
  private apiProducer: DataProducer | undefined;
  private apiConsumer: DataConsumer | undefined;
  private closed = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly ws: WebSocket,
    private readonly rooms: Rooms,
  ) {
    ws.on('message', (data) => {
      const text = String(data);
      // Frames are handled strictly in order, one at a time (as ion-sfu's read loop does).
      this.queue = this.queue.then(() => this.onFrame(text));
    });
    ws.on('close', () => this.close());
    ws.on('error', () => this.close());
  }

  private send(msg: Json): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ ...msg, jsonrpc: '2.0' }));
  }

  private async onFrame(text: string): Promise<void> {
    let msg: Json;
    try {
      msg = JSON.parse(text) as Json;
    } catch {
      this.send({ id: null, error: { code: -32700, message: 'parse error' } });
      return;
    }
    if (typeof msg !== 'object' || msg === null || typeof msg.method !== 'string') return; // responses from the client
    const hasId = msg.id !== undefined && msg.id !== null;
    const params = (typeof msg.params === 'object' && msg.params !== null ? msg.params : {}) as Json;
    try {
      let result: unknown = null;
      switch (msg.method) {
        case 'join':
          result = await this.join(params);
          break;
        case 'offer':
          result = await this.offer(params);
          break;
        case 'answer':
          await this.answer(params);
          break;
        case 'trickle':
          // ICE-lite: the client's checks reach the server without its candidates.
          break;
        default:
          if (hasId) this.send({ id: msg.id, error: { code: -32601, message: 'method not found' } });
          return;
      }
      if (hasId) this.send({ id: msg.id, result });
    } catch (err) {
      // ion-sfu answers failed notifications with id 0.
      this.send({ id: hasId ? msg.id : 0, error: { code: 500, message: (err as Error).message, data: null } });
    }
  }

  /** A resource made while a request was in flight: kept, unless the peer closed meanwhile (then closed too). */
  private keep<T extends { close(): void }>(x: T): T {
    if (this.closed) {
      x.close();
      throw new RpcFailure('peer closed');
    }
    return x;
  }

  private sdpOf(v: unknown, what: string): string {
    const sdp = (v as { sdp?: unknown } | undefined)?.sdp;
    if (typeof sdp !== 'string') throw new RpcFailure(`${what}: missing sdp`);
    return sdp;
  }

  private async join(p: Json): Promise<{ type: 'answer'; sdp: string }> {
    if (this.room || this.closed) throw new RpcFailure('rtc transport already exists for this connection');
    const sid = typeof p.sid === 'string' ? p.sid : '';
    if (!sid) throw new RpcFailure('join: missing sid');
    const offerSdp = this.sdpOf(p.offer, 'join');
    const config = (p.config ?? {}) as Record<string, unknown>;
    const flag = (name: string): boolean => Object.entries(config).some(([k, v]) => k.toLowerCase() === name && v === true);
    this.noAutoSubscribe = flag('noautosubscribe');
    this.uid = typeof p.uid === 'string' && p.uid ? p.uid : randomUUID();

    const room = await this.rooms.get(sid);
    // Not rooms.left() here: another join may be resolving the same room right now.
    if (this.closed) throw new RpcFailure('peer closed');
    this.room = room;
    room.peers.add(this);
    const pub = this.keep(await room.router.createWebRtcTransport({ webRtcServer: room.webRtcServer, enableUdp: true, enableTcp: false, enableSctp: true, appData: { uid: this.uid, role: 'publisher' } }));
    this.pub = pub;
    let answer: ReturnType<typeof answerPublisherOffer>;
    try {
      answer = answerPublisherOffer(offerSdp, localOf(pub), room.router.rtpCapabilities, this.sessionId, ++this.pubVersion);
    } catch (err) {
      throw new RpcFailure(`setting remote description: ${(err as Error).message}`);
    }
    await pub.connect({ dtlsParameters: answer.remoteDtls });
    if (!flag('nosubscribe')) {
      const sub = this.keep(await room.router.createWebRtcTransport({ webRtcServer: room.webRtcServer, enableUdp: true, enableTcp: false, enableSctp: true, appData: { uid: this.uid, role: 'subscriber' } }));
      this.sub = sub;
      await this.openApiChannel(room, sub);
    }
    for (const t of answer.tracks) await this.produce(t);
    if (this.sub && !this.noAutoSubscribe) {
      for (const other of room.peers) {
        if (other === this) continue;
        for (const producer of other.producers.values()) await this.subscribe(producer);
      }
    }
    // The first subscriber offer always goes out: it carries the ion-sfu data channel.
    this.scheduleNegotiation();
    return { type: 'answer', sdp: answer.sdp };
  }

  /** The ion-sfu channel: a DirectTransport DataProducer consumed on the subscriber transport, announced with DCEP once SCTP is up. */
  private async openApiChannel(room: Room, sub: WebRtcTransport): Promise<void> {
    const dp = this.keep(await room.direct.produceData({ label: API_LABEL, protocol: '' }));
    this.apiProducer = dp;
    // The server is the DTLS server on this transport (it offers actpass, clients answer active), so its
    // channels take odd SCTP stream ids (RFC 8832 6); mediasoup hands out ids from 0: skip one.
    const skipped = await sub.consumeData({ dataProducerId: dp.id });
    this.apiConsumer = this.keep(await sub.consumeData({ dataProducerId: dp.id }));
    skipped.close();
    sub.on('sctpstatechange', (state: string) => {
      if (state === 'connected') dp.send(dcepOpen(API_LABEL), PPID_DCEP);
    });
  }

  private async produce(t: PublisherTrack): Promise<void> {
    const pub = this.pub;
    const room = this.room;
    if (!pub || !room || this.closed) return;
    let producer: Producer;
    try {
      producer = this.keep(await pub.produce({ kind: t.kind, rtpParameters: t.rtpParameters, appData: { streamId: t.streamId, trackId: t.trackId, uid: this.uid } }));
    } catch (err) {
      throw new RpcFailure(`setting remote description: mid ${t.mid}: ${(err as Error).message}`);
    }
    this.producers.set(t.mid, producer);
    for (const other of room.peers) if (other !== this) other.onProducerAdded(producer);
  }

  private onProducerAdded(producer: Producer): void {
    if (this.closed || !this.sub || this.noAutoSubscribe) return;
    this.subscribe(producer).then(
      () => this.scheduleNegotiation(),
      () => {}, // the producer or this transport closed meanwhile
    );
  }

  private async subscribe(producer: Producer): Promise<void> {
    const sub = this.sub;
    const room = this.room;
    if (!sub || !room || this.closed || producer.closed) return;
    const mid = String(this.nextMid++);
    // Paused until the client's answer accepts the section (mediasoup's recommended flow).
    const consumer = this.keep(await sub.consume({ producerId: producer.id, rtpCapabilities: room.consumerCaps, paused: true, mid }));
    const slot: Slot = {
      mid,
      kind: producer.kind,
      consumer,
      streamId: String(producer.appData.streamId ?? producer.id),
      trackId: String(producer.appData.trackId ?? producer.id),
    };
    // Sections are appended only once their consumer exists, so m-line order never changes.
    this.slots.push(slot);
    consumer.on('producerclose', () => {
      slot.consumer = undefined;
      this.scheduleNegotiation();
    });
  }

  private async offer(p: Json): Promise<{ type: 'answer'; sdp: string }> {
    const pub = this.pub;
    const room = this.room;
    if (!pub || !room || this.closed) throw new RpcFailure('no rtc transport exists for this Peer');
    const sdp = this.sdpOf(p.desc, 'offer');
    let answer: ReturnType<typeof answerPublisherOffer>;
    try {
      answer = answerPublisherOffer(sdp, localOf(pub), room.router.rtpCapabilities, this.sessionId, ++this.pubVersion);
    } catch (err) {
      throw new RpcFailure(`setting remote description: ${(err as Error).message}`);
    }
    for (const mid of answer.stopped) {
      this.producers.get(mid)?.close();
      this.producers.delete(mid);
    }
    for (const t of answer.tracks) {
      const existing = this.producers.get(t.mid);
      if (existing && existing.appData.trackId === t.trackId) continue;
      existing?.close();
      this.producers.delete(t.mid);
      await this.produce(t);
    }
    return { type: 'answer', sdp: answer.sdp };
  }

  private async answer(p: Json): Promise<void> {
    const sub = this.sub;
    if (!sub || this.closed) throw new RpcFailure('no rtc transport exists for this Peer');
    if (!this.offerOutstanding) throw new RpcFailure('setting remote description: no offer outstanding');
    let parsed: ReturnType<typeof readSubscriberAnswer>;
    try {
      parsed = readSubscriberAnswer(this.sdpOf(p.desc, 'answer'));
    } catch (err) {
      throw new RpcFailure(`setting remote description: ${(err as Error).message}`);
    }
    this.offerOutstanding = false;
    if (!this.subConnected) {
      this.subConnected = true;
      await sub.connect({ dtlsParameters: parsed.remoteDtls });
    }
    for (const s of this.offered) {
      const c = s.consumer;
      if (!c) continue;
      if (!parsed.accepted.has(s.mid)) {
        c.close();
        s.consumer = undefined;
      } else if (c.paused) await c.resume();
    }
    if (this.offerWanted) this.scheduleNegotiation();
  }

  /**
   * Asks for a subscriber offer: sent 250 ms after the last request (bursts
   * of new producers make one offer), and never while one is outstanding (the
   * answer asks again if anything was requested meanwhile).
   */
  private scheduleNegotiation(): void {
    this.offerWanted = true;
    if (this.closed || !this.sub || this.offerOutstanding) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.negotiate(), NEGOTIATION_DEBOUNCE_MS);
  }

  private negotiate(): void {
    const sub = this.sub;
    if (this.closed || !sub || this.offerOutstanding || !this.offerWanted) return;
    this.offerWanted = false;
    const sections: SubscriberSection[] = [{ kind: 'application', mid: '0' }];
    for (const s of this.slots) {
      const c = s.consumer;
      sections.push({ kind: s.kind, mid: s.mid, consumer: c ? { rtpParameters: c.rtpParameters, streamId: s.streamId, trackId: s.trackId } : undefined });
    }
    this.offered = [...this.slots];
    this.offerOutstanding = true;
    this.send({ method: 'offer', params: { type: 'offer', sdp: subscriberOffer(localOf(sub), sections, this.sessionId, ++this.subVersion) } });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.apiConsumer?.close();
    this.apiProducer?.close();
    // Closing the transports closes their producers, which closes the other members' consumers.
    this.pub?.close();
    this.sub?.close();
    const room = this.room;
    if (room) {
      room.peers.delete(this);
      this.rooms.left(room);
    }
    if (this.ws.readyState === this.ws.OPEN) this.ws.close();
  }
}

// ---- the process ----

export interface MediasoupIonReady {
  ws: string;
  httpPort: number;
  pid: number;
  workerPids: number[];
  udpHost: string;
  udpPorts: number[];
  mediasoup: string;
}

export interface MediasoupIon {
  ready: MediasoupIonReady;
  /** Called when a worker process dies (its rooms are gone). */
  onWorkerDied: (pid: number, err: unknown) => void;
  close(): void;
}

/** Starts the workers, the WebRtcServers and the signalling server (in this process). */
export async function startMediasoupIon(options: Partial<Options> = {}): Promise<MediasoupIon> {
  const o: Options = { ...parseOptions([]), ...options };
  const handle: MediasoupIon = {
    ready: { ws: '', httpPort: 0, pid: process.pid, workerPids: [], udpHost: o.udpHost, udpPorts: [], mediasoup: '' },
    onWorkerDied: () => {},
    close: () => {},
  };
  const ms = loadMediasoup(o.mediasoupDir);
  const slots: WorkerSlot[] = [];
  const udpPorts: number[] = [];
  const closeAll = (): void => {
    for (const s of slots) s.worker.close();
  };
  try {
    for (let i = 0; i < o.workers; i++) {
      const worker = await ms.createWorker({ logLevel: o.logLevel });
      worker.on('died', (err: unknown) => handle.onWorkerDied(worker.pid, err));
      slots.push({ worker, server: undefined as unknown as WebRtcServer });
      const port = o.udpPort === 0 ? undefined : o.udpPort + i;
      const server = await worker.createWebRtcServer({ listenInfos: [{ protocol: 'udp', ip: o.udpHost, port }] });
      slots[i]!.server = server;
      udpPorts.push(...(await server.dump()).udpSockets.map((x) => x.port));
    }
  } catch (err) {
    closeAll();
    throw err;
  }
  const rooms = new Rooms(slots);
  const peers = new Set<Peer>();

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/health') {
      const body = JSON.stringify({ ok: true, mediasoup: ms.version, rooms: rooms.count(), peers: peers.size, workerPids: slots.map((s) => s.worker.pid) });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(body);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  http.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/ws') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const peer = new Peer(ws, rooms);
      peers.add(peer);
      ws.on('close', () => peers.delete(peer));
    });
  });
  try {
    await new Promise<void>((res, rej) => {
      http.once('error', rej);
      http.listen(o.port, o.host, () => res());
    });
  } catch (err) {
    closeAll();
    throw err;
  }
  const addr = http.address() as { port: number };
  return Object.assign(handle, {
    ready: {
      ws: `ws://${o.host}:${addr.port}/ws`,
      httpPort: addr.port,
      pid: process.pid,
      workerPids: slots.map((s) => s.worker.pid),
      udpHost: o.udpHost,
      udpPorts,
      mediasoup: ms.version,
    },
    close: () => {
      for (const p of peers) p.close();
      wss.close();
      http.close();
      http.closeAllConnections();
      closeAll();
    },
  });
}

async function main(): Promise<void> {
  const server = await startMediasoupIon(parseOptions(process.argv.slice(2)));
  server.onWorkerDied = (pid, err) => {
    process.stderr.write(`mediasoup-ion: worker ${pid} died: ${String(err)}\n`);
    process.exit(1);
  };
  process.stdout.write(`mediasoup-ion ready ${JSON.stringify(server.ready)}\n`);
  const stop = (): void => {
    server.close();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`mediasoup-ion: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
