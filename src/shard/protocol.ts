/**
 * The main <-> shard protocol (mediasoup's Channel idea, over a worker's
 * MessagePort): every request carries an id and is answered by exactly one
 * `res` (its value) or `err` (the message string, so ion-sfu's error strings
 * reach the client unchanged, and the error `code`). Sessions are numbered by
 * the main thread; their notifications (offer, trickle, close, event) come
 * back tagged with that number. Only structured-clone values cross: never a
 * data-plane object.
 */
import type {
  AnswerDescription,
  IceCandidateInit,
  JoinParams,
  MemberOutcome,
  OfferDescription,
  RemovePeerOutcome,
  RoomDetail,
  RoomSummary,
  TrickleTarget,
} from '../signal/jsonrpc/types.js';
import type { PreferredLayers } from '../router/consumer.js';
import type { HostConfig, ShardLoad } from './host.js';
import type { DtlsCertificate } from '../dtls/certificate.js';
import type { RoomPolicyOptions } from '../router/room.js';
import type { LevelWithSilent } from 'pino';
import type { MessagePort } from 'node:worker_threads';

/** How a test makes a shard fail (only with `ShardInit.testHooks`; never reachable from the wire). */
export type CrashMode = 'exit' | 'throw' | 'spin';

/** Request name -> [arguments, result]. */
export interface ShardOps {
  join: [{ session: number; params: JoinParams }, AnswerDescription | null];
  offer: [{ session: number; desc: OfferDescription }, AnswerDescription];
  answer: [{ session: number; desc: AnswerDescription }, null];
  trickle: [{ session: number; target: TrickleTarget; candidate: IceCandidateInit }, null];
  listRooms: [null, RoomSummary[]];
  getRoom: [{ sid: string }, RoomDetail | null];
  closeRoom: [{ sid: string }, boolean];
  removePeer: [{ sid: string; uid: string }, RemovePeerOutcome];
  setPreferredLayers: [{ sid: string; uid: string; streamId: string; layers: PreferredLayers | 'none' }, number | 'room-not-found' | 'peer-not-found'];
  setLastN: [{ sid: string; uid: string; n: number | null; pinned: readonly string[] | undefined }, MemberOutcome];
  occupancy: [{ sid: string; uid: string }, number];
  /** The shard's prom-client registry as `getMetricsAsJSON()`, for merging in the main thread. */
  metrics: [null, unknown[]];
  /** The heartbeat: answered with the load since the previous one. */
  heartbeat: [null, ShardLoad];
  /** Test hook (refused unless the shard was started with test hooks). */
  crash: [{ mode: CrashMode }, null];
}
export type ShardOp = keyof ShardOps;

/** A session's notification (SignalNotifier's four calls). */
export type SessionNote =
  | { kind: 'offer'; desc: OfferDescription }
  | { kind: 'trickle'; target: TrickleTarget; candidate: IceCandidateInit }
  | { kind: 'close'; reason: string | undefined }
  | { kind: 'event'; method: string; params: unknown };

export type ToShard =
  | { t: 'req'; id: number; op: ShardOp; args: unknown }
  /** The session's socket is gone (no reply). */
  | { t: 'closeSession'; session: number }
  /**
   * Room `sid` now spans this shard and shard `peer`: `port` is this side of
   * their pipe (transferred; the other shard gets the other side).
   */
  | { t: 'pipe'; sid: string; peer: number; port: MessagePort }
  /** This shard and `peer` no longer share room `sid`: close their pipe. */
  | { t: 'unpipe'; sid: string; peer: number }
  /** Close everything and answer `stopped`. */
  | { t: 'stop' };

export type FromShard =
  /** The media port is bound. */
  | { t: 'ready'; port: number }
  | { t: 'res'; id: number; value: unknown }
  | { t: 'err'; id: number; message: string; code: string | undefined }
  | { t: 'note'; session: number; note: SessionNote }
  /** A pino line of the shard's logger, re-emitted by the main thread's logger. */
  | { t: 'log'; line: string }
  /** A room lifecycle webhook (the main thread signs and sends it). */
  | { t: 'webhook'; event: string; body: unknown }
  | { t: 'refusal'; reason: 'tooManyDataChannels' }
  | { t: 'stopped' };

/** `workerData` of a shard. */
export interface ShardInit {
  index: number;
  /** Media port to bind (0: any). */
  port: number;
  config: HostConfig;
  roomPolicy: RoomPolicyOptions | undefined;
  certificate: DtlsCertificate;
  logLevel: LevelWithSilent;
  perPeerLabels: boolean;
  /** Room events are forwarded for webhooks. */
  webhooks: boolean;
  testHooks: boolean;
}
