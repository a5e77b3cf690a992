/**
 * Churn soak: peers join and leave the built daemon continuously, and the
 * daemon must give everything back. Answers "does sfud leak peers,
 * transports, memory, handles or file descriptors under churn?".
 *
 *   npm run soak -- --minutes 10 --rate 20
 *
 * Every peer is a real client from bench/loadgen (ion-sfu JSON-RPC, ICE,
 * DTLS, SRTP on 127.0.0.1): `--rate` new peers a second, each staying
 * `--lifetime` seconds, spread over `--rooms` rooms; about half publish a
 * little audio and video, the others subscribe (both their connections up).
 * A short warm-up churn comes first, then a baseline, then `--minutes` of
 * churn, then a settle period. The daemon runs with the inspector on
 * 127.0.0.1 so each sample forces a full GC first (heap numbers are then
 * what is retained, not where the GC sawtooth was). Reported at the start,
 * every minute and at the end: RSS, heap used (after GC), external memory,
 * active handles, open fds (/proc/PID/fd) and the rooms/peers/transports/
 * consumers gauges, from /metrics. Pass/fail: bench/soak-judge.ts; exit 1
 * on a failure.
 *
 * Options: --minutes 10 --rate 20 --lifetime 3 --rooms 10 --publish-share 0.5
 *          --video-kbps 64 --fps 10 --warmup 10 --settle 60 --sample 10 --join-timeout 10
 *          --max-growth-mb 8 --max-slope 1 --max-handle-growth 5 --max-fd-growth 5
 *          --max-join-failures 0.1 --json FILE --heap-snapshot FILE (the daemon's heap after settling)
 *          --heap-snapshot-during FILE (halfway through the churn) --cpu-prof DIR (a CPU profile of the daemon)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { generateCertificate, type DtlsCertificate } from '../src/dtls/certificate.js';
import { Publisher, Subscriber } from './loadgen/roles.js';
import { Histogram } from './loadgen/histogram.js';
import { cpuSeconds } from './loadgen/proc.js';
import { DEFAULT_LIMITS, judgeSoak, retainedMB, type SoakGauges, type SoakLimits, type SoakSample, type SoakVerdict } from './soak-judge.js';
import { ROOT } from './support/root.js';

export interface SoakOptions {
  minutes: number;
  /** New peers per second. */
  rate: number;
  /** Seconds each peer stays. */
  lifetime: number;
  rooms: number;
  /** Share of peers that publish (the rest subscribe). */
  publishShare: number;
  videoKbps: number;
  fps: number;
  /** Seconds of warm-up churn before the baseline. */
  warmup: number;
  /** Longest wait after the churn for the gauges to reach 0. */
  settle: number;
  /** Seconds between samples. */
  sample: number;
  /** A join (signalling, ICE, DTLS) not done within this is abandoned and counted as failed. */
  joinTimeout: number;
  limits: SoakLimits;
  json: string | undefined;
  /** Writes the daemon's heap here after settling (to see what a failing run kept). */
  heapSnapshot: string | undefined;
  /** Writes a V8 CPU profile of the daemon into this directory (where does churn cost go?). */
  cpuProf: string | undefined;
  /** Writes the daemon's heap here halfway through the churn (what does a live peer cost?). */
  heapSnapshotDuring: string | undefined;
}

export const DEFAULT_OPTIONS: SoakOptions = {
  minutes: 10,
  rate: 20,
  lifetime: 3,
  rooms: 10,
  publishShare: 0.5,
  videoKbps: 64,
  fps: 10,
  warmup: 10,
  settle: 60,
  sample: 10,
  joinTimeout: 10,
  limits: DEFAULT_LIMITS,
  json: undefined,
  heapSnapshot: undefined,
  cpuProf: undefined,
  heapSnapshotDuring: undefined,
};

/** The built daemon, wherever this runs from (dist/bench/soak.js for npm run soak, build/ for the tap test). */
const DAEMON = join(ROOT, 'dist/bin/sfud.js');

// ---- the daemon, its inspector, its metrics ----

