/**
 * Configuration: embedded defaults (DESIGN.md "Defaults a newcomer gets"),
 * overridden by an ion-sfu style `sfu.toml`, overridden by environment
 * variables, overridden by flags. Every setting is described once in
 * config/options.ts. Parsing is pure apart from reading the config file
 * through an injectable reader, so it is unit-tested without the daemon.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from './errors.js';
import { defaultConfig, OPTIONS, type ConfigOption, type SfuConfig } from './config/options.js';
import { parseConfigFile, type Setting } from './config/file.js';
import { rewriteIonArgv } from './config/argv.js';
import { renderHelp } from './config/docs.js';
import { hostPortType, showValue, ValueError } from './config/values.js';

export { defaultConfig, OPTIONS, type ConfigOption, type SfuConfig };

export const HELP = renderHelp();

export type CliAction =
  | { kind: 'help' }
  | { kind: 'version' }
  | {
      kind: 'run';
      config: SfuConfig;
      /** Things the operator should read (unknown keys, keys without effect); the daemon logs them. */
      warnings: string[];
      /** The sfu.toml read, if any. */
      configFile: string | undefined;
    };

/** Parses "host:port", "[v6]:port" or ":port" (all interfaces are never implied: host defaults to 127.0.0.1). */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  return readValue(hostPortType('127.0.0.1'), value, what);
}

function readValue<T>(type: { expected: string; text(s: string): T }, value: string, what: string): T {
  try {
    return type.text(value);
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    throw new ConfigError(`${what} ${showValue(value)}: expected ${type.expected}${err.detail ? ` (${err.detail})` : ''}`);
  }
}

/** Flags that take a value, for the ion-sfu argv rewrite. */
const VALUE_FLAGS = new Set(['--config', ...OPTIONS.map((o) => o.flag)]);

function textSetting(o: ConfigOption, value: string, source: string, rank: number): Setting {
  try {
    return { source, rank, apply: o.read(value, 'text') };
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    const sep = source.startsWith('--') ? ' ' : '=';
    throw new ConfigError(`${source}${sep}${showValue(value)}: expected ${o.expected}${err.detail ? ` (${err.detail})` : ''}`);
  }
}

export type ReadFile = (path: string) => string;

const readUtf8: ReadFile = (path) => readFileSync(path, 'utf8');

/** Turns argv (without node and script) and the environment into an action. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = {}, readFile: ReadFile = readUtf8): CliAction {
  let parsed;
  try {
    parsed = parseArgs({
      args: rewriteIonArgv(argv, VALUE_FLAGS),
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(OPTIONS.map((o) => [o.name, { type: 'string' as const }])),
      },
    });
  } catch (err) {
    throw new ConfigError((err as Error).message, { cause: err });
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  if (flags.help) return { kind: 'help' };
  if (flags.version) return { kind: 'version' };

  const warnings: string[] = [];
  const checks: ((c: SfuConfig) => string | undefined)[] = [];
  let settings = new Map<string, Setting>();

  const file = typeof flags.config === 'string' ? flags.config : env.SFUD_CONFIG || undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFile(file);
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
    }
    const fromFile = parseConfigFile(text, file);
    settings = fromFile.settings;
    warnings.push(...fromFile.warnings);
    checks.push(...fromFile.checks);
  }
  // The file, then the environment over it, then flags over both.
  for (const o of OPTIONS) {
    const e = env[o.env];
    if (e !== undefined && e !== '') settings.set(o.name, textSetting(o, e, o.env, 100));
    const f = flags[o.name];
    if (typeof f === 'string') settings.set(o.name, textSetting(o, f, o.flag, 200));
  }

  const config = defaultConfig();
  for (const o of OPTIONS) settings.get(o.name)?.apply(config);
  if (!settings.has('announced-ip')) config.announcedIp = config.udpHost;
  validate(config, settings, warnings);
  for (const check of checks) {
    const m = check(config);
    if (m !== undefined) throw new ConfigError(m);
  }
  return { kind: 'run', config, warnings, configFile: file };
}

/** Rules across settings; `from` names where a value came from in the message. */
function validate(c: SfuConfig, settings: Map<string, Setting>, warnings: string[]): void {
  const from = (name: string): string => settings.get(name)?.source ?? `--${name}`;
  if (c.udpPort !== 0 && c.udpPort + c.shards - 1 > 65535) {
    throw new ConfigError(`${from('udp-port')} ${c.udpPort} with ${c.shards} shards runs past port 65535`);
  }
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) {
    const [have, missing] = c.tlsCert === undefined ? ['tls-key', 'tls-cert'] : ['tls-cert', 'tls-key'];
    throw new ConfigError(`${from(have)} is set but --${missing} is not: TLS needs both a certificate and its key`);
  }
  if (c.webhookSecret !== undefined && c.webhookUrl === undefined) warnings.push(`${from('webhook-secret')} is set without --webhook-url: no webhooks are sent`);
  if (c.listen.host !== '127.0.0.1' && c.listen.host !== '::1' && c.listen.host !== 'localhost' && c.tlsCert === undefined && c.jwtSecret === undefined) {
    warnings.push(`signalling listens on ${c.listen.host} without TLS or tokens: anyone who reaches it can join any room`);
  }
}
