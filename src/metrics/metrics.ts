/**
 * Prometheus metrics (prom-client), served at `/metrics`.
 *
 * Nothing here runs per packet: the data plane keeps plain counters on its
 * objects (muxes, transports, producers, consumers, peers) and the registry
 * reads them at scrape time. Counters survive the objects that produced them:
 * when a transport, producer, consumer or peer closes, its final numbers move
 * into `retired` totals, so every counter only grows. Objects are followed
 * through their lifecycle events (a room's `produceradded`, a producer's
 * `consumer`, `close`), never found by walking per packet.
 *
 * Labels are bounded (direction, kind, state, reason, method, shard); nothing
 * is labelled per peer or room unless `perPeerLabels` asks for it.
 *
 * README's "Metrics" section is generated from this registry (`metricsCatalog`).
 */
import { AggregatorRegistry, Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WebRtcServer } from '../transport/webrtc-server.js';
import type { WebRtcTransport } from '../transport/webrtc-transport.js';
import type { UdpMux } from '../transport/udp-mux.js';
import type { Room, RoomMember, RoomRegistry } from '../router/room.js';
import type { MediaKind, Producer } from '../router/producer.js';
import type { Consumer } from '../router/consumer.js';
import type { SignalWsStats } from '../signal/jsonrpc/ws-server.js';
import type { RpcRequestObserver } from '../signal/jsonrpc/types.js';
import type { WebhookStats } from '../webhooks/notifier.js';
import { EventLoopMetrics } from './event-loop.js';
import { registerSignalMetrics, registerWebhookMetrics, type RpcTransport } from './control-plane.js';
import type { LinkQualitySink } from './link-quality.js';
import { scraped, type Labels, type ScrapedMetric } from './define.js';
import { registerShardMetrics, type ShardStatus } from './shards.js';

export interface MetricsOptions {
  /** Value of the `shard` label on event-loop metrics (default `main`). */
  shard?: string;
  /**
   * Adds per-peer series labelled by room `sid` and peer `uid`. Their number
   * grows with the peers online: meant for small deployments and debugging.
   */
  perPeerLabels?: boolean;
  /**
   * Registers the process and control-plane metrics (default metrics,
   * signalling, webhooks). A shard's registry turns them off: the main
   * thread exports them once, and merges each shard's data-plane metrics.
   */
  controlPlane?: boolean;
}

export interface MetricsSources {
  media: () => WebRtcServer | undefined;
  rooms: RoomRegistry;
  signal: () => SignalWsStats;
  webhooks?: () => WebhookStats | undefined;
  /** The worker shards (per-shard load, state and restarts); absent with the data plane in-thread. */
  shards?: () => readonly ShardStatus[];
  /** Other registries to merge into `/metrics` (each shard's `getMetricsAsJSON()`): counters and gauges are summed per label set. */
  remote?: () => Promise<readonly unknown[][]>;
}

type Direction = 'in' | 'out';
const KINDS = ['audio', 'video', 'rtx', 'rtcp'] as const;
type TrafficKind = (typeof KINDS)[number];
interface Traffic {
  packets: number;
  bytes: number;
}
type TrafficTable = Record<Direction, Record<TrafficKind, Traffic>>;

const PEER_RTCP = [
  'nacksSent',
  'nackedSeqs',
  'nacksReceived',
  'retransmitted',
  'rtxReceived',
  'rtxBytes',
  'receiverReports',
  'senderReports',
  'twccFeedback',
  'remb',
  'pliSent',
  'firSent',
  'pliReceived',
  'firReceived',
  'senderReportsReceived',
  'reportsReceived',
] as const;
type PeerRtcpCounter = (typeof PEER_RTCP)[number];

/** RTCP messages by direction and type, from the peers' counters. */
const FEEDBACK: readonly [Direction, string, PeerRtcpCounter][] = [
  ['out', 'nack', 'nacksSent'],
  ['out', 'pli', 'pliSent'],
  ['out', 'fir', 'firSent'],
  ['out', 'twcc', 'twccFeedback'],
  ['out', 'remb', 'remb'],
  ['out', 'rr', 'receiverReports'],
  ['out', 'sr', 'senderReports'],
  ['in', 'nack', 'nacksReceived'],
  ['in', 'pli', 'pliReceived'],
  ['in', 'fir', 'firReceived'],
  ['in', 'sr', 'senderReportsReceived'],
  ['in', 'rr', 'reportsReceived'],
];

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

