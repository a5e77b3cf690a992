/**
 * The ion-sfu signalling endpoint: JSON-RPC over WebSocket at `/ws`
 * (shared/reference/ion-sfu-protocol.md 1.1-1.4).
 *
 * One WebSocket is one signalling peer and one SignalSession. Frames on a
 * socket are handled strictly in order, one at a time (ion-sfu handles them
 * inline in its read loop, so a slow `join` holds back what follows); the
 * per-socket queue is bounded. Hostile input on one socket only ever costs that
 * socket: every failure is an error reply or a close of that socket.
 *
 * Deliberate differences from ion-sfu (all additive; ion-sdk-js sees none):
 *  - undecodable frames, missing params and bad ids get a JSON-RPC error reply
 *    instead of closing the socket (or, for missing params, crashing ion-sfu);
 *  - an unknown method with an id gets -32601 (ion-sfu never replies);
 *  - `answer`/`trickle` sent with an id get `"result":null` on success
 *    (ion-sfu never replies, leaving such a caller waiting forever);
 *  - up to 32 trickles that arrive before `join` are kept and delivered, in
 *    order, right after the join succeeds (ion-sfu rejects them with
 *    `no rtc transport exists for this Peer`, which it still does here once
 *    the buffer is full); they are dropped if the join fails;
 *  - frames over 1 MiB close the socket with 1009 (ws `maxPayload`) before
 *    any of it is buffered or parsed; a queue over 64 frames (or 4 MiB) closes
 *    it with 1008;
 *  - a WebSocket ping every 30 s; a socket that has not answered the previous
 *    ping is terminated (dead after 30-60 s);
 *  - an optional admission (types.ts SignalAdmission) may refuse the upgrade
 *    with an HTTP status and guards each call; its refusals are JSON-RPC
 *    errors with their own codes (refusals.ts), counted by reason;
 *  - `drain()`: upgrades get 503, joins error 503, and every socket gets the
 *    `draining` notification (frames.ts).
 */
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import { systemClock, type Clock, type Timer } from '../../util/clock.js';
import {
  IonSfuMessage,
  MAX_FRAME_BYTES,
  RpcErrorCode,
  answerResultFrame,
  drainingNotification,
  errorFrame,
  offerNotification,
  parseFrame,
  replyId,
  resultFrame,
  trickleNotification,
  type FrameErrorKind,
  type RpcId,
  type SignalCall,
  type TrickleParams,
} from './frames.js';
import type {
  AnswerDescription,
  JoinParams,
  RpcRequestObserver,
  SignalAdmission,
  SignalGuard,
  SignalNotifier,
  SignalSession,
  SignalSessionFactory,
  TrickleTarget,
} from './types.js';
import { RefusalCode, Refusals, SignalRefusal, type HttpRefusal, type RefusalReason } from './refusals.js';

export const WS_PATH = '/ws';

/** RFC 6455 close codes used here. */
export const WsCloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
} as const;

export interface SignalWsServerOptions {
  factory: SignalSessionFactory;
  /** Upgrade path; default `/ws` (ion-sfu's). Other paths get 404. */
  path?: string;
  /** Largest frame accepted; bigger ones close the socket with 1009. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Frames waiting behind the one being handled; more closes with 1008. Default 64. */
  maxQueuedFrames?: number;
  /** Bytes waiting behind the frame being handled; more closes with 1008. Default 4 MiB. */
  maxQueuedBytes?: number;
  /** Trickles kept from before `join`. Default 32. */
  maxEarlyTrickles?: number;
  /** WebSocket ping period; a socket silent for a whole period is dead. Default 30 s. */
  pingIntervalMs?: number;
  /** Who may connect and what each connection may do (origin, rate limits, tokens, limits). Default: everyone, everything. */
  admission?: SignalAdmission;
  /** Where refusals are counted (shared with the HTTP side); default: the server's own. */
  refusals?: Refusals;
  clock?: Clock;
  logger?: Logger;
  /** Told about every request (metrics). */
  onRequest?: RpcRequestObserver;
}

/** Error replies by cause. */
export interface SignalErrorCounts {
  /** -32700 */
  parse: number;
  /** -32600 */
  invalidRequest: number;
  /** -32601 */
  methodNotFound: number;
  /** -32602 */
  invalidParams: number;
  /** 500: ordering (`no rtc transport...`, `rtc transport already exists...`). */
  ordering: number;
  /** 500: the session rejected. */
  session: number;
}

