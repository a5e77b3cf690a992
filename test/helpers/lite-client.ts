// A minimal WebRTC client built from sfud's own pieces in the client role:
// ICE controlling (binding requests with our STUN codec), DTLS client, SRTP.
// It can move to another local socket mid-call, which no browser in a test
// can do on demand. The load generator grows from the same idea.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { encodeStun, parseStun, shortTermKey, StunClass, StunMethod } from '../../src/ice/stun.js';
import { DtlsTransport } from '../../src/dtls/dtls-transport.js';
import { generateCertificate, type DtlsCertificate } from '../../src/dtls/certificate.js';
import { SrtpSession } from '../../src/srtp/session.js';
import type { WebRtcTransport } from '../../src/transport/webrtc-transport.js';
import type { DtlsFingerprint } from '../../src/dtls/certificate.js';

/** What a LiteClient needs to reach a transport it only knows from SDP (`connectTo`). */
export interface LiteRemote {
  address: string;
  port: number;
  ufrag: string;
  pwd: string;
  fingerprints: DtlsFingerprint[];
}

export class LiteClient {
  private sockets: Socket[] = [];
  private active!: Socket;
  private dtls!: DtlsTransport;
  private srtpOut: SrtpSession | undefined;
  private srtpIn: SrtpSession | undefined;
  readonly received: { rtp: number; rtcp: number; stunSuccess: number; stunError: number; lastErrorCode: number } = {
    rtp: 0,
    rtcp: 0,
    stunSuccess: 0,
    stunError: 0,
    lastErrorCode: 0,
  };
  /** Decrypted RTP packets per receiving socket index. */
  readonly rtpBySocket: number[] = [];

  private constructor(
    private readonly server: { address: string; port: number },
    private readonly remote: { ufrag: string; pwd: string },
    private readonly cert: DtlsCertificate,
    private readonly type: 'udp4' | 'udp6',
    readonly ufrag: string,
  ) {}

  /** A fresh ICE ufrag for `connectTo` callers that must put it in their SDP first. */
  static newUfrag(): string {
    return randomBytes(4).toString('hex');
  }