/** `unknownPayloadType` -> `unknown-payload-type`: producer and consumer drop keys as label values. */
function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function emptyTraffic(): TrafficTable {
  const row = (): Record<TrafficKind, Traffic> =>
    Object.fromEntries(KINDS.map((k) => [k, { packets: 0, bytes: 0 }])) as Record<TrafficKind, Traffic>;
  return { in: row(), out: row() };
}

function addTo(map: Map<string, number>, key: string, n: number): void {
  if (n !== 0) map.set(key, (map.get(key) ?? 0) + n);
}

/** One consistent reading of every counter, shared by the metrics of one scrape. */
interface Snapshot {
  traffic: TrafficTable;
  drops: Map<string, number>;
  rtcp: Record<PeerRtcpCounter, number>;
  keyframes: number;
  retransmitMisses: number;
}

/** Counters of objects that are gone. */
/** What big-room policy saved (last-N, loudest-K) and how often the speaker changed. */
const POLICY = ['lastNPackets', 'lastNBytes', 'loudestKPackets', 'loudestKBytes', 'decryptionsSkipped', 'decryptionsSkippedBytes', 'speakerChanges'] as const;
type PolicyCounter = (typeof POLICY)[number];

class Retired {
  readonly policy = Object.fromEntries(POLICY.map((k) => [k, 0])) as Record<PolicyCounter, number>;
  readonly traffic = emptyTraffic();
  readonly drops = new Map<string, number>();
  readonly rtcp = Object.fromEntries(PEER_RTCP.map((k) => [k, 0])) as Record<PeerRtcpCounter, number>;
  keyframes = 0;
  retransmitMisses = 0;
  readonly layers = { switch: 0, keyframeWait: 0, congestionStop: 0 };
  readonly pacer = { paced: 0, dropped: 0 };
}

const LOSS_BUCKETS = [0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];
const JITTER_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5];
const RTT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6];

export class SfuMetrics {
  readonly registry = new Registry();
  private readonly retired = new Retired();
  private readonly closes = new Map<string, number>();
  private readonly watchedServers = new WeakSet<WebRtcServer>();
  /** Live producers and their publisher; live consumers. */
  private readonly producers = new Map<Producer, RoomMember>();
  private readonly consumers = new Set<Consumer>();
  /** Per-peer ingress of closed producers (only with perPeerLabels), until the peer leaves. */
  private readonly peerRetiredIn = new Map<RoomMember, Traffic>();
  private readonly perPeer: boolean;
  private readonly iceStates: Counter<'state'>;
  private readonly dtlsStates: Counter<'state'>;
  private readonly eventLoop: EventLoopMetrics;
  private snap: Snapshot | undefined;
  private snapAt = -Infinity;
  /** Loss, jitter and RTT from report blocks, for `IonPeer`. */
  readonly linkQuality: LinkQualitySink;
  /** A request observer for a JSON-RPC endpoint (`ws` signalling or `http` admin). */
  readonly rpcObserver: (transport: RpcTransport) => RpcRequestObserver;

