/**
 * ion-sfu JSON-RPC frames over WebSocket: pure parse, validate, serialize.
 * No sockets, timers or logging here.
 *
 * Input is read as leniently as ion-sfu's decoder (sourcegraph/jsonrpc2 +
 * Go encoding/json, shared/reference/ion-sfu-protocol.md 1.1-1.2):
 *  - `jsonrpc` is optional and ignored;
 *  - `id` is a string or a non-negative integer, echoed unchanged; absent or
 *    null makes the frame a notification;
 *  - object keys match case-insensitively (Go: `"Method"`, `"SID"`, `"noPublish"`
 *    all work); when a key appears twice in different case, the last one wins.
 *
 * Output is byte-for-byte ion-sfu's key order:
 *   {"id":<id>,"result":<r>,"jsonrpc":"2.0"}
 *   {"id":<id>,"error":{"code":500,"message":"...","data":null},"jsonrpc":"2.0"}
 *   {"method":"offer"|"trickle","params":{...},"jsonrpc":"2.0"}
 *
 * Where ion-sfu would close the socket (undecodable frame) or crash the
 * process (missing params), parseFrame returns a JSON-RPC 2.0 error reply
 * instead (-32700, -32600, -32602). Unknown methods: ion-sfu never replies; we
 * stay silent for notifications but answer -32601 when the frame has an id.
 */
import type {
  AnswerDescription,
  IceCandidateInit,
  JoinConfig,
  JoinParams,
  OfferDescription,
  TrickleTarget,
} from './types.js';

/** Longest join token accepted (a JWT with sfud's claims is a few hundred characters). */
export const MAX_TOKEN_CHARS = 4096;

/** Frames larger than this are never parsed (the WebSocket layer closes with 1009 first). */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Error codes: ion-sfu's 500 for method failures, JSON-RPC 2.0's for frames it cannot take. */
export const RpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** ion-sfu uses 500 for every failure of a known method. */
  IonSfu: 500,
} as const;

/** ion-sfu's own error strings (`pkg/sfu/peer.go`, `publisher.go`). */
export const IonSfuMessage = {
  TransportExists: 'rtc transport already exists for this connection',
  NoTransport: 'no rtc transport exists for this Peer',
  OfferIgnored: 'offered ignored',
} as const;

/** A JSON-RPC id as ion-sfu accepts it: a string or a non-negative (safe) integer. */
export type RpcId = string | number;

export interface TrickleParams {
  /** Any integer; only 0 and 1 mean something, ion-sfu silently ignores the rest. */
  target: number;
  candidate: IceCandidateInit;
}

/** A validated call of one of ion-sfu's four methods. */
export type SignalCall =
  | { method: 'join'; params: JoinParams }
  | { method: 'offer'; params: { desc: OfferDescription } }
  | { method: 'answer'; params: { desc: AnswerDescription } }
  | { method: 'trickle'; params: TrickleParams };

export type SignalMethod = SignalCall['method'];

export type FrameErrorKind = 'too-large' | 'parse' | 'invalid-request' | 'method-not-found' | 'invalid-params';

/**
 * What one frame amounts to:
 *  - `call`: dispatch it; `id` null means it came without one (a notification);
 *  - `ignore`: send nothing (a response frame, which ion-sfu's jsonrpc2 drops
 *    as "unknown ID", or an unknown method without an id);
 *  - `error`: send `reply` and keep the socket open.
 */
export type ParsedFrame =
  | { kind: 'call'; id: RpcId | null; call: SignalCall }
  | { kind: 'ignore'; reason: 'response' | 'unknown-notification' }
  | { kind: 'error'; error: FrameErrorKind; reply: string };

/** The id ion-sfu replies with: the frame's, or 0 for a notification (`jsonrpc2.ID{}` zero value). */
export function replyId(id: RpcId | null): RpcId {
  return id ?? 0;
}

// ---------------------------------------------------------------------------
// Serialization
// ---------------------------------------------------------------------------

