/**
 * What the main thread asks of the data plane, whether it runs in this
 * thread (`shards: 0`: one `ShardHost`, called directly) or in worker shards
 * (`ShardPool`, by message). Everything is plain values or promises of them,
 * so `Sfu` has one code path for both.
 */
import type { PreferredLayers } from '../router/consumer.js';
import type {
  MemberOutcome,
  RemovePeerOutcome,
  RoomDetail,
  RoomSummary,
  SignalConnectionInfo,
  SignalNotifier,
  SignalSession,
} from '../signal/jsonrpc/types.js';
import type { ShardStatus } from '../metrics/shards.js';
import type { SessionHooks, ShardHost } from './host.js';

type Maybe<T> = T | Promise<T>;

export interface DataPlane {
  readonly mode: 'in-thread' | 'shards';
  createSession(notify: SignalNotifier, info: SignalConnectionInfo): SignalSession;
  occupancy(sid: string, uid: string): Maybe<number>;
  listRooms(): Maybe<RoomSummary[]>;
  getRoom(sid: string): Maybe<RoomDetail | undefined>;
  closeRoom(sid: string): Maybe<boolean>;
  removePeer(sid: string, uid: string): Maybe<RemovePeerOutcome>;
  setPreferredLayers(sid: string, uid: string, streamId: string, layers: PreferredLayers | 'none'): Maybe<number | 'room-not-found' | 'peer-not-found'>;
  setLastN(sid: string, uid: string, n: number | undefined, pinned?: readonly string[]): Maybe<MemberOutcome>;
  /** The media addresses that are bound and serving. */
  media(): { address: string }[];
  /** Shards (empty in-thread). */
  shards(): ShardStatus[];
  /** Registries of other threads to merge into `/metrics`. */
  remoteMetrics(): Promise<unknown[][]>;
  getStats(): Record<string, unknown>;
  close(): Promise<void>;
}

export function formatAddress(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The data plane in this thread: calls go straight to one host. */
export class LocalDataPlane implements DataPlane {
  readonly mode = 'in-thread';
  constructor(
    readonly host: ShardHost,
    private readonly hooks: () => SessionHooks,
  ) {}

  createSession(notify: SignalNotifier): SignalSession {
    return this.host.createSession(notify, this.hooks());
  }

  occupancy(sid: string, uid: string): number {
    return this.host.occupancy(sid, uid);
  }

  listRooms(): RoomSummary[] {
    return this.host.listRooms();
  }

  getRoom(sid: string): RoomDetail | undefined {
    return this.host.getRoom(sid);
  }

  closeRoom(sid: string): boolean {
    return this.host.closeRoom(sid);
  }

  removePeer(sid: string, uid: string): RemovePeerOutcome {
    return this.host.removePeer(sid, uid);
  }

  setPreferredLayers(sid: string, uid: string, streamId: string, layers: PreferredLayers | 'none'): number | 'room-not-found' | 'peer-not-found' {
    return this.host.setPreferredLayers(sid, uid, streamId, layers);
  }

  setLastN(sid: string, uid: string, n: number | undefined, pinned?: readonly string[]): MemberOutcome {
    return this.host.setLastN(sid, uid, n, pinned);
  }

  media(): { address: string }[] {
    return this.host.server?.muxes.map((m) => ({ address: formatAddress(m.host, m.port) })) ?? [];
  }

  shards(): ShardStatus[] {
    return [];
  }

  async remoteMetrics(): Promise<unknown[][]> {
    return [];
  }

  getStats(): Record<string, unknown> {
    return this.host.getStats();
  }

  close(): Promise<void> {
    return this.host.close();
  }
}
