/**
 * The load generator in a process of its own: `LoadgenProcess` forks
 * child.ts and drives it over IPC (publish, subscribe, sample, close). A
 * bench that must tell the server's CPU from the load generator's on a small
 * machine (both read from /proc per process) uses this instead of running
 * peers in its own event loop, which would also make the bench's timers and
 * the load generator's receive path one saturating thread.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HistogramData } from './histogram.js';
import { cpuSeconds } from './proc.js';

export interface PublishRequest {
  op: 'publish';
  /** ws://HOST:PORT/ws */
  url: string;
  sid: string;
  uid: string;
  videoKbps: number;
  fps: number;
  keyframeIntervalS: number;
  timeoutMs: number;
}

export interface SubscribeRequest {
  op: 'subscribe';
  url: string;
  sid: string;
  /** Subscribers to add to this room (uids continue from those already joined). */
  count: number;
  /** Each sink decrypts every K-th packet for latency (0: none); loss is read from every packet's header. */
  latencySample: number;
  concurrency: number;
  timeoutMs: number;
}

/** Closes the room's most recent `count` subscribers (to step back below a knee). */
export interface DropRequest {
  op: 'drop';
  sid: string;
  count: number;
}

export interface SampleRequest {
  op: 'sample';
  /** Start a new latency and event-loop window after this sample. */
  reset: boolean;
}

export type LoadgenRequest = PublishRequest | SubscribeRequest | DropRequest | SampleRequest | { op: 'close' };

export interface SubscribeResult {
  joined: number;
  failed: number;
  /** Subscribers that joined but got no video in time. */
  noVideo: number;
  errors: string[];
}

/** Cumulative counters of one room in one load-generator process. */
export interface RoomCounters {
  sid: string;
  subscribers: number;
  /** Packets expected (sequence ranges) and received, bytes, summed over the room's sinks. */
  expected: number;
  received: number;
  bytes: number;
  /** What each subscriber should get: the publisher's audio + video packets sent (0 when it publishes elsewhere). */
  published: number;
}

export interface LoadgenSample {
  rooms: RoomCounters[];
  /** Latency of the sampled packets since the last reset. */
  latency: HistogramData;
  /** This process's event-loop delay since the last reset, ms (a late reader inflates latency). */
  eventLoopP99Ms: number;
  /** Local UDP ports of every connection in the process (for receive-queue accounting). */
  ports: number[];
}

/** What each request answers. */
export interface LoadgenResults {
  publish: { port: number };
  subscribe: SubscribeResult;
  drop: { left: number };
  sample: LoadgenSample;
  close: null;
}

export type LoadgenReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const CALL_TIMEOUT_MS = 300_000;

export class LoadgenProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exited: Error | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: LoadgenReply | { ready: true }) => {
      if (!('id' in m)) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error));
    });
    child.on('exit', (code, signal) => {
      this.exited = new Error(`load generator ${child.pid} exited (${signal ?? code})`);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(this.exited);
      }
      this.pending.clear();
    });
  }

  /**
   * Forks child.ts (child.js when this runs from dist/): under a TypeScript
   * loader the child inherits the loader through execArgv, as fork does.
   */
  static async start(): Promise<LoadgenProcess> {
    const here = fileURLToPath(import.meta.url);
    const entry = fileURLToPath(new URL(`./child${extname(here)}`, import.meta.url));
    const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const lg = new LoadgenProcess(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('load generator: no ready message within 30 s')), 30_000);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`load generator exited (${code}) before it was ready`)));
      child.on('message', (m: { ready?: boolean }) => {
        if (m.ready) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return lg;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** CPU seconds of the process (all threads), from /proc; 0 once it is gone. */
  cpuSeconds(): number {
    try {
      return cpuSeconds(this.pid);
    } catch {
      return 0;
    }
  }

  call<K extends LoadgenRequest['op']>(req: Extract<LoadgenRequest, { op: K }>): Promise<LoadgenResults[K]> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<LoadgenResults[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load generator: ${req.op} took over ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, ...req });
    });
  }

  /** Closes every peer, then the process (killed if it does not exit within 5 s). */
  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await Promise.race([this.call({ op: 'close' }), new Promise((resolve) => setTimeout(resolve, 5000))]);
    } catch {
      // exited meanwhile
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}
