/**
 * Command-line pieces every bench entry script shares: --smoke, --out,
 * --no-json, --wait-quiet, --server, and checked numbers. Numbers stay
 * strings in parseArgs (it has no number type) and are read with `num`.
 */
import type { ServerKind } from './servers.js';

export const COMMON_OPTIONS = {
  smoke: { type: 'boolean', default: false },
  out: { type: 'string' },
  'no-json': { type: 'boolean', default: false },
} as const;

/** For scripts that measure windows of media: wait up to this long for other processes to go quiet. */
export const WAIT_QUIET_OPTION = { 'wait-quiet': { type: 'string', default: '20' } } as const;

/** For scripts that run against one server. */
export const SERVER_OPTION = { server: { type: 'string', default: 'sfud' } } as const;

/** Where results go: --out FILE, or bench/results/<scenario>-<date>.json unless --no-json. */
export interface OutputOptions {
  out: string | undefined;
  json: boolean;
}

export function outputOf(v: { out?: string; 'no-json'?: boolean }): OutputOptions {
  return { out: v.out, json: !v['no-json'] };
}

/** A number flag: finite, at least `min`, and whole when `integer`. */
export function num(name: string, value: string, min = 0, integer = false): number {
  const x = Number(value);
  if (!Number.isFinite(x) || x < min || (integer && !Number.isInteger(x))) {
    throw new Error(`--${name} needs a ${integer ? 'whole number' : 'number'} >= ${min}, not "${value}"`);
  }
  return x;
}

export function serverKind(value: string): ServerKind {
  if (value !== 'sfud' && value !== 'mediasoup') throw new Error(`--server: "${value}" is not sfud or mediasoup`);
  return value;
}

/** parseArgs string options from `{ name: default }` (parseArgs has no number type; read them with `num`). */
export function stringOptions<K extends string>(defaults: Record<K, string>): Record<K, { type: 'string'; default: string }> {
  const out = {} as Record<K, { type: 'string'; default: string }>;
  for (const k of Object.keys(defaults) as K[]) out[k] = { type: 'string', default: defaults[k] };
  return out;
}
