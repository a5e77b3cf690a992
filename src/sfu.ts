/**
 * The top-level object: owns the control-plane servers and, as the transport,
 * router and shard issues land, the data plane. `Sfu.create()` starts
 * listening; `close()` stops everything and resolves once every socket is
 * closed, so a daemon can exit cleanly and a test can reuse the ports.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { defaultConfig, type SfuConfig } from './config.js';
import { silentLogger, type Logger } from './logger.js';
import { ClosedError, ConfigError, SfuError } from './errors.js';
import { Admission } from './signal/admission.js';
import { Refusals } from './signal/jsonrpc/refusals.js';
import { VERSION } from './version.js';
import { WebRtcServer } from './transport/webrtc-server.js';
import { RoomRegistry, type RoomPolicyOptions } from './router/room.js';
import { IonPeer } from './signal/ion-peer.js';
import { createDemoHandler } from './signal/demo/handler.js';
import { SfuMetrics, type MetricsOptions } from './metrics/metrics.js';
import { DropLog } from './metrics/drop-log.js';
import { WebhookNotifier, forwardRoomEvents, type WebhookOptions } from './webhooks/index.js';
import type { PreferredLayers } from './router/consumer.js';
import { SignalWsServer, handleHttpJsonRpc, RPC_PATH, type AdminApi, type RoomDetail } from './signal/jsonrpc/index.js';

export interface SfuOptions {
  config?: Partial<SfuConfig>;
  logger?: Logger;
  /** ICE checks from remote addresses this rejects are dropped (an ACL for the media port). */
  acceptRemote?: (address: string) => boolean;
  /** PEM certificate and key in memory (instead of config.tlsCert/tlsKey files): serve https and wss. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Prometheus options (`/metrics` itself, or `config.metricsListen`, says where it is served). */
  metrics?: MetricsOptions;
  /** Lifecycle webhooks; default from `config.webhookUrl` / `config.webhookSecret`, off without them. */
  webhooks?: WebhookOptions;
  /** Period of the rate-limited drop summaries in the log (default 10 s; 0: off). */
  dropLogIntervalMs?: number;
  /** Big-room policy beyond the config's last-N / loudest-K (e.g. `silenceDetection`); wins over the config. */
  roomPolicy?: RoomPolicyOptions;
}

/** How long `close()` lets queued webhooks (the room_finished of every room, say) go out. */
const WEBHOOK_DRAIN_MS = 2000;

/** What `drain()` saw. */
export interface DrainResult {
  /** Joined peers still connected when the timeout ran out (then closed). */
  peersLeft: number;
  timedOut: boolean;
}

export class Sfu {
  readonly config: SfuConfig;
  private readonly log: Logger;
  private readonly http: Server;
  /** ion-sfu's `-m`: /metrics on its own port. */
  private readonly metricsHttp: Server | undefined;
  private readonly tls: boolean;
  private media: WebRtcServer | undefined;
  readonly rooms: RoomRegistry;
  /** Requests refused on purpose (policy, limits, tokens, draining), by reason. */
  readonly refusals = new Refusals();
  private readonly admission: Admission;
  private readonly signal: SignalWsServer;
  private readonly admin: AdminApi;
  private readonly demo = createDemoHandler();
  readonly metrics: SfuMetrics;
  private readonly dropLog: DropLog | undefined;
  private readonly webhooks: WebhookNotifier | undefined;
  private closed = false;
  private drainResult: Promise<DrainResult> | undefined;
  private readonly startedAt = Date.now();

