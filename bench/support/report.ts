/**
 * Output shared by the bench entry scripts: Markdown tables on stdout, one
 * JSON file per run under bench/results/, the machine it ran on, and the
 * CPU other processes used meanwhile (the machine is shared: a row measured
 * while something else was busy is not comparable with one that was not).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cpus, loadavg, totalmem } from 'node:os';
import { ROOT } from './servers.js';
import { hostBusySeconds } from '../loadgen/proc.js';

/** Quantile of unsorted values (nearest rank); 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export function machine(): Record<string, unknown> {
  return { cpus: cpus().length, model: cpus()[0]?.model, memGB: Math.round(totalmem() / 2 ** 30), node: process.version, loadavg: loadavg() };
}

export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Writes bench/results/<name>-<start time>.json (or `out`) and returns the path. */
export function writeResults(name: string, started: Date, payload: Record<string, unknown>, out?: string): string {
  const file = out ?? join(ROOT, 'bench/results', `${name}-${started.toISOString().replace(/:/g, '-').replace(/\..*/, '')}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ scenario: name, started: started.toISOString(), machine: machine(), ...payload }, null, 2)}\n`);
  return file;
}

/**
 * Writes a run's JSON and Markdown as <outDir>/<prefix>-<started>.json and .md
 * (`started` an ISO time without fractions; ':' becomes '-'). Returns the
 * common stem (for more files of the same run) and the files written.
 */
export function writeRunFiles(outDir: string, prefix: string, started: string, report: unknown, markdown: string): { stem: string; files: string[] } {
  mkdirSync(outDir, { recursive: true });
  const stem = join(outDir, `${prefix}-${started.replace(/:/g, '-').replace(/Z$/, '')}`);
  writeFileSync(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${stem}.md`, markdown);
  return { stem, files: [`${stem}.json`, `${stem}.md`] };
}

/**
 * Host CPU used outside a set of processes over a window: call `start`
 * with their CPU seconds, then `stop` with them again; % of one core.
 */
export class OtherCpu {
  private host = 0;
  private own = 0;
  private t = 0;

  start(ownCpuSeconds: number): void {
    this.host = hostBusySeconds();
    this.own = ownCpuSeconds;
    this.t = performance.now();
  }

  stop(ownCpuSeconds: number): number {
    const wall = (performance.now() - this.t) / 1000;
    if (wall <= 0) return 0;
    return (100 * (hostBusySeconds() - this.host - (ownCpuSeconds - this.own))) / wall;
  }
}

/** Parses "10,25,50" into sorted positive integers. */
export function intList(v: string, flag: string): number[] {
  const out = v
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((x) => Number.isInteger(x) && x > 0);
  if (out.length === 0) throw new Error(`${flag} needs a list of positive integers`);
  return out.sort((a, b) => a - b);
}

export function fixed(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}
