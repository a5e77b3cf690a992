/**
 * DTLS 1.2 for one WebRTC transport (RFC 6347, DTLS-SRTP RFC 5764, RFC 8842
 * for the setup roles), driven over our own socket.
 *
 * The handshake and record layer come from werift's DtlsServer/DtlsClient
 * (pinned in package.json), which run over any object with `onData`, `send`
 * and `close`. What they lack, this class adds:
 *  - the remote certificate is checked against the fingerprints from the
 *    remote SDP before anyone is told the transport is connected;
 *  - `close()` sends close_notify and never closes the shared UDP socket;
 *  - lost flights are recovered fast: werift retransmits after 0.5 s, 1 s,
 *    1.5 s ... (two lost datagrams cost seconds), so we resend our last flight
 *    ourselves on a 100 ms doubling timer, and at once when the peer
 *    retransmits its previous flight (the RFC 6347 4.2.4 signal that ours was
 *    lost);
 *  - failures are events with a reason, never unhandled rejections.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  DtlsClient,
  DtlsServer,
  HashAlgorithm,
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  SignatureAlgorithm,
} from 'werift';
import { systemClock, type Clock, type Timer } from '../util/clock.js';
import { matchesFingerprint, type DtlsCertificate, type DtlsFingerprint } from './certificate.js';

export type DtlsRole = 'server' | 'client';
export type DtlsState = 'new' | 'connecting' | 'connected' | 'failed' | 'closed';
export type SrtpProfileName = 'AEAD_AES_128_GCM' | 'AES_CM_128_HMAC_SHA1_80';

/** Keying material for SRTP (RFC 5764 4.2), from our point of view. */
export interface SrtpKeys {
  profile: SrtpProfileName;
  localKey: Buffer;
  localSalt: Buffer;
  remoteKey: Buffer;
  remoteSalt: Buffer;
}

const PROFILE_IDS: Record<SrtpProfileName, number> = {
  AEAD_AES_128_GCM: ProtectionProfileAeadAes128Gcm,
  AES_CM_128_HMAC_SHA1_80: ProtectionProfileAes128CmHmacSha1_80,
};
const KEY_SALT: Record<SrtpProfileName, [number, number]> = {
  AEAD_AES_128_GCM: [16, 12],
  AES_CM_128_HMAC_SHA1_80: [16, 14],
};

export interface DtlsTransportOptions {
  role: DtlsRole;
  certificate: DtlsCertificate;
  remoteFingerprints: readonly DtlsFingerprint[];
  /** SRTP profiles in our order of preference (the server's order decides). */
  srtpProfiles?: readonly SrtpProfileName[];
  /** Sends one datagram to the remote (the ICE-selected path). */
  send: (datagram: Buffer) => void;
  clock?: Clock;
  /** First retransmission timeout; doubles per try up to `maxRetransmitMs`. */
  initialRetransmitMs?: number;
  maxRetransmitMs?: number;
  /** The handshake fails if not done within this time. */
  handshakeTimeoutMs?: number;
}

export interface DtlsTransportEvents {
  connected: [keys: SrtpKeys | null];
  data: [data: Buffer];
  failed: [reason: string];
  closed: [];
}

/** werift's transport contract: it installs `onData`, and calls `send`/`close`. */
interface WeriftTransport {
  type: string;
  address: AddressInfo;
  closed: boolean;
  onData: (buf: Buffer) => void;
  send: (buf: Buffer) => Promise<void>;
  close: () => Promise<void>;
}

type WeriftSocket = DtlsServer | DtlsClient;

/** The transport werift writes to, and what it forwards to until `target` and `failed` are cleared. */
interface Bridge extends WeriftTransport {
  target: ((buf: Buffer) => Promise<void>) | undefined;
  /** Where a rejected client handshake reports. */
  failed: ((reason: string) => void) | undefined;
}

