/**
 * One WebRTC transport: ICE-lite + DTLS + SRTP/SRTCP + (optionally) SCTP data
 * channels over one candidate pair of a shared UDP mux.
 *
 * The packet path (DESIGN.md "The packet path and its budget"): the mux hands
 * an RTP/RTCP datagram here, SRTP decrypts it in place, and the router's
 * `onRtp`/`onRtcp` callback reads it synchronously; the buffer is only valid
 * during that call. Outgoing packets are encrypted into a fresh buffer and
 * sent on the ICE-selected tuple. Nothing on that path throws, allocates a
 * closure, or emits an event: drops are counted by reason.
 *
 * Control-plane state changes (ICE, DTLS, close) are typed events.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { IceLiteAgent, IceResult, type IceParameters, type IceState, type IceTuple } from '../ice/ice-lite.js';
import type { StunMessage } from '../ice/stun.js';
import { DtlsTransport, type DtlsRole, type DtlsState, type SrtpKeys, type SrtpProfileName } from '../dtls/dtls-transport.js';
import type { DtlsCertificate, DtlsFingerprint } from '../dtls/certificate.js';
import { SrtpSession } from '../srtp/session.js';
import { DataChannelEndpoint, type DataChannel, type DataChannelInit } from '../sctp/index.js';
import { isRtcp } from '../rtp/rtp.js';
import type { Clock } from '../util/clock.js';
import type { MuxTarget, UdpMux } from './udp-mux.js';
import { ClosedError, SfuError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface IceCandidate {
  foundation: string;
  priority: number;
  address: string;
  port: number;
  protocol: 'udp';
  type: 'host';
}

/** The remote side's DTLS role as its SDP says it (a=setup): active = client, passive = server. */
export type RemoteDtlsRole = 'client' | 'server' | 'auto';

export interface DtlsParameters {
  role: RemoteDtlsRole;
  fingerprints: DtlsFingerprint[];
}

export interface SctpParameters {
  /** The remote a=sctp-port (default 5000). */
  port?: number;
  /** The remote a=max-message-size (default 65536). */
  maxMessageSize?: number;
}

export const TransportDrop = {
  SrtpNotReady: 'srtp-not-ready',
  SrtpAuth: 'srtp-auth',
  SrtpReplay: 'srtp-replay',
  SrtpMalformed: 'srtp-malformed',
  NoPath: 'no-selected-path',
  DtlsNotReady: 'dtls-not-ready',
  /** A record in epoch 0 (in clear: ClientHello, alert ...) after the handshake: stale or forged. */
  DtlsPlaintextAfterHandshake: 'dtls-plaintext-after-handshake',
  /** After the handshake, a record werift would act on unauthenticated (an alert, an unknown type): forged or a close_notify. */
  DtlsUnauthenticatedAfterHandshake: 'dtls-unauthenticated-after-handshake',
  /** Binding requests routed here by USERNAME that ICE refused: silently (bad FINGERPRINT, not a request) or with an error response. */
  IceBadFingerprint: 'ice-bad-fingerprint',
  IceNotRequest: 'ice-not-request',
  IceBadRequest: 'ice-bad-request',
  IceUnauthorized: 'ice-unauthorized',
  IceUnknownAttribute: 'ice-unknown-attribute',
  IceRoleConflict: 'ice-role-conflict',
} as const;
export type TransportDrop = (typeof TransportDrop)[keyof typeof TransportDrop];

/** The drop reason of each refused IceResult (indexed by its value; Success has none). */
const ICE_DROP: readonly (TransportDrop | undefined)[] = (() => {
  const out: (TransportDrop | undefined)[] = [];
  out[IceResult.DropBadFingerprint] = TransportDrop.IceBadFingerprint;
  out[IceResult.DropNotRequest] = TransportDrop.IceNotRequest;
  out[IceResult.ErrorBadRequest] = TransportDrop.IceBadRequest;
  out[IceResult.ErrorUnauthorized] = TransportDrop.IceUnauthorized;
  out[IceResult.ErrorUnknownAttribute] = TransportDrop.IceUnknownAttribute;
  out[IceResult.ErrorRoleConflict] = TransportDrop.IceRoleConflict;
  return out;
})();

