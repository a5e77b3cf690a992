/**
 * HTTP JSON-RPC 2.0 admin endpoint for backends (not part of ion-sfu).
 *
 * Wiring: the HTTP server sends every request for `RPC_PATH` (`/rpc`; `/`
 * serves the demo page) to `handleHttpJsonRpc`, whatever its method.
 *
 * Protocol: JSON-RPC 2.0 proper (https://www.jsonrpc.org/specification):
 *  - `POST` only (else 405 with `Allow: POST`); `Content-Type: application/json`
 *    (parameters such as charset allowed; else 415); body at most 1 MiB (else 413);
 *  - `"jsonrpc":"2.0"` is required; params by name (object) or by position (array);
 *  - batches (arrays, at most 100 calls, run in order); an empty batch is -32600;
 *  - notifications (no `id`) run but get no response; a body with only
 *    notifications gets 204 No Content;
 *  - every JSON-RPC level outcome, errors included, is HTTP 200.
 *
 * Methods (params by name / position), results (shapes in types.ts):
 *   ping()                  → PingResult
 *   listRooms()             → RoomSummary[]
 *   getRoom(sid)            → RoomDetail                      | -32004 room not found
 *   closeRoom(sid)          → {"sid":..,"closed":true}         | -32004 room not found
 *   removePeer(sid, uid)    → {"sid":..,"uid":..,"removed":true} | -32004 room not found, -32005 peer not found
 * With tokens on (`--jwt-secret`), every request needs `Authorization: Bearer
 * <token>` with the `admin: true` claim: else 401 (none, bad, expired) or 403.
 * Errors: -32700 parse error, -32600 invalid request, -32601 method not found,
 * -32602 invalid params (the message names the field), -32603 internal error
 * (an `SfuError`'s message and `data.code`; any other error stays "internal error").
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SfuError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { AdminApi, RpcRequestObserver } from './types.js';
import type { HttpRefusal } from './refusals.js';

export const RPC_PATH = '/rpc';
export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_BATCH = 100;

/** JSON-RPC 2.0 codes plus sfud's application errors (-32000..-32099 is the server range). */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  RoomNotFound: -32004,
  PeerNotFound: -32005,
} as const;

export interface HttpJsonRpcOptions {
  maxBodyBytes?: number;
  maxBatch?: number;
  logger?: Logger;
  /** Runs first; a refusal is answered with its HTTP status (401/403) and a JSON-RPC error body. */
  authorize?: (req: IncomingMessage) => Promise<HttpRefusal | undefined>;
  /** Told about every request (metrics). */
  onRequest?: RpcRequestObserver;
}

type Id = string | number | null;

class RpcError {
  constructor(
    readonly code: number,
    readonly message: string,
    readonly data?: unknown,
  ) {}
}