  constructor(
    private readonly src: MetricsSources,
    opts: MetricsOptions = {},
  ) {
    this.perPeer = opts.perPeerLabels === true;
    const controlPlane = opts.controlPlane !== false;
    if (controlPlane) collectDefaultMetrics({ register: this.registry, prefix: 'sfud_' });
    src.rooms.on('room', (room) => this.watchRoom(room));
    const registers = [this.registry];
    const def = (m: ScrapedMetric): void => scraped(this.registry, m);
    this.eventLoop = new EventLoopMetrics({ registry: this.registry, shard: opts.shard ?? 'main' });
    const byKind = (items: Iterable<{ kind: MediaKind }>): [Labels, number][] => {
      const n = { audio: 0, video: 0 };
      for (const x of items) n[x.kind]++;
      return [
        [{ kind: 'audio' }, n.audio],
        [{ kind: 'video' }, n.video],
      ];
    };
    const perMux = (read: (m: UdpMux['stats']) => [number, number]): [Labels, number][] => {
      let a = 0;
      let b = 0;
      for (const m of this.media()?.muxes ?? []) {
        const [x, y] = read(m.stats);
        a += x;
        b += y;
      }
      return [
        [{ direction: 'in' }, a],
        [{ direction: 'out' }, b],
      ];
    };
    const traffic = (field: keyof Traffic) => (): [Labels, number][] => {
      const t = this.snapshot().traffic;
      return (['in', 'out'] as const).flatMap((direction) => KINDS.map((kind): [Labels, number] => [{ direction, kind }, t[direction][kind][field]]));
    };
    const trafficHelp =
      'by direction (in: from publishers and clients, out: to subscribers and clients) and kind (audio, video: first transmissions; rtx: retransmissions, RTX restored from publishers in, served from the store to subscribers out; rtcp: compound RTCP)';

    // ---- objects ----
    def({ type: 'gauge', name: 'sfud_rooms', help: 'Rooms open (ion-sfu sessions)', read: () => src.rooms.list.length });
    def({ type: 'gauge', name: 'sfud_peers', help: 'Peers joined, over all rooms', read: () => src.rooms.list.reduce((n, r) => n + r.memberCount, 0) });
    def({
      type: 'gauge',
      name: 'sfud_transports',
      help: 'WebRTC transports open (two per peer: publisher and subscriber)',
      read: () => this.media()?.transportCount ?? 0,
    });
    def({ type: 'gauge', name: 'sfud_producers', help: 'Incoming tracks', labelNames: ['kind'], read: () => byKind(this.producers.keys()) });
    def({ type: 'gauge', name: 'sfud_consumers', help: 'Outgoing tracks (one per subscriber and track)', labelNames: ['kind'], read: () => byKind(this.consumers) });

    // ---- big-room policy ----
    def({
      type: 'counter',
      name: 'sfud_speaker_policy_total',
      help:
        'What last-N and loudest-K saved and how often the dominant speaker changed: what = last_n_packets / last_n_bytes (video not sent to subscribers outside their last-N), loudest_k_packets / loudest_k_bytes (audio decrypted but not forwarded), decryptions_skipped / decryptions_skipped_bytes (quiet audio dropped before decryption), speaker_changes',
      labelNames: ['what'],
      read: () => Object.entries(this.policyTotals()).map(([k, v]): [Labels, number] => [{ what: kebab(k).replace(/-/g, '_') }, v]),
    });

    // ---- ICE / DTLS ----
    this.iceStates = new Counter({
      name: 'sfud_ice_state_changes_total',
      help: 'ICE state changes of transports, by new state (ICE-lite: connected, completed, disconnected, closed)',
      labelNames: ['state'],
      registers,
    });
    this.dtlsStates = new Counter({
      name: 'sfud_dtls_state_changes_total',
      help: 'DTLS state changes of transports, by new state (failed counts handshake failures)',
      labelNames: ['state'],
      registers,
    });
    def({
      type: 'counter',
      name: 'sfud_transports_closed_total',
      help: 'WebRTC transports closed, by reason class (failures: ice-timeout, consent-expired, dtls-failed)',
      labelNames: ['reason'],
      read: () => {
        this.watchMedia();
        return [...this.closes].map(([reason, n]) => [{ reason }, n] as const);
      },
    });

    // ---- media traffic ----
    def({ type: 'counter', name: 'sfud_packets_total', help: `Media packets ${trafficHelp}`, labelNames: ['direction', 'kind'], read: traffic('packets') });
    def({
      type: 'counter',
      name: 'sfud_bytes_total',
      help: `Media bytes (RTP/RTCP without SRTP overhead) ${trafficHelp}`,
      labelNames: ['direction', 'kind'],
      read: traffic('bytes'),
    });
    def({
      type: 'counter',
      name: 'sfud_udp_datagrams_total',
      help: 'Datagrams through the media sockets (STUN, DTLS and SRTP), by direction',
      labelNames: ['direction'],
      read: () => perMux((s) => [s.datagramsIn, s.datagramsOut]),
    });
    def({
      type: 'counter',
      name: 'sfud_udp_bytes_total',
      help: 'Bytes through the media sockets, by direction',
      labelNames: ['direction'],
      read: () => perMux((s) => [s.bytesIn, s.bytesOut]),
    });
    def({
      type: 'counter',
      name: 'sfud_udp_send_errors_total',
      help: 'Media socket send errors (ICMP unreachable, full buffers)',
      read: () => (this.media()?.muxes ?? []).reduce((n, m) => n + m.stats.sendErrors, 0),
    });
    def({
      type: 'counter',
      name: 'sfud_drops_total',
      help: 'Packets not forwarded, by stage (mux: UDP demux, transport: ICE/DTLS/SRTP, peer: decrypted RTP/RTCP and data-channel messages a participant could not use, sctp: data-channel packets and messages the SCTP endpoint refused, producer: ingress parsing, consumer: per-subscriber forwarding, paused and keyframe waits included) and reason. The data plane never throws: it counts',
      labelNames: ['stage', 'reason'],
      read: () =>
        [...this.snapshot().drops].map(([key, n]) => {
          const colon = key.indexOf(':');
          return [{ stage: key.slice(0, colon), reason: key.slice(colon + 1) }, n] as const;
        }),
    });
    def({ type: 'counter', name: 'sfud_keyframes_received_total', help: 'Video keyframes received from publishers', read: () => this.snapshot().keyframes });

    // ---- simulcast layers and subscriber bandwidth ----
    def({
      type: 'counter',
      name: 'sfud_layer_changes_total',
      help: 'Video layer events of subscribers: switch (spatial layer switches, starts excluded), keyframe_wait (packets that found a switch waiting for the new layer\'s keyframe while the old layer kept flowing: freezes avoided), congestion_stop (a layer stopped at once because the bandwidth allocation fell below it)',
      labelNames: ['event'],
      read: () => {
        const t = { ...this.retired.layers };
        for (const c of this.consumers) {
          t.switch += c.stats.layerSwitches;
          t.keyframeWait += c.keyframeWaits;
          t.congestionStop += c.stats.congestionStops;
        }
        return [
          [{ event: 'switch' }, t.switch],
          [{ event: 'keyframe_wait' }, t.keyframeWait],
          [{ event: 'congestion_stop' }, t.congestionStop],
        ];
      },
    });
    def({
      type: 'gauge',
      name: 'sfud_consumer_layers',
      help: 'Video tracks sent to subscribers, by the spatial layer each carries now (none: paused or waiting for a keyframe)',
      labelNames: ['layer'],
      read: () => {
        const n = new Map<string, number>([['none', 0], ['0', 0], ['1', 0], ['2', 0]]);
        for (const c of this.consumers) {
          if (c.kind !== 'video') continue;
          const k = c.currentLayer < 0 ? 'none' : String(c.currentLayer);
          n.set(k, (n.get(k) ?? 0) + 1);
        }
        return [...n].map(([layer, v]): [Labels, number] => [{ layer }, v]);
      },
    });
    /** Every subscriber downlink summed in one walk; estimate, allocation and states over those with an estimate. */
    const downlinks = () => {
      const t = { estimateBps: 0, allocatedBps: 0, estimated: 0, limited: 0, paced: this.retired.pacer.paced, dropped: this.retired.pacer.dropped, queued: 0 };
      for (const room of this.src.rooms.list) {
        for (const m of room.memberList) {
          const d = m.downlinkStats?.();
          if (!d) continue;
          t.paced += d.paced;
          t.dropped += d.pacerDropped;
          t.queued += d.queued;
          if (d.estimateBps <= 0) continue;
          t.estimateBps += d.estimateBps;
          t.allocatedBps += d.allocatedBps;
          t.estimated++;
          if (d.limited) t.limited++;
        }
      }
      return t;
    };
    def({
      type: 'gauge',
      name: 'sfud_downlink_bps',
      help: 'Subscriber downlinks, summed over subscribers with an estimate: what = estimate (from their transport-wide feedback, REMB or receiver reports) or allocated (what the layers chosen for them cost); divide by sfud_downlink_subscribers{state="estimated"} for the mean',
      labelNames: ['what'],
      read: () => {
        const t = downlinks();
        return [
          [{ what: 'estimate' }, Math.round(t.estimateBps)],
          [{ what: 'allocated' }, Math.round(t.allocatedBps)],
        ];
      },
    });
    def({
      type: 'gauge',
      name: 'sfud_downlink_subscribers',
      help: 'Subscribers by downlink state: estimated (an estimate exists), limited (the estimate is below what their tracks want: layers lowered or video paused)',
      labelNames: ['state'],
      read: () => {
        const t = downlinks();
        return [
          [{ state: 'estimated' }, t.estimated],
          [{ state: 'limited' }, t.limited],
        ];
      },
    });
    def({
      type: 'counter',
      name: 'sfud_pacer_packets_total',
      help: 'Subscriber egress pacing (2.5 x the estimate, 1 x near the link capacity): paced (held back to spread a burst), dropped (the queue was full)',
      labelNames: ['what'],
      read: () => {
        const t = downlinks();
        return [
          [{ what: 'paced' }, t.paced],
          [{ what: 'dropped' }, t.dropped],
        ];
      },
    });
    def({ type: 'gauge', name: 'sfud_pacer_queued_packets', help: 'Packets waiting in subscriber pacers now', read: () => downlinks().queued });

    // ---- RTCP feedback ----
    def({
      type: 'counter',
      name: 'sfud_rtcp_feedback_total',
      help: 'RTCP messages by direction (in: from clients, out: to clients) and type: nack, pli, fir, twcc, remb, rr (report blocks, from subscribers in), sr',
      labelNames: ['direction', 'type'],
      read: () => {
        const r = this.snapshot().rtcp;
        return FEEDBACK.map(([direction, type, key]) => [{ direction, type }, r[key]] as const);
      },
    });
    def({ type: 'counter', name: 'sfud_nacked_packets_total', help: 'Sequence numbers sfud asked publishers to resend in its NACKs', read: () => this.snapshot().rtcp.nackedSeqs });
    def({
      type: 'counter',
      name: 'sfud_retransmission_misses_total',
      help: 'Packets subscribers NACKed that were no longer in the retransmission store',
      read: () => this.snapshot().retransmitMisses,
    });

    // ---- link quality, sampled per report block (about once a second per stream) ----
    const linkHistogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, labelNames: ['direction', 'kind'], buckets, registers });
    const loss = linkHistogram(
      'sfud_fraction_lost',
      'Fraction of packets lost per report interval (in: publisher to sfud, from sfud receive statistics; out: sfud to subscriber, from subscriber receiver reports)',
      LOSS_BUCKETS,
    );
    const jitter = linkHistogram(
      'sfud_jitter_seconds',
      'Interarrival jitter per report (in: publisher to sfud; out: sfud to subscriber, as the subscriber reports it)',
      JITTER_BUCKETS,
    );
    const rtt = linkHistogram('sfud_rtt_seconds', 'Round-trip time from LSR/DLSR of report blocks (out: sfud to subscriber and back)', RTT_BUCKETS);
    this.linkQuality = {
      ingress(kind: MediaKind, fractionLost: number, jitterSeconds: number): void {
        loss.observe({ direction: 'in', kind }, fractionLost);
        jitter.observe({ direction: 'in', kind }, jitterSeconds);
      },
      egress(kind: MediaKind, fractionLost: number, jitterSeconds: number, rttSeconds: number): void {
        loss.observe({ direction: 'out', kind }, fractionLost);
        jitter.observe({ direction: 'out', kind }, jitterSeconds);
        if (rttSeconds >= 0) rtt.observe({ direction: 'out', kind }, rttSeconds);
      },
    };

    if (controlPlane) {
      this.rpcObserver = registerSignalMetrics(this.registry, src.signal);
      registerWebhookMetrics(this.registry, () => src.webhooks?.());
    } else {
      this.rpcObserver = () => () => undefined;
    }
    if (src.shards) registerShardMetrics(this.registry, src.shards);

    if (this.perPeer) this.registerPerPeer();
  }

  /** Opt-in per-peer series (`perPeerLabels`): cardinality grows with the peers online. */
  private registerPerPeer(): void {
    const perPeer = (field: keyof Traffic) => (): [Labels, number][] => {
      const out: [Labels, number][] = [];
      for (const room of this.src.rooms.list) {
        for (const m of room.memberList) {
          const labels = { sid: room.sid, uid: m.uid };
          out.push([{ ...labels, direction: 'in' }, this.peerIngress(m)[field]], [{ ...labels, direction: 'out' }, m.egressStats()[field]]);
        }
      }
      return out;
    };
    scraped(this.registry, {
      type: 'counter',
      name: 'sfud_peer_packets_total',
      help: 'RTP packets per peer (only with perPeerLabels): in from its tracks, out to it; the series goes when the peer leaves',
      labelNames: ['sid', 'uid', 'direction'],
      read: perPeer('packets'),
    });
    scraped(this.registry, {
      type: 'gauge',
      name: 'sfud_peer_downlink_bps',
      help: 'A subscriber\'s downlink (only with perPeerLabels): what = estimate or allocated, as in sfud_downlink_bps',
      labelNames: ['sid', 'uid', 'what'],
      read: () => {
        const out: [Labels, number][] = [];
        for (const room of this.src.rooms.list) {
          for (const m of room.memberList) {
            const d = m.downlinkStats?.();
            if (!d) continue;
            out.push([{ sid: room.sid, uid: m.uid, what: 'estimate' }, Math.round(d.estimateBps)], [{ sid: room.sid, uid: m.uid, what: 'allocated' }, Math.round(d.allocatedBps)]);
          }
        }
        return out;
      },
    });
    scraped(this.registry, {
      type: 'counter',
      name: 'sfud_peer_bytes_total',
      help: 'RTP bytes per peer (only with perPeerLabels)',
      labelNames: ['sid', 'uid', 'direction'],
      read: perPeer('bytes'),
    });
  }

  private peerIngress(m: RoomMember): Traffic {
    const out = { ...(this.peerRetiredIn.get(m) ?? { packets: 0, bytes: 0 }) };
    for (const p of m.producers) {
      out.packets += p.stats.packets;
      out.bytes += p.stats.bytes;
    }
    return out;
  }

  // ---- following objects through their lifecycle ----

  /** Policy counters: live producers, consumers, peers and rooms, plus what closed ones counted. */
  private policyTotals(): Record<PolicyCounter, number> {
    const t = { ...this.retired.policy };
    for (const p of this.producers.keys()) {
      t.loudestKPackets += p.stats.notLoudest;
      t.loudestKBytes += p.stats.notLoudestBytes;
    }
    for (const c of this.consumers) {
      t.lastNPackets += c.stats.drops.lastN;
      t.lastNBytes += c.stats.lastNBytes;
    }
    for (const room of this.src.rooms.list) {
      t.speakerChanges += room.speakerStats.speakerChanges;
      for (const m of room.memberList) {
        t.decryptionsSkipped += m.speakerStats?.decryptionsSkipped ?? 0;
        t.decryptionsSkippedBytes += m.speakerStats?.decryptionsSkippedBytes ?? 0;
      }
    }
    return t;
  }

  private watchRoom(room: Room): void {
    room.once('close', () => (this.retired.policy.speakerChanges += room.speakerStats.speakerChanges));
    room.on('produceradded', (member, producer) => this.watchProducer(member, producer));
    // A track piped from another shard: its ingress counts there, its consumers here.
    room.on('pipedproducer', (producer) => producer.on('consumer', (c) => this.watchConsumer(c)));
    room.on('memberleft', (m) => this.retirePeer(m));
  }

  private watchProducer(member: RoomMember, p: Producer): void {
    if (this.producers.has(p)) return;
    this.producers.set(p, member);
    p.on('consumer', (c) => this.watchConsumer(c));
    p.once('close', () => this.retireProducer(p));
  }

  private watchConsumer(c: Consumer): void {
    if (this.consumers.has(c)) return;
    this.consumers.add(c);
    c.once('close', () => this.retireConsumer(c));
  }

  private retireProducer(p: Producer): void {
    const member = this.producers.get(p);
    if (!member) return;
    this.producers.delete(p);
    const t = this.retired.traffic.in[p.kind];
    t.packets += p.stats.packets;
    t.bytes += p.stats.bytes;
    this.retired.keyframes += p.stats.keyframes;
    this.retired.policy.loudestKPackets += p.stats.notLoudest;
    this.retired.policy.loudestKBytes += p.stats.notLoudestBytes;
    for (const [r, n] of Object.entries(p.stats.drops)) addTo(this.retired.drops, `producer:${kebab(r)}`, n);
    if (this.perPeer) {
      const acc = this.peerRetiredIn.get(member) ?? { packets: 0, bytes: 0 };
      acc.packets += p.stats.packets;
      acc.bytes += p.stats.bytes;
      this.peerRetiredIn.set(member, acc);
    }
  }

  private retireConsumer(c: Consumer): void {
    if (!this.consumers.delete(c)) return;
    const out = this.retired.traffic.out;
    out[c.kind].packets += c.stats.packets;
    out[c.kind].bytes += c.stats.bytes;
    out.rtx.packets += c.stats.retransmitted;
    out.rtx.bytes += c.stats.retransmittedBytes;
    this.retired.retransmitMisses += c.stats.retransmitMisses;
    this.retired.policy.lastNPackets += c.stats.drops.lastN;
    this.retired.policy.lastNBytes += c.stats.lastNBytes;
    this.retired.layers.switch += c.stats.layerSwitches;
    this.retired.layers.keyframeWait += c.keyframeWaits;
    this.retired.layers.congestionStop += c.stats.congestionStops;
    for (const [r, n] of Object.entries(c.stats.drops)) addTo(this.retired.drops, `consumer:${kebab(r)}`, n);
  }

  private retirePeer(m: RoomMember): void {
    const d = m.downlinkStats?.();
    if (d) {
      this.retired.pacer.paced += d.paced;
      this.retired.pacer.dropped += d.pacerDropped;
    }
    for (const [r, n] of Object.entries(m.drops ?? {})) addTo(this.retired.drops, `peer:${kebab(r)}`, n);
    for (const k of PEER_RTCP) this.retired.rtcp[k] += m.rtcpStats[k] ?? 0;
    this.retired.policy.decryptionsSkipped += m.speakerStats?.decryptionsSkipped ?? 0;
    this.retired.policy.decryptionsSkippedBytes += m.speakerStats?.decryptionsSkippedBytes ?? 0;
    this.peerRetiredIn.delete(m);
  }

  private retireTransport(t: WebRtcTransport, reason: string): void {
    const r = this.retired.traffic;
    r.in.rtcp.packets += t.stats.rtcpPacketsIn;
    r.in.rtcp.bytes += t.stats.rtcpBytesIn;
    r.out.rtcp.packets += t.stats.rtcpPacketsOut;
    r.out.rtcp.bytes += t.stats.rtcpBytesOut;
    for (const [reason, n] of Object.entries(t.stats.drops)) addTo(this.retired.drops, `transport:${reason}`, n);
    for (const [r, n] of Object.entries(t.sctpDrops ?? {})) addTo(this.retired.drops, `sctp:${kebab(r)}`, n);
    const c = closeReasonClass(reason);
    this.closes.set(c, (this.closes.get(c) ?? 0) + 1);
  }

  private media(): WebRtcServer | undefined {
    const m = this.src.media();
    if (m) this.watchMedia();
    return m;
  }

  /** Follows the media server's transports (once per server): states, and final counters at close. */
  private watchMedia(): void {
    const m = this.src.media();
    if (!m || this.watchedServers.has(m)) return;
    this.watchedServers.add(m);
    m.on('transport', (t) => {
      t.on('icestatechange', (state) => this.iceStates.inc({ state }));
      t.on('dtlsstatechange', (state) => this.dtlsStates.inc({ state }));
    });
    m.on('transportclose', (t, reason) => this.retireTransport(t, reason));
  }

  /** Called by the owner as soon as the media server exists, so no transport is missed. */
  attach(): void {
    this.watchMedia();
  }

  // ---- reading ----

  /**
   * Every counter, live objects plus retired totals. One reading serves all
   * metrics of a scrape (cached for 50 ms), so they agree with each other.
   */
  private snapshot(): Snapshot {
    const now = performance.now();
    if (this.snap && now - this.snapAt < 50) return this.snap;
    const r = this.retired;
    const traffic = structuredClone(r.traffic);
    const drops = new Map(r.drops);
    const rtcp = { ...r.rtcp };
    let keyframes = r.keyframes;
    let retransmitMisses = r.retransmitMisses;
    for (const p of this.producers.keys()) {
      const t = traffic.in[p.kind];
      t.packets += p.stats.packets;
      t.bytes += p.stats.bytes;
      keyframes += p.stats.keyframes;
      for (const [reason, n] of Object.entries(p.stats.drops)) addTo(drops, `producer:${kebab(reason)}`, n);
    }
    for (const c of this.consumers) {
      const t = traffic.out;
      t[c.kind].packets += c.stats.packets;
      t[c.kind].bytes += c.stats.bytes;
      t.rtx.packets += c.stats.retransmitted;
      t.rtx.bytes += c.stats.retransmittedBytes;
      retransmitMisses += c.stats.retransmitMisses;
      for (const [reason, n] of Object.entries(c.stats.drops)) addTo(drops, `consumer:${kebab(reason)}`, n);
    }
    for (const room of this.src.rooms.list) {
      for (const m of room.memberList) {
        for (const k of PEER_RTCP) rtcp[k] += m.rtcpStats[k] ?? 0;
        for (const [reason, n] of Object.entries(m.drops ?? {})) addTo(drops, `peer:${kebab(reason)}`, n);
      }
    }
    // RTX restored from publishers reaches its producer as video: count it once, as rtx.
    traffic.in.rtx.packets = rtcp.rtxReceived;
    traffic.in.rtx.bytes = rtcp.rtxBytes;
    traffic.in.video.packets -= rtcp.rtxReceived;
    traffic.in.video.bytes -= rtcp.rtxBytes;
    const media = this.media();
    if (media) {
      for (const t of media.transports) {
        traffic.in.rtcp.packets += t.stats.rtcpPacketsIn;
        traffic.in.rtcp.bytes += t.stats.rtcpBytesIn;
        traffic.out.rtcp.packets += t.stats.rtcpPacketsOut;
        traffic.out.rtcp.bytes += t.stats.rtcpBytesOut;
        for (const [reason, n] of Object.entries(t.stats.drops)) addTo(drops, `transport:${reason}`, n);
        for (const [reason, n] of Object.entries(t.sctpDrops ?? {})) addTo(drops, `sctp:${kebab(reason)}`, n);
      }
      for (const mux of media.muxes) for (const [reason, n] of Object.entries(mux.stats.drops)) addTo(drops, `mux:${reason}`, n);
    }
    this.snap = { traffic, drops, rtcp, keyframes, retransmitMisses };
    this.snapAt = now;
    return this.snap;
  }

  /** Cumulative drops keyed `stage:reason` (for the rate-limited drop log). */
  dropTotals(): ReadonlyMap<string, number> {
    this.snap = undefined;
    return this.snapshot().drops;
  }

  /** The exposition text for `/metrics`. */
  async text(): Promise<{ contentType: string; body: string }> {
    this.snap = undefined;
    const remote = await this.src.remote?.();
    if (!remote || remote.length === 0) return { contentType: this.registry.contentType, body: await this.registry.metrics() };
    // prom-client's cluster merge: same name and labels are summed (a metric's own `aggregator` wins).
    const merged = AggregatorRegistry.aggregate([await this.registry.getMetricsAsJSON(), ...remote]);
    return { contentType: this.registry.contentType, body: await merged.metrics() };
  }

  /** The registry as `getMetricsAsJSON()` (a shard's, for the main thread to merge). */
  async json(): Promise<unknown[]> {
    this.snap = undefined;
    return this.registry.getMetricsAsJSON();
  }

  /** Stops the event-loop sampling timer. */
  close(): void {
    this.eventLoop.close();
  }
}