  private constructor(config: SfuConfig, log: Logger, tls: { cert: string | Buffer; key: string | Buffer } | undefined, opts: SfuOptions) {
    this.config = config;
    this.log = log;
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.onHttp(req, res);
    try {
      this.http = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createServer(onRequest);
    } catch (err) {
      throw new ConfigError(`TLS certificate or key unusable: ${(err as Error).message}`, { cause: err });
    }
    this.tls = tls !== undefined;
    this.rooms = new RoomRegistry(
      { intervalMs: config.audioLevelIntervalMs, threshold: config.audioLevelThreshold, filter: config.audioLevelFilter },
      { lastN: config.lastN, lastNMinParticipants: config.lastNMinParticipants, loudestK: config.loudestK, ...opts.roomPolicy },
    );
    this.metricsHttp = config.metricsListen ? createServer((req, res) => this.onMetricsHttp(req, res)) : undefined;
    this.admission = new Admission({ config, rooms: this.rooms, refusals: this.refusals });
    const webhookOpts = opts.webhooks ?? (config.webhookUrl ? { url: config.webhookUrl, secret: config.webhookSecret ?? '' } : undefined);
    if (webhookOpts) {
      this.webhooks = new WebhookNotifier({ logger: log, ...webhookOpts });
      forwardRoomEvents(this.rooms, this.webhooks);
    }
    this.metrics = new SfuMetrics(
      { media: () => this.media, rooms: this.rooms, signal: () => this.signal.getStats(), webhooks: () => this.webhooks?.getStats() },
      opts.metrics,
    );
    const quality = this.metrics.linkQuality;
    this.signal = new SignalWsServer({
      factory: {
        create: (notify) =>
          new IonPeer({
            rooms: this.rooms,
            server: this.webRtcServer,
            notify,
            logger: this.log,
            quality,
            maxDataChannels: config.maxDataChannelsPerPeer,
            onRefusal: (reason) => this.refusals.count(reason),
          }),
      },
      admission: this.admission,
      refusals: this.refusals,
      maxFrameBytes: config.maxMessageBytes,
      logger: this.log.child({ sub: 'signal' }),
      onRequest: this.metrics.rpcObserver('ws'),
    });
    this.signal.attach(this.http);
    this.admin = this.createAdminApi();
    if (opts.dropLogIntervalMs !== 0) {
      this.dropLog = new DropLog({ logger: this.log, totals: () => this.metrics.dropTotals(), intervalMs: opts.dropLogIntervalMs });
    }
    this.rooms.on('room', (room) => {
      const roomLog = this.log.child({ sub: 'room', sid: room.sid });
      roomLog.info('room opened');
      room.once('close', () => roomLog.info({ ageSec: Math.round((Date.now() - room.createdAt) / 1000) }, 'room closed'));
    });
  }

  /** The backend API behind HTTP JSON-RPC (`POST /rpc`). */
  private createAdminApi(): AdminApi {
    const detail = (sid: string): RoomDetail | undefined => {
      const room = this.rooms.get(sid);
      if (!room) return undefined;
      return {
        sid,
        peers: room.memberList.map((m) => ({
          uid: m.uid,
          tracks: m.producers.map((p) => ({ id: p.trackId, kind: p.kind, streamId: p.streamId })),
        })),
        stats: { ageMs: Date.now() - room.createdAt, ...room.trafficStats() },
      };
    };
    return {
      ping: () => ({ pong: true, version: VERSION, uptimeSec: Math.round((Date.now() - this.startedAt) / 1000) }),
      listRooms: () => this.rooms.list.map((r) => ({ sid: r.sid, peers: r.memberCount, tracks: r.producers.length })),
      getRoom: detail,
      closeRoom: (sid) => {
        const room = this.rooms.get(sid);
        if (!room) return false;
        room.close();
        return true;
      },
      removePeer: (sid, uid) => {
        const room = this.rooms.get(sid);
        if (!room) return 'room-not-found';
        const m = room.getMember(uid);
        if (!m) return 'peer-not-found';
        m.close('removed by the admin API');
        return 'removed';
      },
      setPreferredLayers: (sid, uid, streamId, layers) => this.setPreferredLayers(sid, uid, streamId, layers),
      setLastN: (sid, uid, n, pinned) => this.setLastN(sid, uid, n ?? undefined, pinned),
    };
  }

  /**
   * Caps the video peer `uid` of room `sid` receives of stream `streamId`:
   * spatial/temporal 0 (low) .. 2 (high), or 'none' to pause it. Returns the
   * number of tracks changed, or which of room and peer was not found.
   */
  setPreferredLayers(
    sid: string,
    uid: string,
    streamId: string,
    layers: PreferredLayers | 'none',
  ): number | 'room-not-found' | 'peer-not-found' {
    const room = this.rooms.get(sid);
    if (!room) return 'room-not-found';
    const m = room.getMember(uid);
    if (!m) return 'peer-not-found';
    return m.setPreferredLayers(streamId, layers);
  }

