/**
 * Scenario (a), fan-out: one publisher (Opus audio + VP8-shaped video) to N
 * subscribers, N swept upward, against the built daemon running in its own
 * process so its CPU (all threads, from /proc) is measured apart from the load
 * generator's. One daemon and one room for the whole sweep: each step adds
 * subscribers, waits until every one receives video, lets things settle, then
 * measures a window. The sweep stops when loss exceeds --max-loss percent.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/fanout.js --n 10,25 --seconds 5
 *
 * Options: --n 10,25,50,100,200  --seconds 10  --video-kbps 1000  --fps 30
 *          --warmup 2  --join-concurrency 10  --max-loss 1  --keyframe-interval 2
 *          --recv-buf BYTES (subscriber SO_RCVBUF)  --cpu-prof DIR (profile the daemon)
 *          --no-pub-pc (subscribers leave their publisher PeerConnection unconnected)
 *          --wait-quiet 60 (before each window, wait up to this long for other processes to go quiet)
 *          --decrypt-every K (only every K-th subscriber decrypts and measures latency; the rest
 *            count RTP sequence numbers: a cheaper load generator, to push sfud further)
 *          --out FILE (default bench/results/fanout-<date>.json)  --no-json
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpus, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { generateCertificate, type DtlsCertificate } from '../src/dtls/certificate.js';
import { Publisher, Subscriber } from './loadgen/client.js';
import { Histogram } from './loadgen/histogram.js';
import { cpuSeconds, hostBusySeconds, rssBytes, udpDropsByPort, udpSockets } from './loadgen/proc.js';

// ---- options ----

interface Options {
  n: number[];
  seconds: number;
  videoKbps: number;
  fps: number;
  warmup: number;
  joinConcurrency: number;
  maxLoss: number;
  keyframeInterval: number;
  recvBuf: number;
  pubPc: boolean;
  cpuProf: string | undefined;
  waitQuiet: number;
  decryptEvery: number;
  out: string | undefined;
  json: boolean;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function parseArgs(argv: string[]): Options {
  const o: Options = {
    n: [10, 25, 50, 100, 200],
    seconds: 10,
    videoKbps: 1000,
    fps: 30,
    warmup: 2,
    joinConcurrency: 10,
    maxLoss: 1,
    keyframeInterval: 2,
    recvBuf: 0,
    pubPc: true,
    cpuProf: undefined,
    waitQuiet: 60,
    decryptEvery: 1,
    out: undefined,
    json: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    const num = (): number => {
      const x = Number(v());
      if (!Number.isFinite(x) || x < 0) throw new Error(`${a} needs a non-negative number`);
      return x;
    };
    switch (a) {
      case '--n':
        o.n = v()
          .split(',')
          .map((s) => Number(s.trim()))
          .filter((x) => Number.isInteger(x) && x > 0);
        if (o.n.length === 0) throw new Error('--n needs a list of positive integers');
        o.n.sort((x, y) => x - y);
        break;
      case '--seconds':
        o.seconds = num();
        break;
      case '--video-kbps':
        o.videoKbps = num();
        break;
      case '--fps':
        o.fps = num();
        break;
      case '--warmup':
        o.warmup = num();
        break;
      case '--join-concurrency':
        o.joinConcurrency = Math.max(1, Math.floor(num()));
        break;
      case '--max-loss':
        o.maxLoss = num();
        break;
      case '--keyframe-interval':
        o.keyframeInterval = num();
        break;
      case '--recv-buf':
        o.recvBuf = Math.floor(num());
        break;
      case '--cpu-prof':
        o.cpuProf = resolve(v());
        break;
      case '--wait-quiet':
        o.waitQuiet = num();
        break;
      case '--decrypt-every':
        o.decryptEvery = Math.max(1, Math.floor(num()));
        break;
      case '--out':
        o.out = resolve(v());
        break;
      case '--no-pub-pc':
        o.pubPc = false;
        break;
      case '--no-json':
        o.json = false;
        break;
      case '--help':
        process.stdout.write(
          'node dist/bench/fanout.js [--n 10,25,50,100,200] [--seconds 10] [--video-kbps 1000] [--fps 30] [--warmup 2]\n' +
            '  [--join-concurrency 10] [--max-loss 1] [--keyframe-interval 2] [--recv-buf BYTES] [--no-pub-pc] [--cpu-prof DIR] [--wait-quiet S] [--decrypt-every K] [--out FILE] [--no-json]\n',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  return o;
}

// ---- the daemon ----

async function freeTcpPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  const port = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

interface Daemon {
  child: ChildProcess;
  pid: number;
  httpPort: number;
  udpPort: number;
  log: string[];
}

async function startDaemon(cpuProf: string | undefined): Promise<Daemon> {
  const httpPort = await freeTcpPort();
  const udpPort = await freeUdpPort();
  const nodeArgs = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, join(ROOT, 'dist/bin/sfud.js'), '--listen', `127.0.0.1:${httpPort}`, '--udp-port', String(udpPort), '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  const keep = (d: Buffer): void => {
    for (const line of d.toString().split('\n')) if (line && log.length < 200) log.push(line);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  if (child.pid === undefined) throw new Error('could not start sfud');
  const d: Daemon = { child, pid: child.pid, httpPort, udpPort, log };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sfud exited with ${child.exitCode}:\n${log.join('\n')}`);
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
      if (res.ok) return d;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`sfud did not answer /health within 15 s:\n${log.join('\n')}`);
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  const exited = new Promise<void>((res) => d.child.once('exit', () => res()));
  d.child.kill('SIGTERM');
  const t = setTimeout(() => d.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

// ---- measurement ----

function pct(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

interface Snapshot {
  wallMs: number;
  sfudCpu: number;
  genCpu: number;
  hostCpu: number;
  expected: number;
  received: number;
  bytes: number;
  published: number;
  drops: Map<number, number>;
}

function snapshot(d: Daemon, subs: readonly Subscriber[], pub: Publisher): Snapshot {
  let expected = 0;
  let received = 0;
  let bytes = 0;
  for (const s of subs) {
    const c = s.counters();
    expected += c.expected;
    received += c.received;
    bytes += s.bytes;
  }
  return {
    wallMs: performance.now(),
    sfudCpu: cpuSeconds(d.pid),
    genCpu: cpuSeconds(process.pid),
    hostCpu: hostBusySeconds(),
    expected,
    received,
    bytes,
    published: pub.stats.audioPackets + pub.stats.videoPackets,
    drops: udpDropsByPort(),
  };
}

function dropsDelta(a: Map<number, number>, b: Map<number, number>, ports: (p: number) => boolean): number {
  let n = 0;
  for (const [port, v] of b) if (ports(port)) n += v - (a.get(port) ?? 0);
  return n;
}

export interface StepResult {
  n: number;
  seconds: number;
  publishedPps: number;
  forwardedPps: number;
  forwardedMbps: number;
  lossPct: number;
  /**
   * 1 - forwarded / (published x N) over the window: packets that did not
   * arrive in time, lost or still queued. Catches a server that falls behind
   * with big socket buffers and so loses nothing while latency grows.
   */
  deficitPct: number;
  sfudCpuPct: number;
  sfudUsPerPacket: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  sfudRssMB: number;
  rssPerSubscriberKB: number;
  joinMs: {
    firstPacketP50: number;
    firstPacketP99: number;
    firstVideoP50: number;
    firstVideoP99: number;
    /** To the first key frame start (decodable video), decrypting subscribers only. */
    firstKeyframeP50: number;
    firstKeyframeP99: number;
    joined: number;
    failed: number;
  };
  loadgenCpuPct: number;
  /** Host CPU busy outside sfud and the load generator (other processes, interrupts), in % of one core. */
  otherCpuPct: number;
  udpDrops: { sfud: number; loadgen: number };
  subscribersWithoutMedia: number;
  /** The load generator's own event-loop delay during the window (a late reader inflates latency). */
  loadgenEventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Receive-queue depth sampled every 250 ms: where packets wait (sfud's socket or the subscribers'). */
  udpRxQueueKB: { sfudMean: number; sfudMax: number; loadgenMean: number; loadgenMax: number };
}

