/**
 * ion-sfu's `sfu.toml` keys (shared/reference/ion-sfu-protocol.md section 4)
 * and what each means in sfud: set an sfud option, or be accepted with a
 * warning that it has no effect. Keys that ask for what sfud does anyway
 * (`icelite = true`, `sdpsemantics = "unified-plan"`) stay silent, so a
 * stock ion-sfu file warns only where behaviour really differs.
 *
 * The `[router] audiolevel*` keys are plain sfud options (options.ts).
 */
import { boolType, intType, ipType, numberType, portType, stringy, ValueError, type ValueType } from './values.js';

/** What a key handler may do with its value. */
export interface IonKeyContext {
  /** Gives an sfud option a value (native TOML form), ranked against other keys naming the same option. */
  set(option: string, value: unknown, rank: number): void;
  warn(message: string): void;
  /** A check that runs on the final configuration; return an error message or undefined. */
  check(fn: (c: { udpPort: number; shards: number }) => string | undefined): void;
}

interface IonKeySpec<T> {
  /** Lower-case `table.key`, or a whole table for `table: true`. */
  key: string;
  table?: boolean;
  /** How the docs show it, when not `[table] key` / `[table]`. */
  display?: string;
  type: ValueType<T>;
  /** What sfud does with it, for the docs. */
  meaning: string;
  apply(v: T, ctx: IonKeyContext, shown: string): void;
}

export interface IonKey {
  key: string;
  table: boolean;
  display: string | undefined;
  meaning: string;
  expected: string;
  read(raw: unknown): (ctx: IonKeyContext, shown: string) => void;
}

function ionKey<T>(s: IonKeySpec<T>): IonKey {
  return {
    key: s.key,
    table: s.table ?? false,
    display: s.display,
    meaning: s.meaning,
    expected: s.type.expected,
    read(raw) {
      const v = s.type.toml(raw);
      return (ctx, shown) => s.apply(v, ctx, shown);
    },
  };
}

/** Rank of a key that sets an sfud option: the option's own `[sfud]` key beats every alias. */
export const RANK_OWN_KEY = 10;

const noEffect = (shown: string, why: string): string => `${shown} has no effect in sfud: ${why}`;

/** A key sfud accepts without using: it warns (saying `why`) only when the value asks for something sfud does not do. */
function unused<T>(key: string, type: ValueType<T>, meaning: string, warnIf: (v: T) => boolean, why: string): IonKey {
  return ionKey({
    key,
    type,
    meaning,
    apply: (v, ctx, shown) => {
      if (warnIf(v)) ctx.warn(noEffect(shown, why));
    },
  });
}
const never = (): boolean => false;

const anyValue: ValueType<unknown> = { expected: 'any value', text: (s) => s, toml: (v) => v };
const tableValue: ValueType<Record<string, unknown>> = {
  expected: 'a table',
  text: () => {
    throw new ValueError();
  },
  toml: (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValueError();
    return v as Record<string, unknown>;
  },
};
const nonNegativeInt = intType(0, Number.MAX_SAFE_INTEGER, 'a non-negative integer');
const portRange: ValueType<[number, number]> = {
  expected: 'two port numbers [min, max] with min <= max',
  text: () => {
    throw new ValueError();
  },
  toml: (v) => {
    if (!Array.isArray(v) || v.length !== 2) throw new ValueError();
    const min = portType.toml(v[0]);
    const max = portType.toml(v[1]);
    if (min > max) throw new ValueError();
    return [min, max];
  },
};
const ipList: ValueType<string[]> = {
  expected: 'a list of IP addresses',
  text: () => {
    throw new ValueError();
  },
  toml: (v) => {
    if (!Array.isArray(v)) throw new ValueError();
    return v.map((x) => ipType.toml(x));
  },
};
const semantics = stringy('one of unified-plan, plan-b, unified-plan-with-fallback', (s) => {
  if (s !== 'unified-plan' && s !== 'plan-b' && s !== 'unified-plan-with-fallback') throw new ValueError();
  return s;
});
const timeoutSeconds = numberType(0, 3600, 'a number of seconds from 0 to 3600');

/** One value of a table handled as a whole; a bad one is refused naming the key. */
function tableEntry<T>(table: Record<string, unknown>, key: string, type: ValueType<T>, shown: string): T | undefined {
  const v = table[key];
  if (v === undefined) return undefined;
  try {
    return type.toml(v);
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    throw new ValueError(`${shown} ${key} = ${JSON.stringify(v)}: expected ${type.expected}`);
  }
}

