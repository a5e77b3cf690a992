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
import type { WebRtcServer } from './transport/webrtc-server.js';
import { RoomRegistry, type RoomPolicyOptions } from './router/room.js';
import { generateCertificate } from './dtls/certificate.js';
import { ShardHost } from './shard/host.js';
import { LocalDataPlane, formatAddress, type DataPlane } from './shard/data-plane.js';
import { ShardPool } from './shard/pool.js';
import type { CrashMode } from './shard/protocol.js';
import type { ShardStatus } from './metrics/shards.js';
import { createDemoHandler } from './signal/demo/handler.js';
import { SfuMetrics, type MetricsOptions } from './metrics/metrics.js';
import { DropLog } from './metrics/drop-log.js';
import { WebhookNotifier, forwardRoomEvents, type WebhookOptions } from './webhooks/index.js';
import type { PreferredLayers } from './router/consumer.js';
import { SignalWsServer, handleHttpJsonRpc, RPC_PATH, type AdminApi, type MemberOutcome, type RoomDetail, type RoomSummary } from './signal/jsonrpc/index.js';

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
  /**
   * Lets `crashShard()` make a shard fail (supervision tests). Off by
   * default; nothing on the wire reaches it.
   */
  shardTestHooks?: boolean;
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
  /** The in-thread data plane (`shards: 0`), or undefined with worker shards. */
  private readonly local: ShardHost | undefined;
  private readonly pool: ShardPool | undefined;
  private readonly plane: DataPlane;
  /** The in-thread rooms; with shards an empty registry (metrics read it, the rooms are in the shards). */
  private readonly roomRegistry: RoomRegistry;
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
    this.metricsHttp = config.metricsListen ? createServer((req, res) => this.onMetricsHttp(req, res)) : undefined;
    const webhookOpts = opts.webhooks ?? (config.webhookUrl ? { url: config.webhookUrl, secret: config.webhookSecret ?? '' } : undefined);
    if (webhookOpts) this.webhooks = new WebhookNotifier({ logger: log, ...webhookOpts });
    const onRefusal = (reason: 'tooManyDataChannels'): void => this.refusals.count(reason);
    if (config.shards > 0) {
      if (opts.acceptRemote) throw new ConfigError('acceptRemote (a function) cannot reach worker shards: use shards: 0 for it');
      this.pool = new ShardPool({
        count: config.shards,
        basePort: config.udpPort,
        init: {
          config,
          roomPolicy: opts.roomPolicy,
          logLevel: log.level as SfuConfig['logLevel'],
          perPeerLabels: opts.metrics?.perPeerLabels === true,
          webhooks: this.webhooks !== undefined,
          testHooks: opts.shardTestHooks === true,
        },
        logger: log,
        webhooks: this.webhooks,
        onRefusal,
        roomShardFanout: config.roomShardFanout,
      });
      this.plane = this.pool;
      this.roomRegistry = new RoomRegistry();
    } else {
      const host = new ShardHost({ config, logger: log, roomPolicy: opts.roomPolicy, acceptRemote: opts.acceptRemote });
      this.local = host;
      this.plane = new LocalDataPlane(host, () => ({ quality: this.metrics.linkQuality, onRefusal }));
      this.roomRegistry = host.rooms;
      if (this.webhooks) forwardRoomEvents(host.rooms, this.webhooks);
    }
    this.admission = new Admission({ config, occupancy: (sid, uid) => this.plane.occupancy(sid, uid), refusals: this.refusals });
    this.metrics = new SfuMetrics(
      {
        media: () => this.local?.server,
        rooms: this.roomRegistry,
        signal: () => this.signal.getStats(),
        webhooks: () => this.webhooks?.getStats(),
        shards: this.pool ? () => this.plane.shards() : undefined,
        remote: () => this.plane.remoteMetrics(),
      },
      opts.metrics,
    );
    this.signal = new SignalWsServer({
      factory: { create: (notify, info) => this.plane.createSession(notify, info) },
      admission: this.admission,
      refusals: this.refusals,
      maxFrameBytes: config.maxMessageBytes,
      logger: this.log.child({ sub: 'signal' }),
      onRequest: this.metrics.rpcObserver('ws'),
    });
    this.signal.attach(this.http);
    this.admin = this.createAdminApi();
    // With shards each shard logs its own drop summaries.
    if (opts.dropLogIntervalMs !== 0 && this.local) {
      this.dropLog = new DropLog({ logger: this.log, totals: () => this.metrics.dropTotals(), intervalMs: opts.dropLogIntervalMs });
    }
  }

  /**
   * The rooms of the in-thread data plane (`shards: 0`). With shards the rooms
   * live in the workers: use `listRooms()` / `getRoom()` (plain values).
   */
  get rooms(): RoomRegistry {
    if (this.pool) throw new SfuError('ERR_SFUD_SHARDED', 'the rooms live in worker shards: use listRooms() or getRoom()');
    return this.roomRegistry;
  }

  /** Every room, on every shard (what the admin API's listRooms returns). */
  async listRooms(): Promise<RoomSummary[]> {
    return this.plane.listRooms();
  }

  /** One room's members, tracks and counters, from the shard that holds it. */
  async getRoom(sid: string): Promise<RoomDetail | undefined> {
    return this.plane.getRoom(sid);
  }

  /** The shards (empty with the data plane in-thread): state, port, restarts and last load report. */
  get shards(): ShardStatus[] {
    return this.plane.shards();
  }

  /** Which shard holds room `sid` (undefined in-thread or when no peer of it is here). */
  shardOf(sid: string): number | undefined {
    return this.pool?.shardOf(sid);
  }

  /** The shards room `sid` spans (home first) and its sessions on each; empty in-thread. */
  shardsOf(sid: string): { shard: number; sessions: number }[] {
    return this.pool?.shardsOf(sid) ?? [];
  }

  /** Test hook (`shardTestHooks`): makes shard `index` exit, throw or spin, as a data-plane bug would. */
  crashShard(index: number, mode: CrashMode): Promise<null> {
    if (!this.pool) return Promise.reject(new SfuError('ERR_SFUD_STATE', 'no shards: the data plane runs in this thread'));
    return this.pool.crash(index, mode);
  }

  /** The backend API behind HTTP JSON-RPC (`POST /rpc`): the data plane answers, in-thread or from the shards. */
  private createAdminApi(): AdminApi {
    const plane = this.plane;
    return {
      ping: () => ({ pong: true, version: VERSION, uptimeSec: Math.round((Date.now() - this.startedAt) / 1000) }),
      listRooms: () => plane.listRooms(),
      getRoom: (sid) => plane.getRoom(sid),
      closeRoom: (sid) => plane.closeRoom(sid),
      removePeer: (sid, uid) => plane.removePeer(sid, uid),
      setPreferredLayers: (sid, uid, streamId, layers) => plane.setPreferredLayers(sid, uid, streamId, layers),
      setLastN: (sid, uid, n, pinned) => plane.setLastN(sid, uid, n ?? undefined, pinned),
    };
  }

  /**
   * Caps the video peer `uid` of room `sid` receives of stream `streamId`:
   * spatial/temporal 0 (low) .. 2 (high), or 'none' to pause it. Returns the
   * number of tracks changed, or which of room and peer was not found: at once
   * with the data plane in-thread, as a promise with shards.
   */
  setPreferredLayers(
    sid: string,
    uid: string,
    streamId: string,
    layers: PreferredLayers | 'none',
  ): number | 'room-not-found' | 'peer-not-found' | Promise<number | 'room-not-found' | 'peer-not-found'> {
    return this.plane.setPreferredLayers(sid, uid, streamId, layers);
  }

  /**
   * Peer `uid`'s own last-N video (undefined: the room's policy) and the
   * streams it pins (always received). At once in-thread, a promise with shards.
   */
  setLastN(sid: string, uid: string, n: number | undefined, pinned?: readonly string[]): MemberOutcome | Promise<MemberOutcome> {
    return this.plane.setLastN(sid, uid, n, pinned);
  }

  /** Creates an SFU and starts listening. Rejects (and leaves nothing open) if a port is taken. */
  static async create(opts: SfuOptions = {}): Promise<Sfu> {
    // The library runs the data plane in this thread unless shards are asked for (the daemon asks for one per core).
    const config = { ...defaultConfig(), shards: 0, ...opts.config };
    const sfu = new Sfu(config, opts.logger ?? silentLogger(), opts.tls ?? (await readTls(config)), opts);
    await sfu.listen();
    return sfu;
  }

  /** The in-thread media side (`shards: 0`): UDP mux, DTLS certificate, transports. */
  get webRtcServer(): WebRtcServer {
    if (this.pool) throw new SfuError('ERR_SFUD_SHARDED', 'the media servers live in worker shards');
    const media = this.local?.server;
    if (!media || this.closed) throw new ClosedError('sfu');
    return media;
  }

  /**
   * Media and HTTP start side by side: shards take a while to load, and
   * meanwhile `/health` answers and `/ready` says 503 (joins are refused until
   * a shard is up). If either fails, both are closed.
   */
  private async listen(): Promise<void> {
    const [media, http] = await Promise.allSettled([this.listenMedia(), this.listenHttp()]);
    if (media.status === 'fulfilled' && http.status === 'fulfilled') return;
    if (this.http.listening) this.http.close();
    if (this.metricsHttp?.listening) this.metricsHttp.close();
    this.metrics.close();
    this.dropLog?.close();
    await Promise.all([this.plane.close(), this.webhooks?.close()]);
    throw media.status === 'rejected' ? media.reason : (http as PromiseRejectedResult).reason;
  }

  private async listenMedia(): Promise<void> {
    const c = this.config;
    // One certificate for every shard: the same fingerprint whichever shard a peer lands on.
    const certificate = await generateCertificate();
    if (this.pool) {
      await this.pool.start(certificate);
      const udp = this.pool.shards().map((s) => formatAddress(c.udpHost, s.port));
      this.log.info({ udp: udp[0], shards: udp, announcedIp: c.announcedIp, fingerprint: certificate.fingerprint }, 'media listening');
    } else if (this.local) {
      await this.local.listen(c.udpPort, certificate);
      this.metrics.attach();
      this.log.info({ udp: formatAddress(c.udpHost, this.local.port), announcedIp: c.announcedIp, fingerprint: certificate.fingerprint }, 'media listening');
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
   * draining or closed. With shards, every shard must be up: one that failed
   * and is restarting makes sfud not ready until it is back.
   */
  readiness(): {
    ready: boolean;
    draining: boolean;
    closed: boolean;
    media: { address: string }[];
    dataPlane: 'in-thread' | 'shards';
    shards?: { index: number; state: ShardStatus['state']; port: number; restarts: number }[];
  } {
    const media = this.closed ? [] : this.plane.media();
    const draining = this.signal.draining;
    const shards = this.pool ? this.plane.shards().map(({ index, state, port, restarts }) => ({ index, state, port, restarts })) : undefined;
    const shardsUp = shards?.every((s) => s.state === 'up') ?? true;
    return {
      ready: !this.closed && !draining && media.length > 0 && shardsUp,
      draining,
      closed: this.closed,
      media,
      dataPlane: this.plane.mode,
      ...(shards ? { shards } : {}),
    };
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

  /** In-thread: the media server's stats; with shards: each shard's state, restarts and load (ELU, pps, consumers, rooms, peers). */
  getStats(): Record<string, unknown> {
    return this.plane.getStats();
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
    this.dropLog?.close();
    this.metrics.close();
    const done = once(this.http, 'close');
    this.http.close();
    this.http.closeAllConnections();
    const metricsDone = this.metricsHttp?.listening ? once(this.metricsHttp, 'close') : undefined;
    this.metricsHttp?.close();
    this.metricsHttp?.closeAllConnections();
    // Closing the data plane closes its rooms (in the shards too, whose webhooks arrive before they stop).
    await Promise.all([done, metricsDone, this.plane.close()]);
    if (this.pool) this.roomRegistry.closeAll();
    // The rooms just closed queued their room_finished events: give them a moment to go out.
    await this.webhooks?.close(WEBHOOK_DRAIN_MS);
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
