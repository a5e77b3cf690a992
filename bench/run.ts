/**
 * The side-by-side benchmark: every selected scenario against every selected
 * server, in one invocation, on one machine state, so that the numbers are
 * compared as ratios. Prints a Markdown table per scenario and writes, under
 * bench/results/, the JSON of the run, the same Markdown and an SVG chart per
 * scenario (CPU per forwarded packet and p99 latency against N).
 *
 *   npm run bench          quick: fan-out N=10,25,50,100 (werift 10,25,50; Janus with 2 loops and mediasoup 25,100), meeting M=6, simulcast fan-out on sfud 25,100; under 5 minutes
 *   npm run bench:full     longer sweeps, every server in every scenario
 *
 * The runner re-executes itself in a private network namespace (netns.ts)
 * where Janus can gather candidates; servers that cannot run here are skipped
 * with the reason and the command that fixes it.
 *
 * Options: --servers sfud,janus,werift-naive  --scenarios fanout,meeting  --full
 *          --n 10,25,50 (fan-out steps, every server)  --m 4,6 (meeting steps)
 *          --seconds 5  --warmup 2  --wait-quiet 3 (before each window, wait up to S for other processes to calm)
 *          --retries 0 (measure a window again when other processes were busy in it)  --budget 270 (seconds, whole run)
 *          (--n applies to every fan-out scenario: fanout, simulcast)
 *          --max-loss 1  --join-concurrency 10  --recv-buf BYTES  --decrypt-every K  --no-pub-pc
 *          --cpu-prof DIR (Node servers)  --out-dir bench/results  --no-write  --no-netns
 *          --install-janus (root only: apt-get install janus when it is missing)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateCertificate } from '../src/dtls/certificate.js';
import { inBenchNetns, NETNS_HOST, netnsProbe, reexecInNetns } from './netns.js';
import { chartFor, renderMarkdown } from './report/markdown.js';
import { lineChartSvg } from './report/svg.js';
import type { BenchReport, MachineInfo, RunRecord, ServerEntry } from './report/types.js';
import { SCENARIOS } from './scenarios/index.js';
import type { ScenarioSpec } from './scenarios/types.js';
import { SERVERS } from './servers/index.js';
import { JANUS_INSTALL, janusVersion } from './servers/janus.js';
import type { ServerSpec, StartContext } from './servers/types.js';
import { writeRunFiles } from './support/report.js';
import { ROOT } from './support/root.js';

export { ROOT };

export interface BenchOptions {
  servers: string[] | undefined;
  scenarios: string[] | undefined;
  full: boolean;
  fanoutSteps: number[] | undefined;
  meetingSteps: number[] | undefined;
  seconds: number;
  warmup: number;
  waitQuiet: number;
  retries: number;
  budget: number;
  maxLoss: number;
  joinConcurrency: number;
  recvBuf: number;
  decryptEvery: number;
  pubPc: boolean;
  cpuProf: string | undefined;
  outDir: string;
  write: boolean;
  netns: boolean;
  installJanus: boolean;
  videoKbps: number;
  fps: number;
  keyframeInterval: number;
  joinTimeoutMs: number;
}

export function defaultOptions(full = false): BenchOptions {
  return {
    servers: undefined,
    scenarios: undefined,
    full,
    fanoutSteps: undefined,
    meetingSteps: undefined,
    seconds: full ? 10 : 5,
    warmup: 2,
    waitQuiet: full ? 30 : 3,
    // The quick run has no time to spare for re-measuring; on a shared machine pass --retries.
    retries: full ? 2 : 0,
    budget: full ? 3600 : 270,
    maxLoss: 1,
    joinConcurrency: 10,
    recvBuf: 0,
    decryptEvery: 1,
    pubPc: true,
    cpuProf: undefined,
    outDir: join(ROOT, 'bench/results'),
    write: true,
    netns: true,
    installJanus: false,
    videoKbps: 1000,
    fps: 30,
    keyframeInterval: 2,
    joinTimeoutMs: 30_000,
  };
}

function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function steps(a: string, v: string): number[] {
  const n = list(v).map(Number);
  if (n.length === 0 || n.some((x) => !Number.isInteger(x) || x <= 0)) throw new Error(`${a} needs a list of positive integers`);
  return n.sort((x, y) => x - y);
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const o = defaultOptions(argv.includes('--full'));
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
      case '--full':
        break;
      case '--servers':
        o.servers = list(v());
        break;
      case '--scenarios':
        o.scenarios = list(v());
        break;
      case '--n':
        o.fanoutSteps = steps(a, v());
        break;
      case '--m':
        o.meetingSteps = steps(a, v());
        break;
      case '--seconds':
        o.seconds = num();
        break;
      case '--warmup':
        o.warmup = num();
        break;
      case '--wait-quiet':
        o.waitQuiet = num();
        break;
      case '--retries':
        o.retries = Math.floor(num());
        break;
      case '--budget':
        o.budget = num();
        break;
      case '--max-loss':
        o.maxLoss = num();
        break;
      case '--join-concurrency':
        o.joinConcurrency = Math.max(1, Math.floor(num()));
        break;
      case '--recv-buf':
        o.recvBuf = Math.floor(num());
        break;
      case '--decrypt-every':
        o.decryptEvery = Math.max(1, Math.floor(num()));
        break;
      case '--no-pub-pc':
        o.pubPc = false;
        break;
      case '--cpu-prof':
        o.cpuProf = resolve(v());
        break;
      case '--out-dir':
        o.outDir = resolve(v());
        break;
      case '--no-write':
        o.write = false;
        break;
      case '--no-netns':
        o.netns = false;
        break;
      case '--install-janus':
        o.installJanus = true;
        break;
      case '--video-kbps':
        o.videoKbps = num();
        break;
      case '--help':
        process.stdout.write(`${readFileSync(fileURLToPath(import.meta.url), 'utf8').match(/\/\*\*([\s\S]*?)\*\//)?.[1]?.replace(/^ \* ?/gm, '') ?? ''}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a} (--help lists them)`);
    }
  }
  return o;
}

function machineInfo(): MachineInfo {
  let cpuModel = '?';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '?';
  } catch {
    // not Linux
  }
  return { nproc: availableParallelism(), cpuModel, memGB: totalmem() / 2 ** 30, node: process.version, kernel: release(), platform: process.platform };
}

/** How this run was started, as a user would type it again (`npm run bench -- --n 10` or `node dist/bench/run.js ...`). */
export function commandLine(argv: readonly string[], ev: string | undefined, script: string | undefined): string {
  const own = script?.split('dist/bench/run.js')[1]?.trim().split(/\s+/).filter(Boolean);
  if (ev && own) {
    const extra = argv.slice(own.length);
    return `npm run ${ev}${extra.length ? ` -- ${extra.join(' ')}` : ''}`;
  }
  return `node dist/bench/run.js${argv.length ? ` ${argv.join(' ')}` : ''}`;
}