export const ION_KEYS: readonly IonKey[] = [
  unused('sfu.ballast', nonNegativeInt, 'no effect: Node sizes its own heap (warns when over 0)', (v) => v > 0, 'Node sizes its own heap'),
  unused('sfu.withstats', boolType, 'no effect: sfud always counts and serves Prometheus metrics at `/metrics`', never, ''),
  unused('router.withstats', boolType, 'no effect, as `[sfu] withstats`', never, ''),
  unused(
    'router.maxbandwidth',
    nonNegativeInt,
    "no effect: sfud does not cap publishers' bandwidth estimate (warns when over 0)",
    (v) => v > 0,
    'sfud does not cap the bandwidth estimate it sends publishers',
  ),
  unused(
    'router.maxpackettrack',
    nonNegativeInt,
    "no effect: sfud's NACK window and retransmission store have fixed sizes (warns when over 0)",
    (v) => v > 0,
    'the NACK window and retransmission store have fixed sizes',
  ),
  unused(
    'router.simulcast.bestqualityfirst',
    boolType,
    '`true` is what sfud does (new subscribers aim at the highest layer); `false` warns: no effect',
    (v) => !v,
    'new subscribers always aim at the highest simulcast layer',
  ),
  unused('router.simulcast.enabletemporallayer', boolType, 'no effect (ion-sfu does not use it either); sfud always handles temporal layers', never, ''),
  ionKey({
    key: 'webrtc.singleport',
    type: portType,
    meaning: '`udp-port` (wins over `portrange`, as in ion-sfu)',
    apply: (v, ctx) => ctx.set('udp-port', v, 2),
  }),
  ionKey({
    key: 'webrtc.portrange',
    type: portRange,
    meaning: '`udp-port` = the range\'s first port; every shard\'s port must fit in the range',
    apply: ([min, max], ctx, shown) => {
      ctx.set('udp-port', min, 1);
      ctx.check((c) =>
        c.udpPort === min && min + c.shards - 1 > max
          ? `${shown} = [${min}, ${max}] has ${max - min + 1} ports, but ${c.shards} shards need ports ${min}-${min + c.shards - 1}`
          : undefined,
      );
    },
  }),
  ionKey({
    key: 'webrtc.iceserver',
    table: true,
    display: '[[webrtc.iceserver]]',
    type: anyValue,
    meaning: 'no effect (warns): an ICE-lite server gathers no candidates of its own',
    apply: (_v, ctx, shown) => ctx.warn(noEffect(shown, 'an ICE-lite server gathers no candidates of its own')),
  }),
  unused(
    'webrtc.sdpsemantics',
    semantics,
    '`unified-plan` is what sfud speaks; `plan-b` and `unified-plan-with-fallback` warn: no effect',
    (v) => v !== 'unified-plan',
    'sfud speaks unified plan only',
  ),
  unused('webrtc.mdns', boolType, '`true` warns: no effect, sfud puts IP addresses in its candidates', (v) => v, 'sfud puts IP addresses, never mDNS names, in its candidates'),
  unused('webrtc.candidates.icelite', boolType, '`true` is what sfud does; `false` warns: sfud is always ICE-lite', (v) => !v, 'sfud is always ICE-lite'),
  ionKey({
    key: 'webrtc.candidates.nat1to1',
    type: ipList,
    meaning: '`announced-ip` = the first address (more warn)',
    apply: (v, ctx, shown) => {
      if (v[0] !== undefined) ctx.set('announced-ip', v[0], 1);
      if (v.length > 1) ctx.warn(`${shown}: sfud announces one address; ${v.slice(1).join(', ')} ignored`);
    },
  }),
  ionKey({
    key: 'webrtc.timeouts',
    table: true,
    type: tableValue,
    meaning:
      '`disconnected` + `failed`: `ice-consent-timeout` (ion-sfu closes a silent connection after both; when their sum is over 0); `keepalive`: no effect, clients send the keepalives (warns when over 0)',
    apply: (v, ctx, shown) => {
      const t = Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), x]));
      const disconnected = tableEntry(t, 'disconnected', timeoutSeconds, shown) ?? 0;
      const failed = tableEntry(t, 'failed', timeoutSeconds, shown) ?? 0;
      const keepalive = tableEntry(t, 'keepalive', timeoutSeconds, shown) ?? 0;
      if (disconnected + failed > 0) ctx.set('ice-consent-timeout', disconnected + failed, 1);
      if (keepalive > 0) ctx.warn(noEffect(`${shown} keepalive`, 'an ICE-lite server sends no keepalives; clients do'));
      for (const k of Object.keys(t)) if (k !== 'disconnected' && k !== 'failed' && k !== 'keepalive') ctx.warn(`unknown key ${shown} ${k}, ignored`);
    },
  }),
  ionKey({
    key: 'turn',
    table: true,
    type: tableValue,
    meaning: 'not supported: warns when `enabled = true` (run a TURN server such as coturn beside sfud)',
    apply: (v, ctx) => {
      const enabled = Object.entries(v).find(([k]) => k.toLowerCase() === 'enabled')?.[1];
      if (enabled === true) ctx.warn('[turn] enabled = true: sfud has no embedded TURN server; none is started (run one such as coturn beside sfud)');
    },
  }),
  ionKey({
    key: 'log.v',
    type: intType(-1000, 1000, 'an integer'),
    meaning: '`log-level`: 0 or less `info`, 1 `debug`, 2 and more `trace`',
    apply: (v, ctx) => ctx.set('log-level', v <= 0 ? 'info' : v === 1 ? 'debug' : 'trace', 1),
  }),
  ionKey({
    key: 'grpc',
    table: true,
    type: anyValue,
    meaning: 'not supported (warns): sfud signals over JSON-RPC only',
    apply: (_v, ctx) => ctx.warn('[grpc]: sfud has no gRPC signalling; use JSON-RPC over /ws or HTTP JSON-RPC at /rpc'),
  }),
];

export const ION_KEY_BY_PATH: ReadonlyMap<string, IonKey> = new Map(ION_KEYS.map((k) => [k.key, k]));
