/**
 * Every setting sfud has, described once: its flag, environment variable,
 * `sfu.toml` key, value type, default and meaning. The parser, `--help` and
 * the README "Configuration" section are all generated from OPTIONS, so they
 * cannot disagree.
 */
import { availableParallelism } from 'node:os';
import type { LevelWithSilent } from 'pino';
import { LOG_LEVELS } from '../logger.js';
import {
  enumType,
  hostPortType,
  intType,
  ipType,
  listType,
  numberType,
  parseCidr,
  parseOrigin,
  pathType,
  portType,
  secretType,
  stringy,
  urlType,
  ValueError,
  type ValueType,
} from './values.js';

export interface SfuConfig {
  /** Signalling (WebSocket /ws) and HTTP (JSON-RPC, /metrics, /health, /ready) address. */
  listen: { host: string; port: number };
  /** Media: the UDP port of the first shard (shard i listens on udpPort + i). */
  udpPort: number;
  /** Address bound for media. */
  udpHost: string;
  /** Address put in ICE candidates (for 1:1 NAT: the public address). */
  announcedIp: string;
  /**
   * Data-plane shards (worker threads). 0: the data plane runs in the main
   * thread (the library default, `Sfu.create()`); the daemon defaults to one per core.
   */
  shards: number;
  /**
   * Members of one room on one shard before new joiners of the room go to
   * another shard (its publishers' packets are then piped there, once per
   * shard). 0: a room never leaves its shard.
   */
  roomShardFanout: number;
  logLevel: LevelWithSilent;
  /** Force pretty logs on/off; undefined = pretty on a TTY. */
  logPretty: boolean | undefined;
  /** PEM files: with both, signalling and HTTP are served over TLS (wss://, https://). */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** A second, plain-HTTP listener serving only /metrics (ion-sfu's `-m`). */
  metricsListen: { host: string; port: number } | undefined;
  /** HS256 secret; when set, `join` needs a token and `/rpc` an admin token. */
  jwtSecret: string | undefined;
  /** Origins allowed to open /ws; empty: any. */
  allowedOrigins: string[];
  /** Largest WebSocket message. */
  maxMessageBytes: number;
  /** Largest SDP in join/offer/answer. */
  maxSdpBytes: number;
  /** Media sections a peer may publish (sending m-lines in its offers). */
  maxTracksPerPeer: number;
  /** Data channels a peer may open toward sfud. */
  maxDataChannelsPerPeer: number;
  /** Trickled candidates per transport (publisher and subscriber each). */
  maxCandidatesPerTransport: number;
  /** 0: no limit. */
  maxPeersPerRoom: number;
  /** WebSocket connections per second per client address (token bucket); 0: no limit. */
  ipConnectionRate: number;
  ipConnectionBurst: number;
  /** Joins per second per client address; 0: no limit. */
  ipJoinRate: number;
  ipJoinBurst: number;
  /** Addresses and CIDR blocks the rate limits do not apply to. */
  rateLimitExempt: string[];
  /** How long SIGTERM waits for calls to end before closing them. */
  drainTimeoutMs: number;
  /** Room and peer events are POSTed here (signed with webhookSecret). */
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
  /** A transport with no ICE traffic for this long is closed. */
  iceConsentTimeoutMs: number;
  /** ion-sfu's audio-level observer (router.audiolevel*). */
  audioLevelIntervalMs: number;
  audioLevelThreshold: number;
  audioLevelFilter: number;
  /** Last-N video per subscriber, and the room size from which it applies (0: never). */
  lastN: number;
  lastNMinParticipants: number;
  /** Forward only the K loudest audio streams (plus the dominant speaker); 0: all. */
  loudestK: number;
}

export function defaultConfig(): SfuConfig {
  return {
    listen: { host: '127.0.0.1', port: 7000 },
    udpPort: 5000,
    udpHost: '127.0.0.1',
    announcedIp: '127.0.0.1',
    shards: availableParallelism(),
    roomShardFanout: 400,
    logLevel: 'info',
    logPretty: undefined,
    tlsCert: undefined,
    tlsKey: undefined,
    metricsListen: undefined,
    jwtSecret: undefined,
    allowedOrigins: [],
    maxMessageBytes: 1024 * 1024,
    maxSdpBytes: 128 * 1024,
    maxTracksPerPeer: 16,
    maxDataChannelsPerPeer: 32,
    maxCandidatesPerTransport: 64,
    maxPeersPerRoom: 0,
    ipConnectionRate: 10,
    ipConnectionBurst: 20,
    ipJoinRate: 5,
    ipJoinBurst: 10,
    rateLimitExempt: ['127.0.0.0/8', '::1'],
    drainTimeoutMs: 30_000,
    webhookUrl: undefined,
    webhookSecret: undefined,
    iceConsentTimeoutMs: 30_000,
    audioLevelIntervalMs: 1000,
    audioLevelThreshold: 40,
    audioLevelFilter: 20,
    lastN: 9,
    lastNMinParticipants: 13,
    loudestK: 0,
  };
}

/** One option, typed; `option()` erases T so the list can hold them all. */
interface OptionSpec<T> {
  /** The flag without `--`; also the `[sfud]` key unless `toml` says otherwise. */
  name: string;
  /** `table.key` in sfu.toml; default `sfud.<name>`. */
  toml?: string;
  /** Placeholder in help: PORT, HOST:PORT ... */
  arg: string;
  type: ValueType<T>;
  /** The default as documented. */
  default: string;
  description: string;
  set(c: SfuConfig, v: T): void;
}

export interface ConfigOption {
  name: string;
  flag: string;
  env: string;
  /** `table.key` in sfu.toml. */
  toml: string;
  arg: string;
  expected: string;
  default: string;
  description: string;
  /** Parses a value (text from flags/env, native from TOML) into a setter; throws ValueError. */
  read(raw: unknown, from: 'text' | 'toml'): (c: SfuConfig) => void;
}

function option<T>(s: OptionSpec<T>): ConfigOption {
  return {
    name: s.name,
    flag: `--${s.name}`,
    env: `SFUD_${s.name.toUpperCase().replace(/-/g, '_')}`,
    toml: s.toml ?? `sfud.${s.name}`,
    arg: s.arg,
    expected: s.type.expected,
    default: s.default,
    description: s.description,
    read(raw, from) {
      const v = from === 'text' ? s.type.text(raw as string) : s.type.toml(raw);
      return (c) => s.set(c, v);
    },
  };
}

const seconds = (max: number): ValueType<number> => numberType(0, max, `a number of seconds from 0 to ${max}`);
const count = (max: number): ValueType<number> => intType(0, max);

export const OPTIONS: readonly ConfigOption[] = [
  option({
    name: 'listen',
    arg: 'HOST:PORT',
    type: hostPortType('127.0.0.1'),
    default: '127.0.0.1:7000',
    description: 'signalling (WebSocket `/ws`) and HTTP (`/rpc`, `/health`, `/ready`, `/metrics`) address; `:PORT` means 127.0.0.1',
    set: (c, v) => (c.listen = v),
  }),
  option({
    name: 'udp-port',
    arg: 'PORT',
    type: portType,
    default: '5000',
    description: 'media UDP port of the first shard (shard i uses PORT + i); 0 picks a free port',
    set: (c, v) => (c.udpPort = v),
  }),
  option({
    name: 'udp-host',
    arg: 'IP',
    type: ipType,
    default: '127.0.0.1',
    description: 'address media binds to',
    set: (c, v) => (c.udpHost = v),
  }),
  option({
    name: 'announced-ip',
    arg: 'IP',
    type: ipType,
    default: 'the media address',
    description: 'address given to clients in ICE candidates, for servers behind 1:1 NAT',
    set: (c, v) => (c.announcedIp = v),
  }),
  option({
    name: 'shards',
    arg: 'N',
    type: intType(0, 256),
    default: 'number of cores',
    description: 'data-plane worker threads, each with its own media port (`udp-port` + i); 0 runs the data plane in the main thread',
    set: (c, v) => (c.shards = v),
  }),
  option({
    name: 'room-shard-fanout',
    arg: 'N',
    type: intType(0, 1_000_000),
    default: '400',
    description:
      'members of one room on one shard before new joiners go to another shard (the publishers\' packets are piped there once per shard); 0 keeps every room on one shard',
    set: (c, v) => (c.roomShardFanout = v),
  }),
  option({
    name: 'log-level',
    arg: 'LEVEL',
    type: enumType(LOG_LEVELS),
    default: 'info',
    description: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`',
    set: (c, v) => (c.logLevel = v),
  }),
  option({
    name: 'log-format',
    arg: 'FORMAT',
    type: enumType(['pretty', 'json'] as const),
    default: 'pretty on a TTY, else json',
    description: '`pretty` or `json` log lines',
    set: (c, v) => (c.logPretty = v === 'pretty'),
  }),
  option({
    name: 'tls-cert',
    arg: 'FILE',
    type: pathType,
    default: 'none',
    description: 'PEM certificate (chain): serve `wss://` and `https://` (needs `--tls-key`)',
    set: (c, v) => (c.tlsCert = v),
  }),
  option({
    name: 'tls-key',
    arg: 'FILE',
    type: pathType,
    default: 'none',
    description: 'PEM private key for `--tls-cert`',
    set: (c, v) => (c.tlsKey = v),
  }),
  option({
    name: 'metrics-listen',
    arg: 'HOST:PORT',
    type: hostPortType('127.0.0.1'),
    default: 'none',
    description: 'also serve `/metrics` on this separate plain-HTTP address (ion-sfu `-m`)',
    set: (c, v) => (c.metricsListen = v),
  }),
  option({
    name: 'jwt-secret',
    arg: 'SECRET',
    type: secretType(32),
    default: 'none (no tokens)',
    description: 'HS256 secret, at least 32 bytes: `join` then needs a token, `/rpc` an admin token (see Security)',
    set: (c, v) => (c.jwtSecret = v),
  }),
  option({
    name: 'allowed-origins',
    arg: 'LIST',
    type: listType('origins (https://app.example.com) or *', (s) => {
      try {
        return parseOrigin(s);
      } catch (err) {
        throw err instanceof ValueError ? err : new ValueError();
      }
    }),
    default: 'any',
    description: 'comma-separated browser origins allowed to open `/ws`; others get 403 (clients sending no Origin are allowed)',
    set: (c, v) => (c.allowedOrigins = v),
  }),
  option({
    name: 'max-message-bytes',
    arg: 'N',
    type: intType(1024, 16 * 1024 * 1024),
    default: '1048576',
    description: 'largest WebSocket message; a bigger one closes the socket with 1009',
    set: (c, v) => (c.maxMessageBytes = v),
  }),
  option({
    name: 'max-sdp-bytes',
    arg: 'N',
    type: intType(256, 128 * 1024),
    default: '131072',
    description: 'largest SDP in `join`, `offer`, `answer` (error 413)',
    set: (c, v) => (c.maxSdpBytes = v),
  }),
  option({
    name: 'max-tracks-per-peer',
    arg: 'N',
    type: count(1024),
    default: '16',
    description: 'media sections a peer may publish (error 413)',
    set: (c, v) => (c.maxTracksPerPeer = v),
  }),
  option({
    name: 'max-data-channels-per-peer',
    arg: 'N',
    type: count(1024),
    default: '32',
    description: 'data channels a peer may open toward sfud; more are closed at once',
    set: (c, v) => (c.maxDataChannelsPerPeer = v),
  }),
  option({
    name: 'max-candidates-per-transport',
    arg: 'N',
    type: count(10_000),
    default: '64',
    description: 'trickled ICE candidates per transport (error 413)',
    set: (c, v) => (c.maxCandidatesPerTransport = v),
  }),
  option({
    name: 'max-peers-per-room',
    arg: 'N',
    type: count(1_000_000),
    default: '0 (no limit)',
    description: 'peers in one room; a join beyond gets error 429',
    set: (c, v) => (c.maxPeersPerRoom = v),
  }),
  option({
    name: 'ip-connection-rate',
    arg: 'PER_SEC',
    type: numberType(0, 1_000_000),
    default: '10',
    description: 'WebSocket connections per second per client address (HTTP 429 beyond); 0: no limit',
    set: (c, v) => (c.ipConnectionRate = v),
  }),
  option({
    name: 'ip-connection-burst',
    arg: 'N',
    type: intType(1, 1_000_000),
    default: '20',
    description: 'connections a client address may open at once before the rate applies',
    set: (c, v) => (c.ipConnectionBurst = v),
  }),
  option({
    name: 'ip-join-rate',
    arg: 'PER_SEC',
    type: numberType(0, 1_000_000),
    default: '5',
    description: '`join` calls per second per client address (error 429 beyond); 0: no limit',
    set: (c, v) => (c.ipJoinRate = v),
  }),
  option({
    name: 'ip-join-burst',
    arg: 'N',
    type: intType(1, 1_000_000),
    default: '10',
    description: 'joins a client address may make at once before the rate applies',
    set: (c, v) => (c.ipJoinBurst = v),
  }),
  option({
    name: 'rate-limit-exempt',
    arg: 'LIST',
    type: listType('IP addresses or CIDR blocks', parseCidr),
    default: '127.0.0.0/8,::1',
    description: 'client addresses the rate limits skip; empty it when a reverse proxy on this host forwards clients',
    set: (c, v) => (c.rateLimitExempt = v),
  }),
  option({
    name: 'drain-timeout',
    arg: 'SECONDS',
    type: seconds(86_400),
    default: '30',
    description: 'on SIGTERM, how long calls may go on before sfud closes them and exits (SIGINT: at most 2 s)',
    set: (c, v) => (c.drainTimeoutMs = Math.round(v * 1000)),
  }),
  option({
    name: 'webhook-url',
    arg: 'URL',
    type: urlType,
    default: 'none',
    description: 'room and peer events are POSTed here',
    set: (c, v) => (c.webhookUrl = v),
  }),
  option({
    name: 'webhook-secret',
    arg: 'SECRET',
    type: stringy('a non-empty string', (s) => {
      if (s.length === 0) throw new ValueError();
      return s;
    }),
    default: 'none',
    description: 'key that signs webhook requests',
    set: (c, v) => (c.webhookSecret = v),
  }),
  option({
    name: 'ice-consent-timeout',
    arg: 'SECONDS',
    type: numberType(1, 3600, 'a number of seconds from 1 to 3600'),
    default: '30',
    description: 'a transport without ICE traffic for this long is closed (RFC 7675)',
    set: (c, v) => (c.iceConsentTimeoutMs = Math.round(v * 1000)),
  }),
  option({
    name: 'audio-level-interval',
    toml: 'router.audiolevelinterval',
    arg: 'MS',
    type: intType(0, 60_000),
    default: '1000',
    description: 'how often `audioLevels` is computed, in ms (0 means 1000)',
    set: (c, v) => (c.audioLevelIntervalMs = v),
  }),
  option({
    name: 'audio-level-threshold',
    toml: 'router.audiolevelthreshold',
    arg: 'DBOV',
    type: intType(0, 255),
    default: '40',
    description: 'audio louder than this (0 loudest, 127 silence) counts as speech',
    set: (c, v) => (c.audioLevelThreshold = v),
  }),
  option({
    name: 'audio-level-filter',
    toml: 'router.audiolevelfilter',
    arg: 'PERCENT',
    type: intType(0, 100),
    default: '20',
    description: 'share of an interval\'s packets that must be speech for a stream to be a speaker',
    set: (c, v) => (c.audioLevelFilter = v),
  }),
  option({
    name: 'last-n',
    arg: 'N',
    type: intType(0, 1000),
    default: '9',
    description: 'under last-N, each subscriber receives video of at most N other publishers (the most relevant)',
    set: (c, v) => (c.lastN = v),
  }),
  option({
    name: 'last-n-min-participants',
    arg: 'COUNT',
    type: intType(0, 100_000),
    default: '13',
    description: 'last-N applies in rooms of at least this many participants (0: never)',
    set: (c, v) => (c.lastNMinParticipants = v),
  }),
  option({
    name: 'loudest-k',
    arg: 'K',
    type: intType(0, 1000),
    default: '0',
    description: 'forward only the K loudest audio streams plus the dominant speaker (0: all)',
    set: (c, v) => (c.loudestK = v),
  }),
];

export const OPTION_BY_NAME: ReadonlyMap<string, ConfigOption> = new Map(OPTIONS.map((o) => [o.name, o]));
export const OPTION_BY_TOML: ReadonlyMap<string, ConfigOption> = new Map(OPTIONS.map((o) => [o.toml, o]));

/** Options of the command line itself (not settings): documented with the others. */
export const CLI_ONLY = [
  { flag: '-c, --config FILE', env: 'SFUD_CONFIG', description: 'an ion-sfu style `sfu.toml` (see below)' },
  { flag: '-v, --version', env: '', description: 'print the version and exit' },
  { flag: '-h, --help', env: '', description: 'print this help and exit' },
] as const;
