/**
 * Shared scratch memory and word helpers for the SRTP transforms.
 *
 * Every transform runs synchronously to completion, so one set of buffers per
 * thread (module instance) serves all contexts: no per-packet allocation and
 * no per-context copy of 130 KB. The buffers are 4-byte aligned so the XOR and
 * GHASH loops can run over Int32Array words instead of bytes (1188 bytes:
 * byte loop 1.4 us, word loop 0.26 us on Node 20; bench/micro/srtp.ts "XOR").
 *
 * Words are in the platform's native byte order; `nat()` converts a
 * big-endian (network order) value into the native word holding those bytes,
 * so the same code is right on little- and big-endian hosts.
 */

import { createCipheriv, type Cipher } from 'node:crypto';

/** Largest SRTP/SRTCP packet we process (a UDP datagram can carry no more). */
export const MAX_PACKET = 65_536;

/** Work area: 64-byte HMAC pad block + packet + ROC + 64 bytes of GCM padding/length/tag. */
export const WORK_BYTES = 64 + MAX_PACKET + 128;
const workBuffer = new ArrayBuffer(WORK_BYTES);
export const work8 = new Uint8Array(workBuffer);
export const work32 = new Int32Array(workBuffer);

/** Counter blocks for the ECB keystream: enough for MAX_PACKET plus GCM's J0 block. */
export const MAX_BLOCKS = (MAX_PACKET >>> 4) + 2;
const ctrBuffer = new ArrayBuffer(MAX_BLOCKS * 16);
export const ctr8 = new Uint8Array(ctrBuffer);
export const ctr32 = new Int32Array(ctrBuffer);

export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Native word whose bytes in memory are the big-endian encoding of `x`. */
export function nat(x: number): number {
  if (!LITTLE_ENDIAN) return x | 0;
  return ((x >>> 24) | ((x >>> 8) & 0xff00) | ((x & 0xff00) << 8) | (x << 24)) | 0;
}

/**
 * `counterWord[n]` = native word of the big-endian 32-bit value n; the last
 * word of counter block n for both AES-CM (16-bit block counter in bytes
 * 14-15, RFC 3711 4.1.1) and GCM (32-bit counter, RFC 7714 / SP 800-38D).
 */
export const counterWord = new Int32Array(MAX_BLOCKS + 1);
for (let n = 0; n <= MAX_BLOCKS; n++) counterWord[n] = nat(n);

/**
 * Views of the first n counter blocks, created on first use and reused:
 * `Cipher.update()` needs a view of the right length.
 */
const ctrViews: (Uint8Array | undefined)[] = [];
export function counterBlocks(n: number): Uint8Array {
  let v = ctrViews[n];
  if (v === undefined) {
    v = ctr8.subarray(0, n * 16);
    ctrViews[n] = v;
  }
  return v;
}

/**
 * Native-word view of a keystream buffer returned by `Cipher.update()`.
 * Node returns a fresh, offset-0 buffer today; copy into `ksCopy` if not aligned.
 */
const ksCopy = new Int32Array(MAX_BLOCKS * 4);
export function words(b: Buffer): Int32Array {
  if ((b.byteOffset & 3) === 0) return new Int32Array(b.buffer, b.byteOffset, b.length >>> 2);
  new Uint8Array(ksCopy.buffer).set(b);
  return ksCopy;
}

/**
 * A long-lived AES-128-ECB encryptor. Fed counter blocks it yields AES-CM /
 * GCM-CTR keystream without creating a cipher per packet (the dominant cost of
 * the naive path). NOTE: only `update()` is ever called, never `final()`.
 */
export function createEcb(key: Uint8Array): Cipher {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return c;
}

/** The first `wordCount` * 4 bytes of `b` (zero-padded) as native words; for salts at setup. */
export function nativeWords(b: Uint8Array, wordCount: number): Int32Array {
  const out = new Int32Array(wordCount);
  new Uint8Array(out.buffer).set(b.subarray(0, Math.min(b.length, wordCount * 4)));
  return out;
}
