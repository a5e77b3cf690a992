/**
 * One client-side WebRTC transport for the load generator, made of sfud's own
 * pieces in the client role (as test/helpers/lite-client.ts): its own UDP
 * socket (127.0.0.1 unless told otherwise), ICE, DTLS and SRTP in both
 * directions. Received RTP is decrypted in place and handed to `onRtp`
 * synchronously; RTCP to `onRtcp` (only decrypted when set).
 *
 * ICE: against sfud (ICE-lite) we are always controlling: binding requests
 * with USE-CANDIDATE until one succeeds, then a consent refresh every 5 s.
 * Against full agents (Janus, werift) the roles follow RFC 8445 6.1.1: the
 * offerer controls. Controlled, we send checks without USE-CANDIDATE and are
 * done when the remote nominates a pair. In both roles we answer the remote's
 * checks (ice-responder.ts), which a full agent needs before it uses a pair.
 *
 * DTLS: client, unless the remote's a=setup says it is the client.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { encodeStun, parseStun, shortTermKey, StunClass, StunMethod } from '../../src/ice/stun.js';
import { DtlsTransport, type DtlsRole, type SrtpKeys } from '../../src/dtls/dtls-transport.js';
import type { DtlsCertificate } from '../../src/dtls/certificate.js';
import { SrtpSession } from '../../src/srtp/session.js';
import { newIceCredentials, type LocalIce, type RemoteTransport } from './sdp.js';
import { answerBindingRequest } from './ice-responder.js';

const CHECK_INTERVAL_MS = 50;
const CONSENT_INTERVAL_MS = 5000;

export type IceRole = 'controlling' | 'controlled';

export interface ConnectOptions {
  /** Default controlling (what sfud, an ICE-lite server, needs). */
  iceRole?: IceRole;
  /** Default client. */
  dtlsRole?: DtlsRole;
  timeoutMs?: number;
}

export interface OpenOptions {
  /** SO_RCVBUF (0: the system default). */
  recvBufferBytes?: number;
  /** Local address to bind and announce (default 127.0.0.1). */
  host?: string;
}

export class RtcConnection {
  /** Local UDP ports of every open connection in this process (to tell the load generator's sockets from a server's). */
  static readonly openPorts = new Set<number>();
  readonly ufrag: string;
  readonly pwd: string;
  private readonly sock: Socket;
  private _port = 0;
  private remote: RemoteTransport | undefined;
  private remoteKey: Buffer | undefined;
  private dtls: DtlsTransport | undefined;
  private srtpIn: SrtpSession | undefined;
  private srtpOut: SrtpSession | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private consentTimer: NodeJS.Timeout | undefined;
  private iceDone: (() => void) | undefined;
  private iceRole: IceRole = 'controlling';
  private readonly localKey: Buffer;
  private readonly tieBreaker = randomBytes(8).readBigUInt64BE();
  private sockConnected = false;
  /** The remote sent USE-CANDIDATE (possibly before connect() was called). */
  private remoteNominated = false;
  private closed = false;
  private _host = '127.0.0.1';

  /** Decrypted RTP: `buf[0..length)` is valid only during the call. */
  onRtp: ((buf: Buffer, length: number) => void) | undefined;
  /**
   * When set, RTP is not decrypted: the handler gets the SRTP packet (header
   * in clear, payload encrypted). Lets one load-generator process drive more
   * subscribers when only a sample of them needs to read payloads.
   */
  onSrtpRaw: ((buf: Buffer, length: number) => void) | undefined;
  /** Decrypted RTCP (compound); set it only when RTCP must be read: decrypting costs. */
  onRtcp: ((buf: Buffer, length: number) => void) | undefined;

  readonly stats = {
    rtpIn: 0,
    rtcpIn: 0,
    srtpErrors: 0,
    stunOk: 0,
    stunErrors: 0,
    /** Binding requests from the remote that we answered, and those we dropped (bad credentials). */
    stunAnswered: 0,
    stunDropped: 0,
    rtpOut: 0,
    rtcpOut: 0,
    sendErrors: 0,
  };