function errorJson(id: Id, e: RpcError): string {
  const data = e.data === undefined ? '' : `,"data":${JSON.stringify(e.data)}`;
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"error":{"code":${e.code},"message":${JSON.stringify(e.message)}${data}}}`;
}

function resultJson(id: Id, result: unknown): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${JSON.stringify(result ?? null) ?? 'null'}}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is Id {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** Reads positional or named string params, all required and non-empty. */
function stringParams(params: unknown, names: readonly string[]): string[] {
  if (params === undefined) params = [];
  if (Array.isArray(params)) {
    if (params.length > names.length) throw new RpcError(JsonRpcCode.InvalidParams, `invalid params: expected at most ${names.length}`);
    return names.map((n, i) => checkString(params[i], n));
  }
  if (isObject(params)) return names.map((n) => checkString(Object.hasOwn(params, n) ? params[n] : undefined, n));
  throw new RpcError(JsonRpcCode.InvalidParams, 'invalid params: params must be an object or an array');
}

function checkString(v: unknown, name: string): string {
  if (v === undefined) throw new RpcError(JsonRpcCode.InvalidParams, `invalid params: ${name} is required`);
  if (typeof v !== 'string' || v.length === 0) throw new RpcError(JsonRpcCode.InvalidParams, `invalid params: ${name} must be a non-empty string`);
  return v;
}

/** A layer: 0..2 or ion-sfu's low/medium/high; undefined when absent. */
function layerParam(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (v === 'low' || v === 'medium' || v === 'high') return v === 'low' ? 0 : v === 'medium' ? 1 : 2;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2) return v;
  throw new RpcError(JsonRpcCode.InvalidParams, `invalid params: ${name} must be 0, 1, 2, "low", "medium" or "high"`);
}

const roomNotFound = (sid: string): RpcError => new RpcError(JsonRpcCode.RoomNotFound, 'room not found', { sid });

type Method = (api: AdminApi, params: unknown) => Promise<unknown>;

const METHODS: Record<string, Method> = {
  ping: async (api, params) => {
    stringParams(params, []);
    return api.ping();
  },
  listRooms: async (api, params) => {
    stringParams(params, []);
    return api.listRooms();
  },
  getRoom: async (api, params) => {
    const [sid = ''] = stringParams(params, ['sid']);
    const room = await api.getRoom(sid);
    if (!room) throw roomNotFound(sid);
    return room;
  },
  closeRoom: async (api, params) => {
    const [sid = ''] = stringParams(params, ['sid']);
    if (!(await api.closeRoom(sid))) throw roomNotFound(sid);
    return { sid, closed: true };
  },
  removePeer: async (api, params) => {
    const [sid = '', uid = ''] = stringParams(params, ['sid', 'uid']);
    const outcome = await api.removePeer(sid, uid);
    switch (outcome) {
      case 'removed':
        return { sid, uid, removed: true };
      case 'room-not-found':
        throw roomNotFound(sid);
      case 'peer-not-found':
        throw new RpcError(JsonRpcCode.PeerNotFound, 'peer not found', { sid, uid });
    }
  },
  /** {sid, uid, streamId, spatial: 0-2 | low/medium/high | "none", temporal?: 0-2 | low/medium/high} */
  setPreferredLayers: async (api, params) => {
    if (!isObject(params)) throw new RpcError(JsonRpcCode.InvalidParams, 'invalid params: params must be an object');
    const [sid = '', uid = '', streamId = ''] = ['sid', 'uid', 'streamId'].map((n) => checkString(params[n], n));
    const layers = params.spatial === 'none' ? 'none' : { spatial: layerParam(params.spatial, 'spatial') ?? 2, temporal: layerParam(params.temporal, 'temporal') };
    const outcome = await api.setPreferredLayers(sid, uid, streamId, layers);
    if (outcome === 'room-not-found') throw roomNotFound(sid);
    if (outcome === 'peer-not-found') throw new RpcError(JsonRpcCode.PeerNotFound, 'peer not found', { sid, uid });
    return { sid, uid, streamId, tracks: outcome };
  },
  /** {sid, uid, n: number | null (the room's), pinned?: streamId[]} */
  setLastN: async (api, params) => {
    if (!isObject(params)) throw new RpcError(JsonRpcCode.InvalidParams, 'invalid params: params must be an object');
    const [sid = '', uid = ''] = ['sid', 'uid'].map((n) => checkString(params[n], n));
    const n = params.n;
    if (n !== null && !(typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 1000)) {
      throw new RpcError(JsonRpcCode.InvalidParams, 'invalid params: n must be an integer 0..1000 or null');
    }
    const pinned = params.pinned;
    if (pinned !== undefined && !(Array.isArray(pinned) && pinned.length <= 64 && pinned.every((x) => typeof x === 'string'))) {
      throw new RpcError(JsonRpcCode.InvalidParams, 'invalid params: pinned must be an array of at most 64 stream ids');
    }
    const outcome = await api.setLastN(sid, uid, n, pinned as string[] | undefined);
    if (outcome === 'room-not-found') throw roomNotFound(sid);
    if (outcome === 'peer-not-found') throw new RpcError(JsonRpcCode.PeerNotFound, 'peer not found', { sid, uid });
    return { sid, uid, n, pinned: pinned ?? null };
  },
};

/** What the request observer learns of one call: its method once known, and whether it succeeded. */
interface CallOutcome {
  method: string;
  ok: boolean;
}

/** `callOne`, timed and reported to the request observer. */
async function observedCall(v: unknown, api: AdminApi, opts: HttpJsonRpcOptions): Promise<string | undefined> {
  const onRequest = opts.onRequest;
  if (!onRequest) return callOne(v, api, opts.logger);
  const outcome: CallOutcome = { method: 'other', ok: false };
  const started = performance.now();
  const out = await callOne(v, api, opts.logger, outcome);
  onRequest(outcome.method, outcome.ok ? 'ok' : 'error', (performance.now() - started) / 1000);
  return out;
}

/** One request object → its response text, or undefined for a notification. */
async function callOne(v: unknown, api: AdminApi, log: Logger | undefined, outcome?: CallOutcome): Promise<string | undefined> {
  if (!isObject(v)) return errorJson(null, new RpcError(JsonRpcCode.InvalidRequest, 'invalid request: not an object'));
  const hasId = Object.hasOwn(v, 'id');
  const id = hasId && isId(v.id) ? v.id : null;
  if (hasId && !isId(v.id)) return errorJson(null, new RpcError(JsonRpcCode.InvalidRequest, 'invalid request: id must be a string, a number or null'));
  if (v.jsonrpc !== '2.0') return errorJson(id, new RpcError(JsonRpcCode.InvalidRequest, 'invalid request: jsonrpc must be "2.0"'));
  if (typeof v.method !== 'string') return errorJson(id, new RpcError(JsonRpcCode.InvalidRequest, 'invalid request: method must be a string'));
  let out: string;
  try {
    const method = Object.hasOwn(METHODS, v.method) ? METHODS[v.method] : undefined;
    if (!method) throw new RpcError(JsonRpcCode.MethodNotFound, 'method not found');
    if (outcome) outcome.method = v.method;
    const params = Object.hasOwn(v, 'params') ? v.params : undefined;
    if (params !== undefined && typeof params !== 'object') {
      throw new RpcError(JsonRpcCode.InvalidParams, 'invalid params: params must be an object or an array');
    }
    out = resultJson(id, await method(api, params === null ? undefined : params));
    if (outcome) outcome.ok = true;
  } catch (err) {
    out = errorJson(id, toRpcError(err, log));
  }
  return hasId ? out : undefined;
}

function toRpcError(err: unknown, log: Logger | undefined): RpcError {
  if (err instanceof RpcError) return err;
  log?.error({ err }, 'admin rpc call failed');
  if (err instanceof SfuError) return new RpcError(JsonRpcCode.InternalError, err.message, { code: err.code });
  return new RpcError(JsonRpcCode.InternalError, 'internal error');
}

function send(res: ServerResponse, status: number, body?: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** An HTTP-level refusal: the body is still a JSON-RPC error, so clients parse one shape. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  // Do not read (or wait for) a body we refuse; close the connection after answering.
  res.once('finish', () => req.destroy());
  send(res, status, errorJson(null, new RpcError(JsonRpcCode.InvalidRequest, message)), { Connection: 'close', ...headers });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (v: Buffer | 'too-large' | 'aborted'): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(v);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish('too-large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish(Buffer.concat(chunks, size)));
    req.once('error', () => finish('aborted'));
    req.once('close', () => finish(req.complete ? Buffer.concat(chunks, size) : 'aborted'));
  });
}

/**
 * Serves one HTTP request to the JSON-RPC endpoint. Never rejects: every
 * failure is answered (or, if the client went away, dropped).
 */
export async function handleHttpJsonRpc(req: IncomingMessage, res: ServerResponse, api: AdminApi, opts: HttpJsonRpcOptions = {}): Promise<void> {
  const limit = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const maxBatch = opts.maxBatch ?? MAX_BATCH;
  try {
    const denied = await opts.authorize?.(req);
    if (denied) return refuse(req, res, denied.status, denied.message, denied.headers);
    if (req.method !== 'POST') return refuse(req, res, 405, 'method not allowed: use POST', { Allow: 'POST' });
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
    if (type !== 'application/json') return refuse(req, res, 415, 'unsupported media type: use application/json');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return refuse(req, res, 413, `request body exceeds ${limit} bytes`);

    const body = await readBody(req, limit);
    if (body === 'aborted') return;
    if (body === 'too-large') return refuse(req, res, 413, `request body exceeds ${limit} bytes`);

    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch {
      opts.onRequest?.('other', 'error', 0);
      return send(res, 200, errorJson(null, new RpcError(JsonRpcCode.ParseError, 'parse error')));
    }

    if (!Array.isArray(v)) {
      const out = await observedCall(v, api, opts);
      return out === undefined ? send(res, 204) : send(res, 200, out);
    }
    if (v.length === 0) return send(res, 200, errorJson(null, new RpcError(JsonRpcCode.InvalidRequest, 'invalid request: empty batch')));
    if (v.length > maxBatch) {
      return send(res, 200, errorJson(null, new RpcError(JsonRpcCode.InvalidRequest, `invalid request: batch larger than ${maxBatch}`)));
    }
    const outs: string[] = [];
    for (const item of v) {
      const out = await observedCall(item, api, opts);
      if (out !== undefined) outs.push(out);
    }
    return outs.length === 0 ? send(res, 204) : send(res, 200, `[${outs.join(',')}]`);
  } catch (err) {
    // Only serialisation of an odd AdminApi result can land here.
    opts.logger?.error({ err }, 'admin rpc failed');
    send(res, 500, errorJson(null, new RpcError(JsonRpcCode.InternalError, 'internal error')));
  }
}