export interface SignalWsStats {
  socketsOpen: number;
  socketsTotal: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  errors: SignalErrorCounts;
  /** Frames that needed no reply: responses from the client, unknown notifications. */
  ignored: { response: number; unknownNotification: number; badTarget: number };
  /** Sockets we closed, by reason. */
  closed: { oversize: number; queueOverflow: number; dead: number; protocol: number; factory: number; byApp: number };
  earlyTrickles: { buffered: number; delivered: number; rejected: number };
  /** Requests refused on purpose, by reason (the counter may be shared with the HTTP side). */
  refusals: Record<RefusalReason, number>;
}

type ConnState = 'new' | 'joined' | 'closed';

/** What a connection reads from its server. */
interface ServerContext {
  isDraining(): boolean;
  readonly refusals: Refusals;
  /** A connection joined or closed (a drain waits for the last joined one). */
  changed(): void;
}

const FRAME_ERROR_KEY: Record<FrameErrorKind, keyof SignalErrorCounts> = {
  'too-large': 'invalidRequest',
  parse: 'parse',
  'invalid-request': 'invalidRequest',
  'method-not-found': 'methodNotFound',
  'invalid-params': 'invalidParams',
};

function emptyStats(): Omit<SignalWsStats, 'refusals'> {
  return {
    socketsOpen: 0,
    socketsTotal: 0,
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    errors: { parse: 0, invalidRequest: 0, methodNotFound: 0, invalidParams: 0, ordering: 0, session: 0 },
    ignored: { response: 0, unknownNotification: 0, badTarget: 0 },
    closed: { oversize: 0, queueOverflow: 0, dead: 0, protocol: 0, factory: 0, byApp: 0 },
    earlyTrickles: { buffered: 0, delivered: 0, rejected: 0 },
  };
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A close reason must fit in 123 bytes of UTF-8. */
function closeReason(reason: string | undefined): string {
  if (!reason) return '';
  return Buffer.byteLength(reason) <= 123 ? reason : '';
}

function isTarget(n: number): n is TrickleTarget {
  return n === 0 || n === 1;
}

/** One WebSocket, one session, one ordered queue. */
class SignalConnection {
  state: ConnState = 'new';
  /** Set when the pong for the last ping arrived (or any frame did). */
  alive = true;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private busy = false;
  private readonly early: TrickleParams[] = [];
  private session: SignalSession | undefined;
  /** Set when the call being handled was answered with an error (for the request observer). */
  private failed = false;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    private readonly opts: Required<Pick<SignalWsServerOptions, 'maxFrameBytes' | 'maxQueuedFrames' | 'maxQueuedBytes' | 'maxEarlyTrickles'>>,
    private readonly stats: Omit<SignalWsStats, 'refusals'>,
    private readonly log: Logger,
    private readonly server: ServerContext,
    private readonly guard: SignalGuard | undefined,
    private readonly onRequest?: RpcRequestObserver,
  ) {}

  start(factory: SignalSessionFactory, req: IncomingMessage): void {
    const notify: SignalNotifier = {
      offer: (desc) => this.send(offerNotification(desc)),
      trickle: (target, candidate) => this.send(trickleNotification(target, candidate)),
      event: (method, params) => this.send(JSON.stringify({ method, params, jsonrpc: '2.0' })),
      close: (reason) => {
        if (this.state === 'closed') return;
        this.stats.closed.byApp++;
        this.ws.close(WsCloseCode.Normal, closeReason(reason));
      },
    };
    try {
      this.session = factory.create(notify, { connectionId: this.id, remoteAddress: req.socket.remoteAddress, url: req.url ?? '' });
    } catch (err) {
      this.log.error({ err }, 'signal session factory failed');
      this.stats.closed.factory++;
      this.ws.close(WsCloseCode.InternalError, 'internal error');
      this.state = 'closed';
      return;
    }
    this.ws.on('message', (data) => this.onMessage(toBuffer(data)));
    this.ws.on('pong', () => (this.alive = true));
  }

  /** The socket is gone: stop everything and tell the session, exactly once. */
  onClose(): void {
    if (this.state !== 'closed') this.state = 'closed';
    this.server.changed();
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.early.length = 0;
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    try {
      session.close();
    } catch (err) {
      this.log.error({ err }, 'signal session close() threw');
    }
  }

  private onMessage(frame: Buffer): void {
    if (this.state === 'closed') return;
    this.alive = true;
    this.stats.framesIn++;
    this.stats.bytesIn += frame.length;
    if (this.queue.length >= this.opts.maxQueuedFrames || this.queuedBytes + frame.length > this.opts.maxQueuedBytes) {
      this.log.warn({ queued: this.queue.length, bytes: this.queuedBytes }, 'signal queue overflow, closing');
      this.stats.closed.queueOverflow++;
      this.state = 'closed';
      this.queue.length = 0;
      this.queuedBytes = 0;
      this.ws.close(WsCloseCode.PolicyViolation, 'queue overflow');
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    void this.pump();
  }

  /** Handles queued frames one at a time; a second caller returns at once. */
  /** A method, not a field read: TypeScript keeps field narrowing across `await`. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (;;) {
        if (this.state === 'closed') break;
        const frame = this.queue.shift();
        if (!frame) break;
        this.queuedBytes -= frame.length;
        await this.handle(frame);
      }
    } finally {
      this.busy = false;
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    const parsed = parseFrame(frame, this.opts.maxFrameBytes);
    switch (parsed.kind) {
      case 'error':
        this.stats.errors[FRAME_ERROR_KEY[parsed.error]]++;
        this.send(parsed.reply);
        this.onRequest?.('other', 'error', 0);
        return;
      case 'ignore':
        if (parsed.reason === 'response') this.stats.ignored.response++;
        else this.stats.ignored.unknownNotification++;
        return;
      case 'call': {
        // Frames on one socket are handled one at a time, so one flag per connection is exact.
        this.failed = false;
        const started = performance.now();
        await this.dispatch(parsed.id, parsed.call);
        this.onRequest?.(parsed.call.method, this.failed ? 'error' : 'ok', (performance.now() - started) / 1000);
        return;
      }
    }
  }

  private async dispatch(id: RpcId | null, call: SignalCall): Promise<void> {
    const session = this.session;
    if (!session) return;
    switch (call.method) {
      case 'join': {
        if (this.state === 'joined') return this.orderingError(id, IonSfuMessage.TransportExists);
        let params: JoinParams = call.params;
        let answer: AnswerDescription | null;
        try {
          if (this.server.isDraining()) throw new SignalRefusal('draining', RefusalCode.Draining, 'server is draining: join another server');
          if (this.guard) params = await this.guard.join(params);
          if (this.isClosed()) return;
          answer = await session.join(params);
        } catch (err) {
          this.early.length = 0;
          return this.sessionError(id, err);
        } finally {
          this.guard?.joinSettled?.();
        }
        if (this.isClosed()) return;
        if (answer === null) this.send(resultFrame(replyId(id), null));
        else if (!this.replyAnswer(id, answer)) {
          this.early.length = 0;
          return;
        }
        this.state = 'joined';
        this.server.changed();
        // Trickles that came before join, in arrival order, before the next frame.
        const early = this.early.splice(0);
        for (const t of early) {
          if (this.isClosed()) return;
          this.stats.earlyTrickles.delivered++;
          await this.trickle(session, null, t.target as TrickleTarget, t);
        }
        return;
      }
      case 'offer': {
        if (this.state !== 'joined') return this.orderingError(id, IonSfuMessage.NoTransport);
        let answer: AnswerDescription;
        try {
          this.guard?.offer(call.params.desc);
          answer = await session.offer(call.params.desc);
        } catch (err) {
          return this.sessionError(id, err);
        }
        if (this.isClosed()) return;
        this.replyAnswer(id, answer);
        return;
      }
      case 'answer': {
        if (this.state !== 'joined') return this.orderingError(id, IonSfuMessage.NoTransport);
        try {
          this.guard?.answer(call.params.desc);
          await session.answer(call.params.desc);
        } catch (err) {
          return this.sessionError(id, err);
        }
        if (id !== null) this.send(resultFrame(id, null));
        return;
      }
      case 'trickle': {
        const { target } = call.params;
        if (this.state !== 'joined') {
          if (this.early.length >= this.opts.maxEarlyTrickles) {
            this.stats.earlyTrickles.rejected++;
            return this.orderingError(id, IonSfuMessage.NoTransport);
          }
          if (isTarget(target)) {
            this.early.push(call.params);
            this.stats.earlyTrickles.buffered++;
          } else {
            this.stats.ignored.badTarget++;
          }
          if (id !== null) this.send(resultFrame(id, null));
          return;
        }
        if (!isTarget(target)) {
          // ion-sfu's switch over target has no default: silently ignored.
          this.stats.ignored.badTarget++;
          if (id !== null) this.send(resultFrame(id, null));
          return;
        }
        await this.trickle(session, id, target, call.params);
        return;
      }
    }
  }

  private async trickle(session: SignalSession, id: RpcId | null, target: TrickleTarget, p: TrickleParams): Promise<void> {
    try {
      this.guard?.trickle(target);
      await session.trickle(target, p.candidate);
    } catch (err) {
      return this.sessionError(id, err);
    }
    if (id !== null) this.send(resultFrame(id, null));
  }

  /** Sends the `join`/`offer` result; a malformed answer from the session is a 500, not a broken frame. */
  private replyAnswer(id: RpcId | null, answer: AnswerDescription): boolean {
    if (typeof answer !== 'object' || answer === null || answer.type !== 'answer' || typeof answer.sdp !== 'string') {
      this.log.error({ answer: typeof answer }, 'signal session returned an invalid answer');
      this.failed = true;
      this.stats.errors.session++;
      this.send(errorFrame(replyId(id), RpcErrorCode.IonSfu, 'error creating answer: invalid answer'));
      return false;
    }
    this.send(answerResultFrame(replyId(id), answer));
    return true;
  }

  private orderingError(id: RpcId | null, message: string): void {
    this.failed = true;
    this.stats.errors.ordering++;
    this.send(errorFrame(replyId(id), RpcErrorCode.IonSfu, message));
  }

  /** A session failure: ion-sfu's `{"code":500,"message":err.Error()}`; never a stack. A refusal: its own code, counted. */
  private sessionError(id: RpcId | null, err: unknown): void {
    this.failed = true;
    if (this.state === 'closed') return;
    if (err instanceof SignalRefusal) {
      this.server.refusals.count(err.reason);
      this.log.debug({ reason: err.reason }, 'signal call refused');
      this.send(errorFrame(replyId(id), err.rpcCode, err.message));
      return;
    }
    this.stats.errors.session++;
    const message = err instanceof Error && err.message.length > 0 ? err.message : 'internal error';
    this.log.debug({ err }, 'signal session call failed');
    this.send(errorFrame(replyId(id), RpcErrorCode.IonSfu, message));
  }

  send(text: string): void {
    if (this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) return;
    this.stats.framesOut++;
    this.ws.send(text);
  }

  /** Called by the server's ping sweep. */
  sweep(): void {
    if (!this.alive) {
      this.stats.closed.dead++;
      this.log.info('signal socket dead (no pong), terminating');
      this.ws.terminate();
      return;
    }
    this.alive = false;
    try {
      this.ws.ping();
    } catch {
      // The socket closed under us; its close handler cleans up.
    }
  }
}

/**
 * The `/ws` endpoint. Attach it to the HTTP server that also serves HTTP
 * JSON-RPC, metrics and the demo page: `new SignalWsServer({factory}).attach(server)`.
 */
export class SignalWsServer {
  private readonly wss: WebSocketServer;
  private readonly conns = new Set<SignalConnection>();
  private readonly stats = emptyStats();
  private readonly path: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly pingIntervalMs: number;
  private readonly connOpts: Required<Pick<SignalWsServerOptions, 'maxFrameBytes' | 'maxQueuedFrames' | 'maxQueuedBytes' | 'maxEarlyTrickles'>>;
  private timer: Timer | undefined;
  private nextId = 1;
  private closed = false;
  private drainState: { notice: string; waiters: (() => void)[] } | undefined;
  readonly refusals: Refusals;
  private readonly context: ServerContext;
  private readonly servers = new Set<Server | HttpsServer>();
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.handleUpgrade(req, socket, head);

  constructor(private readonly opts: SignalWsServerOptions) {
    this.path = opts.path ?? WS_PATH;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
    this.pingIntervalMs = opts.pingIntervalMs ?? 30_000;
    this.refusals = opts.refusals ?? new Refusals();
    this.context = {
      isDraining: () => this.drainState !== undefined,
      refusals: this.refusals,
      changed: () => this.checkDrained(),
    };
    this.connOpts = {
      maxFrameBytes: opts.maxFrameBytes ?? MAX_FRAME_BYTES,
      maxQueuedFrames: opts.maxQueuedFrames ?? 64,
      maxQueuedBytes: opts.maxQueuedBytes ?? 4 * MAX_FRAME_BYTES,
      maxEarlyTrickles: opts.maxEarlyTrickles ?? 32,
    };
    // ion-sfu: CheckOrigin always true, no subprotocol, no compression.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.connOpts.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  /** Serves `upgrade` requests of `server` (HTTP or HTTPS): `/ws` upgrades, anything else gets 404. */
  attach(server: Server | HttpsServer): void {
    if (this.servers.has(server)) return;
    this.servers.add(server);
    server.on('upgrade', this.onUpgrade);
  }

  /** For apps that route upgrades themselves. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const pathname = (req.url ?? '').split('?', 1)[0];
    if (this.closed || pathname !== this.path) return this.refuseUpgrade(socket, this.closed ? 503 : 404);
    if (this.drainState) return this.refuseUpgrade(socket, 503, { reason: 'draining', status: 503, message: 'server is draining' });
    let guard: SignalGuard | undefined;
    if (this.opts.admission) {
      const verdict = this.opts.admission.admit({ remoteAddress: req.socket.remoteAddress, origin: req.headers.origin, url: req.url ?? '' });
      if ('status' in verdict) return this.refuseUpgrade(socket, verdict.status, verdict);
      guard = verdict;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req, guard));
  }

  /** Ends an upgrade with an HTTP status (ws's own abortHandshake does the same: end, then destroy once flushed). */
  private refuseUpgrade(socket: Duplex, status: number, refusal?: HttpRefusal): void {
    if (refusal) {
      this.refusals.count(refusal.reason);
      this.log.debug({ reason: refusal.reason, status }, 'signal upgrade refused');
    }
    const body = refusal?.message ?? '';
    const headers = Object.entries(refusal?.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.once('finish', () => socket.destroy());
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n${headers}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, guard: SignalGuard | undefined): void {
    const id = this.nextId++;
    const conn = new SignalConnection(id, ws, this.connOpts, this.stats, this.log.child({ conn: id }), this.context, guard, this.opts.onRequest);
    this.conns.add(conn);
    this.stats.socketsOpen++;
    this.stats.socketsTotal++;
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.stats.closed.oversize++;
      else this.stats.closed.protocol++;
      this.log.debug({ err: err.message, code: err.code }, 'signal socket error');
    });
    ws.on('close', () => {
      if (!this.conns.delete(conn)) return;
      this.stats.socketsOpen--;
      conn.onClose();
    });
    conn.start(this.opts.factory, req);
    this.armPing();
  }

  private armPing(): void {
    if (this.timer || this.closed || this.pingIntervalMs <= 0) return;
    // One coarse timer for all sockets (STYLE.md 9), running only while any are open.
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      for (const c of this.conns) c.sweep();
      if (this.conns.size > 0) this.armPing();
    }, this.pingIntervalMs);
  }

  getStats(): SignalWsStats {
    return { ...structuredClone(this.stats), refusals: this.refusals.snapshot() };
  }

  /** Connections that have joined (and not closed). */
  get joinedCount(): number {
    let n = 0;
    for (const c of this.conns) if (c.state === 'joined') n++;
    return n;
  }

  get draining(): boolean {
    return this.drainState !== undefined;
  }

  /**
   * Starts draining: new upgrades get 503, joins on open sockets get error
   * 503, and every open socket gets the `draining` notification (frames.ts).
   * Resolves once no joined connection is left; the caller bounds the wait
   * and then calls close().
   */
  drain(deadline: number, timeoutMs: number): Promise<void> {
    if (!this.drainState) {
      this.drainState = { notice: drainingNotification(deadline, timeoutMs), waiters: [] };
      for (const c of this.conns) c.send(this.drainState.notice);
    }
    const state = this.drainState;
    return new Promise((resolve) => {
      state.waiters.push(resolve);
      this.checkDrained();
    });
  }

  private checkDrained(): void {
    const state = this.drainState;
    if (!state || state.waiters.length === 0 || this.joinedCount > 0) return;
    for (const w of state.waiters.splice(0)) w();
  }

  /** Number of open signalling sockets. */
  get size(): number {
    return this.conns.size;
  }

  /** Closes every socket with 1001 and stops accepting upgrades. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    for (const s of this.servers) s.off('upgrade', this.onUpgrade);
    this.servers.clear();
    if (this.conns.size === 0) return;
    for (const c of this.conns) c.ws.close(WsCloseCode.GoingAway, 'server shutting down');
    // Peers that do not answer the close frame would hold on for ws's 30 s
    // close timeout; cut them after a short grace instead.
    this.clock.setTimeout(() => {
      for (const c of this.conns) c.ws.terminate();
    }, 1000);
  }
}