export interface WebRtcTransportEvents {
  icestatechange: [state: IceState];
  /** The media path changed (first pair, or the client nominated another). */
  iceselectedtuplechange: [tuple: IceTuple];
  dtlsstatechange: [state: DtlsState, reason?: string];
  /** A data channel the remote opened. */
  datachannel: [channel: DataChannel];
  /** The transport closed: by `close()`, lost consent, DTLS failure or close_notify. */
  close: [reason: string];
}

export interface WebRtcTransportOptions {
  muxes: readonly UdpMux[];
  announcedIps: readonly (string | undefined)[];
  certificate: DtlsCertificate;
  clock: Clock;
  logger: Logger;
  enableSctp?: boolean;
  srtpProfiles?: readonly SrtpProfileName[];
  consentTimeoutMs?: number;
  /** ICE must connect within this time after creation (default 30 s). */
  iceConnectTimeoutMs?: number;
  appData?: Record<string, unknown>;
}

/** RFC 8445 5.1.2.1 priority for host candidates: type 126, local preference by index, component 1. */
function hostPriority(index: number): number {
  return (126 << 24) + ((65535 - index) << 8) + 255;
}

export class WebRtcTransport extends EventEmitter<WebRtcTransportEvents> implements MuxTarget {
  readonly id = randomUUID();
  readonly appData: Record<string, unknown>;
  readonly ice: IceLiteAgent;
  private readonly opts: WebRtcTransportOptions;
  private readonly log: Logger;
  /** Subsystem loggers (STYLE.md 8): ids bound once, `sub` says which layer speaks. */
  private readonly iceLog: Logger;
  private readonly dtlsLog: Logger;
  private dtls: DtlsTransport | undefined;
  private srtpIn: SrtpSession | undefined;
  private srtpOut: SrtpSession | undefined;
  private sctp: DataChannelEndpoint | undefined;
  private sctpParams: SctpParameters = {};
  /** The mux and tuple media is sent on. */
  private path: { mux: UdpMux; tuple: IceTuple } | undefined;
  private readonly knownTuples: { mux: UdpMux; tuple: IceTuple }[] = [];
  private readonly stunOut = Buffer.alloc(512);
  private readonly createdAt: number;
  private _closed = false;

  /** Called with each decrypted RTP packet; the buffer is only valid during the call. */
  onRtp: ((buf: Buffer, length: number) => void) | undefined;
  /**
   * Called with each RTP packet before decryption (SRTP leaves the header and
   * its extensions in clear, RFC 3711 3.1); false drops it undecrypted. The
   * packet is not authenticated yet: use it only for decisions a forgery
   * cannot turn into harm (dropping, congestion-control arrival records).
   */
  rtpGate: ((buf: Buffer, length: number) => boolean) | undefined;
  /** Called with each decrypted RTCP compound packet. */
  onRtcp: ((buf: Buffer, length: number) => void) | undefined;

  readonly stats = {
    rtpPacketsIn: 0,
    /** RTP packets the gate dropped before decryption (quiet audio outside the loudest-K). */
    rtpGated: 0,
    rtpBytesIn: 0,
    rtcpPacketsIn: 0,
    rtcpBytesIn: 0,
    rtpPacketsOut: 0,
    rtpBytesOut: 0,
    rtcpPacketsOut: 0,
    rtcpBytesOut: 0,
    drops: Object.fromEntries(Object.values(TransportDrop).map((r) => [r, 0])) as Record<TransportDrop, number>,
  };

  constructor(opts: WebRtcTransportOptions) {
    super();
    this.opts = opts;
    this.appData = opts.appData ?? {};
    this.log = opts.logger.child({ transport: this.id });
    this.iceLog = this.log.child({ sub: 'ice' });
    this.dtlsLog = this.log.child({ sub: 'dtls' });
    this.createdAt = opts.clock.now();
    this.ice = new IceLiteAgent({ consentTimeoutMs: opts.consentTimeoutMs });
    this.ice.on('statechange', (s) => {
      this.iceLog.debug({ state: s }, 'ICE state');
      this.emit('icestatechange', s);
    });
    this.ice.on('selected', (tuple) => this.onSelected(tuple));
    for (const mux of opts.muxes) mux.registerUfrag(this.ice.localParameters.usernameFragment, this);
  }

  get closed(): boolean {
    return this._closed;
  }

  get iceParameters(): IceParameters {
    return this.ice.localParameters;
  }