/**
 * Built outside the class on purpose: no closure here can hold a
 * DtlsTransport, so clearing `target` at close leaves werift's leftovers
 * (its flight retransmission loop runs on for about 33 s after an unfinished
 * handshake) nothing to keep alive but this small object.
 */
function createBridge(): Bridge {
  const bridge: Bridge = {
    type: 'udp',
    address: { address: '', family: 'IPv4', port: 0 },
    closed: false,
    target: undefined,
    failed: undefined,
    onData: () => {},
    send: async (buf) => bridge.target?.(buf),
    // werift closes its transport on close(); the socket is shared, so this does nothing.
    close: async () => {},
  };
  return bridge;
}

/** Out of the class for the same reason: werift rejects this only when its flight loop gives up, ~33 s on. */
function reportRejection(handshake: Promise<unknown>, bridge: Bridge): void {
  handshake.catch((err: unknown) => bridge.failed?.(`handshake error: ${(err as Error).message}`));
}

const DTLS_CONTENT_ALERT = 21;

export class DtlsTransport extends EventEmitter<DtlsTransportEvents> {
  readonly role: DtlsRole;
  private _state: DtlsState = 'new';
  private readonly opts: DtlsTransportOptions;
  private readonly clock: Clock;
  private readonly bridge: Bridge;
  private socket: WeriftSocket | undefined;
  private srtpKeys: SrtpKeys | null = null;
  private profileName: SrtpProfileName | null = null;

  // Flight retransmission state.
  private flight: Buffer[] = [];
  /** True when the next datagram werift sends starts a new flight (something arrived since the last one). */
  private newFlight = true;
  private readonly received: Buffer[] = [];
  private rto: number;
  private lastResendAt = -Infinity;
  private retransmitTimer: Timer | undefined;
  private handshakeTimer: Timer | undefined;
  /** Drops the server's last flight 10 s after the handshake; cancelled at close, or it holds the whole transport for those 10 s. */
  private flightTimer: Timer | undefined;

  readonly stats = {
    datagramsIn: 0,
    datagramsOut: 0,
    retransmittedDatagrams: 0,
    /** Datagrams werift could not use (its own errors are swallowed per record). */
    errors: 0,
  };

  constructor(opts: DtlsTransportOptions) {
    super();
    this.opts = opts;
    this.role = opts.role;
    this.clock = opts.clock ?? systemClock;
    this.rto = opts.initialRetransmitMs ?? 100;
    this.bridge = createBridge();
    this.bridge.target = (buf) => this.onWeriftSend(buf);
  }

  get state(): DtlsState {
    return this._state;
  }

  /** The negotiated SRTP profile once connected. */
  get srtpProfile(): SrtpProfileName | null {
    return this.profileName;
  }

