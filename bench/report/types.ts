/** The JSON a bench invocation writes (bench/results/bench-<date>.json), and what the report renders. */
import type { StepResult } from '../scenarios/types.js';

export interface MachineInfo {
  /** os.availableParallelism() (what `nproc` prints). */
  nproc: number;
  cpuModel: string;
  memGB: number;
  node: string;
  kernel: string;
  platform: string;
}

export interface ServerEntry {
  name: string;
  describe: string;
  available: boolean;
  reason?: string;
  hint?: string;
}

export interface RunRecord {
  scenario: string;
  server: string;
  /** The steps planned for this server (the sweep may stop earlier). */
  planned: number[];
  steps: StepResult[];
  notes: string[];
  /** Set when the server could not start or the scenario threw. */
  error?: string;
  info?: Record<string, unknown>;
}

export interface ScenarioEntry {
  name: string;
  title: string;
  unit: 'subscribers' | 'participants';
  /** The scenario this one is priced against (ScenarioSpec.baseline). */
  baseline?: string;
}

export interface BenchReport {
  started: string;
  durationS: number;
  command: string;
  machine: MachineInfo;
  /** Everything ran in the bench's private network namespace. */
  netns: boolean;
  options: Record<string, unknown>;
  scenarios: ScenarioEntry[];
  servers: ServerEntry[];
  runs: RunRecord[];
  notes: string[];
}
