/**
 * Renders a bench report, pure: one side-by-side Markdown table per scenario
 * (rows grouped by N, one per server), sfud's ratios to every other server at
 * the same N, the largest N each server held under the loss limit, and the
 * chart spec (CPU per forwarded packet and p99 latency against N).
 */
import { DISTURBED_OTHER_CPU_PCT } from '../scenarios/measure.js';
import type { StepResult } from '../scenarios/types.js';
import type { ChartSpec } from './svg.js';
import type { BenchReport, RunRecord, ScenarioEntry } from './types.js';

const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');


/** The join time a scenario reports: decodable video for a fan-out, video from everyone in a meeting. */
function joinCell(s: ScenarioEntry, r: StepResult): string {
  const j = r.joinMs;
  return s.unit === 'subscribers'
    ? `${Math.round(j.firstKeyframeP50)} / ${Math.round(j.firstKeyframeP99)}`
    : `${Math.round(j.allVideoP50)} / ${Math.round(j.allVideoP99)}`;
}

function header(s: ScenarioEntry): string {
  const n = s.unit === 'subscribers' ? 'N' : 'M';
  const join = s.unit === 'subscribers' ? 'join→keyframe p50 / p99 ms' : 'join→all video p50 / p99 ms';
  const rss = s.unit === 'subscribers' ? 'RSS / sub KB' : 'RSS / participant KB';
  return (
    `| ${n} | server | fwd pkt/s | loss / deficit % | server CPU % | CPU µs / fwd pkt | latency p50 / p99 / max ms | ${rss} | ${join} | loadgen CPU % | other CPU % |\n` +
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
  );
}

function row(s: ScenarioEntry, server: string, r: StepResult): string {
  const mark = r.otherCpuPct > DISTURBED_OTHER_CPU_PCT ? ' †' : '';
  return (
    `| ${r.n}${mark} | ${server} | ${Math.round(r.forwardedPps)} | ${f(r.lossPct, 2)} / ${f(r.deficitPct, 1)} | ${f(r.serverCpuPct)} | ${f(r.serverUsPerPacket, 1)} | ` +
    `${f(r.latencyMs.p50, 2)} / ${f(r.latencyMs.p99, 2)} / ${f(r.latencyMs.max, 1)} | ${Math.round(r.rssPerClientKB)} | ${joinCell(s, r)} | ` +
    `${f(r.loadgenCpuPct)} | ${f(r.otherCpuPct)} |`
  );
}

/** Largest n whose step stayed within the loss limit and kept up (deficit, the sweep's stop rule); 0: none. */
export function largestHeld(steps: readonly StepResult[], maxLoss: number): number {
  let best = 0;
  for (const r of steps) if (r.lossPct <= maxLoss && r.deficitPct <= Math.max(2, maxLoss) && r.n > best) best = r.n;
  return best;
}

/** other / sfud per common n (how many times sfud's figure the other server's is). */
export function ratios(sfud: readonly StepResult[], other: readonly StepResult[], pick: (r: StepResult) => number): { n: number; ratio: number }[] {
  const out: { n: number; ratio: number }[] = [];
  for (const a of sfud) {
    const b = other.find((x) => x.n === a.n);
    const va = pick(a);
    const vb = b ? pick(b) : NaN;
    if (b && va > 0 && Number.isFinite(vb)) out.push({ n: a.n, ratio: vb / va });
  }
  return out;
}

