/**
 * Prometheus metrics (prom-client), served at `/metrics`.
 *
 * Nothing here runs per packet: the data plane keeps plain counters on its
 * objects (transports, muxes, peers) and the registry reads them at scrape
 * time. Counters survive the objects that produced them: when a transport
 * closes or a peer leaves, its final numbers move into `retired` totals.
 * Labels are bounded (direction, kind, reason, method); nothing is labelled
 * per peer or room.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { WebRtcServer } from '../transport/webrtc-server.js';
import type { WebRtcTransport } from '../transport/webrtc-transport.js';
import type { RoomRegistry, RoomMember } from '../router/room.js';
import type { SignalWsServer } from '../signal/jsonrpc/ws-server.js';

export interface MetricsSources {
  media: () => WebRtcServer | undefined;
  rooms: RoomRegistry;
  signal: SignalWsServer;
}

const TRANSPORT_COUNTERS = ['rtpPacketsIn', 'rtpBytesIn', 'rtcpPacketsIn', 'rtpPacketsOut', 'rtpBytesOut', 'rtcpPacketsOut'] as const;
type TransportCounter = (typeof TRANSPORT_COUNTERS)[number];

const PEER_RTCP = ['nacksSent', 'nackedSeqs', 'nacksReceived', 'retransmitted', 'rtxReceived', 'receiverReports', 'senderReports', 'twccFeedback', 'remb'] as const;
type PeerRtcpCounter = (typeof PEER_RTCP)[number];

/** Close reasons folded into a bounded label set. */
export function closeReasonClass(reason: string): string {
  if (reason.startsWith('ICE consent')) return 'consent-expired';
  if (reason.startsWith('ICE did not connect')) return 'ice-timeout';
  if (reason.startsWith('dtls failed')) return 'dtls-failed';
  if (reason.startsWith('dtls closed')) return 'dtls-closed-by-peer';
  if (reason === 'peer left') return 'peer-left';
  if (reason === 'server closed') return 'server-closed';
  if (reason === 'join failed') return 'join-failed';
  return 'other';
}

export class SfuMetrics {
  readonly registry = new Registry();
  private readonly retiredTransport = Object.fromEntries(TRANSPORT_COUNTERS.map((k) => [k, 0])) as Record<TransportCounter, number>;
  private readonly retiredTransportDrops = new Map<string, number>();
  private readonly retiredRtcp = Object.fromEntries(PEER_RTCP.map((k) => [k, 0])) as Record<PeerRtcpCounter, number>;
  private readonly closes = new Map<string, number>();
  private readonly watchedServers = new WeakSet<WebRtcServer>();