async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'udp') {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A minimal Chrome DevTools Protocol client: enough to force a GC in the daemon and take a heap snapshot. */
class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, () => void>();
  /** Heap snapshot chunks while one is being taken. */
  private chunks: string[] | undefined;
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const msg = JSON.parse(String(d)) as { id?: number; method?: string; params?: { chunk?: string } };
      if (msg.method === 'HeapProfiler.addHeapSnapshotChunk' && this.chunks) this.chunks.push(msg.params?.chunk ?? '');
      if (msg.id !== undefined) this.pending.get(msg.id)?.();
    });
  }

  /** The daemon's heap as a .heapsnapshot text (open it in Chrome DevTools, Memory tab). */
  async heapSnapshot(): Promise<string> {
    this.chunks = [];
    await this.call('HeapProfiler.takeHeapSnapshot', 120_000);
    const text = this.chunks.join('');
    this.chunks = undefined;
    return text;
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    return new Inspector(ws);
  }

  call(method: string, timeoutMs = 10_000): Promise<void> {
    const id = this.nextId++;
    return new Promise((res, rej) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        rej(new Error(`inspector: no reply to ${method}`));
      }, timeoutMs);
      this.pending.set(id, () => {
        clearTimeout(t);
        this.pending.delete(id);
        res();
      });
      this.ws.send(JSON.stringify({ id, method }));
    });
  }

  /** Detaches; resolves once the socket is closed (node waits for an attached debugger at exit). */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((r) => this.ws.once('close', () => r()));
    this.ws.close();
    await Promise.race([closed, sleep(2000)]);
  }
}

interface Daemon {
  child: ChildProcess;
  /** Resolves with how the process ended (set up at spawn, so no exit is missed). */
  exited: Promise<string>;
  pid: number;
  url: string;
  inspector: Inspector;
  /** Warn-or-worse log lines, and the last few of them. */
  warnings: { count: number; last: string[] };
}

