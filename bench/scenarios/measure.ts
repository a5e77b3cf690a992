/**
 * What every scenario measures the same way: a window of forwarding (server
 * CPU from /proc over all its threads, loss, deficit, latency, queues, drops,
 * the load generator's own CPU and event-loop delay, other processes' CPU),
 * join statistics, bounded-concurrency joins, and waiting for a quiet machine.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RtcConnection } from '../loadgen/connection.js';
import type { Histogram } from '../loadgen/histogram.js';
import type { MediaSink, MediaSource } from '../loadgen/media.js';
import { cpuSeconds, hostBusySeconds, rssBytes, udpDropsByPort, udpSockets } from '../loadgen/proc.js';
import { overServerPids, type BandwidthEvents, type BenchClient, type RunningServer } from '../servers/types.js';
import type { ScenarioOptions, ScenarioRun, StepResult } from './types.js';

/** Other processes used more than this much of a core (%) during a window: it is not comparable. */
export const DISTURBED_OTHER_CPU_PCT = 25;

/** The q-quantile (0..1) of `values` by nearest rank; 0 for none. */
export function pct(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/**
 * The machine is shared: wait (up to `maxS`) until processes other than
 * `pids` use less than a quarter of a core over one second. Returns that last
 * measurement (% of one core).
 */
export async function waitQuiet(maxS: number, pids: readonly number[]): Promise<number> {
  const deadline = performance.now() + maxS * 1000;
  const own = (): number => pids.reduce((s, p) => s + cpuSeconds(p), 0);
  for (;;) {
    const h0 = hostBusySeconds();
    const o0 = own();
    await sleep(1000);
    const other = 100 * (hostBusySeconds() - h0 - (own() - o0));
    if (other < DISTURBED_OTHER_CPU_PCT || performance.now() >= deadline) return other;
  }
}

/** Joins `count` clients with at most `concurrency` joins in flight. */
export async function joinMany<T>(count: number, concurrency: number, join: (i: number) => Promise<T>): Promise<{ joined: T[]; failed: number; errors: string[] }> {
  const joined: T[] = [];
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        joined.push(await join(i));
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { joined, failed, errors };
}

/** Waits for every promise (each bounded by its own timeout: a sink's `ready`, ...); returns how many failed and why. */
export async function settleAll(waits: readonly Promise<void>[]): Promise<{ failed: number; errors: string[] }> {
  const settled = await Promise.allSettled(waits);
  const errors: string[] = [];
  let failed = 0;
  for (const r of settled) {
    if (r.status === 'rejected') {
      failed++;
      if (errors.length < 3) errors.push((r.reason as Error).message);
    }
  }
  return { failed, errors };
}

interface Snapshot {
  wallMs: number;
  serverCpu: number;
  genCpu: number;
  hostCpu: number;
  expected: number;
  received: number;
  bytes: number;
  published: number;
  drops: Map<number, number>;
}

/** Packets expected and received (sequence ranges) and bytes, summed over receivers. */
export function receptionTotals(receivers: readonly { counters(): { expected: number; received: number }; bytes: number }[]): {
  expected: number;
  received: number;
  bytes: number;
} {
  let expected = 0;
  let received = 0;
  let bytes = 0;
  for (const s of receivers) {
    const c = s.counters();
    expected += c.expected;
    received += c.received;
    bytes += s.bytes;
  }
  return { expected, received, bytes };
}

function snapshot(server: RunningServer, sinks: readonly MediaSink[], sources: readonly MediaSource[]): Snapshot {
  const { expected, received, bytes } = receptionTotals(sinks);
  let published = 0;
  // What each copy should get: with simulcast, the top layer (subscribers are not limited here).
  for (const s of sources) published += s.stats.audioPackets + s.stats.topLayerVideoPackets;
  return {
    wallMs: performance.now(),
    serverCpu: overServerPids(server, cpuSeconds),
    genCpu: cpuSeconds(process.pid),
    hostCpu: hostBusySeconds(),
    expected,
    received,
    bytes,
    published,
    drops: udpDropsByPort(),
  };
}

function dropsDelta(a: Map<number, number>, b: Map<number, number>, ports: (p: number) => boolean): number {
  let n = 0;
  for (const [port, v] of b) if (ports(port)) n += v - (a.get(port) ?? 0);
  return n;
}

export type WindowResult = Omit<StepResult, 'n' | 'rssPerClientKB' | 'joinMs' | 'sinksWithoutMedia' | 'srtpProfile' | 'windows'>;

/**
 * Measures one window of `seconds`. `copies` is how many sinks should get
 * each published packet (N for a fan-out, M - 1 in a meeting): the deficit.
 */
export async function measureWindow(
  server: RunningServer,
  sinks: readonly MediaSink[],
  sources: readonly MediaSource[],
  copies: number,
  seconds: number,
  latency: Histogram,
): Promise<WindowResult> {
  latency.reset();
  const isLoadgen = (p: number): boolean => RtcConnection.openPorts.has(p);
  const isServer = (p: number): boolean => !isLoadgen(p) && server.isServerPort(p);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const queues = { serverMax: 0, serverSum: 0, genMax: 0, genSum: 0, samples: 0 };
  const eventsBefore = await bandwidthEvents(server);
  const a = snapshot(server, sinks, sources);
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(250, Math.max(1, end - performance.now())));
    // Receive-queue depth says which side is behind: the server's sockets, or the clients'.
    let serverQ = 0;
    let genQ = 0;
    for (const [port, st] of udpSockets()) {
      if (isLoadgen(port)) genQ += st.rxQueue;
      else if (isServer(port)) serverQ += st.rxQueue;
    }
    queues.serverMax = Math.max(queues.serverMax, serverQ);
    queues.genMax = Math.max(queues.genMax, genQ);
    queues.serverSum += serverQ;
    queues.genSum += genQ;
    queues.samples++;
  }
  const b = snapshot(server, sinks, sources);
  loop.disable();
  const eventsAfter = await bandwidthEvents(server);
  const lat = latency.summary();
  const wall = (b.wallMs - a.wallMs) / 1000;
  const forwarded = b.received - a.received;
  const expected = b.expected - a.expected;
  const lost = Math.max(0, expected - forwarded);
  const published = b.published - a.published;
  return {
    seconds: wall,
    publishedPps: published / wall,
    forwardedPps: forwarded / wall,
    forwardedMbps: ((b.bytes - a.bytes) * 8) / wall / 1e6,
    lossPct: expected > 0 ? (100 * lost) / expected : 100,
    deficitPct: Math.max(0, 100 * (1 - forwarded / Math.max(1, published * copies))),
    serverCpuPct: (100 * (b.serverCpu - a.serverCpu)) / wall,
    serverUsPerPacket: forwarded > 0 ? ((b.serverCpu - a.serverCpu) * 1e6) / forwarded : 0,
    latencyMs: { p50: lat.p50 / 1000, p90: lat.p90 / 1000, p99: lat.p99 / 1000, max: lat.max / 1000, mean: lat.mean / 1000 },
    serverRssMB: overServerPids(server, rssBytes) / 2 ** 20,
    loadgenCpuPct: (100 * (b.genCpu - a.genCpu)) / wall,
    otherCpuPct: (100 * (b.hostCpu - a.hostCpu - (b.genCpu - a.genCpu) - (b.serverCpu - a.serverCpu))) / wall,
    udpDrops: { server: dropsDelta(a.drops, b.drops, isServer), loadgen: dropsDelta(a.drops, b.drops, isLoadgen) },
    loadgenEventLoopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    udpRxQueueKB: {
      serverMean: queues.serverSum / Math.max(1, queues.samples) / 1024,
      serverMax: queues.serverMax / 1024,
      loadgenMean: queues.genSum / Math.max(1, queues.samples) / 1024,
      loadgenMax: queues.genMax / 1024,
    },
    ...(eventsBefore && eventsAfter
      ? {
          bandwidthEvents: {
            congestionStops: eventsAfter.congestionStops - eventsBefore.congestionStops,
            pacerDropped: eventsAfter.pacerDropped - eventsBefore.pacerDropped,
            limitedSubscribers: eventsAfter.limitedSubscribers,
            videoWithoutLayer: eventsAfter.videoWithoutLayer,
          },
        }
      : {}),
  };
}

