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
import { SfuMetrics } from './metrics/metrics.js';
import type { PreferredLayers } from './router/consumer.js';
import { SignalWsServer, handleHttpJsonRpc, RPC_PATH, type AdminApi, type RoomDetail } from './signal/jsonrpc/index.js';

export interface SfuOptions {
  config?: Partial<SfuConfig>;
  logger?: Logger;
  /** ICE checks from remote addresses this rejects are dropped (an ACL for the media port). */
  acceptRemote?: (address: string) => boolean;
}

export class Sfu {
  readonly config: SfuConfig;
  private readonly log: Logger;
  private readonly http: Server;
  private media: WebRtcServer | undefined;
  readonly rooms = new RoomRegistry();
  private readonly signal: SignalWsServer;
  private readonly admin: AdminApi;
  private readonly demo = createDemoHandler();
  readonly metrics: SfuMetrics;
  private closed = false;
  private readonly startedAt = Date.now();

  private constructor(config: SfuConfig, log: Logger) {
    this.config = config;
    this.log = log;
    this.http = createServer((req, res) => this.onHttp(req, res));
    this.signal = new SignalWsServer({
      factory: { create: (notify) => new IonPeer({ rooms: this.rooms, server: this.webRtcServer, notify, logger: this.log.child({ tag: 'peer' }) }) },
      logger: this.log.child({ tag: 'signal' }),
    });
    this.signal.attach(this.http);
    this.admin = this.createAdminApi();
    this.metrics = new SfuMetrics({ media: () => this.media, rooms: this.rooms, signal: this.signal });
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
    const sfu = new Sfu(config, opts.logger ?? silentLogger());
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
      logger: this.log.child({ tag: 'transport' }),
    });
    this.metrics.attach();
    const mux = this.media.muxes[0]!;
    this.log.info({ udp: `${mux.host}:${mux.port}`, announcedIp: c.announcedIp, fingerprint: this.media.certificate.fingerprint }, 'media listening');
    try {
      await this.listenHttp();
    } catch (err) {
      await this.media.close();
      throw err;
    }
  }

  private async listenHttp(): Promise<void> {
    const { host, port } = this.config.listen;
    this.http.listen(port, host);
    try {
      await once(this.http, 'listening');
    } catch (err) {
      throw new SfuError('ERR_SFUD_LISTEN', `cannot listen on ${host}:${port}: ${(err as Error).message}`, { cause: err });
    }
    this.log.info({ http: this.httpUrl, version: VERSION }, 'signalling and HTTP listening');
  }

  /** The bound HTTP address (port resolved when 0 was asked for). */
  get httpAddress(): { host: string; port: number } {
    const a = this.http.address() as AddressInfo | null;
    if (!a) throw new ClosedError('sfu');
    return { host: a.address, port: a.port };
  }

  get httpUrl(): string {
    const { host, port } = this.httpAddress;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === RPC_PATH) {
      void handleHttpJsonRpc(req, res, this.admin);
      return;
    }
    if (this.demo(req, res)) return;
    if (req.method === 'GET' && path === '/metrics') {
      this.metrics.text().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        },
        (err: unknown) => this.reply(res, 500, { error: (err as Error).message }),
      );
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      this.reply(res, 200, { status: 'ok', version: VERSION, uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) });
      return;
    }
    this.reply(res, 404, { error: 'not found' });
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  dump(): { version: string; config: SfuConfig; closed: boolean } {
    return { version: VERSION, config: this.config, closed: this.closed };
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
    const done = once(this.http, 'close');
    this.http.close();
    this.http.closeAllConnections();
    await Promise.all([done, this.media?.close()]);
    this.log.info('closed');
  }
}