/** `{"id":<id>,"result":<result>,"jsonrpc":"2.0"}`. */
export function resultFrame(id: RpcId, result: unknown): string {
  return `{"id":${JSON.stringify(id)},"result":${JSON.stringify(result ?? null)},"jsonrpc":"2.0"}`;
}

/** `{"id":<id>,"error":{"code":<code>,"message":"...","data":null},"jsonrpc":"2.0"}`. */
export function errorFrame(id: RpcId | null, code: number, message: string): string {
  return `{"id":${JSON.stringify(id)},"error":{"code":${code},"message":${JSON.stringify(message)},"data":null},"jsonrpc":"2.0"}`;
}

/** pion's SessionDescription JSON: `{"type":..,"sdp":..}`, nothing else. */
export function descriptionJson(desc: { type: string; sdp: string }): string {
  return `{"type":${JSON.stringify(desc.type)},"sdp":${JSON.stringify(desc.sdp)}}`;
}

/** The reply to `join`/`offer`: `{"id":..,"result":{"type":"answer","sdp":..},"jsonrpc":"2.0"}`. */
export function answerResultFrame(id: RpcId, answer: AnswerDescription): string {
  return `{"id":${JSON.stringify(id)},"result":${descriptionJson(answer)},"jsonrpc":"2.0"}`;
}

/** `{"method":"offer","params":{"type":"offer","sdp":..},"jsonrpc":"2.0"}`. */
export function offerNotification(desc: OfferDescription): string {
  return `{"method":"offer","params":${descriptionJson(desc)},"jsonrpc":"2.0"}`;
}

/**
 * sfud's `draining` notification: the server is shutting down; calls may go on
 * until `deadline` (Unix ms), `timeoutMs` from now, then they are closed.
 * ion-sdk-js passes unknown notifications to `signal.on_notify(method, cb)`.
 */
export function drainingNotification(deadline: number, timeoutMs: number): string {
  return `{"method":"draining","params":{"deadline":${Math.round(deadline)},"timeoutMs":${Math.round(timeoutMs)}},"jsonrpc":"2.0"}`;
}

/** pion's ICECandidateInit JSON, all four keys, in pion's order. */
/** Longest ICE candidate string accepted in a trickle. */
export const MAX_CANDIDATE_CHARS = 2048;

export function candidateJson(c: IceCandidateInit): string {
  return (
    `{"candidate":${JSON.stringify(c.candidate)},"sdpMid":${JSON.stringify(c.sdpMid)},` +
    `"sdpMLineIndex":${JSON.stringify(c.sdpMLineIndex)},"usernameFragment":${JSON.stringify(c.usernameFragment)}}`
  );
}

/** `{"method":"trickle","params":{"target":t,"candidate":{...}},"jsonrpc":"2.0"}`. */
export function trickleNotification(target: TrickleTarget, candidate: IceCandidateInit): string {
  return `{"method":"trickle","params":{"target":${target},"candidate":${candidateJson(candidate)}},"jsonrpc":"2.0"}`;
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/** Thrown inside validation only; parseFrame turns it into a -32602 reply. */
class InvalidParams {
  constructor(readonly message: string) {}
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Go's case-insensitive key matching: fold every key once (later keys win,
 * as later assignments do in Go). Go folds `ſ`→`s` and `K` (Kelvin)→`k` too.
 */
function fold(obj: JsonObject): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const k of Object.keys(obj)) m.set(foldKey(k), obj[k]);
  return m;
}

function foldKey(k: string): string {
  // Fast path: ASCII keys only need lowercasing.
  const lower = k.toLowerCase();
  return lower.includes('ſ') ? lower.replace(/ſ/g, 's') : lower;
}

/** Absent and JSON null read the same, as in Go (null leaves the zero value). */
function opt(m: Map<string, unknown>, key: string): unknown {
  const v = m.get(key);
  return v === null ? undefined : v;
}

