/**
 * The media side of one data-plane unit (the whole process today, one shard
 * later): the UDP muxes (one per listen address, IPv4 and/or IPv6, all on the
 * same port number when it is free), the DTLS certificate, and the transports
 * created on them. One coarse 1 s tick drives consent freshness and connect
 * deadlines for every transport (STYLE.md 9: no timer per object).
 */
import { EventEmitter } from 'node:events';
import { UdpMux } from './udp-mux.js';
import { WebRtcTransport, type WebRtcTransportOptions } from './webrtc-transport.js';
import { generateCertificate, type DtlsCertificate } from '../dtls/certificate.js';
import type { SrtpProfileName } from '../dtls/dtls-transport.js';
import { systemClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../logger.js';
import { ClosedError } from '../errors.js';

export interface ListenInfo {
  /** Address to bind (127.0.0.1, ::1, 0.0.0.0, a NIC's address ...). */
  ip: string;
  /** Address put in candidates instead of `ip` (1:1 NAT). */
  announcedIp?: string;
  /** UDP port; 0 picks a free one. */
  port: number;
}

export interface WebRtcServerOptions {
  listen: readonly ListenInfo[];
  certificate?: DtlsCertificate;
  clock?: Clock;
  logger?: Logger;
  /** SRTP profiles in order of preference (default: GCM, then AES-CM). */
  srtpProfiles?: readonly SrtpProfileName[];
  consentTimeoutMs?: number;
  tickMs?: number;
  /** ICE checks from remote addresses this rejects are dropped (an ACL). */
  acceptRemote?: (address: string) => boolean;
}

export interface CreateTransportOptions {
  enableSctp?: boolean;
  /** The owner's logger (ids such as room and peer bound); default: the server's. */
  logger?: Logger;
  appData?: Record<string, unknown>;
  iceConnectTimeoutMs?: number;
}

export interface WebRtcServerEvents {
  /** A transport was created (metrics follow its ICE and DTLS states). */
  transport: [transport: WebRtcTransport];
  transportclose: [transport: WebRtcTransport, reason: string];
}

export class WebRtcServer extends EventEmitter<WebRtcServerEvents> {
  readonly certificate: DtlsCertificate;
  readonly muxes: readonly UdpMux[];
  private readonly listen: readonly ListenInfo[];
  private readonly opts: WebRtcServerOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly transportMap = new Map<string, WebRtcTransport>();
  private readonly tickTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(opts: WebRtcServerOptions, certificate: DtlsCertificate, muxes: UdpMux[]) {
    super();
    this.opts = opts;
    this.listen = opts.listen;
    this.certificate = certificate;
    this.muxes = muxes;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
    this.tickTimer = setInterval(() => this.tick(), opts.tickMs ?? 1000);
    this.tickTimer.unref();
  }

  static async create(opts: WebRtcServerOptions): Promise<WebRtcServer> {
    const certificate = opts.certificate ?? (await generateCertificate());
    const muxes: UdpMux[] = [];
    try {
      for (const l of opts.listen) muxes.push(await UdpMux.bind({ host: l.ip, port: l.port, acceptRemote: opts.acceptRemote }));
    } catch (err) {
      await Promise.all(muxes.map((m) => m.close()));
      throw err;
    }
    return new WebRtcServer(opts, certificate, muxes);
  }

  createWebRtcTransport(o: CreateTransportOptions = {}): WebRtcTransport {
    if (this.closed) throw new ClosedError('WebRtcServer');
    const topts: WebRtcTransportOptions = {
      muxes: this.muxes,
      announcedIps: this.listen.map((l) => l.announcedIp),
      certificate: this.certificate,
      clock: this.clock,
      logger: o.logger ?? this.log,
      enableSctp: o.enableSctp,
      srtpProfiles: this.opts.srtpProfiles,
      consentTimeoutMs: this.opts.consentTimeoutMs,
      iceConnectTimeoutMs: o.iceConnectTimeoutMs,
      appData: o.appData,
    };
    const t = new WebRtcTransport(topts);
    this.transportMap.set(t.id, t);
    t.once('close', (reason) => {
      this.transportMap.delete(t.id);
      this.emit('transportclose', t, reason);
    });
    this.emit('transport', t);
    return t;
  }

  getTransport(id: string): WebRtcTransport | undefined {
    return this.transportMap.get(id);
  }

  /** The open transports (a snapshot, for stats and metrics). */
  get transports(): WebRtcTransport[] {
    return [...this.transportMap.values()];
  }

  get transportCount(): number {
    return this.transportMap.size;
  }

  /** Runs the shared tick now (tests with a manual clock call this after advancing it). */
  tick(): void {
    const now = this.clock.now();
    for (const t of [...this.transportMap.values()]) t.tick(now);
  }

  getStats(): Record<string, unknown> {
    return {
      transports: this.transportMap.size,
      muxes: this.muxes.map((m) => ({ host: m.host, port: m.port, tuples: m.tupleCount, ...m.stats })),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tickTimer);
    for (const t of [...this.transportMap.values()]) t.close('server closed');
    await Promise.all(this.muxes.map((m) => m.close()));
  }
}
