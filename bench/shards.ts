/**
 * Issue 7, shards: does a second shard carry more? The same fan-out load
 * (R rooms, each one publisher to N subscribers, N swept upward) against the
 * built daemon with --shards 1 and then --shards 2, in one invocation. A room
 * lives on one shard, so the load is split into rooms (placement puts them on
 * different shards).
 *
 * The load generator runs in its own process(es) (loadgen/child.ts, --loadgens,
 * a room's peers all in one of them), so its CPU is read from /proc next to the
 * daemon's; its sinks read loss from the clear RTP header of every packet and
 * decrypt only every K-th packet (--latency-sample) for latency, so that a
 * receiver costs less per packet than the forwarding it measures.
 *
 * A step is carried when the runner's rule (scenarios/measure.ts stopReason)
 * lets it pass: loss <= --max-loss, deficit (received vs published x N) <=
 * max(2, --max-loss)%, few failed joins, and p99 latency <= --max-p99 ms. The
 * sweep stops at the first step not carried (then measures once halfway back
 * to the last carried step, closing subscribers: --no-refine skips it); a
 * shard count's result is its highest carried forwarded rate, with the
 * daemon's and the load generator's CPU (cores) at that step. N grows by
 * --growth (1.5) while the daemon has headroom and by --fine-growth (1.2)
 * near the knee.
 *
 *   npm run bench:shards
 *   npm run bench:shards -- --rooms 2 --n-start 20 --n-max 600 --seconds 5 --loadgens 1
 *   Options: --shards 1,2  --rooms 2  --n 10,20,40 (explicit per-room steps instead of the sweep)
 *            --n-start 20  --n-max 600  --growth 1.5  --fine-growth 1.2  --seconds 5  --warmup 2
 *            --wait-quiet 3  --retries 1  --video-kbps 1000  --max-loss 1  --max-p99 200  --loadgens 1
 *            --latency-sample 32  --join-concurrency 8  --no-refine  --out-dir bench/results  --no-write
 */
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Histogram } from './loadgen/histogram.js';
import { cpuSeconds, hostBusySeconds, udpSockets } from './loadgen/proc.js';
import { LoadgenProcess, type LoadgenSample } from './loadgen/remote.js';
import { markdownTable, writeRunFiles } from './support/report.js';
import { ROOT, startSfud, type RunningServer } from './support/servers.js';
import { DISTURBED_OTHER_CPU_PCT, stopReason, waitQuiet } from './scenarios/measure.js';

export interface ShardsOptions {
  shards: number[];
  rooms: number;
  /** Explicit per-room steps; undefined: the geometric sweep. */
  n: number[] | undefined;
  nStart: number;
  nMax: number;
  growth: number;
  fineGrowth: number;
  seconds: number;
  warmup: number;
  waitQuiet: number;
  /** Measure a failing step again (up to this many times) when other processes were busy during it. */
  retries: number;
  videoKbps: number;
  maxLoss: number;
  maxP99Ms: number;
  loadgens: number;
  /** After the first step not carried, measure once halfway back to the last carried one. */
  refine: boolean;
  latencySample: number;
  joinConcurrency: number;
  joinTimeoutMs: number;
  outDir: string;
  write: boolean;
}

export function defaultShardsOptions(): ShardsOptions {
  return {
    shards: [1, 2],
    rooms: 2,
    n: undefined,
    nStart: 20,
    nMax: 600,
    growth: 1.5,
    fineGrowth: 1.2,
    seconds: 5,
    warmup: 2,
    waitQuiet: 3,
    retries: 1,
    videoKbps: 1000,
    maxLoss: 1,
    maxP99Ms: 200,
    loadgens: 1,
    refine: true,
    latencySample: 32,
    joinConcurrency: 8,
    joinTimeoutMs: 30_000,
    outDir: join(ROOT, 'bench/results'),
    write: true,
  };
}

