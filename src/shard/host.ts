/**
 * One data-plane unit (DESIGN.md "Planes and threads"): a media server (one
 * UDP port), the rooms placed on it and the `IonPeer` sessions of their
 * members. The same class runs in the main thread (`shards: 0`) and inside
 * every worker shard; only plain values leave it (room summaries, outcomes,
 * load), never a data-plane object, so the main thread can drive it by
 * message as well as by call.
 */
import { performance } from 'node:perf_hooks';
import type { SfuConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { ClosedError } from '../errors.js';
import type { DtlsCertificate } from '../dtls/certificate.js';
import { WebRtcServer } from '../transport/webrtc-server.js';
import { RoomRegistry, type RoomPolicyOptions } from '../router/room.js';
import type { PreferredLayers } from '../router/consumer.js';
import { IonPeer } from '../signal/ion-peer.js';
import type { LinkQualitySink } from '../metrics/link-quality.js';
import { PipeHub, type PipeTotals } from './pipe-hub.js';
import type { MemberOutcome, RemovePeerOutcome, RoomDetail, RoomSummary, SignalNotifier } from '../signal/jsonrpc/types.js';

/** The settings a data-plane unit reads (plain values: they cross into workers). */
export type HostConfig = Pick<
  SfuConfig,
  | 'udpHost'
  | 'announcedIp'
  | 'iceConsentTimeoutMs'
  | 'maxDataChannelsPerPeer'
  | 'audioLevelIntervalMs'
  | 'audioLevelThreshold'
  | 'audioLevelFilter'
  | 'lastN'
  | 'lastNMinParticipants'
  | 'loudestK'
>;

export interface ShardHostOptions {
  config: HostConfig;
  logger: Logger;
  roomPolicy?: RoomPolicyOptions;
  /** In-thread only: a function cannot cross into a worker. */
  acceptRemote?: (address: string) => boolean;
}

/** What the unit reports for placement and observability (every heartbeat). */
export interface ShardLoad {
  /** Event-loop utilization (0..1) since the previous report. */
  elu: number;
  /** Datagrams sent per second since the previous report (forwarded RTP dominates). */
  pps: number;
  consumers: number;
  rooms: number;
  peers: number;
  transports: number;
  /** Pipes to other shards (cumulative counters; absent in-thread and before the first report). */
  pipe?: PipeTotals;
}

/** What a session needs from its owner besides the notifier (metrics hooks). */
export interface SessionHooks {
  quality?: LinkQualitySink;
  onRefusal?: (reason: 'tooManyDataChannels') => void;
}

export class ShardHost {
  readonly rooms: RoomRegistry;
  /** Links to other shards for rooms that span them. */
  readonly pipes: PipeHub;
  private media: WebRtcServer | undefined;
  private readonly log: Logger;
  private lastLoadAt = performance.now();
  private lastDatagramsOut = 0;
  private lastElu = performance.eventLoopUtilization();

  constructor(private readonly opts: ShardHostOptions) {
    const c = opts.config;
    this.log = opts.logger;
    this.rooms = new RoomRegistry(
      { intervalMs: c.audioLevelIntervalMs, threshold: c.audioLevelThreshold, filter: c.audioLevelFilter },
      { lastN: c.lastN, lastNMinParticipants: c.lastNMinParticipants, loudestK: c.loudestK, ...opts.roomPolicy },
    );
    this.pipes = new PipeHub(this.rooms, this.log.child({ sub: 'pipe' }));
    this.rooms.on('room', (room) => {
      const roomLog = this.log.child({ sub: 'room', sid: room.sid });
      roomLog.info('room opened');
      room.once('close', () => roomLog.info({ ageSec: Math.round((Date.now() - room.createdAt) / 1000) }, 'room closed'));
    });
  }

  /**
   * Binds the media port (0: any free one) with the SFU's certificate (every
   * unit presents the same fingerprint). Rejects, leaving nothing open, if the port is taken.
   */
  async listen(port: number, certificate: DtlsCertificate): Promise<WebRtcServer> {
    const c = this.opts.config;
    this.media = await WebRtcServer.create({
      listen: [{ ip: c.udpHost, port, announcedIp: c.announcedIp }],
      certificate,
      acceptRemote: this.opts.acceptRemote,
      consentTimeoutMs: c.iceConsentTimeoutMs,
      logger: this.log,
    });
    return this.media;
  }

  get server(): WebRtcServer | undefined {
    return this.media;
  }

  /** The port media is bound to. */
  get port(): number {
    return this.media?.muxes[0]?.port ?? 0;
  }

  /** A session for one signalling connection. */
  createSession(notify: SignalNotifier, hooks: SessionHooks = {}): IonPeer {
    const media = this.media;
    if (!media) throw new ClosedError('data plane');
    return new IonPeer({
      rooms: this.rooms,
      server: media,
      notify,
      logger: this.log,
      quality: hooks.quality,
      maxDataChannels: this.opts.config.maxDataChannelsPerPeer,
      onRefusal: hooks.onRefusal,
    });
  }

  // ---- the admin API, in plain values ----

  listRooms(): RoomSummary[] {
    return this.rooms.list.map((r) => ({ sid: r.sid, peers: r.memberCount, tracks: r.producers.length }));
  }

  getRoom(sid: string): RoomDetail | undefined {
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
  }

  closeRoom(sid: string): boolean {
    const room = this.rooms.get(sid);
    if (!room) return false;
    room.close();
    return true;
  }

  removePeer(sid: string, uid: string): RemovePeerOutcome {
    const room = this.rooms.get(sid);
    if (!room) return 'room-not-found';
    const m = room.getMember(uid);
    if (!m) return 'peer-not-found';
    m.close('removed by the admin API');
    return 'removed';
  }

  setPreferredLayers(sid: string, uid: string, streamId: string, layers: PreferredLayers | 'none'): number | 'room-not-found' | 'peer-not-found' {
    const room = this.rooms.get(sid);
    if (!room) return 'room-not-found';
    const m = room.getMember(uid);
    if (!m) return 'peer-not-found';
    return m.setPreferredLayers(streamId, layers);
  }

  setLastN(sid: string, uid: string, n: number | undefined, pinned?: readonly string[]): MemberOutcome {
    const room = this.rooms.get(sid);
    if (!room) return 'room-not-found';
    const m = room.getMember(uid);
    if (!m) return 'peer-not-found';
    m.setLastN(n, pinned);
    return 'ok';
  }

  /** Members of `sid` a join by `uid` would join (a member with that uid it would replace not counted). */
  occupancy(sid: string, uid: string): number {
    const room = this.rooms.get(sid);
    if (!room || room.closed) return 0;
    const replacing = uid !== '' && room.getMember(uid) !== undefined;
    return room.memberCount - (replacing ? 1 : 0);
  }

  /** Load since the previous call (the heartbeat's period): ELU, datagrams out per second, object counts. */
  load(): ShardLoad {
    const now = performance.now();
    const elu = performance.eventLoopUtilization();
    const out = (this.media?.muxes ?? []).reduce((n, m) => n + m.stats.datagramsOut, 0);
    const seconds = Math.max(0.001, (now - this.lastLoadAt) / 1000);
    const load: ShardLoad = {
      elu: performance.eventLoopUtilization(elu, this.lastElu).utilization,
      pps: Math.max(0, out - this.lastDatagramsOut) / seconds,
      consumers: 0,
      rooms: 0,
      peers: 0,
      transports: this.media?.transportCount ?? 0,
      pipe: this.pipes.totals(),
    };
    this.lastLoadAt = now;
    this.lastElu = elu;
    this.lastDatagramsOut = out;
    for (const room of this.rooms.list) {
      load.rooms++;
      load.peers += room.memberCount;
      for (const p of room.producers) load.consumers += p.consumerCount;
      for (const p of room.pipedProducers) load.consumers += p.consumerCount;
    }
    return load;
  }

  getStats(): Record<string, unknown> {
    return { media: this.media?.getStats(), pipe: this.pipes.totals() };
  }

  /** Closes every room (their peers with them) and the media sockets. */
  async close(): Promise<void> {
    this.pipes.closeAll();
    this.rooms.closeAll();
    await this.media?.close();
  }
}