/** The server's bandwidth decisions now, if it reports them; a failed read is no figure, not a failed window. */
async function bandwidthEvents(server: RunningServer): Promise<BandwidthEvents | undefined> {
  try {
    return await server.bandwidthEvents?.();
  } catch {
    return undefined;
  }
}

/** Join-time percentiles over `sinks` (each measured from its own start). */
export function joinStats(sinks: readonly MediaSink[], joined: number, failed: number): StepResult['joinMs'] {
  const since = (pick: (s: MediaSink) => number): number[] =>
    sinks.filter((s) => pick(s) > 0).map((s) => pick(s) - s.times.start);
  const firstPacket = since((s) => s.times.firstRtp);
  const firstVideo = since((s) => s.times.firstVideo);
  const firstKey = since((s) => s.times.firstKeyframe);
  const allVideo = since((s) => s.times.allVideo);
  return {
    firstPacketP50: pct(firstPacket, 0.5),
    firstPacketP99: pct(firstPacket, 0.99),
    firstVideoP50: pct(firstVideo, 0.5),
    firstVideoP99: pct(firstVideo, 0.99),
    firstKeyframeP50: pct(firstKey, 0.5),
    firstKeyframeP99: pct(firstKey, 0.99),
    allVideoP50: pct(allVideo, 0.5),
    allVideoP99: pct(allVideo, 0.99),
    joined,
    failed,
  };
}

/**
 * A step's result from its window and its clients: RSS growth per client,
 * join times of the clients that joined in this step (taken after the window,
 * so a late key frame still counts), sinks that got nothing.
 */