export function parseShardsArgs(argv: readonly string[]): ShardsOptions {
  const o = defaultShardsOptions();
  const list = (a: string, s: string): number[] => {
    const v = s.split(',').map(Number);
    if (v.length === 0 || v.some((x) => !Number.isInteger(x) || x <= 0)) throw new Error(`${a} needs positive integers`);
    return v.sort((x, y) => x - y);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-write' || a === '--no-refine') {
      if (a === '--no-write') o.write = false;
      else o.refine = false;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    const num = (min: number): number => {
      const x = Number(v);
      if (!Number.isFinite(x) || x < min) throw new Error(`${a} needs a number >= ${min}`);
      return x;
    };
    if (a === '--shards') o.shards = list(a, v);
    else if (a === '--rooms') o.rooms = Math.floor(num(1));
    else if (a === '--n') o.n = list(a, v);
    else if (a === '--n-start') o.nStart = Math.floor(num(1));
    else if (a === '--n-max') o.nMax = Math.floor(num(1));
    else if (a === '--growth') o.growth = num(1.01);
    else if (a === '--fine-growth') o.fineGrowth = num(1.01);
    else if (a === '--seconds') o.seconds = num(0.5);
    else if (a === '--warmup') o.warmup = num(0);
    else if (a === '--wait-quiet') o.waitQuiet = num(0);
    else if (a === '--retries') o.retries = Math.floor(num(0));
    else if (a === '--video-kbps') o.videoKbps = num(50);
    else if (a === '--max-loss') o.maxLoss = num(0);
    else if (a === '--max-p99') o.maxP99Ms = num(1);
    else if (a === '--loadgens') o.loadgens = Math.floor(num(1));
    else if (a === '--latency-sample') o.latencySample = Math.floor(num(0));
    else if (a === '--join-concurrency') o.joinConcurrency = Math.floor(num(1));
    else if (a === '--join-timeout') o.joinTimeoutMs = num(1000);
    else if (a === '--out-dir') o.outDir = v;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

export interface ShardStep {
  /** Subscribers per room, and in all. */
  perRoom: number;
  subscribers: number;
  seconds: number;
  /** Published packets x subscribers that should get them, per second. */
  offeredPps: number;
  forwardedPps: number;
  lossPct: number;
  deficitPct: number;
  latencyMs: { p50: number; p99: number; max: number; samples: number };
  /** CPU in cores (1 = one core busy for the whole window). */
  sfudCores: number;
  loadgenCores: number;
  /** Per load-generator process. */
  loadgenCoresEach: number[];
  otherCores: number;
  loadgenEventLoopP99Ms: number;
  /** Largest receive-queue sum sampled over the window, KB. */
  rxQueueMaxKB: { sfud: number; loadgen: number };
  /** 1-minute load average at the end of the window (the machine is shared). */
  loadavg1: number;
  joinFailures: number;
  carried: boolean;
  stop: string | undefined;
  /** Measured after stepping back halfway from the first step not carried (subscribers closed). */
  refined: boolean;
}

export interface ShardRun {
  shards: number;
  steps: ShardStep[];
  /** The highest carried step, if any. */
  best: ShardStep | undefined;
  placement: string;
  notes: string[];
}

type Measured = Omit<ShardStep, 'perRoom' | 'joinFailures' | 'carried' | 'stop' | 'refined'>;

interface Totals {
  wallMs: number;
  sfudCpu: number;
  loadgenCpu: number[];
  hostCpu: number;
  expected: number;
  received: number;
  offered: number;
  subscribers: number;
  latency: Histogram;
  eventLoopP99Ms: number;
  ports: Set<number>;
}

/** Which load generator runs room r (all its peers: the deficit compares a room's publisher with its sinks). */
const ownerOf = (r: number, gens: readonly LoadgenProcess[]): LoadgenProcess => gens[r % gens.length]!;

async function totals(d: RunningServer, gens: readonly LoadgenProcess[], reset: boolean): Promise<Totals> {
  const samples: LoadgenSample[] = await Promise.all(gens.map((g) => g.call({ op: 'sample', reset })));
  const t: Totals = {
    wallMs: performance.now(),
    sfudCpu: cpuSeconds(d.pid),
    loadgenCpu: gens.map((g) => g.cpuSeconds()),
    hostCpu: hostBusySeconds(),
    expected: 0,
    received: 0,
    offered: 0,
    subscribers: 0,
    latency: new Histogram(),
    eventLoopP99Ms: 0,
    ports: new Set(),
  };
  for (const s of samples) {
    for (const r of s.rooms) {
      t.expected += r.expected;
      t.received += r.received;
      t.offered += r.published * r.subscribers;
      t.subscribers += r.subscribers;
    }
    t.latency.merge(s.latency);
    t.eventLoopP99Ms = Math.max(t.eventLoopP99Ms, s.eventLoopP99Ms);
    for (const p of s.ports) t.ports.add(p);
  }
  return t;
}

/** The next per-room N: coarse while the daemon has headroom and latency is low, fine near the knee. */
export function nextN(n: number, last: ShardStep | undefined, shards: number, o: ShardsOptions): number {
  const easy = last !== undefined && last.sfudCores < 0.6 * shards && last.latencyMs.p99 < o.maxP99Ms / 4;
  return Math.max(n + 1, Math.round(n * (easy ? o.growth : o.fineGrowth)));
}

async function measure(d: RunningServer, gens: readonly LoadgenProcess[], shardPorts: Set<number>, o: ShardsOptions): Promise<Measured> {
  const a = await totals(d, gens, true);
  const end = performance.now() + o.seconds * 1000;
  const q = { sfud: 0, loadgen: 0 };
  while (performance.now() < end) {
    await sleep(Math.min(250, Math.max(1, end - performance.now())));
    let s = 0;
    let l = 0;
    for (const [port, st] of udpSockets()) {
      if (shardPorts.has(port)) s += st.rxQueue;
      else if (a.ports.has(port)) l += st.rxQueue;
    }
    q.sfud = Math.max(q.sfud, s);
    q.loadgen = Math.max(q.loadgen, l);
  }
  const b = await totals(d, gens, false);
  const wall = (b.wallMs - a.wallMs) / 1000;
  const received = b.received - a.received;
  const expected = b.expected - a.expected;
  const offered = b.offered - a.offered;
  const loadgenEach = b.loadgenCpu.map((c, i) => (c - a.loadgenCpu[i]!) / wall);
  const sfudCores = (b.sfudCpu - a.sfudCpu) / wall;
  const loadgenCores = loadgenEach.reduce((x, y) => x + y, 0);
  const lat = b.latency.summary();
  return {
    subscribers: b.subscribers,
    seconds: wall,
    offeredPps: offered / wall,
    forwardedPps: received / wall,
    lossPct: expected > 0 ? (100 * Math.max(0, expected - received)) / expected : 100,
    deficitPct: Math.max(0, 100 * (1 - received / Math.max(1, offered))),
    latencyMs: { p50: lat.p50 / 1000, p99: lat.p99 / 1000, max: lat.max / 1000, samples: lat.count },
    sfudCores,
    loadgenCores,
    loadgenCoresEach: loadgenEach,
    // The bench process itself is counted as other: it only samples.
    otherCores: (b.hostCpu - a.hostCpu) / wall - sfudCores - loadgenCores,
    loadgenEventLoopP99Ms: b.eventLoopP99Ms,
    rxQueueMaxKB: { sfud: q.sfud / 1024, loadgen: q.loadgen / 1024 },
    loadavg1: loadavg()[0]!,
  };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function stepLine(shards: number, s: ShardStep): string {
  return (
    `  shards=${shards} subscribers=${s.subscribers}: offered ${Math.round(s.offeredPps)} fwd ${Math.round(s.forwardedPps)} pkt/s, loss ${s.lossPct.toFixed(2)}%, ` +
    `deficit ${s.deficitPct.toFixed(1)}%, p99 ${s.latencyMs.p99.toFixed(1)} ms, sfud ${s.sfudCores.toFixed(2)} cores, loadgen ${s.loadgenCores.toFixed(2)} cores ` +
    `(loop p99 ${s.loadgenEventLoopP99Ms.toFixed(0)} ms), other ${s.otherCores.toFixed(2)}, load ${s.loadavg1.toFixed(2)}${s.carried ? '' : ' NOT CARRIED'}`
  );
}

/** One shard count: start the daemon, publishers, then add subscribers step by step until a step is not carried. */
export async function runShards(o: ShardsOptions, shards: number): Promise<ShardRun> {
  const d = await startSfud({ args: ['--shards', String(shards)] });
  const shardPorts = new Set(Array.from({ length: shards }, (_, i) => d.udpPorts[0]! + i));
  const gens: LoadgenProcess[] = [];
  const run: ShardRun = { shards, steps: [], best: undefined, placement: '', notes: [] };
  const sids = Array.from({ length: o.rooms }, (_, r) => `room-${r}`);
  try {
    for (let i = 0; i < Math.min(o.loadgens, o.rooms); i++) gens.push(await LoadgenProcess.start());
    await Promise.all(
      sids.map((sid, r) =>
        ownerOf(r, gens).call({ op: 'publish', url: d.wsUrl, sid, uid: 'pub', videoKbps: o.videoKbps, fps: 30, keyframeIntervalS: 2, timeoutMs: o.joinTimeoutMs }),
      ),
    );
    // Measures the current population (perRoom in each room); `added` and `failures` are this step's joins.
    const step = async (perRoom: number, added: number, failures: number, refined: boolean): Promise<ShardStep> => {
      // Stepping back follows an overloaded step: its backlog needs longer to drain.
      await sleep((refined ? 2 : 1) * o.warmup * 1000);
      const verdict = (m: Measured): string | undefined =>
        stopReason({ n: m.subscribers, lossPct: m.lossPct, deficitPct: m.deficitPct, latencyMs: { ...m.latencyMs, p90: 0, mean: 0 } }, o.maxLoss, added, failures, o.maxP99Ms);
      // The machine may be shared: a step that fails while other processes were busy is measured
      // again (up to --retries), and the least disturbed window is kept, as the runner does.
      let m: Measured | undefined;
      let stop: string | undefined;
      for (let w = 0; ; w++) {
        const other = await waitQuiet(o.waitQuiet, [d.pid, ...gens.map((g) => g.pid)]);
        if (other >= DISTURBED_OTHER_CPU_PCT) log(`  other processes use ${other.toFixed(0)}% of a core; measuring anyway`);
        const x = await measure(d, gens, shardPorts, o);
        if (!m || x.otherCores < m.otherCores) m = x;
        stop = verdict(m);
        if (!stop || m.otherCores * 100 <= DISTURBED_OTHER_CPU_PCT || w >= o.retries) break;
        log(`  shards=${shards} subscribers=${x.subscribers}: not carried while other processes used ${(100 * x.otherCores).toFixed(0)}% of a core; measuring again`);
      }
      const st: ShardStep = { ...m, perRoom, joinFailures: failures, carried: stop === undefined, stop, refined };
      run.steps.push(st);
      log(stepLine(shards, st));
      if (stop) run.notes.push(stop);
      return st;
    };
    let n = 0;
    let target = o.n?.[0] ?? o.nStart;
    let failuresSoFar = 0;
    for (let k = 0; ; k++) {
      const add = target - n;
      const joins = await Promise.all(
        sids.map((sid, r) =>
          ownerOf(r, gens).call({ op: 'subscribe', url: d.wsUrl, sid, count: add, latencySample: o.latencySample, concurrency: o.joinConcurrency, timeoutMs: o.joinTimeoutMs }),
        ),
      );
      const failures = joins.reduce((s, j) => s + j.failed + j.noVideo, 0);
      if (failures > 0) run.notes.push(`N=${target}/room: ${failures} joins failed or got no video (${joins.flatMap((j) => j.errors).join('; ')})`);
      failuresSoFar += failures;
      const last = await step(target, add * o.rooms, failures, false);
      if (!last.carried) {
        // The knee lies between the last carried step and this one: measure once halfway (by closing
        // subscribers), so the result is not up to a whole growth factor below it.
        // The first step counts from 0 (a busy machine may fail it).
        const below = run.steps.at(-2);
        const floor = below?.carried ? below.perRoom : 0;
        const mid = Math.round((floor + target) / 2);
        if (o.refine && mid > floor && mid < target) {
          await Promise.all(sids.map((sid, r) => ownerOf(r, gens).call({ op: 'drop', sid, count: target - mid })));
          await step(mid, 0, 0, true);
        }
        break;
      }
      n = target;
      const next = o.n ? o.n[k + 1] : nextN(n, last, shards, o);
      if (next === undefined || next > (o.n ? Infinity : o.nMax)) {
        run.notes.push(o.n ? `every listed step was carried (up to ${n} per room)` : `the sweep ended at ${n} per room with every step carried: raise --n-max`);
        break;
      }
      target = next;
    }
    if (failuresSoFar > 0) run.notes.push(`${failuresSoFar} joins failed or got no video over the run`);
    const stats = await (await fetch(`${d.httpUrl}/metrics`)).text();
    run.placement = stats
      .split('\n')
      .filter((l) => l.startsWith('sfud_shard_rooms{'))
      .join(' ');
  } catch (err) {
    run.notes.push(`failed: ${(err as Error).message}`);
    log(`shards=${shards} failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await Promise.all(gens.map((g) => g.close()));
    await d.stop();
  }
  run.best = run.steps.filter((s) => s.carried).reduce<ShardStep | undefined>((b, s) => (!b || s.forwardedPps > b.forwardedPps ? s : b), undefined);
  return run;
}

export interface ShardsReport {
  started: string;
  command: string;
  machine: { cores: number; loadavgStart: number[]; loadavgEnd: number[] };
  options: ShardsOptions;
  runs: ShardRun[];
  /** best(2 shards) / best(1 shard) forwarded pkt/s, when both exist. */
  ratio: number | undefined;
  /** The machine's limit from the measured per-packet costs (see `ceiling`). */
  ceiling?: ReturnType<typeof ceiling>;
}

const f = (x: number, d = 0): string => x.toFixed(d);

export function renderShards(r: ShardsReport): string {
  const o = r.options;
  const out = [
    `## Shards: ${o.rooms} rooms x 1 publisher (${o.videoKbps} kbps video + Opus) -> N subscribers each`,
    '',
    `${r.machine.cores} cores; load average ${r.machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')} at the start, ${r.machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')} at the end. ` +
      `${o.loadgens} load-generator process(es), sinks decrypt 1 packet in ${o.latencySample} for latency. Carried: loss <= ${o.maxLoss}%, deficit <= ${Math.max(2, o.maxLoss)}%, p99 <= ${o.maxP99Ms} ms.`,
    '',
  ];
  for (const run of r.runs) {
    out.push(`### ${run.shards} shard${run.shards > 1 ? 's' : ''}`, '');
    out.push(
      markdownTable(
        ['subscribers', 'offered pkt/s', 'fwd pkt/s', 'loss %', 'deficit %', 'p50 / p99 ms', 'sfud cores', 'loadgen cores', 'other cores', 'load 1m', 'carried'],
        run.steps.map((s) => [
          s.subscribers,
          f(s.offeredPps),
          f(s.forwardedPps),
          f(s.lossPct, 2),
          f(s.deficitPct, 1),
          `${f(s.latencyMs.p50, 1)} / ${f(s.latencyMs.p99, 1)}`,
          f(s.sfudCores, 2),
          s.loadgenCoresEach.length > 1 ? `${f(s.loadgenCores, 2)} (${s.loadgenCoresEach.map((c) => f(c, 2)).join(' + ')})` : f(s.loadgenCores, 2),
          f(s.otherCores, 2),
          f(s.loadavg1, 2),
          `${s.carried ? 'yes' : 'no'}${s.refined ? ' (stepped back)' : ''}`,
        ]),
      ),
      '',
    );
    for (const n of run.notes) out.push(`- ${n}`);
    if (run.placement) out.push(`- placement: ${run.placement}`);
    out.push('');
  }
  out.push('### Result', '');
  out.push(
    markdownTable(
      ['shards', 'best carried fwd pkt/s', 'subscribers', 'sfud cores', 'sfud µs / fwd pkt', 'loadgen cores', 'loadgen µs / fwd pkt', 'load 1m'],
      r.runs.map((run) => {
        const b = run.best;
        if (!b) return [run.shards, 'none', '', '', '', '', '', ''];
        return [run.shards, f(b.forwardedPps), b.subscribers, f(b.sfudCores, 2), f((1e6 * b.sfudCores) / b.forwardedPps, 1), f(b.loadgenCores, 2), f((1e6 * b.loadgenCores) / b.forwardedPps, 1), f(b.loadavg1, 2)];
      }),
    ),
    '',
  );
  if (r.ratio !== undefined) out.push(`Ratio 2 shards / 1 shard: ${r.ratio.toFixed(2)}`, '');
  const c = ceiling(r);
  if (c) {
    out.push(
      `Ceiling from the measured costs per forwarded packet (sfud ${c.sfudUs.map((x) => x.toFixed(1)).join(' / ')} µs with 1 / 2 shards, load generator ${c.loadgenUs.toFixed(1)} µs) on ${r.machine.cores} cores: ` +
        `1 shard ${f(c.one)} pkt/s (one core for the shard, or all cores shared with the load generator), 2 shards ${f(c.two)} pkt/s, ratio at most ${c.ratio.toFixed(2)}.`,
      '',
    );
  }
  return out.join('\n');
}

/**
 * What the machine allows at best, from the per-packet CPU measured at each
 * run's best step: n shards cannot use more than n cores, and the daemon and
 * the load generator together cannot use more than the machine's cores.
 * Per-packet costs fall somewhat with rate (batching), so this is an estimate.
 */
export function ceiling(r: ShardsReport): { sfudUs: [number, number]; loadgenUs: number; one: number; two: number; ratio: number } | undefined {
  const b1 = r.runs.find((x) => x.shards === 1)?.best;
  const b2 = r.runs.find((x) => x.shards === 2)?.best;
  if (!b1 || !b2 || b1.forwardedPps <= 0 || b2.forwardedPps <= 0) return undefined;
  const us = (cores: number, pps: number): number => (1e6 * cores) / pps;
  const s1 = us(b1.sfudCores, b1.forwardedPps);
  const s2 = us(b2.sfudCores, b2.forwardedPps);
  const l = (us(b1.loadgenCores, b1.forwardedPps) + us(b2.loadgenCores, b2.forwardedPps)) / 2;
  const cores = r.machine.cores;
  const cap = (shards: number, sUs: number): number => Math.min((shards * 1e6) / sUs, (cores * 1e6) / (sUs + l));
  const one = cap(1, s1);
  const two = cap(2, s2);
  return { sfudUs: [s1, s2], loadgenUs: l, one, two, ratio: two / one };
}

export async function runShardsBench(o: ShardsOptions, command: string): Promise<{ report: ShardsReport; markdown: string; files: string[] }> {
  const started = new Date();
  const loadavgStart = loadavg();
  log(`shards bench: ${o.rooms} rooms x 1 publisher (${o.videoKbps} kbps) -> N subscribers each; ${availableParallelism()} cores; load ${loadavgStart.map((x) => x.toFixed(2)).join(' ')}`);
  const runs: ShardRun[] = [];
  for (const shards of o.shards) {
    const run = await runShards(o, shards);
    runs.push(run);
    log(`shards=${shards}: best ${run.best ? `${Math.round(run.best.forwardedPps)} pkt/s at ${run.best.subscribers} subscribers` : 'none'}`);
  }
  const one = runs.find((r) => r.shards === 1)?.best?.forwardedPps;
  const two = runs.find((r) => r.shards === 2)?.best?.forwardedPps;
  const report: ShardsReport = {
    started: started.toISOString().replace(/\.\d+Z$/, 'Z'),
    command,
    machine: { cores: availableParallelism(), loadavgStart, loadavgEnd: loadavg() },
    options: o,
    runs,
    ratio: one && two ? two / one : undefined,
  };
  report.ceiling = ceiling(report);
  const markdown = renderShards(report);
  const files = o.write ? writeRunFiles(o.outDir, 'shards', report.started, report, markdown).files : [];
  return { report, markdown, files };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseShardsArgs(argv);
  const command = `npm run bench:shards${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  const { markdown, files } = await runShardsBench(o, command);
  process.stdout.write(`\n${markdown}`);
  for (const file of files) process.stdout.write(`wrote ${file}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