  /**
   * Peer `uid`'s own last-N video (undefined: the room's policy) and the
   * streams it pins (always received).
   */
  setLastN(sid: string, uid: string, n: number | undefined, pinned?: readonly string[]): 'ok' | 'room-not-found' | 'peer-not-found' {
    const room = this.rooms.get(sid);
    if (!room) return 'room-not-found';
    const m = room.getMember(uid);
    if (!m) return 'peer-not-found';
    m.setLastN(n, pinned);
    return 'ok';
  }

  /** Creates an SFU and starts listening. Rejects (and leaves nothing open) if a port is taken. */
  static async create(opts: SfuOptions = {}): Promise<Sfu> {
    const config = { ...defaultConfig(), ...opts.config };
    const sfu = new Sfu(config, opts.logger ?? silentLogger(), opts.tls ?? (await readTls(config)), opts);
    await sfu.listen(opts.acceptRemote);
    return sfu;
  }

  /** The media side: UDP mux, DTLS certificate, transports. */
  get webRtcServer(): WebRtcServer {
    if (!this.media) throw new ClosedError('sfu');
    return this.media;
  }

  private async listen(acceptRemote?: (address: string) => boolean): Promise<void> {
    const c = this.config;
    this.media = await WebRtcServer.create({
      listen: [{ ip: c.udpHost, port: c.udpPort, announcedIp: c.announcedIp }],
      acceptRemote,
      consentTimeoutMs: c.iceConsentTimeoutMs,
      logger: this.log,
    });
    this.metrics.attach();
    const mux = this.media.muxes[0]!;
    this.log.info({ udp: `${mux.host}:${mux.port}`, announcedIp: c.announcedIp, fingerprint: this.media.certificate.fingerprint }, 'media listening');
    try {
      await this.listenHttp();
    } catch (err) {
      if (this.http.listening) this.http.close();
      if (this.metricsHttp?.listening) this.metricsHttp.close();
      this.metrics.close();
      this.dropLog?.close();
      await Promise.all([this.media.close(), this.webhooks?.close()]);
      throw err;
    }
  }

  private async listenHttp(): Promise<void> {
    await listenOn(this.http, this.config.listen);
    this.log.info({ http: this.httpUrl, tls: this.tls, tokens: this.admission.tokensRequired, version: VERSION }, 'signalling and HTTP listening');
    if (!this.metricsHttp || !this.config.metricsListen) return;
    try {
      await listenOn(this.metricsHttp, this.config.metricsListen);
    } catch (err) {
      this.http.close();
      throw err;
    }
    this.log.info({ metrics: `${urlOf('http', this.metricsHttp)}/metrics` }, 'metrics listening');
  }

  /** The bound HTTP address (port resolved when 0 was asked for). */
  get httpAddress(): { host: string; port: number } {
    const a = this.http.address() as AddressInfo | null;
    if (!a) throw new ClosedError('sfu');
    return { host: a.address, port: a.port };
  }

  /** `http://` or, with TLS, `https://` (the WebSocket is at the same address, `ws://`/`wss://` + `/ws`). */
  get httpUrl(): string {
    return urlOf(this.tls ? 'https' : 'http', this.http);
  }