  get iceCandidates(): IceCandidate[] {
    return this.opts.muxes.map((mux, i) => ({
      foundation: `udp${mux.family}`,
      priority: hostPriority(i),
      address: this.opts.announcedIps[i] ?? mux.host,
      port: mux.port,
      protocol: 'udp',
      type: 'host',
    }));
  }

  /** Our DTLS parameters for the SDP; the role is fixed by `connect()`. */
  get dtlsParameters(): DtlsParameters {
    return { role: this.dtls?.role ?? 'auto', fingerprints: [{ algorithm: 'sha-256', value: this.opts.certificate.fingerprint }] };
  }

  get dtlsState(): DtlsState {
    return this.dtls?.state ?? 'new';
  }

  get srtpProfile(): SrtpProfileName | null {
    return this.dtls?.srtpProfile ?? null;
  }

  get selectedTuple(): IceTuple | undefined {
    return this.path?.tuple;
  }

  /**
   * Starts DTLS with the remote's parameters. A remote 'client' (a=setup:active)
   * or 'auto' (actpass) makes us the server; a remote 'server' makes us the client.
   */
  connect(remote: { dtlsParameters: DtlsParameters; iceUsernameFragment?: string; sctp?: SctpParameters }): void {
    if (this._closed) throw new ClosedError('transport');
    if (this.dtls) throw new SfuError('ERR_SFUD_STATE', 'transport already connected');
    if (remote.dtlsParameters.fingerprints.length === 0) throw new SfuError('ERR_SFUD_DTLS', 'remote DTLS parameters carry no fingerprint');
    if (remote.iceUsernameFragment) this.ice.setRemoteParameters({ usernameFragment: remote.iceUsernameFragment });
    if (remote.sctp) this.sctpParams = remote.sctp;
    const role: DtlsRole = remote.dtlsParameters.role === 'server' ? 'client' : 'server';
    const dtls = new DtlsTransport({
      role,
      certificate: this.opts.certificate,
      remoteFingerprints: remote.dtlsParameters.fingerprints,
      srtpProfiles: this.opts.srtpProfiles,
      clock: this.opts.clock,
      send: (d) => this.sendRaw(d),
    });
    this.dtls = dtls;
    dtls.on('connected', (keys) => this.onDtlsConnected(keys));
    dtls.on('failed', (reason) => {
      this.dtlsLog.warn({ reason }, 'DTLS failed');
      this.emit('dtlsstatechange', 'failed', reason);
      this.close(`dtls failed: ${reason}`);
    });
    dtls.on('closed', () => {
      this.emit('dtlsstatechange', 'closed');
      this.close('dtls closed by peer');
    });
    dtls.on('data', (d) => this.sctp?.handlePacket(d));
    this.emit('dtlsstatechange', 'connecting');
    // The client starts once there is a path to send on; the server waits for the ClientHello.
    if (role === 'server' || this.path) dtls.start();
  }

  /** ICE restart: new local credentials; the media path survives until the client moves. */
  restartIce(): IceParameters {
    if (this._closed) throw new ClosedError('transport');
    const p = this.ice.restart();
    for (const mux of this.opts.muxes) mux.registerUfrag(p.usernameFragment, this);
    return p;
  }

  private onSelected(tuple: IceTuple): void {
    const known = this.knownTuples.find((k) => k.tuple.port === tuple.port && k.tuple.address === tuple.address);
    if (!known) return;
    const first = !this.path;
    this.path = known;
    this.iceLog.debug({ tuple }, first ? 'ICE path selected' : 'ICE path switched');
    this.emit('iceselectedtuplechange', tuple);
    if (first && this.dtls?.role === 'client' && this.dtls.state === 'new') this.dtls.start();
  }

  private onDtlsConnected(keys: SrtpKeys | null): void {
    if (keys) {
      this.srtpIn = new SrtpSession(keys.profile, keys.remoteKey, keys.remoteSalt);
      this.srtpOut = new SrtpSession(keys.profile, keys.localKey, keys.localSalt);
    }
    this.dtlsLog.debug({ srtpProfile: keys?.profile }, 'DTLS connected');
    if (this.opts.enableSctp) {
      const dtls = this.dtls!;
      const sctp = new DataChannelEndpoint({
        role: dtls.role,
        transport: { send: (p: Buffer) => dtls.send(p) },
        remotePort: this.sctpParams.port,
        remoteMaxMessageSize: this.sctpParams.maxMessageSize,
        logger: this.log.child({ sub: 'sctp' }),
      });
      this.sctp = sctp;
      sctp.on('datachannel', (ch) => this.emit('datachannel', ch));
      sctp.start();
    }
    this.emit('dtlsstatechange', 'connected');
  }

