/**
 * `sfu.toml`: ion-sfu's keys (ion-keys.ts) plus sfud's own `[sfud]` table,
 * one key per flag. Keys match case-insensitively, as ion-sfu's viper does.
 * Unknown keys warn (naming key and file); a value of the wrong type is a
 * ConfigError naming key, value and expected type. Pure: text in, settings out.
 */
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from '../errors.js';
import { OPTION_BY_NAME, OPTION_BY_TOML, type ConfigOption, type SfuConfig } from './options.js';
import { ION_KEY_BY_PATH, RANK_OWN_KEY, type IonKey, type IonKeyContext } from './ion-keys.js';
import { showValue, ValueError } from './values.js';

/** A value for one option and where it came from. */
export interface Setting {
  source: string;
  rank: number;
  apply: (c: SfuConfig) => void;
}

export interface FileSettings {
  settings: Map<string, Setting>;
  warnings: string[];
  /** Checks on the final configuration (e.g. shards fit a port range). */
  checks: ((c: SfuConfig) => string | undefined)[];
}

/** `router.simulcast.bestqualityfirst` → `[router.simulcast] bestqualityfirst`. */
export function showKey(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? path : `[${path.slice(0, dot)}] ${path.slice(dot + 1)}`;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Every known path, and every table on the way to one, so the walk knows where to descend. */
const KNOWN_TABLES = new Set<string>();
for (const path of [...OPTION_BY_TOML.keys(), ...ION_KEY_BY_PATH.keys()]) {
  const parts = path.split('.');
  for (let i = 1; i < parts.length; i++) KNOWN_TABLES.add(parts.slice(0, i).join('.'));
}

export function parseConfigFile(text: string, file: string): FileSettings {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (err) {
    const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : '';
    const first = (err as Error).message.split('\n', 1)[0];
    throw new ConfigError(`${file}: not valid TOML${where}: ${first}`, { cause: err });
  }
  const out: FileSettings = { settings: new Map(), warnings: [], checks: [] };

  const put = (option: ConfigOption, raw: unknown, rank: number, source: string): void => {
    let apply: (c: SfuConfig) => void;
    try {
      apply = option.read(raw, 'toml');
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      throw new ConfigError(`${file}: ${source} = ${showValue(raw)}: expected ${option.expected}${err.detail ? ` (${err.detail})` : ''}`);
    }
    const prev = out.settings.get(option.name);
    if (prev && prev.rank > rank) return;
    out.settings.set(option.name, { source: `${file}: ${source}`, rank, apply });
  };

  const ionKey = (key: IonKey, raw: unknown, path: string): void => {
    const shown = showKey(path);
    const ctx: IonKeyContext = {
      set: (name, value, rank) => put(OPTION_BY_NAME.get(name)!, value, rank, shown),
      warn: (m) => out.warnings.push(`${file}: ${m}`),
      check: (fn) => out.checks.push((c) => {
        const m = fn(c);
        return m === undefined ? undefined : `${file}: ${m}`;
      }),
    };
    try {
      key.read(raw)(ctx, key.display ?? (key.table ? `[${path}]` : shown));
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      const what = key.table && err.detail ? err.detail : `${shown} = ${showValue(raw)}: expected ${key.expected}`;
      throw new ConfigError(`${file}: ${what}`);
    }
  };

  const walk = (table: Record<string, unknown>, prefix: string): void => {
    for (const [rawKey, value] of Object.entries(table)) {
      const path = prefix ? `${prefix}.${rawKey.toLowerCase()}` : rawKey.toLowerCase();
      const option = OPTION_BY_TOML.get(path);
      const key = ION_KEY_BY_PATH.get(path);
      if (option) put(option, value, RANK_OWN_KEY, showKey(path));
      else if (key) ionKey(key, value, path);
      else if (KNOWN_TABLES.has(path) && isTable(value)) walk(value, path);
      else out.warnings.push(`${file}: unknown key ${isTable(value) ? `[${path}]` : showKey(path)}, ignored`);
    }
  };
  walk(doc, '');
  return out;
}