  constructor(private readonly src: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'sfud_' });
    src.rooms.on('room', (room) => room.on('memberleft', (m) => this.retirePeer(m)));
    // prom-client calls collect() with `this` bound to the metric, so the registry is reached through `self`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const reg = [this.registry];

    new Gauge({
      name: 'sfud_rooms',
      help: 'Rooms open',
      registers: reg,
      collect() {
        this.set(self.src.rooms.list.length);
      },
    });
    new Gauge({
      name: 'sfud_peers',
      help: 'Peers joined, over all rooms',
      registers: reg,
      collect() {
        this.set(self.src.rooms.list.reduce((n, r) => n + r.memberCount, 0));
      },
    });
    new Gauge({
      name: 'sfud_transports',
      help: 'WebRTC transports open (two per peer: publisher and subscriber)',
      registers: reg,
      collect() {
        this.set(self.media()?.transportCount ?? 0);
      },
    });
    new Gauge({
      name: 'sfud_producers',
      help: 'Incoming tracks',
      labelNames: ['kind'],
      registers: reg,
      collect() {
        const n = { audio: 0, video: 0 };
        for (const r of self.src.rooms.list) for (const p of r.producers) n[p.kind]++;
        this.set({ kind: 'audio' }, n.audio);
        this.set({ kind: 'video' }, n.video);
      },
    });
    new Counter({
      name: 'sfud_rtp_packets_total',
      help: 'RTP packets received from publishers (in) and sent to subscribers (out), after SRTP',
      labelNames: ['direction'],
      registers: reg,
      collect() {
        const t = self.transportTotals();
        this.reset();
        this.inc({ direction: 'in' }, t.rtpPacketsIn);
        this.inc({ direction: 'out' }, t.rtpPacketsOut);
      },
    });
    new Counter({
      name: 'sfud_rtp_bytes_total',
      help: 'RTP bytes (plaintext) received and sent',
      labelNames: ['direction'],
      registers: reg,
      collect() {
        const t = self.transportTotals();
        this.reset();
        this.inc({ direction: 'in' }, t.rtpBytesIn);
        this.inc({ direction: 'out' }, t.rtpBytesOut);
      },
    });
    new Counter({
      name: 'sfud_rtcp_packets_total',
      help: 'RTCP compound packets received and sent',
      labelNames: ['direction'],
      registers: reg,
      collect() {
        const t = self.transportTotals();
        this.reset();
        this.inc({ direction: 'in' }, t.rtcpPacketsIn);
        this.inc({ direction: 'out' }, t.rtcpPacketsOut);
      },
    });
    new Counter({
      name: 'sfud_drops_total',
      help: 'Datagrams and packets dropped, by reason (the data plane never throws: it counts)',
      labelNames: ['reason'],
      registers: reg,
      collect() {
        this.reset();
        for (const [reason, n] of self.dropTotals()) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'sfud_transports_closed_total',
      help: 'WebRTC transports closed, by reason class',
      labelNames: ['reason'],
      registers: reg,
      collect() {
        self.watchMedia();
        this.reset();
        for (const [reason, n] of self.closes) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'sfud_rtcp_feedback_total',
      help: 'RTCP feedback by kind: NACKs sent to publishers and received from subscribers, NACKed sequence numbers, retransmissions served from the store, RTX restored, reports and congestion feedback sent',
      labelNames: ['kind'],
      registers: reg,
      collect() {
        const t = self.rtcpTotals();
        this.reset();
        for (const k of PEER_RTCP) this.inc({ kind: k }, t[k]);
      },
    });
    new Gauge({
      name: 'sfud_signal_sockets',
      help: 'Signalling WebSockets open',
      registers: reg,
      collect() {
        this.set(self.src.signal.getStats().socketsOpen);
      },
    });
    new Counter({
      name: 'sfud_signal_frames_total',
      help: 'Signalling WebSocket frames received (in) and sent (out)',
      labelNames: ['direction'],
      registers: reg,
      collect() {
        const s = self.src.signal.getStats();
        this.reset();
        this.inc({ direction: 'in' }, s.framesIn);
        this.inc({ direction: 'out' }, s.framesOut);
      },
    });
    new Counter({
      name: 'sfud_signal_errors_total',
      help: 'JSON-RPC error replies on the signalling socket, by cause',
      labelNames: ['cause'],
      registers: reg,
      collect() {
        const e = self.src.signal.getStats().errors;
        this.reset();
        for (const [cause, n] of Object.entries(e)) this.inc({ cause }, n);
      },
    });
  }

  private media(): WebRtcServer | undefined {
    const m = this.src.media();
    if (m) this.watchMedia();
    return m;
  }

  /** Starts retiring the final counters of closing transports (once per server). */
  private watchMedia(): void {
    const m = this.src.media();
    if (!m || this.watchedServers.has(m)) return;
    this.watchedServers.add(m);
    m.on('transportclose', (t, reason) => this.retireTransport(t, reason));
  }

  /** Called by the owner as soon as the media server exists, so no close is missed. */
  attach(): void {
    this.watchMedia();
  }

  private retireTransport(t: WebRtcTransport, reason: string): void {
    for (const k of TRANSPORT_COUNTERS) this.retiredTransport[k] += t.stats[k];
    for (const [r, n] of Object.entries(t.stats.drops)) this.retiredTransportDrops.set(r, (this.retiredTransportDrops.get(r) ?? 0) + n);
    const c = closeReasonClass(reason);
    this.closes.set(c, (this.closes.get(c) ?? 0) + 1);
  }

  private retirePeer(m: RoomMember): void {
    for (const k of PEER_RTCP) this.retiredRtcp[k] += m.rtcpStats[k] ?? 0;
  }

  private transportTotals(): Record<TransportCounter, number> {
    const out = { ...this.retiredTransport };
    const media = this.media();
    if (media) for (const t of media.transports) for (const k of TRANSPORT_COUNTERS) out[k] += t.stats[k];
    return out;
  }

  private dropTotals(): Map<string, number> {
    const out = new Map(this.retiredTransportDrops);
    const add = (r: string, n: number): void => void out.set(r, (out.get(r) ?? 0) + n);
    const media = this.media();
    if (media) {
      for (const t of media.transports) for (const [r, n] of Object.entries(t.stats.drops)) add(r, n);
      for (const mux of media.muxes) for (const [r, n] of Object.entries(mux.stats.drops)) add(r, n);
    }
    return out;
  }

  private rtcpTotals(): Record<PeerRtcpCounter, number> {
    const out = { ...this.retiredRtcp };
    for (const r of this.src.rooms.list) for (const m of r.memberList) for (const k of PEER_RTCP) out[k] += m.rtcpStats[k] ?? 0;
    return out;
  }

  /** The exposition text for `/metrics`. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
