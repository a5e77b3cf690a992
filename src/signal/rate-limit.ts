/**
 * Per-client-address token buckets for connections and joins. Memory is
 * bounded: at most `maxKeys` buckets, least recently used evicted first (an
 * evicted address starts again with a full bucket, which costs an attacker
 * rotating through more than `maxKeys` addresses nothing it did not have).
 * IPv6 clients are keyed by their /64, since one host usually owns a whole one.
 */
import { BlockList, isIP } from 'node:net';
import { systemClock, type Clock } from '../util/clock.js';

export interface RateLimiterOptions {
  /** Tokens added per second; 0 disables the limiter. */
  ratePerSec: number;
  /** Bucket size: what a client may do at once. */
  burst: number;
  maxKeys?: number;
  clock?: Clock;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxKeys: number;
  private readonly clock: Clock;
  evicted = 0;

  constructor(opts: RateLimiterOptions) {
    this.rate = opts.ratePerSec;
    this.burst = Math.max(1, opts.burst);
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.clock = opts.clock ?? systemClock;
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    if (this.rate <= 0) return true;
    const now = this.clock.now();
    let b = this.buckets.get(key);
    if (b) {
      // Re-inserting keeps the map in least-recently-used order.
      this.buckets.delete(key);
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000);
      b.at = now;
    } else {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
        this.evicted++;
      }
      b = { tokens: this.burst, at: now };
    }
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** `::ffff:a.b.c.d` is an IPv4 client. */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** The first four groups of an IPv6 address, expanded. */
function ipv6Prefix64(address: string): string {
  const a = address.split('%', 1)[0]!.toLowerCase();
  const [head = '', tail] = a.split('::');
  const groups = (s: string): string[] => (s ? s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/** The rate-limit key of a client address. */
export function clientKey(address: string): string {
  const plain = plainAddress(address);
  return isIP(plain) === 6 ? ipv6Prefix64(plain) : plain;
}

/** Addresses and CIDR blocks (`127.0.0.0/8`, `::1`) that rate limits skip. */
export function exemptList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr = '', bits] = e.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

export function isExempt(list: BlockList, address: string): boolean {
  const plain = plainAddress(address);
  const family = isIP(plain);
  if (family === 0) return false;
  return list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
}
