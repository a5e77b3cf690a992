/**
 * The top-level object: owns the control-plane servers and, as the transport,
 * router and shard issues land, the data plane. `Sfu.create()` starts
 * listening; `close()` stops everything and resolves once every socket is
 * closed, so a daemon can exit cleanly and a test can reuse the ports.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { defaultConfig, type SfuConfig } from './config.js';
import { silentLogger, type Logger } from './logger.js';
import { ClosedError, SfuError } from './errors.js';
import { VERSION } from './version.js';
import { WebRtcServer } from './transport/webrtc-server.js';
import { RoomRegistry } from './router/room.js';
import { IonPeer } from './signal/ion-peer.js';
import { createDemoHandler } from './signal/demo/handler.js';
import { SfuMetrics, type MetricsOptions } from './metrics/metrics.js';
import { DropLog } from './metrics/drop-log.js';
import { WebhookNotifier, forwardRoomEvents, type WebhookOptions } from './webhooks/index.js';
import { SignalWsServer, handleHttpJsonRpc, RPC_PATH, type AdminApi, type HttpJsonRpcOptions, type RoomDetail } from './signal/jsonrpc/index.js';

export interface SfuOptions {
  config?: Partial<SfuConfig>;
  logger?: Logger;
  /** ICE checks from remote addresses this rejects are dropped (an ACL for the media port). */
  acceptRemote?: (address: string) => boolean;
  /** Prometheus options (`/metrics` itself, or `config.metricsListen`, says where it is served). */
  metrics?: MetricsOptions;
  /** Lifecycle webhooks; default from `config.webhookUrl` / `config.webhookSecret`, off without them. */
  webhooks?: WebhookOptions;
  /** Period of the rate-limited drop summaries in the log (default 10 s; 0: off). */
  dropLogIntervalMs?: number;
}

/** How long `close()` lets queued webhooks (the room_finished of every room, say) go out. */
const WEBHOOK_DRAIN_MS = 2000;

export class Sfu {
  readonly config: SfuConfig;
  private readonly log: Logger;
  private readonly http: Server;
  /** `/metrics` alone, when `config.metricsListen` asks for its own address. */
  private readonly metricsHttp: Server | undefined;
  private media: WebRtcServer | undefined;
  readonly rooms = new RoomRegistry();
  private readonly signal: SignalWsServer;
  private readonly admin: AdminApi;
  private readonly demo = createDemoHandler();
  readonly metrics: SfuMetrics;
  private readonly dropLog: DropLog | undefined;
  private readonly webhooks: WebhookNotifier | undefined;
  private readonly httpRpc: HttpJsonRpcOptions;
  private closed = false;
  private readonly startedAt = Date.now();

  private constructor(config: SfuConfig, log: Logger, opts: SfuOptions) {
    this.config = config;
    this.log = log;
    this.http = createServer((req, res) => this.onHttp(req, res));
    if (config.metricsListen) this.metricsHttp = createServer((req, res) => this.onMetricsHttp(req, res));
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
      factory: { create: (notify) => new IonPeer({ rooms: this.rooms, server: this.webRtcServer, notify, logger: this.log, quality }) },
      logger: this.log.child({ sub: 'signal' }),
      onRequest: this.metrics.rpcObserver('ws'),
    });
    this.signal.attach(this.http);
    this.admin = this.createAdminApi();
    this.httpRpc = { logger: this.log.child({ sub: 'admin' }), onRequest: this.metrics.rpcObserver('http') };
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
    };
  }

  /** Creates an SFU and starts listening. Rejects (and leaves nothing open) if a port is taken. */
  static async create(opts: SfuOptions = {}): Promise<Sfu> {
    const config = { ...defaultConfig(), ...opts.config };
    const sfu = new Sfu(config, opts.logger ?? silentLogger(), opts);
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
      logger: this.log,
    });
    this.metrics.attach();
    const mux = this.media.muxes[0]!;
    this.log.info({ udp: `${mux.host}:${mux.port}`, announcedIp: c.announcedIp, fingerprint: this.media.certificate.fingerprint }, 'media listening');
    try {
      await this.listenHttp(this.http, this.config.listen);
      this.log.info({ http: this.httpUrl, version: VERSION }, 'signalling and HTTP listening');
      if (this.metricsHttp && this.config.metricsListen) {
        await this.listenHttp(this.metricsHttp, this.config.metricsListen);
        this.log.info({ metrics: `${this.metricsUrl}/metrics` }, 'metrics listening');
      }
    } catch (err) {
      if (this.http.listening) this.http.close();
      if (this.metricsHttp?.listening) this.metricsHttp.close();
      this.metrics.close();
      this.dropLog?.close();
      await Promise.all([this.media.close(), this.webhooks?.close()]);
      throw err;
    }
  }

  private async listenHttp(server: Server, { host, port }: { host: string; port: number }): Promise<void> {
    server.listen(port, host);
    try {
      await once(server, 'listening');
    } catch (err) {
      throw new SfuError('ERR_SFUD_LISTEN', `cannot listen on ${host}:${port}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The bound HTTP address (port resolved when 0 was asked for). */
  get httpAddress(): { host: string; port: number } {
    const a = this.http.address() as AddressInfo | null;
    if (!a) throw new ClosedError('sfu');
    return { host: a.address, port: a.port };
  }

  get httpUrl(): string {
    return urlOf(this.http);
  }

  /** Where `/metrics` is served: its own server with `config.metricsListen`, else the signalling one. */
  get metricsUrl(): string {
    return urlOf(this.metricsHttp ?? this.http);
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === RPC_PATH) {
      void handleHttpJsonRpc(req, res, this.admin, this.httpRpc);
      return;
    }
    if (this.demo(req, res)) return;
    if (req.method === 'GET' && path === '/metrics' && !this.metricsHttp) {
      this.serveMetrics(res);
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      this.reply(res, 200, { status: 'ok', version: VERSION, uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) });
      return;
    }
    this.reply(res, 404, { error: 'not found' });
  }

  private onMetricsHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method === 'GET' && path === '/metrics') this.serveMetrics(res);
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

  /** Stops listening and closes every connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signal.close();
    this.rooms.closeAll();
    this.dropLog?.close();
    this.metrics.close();
    const done = [once(this.http, 'close')];
    this.http.close();
    this.http.closeAllConnections();
    if (this.metricsHttp?.listening) {
      done.push(once(this.metricsHttp, 'close'));
      this.metricsHttp.close();
      this.metricsHttp.closeAllConnections();
    }
    // The rooms just closed queued their room_finished events: give them a moment to go out.
    await Promise.all([...done, this.media?.close(), this.webhooks?.close(WEBHOOK_DRAIN_MS)]);
    this.log.info('closed');
  }
}

function urlOf(server: Server): string {
  const a = server.address() as AddressInfo | null;
  if (!a) throw new ClosedError('sfu');
  const host = a.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}