/** The steps a server runs in a scenario, or undefined when this mode leaves it out. */
export function plannedSteps(s: ScenarioSpec, server: string, o: BenchOptions, serversChosen: boolean): number[] | undefined {
  const explicit = s.unit === 'subscribers' ? o.fanoutSteps : o.meetingSteps;
  if (explicit) return explicit;
  if (!o.full && !serversChosen && s.defaults.quickServers && !s.defaults.quickServers.includes(server)) return undefined;
  const per = s.defaults.perServer?.[server];
  return (o.full ? per?.full : per?.quick) ?? (o.full ? s.defaults.full : s.defaults.quick);
}

/** What a run needs at least: server start, joins, and per step a settle, a quiet wait and one window. */
export function minimalRunMs(steps: readonly number[], o: BenchOptions): number {
  return 3000 + steps.length * (o.warmup + o.waitQuiet + o.seconds + 2) * 1000 + Math.max(0, ...steps) * 150;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Installs Janus with apt-get (root only, on request). */
function installJanus(): boolean {
  if (process.getuid?.() !== 0) {
    log(`--install-janus needs root; run: ${JANUS_INSTALL}`);
    return false;
  }
  log(`installing Janus: ${JANUS_INSTALL}`);
  const r = spawnSync('sh', ['-c', `${JANUS_INSTALL} >/dev/null`], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  return r.status === 0;
}

export interface BenchOutcome {
  report: BenchReport;
  markdown: string;
  files: string[];
}

/** Runs the bench in this process (the caller has chosen the network namespace). */
export async function runBench(o: BenchOptions): Promise<BenchOutcome> {
  const t0 = performance.now();
  const started = new Date();
  const deadline = t0 + o.budget * 1000;
  const scenarios = o.scenarios ? o.scenarios.map((n) => SCENARIOS.find((s) => s.name === n) ?? fail(`unknown scenario ${n}`)) : [...SCENARIOS];
  const servers = o.servers ? o.servers.map((n) => SERVERS.find((s) => s.name === n) ?? fail(`unknown server ${n}`)) : SERVERS.filter((s) => !s.optional);
  const scratch = mkdtempSync(join(tmpdir(), 'sfud-bench-'));
  const inNetns = inBenchNetns();
  // libnice (Janus) never answers peers on 127.0.0.1: in the namespace every server and client uses
  // 127.0.0.2, so all of them take the same path (local delivery through lo either way).
  const ctx: StartContext = { root: ROOT, clientHost: inNetns ? NETNS_HOST : '127.0.0.1', inNetns, cpuProfDir: o.cpuProf, scratch };
  const entries: ServerEntry[] = servers.map((s) => {
    const a = s.available(ctx);
    return a.ok ? { name: s.name, describe: s.describe, available: true } : { name: s.name, describe: s.describe, available: false, reason: a.reason, hint: a.hint };
  });
  for (const e of entries) if (!e.available) log(`skipping ${e.name}: ${e.reason}${e.hint ? `; to fix: ${e.hint}` : ''}`);
  const notes: string[] = [];
  const runs: RunRecord[] = [];
  const plan: { s: ScenarioSpec; server: ServerSpec; steps: number[] }[] = [];
  for (const s of scenarios) {
    for (const server of servers) {
      if (!entries.find((e) => e.name === server.name)!.available) continue;
      const st = plannedSteps(s, server.name, o, o.servers !== undefined);
      if (st) plan.push({ s, server, steps: st });
    }
  }
  const cert = await generateCertificate();
  try {
    for (let i = 0; i < plan.length; i++) {
      const { s, server, steps: st } = plan[i]!;
      // A run may use all the time left but what the runs after it need at least: slow joins and
      // re-measured windows spend slack, never another server's steps.
      // When even the minimal runs do not fit, every run gets its share of what is left instead
      // (the first ones must not spend it all and leave sfud's or a peer's sweep empty).
      const now = performance.now();
      const own = minimalRunMs(st, o);
      const rest = plan.slice(i + 1).reduce((ms, p) => ms + minimalRunMs(p.steps, o), 0);
      const share = Math.min(1, Math.max(0, deadline - now) / (own + rest));
      const runDeadline = Math.max(deadline - rest, now + own * share);
      const rec: RunRecord = { scenario: s.name, server: server.name, planned: st, steps: [], notes: [] };
      runs.push(rec);
      log(`== ${s.name} on ${server.name}: ${s.unit} ${st.join(', ')}`);
      let running;
      try {
        running = await server.start(ctx);
        rec.info = running.info;
        const r = await s.run(running, {
          steps: st,
          seconds: o.seconds,
          warmup: o.warmup,
          videoKbps: o.videoKbps,
          fps: o.fps,
          keyframeInterval: o.keyframeInterval,
          joinConcurrency: o.joinConcurrency,
          maxLoss: o.maxLoss,
          waitQuiet: o.waitQuiet,
          retries: o.retries,
          recvBuf: o.recvBuf,
          decryptEvery: o.decryptEvery,
          pubPc: o.pubPc,
          joinTimeoutMs: o.joinTimeoutMs,
          cert,
          deadline: runDeadline,
          log,
        });
        rec.steps = r.steps;
        rec.notes = r.notes;
      } catch (err) {
        rec.error = (err as Error).message.split('\n')[0];
        log(`${s.name} on ${server.name} failed: ${(err as Error).stack ?? String(err)}`);
        if (running) log(`${server.name} output:\n${running.log().slice(0, 20).join('\n')}`);
      } finally {
        await running?.stop();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (!ctx.inNetns) notes.push('ran in the host network namespace (no private namespace here): servers that need one were skipped');
  const report: BenchReport = {
    started: started.toISOString().replace(/\.\d+Z$/, 'Z'),
    durationS: (performance.now() - t0) / 1000,
    command: commandLine(process.argv.slice(2), process.env.npm_lifecycle_event, process.env.npm_lifecycle_script),
    machine: machineInfo(),
    netns: ctx.inNetns,
    options: { ...o, servers: o.servers ?? null, scenarios: o.scenarios ?? null },
    scenarios: scenarios.map((s) => ({ name: s.name, title: s.title, unit: s.unit, baseline: s.baseline })),
    servers: entries,
    runs,
    notes,
  };
  const markdown = renderMarkdown(report);
  const files: string[] = [];
  if (o.write) {
    const { stem, files: written } = writeRunFiles(o.outDir, 'bench', report.started, report, markdown);
    files.push(...written);
    for (const s of report.scenarios) {
      const chart = chartFor(report, s);
      if (!chart) continue;
      writeFileSync(`${stem}-${s.name}.svg`, lineChartSvg(chart));
      files.push(`${stem}-${s.name}.svg`);
    }
  }
  return { report, markdown, files };
}

function fail(msg: string): never {
  throw new Error(msg);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!inBenchNetns()) {
    const wantsJanus = o.servers === undefined || o.servers.includes('janus');
    if (wantsJanus && o.installJanus && janusVersion() === undefined) installJanus();
    if (o.netns) {
      const probe = netnsProbe();
      if (probe.ok) {
        process.exitCode = await reexecInNetns();
        return;
      }
      log(`no private network namespace (${probe.reason}); running in the host namespace`);
    }
  }
  const { markdown, files } = await runBench(o);
  process.stdout.write(`\n${markdown}`);
  for (const f of files) process.stdout.write(`wrote ${f}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