function str(m: Map<string, unknown>, key: string, path: string, required: boolean): string | undefined {
  const v = opt(m, key);
  if (v === undefined) {
    if (required) throw new InvalidParams(`${path} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new InvalidParams(`${path} must be a string`);
  return v;
}

function bool(m: Map<string, unknown>, key: string, path: string): boolean {
  const v = opt(m, key);
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new InvalidParams(`${path} must be a boolean`);
  return v;
}

function obj(v: unknown, path: string): Map<string, unknown> {
  if (!isObject(v)) throw new InvalidParams(`${path} must be an object`);
  return fold(v);
}

function description<T extends 'offer' | 'answer'>(v: unknown, path: string, type: T): { type: T; sdp: string } {
  if (v === undefined || v === null) throw new InvalidParams(`${path} is required`);
  const m = obj(v, path);
  if (opt(m, 'type') !== type) throw new InvalidParams(`${path}.type must be "${type}"`);
  const sdp = str(m, 'sdp', `${path}.sdp`, true) as string;
  if (sdp.length === 0) throw new InvalidParams(`${path}.sdp must not be empty`);
  return { type, sdp };
}

function joinParams(p: Map<string, unknown>): JoinParams {
  const sid = str(p, 'sid', 'params.sid', true) as string;
  if (sid.length === 0) throw new InvalidParams('params.sid must not be empty');
  // Go leaves a missing uid empty; the router then generates one.
  const uid = str(p, 'uid', 'params.uid', false) ?? '';
  const offer = description(opt(p, 'offer'), 'params.offer', 'offer');
  const config: JoinConfig = { noPublish: false, noSubscribe: false, noAutoSubscribe: false };
  const c = opt(p, 'config');
  if (c !== undefined) {
    const cm = obj(c, 'params.config');
    config.noPublish = bool(cm, 'nopublish', 'params.config.NoPublish');
    config.noSubscribe = bool(cm, 'nosubscribe', 'params.config.NoSubscribe');
    config.noAutoSubscribe = bool(cm, 'noautosubscribe', 'params.config.NoAutoSubscribe');
  }
  // sfud's addition: a join token (auth.ts); bounded so a frame cannot make us verify megabytes.
  const token = str(p, 'token', 'params.token', false);
  if (token !== undefined && token.length > MAX_TOKEN_CHARS) throw new InvalidParams(`params.token is longer than ${MAX_TOKEN_CHARS} characters`);
  return token === undefined ? { sid, uid, offer, config } : { sid, uid, offer, config, token };
}

function trickleParams(p: Map<string, unknown>): TrickleParams {
  const target = opt(p, 'target');
  if (target === undefined) throw new InvalidParams('params.target is required');
  if (typeof target !== 'number' || !Number.isSafeInteger(target)) throw new InvalidParams('params.target must be an integer');
  // NOTE: ion-sfu's README shows `"candidate":"..."` (a string); that fails to
  // decode in ion-sfu too, so it is an error here as well.
  const cv = opt(p, 'candidate');
  if (cv === undefined) throw new InvalidParams('params.candidate is required');
  const c = obj(cv, 'params.candidate');
  const candidate = str(c, 'candidate', 'params.candidate.candidate', true) as string;
  const sdpMid = str(c, 'sdpmid', 'params.candidate.sdpMid', false) ?? null;
  const usernameFragment = str(c, 'usernamefragment', 'params.candidate.usernameFragment', false) ?? null;
  // Real candidate lines are a few hundred bytes; trickles are kept before join,
  // so an unbounded string would let one socket hold 32 near-1 MiB frames.
  if (candidate.length > MAX_CANDIDATE_CHARS) throw new InvalidParams(`params.candidate.candidate is longer than ${MAX_CANDIDATE_CHARS} characters`);
  if ((sdpMid?.length ?? 0) > 256 || (usernameFragment?.length ?? 0) > 256) {
    throw new InvalidParams('params.candidate.sdpMid and usernameFragment must be at most 256 characters');
  }
  const idx = opt(c, 'sdpmlineindex');
  if (idx !== undefined && (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0 || idx > 0xffff)) {
    throw new InvalidParams('params.candidate.sdpMLineIndex must be an integer in 0..65535');
  }
  return { target, candidate: { candidate, sdpMid, sdpMLineIndex: idx ?? null, usernameFragment } };
}

function validId(v: unknown): v is RpcId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
}

/** A method name for an error message: bounded, so a hostile frame cannot make us echo megabytes. */
function shortName(method: string): string {
  return JSON.stringify(method.length > 64 ? `${method.slice(0, 64)}...` : method);
}

function fail(error: FrameErrorKind, id: RpcId | null, code: number, message: string): ParsedFrame {
  return { kind: 'error', error, reply: errorFrame(id, code, message) };
}

function byteLength(data: string | Buffer): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

/**
 * Parses and validates one WebSocket frame (text or binary: ion-sfu's gorilla
 * reader takes both). Never throws.
 */
export function parseFrame(data: string | Buffer, maxBytes = MAX_FRAME_BYTES): ParsedFrame {
  if (byteLength(data) > maxBytes) {
    return fail('too-large', null, RpcErrorCode.InvalidRequest, `invalid request: frame exceeds ${maxBytes} bytes`);
  }
  let v: unknown;
  try {
    v = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return fail('parse', null, RpcErrorCode.ParseError, 'parse error');
  }
  // NOTE: jsonrpc2 reads a top-level array as a batch; ion-sfu's handler never
  // sees one usefully, and sfud does not take batches on /ws.
  if (!isObject(v)) return fail('invalid-request', null, RpcErrorCode.InvalidRequest, 'invalid request: a frame must be a JSON object');
  const m = fold(v);

  const rawId = opt(m, 'id');
  if (rawId !== undefined && !validId(rawId)) {
    return fail('invalid-request', null, RpcErrorCode.InvalidRequest, 'invalid request: id must be a string or a non-negative integer');
  }
  const id: RpcId | null = rawId ?? null;

  // jsonrpc2: a request has a non-null method; a response has `result`
  // (explicit null counts) or a non-null `error`. Exactly one of the two.
  const method = opt(m, 'method');
  const isRequest = method !== undefined;
  const isResponse = m.has('result') || opt(m, 'error') !== undefined;
  if (isRequest === isResponse) {
    return fail('invalid-request', id, RpcErrorCode.InvalidRequest, 'invalid request: a frame must have either a method or a result/error');
  }
  if (isResponse) return { kind: 'ignore', reason: 'response' };
  if (typeof method !== 'string') return fail('invalid-request', id, RpcErrorCode.InvalidRequest, 'invalid request: method must be a string');

  switch (method) {
    case 'join':
    case 'offer':
    case 'answer':
    case 'trickle':
      break;
    default:
      // ion-sfu's switch has no default: no reply at all. With an id, a client
      // would wait forever, so sfud answers -32601 then.
      if (id === null) return { kind: 'ignore', reason: 'unknown-notification' };
      return fail('method-not-found', id, RpcErrorCode.MethodNotFound, `method not found: ${shortName(method)}`);
  }

  // Method-level failures reply with the frame's id, or 0 without one, as ion-sfu does.
  const rid = replyId(id);
  try {
    const pv = opt(m, 'params');
    // NOTE: ion-sfu dereferences a nil params pointer here and the process dies.
    if (pv === undefined) throw new InvalidParams('params is required');
    const p = obj(pv, 'params');
    switch (method) {
      case 'join':
        return { kind: 'call', id, call: { method, params: joinParams(p) } };
      case 'offer':
        return { kind: 'call', id, call: { method, params: { desc: description(opt(p, 'desc'), 'params.desc', 'offer') } } };
      case 'answer':
        return { kind: 'call', id, call: { method, params: { desc: description(opt(p, 'desc'), 'params.desc', 'answer') } } };
      case 'trickle':
        return { kind: 'call', id, call: { method, params: trickleParams(p) } };
    }
  } catch (err) {
    if (err instanceof InvalidParams) return fail('invalid-params', rid, RpcErrorCode.InvalidParams, `invalid params: ${err.message}`);
    // Unreachable: validation throws nothing else. Kept so parseFrame can never throw.
    return fail('invalid-params', rid, RpcErrorCode.InvalidParams, 'invalid params');
  }
}