export function finishStep(
  server: RunningServer,
  w: WindowResult,
  clients: readonly BenchClient[],
  newcomers: readonly BenchClient[],
  failed: number,
  rssBase: number,
): Omit<StepResult, 'windows'> {
  const sinks = clients.flatMap((c) => (c.sink ? [c.sink] : []));
  return {
    n: clients.length,
    ...w,
    rssPerClientKB: (overServerPids(server, rssBytes) - rssBase) / 1024 / Math.max(1, clients.length),
    joinMs: joinStats(
      newcomers.flatMap((c) => (c.sink ? [c.sink] : [])),
      newcomers.length,
      failed,
    ),
    sinksWithoutMedia: sinks.filter((s) => s.packets === 0).length,
    srtpProfile: clients.find((c) => c.sink)?.srtpProfile ?? null,
  };
}

/** One progress line per step. */
export function stepLine(server: string, label: string, r: StepResult): string {
  return `${server} ${label}=${r.n}: ${Math.round(r.forwardedPps)} pkt/s, loss ${r.lossPct.toFixed(2)}%, ${r.serverUsPerPacket.toFixed(1)} us/pkt, p99 ${r.latencyMs.p99.toFixed(1)} ms`;
}

/**
 * Why a sweep should stop after `r`, or undefined to go on. `maxP99Ms`
 * (default none) also stops a step whose p99 latency says packets queue up
 * (a server falling behind with deep socket buffers, before any loss).
 */
export function stopReason(
  r: Pick<StepResult, 'n' | 'lossPct' | 'deficitPct' | 'latencyMs'>,
  maxLoss: number,
  clientsAdded: number,
  joinFailures: number,
  maxP99Ms = Infinity,
): string | undefined {
  const maxDeficit = Math.max(2, maxLoss);
  if (r.lossPct > maxLoss || r.deficitPct > maxDeficit) {
    return `stopped at ${r.n}: loss ${r.lossPct.toFixed(2)}%, deficit ${r.deficitPct.toFixed(1)}% (limit ${maxLoss}% loss, ${maxDeficit}% deficit)`;
  }
  if (r.latencyMs.p99 > maxP99Ms) return `stopped at ${r.n}: p99 latency ${r.latencyMs.p99.toFixed(0)} ms (limit ${maxP99Ms} ms)`;
  if (joinFailures > Math.max(1, clientsAdded / 10)) return `stopped at ${r.n}: ${joinFailures} of ${clientsAdded} joins failed or got no video`;
  return undefined;
}

export interface StepInput {
  /** 'N' or 'M', for progress lines. */
  label: string;
  /** What went wrong while joining this step (a note), if anything. */
  trouble: string | undefined;
  /** Every receiving client in the room now, and those that joined in this step. */
  clients: readonly BenchClient[];
  /** Every publisher whose packets the clients should get. */
  sources: readonly MediaSource[];
  newcomers: readonly BenchClient[];
  /** Joins that failed in this step, and clients of this step without the video they should have. */
  failedJoins: number;
  noVideo: number;
  /** How many sinks should get each published packet. */
  copies: number;
  latency: Histogram;
  rssBase: number;
}

/**
 * The common tail of a step: note join trouble, settle (warmup), wait for a
 * quiet machine, measure the window, add the result to `run`, log it. True
 * when the sweep stops here (the reason is in the notes).
 */
export async function measureStep(server: RunningServer, o: ScenarioOptions, s: StepInput, run: ScenarioRun): Promise<boolean> {
  if (s.trouble) {
    run.notes.push(s.trouble);
    o.log(s.trouble);
  }
  await sleep(o.warmup * 1000);
  const n = s.clients.length;
  const sinks = s.clients.flatMap((c) => (c.sink ? [c.sink] : []));
  // The machine may be shared: a window during which other processes were busy is measured
  // again (up to `retries` times, within the budget), and the least disturbed one is kept.
  let w: WindowResult | undefined;
  let windows = 0;
  for (;;) {
    const other = await waitQuiet(o.waitQuiet, [server.pid, ...(server.extraPids ?? []), process.pid]);
    if (other >= DISTURBED_OTHER_CPU_PCT) o.log(`${server.name} ${s.label}=${n}: other processes use ${other.toFixed(0)}% of a core; measuring anyway`);
    const x = await measureWindow(server, sinks, s.sources, s.copies, o.seconds, s.latency);
    windows++;
    if (!w || x.otherCpuPct < w.otherCpuPct) w = x;
    if (w.otherCpuPct <= DISTURBED_OTHER_CPU_PCT || windows > o.retries) break;
    if (performance.now() + o.seconds * 1000 > o.deadline) break;
    o.log(`${server.name} ${s.label}=${n}: other processes used ${x.otherCpuPct.toFixed(0)}% of a core during the window; measuring again`);
  }
  const r = { ...finishStep(server, w, s.clients, s.newcomers, s.failedJoins, s.rssBase), windows };
  o.log(stepLine(server.name, s.label, r));
  run.steps.push(r);
  const stop = stopReason(r, o.maxLoss, s.newcomers.length + s.failedJoins, s.failedJoins + s.noVideo);
  if (stop) run.notes.push(stop);
  return stop !== undefined;
}