  /** Connects a LiteClient to `transport` (which it configures as the remote side). */
  static async connect(transport: WebRtcTransport, cert?: DtlsCertificate, type: 'udp4' | 'udp6' = 'udp4'): Promise<LiteClient> {
    const c = transport.iceCandidates[0]!;
    const ice = transport.iceParameters;
    const client = new LiteClient(
      { address: c.address, port: c.port },
      { ufrag: ice.usernameFragment, pwd: ice.password },
      cert ?? (await generateCertificate()),
      type,
      LiteClient.newUfrag(),
    );
    transport.connect({
      dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: client.cert.fingerprint }] },
      iceUsernameFragment: client.ufrag,
    });
    await client.handshake(transport.dtlsParameters.fingerprints);
    return client;
  }

  /**
   * Connects to a transport known only from its SDP (a sfud in the same
   * process joined over JSON-RPC with an offer that named `cert`'s
   * fingerprint, `ufrag` and a=setup:active).
   */
  static async connectTo(remote: LiteRemote, cert: DtlsCertificate, ufrag: string): Promise<LiteClient> {
    const client = new LiteClient({ address: remote.address, port: remote.port }, { ufrag: remote.ufrag, pwd: remote.pwd }, cert, 'udp4', ufrag);
    await client.handshake(remote.fingerprints);
    return client;
  }

  private async handshake(remoteFingerprints: DtlsFingerprint[]): Promise<void> {
    await this.addSocket();
    this.dtls = new DtlsTransport({
      role: 'client',
      certificate: this.cert,
      remoteFingerprints,
      send: (d) => this.active.send(d, this.server.port, this.server.address),
    });
    const connected = once(this.dtls, 'connected');
    this.check(true);
    this.dtls.start();
    const [keys] = (await connected) as [{ profile: 'AEAD_AES_128_GCM'; localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer }];
    this.srtpOut = new SrtpSession(keys.profile, keys.localKey, keys.localSalt);
    this.srtpIn = new SrtpSession(keys.profile, keys.remoteKey, keys.remoteSalt);
  }

  /** Opens another local socket and makes it the active one (a network change). */
  async addSocket(): Promise<number> {
    const s = createSocket(this.type);
    s.bind(0, this.type === 'udp6' ? '::1' : '127.0.0.1');
    await once(s, 'listening');
    const index = this.sockets.length;
    this.sockets.push(s);
    this.rtpBySocket.push(0);
    s.on('message', (msg: Buffer) => this.onMessage(msg, index));
    this.active = s;
    return index;
  }

  /** The local port of the active socket (the tuple sfud knows this client by). */
  get localPort(): number {
    return this.active.address().port;
  }

  get socketCount(): number {
    return this.sockets.length;
  }

  /** Sends one ICE connectivity check from the active socket. */
  check(nominate: boolean, password = this.remote.pwd): void {
    const req = encodeStun({
      method: StunMethod.Binding,
      class: StunClass.Request,
      transactionId: randomBytes(12),
      username: `${this.remote.ufrag}:${this.ufrag}`,
      priority: 1853824767,
      iceControlling: 0x1234n,
      useCandidate: nominate,
      integrityKey: shortTermKey(password),
      fingerprint: true,
    });
    this.active.send(req, this.server.port, this.server.address);
  }

  /** Sends an encrypted RTP packet (12-byte header + payload) from the active socket. */
  sendRtp(seq: number, ssrc = 0x1111, payload = Buffer.alloc(100, 7)): void {
    const pkt = Buffer.alloc(12 + payload.length);
    pkt[0] = 0x80;
    pkt[1] = 96;
    pkt.writeUInt16BE(seq & 0xffff, 2);
    pkt.writeUInt32BE(seq * 3000, 4);
    pkt.writeUInt32BE(ssrc, 8);
    payload.copy(pkt, 12);
    const out = Buffer.alloc(pkt.length + SrtpSession.MAX_TRAILER);
    const n = this.srtpOut!.protectRtp(pkt, 0, pkt.length, out, 0);
    this.active.send(out, 0, n, this.server.port, this.server.address);
  }

  /** SRTP-protects a whole RTP packet as given (header fields, extensions, padding and all); null when SRTP refuses it. */
  protectRtp(pkt: Buffer): Buffer | null {
    const out = Buffer.alloc(pkt.length + SrtpSession.MAX_TRAILER);
    const n = this.srtpOut!.protectRtp(pkt, 0, pkt.length, out, 0);
    return n < 0 ? null : out.subarray(0, n);
  }

  /** SRTCP-protects an RTCP (compound) packet as given; null when SRTCP refuses it (under 8 bytes, not version 2). */
  protectRtcp(pkt: Buffer): Buffer | null {
    const out = Buffer.alloc(pkt.length + SrtpSession.MAX_RTCP_TRAILER);
    const n = this.srtpOut!.protectRtcp(pkt, 0, pkt.length, out, 0);
    return n < 0 ? null : out.subarray(0, n);
  }

  /** Sends raw bytes from the active socket (garbage for fault tests). */
  sendRaw(buf: Buffer): void {
    this.active.send(buf, this.server.port, this.server.address);
  }

  private onMessage(msg: Buffer, index: number): void {
    const b = msg[0]!;
    if (b < 4) {
      const res = parseStun(msg);
      if (res?.class === StunClass.SuccessResponse) this.received.stunSuccess++;
      else if (res?.class === StunClass.ErrorResponse) {
        this.received.stunError++;
        this.received.lastErrorCode = res.errorCode?.code ?? 0;
      }
    } else if (b >= 20 && b <= 63) {
      this.dtls.handleDatagram(msg);
    } else if (b >= 128 && b <= 191 && this.srtpIn) {
      if ((msg[1]! & 0x7f) >= 72 && (msg[1]! & 0x7f) <= 79) {
        if (this.srtpIn.unprotectRtcp(msg, 0, msg.length) > 0) this.received.rtcp++;
        return;
      }
      if (this.srtpIn.unprotectRtp(msg, 0, msg.length) > 0) {
        this.received.rtp++;
        this.rtpBySocket[index]!++;
      }
    }
  }

  close(): void {
    this.dtls?.close();
    for (const s of this.sockets) s.close();
  }
}