async function startDaemon(cpuProf: string | undefined): Promise<Daemon> {
  const httpPort = await freePort('tcp');
  const udpPort = await freePort('udp');
  const prof = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [];
  const child = spawn(
    process.execPath,
    [...prof, '--inspect=127.0.0.1:0', DAEMON, '--listen', `127.0.0.1:${httpPort}`, '--udp-port', String(udpPort), '--log-level', 'warn', '--log-format', 'json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (child.pid === undefined) throw new Error('could not start sfud');
  const exited = new Promise<string>((r) => child.once('exit', (code, signal) => r(code === null ? `signal ${signal}` : `code ${code}`)));
  const warnings = { count: 0, last: [] as string[] };
  child.stdout!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (!line) continue;
      warnings.count++;
      warnings.last.push(line);
      if (warnings.last.length > 5) warnings.last.shift();
    }
  });
  let stderr = '';
  const inspectorUrl = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no inspector URL from sfud within 15 s: ${stderr}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(stderr);
      if (m) {
        clearTimeout(t);
        res(m[0]);
      }
    });
    child.once('exit', (code) => rej(new Error(`sfud exited with ${code}: ${stderr}`)));
  });
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sfud did not answer /health within 15 s: ${stderr}`);
    }
    await sleep(50);
  }
  return { child, exited, pid: child.pid, url, inspector: await Inspector.connect(inspectorUrl), warnings };
}

/** SIGTERM, then SIGKILL after 10 s; returns how it ended (`code 0` when sfud stopped cleanly). */
async function stopDaemon(d: Daemon): Promise<string> {
  // With a debugger attached, node waits for it at exit: let go first.
  await d.inspector.close();
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
  const t = setTimeout(() => d.child.kill('SIGKILL'), 10_000);
  const how = await d.exited;
  clearTimeout(t);
  return how;
}

/** Value of one series in Prometheus text (summed over label sets when `labels` is omitted). */
function metric(text: string, name: string): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? sum : NaN;
}

interface Sample extends SoakSample {
  cpuSeconds: number;
}

async function sample(d: Daemon, t: number): Promise<Sample> {
  await d.inspector.call('HeapProfiler.collectGarbage');
  const text = await (await fetch(`${d.url}/metrics`)).text();
  const gauges: SoakGauges = {
    rooms: metric(text, 'sfud_rooms'),
    peers: metric(text, 'sfud_peers'),
    transports: metric(text, 'sfud_transports'),
    producers: metric(text, 'sfud_producers'),
    consumers: metric(text, 'sfud_consumers'),
    wsConnections: metric(text, 'sfud_ws_connections'),
  };
  return {
    t,
    heapUsed: metric(text, 'sfud_nodejs_heap_size_used_bytes'),
    external: metric(text, 'sfud_nodejs_external_memory_bytes'),
    rss: metric(text, 'sfud_process_resident_memory_bytes'),
    handles: metric(text, 'sfud_nodejs_active_handles_total'),
    fds: readdirSync(`/proc/${d.pid}/fd`).length,
    gauges,
    cpuSeconds: cpuSeconds(d.pid),
  };
}

// ---- the churn ----

interface ChurnStats {
  attempted: number;
  failed: number;
  /** Launches skipped because too many peers were still joining (the load generator fell behind). */
  skipped: number;
  active: number;
  publishers: number;
  subscribers: number;
  /** Subscribers that received at least one RTP packet before leaving. */
  subscribersWithMedia: number;
  joinMs: Histogram;
  errors: Map<string, number>;
}

function newChurnStats(): ChurnStats {
  return { attempted: 0, failed: 0, skipped: 0, active: 0, publishers: 0, subscribers: 0, subscribersWithMedia: 0, joinMs: new Histogram(), errors: new Map() };
}

class Churn {
  private next = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly latency = new Histogram();

  constructor(
    private readonly o: SoakOptions,
    private readonly wsUrl: string,
    private readonly cert: DtlsCertificate,
  ) {}

  /** Starts peers at `rate` per second for `seconds`; resolves once every peer has left. */
  async run(seconds: number, stats: ChurnStats): Promise<void> {
    const gapMs = 1000 / this.o.rate;
    const total = Math.round(seconds * this.o.rate);
    const start = performance.now();
    // A ceiling on peers alive at once, so a stalled load generator cannot snowball.
    const maxActive = Math.max(10, Math.ceil(this.o.rate * (this.o.lifetime + this.o.joinTimeout)));
    for (let i = 0; i < total; i++) {
      const wait = start + i * gapMs - performance.now();
      if (wait > 0) await sleep(wait);
      if (this.running.size >= maxActive) {
        stats.skipped++;
        continue;
      }
      const p = this.peer(this.next++, stats).finally(() => this.running.delete(p));
      this.running.add(p);
    }
    await Promise.all([...this.running]);
  }

  /**
   * A join that is not done within --join-timeout is abandoned (and the client
   * closed whenever it does finish): peers stuck joining must not pile up on a
   * busy machine and turn slowness into collapse.
   */
  private within<T extends { close(): void }>(join: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`join not done within ${this.o.joinTimeout} s`)), this.o.joinTimeout * 1000);
    });
    return Promise.race([join, timeout]).then(
      (client) => {
        clearTimeout(timer);
        return client;
      },
      (err: unknown) => {
        clearTimeout(timer);
        join.then((late) => late.close(), () => {});
        throw err;
      },
    );
  }

  private async peer(i: number, s: ChurnStats): Promise<void> {
    const o = this.o;
    // Deterministic mix: with share 0.5 every other peer publishes, and each pair shares a room.
    const publishes = Math.floor((i + 1) * o.publishShare) > Math.floor(i * o.publishShare);
    const sid = `soak-${Math.floor(i / 2) % o.rooms}`;
    const uid = `peer-${i}`;
    const started = performance.now();
    s.attempted++;
    s.active++;
    let pub: Publisher | undefined;
    let sub: Subscriber | undefined;
    try {
      if (publishes) {
        pub = await this.within(
          Publisher.join({ url: this.wsUrl, sid, uid, cert: this.cert, videoKbps: o.videoKbps, fps: o.fps, keyframeIntervalS: 1, audioBytes: 40 }),
        );
        pub.start();
        s.publishers++;
      } else {
        sub = await this.within(
          Subscriber.join({ url: this.wsUrl, sid, uid, cert: this.cert, latency: this.latency, connectPublisherPc: true, decrypt: false, timeoutMs: (o.lifetime + 30) * 1000 }),
        );
        s.subscribers++;
      }
      s.joinMs.record(performance.now() - started);
      const left = o.lifetime * 1000 - (performance.now() - started);
      if (left > 0) await sleep(left);
      if (sub && sub.packets > 0) s.subscribersWithMedia++;
    } catch (err) {
      s.failed++;
      const key = (err as Error).message.replace(/\d+/g, 'N').slice(0, 80);
      s.errors.set(key, (s.errors.get(key) ?? 0) + 1);
    } finally {
      pub?.close();
      sub?.close();
      s.active--;
    }
  }
}

// ---- reporting ----

export interface SoakResult {
  options: SoakOptions;
  baseline: SoakSample;
  samples: SoakSample[];
  settled: SoakSample;
  settleSeconds: number;
  churn: Omit<ChurnStats, 'joinMs' | 'errors'> & { joinMsP50: number; joinMsP99: number; errors: Record<string, number> };
  daemonCpuPercent: number;
  daemonWarnings: number;
  /** How the daemon ended on SIGTERM: `code 0` is a clean stop. */
  daemonExit: string;
  verdict: SoakVerdict;
}

const mb = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

function line(label: string, s: SoakSample, c: ChurnStats | undefined): string {
  const g = s.gauges;
  const churn = c ? ` | joined ${c.attempted - c.failed}/${c.attempted} (failed ${c.failed}, skipped ${c.skipped}), join p50 ${c.joinMs.quantile(0.5)} ms, alive ${c.active}` : '';
  return (
    `${label.padEnd(9)} RSS ${mb(s.rss)} MB, heap ${mb(s.heapUsed)} MB, external ${mb(s.external)} MB, handles ${s.handles}, fds ${s.fds} | ` +
    `rooms ${g.rooms}, peers ${g.peers}, transports ${g.transports}, producers ${g.producers}, consumers ${g.consumers}, ws ${g.wsConnections}${churn}`
  );
}

/** Runs the whole soak against a freshly started daemon. `log` gets the report lines. */
export async function runSoak(o: SoakOptions, log: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<SoakResult> {
  const d = await startDaemon(o.cpuProf);
  let exit: string | undefined;
  try {
    const wsUrl = `${d.url.replace('http', 'ws')}/ws`;
    const cert = await generateCertificate();
    const churn = new Churn(o, wsUrl, cert);
    log(`sfud pid ${d.pid} at ${d.url}: ${o.rate} peers/s for ${o.minutes} min, ${o.lifetime} s each, ${o.rooms} rooms, ${Math.round(o.publishShare * 100)}% publishing`);

    // Warm-up: JIT, lazy pools and metric series are paid for before the baseline.
    const warm = newChurnStats();
    if (o.warmup > 0) await churn.run(o.warmup, warm);
    await waitIdle(d, o.settle);
    const baseline = await sample(d, -1);
    log(line('baseline', baseline, undefined));

    const stats = newChurnStats();
    const seconds = o.minutes * 60;
    const samples: Sample[] = [];
    const churnStart = performance.now();
    const done = churn.run(seconds, stats);
    let finished = false;
    void done.then(() => (finished = true));
    let nextReport = 60;
    while (!finished) {
      await Promise.race([sleep(o.sample * 1000), done]);
      if (finished) break;
      const t = (performance.now() - churnStart) / 1000;
      const s = await sample(d, t);
      samples.push(s);
      if (o.heapSnapshotDuring && t >= seconds / 2) {
        writeFileSync(o.heapSnapshotDuring, await d.inspector.heapSnapshot());
        log(`heap snapshot halfway through the churn: ${o.heapSnapshotDuring}`);
        o.heapSnapshotDuring = undefined;
      }
      if (t >= nextReport) {
        log(line(`${Math.floor(t / 60)} min`, s, stats));
        nextReport += 60;
      }
    }
    await done;
    const settleStart = performance.now();
    await waitIdle(d, o.settle);
    const settleSeconds = (performance.now() - settleStart) / 1000;
    // A little longer: whatever closes asynchronously (sockets, timers) gets its turn.
    await sleep(2000);
    const settled = await sample(d, (performance.now() - churnStart) / 1000);
    log(line('settled', settled, stats));
    const during = samples.filter((s) => s.t <= seconds);
    const verdict = judgeSoak(baseline, during, settled, seconds, { attempted: stats.attempted, failed: stats.failed }, o.limits);
    const cpu = samples.length > 1 ? (100 * (samples[samples.length - 1]!.cpuSeconds - samples[0]!.cpuSeconds)) / (samples[samples.length - 1]!.t - samples[0]!.t) : NaN;
    log(
      `retained (heap + external, after GC): baseline ${retainedMB(baseline).toFixed(1)} MB, settled ${retainedMB(settled).toFixed(1)} MB, growth ${verdict.growthMB.toFixed(1)} MB; ` +
        `slope over the second half ${Number.isNaN(verdict.slopeMBPerMin) ? 'n/a' : verdict.slopeMBPerMin.toFixed(2)} MB/min (${verdict.slopeSamples} samples); ` +
        `handles ${verdict.handleGrowth >= 0 ? '+' : ''}${verdict.handleGrowth}, fds ${verdict.fdGrowth >= 0 ? '+' : ''}${verdict.fdGrowth}; settled in ${settleSeconds.toFixed(1)} s`,
    );
    log(
      `churn: ${stats.attempted} peers (${stats.publishers} publishers, ${stats.subscribers} subscribers, ${stats.subscribersWithMedia} of them got media), ` +
        `${stats.failed} failed, ${stats.skipped} skipped; join p50 ${stats.joinMs.quantile(0.5)} ms, p99 ${stats.joinMs.quantile(0.99)} ms; ` +
        `sfud CPU ${cpu.toFixed(0)}% of a core; sfud warn+ log lines ${d.warnings.count}`,
    );
    for (const [err, n] of stats.errors) log(`  join error x${n}: ${err}`);
    log(`sfud counters: ${await counters(d)}`);
    for (const w of d.warnings.last) log(`  sfud: ${w.slice(0, 300)}`);
    if (o.heapSnapshot) {
      writeFileSync(o.heapSnapshot, await d.inspector.heapSnapshot());
      log(`heap snapshot of the settled daemon: ${o.heapSnapshot}`);
    }
    const stopping = performance.now();
    exit = await stopDaemon(d);
    log(`sfud stopped on SIGTERM in ${((performance.now() - stopping) / 1000).toFixed(1)} s: ${exit}`);
    if (exit !== 'code 0') {
      verdict.failures.push(`sfud did not stop cleanly after the churn (${exit})`);
      verdict.pass = false;
    }
    log(verdict.pass ? 'PASS' : `FAIL: ${verdict.failures.join('; ')}`);
    const { joinMs, errors, ...rest } = stats;
    return {
      options: o,
      baseline,
      samples,
      settled,
      settleSeconds,
      churn: { ...rest, joinMsP50: joinMs.quantile(0.5), joinMsP99: joinMs.quantile(0.99), errors: Object.fromEntries(errors) },
      daemonCpuPercent: cpu,
      daemonWarnings: d.warnings.count,
      daemonExit: exit,
      verdict,
    };
  } finally {
    if (exit === undefined) await stopDaemon(d);
  }
}

/** The daemon's own account of the churn: transport closes, DTLS outcomes and drops, from /metrics. */
async function counters(d: Daemon): Promise<string> {
  const text = await (await fetch(`${d.url}/metrics`)).text();
  const wanted = /^sfud_(transports_closed_total|dtls_state_changes_total|drops_total|rpc_requests_total\{transport="ws")/;
  return text
    .split('\n')
    .filter((l) => wanted.test(l) && !l.endsWith(' 0'))
    .map((l) => l.replace(/^sfud_/, ''))
    .join(', ');
}

/** Waits (up to `maxSeconds`) until the daemon reports no rooms, peers, transports or sockets. */
async function waitIdle(d: Daemon, maxSeconds: number): Promise<void> {
  const deadline = performance.now() + maxSeconds * 1000;
  while (performance.now() < deadline) {
    const text = await (await fetch(`${d.url}/metrics`)).text();
    const busy = ['sfud_rooms', 'sfud_peers', 'sfud_transports', 'sfud_consumers', 'sfud_producers', 'sfud_ws_connections'].some((n) => metric(text, n) !== 0);
    if (!busy) return;
    await sleep(500);
  }
}

// ---- command line ----

const HELP =
  'npm run soak -- [--minutes 10] [--rate 20] [--lifetime 3] [--rooms 10] [--publish-share 0.5] [--video-kbps 64] [--fps 10]\n' +
  '  [--warmup 10] [--settle 60] [--sample 10] [--join-timeout 10] [--max-growth-mb 8] [--max-slope 1] [--max-handle-growth 5] [--max-fd-growth 5]\n' +
  '  [--max-join-failures 0.1] [--json FILE] [--heap-snapshot FILE] [--heap-snapshot-during FILE] [--cpu-prof DIR]\n';

/** Numeric options: where each goes, and the smallest value that makes sense. */
const NUMERIC: Record<string, [set: (o: SoakOptions, v: number) => void, min: number]> = {
  '--minutes': [(o, v) => (o.minutes = v), 0],
  '--rate': [(o, v) => (o.rate = v), 0.1],
  '--lifetime': [(o, v) => (o.lifetime = v), 0],
  '--rooms': [(o, v) => (o.rooms = Math.floor(v)), 1],
  '--publish-share': [(o, v) => (o.publishShare = Math.min(1, v)), 0],
  '--video-kbps': [(o, v) => (o.videoKbps = v), 0],
  '--fps': [(o, v) => (o.fps = v), 1],
  '--warmup': [(o, v) => (o.warmup = v), 0],
  '--settle': [(o, v) => (o.settle = v), 0],
  '--sample': [(o, v) => (o.sample = v), 1],
  '--join-timeout': [(o, v) => (o.joinTimeout = v), 1],
  '--max-growth-mb': [(o, v) => (o.limits.maxGrowthMB = v), 0],
  '--max-slope': [(o, v) => (o.limits.maxSlopeMBPerMin = v), 0],
  '--max-handle-growth': [(o, v) => (o.limits.maxHandleGrowth = v), 0],
  '--max-fd-growth': [(o, v) => (o.limits.maxFdGrowth = v), 0],
  '--max-join-failures': [(o, v) => (o.limits.maxJoinFailureShare = v), 0],
};

export function parseSoakArgs(argv: readonly string[]): SoakOptions {
  const o: SoakOptions = { ...DEFAULT_OPTIONS, limits: { ...DEFAULT_LIMITS } };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const numeric = NUMERIC[a];
    if (numeric) {
      const [set, min] = numeric;
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < min) throw new Error(`${a} needs a number of at least ${min}`);
      set(o, v);
    } else if (a === '--json') o.json = resolve(argv[++i] ?? 'soak.json');
    else if (a === '--heap-snapshot') o.heapSnapshot = resolve(argv[++i] ?? 'sfud.heapsnapshot');
    else if (a === '--cpu-prof') o.cpuProf = resolve(argv[++i] ?? '.');
    else if (a === '--heap-snapshot-during') o.heapSnapshotDuring = resolve(argv[++i] ?? 'sfud-during.heapsnapshot');
    else if (a === '--help') {
      process.stdout.write(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

async function main(): Promise<void> {
  const o = parseSoakArgs(process.argv.slice(2));
  const result = await runSoak(o);
  if (o.json) writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
  process.exitCode = result.verdict.pass ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