  // ---- MuxTarget: called by the mux per datagram ----

  handleStun(msg: StunMessage, from: IceTuple, mux: UdpMux): void {
    if (this._closed) return;
    const result = this.ice.handleStun(msg, from, this.opts.clock.now(), this.stunOut);
    const refused = ICE_DROP[result];
    if (refused !== undefined) this.stats.drops[refused]++;
    if (result === IceResult.Success && !this.knownTuples.some((k) => k.mux === mux && k.tuple.port === from.port && k.tuple.address === from.address)) {
      this.knownTuples.push({ mux, tuple: from });
      mux.addTuple(from, this);
      // The agent may have selected this tuple before we knew it: apply now.
      const sel = this.ice.selectedTuple;
      if (sel && sel.port === from.port && sel.address === from.address && this.path?.tuple !== sel) this.onSelected(sel);
    }
    if (this.ice.responseLength > 0) mux.send(this.stunOut, 0, this.ice.responseLength, from);
  }

  handleDtls(datagram: Buffer): void {
    if (!this.dtls) {
      this.stats.drops[TransportDrop.DtlsNotReady]++;
      return;
    }
    if (!this.dtls.handleDatagram(datagram)) {
      this.stats.drops[this.dtls.dropReason === 'plaintext' ? TransportDrop.DtlsPlaintextAfterHandshake : TransportDrop.DtlsUnauthenticatedAfterHandshake]++;
    }
  }

  handleRtpOrRtcp(datagram: Buffer): void {
    const srtp = this.srtpIn;
    if (!srtp) {
      this.stats.drops[TransportDrop.SrtpNotReady]++;
      return;
    }
    if (isRtcp(datagram, 0, datagram.length)) {
      const n = srtp.unprotectRtcp(datagram, 0, datagram.length);
      if (n < 0) return this.countSrtpError(n);
      this.stats.rtcpPacketsIn++;
      this.stats.rtcpBytesIn += n;
      this.onRtcp?.(datagram, n);
      return;
    }
    if (this.rtpGate && !this.rtpGate(datagram, datagram.length)) {
      this.stats.rtpGated++;
      return;
    }
    const n = srtp.unprotectRtp(datagram, 0, datagram.length);
    if (n < 0) return this.countSrtpError(n);
    this.stats.rtpPacketsIn++;
    this.stats.rtpBytesIn += n;
    this.onRtp?.(datagram, n);
  }

  private countSrtpError(code: number): void {
    this.stats.drops[SrtpSession.isReplay(code) ? TransportDrop.SrtpReplay : SrtpSession.isAuthFailure(code) ? TransportDrop.SrtpAuth : TransportDrop.SrtpMalformed]++;
  }

  // ---- sending ----

  /** Encrypts and sends one RTP packet; `buf` is not modified. Returns false when dropped. */
  sendRtp(buf: Buffer, offset: number, length: number): boolean {
    const out = this.srtpOut;
    const path = this.path;
    if (!out || !path) {
      this.stats.drops[out ? TransportDrop.NoPath : TransportDrop.SrtpNotReady]++;
      return false;
    }
    // NOTE: a fresh buffer per packet: dgram may still own the previous one
    // when send() returns (libuv queues on EAGAIN). Pooling is a measured
    // decision for the router issue.
    const enc = Buffer.allocUnsafe(length + SrtpSession.MAX_TRAILER);
    const n = out.protectRtp(buf, offset, length, enc, 0);
    if (n < 0) {
      this.stats.drops[TransportDrop.SrtpMalformed]++;
      return false;
    }
    this.stats.rtpPacketsOut++;
    this.stats.rtpBytesOut += length;
    path.mux.send(enc, 0, n, path.tuple);
    return true;
  }

  /** Data-channel (SCTP) drops by reason, or undefined before the association exists. */
  get sctpDrops(): Readonly<Record<string, number>> | undefined {
    return this.sctp?.drops;
  }

