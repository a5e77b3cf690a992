/**
 * The servers under test, each started in its own process so its CPU (all
 * threads, and for mediasoup its worker processes too) is read from /proc
 * apart from the load generator's: the built sfud daemon, and the
 * ion-sfu-speaking mediasoup server (bench/servers/mediasoup-ion.ts).
 * Everything listens on 127.0.0.1; every wait has a deadline.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './root.js';
import { cpuSeconds, rssBytes, sumOverPids } from '../loadgen/proc.js';
import { freeTcpPort, freeUdpPort, spawnLogged, stopChild, waitForHttp } from '../servers/process.js';

export { ROOT };

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

/** CPU seconds of all the server's processes. */
export function serverCpuSeconds(s: RunningServer): number {
  return sumOverPids(s.pids, cpuSeconds);
}

export function serverRssBytes(s: RunningServer): number {
  return sumOverPids(s.pids, rssBytes);
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
  const c = spawnLogged(process.execPath, [
    ...(opts.nodeArgs ?? []),
    join(ROOT, 'dist/bin/sfud.js'),
    '--listen',
    `127.0.0.1:${httpPort}`,
    '--udp-port',
    String(udpPort),
    '--log-level',
    opts.logLevel ?? 'warn',
    // One shard unless the caller says otherwise (`--shards` in args wins, as the last flag given).
    '--shards',
    '1',
    ...(opts.args ?? []),
  ]);
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  // /ready, not /health: joins need the media shards up.
  await waitForHttp(c, `${httpUrl}/ready`, 'sfud');
  return { kind: 'sfud', wsUrl: `ws://127.0.0.1:${httpPort}/ws`, httpUrl, pid: c.pid, pids: [c.pid], udpPorts: [udpPort], log: c.log, stop: () => stopChild(c) };
}

/** What mediasoup-ion prints once it listens. */
export interface MediasoupReady {
  ws: string;
  httpPort: number;
  pid: number;
  workerPids: number[];
  udpPorts: number[];
}

/**
 * Starts dist/bench/servers/mediasoup-ion.js (mediasoup must be built:
 * bench/servers/mediasoup-setup.sh) and waits for its ready line.
 */
export async function spawnMediasoup(o: { host?: string; workers?: number; mediasoupDir?: string; nodeArgs?: string[] } = {}): Promise<{ ready: MediasoupReady; stop: () => Promise<void>; log: string[] }> {
  const host = o.host ?? '127.0.0.1';
  const httpPort = await freeTcpPort(host);
  const udpPort = await freeUdpPort(host);
  const args = [
    ...(o.nodeArgs ?? []),
    join(ROOT, 'dist/bench/servers/mediasoup-ion.js'),
    '--port',
    String(httpPort),
    '--host',
    host,
    '--udp-host',
    host,
    '--udp-port',
    String(udpPort),
    '--workers',
    String(o.workers ?? 1),
  ];
  if (o.mediasoupDir) args.push('--mediasoup-dir', o.mediasoupDir);
  const c = spawnLogged(process.execPath, args);
  const stop = (): Promise<void> => stopChild(c);
  const readyLine = (): MediasoupReady | undefined => {
    for (const line of c.log) {
      const m = /^mediasoup-ion ready (\{.*\})$/.exec(line);
      if (m) return JSON.parse(m[1]!) as MediasoupReady;
    }
    return undefined;
  };
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(50)) {
    const ready = readyLine();
    if (ready) return { ready, stop, log: c.log };
    if (c.child.exitCode !== null) throw new Error(`mediasoup-ion exited with ${c.child.exitCode}:\n${c.log.join('\n')}`);
  }
  await stop();
  throw new Error(`mediasoup-ion printed no ready line within 20 s:\n${c.log.join('\n')}`);
}

export async function startMediasoup(opts: { workers?: number; mediasoupDir?: string } = {}): Promise<RunningServer> {
  const { ready, stop, log } = await spawnMediasoup(opts);
  return {
    kind: 'mediasoup',
    wsUrl: ready.ws,
    httpUrl: `http://127.0.0.1:${ready.httpPort}`,
    pid: ready.pid,
    pids: [ready.pid, ...ready.workerPids],
    udpPorts: ready.udpPorts,
    log,
    stop,
  };
}

export function startServer(kind: ServerKind): Promise<RunningServer> {
  return kind === 'sfud' ? startSfud() : startMediasoup();
}
