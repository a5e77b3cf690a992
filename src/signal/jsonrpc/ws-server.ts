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
 *    ping is terminated (dead after 30-60 s).
 */
import type { IncomingMessage, Server } from 'node:http';
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
import type { AnswerDescription, RpcRequestObserver, SignalNotifier, SignalSession, SignalSessionFactory, TrickleTarget } from './types.js';

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
}

type ConnState = 'new' | 'joined' | 'closed';

const FRAME_ERROR_KEY: Record<FrameErrorKind, keyof SignalErrorCounts> = {
  'too-large': 'invalidRequest',
  parse: 'parse',
  'invalid-request': 'invalidRequest',
  'method-not-found': 'methodNotFound',
  'invalid-params': 'invalidParams',
};

function emptyStats(): SignalWsStats {
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
    private readonly stats: SignalWsStats,
    private readonly log: Logger,
    private readonly onRequest?: RpcRequestObserver,
  ) {}

  start(factory: SignalSessionFactory, req: IncomingMessage): void {
    const notify: SignalNotifier = {
      offer: (desc) => this.send(offerNotification(desc)),
      trickle: (target, candidate) => this.send(trickleNotification(target, candidate)),
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
        let answer: AnswerDescription;
        try {
          answer = await session.join(call.params);
        } catch (err) {
          this.early.length = 0;
          return this.sessionError(id, err);
        }
        if (this.isClosed()) return;
        if (!this.replyAnswer(id, answer)) {
          this.early.length = 0;
          return;
        }
        this.state = 'joined';
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

  /** A session failure: ion-sfu's `{"code":500,"message":err.Error()}`; never a stack. */
  private sessionError(id: RpcId | null, err: unknown): void {
    this.failed = true;
    if (this.state === 'closed') return;
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
  private readonly servers = new Set<Server>();
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.handleUpgrade(req, socket, head);

  constructor(private readonly opts: SignalWsServerOptions) {
    this.path = opts.path ?? WS_PATH;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
    this.pingIntervalMs = opts.pingIntervalMs ?? 30_000;
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

  /** Serves `upgrade` requests of `server`: `/ws` upgrades, anything else gets 404. */
  attach(server: Server): void {
    if (this.servers.has(server)) return;
    this.servers.add(server);
    server.on('upgrade', this.onUpgrade);
  }

  /** For apps that route upgrades themselves. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const pathname = (req.url ?? '').split('?', 1)[0];
    if (this.closed || pathname !== this.path) {
      // ws's own abortHandshake does the same: end, then destroy once flushed.
      const status = this.closed ? '503 Service Unavailable' : '404 Not Found';
      socket.once('finish', () => socket.destroy());
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const id = this.nextId++;
    const conn = new SignalConnection(id, ws, this.connOpts, this.stats, this.log.child({ conn: id }), this.opts.onRequest);
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
    return structuredClone(this.stats);
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
