/**
 * The boundary between the JSON-RPC signalling layer and the router/rooms.
 *
 * Signalling owns framing, validation, ordering and error replies; the app
 * implements these interfaces. Wire shapes are ion-sfu's
 * (shared/reference/ion-sfu-protocol.md section 1); everything here is already
 * validated and normalised when it crosses the boundary.
 */
import type { HttpRefusal } from './refusals.js';

/** Which of the peer's two PeerConnections a candidate belongs to (ion-sfu `pkg/sfu/peer.go`). */
export const TrickleTarget = {
  /** The client sends media; the client is the offerer. */
  Publisher: 0,
  /** The SFU sends media; the SFU is the offerer. */
  Subscriber: 1,
} as const;
export type TrickleTarget = (typeof TrickleTarget)[keyof typeof TrickleTarget];

/** `{type:"offer",sdp}` exactly as on the wire (pion `SessionDescription`). */
export interface OfferDescription {
  type: 'offer';
  sdp: string;
}

/** `{type:"answer",sdp}` exactly as on the wire. */
export interface AnswerDescription {
  type: 'answer';
  sdp: string;
}

/**
 * pion's `ICECandidateInit`. Absent optional fields are normalised to null.
 * An empty `candidate` string is the end-of-candidates marker.
 */
export interface IceCandidateInit {
  candidate: string;
  sdpMid: string | null;
  /** An integer in 0..65535 (Go `*uint16`). */
  sdpMLineIndex: number | null;
  usernameFragment: string | null;
}

/**
 * ion-sfu's `JoinConfig`. On the wire the keys are `NoPublish`, `NoSubscribe`,
 * `NoAutoSubscribe`, matched case-insensitively as Go does; absent means false.
 */
export interface JoinConfig {
  /** No publisher PC (and so no `ion-sfu` data channel). */
  noPublish: boolean;
  /** No subscriber PC. ion-sfu then fails every trickle; the session decides. */
  noSubscribe: boolean;
  /** Subscriber PC exists but remote tracks are not added automatically. */
  noAutoSubscribe: boolean;
}

export interface JoinParams {
  /** Session (room) name; never empty. */
  sid: string;
  /** Peer id; may be empty, in which case the router generates one (ion-sfu does, and never tells the client). */
  uid: string;
  /** With `config.noPublish` it is ignored (the wire format still requires one, as ion-sfu's does). */
  offer: OfferDescription;
  config: JoinConfig;
  /** sfud's addition: a join token (JWT), for clients that cannot put it in the WebSocket URL. */
  token?: string;
}

/**
 * What a session can push to its client. Calls after the socket closed are
 * ignored. The signalling layer sends these immediately, not behind queued
 * requests: ion-sfu sends publisher `trickle`s before the `join` result.
 */
export interface SignalNotifier {
  /** Sends `{"method":"offer","params":{"type":"offer","sdp":...},"jsonrpc":"2.0"}` (a subscriber-PC offer). */
  offer(desc: OfferDescription): void;
  /** Sends `{"method":"trickle","params":{"target":t,"candidate":{...}},"jsonrpc":"2.0"}`. */
  trickle(target: TrickleTarget, candidate: IceCandidateInit): void;
  /** Closes the WebSocket (e.g. an admin removed the peer); `SignalSession.close()` still follows once. */
  close(reason?: string): void;
  /** Sends any other notification, `{"method":m,"params":p,"jsonrpc":"2.0"}` (sfud's `dominantSpeaker`). */
  event(method: string, params: unknown): void;
}

/** Facts about the WebSocket a session was created for (for auth, logging). */
export interface SignalConnectionInfo {
  /** A process-unique id for the connection, for logs. */
  connectionId: number;
  remoteAddress: string | undefined;
  /** The request URL of the upgrade, e.g. `/ws?access_token=...`. */
  url: string;
}

/**
 * One per WebSocket (ion-sfu: each connection is exactly one peer). Calls are
 * strictly sequential: the next one starts only after the previous promise
 * settled. The signalling layer enforces ion-sfu's ordering errors itself:
 * `offer`/`answer`/`trickle` before a successful `join` and a second `join`
 * never reach the session.
 *
 * A rejection becomes `{"id":..,"error":{"code":500,"message":err.message,"data":null},"jsonrpc":"2.0"}`;
 * throw ion-sfu's strings (`offered ignored`, `setting remote description: ...`,
 * `setting ice candidate: ...`, `error creating answer: ...`) where they apply.
 */
export interface SignalSession {
  /**
   * Join `sid` as `uid`, answer the publisher offer. If it rejects, the session
   * must be back in its un-joined state: the client may join again. Null: no
   * publisher connection (`config.noPublish`), the result is `null`.
   */
  join(params: JoinParams): Promise<AnswerDescription | null>;
  /** Publisher renegotiation; reject with `offered ignored` unless the publisher PC is stable. */
  offer(desc: OfferDescription): Promise<AnswerDescription>;
  /** The client's answer to a subscriber offer. */
  answer(desc: AnswerDescription): Promise<void>;
  /** A remote candidate; early ones (before the PC has a remote description) must be queued by the session. */
  trickle(target: TrickleTarget, candidate: IceCandidateInit): Promise<void>;
  /**
   * The socket is gone (closed by either side, dead, or policy). Called exactly
   * once, possibly while a `join` or `offer` is still pending. Must not throw.
   */
  close(): void;
}