function scenarioSection(rep: BenchReport, s: ScenarioEntry, maxLoss: number): string[] {
  const runs = rep.runs.filter((r) => r.scenario === s.name);
  const out: string[] = [`### ${s.title}`, ''];
  if (runs.length === 0) return [...out, 'No server ran this scenario.', ''];
  const rows: { n: number; order: number; server: string; r: StepResult }[] = [];
  runs.forEach((run, order) => {
    for (const r of run.steps) rows.push({ n: r.n, order, server: run.server, r });
  });
  rows.sort((a, b) => a.n - b.n || a.order - b.order);
  out.push(header(s));
  for (const x of rows) out.push(row(s, x.server, x.r));
  out.push('');
  if (rows.some((x) => x.r.otherCpuPct > DISTURBED_OTHER_CPU_PCT)) {
    out.push(`† other processes used more than ${DISTURBED_OTHER_CPU_PCT}% of a core during the window: not comparable, run again on a quiet machine.`, '');
  }
  const held = runs.map((run) => {
    const n = largestHeld(run.steps, maxLoss);
    const r = run.steps.find((x) => x.n === n);
    return r ? `${run.server} ${n} (${Math.round(r.forwardedPps)} pkt/s)` : `${run.server} none`;
  });
  out.push(`Largest ${s.unit === 'subscribers' ? 'N' : 'M'} with loss ≤ ${maxLoss}% and deficit ≤ ${Math.max(2, maxLoss)}% (forwarded packets/s there): ${held.join(', ')}.`);
  const sfud = runs.find((r) => r.server === 'sfud');
  if (sfud) {
    for (const other of runs) {
      if (other === sfud || other.steps.length === 0) continue;
      const cpu = ratios(sfud.steps, other.steps, (r) => r.serverUsPerPacket);
      const p99 = ratios(sfud.steps, other.steps, (r) => r.latencyMs.p99);
      if (cpu.length === 0) continue;
      out.push(
        `${other.server} ÷ sfud, CPU per forwarded packet: ${cpu.map((x) => `${x.ratio.toFixed(2)}× (${x.n})`).join(', ')}; ` +
          `p99 latency: ${p99.map((x) => `${x.ratio.toFixed(2)}× (${x.n})`).join(', ')} (above 1: sfud is cheaper or faster).`,
      );
    }
  }
  if (s.baseline) {
    for (const run of runs) {
      const base = rep.runs.find((r) => r.scenario === s.baseline && r.server === run.server);
      const cpu = base ? ratios(base.steps, run.steps, (r) => r.serverUsPerPacket) : [];
      if (cpu.length === 0) continue;
      out.push(
        `${run.server}, ${s.name} ÷ ${s.baseline} in this run, CPU per forwarded packet: ${cpu.map((x) => `${x.ratio.toFixed(2)}× (${x.n})`).join(', ')} (above 1: ${s.name} costs more per packet).`,
      );
    }
  }
  for (const run of runs) {
    if (run.error) out.push(`- ${run.server}: ${run.error}`);
    for (const n of run.notes) out.push(`- ${run.server}: ${n}`);
    for (const r of run.steps) {
      if (r.udpDrops.loadgen > 0) {
        out.push(`- ${run.server} at ${r.n}: the load generator's own sockets dropped ${r.udpDrops.loadgen} datagrams (it fell behind): that loss is not the server's alone`);
      }
      const e = r.bandwidthEvents;
      if (e && r.lossPct > 0 && e.congestionStops + e.pacerDropped + e.limitedSubscribers + e.videoWithoutLayer > 0) {
        out.push(
          `- ${run.server} at ${r.n}: its bandwidth estimates acted in the window (${e.congestionStops} congestion stops, ${e.pacerDropped} pacer drops; at its end ${e.limitedSubscribers} subscribers limited, ${e.videoWithoutLayer} video tracks without a layer): part of the loss is video it chose not to send`,
        );
      }
    }
    const profile = run.steps[0]?.srtpProfile;
    if (profile) out.push(`- ${run.server}: SRTP ${profile}`);
  }
  out.push('');
  return out;
}

export function renderMarkdown(rep: BenchReport): string {
  const maxLoss = Number(rep.options.maxLoss ?? 1);
  const m = rep.machine;
  const out: string[] = [
    `## sfud side-by-side bench, ${rep.started}`,
    '',
    `Command: \`${rep.command}\` (${Math.round(rep.durationS)} s). Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memGB.toFixed(0)} GiB, Node ${m.node}, Linux ${m.kernel}` +
      `${rep.netns ? ', everything in one private network namespace' : ', host network namespace'}.`,
    '',
    'Server CPU is every thread of the server process from /proc, divided by packets the subscribers received; ' +
      'latency is one-way, send to receive, through the server; deficit is published x copies not received in the window (a server falling behind); ' +
      'the load generator shares the cores: read its CPU and "other CPU" next to the server\'s.',
    '',
  ];
  for (const sv of rep.servers) if (!sv.available) out.push(`- ${sv.name} skipped: ${sv.reason}${sv.hint ? ` (\`${sv.hint}\`)` : ''}`);
  if (rep.servers.some((s) => !s.available)) out.push('');
  for (const s of rep.scenarios) out.push(...scenarioSection(rep, s, maxLoss));
  for (const n of rep.notes) out.push(`- ${n}`);
  return `${out.join('\n').trimEnd()}\n`;
}

/** CPU per forwarded packet and p99 latency against n, one series per server that has 1+ step. */
export function chartFor(rep: BenchReport, s: ScenarioEntry): ChartSpec | undefined {
  const runs: RunRecord[] = rep.runs.filter((r) => r.scenario === s.name && r.steps.length > 0);
  if (runs.length === 0) return undefined;
  const series = (pick: (r: StepResult) => number): { name: string; points: { x: number; y: number }[] }[] =>
    runs.map((run) => ({ name: run.server, points: run.steps.map((r) => ({ x: r.n, y: pick(r) })) }));
  const n = s.unit === 'subscribers' ? 'N subscribers' : 'M participants';
  return {
    title: s.title.replace(/:.*/, ''),
    subtitle: `${rep.started} · ${rep.machine.nproc} CPUs ${rep.machine.cpuModel} · Node ${rep.machine.node}`,
    xLabel: n,
    panels: [
      { title: 'Server CPU per forwarded packet', yLabel: 'µs', log: true, series: series((r) => r.serverUsPerPacket) },
      { title: 'p99 one-way latency', yLabel: 'ms', log: true, series: series((r) => r.latencyMs.p99) },
    ],
  };
}
