/**
 * SHA-1 compression (FIPS 180-4 section 6.1.2) and the HMAC-SHA1 split used by
 * the AES-CM profile (RFC 2104: HMAC = H(K^opad || H(K^ipad || m))).
 *
 * The inner hash runs natively over ipad||message (one `crypto.hash()` call);
 * only the outer hash is JS: its first block (K^opad) is folded into a state
 * once per key, leaving one compression per packet. Measured against
 * `createHmac()` per packet in bench/micro/srtp.ts ("hmac").
 */

import * as crypto from 'node:crypto';

const W = new Int32Array(80);

/** Compresses the 16 big-endian words already in `W[0..16)` into `state` (5 words). */
function compressW(state: Int32Array): void {
  for (let i = 16; i < 80; i++) {
    const x = W[i - 3]! ^ W[i - 8]! ^ W[i - 14]! ^ W[i - 16]!;
    W[i] = (x << 1) | (x >>> 31);
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  for (let i = 0; i < 20; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + W[i]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 20; i < 40; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + W[i]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 40; i < 60; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e - 0x70e44324 + W[i]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 60; i < 80; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e - 0x359d3e2a + W[i]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
}

function loadBlock(bytes: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const p = off + i * 4;
    W[i] = (bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
  }
}

function initialState(): Int32Array {
  return new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0]);
}

/** Inner hash one-shot: `crypto.hash` (Node >= 20.12 / 21.7) or a Hash object on older runtimes. */
const hashFn = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;
export const sha1: (data: Uint8Array) => Buffer =
  typeof hashFn === 'function'
    ? (data) => hashFn('sha1', data, 'buffer')
    : (data) => crypto.createHash('sha1').update(data).digest();

/** Per-key HMAC-SHA1 material: the ipad block to prepend, the outer state after K^opad. */
export class HmacSha1Key {
  /** K ^ 0x36.. as 16 native words, copied in front of each message. */
  readonly ipad: Int32Array;
  /** SHA-1 state after compressing K ^ 0x5c.. */
  readonly outer: Int32Array;

  constructor(key: Uint8Array) {
    // RFC 2104: keys longer than the block are hashed first (never the case for SRTP's 20 bytes).
    const k = key.length > 64 ? crypto.createHash('sha1').update(key).digest() : key;
    const ip = new Uint8Array(64).fill(0x36);
    const op = new Uint8Array(64).fill(0x5c);
    for (let i = 0; i < k.length; i++) {
      ip[i]! ^= k[i]!;
      op[i]! ^= k[i]!;
    }
    this.ipad = new Int32Array(ip.buffer);
    this.outer = initialState();
    loadBlock(op, 0);
    compressW(this.outer);
  }
}

const outState = new Int32Array(5);

/**
 * Finishes HMAC-SHA1 given the 20-byte inner digest: one compression of
 * digest || 0x80 || 0.. || bitlen(64 + 20). Result in the returned 5-word
 * state (big-endian words, shared scratch: read it before the next call).
 */
export function hmacOuter(key: HmacSha1Key, inner: Uint8Array): Int32Array {
  outState.set(key.outer);
  for (let i = 0; i < 5; i++) {
    const p = i * 4;
    W[i] = (inner[p]! << 24) | (inner[p + 1]! << 16) | (inner[p + 2]! << 8) | inner[p + 3]!;
  }
  W[5] = 0x80000000 | 0;
  for (let i = 6; i < 15; i++) W[i] = 0;
  W[15] = (64 + 20) * 8;
  compressW(outState);
  return outState;
}
