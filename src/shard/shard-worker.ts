/**
 * The main thread's handle on one worker incarnation of a shard: starts it,
 * sends id-based requests and matches replies, and watches it. A worker that
 * exits, throws, or leaves a heartbeat unanswered for `heartbeatTimeoutMs`
 * is failed exactly once: pending requests are rejected, the thread is
 * terminated, and `onDown` tells the pool (which restarts the shard).
 */
import { Worker, type MessagePort } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SfuError } from '../errors.js';
import type { FromShard, SessionNote, ShardInit, ShardOp, ShardOps, ToShard } from './protocol.js';
import type { ShardLoad } from './host.js';

/** Heartbeat period and how long an unanswered one may stay so (issue 7: detected within 2 s). */
export const HEARTBEAT_MS = 500;
export const HEARTBEAT_TIMEOUT_MS = 2000;
/** A request to a healthy shard that takes longer than this fails (the heartbeat fails the shard sooner). */
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Loading a shard is loading sfud's module graph again (about 1.5 s of CPU
 * built; several times that when tests run TypeScript through a loader on a
 * busy machine): generous, it only catches a shard that never comes up.
 */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 3000;

export interface ShardWorkerEvents {
  note(session: number, note: SessionNote): void;
  log(line: string): void;
  webhook(event: string, body: unknown): void;
  refusal(reason: 'tooManyDataChannels'): void;
  load(load: ShardLoad): void;
  /** The worker failed (never called after `stop()`). */
  down(reason: string): void;
}

/**
 * The compiled entry (dist/src/shard/worker.js) next to this module; under
 * the test runner's TypeScript hook only worker.ts exists, and the worker
 * inherits the hook through `execArgv`.
 */
function entry(): URL {
  const js = new URL('./worker.js', import.meta.url);
  return existsSync(fileURLToPath(js)) ? js : new URL('./worker.ts', import.meta.url);
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class ShardWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastAnswerAt = 0;
  private outstandingBeat = false;
  private failed = false;
  private stopping = false;
  private stopped: (() => void) | undefined;
  /** The bound media port (from `ready`). */
  port = 0;

  private constructor(
    readonly index: number,
    init: ShardInit,
    private readonly on: ShardWorkerEvents,
  ) {
    this.worker = new Worker(entry(), { workerData: init, name: `sfud-shard-${index}` });
    this.worker.on('message', (m: FromShard) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(`threw: ${err.message}`));
    this.worker.on('exit', (code) => {
      this.stopped?.();
      this.fail(`exited with code ${code}`);
    });
  }

  /** Starts a worker and resolves once its media port is bound. */
  static start(init: ShardInit, on: ShardWorkerEvents): Promise<ShardWorker> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => startFailed(`did not start within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
      const startFailed = (reason: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void w.worker.terminate();
        reject(new SfuError('ERR_SFUD_SHARD', `shard ${init.index} could not start: ${reason}`));
      };
      const w: ShardWorker = new ShardWorker(init.index, init, {
        ...on,
        down: (reason) => (settled ? on.down(reason) : startFailed(reason)),
      });
      w.onReady = (port) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        w.port = port;
        w.startHeartbeat();
        resolve(w);
      };
    });
  }

  private onReady: (port: number) => void = () => undefined;

  private onMessage(m: FromShard): void {
    switch (m.t) {
      case 'ready':
        this.onReady(m.port);
        return;
      case 'res':
      case 'err': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.t === 'res') p.resolve(m.value);
        else p.reject(new SfuError(m.code ?? 'ERR_SFUD_SHARD', m.message));
        return;
      }
      case 'note':
        this.on.note(m.session, m.note);
        return;
      case 'log':
        this.on.log(m.line);
        return;
      case 'webhook':
        this.on.webhook(m.event, m.body);
        return;
      case 'refusal':
        this.on.refusal(m.reason);
        return;
      case 'stopped':
        return;
    }
  }

  /** Sends a request; rejects with the shard's own error message, or when the shard fails. */
  call<K extends ShardOp>(op: K, args: ShardOps[K][0], timeoutMs = REQUEST_TIMEOUT_MS): Promise<ShardOps[K][1]> {
    if (this.failed || this.stopping) return Promise.reject(new SfuError('ERR_SFUD_SHARD', `shard ${this.index} is down`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SfuError('ERR_SFUD_SHARD', `shard ${this.index} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.post({ t: 'req', id, op, args });
    });
  }

  /** Tells the shard a session's socket is gone (no reply). */
  closeSession(session: number): void {
    if (!this.failed && !this.stopping) this.post({ t: 'closeSession', session });
  }

  /** Gives the shard its side of a pipe for room `sid` to shard `peer`. */
  pipe(sid: string, peer: number, port: MessagePort): void {
    if (this.failed || this.stopping) {
      port.close();
      return;
    }
    this.worker.postMessage({ t: 'pipe', sid, peer, port } satisfies ToShard, [port]);
  }

  unpipe(sid: string, peer: number): void {
    if (!this.failed && !this.stopping) this.post({ t: 'unpipe', sid, peer });
  }

  private post(m: ToShard): void {
    this.worker.postMessage(m);
  }

  private startHeartbeat(): void {
    this.lastAnswerAt = performance.now();
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private beat(): void {
    if (performance.now() - this.lastAnswerAt > HEARTBEAT_TIMEOUT_MS) {
      this.fail(`no heartbeat answer for ${HEARTBEAT_TIMEOUT_MS} ms`);
      return;
    }
    // One heartbeat in flight at a time: a slow shard is judged by its oldest unanswered one.
    if (this.outstandingBeat) return;
    this.outstandingBeat = true;
    this.call('heartbeat', null, HEARTBEAT_TIMEOUT_MS * 2).then(
      (load) => {
        this.outstandingBeat = false;
        this.lastAnswerAt = performance.now();
        this.on.load(load);
      },
      () => (this.outstandingBeat = false),
    );
  }

  private fail(reason: string): void {
    if (this.failed || this.stopping) return;
    this.failed = true;
    clearInterval(this.heartbeat);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new SfuError('ERR_SFUD_SHARD', `shard ${this.index} failed: ${reason}`));
    }
    this.pending.clear();
    // terminate() also stops a thread spinning in JavaScript.
    void this.worker.terminate();
    this.on.down(reason);
  }

  /** Closes the shard's rooms and sockets, then the thread (terminated if it takes too long). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    clearInterval(this.heartbeat);
    if (this.failed) {
      await this.worker.terminate();
      return;
    }
    this.stopping = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new SfuError('ERR_SFUD_SHARD', `shard ${this.index} is stopping`));
    }
    this.pending.clear();
    const exited = new Promise<void>((resolve) => (this.stopped = resolve));
    this.post({ t: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
}
