/**
 * One client-side WebRTC transport for the load generator, made of sfud's own
 * pieces in the client role (as test/helpers/lite-client.ts): its own UDP
 * socket on 127.0.0.1, ICE controlling (binding requests with USE-CANDIDATE
 * until one succeeds, then a consent refresh every 5 s), a DTLS client and
 * SRTP in both directions. Received RTP is decrypted in place and handed to
 * `onRtp` synchronously; RTCP to `onRtcp` (only decrypted when set).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { encodeStun, parseStun, shortTermKey, StunClass, StunMethod } from '../../src/ice/stun.js';
import { DtlsTransport, type SrtpKeys } from '../../src/dtls/dtls-transport.js';
import type { DtlsCertificate } from '../../src/dtls/certificate.js';
import { SrtpSession } from '../../src/srtp/session.js';
import { newIceCredentials, type LocalIce, type RemoteTransport } from './sdp.js';

const CHECK_INTERVAL_MS = 50;
const CONSENT_INTERVAL_MS = 5000;

export class RtcConnection {
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
  private closed = false;

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

  readonly stats = { rtpIn: 0, rtcpIn: 0, srtpErrors: 0, stunOk: 0, stunErrors: 0, rtpOut: 0, rtcpOut: 0, sendErrors: 0 };

  private constructor(private readonly cert: DtlsCertificate) {
    const c = newIceCredentials();
    this.ufrag = c.ufrag;
    this.pwd = c.pwd;
    this.sock = createSocket({ type: 'udp4' });
    this.sock.on('message', (msg: Buffer) => this.onMessage(msg));
    this.sock.on('error', () => this.stats.sendErrors++);
  }

  /** Binds a fresh socket on 127.0.0.1 (ephemeral port). */
  static async open(cert: DtlsCertificate, recvBufferBytes = 0): Promise<RtcConnection> {
    const c = new RtcConnection(cert);
    await new Promise<void>((resolve, reject) => {
      c.sock.once('error', reject);
      c.sock.bind(0, '127.0.0.1', () => {
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
    return c;
  }

  get port(): number {
    return this._port;
  }

  get local(): LocalIce {
    return { ufrag: this.ufrag, pwd: this.pwd, fingerprint: this.cert.fingerprint, port: this._port };
  }

  get connected(): boolean {
    return this.srtpOut !== undefined;
  }

  /** ICE (checks until a success), then the DTLS handshake as client. Resolves once SRTP keys exist. */
  async connect(remote: RemoteTransport, timeoutMs = 20_000): Promise<void> {
    if (this.remote) throw new Error('already connecting');
    this.remote = remote;
    this.remoteKey = shortTermKey(remote.pwd);
    // Connected socket: cheaper sends, and only sfud's tuple can reach us.
    await new Promise<void>((resolve) => this.sock.connect(remote.port, remote.address, resolve));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connect: no ${this.iceDone ? 'ICE' : 'DTLS'} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const ice = new Promise<void>((resolve) => (this.iceDone = resolve));
      this.check(true);
      this.checkTimer = setInterval(() => this.check(true), CHECK_INTERVAL_MS);
      await Promise.race([ice, deadline]);
      clearInterval(this.checkTimer);
      this.iceDone = undefined;
      this.consentTimer = setInterval(() => this.check(false), CONSENT_INTERVAL_MS);
      const dtls = new DtlsTransport({
        role: 'client',
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
      iceControlling: 0x1234n,
      useCandidate: nominate,
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

  private onMessage(msg: Buffer): void {
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
      const res = parseStun(msg);
      if (res?.class === StunClass.SuccessResponse) {
        this.stats.stunOk++;
        this.iceDone?.();
      } else if (res?.class === StunClass.ErrorResponse) this.stats.stunErrors++;
    } else if (b >= 20 && b <= 63) {
      this.dtls?.handleDatagram(msg);
    }
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.checkTimer);
    clearInterval(this.consentTimer);
    this.dtls?.close();
    this.closed = true;
    this.sock.close();
  }
}