  private constructor(private readonly cert: DtlsCertificate) {
    const c = newIceCredentials();
    this.ufrag = c.ufrag;
    this.pwd = c.pwd;
    this.localKey = shortTermKey(c.pwd);
    this.sock = createSocket({ type: 'udp4' });
    this.sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo));
    this.sock.on('error', () => this.stats.sendErrors++);
  }

  /** Binds a fresh socket (ephemeral port). A number is the receive buffer size (older signature). */
  static async open(cert: DtlsCertificate, opts: OpenOptions | number = {}): Promise<RtcConnection> {
    const o: OpenOptions = typeof opts === 'number' ? { recvBufferBytes: opts } : opts;
    const recvBufferBytes = o.recvBufferBytes ?? 0;
    const c = new RtcConnection(cert);
    c._host = o.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      c.sock.once('error', reject);
      c.sock.bind(0, c._host, () => {
        c.sock.off('error', reject);
        resolve();
      });
    });
    if (recvBufferBytes > 0) {
      try {
        c.sock.setRecvBufferSize(recvBufferBytes);
      } catch {
        // capped by net.core.rmem_max; the default is then what we get
      }
    }
    c._port = c.sock.address().port;
    RtcConnection.openPorts.add(c._port);
    return c;
  }

  get port(): number {
    return this._port;
  }

  get local(): LocalIce {
    return { ufrag: this.ufrag, pwd: this.pwd, fingerprint: this.cert.fingerprint, port: this._port, host: this._host };
  }

  /** The SRTP profile negotiated by DTLS, once connected. */
  get srtpProfile(): string | null {
    return this.dtls?.srtpProfile ?? null;
  }

  get connected(): boolean {
    return this.srtpOut !== undefined;
  }

  /**
   * ICE (until our nominating check succeeds, or, controlled, until the remote
   * nominates), then DTLS. Resolves once SRTP keys exist.
   */
  async connect(remote: RemoteTransport, opts: ConnectOptions | number = {}): Promise<void> {
    const o: ConnectOptions = typeof opts === 'number' ? { timeoutMs: opts } : opts;
    const timeoutMs = o.timeoutMs ?? 20_000;
    if (this.remote) throw new Error('already connecting');
    this.remote = remote;
    this.remoteKey = shortTermKey(remote.pwd);
    this.iceRole = o.iceRole ?? 'controlling';
    const controlling = this.iceRole === 'controlling';
    // Connected socket: cheaper sends, and only the server's tuple can reach us.
    await new Promise<void>((resolve) => this.sock.connect(remote.port, remote.address, resolve));
    this.sockConnected = true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connect: no ${this.iceDone ? 'ICE' : 'DTLS'} within ${timeoutMs} ms`)), timeoutMs);
    });
    const dtls = new DtlsTransport({
      role: o.dtlsRole ?? 'client',
      certificate: this.cert,
      remoteFingerprints: remote.fingerprints,
      send: (d) => this.sendRaw(d),
    });
    this.dtls = dtls;
    const keys = new Promise<SrtpKeys | null>((resolve, reject) => {
      dtls.once('connected', resolve);
      dtls.once('failed', (reason) => reject(new Error(`DTLS failed: ${reason}`)));
    });
    keys.catch(() => {}); // a failure after the deadline won must not be unhandled
    // A DTLS server only waits for the ClientHello: be ready before ICE is done
    // here, as the remote may finish its side first and send at once.
    if (dtls.role === 'server') dtls.start();
    try {
      const ice = new Promise<void>((resolve) => (this.iceDone = resolve));
      if (!controlling && this.remoteNominated) this.iceDone?.();
      this.check(controlling);
      this.checkTimer = setInterval(() => this.check(controlling), CHECK_INTERVAL_MS);
      await Promise.race([ice, deadline]);
      clearInterval(this.checkTimer);
      this.iceDone = undefined;
      this.consentTimer = setInterval(() => this.check(false), CONSENT_INTERVAL_MS);
      dtls.start();
      const k = await Promise.race([keys, deadline]);
      if (!k) throw new Error('DTLS connected without SRTP keys');
      this.srtpOut = new SrtpSession(k.profile, k.localKey, k.localSalt);
      this.srtpIn = new SrtpSession(k.profile, k.remoteKey, k.remoteSalt);
    } finally {
      clearTimeout(timer);
      clearInterval(this.checkTimer);
    }
  }

  private check(nominate: boolean): void {
    const r = this.remote;
    if (!r || this.closed) return;
    const req = encodeStun({
      method: StunMethod.Binding,
      class: StunClass.Request,
      transactionId: randomBytes(12),
      username: `${r.ufrag}:${this.ufrag}`,
      priority: 2130706431,
      ...(this.iceRole === 'controlling' ? { iceControlling: this.tieBreaker } : { iceControlled: this.tieBreaker }),
      useCandidate: nominate && this.iceRole === 'controlling',
      integrityKey: this.remoteKey,
      fingerprint: true,
    });
    this.sendRaw(req);
  }

  private sendRaw(d: Buffer, length = d.length): void {
    if (this.closed) return;
    this.sock.send(d, 0, length);
  }

  /**
   * Encrypts and sends one RTP packet from `pkt[0..length)`. The packet is
   * encrypted into a fresh buffer: dgram may still hold the previous one.
   */
  sendRtp(pkt: Buffer, length: number): boolean {
    const out = this.srtpOut;
    if (!out || this.closed) return false;
    const enc = Buffer.allocUnsafe(length + SrtpSession.MAX_TRAILER);
    const n = out.protectRtp(pkt, 0, length, enc, 0);
    if (n < 0) return false;
    this.stats.rtpOut++;
    this.sock.send(enc, 0, n);
    return true;
  }

  /**
   * Decrypts, in place, an SRTP packet an `onSrtpRaw` handler was given (a
   * sampling sink decrypts only some). Returns the RTP length, or a negative
   * SRTP error code (counted in `srtpErrors`).
   */
  unprotectRtp(buf: Buffer, length: number): number {
    const srtp = this.srtpIn;
    if (!srtp) return -1;
    const n = srtp.unprotectRtp(buf, 0, length);
    if (n < 0) this.stats.srtpErrors++;
    return n;
  }

  sendRtcp(pkt: Buffer, length: number): boolean {
    const out = this.srtpOut;
    if (!out || this.closed) return false;
    const enc = Buffer.allocUnsafe(length + SrtpSession.MAX_RTCP_TRAILER);
    const n = out.protectRtcp(pkt, 0, length, enc, 0);
    if (n < 0) return false;
    this.stats.rtcpOut++;
    this.sock.send(enc, 0, n);
    return true;
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const b = msg[0]!;
    if (b >= 128 && b <= 191) {
      const srtp = this.srtpIn;
      if (!srtp) return;
      const pt = msg[1]! & 0x7f;
      if (pt >= 72 && pt <= 79) {
        // RTCP (RFC 5761 4): only decrypted when someone reads it.
        this.stats.rtcpIn++;
        if (!this.onRtcp) return;
        const n = srtp.unprotectRtcp(msg, 0, msg.length);
        if (n < 0) this.stats.srtpErrors++;
        else this.onRtcp(msg, n);
        return;
      }
      if (this.onSrtpRaw) {
        this.stats.rtpIn++;
        this.onSrtpRaw(msg, msg.length);
        return;
      }
      const n = srtp.unprotectRtp(msg, 0, msg.length);
      if (n < 0) {
        this.stats.srtpErrors++;
        return;
      }
      this.stats.rtpIn++;
      this.onRtp?.(msg, n);
    } else if (b < 4) {
      if (msg.length >= 2 && (msg[0]! & 0x01) === 0 && (msg[1]! & 0x10) === 0) {
        this.onBindingRequest(msg, rinfo); // class bits 00: a request
        return;
      }
      const res = parseStun(msg);
      if (res?.class === StunClass.SuccessResponse) {
        this.stats.stunOk++;
        if (this.iceRole === 'controlling') this.iceDone?.();
      } else if (res?.class === StunClass.ErrorResponse) this.stats.stunErrors++;
    } else if (b >= 20 && b <= 63) {
      this.dtls?.handleDatagram(msg);
    }
  }

  /** A full agent's check: answer it; a nomination completes ICE when we are controlled. */
  private onBindingRequest(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    const a = answerBindingRequest(msg, rinfo, { ufrag: this.ufrag, key: this.localKey });
    if ('drop' in a) {
      this.stats.stunDropped++;
      return;
    }
    this.stats.stunAnswered++;
    // Before connect() the socket is unconnected: answer where the check came from.
    if (this.sockConnected) this.sock.send(a.response);
    else this.sock.send(a.response, rinfo.port, rinfo.address);
    if (a.useCandidate) {
      this.remoteNominated = true;
      if (this.iceRole === 'controlled') this.iceDone?.();
    }
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.checkTimer);
    clearInterval(this.consentTimer);
    this.dtls?.close();
    this.closed = true;
    RtcConnection.openPorts.delete(this._port);
    this.sock.close();
  }
}