function row(r: StepResult): string {
  const f = (x: number, d = 1): string => x.toFixed(d);
  return (
    `| ${r.n} | ${Math.round(r.forwardedPps)} | ${f(r.forwardedMbps)} | ${f(r.lossPct, 2)} / ${f(r.deficitPct, 1)} | ${f(r.sfudCpuPct)} | ${f(r.sfudUsPerPacket, 2)} | ` +
    `${f(r.latencyMs.p50, 2)} / ${f(r.latencyMs.p99, 2)} / ${f(r.latencyMs.max, 1)} | ${f(r.sfudRssMB)} | ${f(r.rssPerSubscriberKB)} | ` +
    `${Math.round(r.joinMs.firstPacketP50)} / ${Math.round(r.joinMs.firstPacketP99)} | ${Math.round(r.joinMs.firstVideoP50)} / ${Math.round(r.joinMs.firstVideoP99)} | ` +
    `${Math.round(r.joinMs.firstKeyframeP50)} / ${Math.round(r.joinMs.firstKeyframeP99)} | ` +
    `${f(r.loadgenCpuPct)} | ${f(r.otherCpuPct)} | ${f(r.loadgenEventLoopDelayMs.p99)} | ${Math.round(r.udpRxQueueKB.sfudMean)} / ${Math.round(r.udpRxQueueKB.loadgenMean)} | ${r.udpDrops.sfud} / ${r.udpDrops.loadgen} |`
  );
}

