/**
 * Value types for configuration: each one reads a value from text (a flag or
 * an environment variable) or from TOML (where the type must already match:
 * a port is an integer there, not a string), and says what it expected so a
 * refusal can name the key, the value and the type.
 */
import { isIP } from 'node:net';

/** Thrown by a value type; the caller adds where the value came from. */
export class ValueError extends Error {
  constructor(readonly detail?: string) {
    super(detail ?? 'invalid value');
  }
}

export interface ValueType<T> {
  /** What a valid value looks like, e.g. "an integer from 0 to 65535". */
  readonly expected: string;
  text(s: string): T;
  toml(v: unknown): T;
}

function wantString(v: unknown): string {
  if (typeof v !== 'string') throw new ValueError();
  return v;
}

/** A number in [min, max]: digits in text, a TOML number; `integer` also refuses fractions. */
function numeric(min: number, max: number, expected: string, integer: boolean): ValueType<number> {
  const text = integer ? /^\d+$/ : /^\d+(\.\d+)?$/;
  const check = (n: number): number => {
    if (!Number.isFinite(n) || (integer && !Number.isSafeInteger(n)) || n < min || n > max) throw new ValueError();
    return n;
  };
  return {
    expected,
    text: (s) => {
      if (!text.test(s)) throw new ValueError();
      return check(Number(s));
    },
    toml: (v) => {
      if (typeof v !== 'number') throw new ValueError();
      return check(v);
    },
  };
}

export function intType(min: number, max: number, expected = `an integer from ${min} to ${max}`): ValueType<number> {
  return numeric(min, max, expected, true);
}

export const portType = intType(0, 65535, 'a port number (an integer from 0 to 65535)');

/** A decimal number (rates, seconds). */
export function numberType(min: number, max: number, expected = `a number from ${min} to ${max}`): ValueType<number> {
  return numeric(min, max, expected, false);
}

export const boolType: ValueType<boolean> = {
  expected: 'true or false',
  text: (s) => {
    if (s === 'true') return true;
    if (s === 'false') return false;
    throw new ValueError();
  },
  toml: (v) => {
    if (typeof v !== 'boolean') throw new ValueError();
    return v;
  },
};

/** A type read from a string in both sources. */
export function stringy<T>(expected: string, parse: (s: string) => T): ValueType<T> {
  return { expected, text: parse, toml: (v) => parse(wantString(v)) };
}

export const ipType = stringy('an IP address', (s) => {
  if (isIP(s) === 0) throw new ValueError();
  return s;
});

export const pathType = stringy('a file path', (s) => {
  if (s.length === 0) throw new ValueError();
  return s;
});

export function secretType(minBytes: number): ValueType<string> {
  return stringy(`a string of at least ${minBytes} bytes`, (s) => {
    if (Buffer.byteLength(s) < minBytes) throw new ValueError(`it is ${Buffer.byteLength(s)} bytes long`);
    return s;
  });
}

export function enumType<T extends string>(values: readonly T[]): ValueType<T> {
  return stringy(`one of ${values.join(', ')}`, (s) => {
    const v = values.find((x) => x === s);
    if (v === undefined) throw new ValueError();
    return v;
  });
}

export const urlType = stringy('an http:// or https:// URL', (s) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ValueError();
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValueError();
  return u.href;
});

/**
 * "host:port", "[v6]:port" or ":port". A missing host is `emptyHost`:
 * 127.0.0.1 for sfud's own flags (all interfaces are never implied), 0.0.0.0
 * for ion-sfu's `-a :7000` style, where Go means every interface.
 */
export function hostPortType(emptyHost: string): ValueType<{ host: string; port: number }> {
  return stringy('HOST:PORT (e.g. 127.0.0.1:7000, [::1]:7000 or :7000)', (s) => {
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
    if (!m) throw new ValueError();
    if (m[1] !== undefined && isIP(m[1]) !== 6) throw new ValueError(`"${m[1]}" is not an IPv6 address`);
    return { host: m[1] ?? (m[2] || emptyHost), port: portType.text(m[3]!) };
  });
}

/** A list: comma-separated in text, an array of strings (or one string) in TOML. */
export function listType(expectedItem: string, item: (s: string) => string): ValueType<string[]> {
  const all = (items: string[]): string[] => items.map((s) => s.trim()).filter((s) => s.length > 0).map(item);
  return {
    expected: `a list of ${expectedItem}`,
    text: (s) => all(s.split(',')),
    toml: (v) => {
      if (typeof v === 'string') return all(v.split(','));
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ValueError();
      return all(v as string[]);
    },
  };
}

/** A browser origin, normalised as browsers send it (`https://app.example.com`), or `*`. */
export function parseOrigin(s: string): string {
  if (s === '*') return s;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ValueError(`"${s}" is not an origin`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search || u.hash || u.username) {
    throw new ValueError(`"${s}" is not an origin (scheme://host[:port], nothing after)`);
  }
  return u.origin;
}

/** An IP address or CIDR block (`10.0.0.0/8`, `::1/128`). */
export function parseCidr(s: string): string {
  const [addr = '', bits, extra] = s.split('/');
  const family = isIP(addr);
  if (family === 0 || extra !== undefined) throw new ValueError(`"${s}" is not an IP address or CIDR block`);
  if (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128))) {
    throw new ValueError(`"${s}" has a bad prefix length`);
  }
  return s;
}

/** How a value is shown in a message: strings quoted, TOML values as TOML-ish JSON. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
