/**
 * Configuration: embedded defaults (DESIGN.md "Defaults a newcomer gets"),
 * overridden by environment variables, overridden by flags. Parsing is pure
 * (argv and env in, a config or a ConfigError out) so it is unit-tested
 * without spawning the daemon.
 */
import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError } from './errors.js';
import { LOG_LEVELS } from './logger.js';
import type { LevelWithSilent } from 'pino';

export interface SfuConfig {
  /** Signalling (WebSocket /ws) and HTTP (JSON-RPC, /metrics, /health) address. */
  listen: { host: string; port: number };
  /** Media: the UDP port of the first shard (shard i listens on udpPort + i). */
  udpPort: number;
  /** Address bound for media. */
  udpHost: string;
  /** Address put in ICE candidates (for 1:1 NAT: the public address). */
  announcedIp: string;
  /** Data-plane shards (worker threads). */
  shards: number;
  logLevel: LevelWithSilent;
  /** Force pretty logs on/off; undefined = pretty on a TTY. */
  logPretty: boolean | undefined;
  /** Serve `/metrics` only here (ion-sfu's `-m`); undefined = on the signalling port. */
  metricsListen: { host: string; port: number } | undefined;
  /** POST lifecycle webhooks here (README "Webhooks"); needs `webhookSecret`. */
  webhookUrl: string | undefined;
  /** HMAC key of the webhook signature (environment only: flags show in `ps`). */
  webhookSecret: string | undefined;
}

export function defaultConfig(): SfuConfig {
  return {
    listen: { host: '127.0.0.1', port: 7000 },
    udpPort: 5000,
    udpHost: '127.0.0.1',
    announcedIp: '127.0.0.1',
    shards: availableParallelism(),
    logLevel: 'info',
    logPretty: undefined,
    metricsListen: undefined,
    webhookUrl: undefined,
    webhookSecret: undefined,
  };
}

export const HELP = `Usage: sfud [options]

A WebRTC SFU speaking ion-sfu's JSON-RPC protocol.

Options:
  --listen HOST:PORT     signalling and HTTP address        (default 127.0.0.1:7000, env SFUD_LISTEN)
  --udp-port PORT        media UDP port of the first shard  (default 5000, env SFUD_UDP_PORT)
  --udp-host HOST        address media is bound to          (default 127.0.0.1, env SFUD_UDP_HOST)
  --announced-ip IP      address given to clients in ICE candidates, for servers
                         behind 1:1 NAT                      (default: the media address, env SFUD_ANNOUNCED_IP)
  --shards N             data-plane worker threads          (default: number of cores, env SFUD_SHARDS;
                         accepted, not yet used: the data plane runs in the main thread)
  --log-level LEVEL      fatal|error|warn|info|debug|trace|silent (default info, env SFUD_LOG_LEVEL)
  --log-format FORMAT    pretty|json                        (default: pretty on a TTY, json otherwise)
  --metrics-listen HOST:PORT  serve /metrics only on this address (default: on --listen, env SFUD_METRICS_LISTEN)
  --webhook-url URL      POST room/participant/track events here, signed with the
                         secret in env SFUD_WEBHOOK_SECRET  (env SFUD_WEBHOOK_URL)
  -v, --version          print the version and exit
  -h, --help             print this help and exit
`;

export type CliAction = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: SfuConfig };

/** Parses "host:port", "[v6]:port" or ":port" (all interfaces are never implied: host defaults to 127.0.0.1). */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  if (!m) throw new ConfigError(`${what}: expected HOST:PORT, got "${value}"`);
  const host = m[1] ?? (m[2] || '127.0.0.1');
  if (m[1] !== undefined && isIP(m[1]) !== 6) throw new ConfigError(`${what}: "${m[1]}" is not an IPv6 address`);
  return { host, port: parsePort(m[3]!, what) };
}

function parsePort(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 0 || n > 65535) throw new ConfigError(`${what}: "${value}" is not a port number`);
  return n;
}

function parseIp(value: string, what: string): string {
  if (isIP(value) === 0) throw new ConfigError(`${what}: "${value}" is not an IP address`);
  return value;
}

function parseLevel(value: string, what: string): LevelWithSilent {
  const level = LOG_LEVELS.find((l) => l === value);
  if (!level) throw new ConfigError(`${what}: "${value}" is not one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

function parsePositiveInt(value: string, what: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new ConfigError(`${what}: "${value}" is not a whole number from 1 to ${max}`);
  return n;
}

function parseHttpUrl(value: string, what: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(`${what}: "${value}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${what}: "${value}" is not an http(s) URL`);
  return u.href;
}

function parseFormat(value: string, what: string): boolean {
  if (value === 'pretty') return true;
  if (value === 'json') return false;
  throw new ConfigError(`${what}: "${value}" is not pretty or json`);
}

/** Turns argv (without node and script) and the environment into an action. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = {}): CliAction {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        'udp-port': { type: 'string' },
        'udp-host': { type: 'string' },
        'announced-ip': { type: 'string' },
        shards: { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        'metrics-listen': { type: 'string' },
        'webhook-url': { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new ConfigError((err as Error).message, { cause: err });
  }
  const v = parsed.values;
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };

  const config = defaultConfig();
  // Each setting: the flag wins over the environment, which wins over the default.
  const pick = (flag: string | undefined, envName: string): [string, string] | undefined => {
    if (flag !== undefined) return [flag, `--${envName.slice(5).toLowerCase().replace(/_/g, '-')}`];
    const e = env[envName];
    return e !== undefined && e !== '' ? [e, envName] : undefined;
  };
  let s = pick(v.listen, 'SFUD_LISTEN');
  if (s) config.listen = parseHostPort(s[0], s[1]);
  s = pick(v['udp-port'], 'SFUD_UDP_PORT');
  if (s) config.udpPort = parsePort(s[0], s[1]);
  s = pick(v['udp-host'], 'SFUD_UDP_HOST');
  if (s) config.udpHost = parseIp(s[0], s[1]);
  s = pick(v['announced-ip'], 'SFUD_ANNOUNCED_IP');
  config.announcedIp = s ? parseIp(s[0], s[1]) : config.udpHost;
  s = pick(v.shards, 'SFUD_SHARDS');
  if (s) config.shards = parsePositiveInt(s[0], s[1], 256);
  s = pick(v['log-level'], 'SFUD_LOG_LEVEL');
  if (s) config.logLevel = parseLevel(s[0], s[1]);
  s = pick(v['log-format'], 'SFUD_LOG_FORMAT');
  if (s) config.logPretty = parseFormat(s[0], s[1]);
  s = pick(v['metrics-listen'], 'SFUD_METRICS_LISTEN');
  if (s) config.metricsListen = parseHostPort(s[0], s[1]);
  s = pick(v['webhook-url'], 'SFUD_WEBHOOK_URL');
  if (s) config.webhookUrl = parseHttpUrl(s[0], s[1]);
  if (env.SFUD_WEBHOOK_SECRET) config.webhookSecret = env.SFUD_WEBHOOK_SECRET;
  if (config.webhookUrl && !config.webhookSecret) throw new ConfigError(`${s?.[1] ?? 'SFUD_WEBHOOK_URL'} needs a signing secret in SFUD_WEBHOOK_SECRET`);
  if (config.udpPort + config.shards - 1 > 65535) {
    throw new ConfigError(`--udp-port ${config.udpPort} with ${config.shards} shards runs past port 65535`);
  }
  return { kind: 'run', config };
}