const HEADER =
  '| N | fwd pkt/s | fwd Mbit/s | loss / deficit % | sfud CPU % | sfud µs/fwd pkt | latency p50 / p99 / max ms | sfud RSS MB | RSS/sub KB | join→1st pkt p50 / p99 ms | join→1st video p50 / p99 ms | join→1st keyframe p50 / p99 ms | loadgen CPU % | other CPU % | loadgen loop delay p99 ms | rx queue KB sfud / loadgen | UDP drops sfud / loadgen |\n' +
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';

/**
 * The machine is shared: before a window, wait (up to `maxS`) until other
 * processes use less than a quarter of a core over one second. Returns that
 * last measurement (% of one core).
 */
async function waitQuiet(maxS: number, d: Daemon): Promise<number> {
  const deadline = performance.now() + maxS * 1000;
  for (;;) {
    const h0 = hostBusySeconds();
    const own0 = cpuSeconds(d.pid) + cpuSeconds(process.pid);
    await sleep(1000);
    const other = 100 * (hostBusySeconds() - h0 - (cpuSeconds(d.pid) + cpuSeconds(process.pid) - own0));
    if (other < 25 || performance.now() >= deadline) return other;
  }
}

// ---- the run ----

async function joinSubscribers(
  count: number,
  startIndex: number,
  o: Options,
  url: string,
  cert: DtlsCertificate,
  latency: Histogram,
): Promise<{ joined: Subscriber[]; failed: number; errors: string[] }> {
  const joined: Subscriber[] = [];
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = startIndex + next++;
      try {
        const s = await Subscriber.join({ url, sid: 'fanout', uid: `sub-${i}`, cert, latency, recvBufferBytes: o.recvBuf, timeoutMs: 30_000, connectPublisherPc: o.pubPc, decrypt: i % o.decryptEvery === 0 });
        joined.push(s);
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.joinConcurrency, count) }, worker));
  return { joined, failed, errors };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const d = await startDaemon(o.cpuProf);
  const url = `ws://127.0.0.1:${d.httpPort}/ws`;
  const subs: Subscriber[] = [];
  let pub: Publisher | undefined;
  const results: StepResult[] = [];
  const notes: string[] = [];
  const started = new Date();
  try {
    process.stderr.write(`sfud pid ${d.pid} on 127.0.0.1:${d.httpPort} (udp ${d.udpPort}); ${cpus().length} CPUs, ${cpus()[0]?.model ?? '?'}\n`);
    const cert = await generateCertificate();
    const latency = new Histogram();
    pub = await Publisher.join({ url, sid: 'fanout', uid: 'publisher', cert, videoKbps: o.videoKbps, fps: o.fps, keyframeIntervalS: o.keyframeInterval });
    pub.start();
    await sleep(1000);
    const rssBase = rssBytes(d.pid);
    let failedTotal = 0;

    for (const n of o.n) {
      const add = n - subs.length;
      if (add <= 0) continue;
      process.stderr.write(`N=${n}: joining ${add} subscribers...\n`);
      const j = await joinSubscribers(add, subs.length, o, url, cert, latency);
      subs.push(...j.joined);
      failedTotal += j.failed;
      const newcomers = j.joined;
      const settled = await Promise.allSettled(newcomers.map((s) => s.ready));
      const noMedia = settled.filter((x) => x.status === 'rejected').length;
      if (j.failed > 0 || noMedia > 0) {
        const why = [...j.errors, ...newcomers.filter((s) => s.error).slice(0, 3).map((s) => s.error!.message)];
        notes.push(`N=${n}: ${j.failed} joins failed, ${noMedia} subscribers got no video (${why.join('; ')})`);
        process.stderr.write(`${notes[notes.length - 1]}\n`);
      }
      const joinTimes = newcomers.filter((s) => s.times.firstVideo > 0);
      // Measured after the window, so a key frame that came late still counts.
      let keyTimes: Subscriber[] = [];
      await sleep(o.warmup * 1000);
      const otherBefore = await waitQuiet(o.waitQuiet, d);
      if (otherBefore >= 25) process.stderr.write(`N=${n}: other processes still use ${otherBefore.toFixed(0)}% of a core; measuring anyway\n`);

      latency.reset();
      const subPorts = new Set(subs.map((s) => s.port));
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const queues = { sfudMax: 0, sfudSum: 0, genMax: 0, genSum: 0, samples: 0 };
      const a = snapshot(d, subs, pub);
      const end = performance.now() + o.seconds * 1000;
      while (performance.now() < end) {
        await sleep(Math.min(250, Math.max(1, end - performance.now())));
        // Receive-queue depth says which side is behind: sfud's socket, or the subscribers'.
        let sfudQ = 0;
        let genQ = 0;
        for (const [port, st] of udpSockets()) {
          if (port === d.udpPort) sfudQ += st.rxQueue;
          else if (subPorts.has(port)) genQ += st.rxQueue;
        }
        queues.sfudMax = Math.max(queues.sfudMax, sfudQ);
        queues.genMax = Math.max(queues.genMax, genQ);
        queues.sfudSum += sfudQ;
        queues.genSum += genQ;
        queues.samples++;
      }
      const b = snapshot(d, subs, pub);
      loop.disable();
      keyTimes = newcomers.filter((s) => s.times.firstKeyframe > 0);
      const lat = latency.summary();
      const wall = (b.wallMs - a.wallMs) / 1000;
      const forwarded = b.received - a.received;
      const expected = b.expected - a.expected;
      const lost = Math.max(0, expected - forwarded);
      const r: StepResult = {
        n: subs.length,
        seconds: wall,
        publishedPps: (b.published - a.published) / wall,
        forwardedPps: forwarded / wall,
        forwardedMbps: ((b.bytes - a.bytes) * 8) / wall / 1e6,
        lossPct: expected > 0 ? (100 * lost) / expected : 100,
        deficitPct: Math.max(0, 100 * (1 - forwarded / Math.max(1, (b.published - a.published) * subs.length))),
        sfudCpuPct: (100 * (b.sfudCpu - a.sfudCpu)) / wall,
        sfudUsPerPacket: forwarded > 0 ? ((b.sfudCpu - a.sfudCpu) * 1e6) / forwarded : 0,
        latencyMs: { p50: lat.p50 / 1000, p90: lat.p90 / 1000, p99: lat.p99 / 1000, max: lat.max / 1000, mean: lat.mean / 1000 },
        sfudRssMB: rssBytes(d.pid) / 2 ** 20,
        rssPerSubscriberKB: (rssBytes(d.pid) - rssBase) / 1024 / Math.max(1, subs.length),
        joinMs: {
          firstPacketP50: pct(joinTimes.map((s) => s.times.firstRtp - s.times.start), 0.5),
          firstPacketP99: pct(joinTimes.map((s) => s.times.firstRtp - s.times.start), 0.99),
          firstVideoP50: pct(joinTimes.map((s) => s.times.firstVideo - s.times.start), 0.5),
          firstVideoP99: pct(joinTimes.map((s) => s.times.firstVideo - s.times.start), 0.99),
          firstKeyframeP50: pct(keyTimes.map((s) => s.times.firstKeyframe - s.times.start), 0.5),
          firstKeyframeP99: pct(keyTimes.map((s) => s.times.firstKeyframe - s.times.start), 0.99),
          joined: newcomers.length,
          failed: j.failed,
        },
        loadgenCpuPct: (100 * (b.genCpu - a.genCpu)) / wall,
        otherCpuPct: (100 * (b.hostCpu - a.hostCpu - (b.genCpu - a.genCpu) - (b.sfudCpu - a.sfudCpu))) / wall,
        udpDrops: {
          sfud: dropsDelta(a.drops, b.drops, (p) => p === d.udpPort),
          loadgen: dropsDelta(a.drops, b.drops, (p) => subPorts.has(p)),
        },
        subscribersWithoutMedia: subs.filter((s) => s.packets === 0).length,
        loadgenEventLoopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
        udpRxQueueKB: {
          sfudMean: queues.sfudSum / Math.max(1, queues.samples) / 1024,
          sfudMax: queues.sfudMax / 1024,
          loadgenMean: queues.genSum / Math.max(1, queues.samples) / 1024,
          loadgenMax: queues.genMax / 1024,
        },
      };
      results.push(r);
      if (results.length === 1) process.stdout.write(`\n${HEADER}\n`);
      process.stdout.write(`${row(r)}\n`);
      if (r.lossPct > o.maxLoss || r.deficitPct > Math.max(2, o.maxLoss)) {
        notes.push(`stopped at N=${r.n}: loss ${r.lossPct.toFixed(2)}%, deficit ${r.deficitPct.toFixed(1)}% (limit ${o.maxLoss}% loss, ${Math.max(2, o.maxLoss)}% deficit)`);
        break;
      }
      if (failedTotal > 0 && noMedia + j.failed > add / 10) {
        notes.push(`stopped at N=${r.n}: too many failed joins`);
        break;
      }
    }
    const ps = pub.stats;
    notes.push(
      `publisher: ${ps.videoFrames} frames, ${ps.keyframes} keyframes, ${ps.keyframeRequests} PLI/FIR received, ${ps.nacks} NACKs, ${ps.twccFeedback} TWCC feedback, ${ps.receiverReports} RRs`,
    );
  } finally {
    for (const s of subs) s.close();
    pub?.close();
    await sleep(200);
    await stopDaemon(d);
  }
  for (const n of notes) process.stdout.write(`\n- ${n}`);
  process.stdout.write('\n');
  if (d.log.length > 0) process.stderr.write(`sfud output (first ${d.log.length} lines):\n${d.log.slice(0, 20).join('\n')}\n`);

  if (o.json && results.length > 0) {
    const out = o.out ?? join(ROOT, 'bench/results', `fanout-${started.toISOString().replace(/[:]/g, '-').replace(/\..*/, '')}.json`);
    mkdirSync(dirname(out), { recursive: true });
    const machine = { cpus: cpus().length, model: cpus()[0]?.model, memGB: totalmem() / 2 ** 30, node: process.version, platform: process.platform };
    writeFileSync(out, `${JSON.stringify({ scenario: 'fanout', started: started.toISOString(), options: o, machine, results, notes }, null, 2)}\n`);
    process.stdout.write(`wrote ${out}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fanout: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