  /** Where `/metrics` is served: its own address with `metricsListen`, else the signalling one. */
  get metricsUrl(): string {
    return this.metricsHttp?.listening ? urlOf('http', this.metricsHttp) : this.httpUrl;
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === RPC_PATH) {
      void handleHttpJsonRpc(req, res, this.admin, {
        authorize: (r) => this.authorizeAdmin(r),
        logger: this.log.child({ sub: 'admin' }),
        onRequest: this.metrics.rpcObserver('http'),
      });
      return;
    }
    if (this.demo(req, res)) return;
    // With its own address (ion-sfu's -m), /metrics is served only there.
    if (req.method === 'GET' && path === '/metrics' && !this.metricsHttp) {
      this.serveMetrics(res);
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      // Liveness: the process answers.
      this.reply(res, 200, { status: 'ok', version: VERSION, uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) });
      return;
    }
    if (req.method === 'GET' && path === '/ready') {
      const r = this.readiness();
      this.reply(res, r.ready ? 200 : 503, r);
      return;
    }
    this.reply(res, 404, { error: 'not found' });
  }

  private onMetricsHttp(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'GET' && (req.url ?? '/').split('?', 1)[0] === '/metrics') this.serveMetrics(res);
    else this.reply(res, 404, { error: 'not found' });
  }

  private serveMetrics(res: ServerResponse): void {
    this.metrics.text().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      },
      (err: unknown) => this.reply(res, 500, { error: (err as Error).message }),
    );
  }

  private async authorizeAdmin(req: IncomingMessage): ReturnType<Admission['authorizeAdmin']> {
    const denied = await this.admission.authorizeAdmin(req);
    if (denied) this.refusals.count(denied.reason);
    return denied;
  }

  /**
   * Readiness (`/ready`): the media sockets are bound and sfud is not
   * draining or closed. The data plane runs in this thread (one unit, no
   * shards yet), so its state is the state of the media muxes here.
   */
  readiness(): { ready: boolean; draining: boolean; closed: boolean; media: { address: string }[]; dataPlane: 'in-thread' } {
    const media = this.closed ? [] : this.media?.muxes.map((m) => ({ address: `${m.host.includes(':') ? `[${m.host}]` : m.host}:${m.port}` })) ?? [];
    const draining = this.signal.draining;
    return { ready: !this.closed && !draining && media.length > 0, draining, closed: this.closed, media, dataPlane: 'in-thread' };
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  dump(): { version: string; config: SfuConfig; closed: boolean } {
    const config = { ...this.config, webhookSecret: this.config.webhookSecret === undefined ? undefined : '<redacted>' };
    return { version: VERSION, config, closed: this.closed };
  }

  getStats(): Record<string, unknown> {
    return { media: this.media?.getStats() };
  }

  /**
   * Graceful shutdown: new joins are refused (error 503; new WebSocket
   * upgrades get HTTP 503, `/ready` 503), every connected client gets the
   * `draining` notification with the deadline, and calls go on until their
   * clients leave or `timeoutMs` passes; then everything is closed. Safe to
   * call twice (the second call gets the first one's result).
   */
  drain(timeoutMs: number = this.config.drainTimeoutMs): Promise<DrainResult> {
    this.drainResult ??= this.runDrain(timeoutMs);
    return this.drainResult;
  }

  private async runDrain(timeoutMs: number): Promise<DrainResult> {
    this.log.info({ timeoutMs, peers: this.signal.joinedCount }, 'draining');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.signal.drain(Date.now() + timeoutMs, timeoutMs).then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    const peersLeft = this.signal.joinedCount;
    this.log.info({ timedOut, peersLeft }, 'drained');
    await this.close();
    return { peersLeft, timedOut };
  }

  /** Stops listening and closes every connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signal.close();
    this.rooms.closeAll();
    this.dropLog?.close();
    this.metrics.close();
    const done = once(this.http, 'close');
    this.http.close();
    this.http.closeAllConnections();
    const metricsDone = this.metricsHttp?.listening ? once(this.metricsHttp, 'close') : undefined;
    this.metricsHttp?.close();
    this.metricsHttp?.closeAllConnections();
    // The rooms just closed queued their room_finished events: give them a moment to go out.
    await Promise.all([done, metricsDone, this.media?.close(), this.webhooks?.close(WEBHOOK_DRAIN_MS)]);
    this.log.info('closed');
  }
}

/** Reads config.tlsCert/tlsKey; an unreadable file is a configuration error. */
async function readTls(c: SfuConfig): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (c.tlsCert === undefined && c.tlsKey === undefined) return undefined;
  if (c.tlsCert === undefined || c.tlsKey === undefined) throw new ConfigError('TLS needs both a certificate (tlsCert) and its key (tlsKey)');
  const read = async (path: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new ConfigError(`cannot read the TLS ${what} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return { cert: await read(c.tlsCert, 'certificate'), key: await read(c.tlsKey, 'key') };
}

async function listenOn(server: Server, { host, port }: { host: string; port: number }): Promise<void> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    throw new SfuError('ERR_SFUD_LISTEN', `cannot listen on ${host}:${port}: ${(err as Error).message}`, { cause: err });
  }
}

function urlOf(scheme: 'http' | 'https', server: Server): string {
  const a = server.address() as AddressInfo | null;
  if (!a) throw new ClosedError('sfu');
  return `${scheme}://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
}
