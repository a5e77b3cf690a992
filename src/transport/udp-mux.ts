/**
 * One UDP socket, many WebRTC transports (single-port mux, like mediasoup's
 * WebRtcServer and LiveKit's udp_port).
 *
 * Every datagram is classified by its first byte (RFC 7983 section 7):
 *
 *                  +----------------+
 *                  |        [0..3] -+--> STUN
 *                  |      [20..63] -+--> DTLS
 *   packet -->     |    [128..191] -+--> RTP/RTCP
 *                  +----------------+    (anything else is dropped and counted)
 *
 * and routed to a transport by its source address and port. A STUN binding
 * request from an address we do not know yet is routed by the local part of
 * its USERNAME (our ufrag); only after the transport's ICE agent accepts it
 * does that address become known, so DTLS and RTP from strangers never reach
 * a transport.
 *
 * The mux never throws on input and keeps a counter per drop reason.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { once } from 'node:events';
import { parseStun, type StunMessage } from '../ice/stun.js';
import type { IceTuple } from '../ice/ice-lite.js';
import { SfuError } from '../errors.js';

/** What the mux delivers to; implemented by WebRtcTransport. */
export interface MuxTarget {
  handleStun(msg: StunMessage, from: IceTuple, mux: UdpMux): void;
  /** DTLS and RTP come only from tuples the target's ICE agent accepted. */
  handleDtls(datagram: Buffer): void;
  handleRtpOrRtcp(datagram: Buffer): void;
}

export const DropReason = {
  UnknownFirstByte: 'unknown-first-byte',
  StunMalformed: 'stun-malformed',
  StunUnknownUfrag: 'stun-unknown-ufrag',
  DtlsUnknownTuple: 'dtls-unknown-tuple',
  RtpUnknownTuple: 'rtp-unknown-tuple',
  Short: 'too-short',
  RemoteFiltered: 'remote-filtered',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export interface UdpMuxOptions {
  host: string;
  port: number;
  /** Socket buffer sizes; media bursts overflow Linux's default 208 KiB. */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Checks from addresses this rejects are dropped before ICE sees them (an ACL; tests keep media on loopback with it). */
  acceptRemote?: (address: string) => boolean;
}

export class UdpMux {
  readonly host: string;
  readonly family: 4 | 6;
  private readonly socket: Socket;
  /** address -> port -> target: no string is built per packet to find a transport. */
  private readonly tuples = new Map<string, Map<number, MuxTarget>>();
  private readonly ufrags = new Map<string, MuxTarget>();
  private closed = false;
  private acceptRemote: ((address: string) => boolean) | undefined;
  readonly stats = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    sendErrors: 0,
    drops: Object.fromEntries(Object.values(DropReason).map((r) => [r, 0])) as Record<DropReason, number>,
  };

  private constructor(host: string, family: 4 | 6) {
    this.host = host;
    this.family = family;
    this.socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // A send error (ICMP unreachable on Linux surfaces as an 'error' on some paths) must not crash us.
    this.socket.on('error', () => {
      this.stats.sendErrors++;
    });
  }

  /** Binds the socket; rejects with ERR_SFUD_LISTEN if the port is taken. */
  static async bind(opts: UdpMuxOptions): Promise<UdpMux> {
    const family = isIP(opts.host);
    if (family === 0) throw new SfuError('ERR_SFUD_CONFIG', `media address "${opts.host}" is not an IP address`);
    const mux = new UdpMux(opts.host, family as 4 | 6);
    mux.acceptRemote = opts.acceptRemote;
    const s = mux.socket;
    try {
      const listening = once(s, 'listening');
      s.bind({ address: opts.host, port: opts.port, exclusive: true });
      await listening;
    } catch (err) {
      s.close();
      throw new SfuError('ERR_SFUD_LISTEN', `cannot bind UDP ${opts.host}:${opts.port}: ${(err as Error).message}`, { cause: err });
    }
    try {
      s.setRecvBufferSize(opts.recvBufferSize ?? 4 * 1024 * 1024);
      s.setSendBufferSize(opts.sendBufferSize ?? 4 * 1024 * 1024);
    } catch {
      // The kernel caps these (net.core.rmem_max); the defaults still work.
    }
    return mux;
  }

  get port(): number {
    return this.socket.address().port;
  }

  registerUfrag(ufrag: string, target: MuxTarget): void {
    this.ufrags.set(ufrag, target);
  }

  unregisterUfrag(ufrag: string, target: MuxTarget): void {
    if (this.ufrags.get(ufrag) === target) this.ufrags.delete(ufrag);
  }

  /** Routes datagrams from `tuple` to `target` (after its ICE agent accepted a check from there). */
  addTuple(tuple: IceTuple, target: MuxTarget): void {
    let ports = this.tuples.get(tuple.address);
    if (!ports) {
      ports = new Map();
      this.tuples.set(tuple.address, ports);
    }
    ports.set(tuple.port, target);
  }

  removeTuple(tuple: IceTuple, target: MuxTarget): void {
    const ports = this.tuples.get(tuple.address);
    if (!ports || ports.get(tuple.port) !== target) return;
    ports.delete(tuple.port);
    if (ports.size === 0) this.tuples.delete(tuple.address);
  }

  /** Number of routed tuples (for stats and tests). */
  get tupleCount(): number {
    let n = 0;
    for (const p of this.tuples.values()) n += p.size;
    return n;
  }

  send(buf: Buffer, offset: number, length: number, to: IceTuple): void {
    if (this.closed) return;
    this.stats.datagramsOut++;
    this.stats.bytesOut += length;
    this.socket.send(buf, offset, length, to.port, to.address, this.onSent);
  }

  // One shared callback, not a closure per packet.
  private readonly onSent = (err: Error | null): void => {
    if (err) this.stats.sendErrors++;
  };

  private drop(reason: DropReason): void {
    this.stats.drops[reason]++;
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    this.stats.datagramsIn++;
    this.stats.bytesIn += msg.length;
    if (msg.length < 4) return this.drop(DropReason.Short);
    const b = msg[0]!;
    const target = this.tuples.get(rinfo.address)?.get(rinfo.port);
    if (b < 4) {
      const stun = parseStun(msg, 0, msg.length);
      if (!stun) return this.drop(DropReason.StunMalformed);
      let to = target;
      if (!to) {
        if (this.acceptRemote && !this.acceptRemote(rinfo.address)) return this.drop(DropReason.RemoteFiltered);
        const username = stun.username;
        const colon = username === undefined ? -1 : username.indexOf(':');
        to = username === undefined ? undefined : this.ufrags.get(colon < 0 ? username : username.slice(0, colon));
        if (!to) return this.drop(DropReason.StunUnknownUfrag);
      }
      to.handleStun(stun, this.tupleOf(rinfo), this);
      return;
    }
    if (b >= 128 && b <= 191) {
      if (!target) return this.drop(DropReason.RtpUnknownTuple);
      target.handleRtpOrRtcp(msg);
      return;
    }
    if (b >= 20 && b <= 63) {
      if (!target) return this.drop(DropReason.DtlsUnknownTuple);
      target.handleDtls(msg);
      return;
    }
    this.drop(DropReason.UnknownFirstByte);
  }

  private tupleOf(rinfo: RemoteInfo): IceTuple {
    return { address: rinfo.address, port: rinfo.port, family: rinfo.family === 'IPv6' ? 6 : 4 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tuples.clear();
    this.ufrags.clear();
    const done = once(this.socket, 'close');
    this.socket.close();
    await done;
  }
}
