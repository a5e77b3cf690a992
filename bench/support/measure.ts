/**
 * One measurement window over a running server and the load generator's
 * subscribers: what was forwarded and lost, the server's CPU (all its
 * processes) per forwarded packet, one-way latency, memory, socket drops, and
 * the CPU the load generator and everything else on the host used meanwhile.
 * Also: joining many clients with bounded concurrency, and waiting for the
 * shared machine to go quiet before a window.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Subscriber } from '../loadgen/roles.js';
import { joinMany, receptionTotals, waitQuiet as waitQuietOf } from '../scenarios/measure.js';
import type { Histogram } from '../loadgen/histogram.js';
import { cpuSeconds, hostBusySeconds, udpSockets } from '../loadgen/proc.js';
import { serverRssBytes, type RunningServer } from './servers.js';

export interface WindowResult {
  seconds: number;
  /** Packets the publishers sent per second. */
  publishedPps: number;
  forwardedPps: number;
  forwardedMbps: number;
  /** Sequence gaps seen by the subscribers, % of expected. */
  lossPct: number;
  /**
   * 1 - forwarded / (published x copies): what did not arrive within the
   * window, lost or still queued (a server that falls behind with big socket
   * buffers loses nothing but lags).
   */
  deficitPct: number;
  serverCpuPct: number;
  serverUsPerPacket: number;
  /** CPU % per server process (pid -> % of one core), e.g. mediasoup's Node process and its worker. */
  serverCpuByPid: Record<string, number>;
  serverRssMB: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; count: number };
  loadgenCpuPct: number;
  /** Host CPU outside the server and the load generator, % of one core. */
  otherCpuPct: number;
  udpDrops: { server: number; loadgen: number };
  /**
   * Receive-queue bytes sampled every 250 ms: where packets wait. A full
   * server queue with few packets/s in means seconds of latency, not loss.
   */
  udpRxQueueKB: { serverMean: number; serverMax: number; loadgenMean: number; loadgenMax: number };
}

interface Sample {
  wallMs: number;
  cpu: Map<number, number>;
  gen: number;
  host: number;
  expected: number;
  received: number;
  bytes: number;
  published: number;
  drops: Map<number, number>;
}

function take(server: RunningServer, subs: readonly Subscriber[], published: number): Sample {
  const { expected, received, bytes } = receptionTotals(subs);
  const cpu = new Map<number, number>();
  for (const pid of server.pids) {
    try {
      cpu.set(pid, cpuSeconds(pid));
    } catch {
      cpu.set(pid, 0);
    }
  }
  const drops = new Map<number, number>();
  for (const [port, st] of udpSockets()) drops.set(port, st.drops);
  return { wallMs: performance.now(), cpu, gen: cpuSeconds(process.pid), host: hostBusySeconds(), expected, received, bytes, published, drops };
}

function sum(m: Map<number, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}

export interface WindowOptions {
  server: RunningServer;
  subs: readonly Subscriber[];
  /** Packets sent by all publishers so far (read at both ends of the window). */
  published: () => number;
  /** How many subscribers should get each published packet (for the deficit). */
  copies: number;
  latency: Histogram;
  seconds: number;
}

/** Resets `latency`, waits `seconds`, and reports the window. */
export async function measureWindow(o: WindowOptions): Promise<WindowResult> {
  o.latency.reset();
  const subPorts = new Set(o.subs.map((s) => s.port));
  const serverPorts = new Set(o.server.udpPorts);
  const a = take(o.server, o.subs, o.published());
  const q = { server: 0, serverMax: 0, gen: 0, genMax: 0, n: 0 };
  for (const end = performance.now() + o.seconds * 1000; performance.now() < end; ) {
    await sleep(Math.max(1, Math.min(250, end - performance.now())));
    let server = 0;
    let gen = 0;
    for (const [port, st] of udpSockets()) {
      if (serverPorts.has(port)) server += st.rxQueue;
      else if (subPorts.has(port)) gen += st.rxQueue;
    }
    q.server += server;
    q.gen += gen;
    q.serverMax = Math.max(q.serverMax, server);
    q.genMax = Math.max(q.genMax, gen);
    q.n++;
  }
  const b = take(o.server, o.subs, o.published());
  const wall = (b.wallMs - a.wallMs) / 1000;
  const forwarded = b.received - a.received;
  const expected = b.expected - a.expected;
  const serverCpu = sum(b.cpu) - sum(a.cpu);
  const gen = b.gen - a.gen;
  const drops = (ports: Set<number>): number => {
    let n = 0;
    for (const [port, v] of b.drops) if (ports.has(port)) n += v - (a.drops.get(port) ?? 0);
    return n;
  };
  const byPid: Record<string, number> = {};
  for (const [pid, v] of b.cpu) byPid[String(pid)] = (100 * (v - (a.cpu.get(pid) ?? 0))) / wall;
  const lat = o.latency.summary();
  const published = b.published - a.published;
  return {
    seconds: wall,
    publishedPps: published / wall,
    forwardedPps: forwarded / wall,
    forwardedMbps: ((b.bytes - a.bytes) * 8) / wall / 1e6,
    lossPct: expected > 0 ? (100 * Math.max(0, expected - forwarded)) / expected : 100,
    deficitPct: Math.max(0, 100 * (1 - forwarded / Math.max(1, published * o.copies))),
    serverCpuPct: (100 * serverCpu) / wall,
    serverUsPerPacket: forwarded > 0 ? (serverCpu * 1e6) / forwarded : 0,
    serverCpuByPid: byPid,
    serverRssMB: serverRssBytes(o.server) / 2 ** 20,
    latencyMs: { p50: lat.p50 / 1000, p90: lat.p90 / 1000, p99: lat.p99 / 1000, max: lat.max / 1000, count: lat.count },
    loadgenCpuPct: (100 * gen) / wall,
    otherCpuPct: (100 * (b.host - a.host - gen - serverCpu)) / wall,
    udpDrops: { server: drops(serverPorts), loadgen: drops(subPorts) },
    udpRxQueueKB: {
      serverMean: q.server / Math.max(1, q.n) / 1024,
      serverMax: q.serverMax / 1024,
      loadgenMean: q.gen / Math.max(1, q.n) / 1024,
      loadgenMax: q.genMax / 1024,
    },
  };
}

/**
 * The machine is shared: wait (at most `maxS`) until processes other than
 * the server and this one use under a quarter of a core over one second.
 * Returns that last reading (% of one core).
 */
export function waitQuiet(server: RunningServer, maxS: number): Promise<number> {
  return waitQuietOf(maxS, [...server.pids, process.pid]);
}

export { joinMany };