/**
 * Per-connection policy (auth, limits), consulted before each call reaches
 * the session. A check refuses by throwing a `SignalRefusal` (refusals.ts):
 * the client gets its code and message, the reason is counted.
 */
export interface SignalGuard {
  /** May return changed params (e.g. a token that cannot subscribe turns on noAutoSubscribe). */
  join(params: JoinParams): JoinParams | Promise<JoinParams>;
  /** The join `join` let through has settled (joined or failed): what it held for it goes. */
  joinSettled?(): void;
  offer(desc: OfferDescription): void;
  answer(desc: AnswerDescription): void;
  trickle(target: TrickleTarget): void;
}

/** Who may open a signalling connection: a guard for it, or an HTTP refusal of the upgrade. */
export interface SignalAdmission {
  admit(req: { remoteAddress: string | undefined; origin: string | undefined; url: string }): SignalGuard | HttpRefusal;
}

export interface SignalSessionFactory {
  /** Called once per accepted WebSocket; throwing closes the socket with 1011. */
  create(notify: SignalNotifier, info: SignalConnectionInfo): SignalSession;
}

// ---------------------------------------------------------------------------
// HTTP JSON-RPC admin API (`POST /rpc`, JSON-RPC 2.0 proper).
// ---------------------------------------------------------------------------

/** Result of `ping`. */
export interface PingResult {
  pong: true;
  /** sfud version string. */
  version: string;
  /** Seconds since the process started serving. */
  uptimeSec: number;
}

/** One entry of `listRooms`. */
export interface RoomSummary {
  sid: string;
  /** Number of joined peers. */
  peers: number;
  /** Number of published tracks (across all peers). */
  tracks: number;
}

/** A published track as seen by subscribers (ids are the publisher's msid ids). */
export interface TrackInfo {
  id: string;
  kind: 'audio' | 'video';
  streamId: string;
}

export interface PeerInfo {
  uid: string;
  /** Tracks this peer publishes. */
  tracks: TrackInfo[];
  /** With worker shards: the shard the peer is on (a room can span several). */
  shard?: number;
}

/** Room counters since the room was created. */
export interface RoomStats {
  /** Milliseconds since the room was created. */
  ageMs: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** Result of `getRoom`. */
export interface RoomDetail {
  sid: string;
  peers: PeerInfo[];
  stats: RoomStats;
}

/**
 * What the HTTP JSON-RPC endpoint dispatches to. Every method may return a
 * value or a promise. "Not found" is a return value, not an exception: the
 * endpoint maps it to application error -32004 (room) or -32005 (peer).
 * Anything thrown becomes -32603.
 *
 * Wire results: `ping` → PingResult; `listRooms` → RoomSummary[];
 * `getRoom` → RoomDetail; `closeRoom` → `{"sid":..,"closed":true}`;
 * `removePeer` → `{"sid":..,"uid":..,"removed":true}`.
 */
export interface AdminApi {
  ping(): PingResult | Promise<PingResult>;
  listRooms(): RoomSummary[] | Promise<RoomSummary[]>;
  /** `undefined` when no such room. */
  getRoom(sid: string): RoomDetail | undefined | Promise<RoomDetail | undefined>;
  /** Closes every peer of the room; false when no such room. */
  closeRoom(sid: string): boolean | Promise<boolean>;
  /** Closes one peer (its WebSocket too). */
  removePeer(sid: string, uid: string): RemovePeerOutcome | Promise<RemovePeerOutcome>;
  /**
   * Caps the video peer `uid` receives of stream `streamId` (spatial/temporal
   * 0 low .. 2 high, or 'none'); the number of tracks changed, or why not.
   */
  setPreferredLayers(
    sid: string,
    uid: string,
    streamId: string,
    layers: { spatial: number; temporal?: number | undefined } | 'none',
  ): number | 'room-not-found' | 'peer-not-found' | Promise<number | 'room-not-found' | 'peer-not-found'>;
  /** Peer `uid`'s own last-N (null: the room's) and pinned streams. */
  setLastN(sid: string, uid: string, n: number | null, pinned: readonly string[] | undefined): MemberOutcome | Promise<MemberOutcome>;
}

/** Outcome of an admin call on one peer: the last two map to -32004 and -32005. */
export type MemberOutcome = 'ok' | 'room-not-found' | 'peer-not-found';

/** `removePeer` outcomes: the last two map to -32004 and -32005. */
export type RemovePeerOutcome = 'removed' | 'room-not-found' | 'peer-not-found';

/**
 * Told about every JSON-RPC request once it is answered (metrics): the method
 * (`other` for unknown or undecodable requests, so the label stays bounded),
 * its outcome and how long it took.
 */
export type RpcRequestObserver = (method: string, outcome: 'ok' | 'error', seconds: number) => void;