  /** Starts the handshake (the client sends its ClientHello; the server waits for one). */
  start(): void {
    if (this._state !== 'new') return;
    this._state = 'connecting';
    const profiles = (this.opts.srtpProfiles ?? ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80']).map((p) => PROFILE_IDS[p]);
    const common = {
      transport: this.bridge,
      cert: this.opts.certificate.certPem,
      key: this.opts.certificate.keyPem,
      signatureHash: { hash: HashAlgorithm.sha256_4, signature: SignatureAlgorithm.ecdsa_3 }, // matches our P-256 certificate
      srtpProfiles: profiles as (1 | 7)[],
      extendedMasterSecret: true,
    };
    const socket = this.role === 'server' ? new DtlsServer({ ...common, certificateRequest: true }) : new DtlsClient(common);
    this.socket = socket;
    socket.onConnect.once(() => this.onHandshakeDone());
    socket.onError.subscribe((err: Error) => this.fail(`handshake error: ${err.message}`));
    socket.onData.subscribe((data: Buffer) => {
      if (this._state === 'connected') this.emit('data', data);
    });
    socket.onClose.subscribe(() => {
      // werift reports every alert as a close; a peer's close_notify or fatal alert ends the transport.
      if (this._state === 'connecting') this.fail('peer sent an alert during the handshake');
      else this.closeQuietly();
    });
    this.handshakeTimer = this.clock.setTimeout(
      () => this.fail('handshake timed out'),
      this.opts.handshakeTimeoutMs ?? 30_000,
    );
    if (socket instanceof DtlsClient) {
      this.bridge.failed = (reason) => this.fail(reason);
      reportRejection(socket.connect(), this.bridge);
    }
  }

  /**
   * Feeds one DTLS datagram (first byte 20-63) received on the selected path.
   * Returns false when it was dropped unread: after the handshake, a record in
   * epoch 0 (a ClientHello, an alert, anything in clear) can only be a
   * stale retransmission or a forgery from someone who spoofs the peer's
   * address, and werift would tear the association down for it (a new
   * ClientHello or a plaintext alert closes it), so it never gets there.
   */
  /**
   * Every record in the datagram is handshake (22) or application data (23),
   * or an alert (21) that authenticates with the association's read keys, and
   * the record headers (RFC 6347 4.1) walk to its end exactly.
   */
  private recordsSafeForWerift(datagram: Buffer): boolean {
    let p = 0;
    while (p < datagram.length) {
      if (p + 13 > datagram.length) return false;
      const type = datagram[p]!;
      const end = p + 13 + datagram.readUInt16BE(p + 11);
      if (end > datagram.length) return false;
      if (type === 21) {
        if (!this.authenticates(datagram, p, end)) return false;
      } else if (type !== 22 && type !== 23) {
        return false;
      }
      p = end;
    }
    return true;
  }

  /** The record at [start, end) decrypts with werift's read state (AEAD/MAC check); rare, never on the media path. */
  private authenticates(datagram: Buffer, start: number, end: number): boolean {
    const cipher = (this.socket as unknown as { cipher?: { decryptPacket(p: unknown): Buffer } } | undefined)?.cipher;
    if (!cipher) return false;
    try {
      cipher.decryptPacket({
        recordLayerHeader: {
          contentType: datagram[start]!,
          protocolVersion: { major: datagram[start + 1]!, minor: datagram[start + 2]! },
          epoch: datagram.readUInt16BE(start + 3),
          sequenceNumber: datagram.readUIntBE(start + 5, 6),
          contentLen: end - start - 13,
        },
        fragment: datagram.subarray(start + 13, end),
      });
      return true;
    } catch {
      return false;
    }
  }

  /** Why `handleDatagram` last returned false. */
  dropReason: 'plaintext' | 'unauthenticated' = 'plaintext';

  handleDatagram(datagram: Buffer): boolean {
    if (!this.socket || this._state === 'closed' || this._state === 'failed') return true;
    this.stats.datagramsIn++;
    if (this.flight.length > 0) {
      if (this.received.some((r) => r.equals(datagram))) {
        // The peer resent a flight we already have: ours was lost (RFC 6347 4.2.4).
        // At most once per initial timeout, so two ends answering each other's
        // resends cannot ping-pong.
        const now = this.clock.now();
        if (now - this.lastResendAt >= (this.opts.initialRetransmitMs ?? 100)) this.resendFlight();
        return true;
      }
      if (this.received.length >= 16) this.received.shift();
      this.received.push(Buffer.from(datagram));
      if (this._state === 'connecting') this.stopRetransmitTimer();
      this.newFlight = true;
    }
    // Record header: type(1) version(2) epoch(2) ...; a datagram shorter than a header is werift's to reject.
    if (this._state === 'connected' && datagram.length >= 5 && datagram[3] === 0 && datagram[4] === 0) {
      // While we still hold our last flight, a client flight we did not keep byte for byte is also the
      // sign that ours was lost: resend it (rate-limited as above), but never hand the record to werift.
      if (this.flight.length > 0 && this.clock.now() - this.lastResendAt >= (this.opts.initialRetransmitMs ?? 100)) this.resendFlight();
      // libwebrtc re-encodes a resent flight (new record sequence numbers), so it is not byte for byte
      // what we kept: a ChangeCipherSpec or a handshake message other than a ClientHello, while our
      // flight is held, is that resend and no drop. A ClientHello or a plaintext alert never is.
      if (this.flight.length > 0 && isFinalFlightRecord(datagram)) return true;
      this.dropReason = 'plaintext';
      return false;
    }
    // After the handshake werift ends the association on an alert it has not authenticated (it
    // reads an encrypted alert's first two bytes as if they were clear) and on any record type it
    // does not know, so one spoofed datagram from the peer's address could close it. It gets
    // handshake records (a resent Finished, which it authenticates), application data, and alerts
    // that decrypt with the association's keys (a genuine close_notify); nothing else.
    if (this._state === 'connected' && !this.recordsSafeForWerift(datagram)) {
      this.dropReason = 'unauthenticated';
      return false;
    }
    try {
      this.bridge.onData(datagram);
    } catch {
      this.stats.errors++;
    }
    return true;
  }

  /** Sends application data (SCTP) over the connected association. */
  send(data: Buffer): void {
    if (this._state !== 'connected' || !this.socket) return;
    this.socket.send(data).catch(() => {
      this.stats.errors++;
    });
  }

  private async onWeriftSend(buf: Buffer): Promise<void> {
    if (this._state === 'closed' || this._state === 'failed') return;
    if (this._state === 'connecting' || this.flight.length > 0) this.trackFlight(buf);
    this.stats.datagramsOut++;
    this.opts.send(buf);
  }

  private trackFlight(buf: Buffer): void {
    if (this._state !== 'connecting') return;
    if (this.newFlight) {
      this.flight = [];
      this.newFlight = false;
      this.rto = this.opts.initialRetransmitMs ?? 100;
    }
    // werift's own retransmissions resend the same bytes; keep one copy.
    if (this.flight.some((f) => f.equals(buf))) return;
    this.flight.push(Buffer.from(buf));
    this.armRetransmitTimer();
  }

  private armRetransmitTimer(): void {
    this.retransmitTimer?.cancel();
    this.retransmitTimer = this.clock.setTimeout(() => {
      this.retransmitTimer = undefined;
      if (this._state !== 'connecting') return;
      this.resendFlight();
      this.rto = Math.min(this.rto * 2, this.opts.maxRetransmitMs ?? 2000);
      this.armRetransmitTimer();
    }, this.rto);
  }

  private stopRetransmitTimer(): void {
    this.retransmitTimer?.cancel();
    this.retransmitTimer = undefined;
  }

  private resendFlight(): void {
    this.lastResendAt = this.clock.now();
    for (const d of this.flight) {
      this.stats.retransmittedDatagrams++;
      this.stats.datagramsOut++;
      this.opts.send(d);
    }
  }

  private onHandshakeDone(): void {
    if (this._state !== 'connecting' || !this.socket) return;
    this.stopRetransmitTimer();
    this.handshakeTimer?.cancel();
    const der = this.socket.remoteCertificate;
    if (!der || !matchesFingerprint(der, this.opts.remoteFingerprints)) {
      this.sendAlert(42); // bad_certificate
      this.fail('the remote certificate does not match the fingerprint in the SDP');
      return;
    }
    const profileId = this.socket.srtp.srtpProfile as number | undefined;
    const name = (Object.keys(PROFILE_IDS) as SrtpProfileName[]).find((n) => PROFILE_IDS[n] === profileId) ?? null;
    this.profileName = name;
    if (name) {
      const [keyLen, saltLen] = KEY_SALT[name];
      const k = this.socket.extractSessionKeys(keyLen, saltLen) as Record<'localKey' | 'localSalt' | 'remoteKey' | 'remoteSalt', Buffer>;
      this.srtpKeys = { profile: name, localKey: k.localKey, localSalt: k.localSalt, remoteKey: k.remoteKey, remoteSalt: k.remoteSalt };
    }
    this._state = 'connected';
    // The server keeps its last flight for a while: if the client resends its
    // Finished flight, ours (ChangeCipherSpec + Finished) was lost.
    if (this.role === 'client') this.flight = [];
    else this.flightTimer = this.clock.setTimeout(() => (this.flight = []), 10_000);
    this.emit('connected', this.srtpKeys);
  }

  /** Encrypted alert record (RFC 5246 7.2), built with werift's cipher state. */
  private sendAlert(description: number): void {
    const s = this.socket;
    if (!s) return;
    try {
      const seq = ++s.dtls.recordSequenceNumber;
      const header = { type: DTLS_CONTENT_ALERT, version: 0xfefd, epoch: s.dtls.epoch, sequenceNumber: seq };
      const body = Buffer.from([description === 0 ? 1 : 2, description]);
      const cipher = s.cipher.cipher as { encrypt(t: unknown, data: Buffer, h: typeof header): Buffer } | undefined;
      const fragment = s.dtls.epoch > 0 && cipher ? cipher.encrypt(s.sessionType, body, header) : body;
      const rec = Buffer.alloc(13 + fragment.length);
      rec[0] = DTLS_CONTENT_ALERT;
      rec.writeUInt16BE(0xfefd, 1);
      rec.writeUInt16BE(s.dtls.epoch, 3);
      rec.writeUIntBE(seq, 5, 6);
      rec.writeUInt16BE(fragment.length, 11);
      fragment.copy(rec, 13);
      this.opts.send(rec);
    } catch {
      this.stats.errors++;
    }
  }

  private fail(reason: string): void {
    if (this._state === 'failed' || this._state === 'closed') return;
    this._state = 'failed';
    this.teardown();
    this.emit('failed', reason);
  }

  private teardown(): void {
    this.stopRetransmitTimer();
    this.handshakeTimer?.cancel();
    this.flightTimer?.cancel();
    this.flight = [];
    // werift's flight loop reaches this transport (and through it the peer and
    // its tracks) through the bridge: cut it so a closed transport can be collected at once.
    this.bridge.target = undefined;
    this.bridge.failed = undefined;
    const s = this.socket;
    this.socket = undefined;
    if (s) {
      // Its handshake may still be awaiting a flight retransmission (werift keeps
      // that loop, and so the socket, alive for up to ~33 s): drop our listeners.
      for (const ev of [s.onData, s.onConnect, s.onError, s.onClose]) ev.allUnsubscribe?.();
      // ...and end that loop at its next wake-up (it stops once the context's flight
      // number passes the one it waits for): its ref'd timers would otherwise hold a
      // stopping daemon open for up to ~33 s after the last unfinished handshake.
      s.dtls.flight = Number.MAX_SAFE_INTEGER;
      try {
        s.close();
      } catch {
        // werift's close only reaches our bridge, whose close does nothing
      }
    }
  }

  private closeQuietly(): void {
    if (this._state === 'closed') return;
    const wasFailed = this._state === 'failed';
    this._state = 'closed';
    this.teardown();
    if (!wasFailed) this.emit('closed');
  }

  /** Sends close_notify (when connected) and stops; the shared socket stays open. */
  close(): void {
    if (this._state === 'closed') return;
    if (this._state === 'connected') this.sendAlert(0);
    this.closeQuietly();
  }

  getStats(): Record<string, unknown> {
    return { state: this._state, role: this.role, srtpProfile: this.profileName, ...this.stats };
  }
}

/**
 * A DTLS record a client's final handshake flight starts with (RFC 6347):
 * ChangeCipherSpec (content type 20), or a handshake record (22) whose
 * message is not a ClientHello (handshake type at byte 13 of the datagram).
 */
function isFinalFlightRecord(d: Buffer): boolean {
  if (d[0] === 20) return true;
  return d[0] === 22 && d.length > 13 && d[13] !== 1;
}