  /** SRTP trailer room `sendRtpOwned` needs after the packet. */
  readonly rtpTrailerRoom = SrtpSession.MAX_TRAILER;

  /**
   * Encrypts `buf` in place (it must have `rtpTrailerRoom` spare bytes after
   * `length`) and sends it; the caller gives the buffer up. This is the
   * router's path: the consumer already made its own copy to rewrite.
   */
  sendRtpOwned(buf: Buffer, length: number): boolean {
    const out = this.srtpOut;
    const path = this.path;
    if (!out || !path) {
      this.stats.drops[out ? TransportDrop.NoPath : TransportDrop.SrtpNotReady]++;
      return false;
    }
    const n = out.protectRtp(buf, 0, length, buf, 0);
    if (n < 0) {
      this.stats.drops[TransportDrop.SrtpMalformed]++;
      return false;
    }
    this.stats.rtpPacketsOut++;
    this.stats.rtpBytesOut += length;
    path.mux.send(buf, 0, n, path.tuple);
    return true;
  }

  sendRtcp(buf: Buffer, offset: number, length: number): boolean {
    const out = this.srtpOut;
    const path = this.path;
    if (!out || !path) {
      this.stats.drops[out ? TransportDrop.NoPath : TransportDrop.SrtpNotReady]++;
      return false;
    }
    const enc = Buffer.allocUnsafe(length + SrtpSession.MAX_RTCP_TRAILER);
    const n = out.protectRtcp(buf, offset, length, enc, 0);
    if (n < 0) {
      this.stats.drops[TransportDrop.SrtpMalformed]++;
      return false;
    }
    this.stats.rtcpPacketsOut++;
    this.stats.rtcpBytesOut += length;
    path.mux.send(enc, 0, n, path.tuple);
    return true;
  }

  private sendRaw(d: Buffer): void {
    const path = this.path;
    if (!path) {
      this.stats.drops[TransportDrop.NoPath]++;
      return;
    }
    path.mux.send(d, 0, d.length, path.tuple);
  }

  // ---- data channels ----

  createDataChannel(label: string, init?: DataChannelInit): DataChannel {
    if (!this.sctp) throw new SfuError('ERR_SFUD_STATE', 'data channels need enableSctp and a connected DTLS transport');
    return this.sctp.createDataChannel(label, init);
  }

  get dataChannels(): DataChannel[] {
    return this.sctp?.channels ?? [];
  }

  /** Polled by the server's shared tick: consent freshness and the ICE connect deadline. */
  tick(now: number): void {
    if (this._closed) return;
    if (!this.ice.checkConsent(now)) {
      this.close('ICE consent expired');
      return;
    }
    if (!this.path && now - this.createdAt > (this.opts.iceConnectTimeoutMs ?? 30_000)) this.close('ICE did not connect');
  }

  close(reason = 'closed'): void {
    if (this._closed) return;
    this._closed = true;
    this.sctp?.close();
    this.dtls?.close();
    this.ice.close();
    for (const mux of this.opts.muxes) for (const u of this.ice.usernameFragments) mux.unregisterUfrag(u, this);
    for (const { mux, tuple } of this.knownTuples) mux.removeTuple(tuple, this);
    this.knownTuples.length = 0;
    this.path = undefined;
    this.srtpIn = undefined;
    this.srtpOut = undefined;
    this.onRtp = undefined;
    this.rtpGate = undefined;
    this.onRtcp = undefined;
    // Failures are worth an info line; a peer leaving is routine.
    if (reason.startsWith('ICE')) this.iceLog.info({ reason }, 'transport closed');
    else if (reason.startsWith('dtls failed')) this.dtlsLog.info({ reason }, 'transport closed');
    else this.log.debug({ reason }, 'transport closed');
    this.emit('close', reason);
  }

  getStats(): Record<string, unknown> {
    return {
      id: this.id,
      iceState: this.ice.state,
      iceSelectedTuple: this.path?.tuple,
      dtlsState: this.dtlsState,
      srtpProfile: this.srtpProfile,
      ice: this.ice.stats,
      dtls: this.dtls?.getStats(),
      sctp: this.sctp?.getStats(),
      ...this.stats,
    };
  }

  dump(): Record<string, unknown> {
    return { id: this.id, closed: this._closed, ice: this.ice.dump(), candidates: this.iceCandidates, dtls: this.dtlsParameters };
  }
}
