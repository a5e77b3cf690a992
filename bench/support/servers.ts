/**
 * The servers under test, each started in its own process so its CPU (all
 * threads, and for mediasoup its worker processes too) is read from /proc
 * apart from the load generator's: the built sfud daemon, and the
 * ion-sfu-speaking mediasoup server (bench/servers/mediasoup-ion.ts).
 * Everything listens on 127.0.0.1; every wait has a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, rssBytes } from '../loadgen/proc.js';

/** The repository root (this file runs from dist/bench/support/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export type ServerKind = 'sfud' | 'mediasoup';

export interface RunningServer {
  kind: ServerKind;
  /** ws://127.0.0.1:PORT/ws */
  wsUrl: string;
  httpUrl: string;
  /** The signalling process. */
  pid: number;
  /** Every process whose CPU and memory count as the server's (mediasoup: the Node process and its workers). */
  pids: number[];
  /** UDP ports media arrives on (for socket-queue and drop accounting). */
  udpPorts: number[];
  /** The first lines the server printed (for error reports). */
  log: string[];
  stop(): Promise<void>;
}

export async function freeTcpPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((ok) => srv.close(() => ok()));
  return port;
}

export async function freeUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', ok));
  const { port } = sock.address();
  await new Promise<void>((ok) => sock.close(() => ok()));
  return port;
}

/** Sum of `read(pid)` over the server's processes; a process that is gone counts 0. */
function overPids(s: RunningServer, read: (pid: number) => number): number {
  let sum = 0;
  for (const pid of s.pids) {
    try {
      sum += read(pid);
    } catch {
      // exited
    }
  }
  return sum;
}

/** CPU seconds of all the server's processes. */
export function serverCpuSeconds(s: RunningServer): number {
  return overPids(s, cpuSeconds);
}

export function serverRssBytes(s: RunningServer): number {
  return overPids(s, rssBytes);
}

function collect(child: ChildProcess, log: string[], onLine?: (line: string) => void): void {
  const take = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      if (log.length < 200) log.push(line);
      onLine?.(line);
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((ok) => child.once('exit', () => ok()));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(force);
  };
}

export interface SfudStartOptions {
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  logLevel?: string;
  /** Extra sfud flags (e.g. --last-n 4). */
  args?: string[];
}

/** Starts dist/bin/sfud.js on free ports and waits for GET /health. */
export async function startSfud(opts: SfudStartOptions = {}): Promise<RunningServer> {
  const httpPort = await freeTcpPort();
  const udpPort = await freeUdpPort();
  const args = [
    ...(opts.nodeArgs ?? []),
    join(ROOT, 'dist/bin/sfud.js'),
    '--listen',
    `127.0.0.1:${httpPort}`,
    '--udp-port',
    String(udpPort),
    '--log-level',
    opts.logLevel ?? 'warn',
    ...(opts.args ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  collect(child, log);
  if (child.pid === undefined) throw new Error('could not spawn sfud');
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const server: RunningServer = {
    kind: 'sfud',
    wsUrl: `ws://127.0.0.1:${httpPort}/ws`,
    httpUrl,
    pid: child.pid,
    pids: [child.pid],
    udpPorts: [udpPort],
    log,
    stop: stopper(child),
  };
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(50)) {
    if (child.exitCode !== null) throw new Error(`sfud exited with ${child.exitCode}:\n${log.join('\n')}`);
    try {
      if ((await fetch(`${httpUrl}/health`)).ok) return server;
    } catch {
      // not listening yet
    }
  }
  await server.stop();
  throw new Error(`sfud did not answer /health within 15 s:\n${log.join('\n')}`);
}

/**
 * Starts dist/bench/servers/mediasoup-ion.js (mediasoup must be built:
 * bench/servers/mediasoup-setup.sh) and waits for its ready line.
 */
export async function startMediasoup(opts: { workers?: number; mediasoupDir?: string } = {}): Promise<RunningServer> {
  const httpPort = await freeTcpPort();
  const udpPort = await freeUdpPort();
  const args = [join(ROOT, 'dist/bench/servers/mediasoup-ion.js'), '--port', String(httpPort), '--udp-port', String(udpPort), '--workers', String(opts.workers ?? 1)];
  if (opts.mediasoupDir) args.push('--mediasoup-dir', opts.mediasoupDir);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  let ready: { ws: string; httpPort: number; pid: number; workerPids: number[]; udpPorts: number[] } | undefined;
  collect(child, log, (line) => {
    const m = /^mediasoup-ion ready (\{.*\})$/.exec(line);
    if (m) ready = JSON.parse(m[1]!) as typeof ready;
  });
  if (child.pid === undefined) throw new Error('could not spawn mediasoup-ion');
  const stop = stopper(child);
  for (const deadline = Date.now() + 20_000; Date.now() < deadline && !ready; await sleep(50)) {
    if (child.exitCode !== null) throw new Error(`mediasoup-ion exited with ${child.exitCode}:\n${log.join('\n')}`);
  }
  if (!ready) {
    await stop();
    throw new Error(`mediasoup-ion printed no ready line within 20 s:\n${log.join('\n')}`);
  }
  return {
    kind: 'mediasoup',
    wsUrl: ready.ws,
    httpUrl: `http://127.0.0.1:${ready.httpPort}`,
    pid: child.pid,
    pids: [child.pid, ...ready.workerPids],
    udpPorts: ready.udpPorts,
    log,
    stop,
  };
}

export function startServer(kind: ServerKind): Promise<RunningServer> {
  return kind === 'sfud' ? startSfud() : startMediasoup();
}
