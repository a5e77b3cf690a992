/**
 * SRTP_AEAD_AES_128_GCM, RFC 7714.
 *
 * SRTP (sections 8.1, 9):                   SRTCP (sections 9.1, 17):
 *   IV  = (0^16 || SSRC || ROC || SEQ)         IV  = (0^16 || SSRC || 0^16 || 0 || index31)
 *         XOR salt (96 bits)                         XOR salt
 *   AAD = RTP header                           AAD = first 8 bytes || E || index31
 *   out = header || C || tag(128)              out = 8 bytes || C || tag(128) || E || index31
 *
 * GCM (NIST SP 800-38D): J0 = IV || 0^31 || 1; C = P XOR AES-CTR(J0 + 1 ..);
 * tag = GHASH_H(AAD, C) XOR AES(K, J0), H = AES(K, 0^128).
 *
 * How: two arrangements, picked per packet by payload size (bench/micro/srtp.ts,
 * group "GCM protect by payload size", has the crossover on Node 20 and 24):
 * - Small payloads (audio, RTCP feedback): J0 and the payload's counter
 *   blocks go through one long-lived AES-ECB cipher in one `update()`, and
 *   GHASH is the table-driven JS of ghash.ts over an aligned work area laid
 *   out as [AAD | 0-pad | C | 0-pad | lengths]. About 2x faster than a cipher
 *   object per packet below ~400 bytes.
 * - Large payloads (video): one `createCipheriv('aes-128-gcm')` per packet
 *   with a per-context KeyObject. JS GHASH costs ~50-65 ns per 16-byte block, so
 *   for a 1200-byte packet OpenSSL's GCM wins despite the object creation
 *   (~6.7 us vs ~9 us on Node 20 and 24). NOTE: the KeyObject matters: with a
 *   raw Buffer key Node 24 (OpenSSL 3.5) takes ~28 us per createCipheriv,
 *   with a KeyObject ~6.6 us, the same as Node 20.
 */

import { createCipheriv, createDecipheriv, createSecretKey, type Cipher, type KeyObject } from 'node:crypto';
import { ghash, ghashTables, type GhashTables } from './ghash.js';
import type { SrtpSessionKeys } from './kdf.js';
import type { SrtpTransform } from './transform.js';
import { counterBlocks, counterWord, createEcb, ctr32, nat, nativeWords, words, work32, work8 } from './work.js';

const TAG = 16;
const y = new Int32Array(4);

/**
 * Default largest payload (bytes) that takes the JS path; above it, OpenSSL
 * per packet. Measured crossovers (Node 20 and 24): SRTP with 8-bit GHASH
 * tables ~600-800 bytes; SRTCP with 4-bit tables (~1.65x slower per block)
 * ~400-500. Set a little below, since the OpenSSL cost is the flatter one.
 */
export const GCM_JS_MAX_RTP_PAYLOAD = 512;
export const GCM_JS_MAX_RTCP_PAYLOAD = 384;

/** Scratch for the OpenSSL path: the 12-byte IV and the 12-byte SRTCP AAD. */
const ivBuf = Buffer.alloc(12);
const ivWords = new Int32Array(ivBuf.buffer, ivBuf.byteOffset, 3);
const aadBuf = Buffer.alloc(12);

interface GcmKey {
  readonly ecb: Cipher;
  /** For `createCipheriv()`: a KeyObject skips the per-call key import (see the header). */
  readonly key: KeyObject;
  /** The 12-byte salt as 3 native words. */
  readonly salt: Int32Array;
  /** GHASH tables for H = AES(K, 0^128). */
  readonly tables: GhashTables;
}

function gcmKey(key: Uint8Array, salt: Uint8Array, ghashBits: 4 | 8): GcmKey {
  const ecb = createEcb(key);
  const h = ecb.update(new Uint8Array(16));
  return { ecb, key: createSecretKey(key), salt: nativeWords(salt.subarray(0, 12), 3), tables: ghashTables(h, ghashBits) };
}

/**
 * Keystream for J0 (words 0..3) and `len` bytes of payload (from word 4) for
 * IV = salt XOR (i0, i1, i2) given as native words.
 */
function keystream(k: GcmKey, i0: number, i1: number, i2: number, len: number): Int32Array {
  const nb = 1 + ((len + 15) >>> 4);
  const s0 = k.salt[0]! ^ i0;
  const s1 = k.salt[1]! ^ i1;
  const s2 = k.salt[2]! ^ i2;
  for (let i = 0, p = 0; i < nb; i++, p += 4) {
    ctr32[p] = s0;
    ctr32[p + 1] = s1;
    ctr32[p + 2] = s2;
    ctr32[p + 3] = counterWord[i + 1]!;
  }
  return words(k.ecb.update(counterBlocks(nb)));
}

/** XORs `len` bytes at work word `wordOff` with ks from word 4, then re-zeroes the pad to 16 bytes. */
function xorPayload(ks: Int32Array, wordOff: number, len: number): void {
  const nw = (len + 3) >>> 2;
  for (let i = 0; i < nw; i++) work32[wordOff + i]! ^= ks[i + 4]!;
  const start = wordOff * 4;
  work8.fill(0, start + len, start + ((len + 15) & ~15));
}

/**
 * GHASH over work words [0, end/4) plus the length block (aadLen, cLen bytes)
 * written at byte `end`; leaves tag = GHASH XOR AES(K, J0) in `y`.
 */
function tag(k: GcmKey, ks: Int32Array, end: number, aadLen: number, cLen: number): void {
  const w = end >>> 2;
  work32[w] = 0;
  work32[w + 1] = nat(aadLen * 8);
  work32[w + 2] = 0;
  work32[w + 3] = nat(cLen * 8);
  y[0] = 0;
  y[1] = 0;
  y[2] = 0;
  y[3] = 0;
  ghash(k.tables, y, work32, 0, w + 4);
  y[0] ^= ks[0]!;
  y[1] ^= ks[1]!;
  y[2] ^= ks[2]!;
  y[3] ^= ks[3]!;
}

/** Writes the tag in `y` at dst[off] (via the aligned scratch at byte `scratch`). */
function writeTag(scratch: number, dst: Uint8Array, off: number): void {
  const w = scratch >>> 2;
  work32[w] = y[0]!;
  work32[w + 1] = y[1]!;
  work32[w + 2] = y[2]!;
  work32[w + 3] = y[3]!;
  dst.set(work8.subarray(scratch, scratch + TAG), off);
}

/** Compares the tag in `y` with buf[off .. off+16) (copied to the aligned scratch), no early exit. */
function tagMatches(scratch: number, buf: Uint8Array, off: number): boolean {
  work8.set(buf.subarray(off, off + TAG), scratch);
  const w = scratch >>> 2;
  return ((work32[w]! ^ y[0]!) | (work32[w + 1]! ^ y[1]!) | (work32[w + 2]! ^ y[2]!) | (work32[w + 3]! ^ y[3]!)) === 0;
}

function pad16(n: number): number {
  return (n + 15) & ~15;
}

/** Sets ivBuf = salt XOR (i0, i1, i2) (native words). */
function setIv(k: GcmKey, i0: number, i1: number, i2: number): Buffer {
  ivWords[0] = k.salt[0]! ^ i0;
  ivWords[1] = k.salt[1]! ^ i1;
  ivWords[2] = k.salt[2]! ^ i2;
  return ivBuf;
}

/**
 * OpenSSL AES-GCM: writes head || E(plain) || tag at dst[dstOff]. All input is
 * consumed before dst is written, so dst may overlap it.
 */
function sealNative(k: GcmKey, iv: Buffer, aad: Uint8Array, plain: Uint8Array, head: Uint8Array, dst: Uint8Array,
  dstOff: number): void {
  const c = createCipheriv('aes-128-gcm', k.key, iv);
  c.setAAD(aad);
  const ct = c.update(plain);
  c.final();
  dst.set(head, dstOff);
  dst.set(ct, dstOff + head.length);
  dst.set(c.getAuthTag(), dstOff + head.length + ct.length);
}

/** OpenSSL AES-GCM decryption; the plaintext, or null when the tag does not verify. */
function openNative(k: GcmKey, iv: Buffer, aad: Uint8Array, ct: Uint8Array, tagBytes: Uint8Array): Buffer | null {
  const d = createDecipheriv('aes-128-gcm', k.key, iv);
  d.setAAD(aad);
  d.setAuthTag(tagBytes);
  const plain = d.update(ct);
  try {
    d.final();
  } catch {
    // NOTE: OpenSSL reports a tag mismatch by throwing; forged packets pay for the exception.
    return null;
  }
  return plain;
}

export class AesGcmTransform implements SrtpTransform {
  readonly tagLength = TAG;
  readonly rtcpIndexLast = true;
  private readonly rtp: GcmKey;
  private readonly rtcp: GcmKey;
  private readonly jsMaxRtp: number;
  private readonly jsMaxRtcp: number;

  /** @param jsMaxPayload overrides both JS-path thresholds (tuning and benchmarks). */
  constructor(keys: SrtpSessionKeys, jsMaxPayload?: number) {
    this.jsMaxRtp = jsMaxPayload ?? GCM_JS_MAX_RTP_PAYLOAD;
    this.jsMaxRtcp = jsMaxPayload ?? GCM_JS_MAX_RTCP_PAYLOAD;
    // 64 KB of GHASH tables for SRTP's big packets, 8 KB for SRTCP's small ones (ghash.ts).
    this.rtp = gcmKey(keys.rtpKey, keys.rtpSalt, 8);
    this.rtcp = gcmKey(keys.rtcpKey, keys.rtcpSalt, 4);
  }

  protectRtp(src: Uint8Array, srcOff: number, hl: number, pl: number, dst: Uint8Array, dstOff: number,
    ssrc: number, roc: number, seq: number): void {
    const i0 = nat(ssrc >>> 16);
    const i1 = nat((ssrc << 16) | (roc >>> 16));
    const i2 = nat((roc << 16) | seq);
    if (pl > this.jsMaxRtp) {
      const header = src.subarray(srcOff, srcOff + hl);
      sealNative(this.rtp, setIv(this.rtp, i0, i1, i2), header, src.subarray(srcOff + hl, srcOff + hl + pl), header, dst, dstOff);
      return;
    }
    const c = pad16(hl);
    const end = c + pad16(pl);
    work8.set(src.subarray(srcOff, srcOff + hl), 0);
    work8.fill(0, hl, c);
    work8.set(src.subarray(srcOff + hl, srcOff + hl + pl), c);
    const ks = keystream(this.rtp, i0, i1, i2, pl);
    xorPayload(ks, c >>> 2, pl);
    tag(this.rtp, ks, end, hl, pl);
    dst.set(work8.subarray(0, hl), dstOff);
    dst.set(work8.subarray(c, c + pl), dstOff + hl);
    writeTag(end + 16, dst, dstOff + hl + pl);
  }

  unprotectRtp(buf: Uint8Array, off: number, hl: number, pl: number, ssrc: number, roc: number, seq: number): boolean {
    const i0 = nat(ssrc >>> 16);
    const i1 = nat((ssrc << 16) | (roc >>> 16));
    const i2 = nat((roc << 16) | seq);
    if (pl > this.jsMaxRtp) {
      const p = off + hl;
      const plain = openNative(this.rtp, setIv(this.rtp, i0, i1, i2), buf.subarray(off, p), buf.subarray(p, p + pl),
        buf.subarray(p + pl, p + pl + TAG));
      if (plain === null) return false;
      buf.set(plain, p);
      return true;
    }
    const c = pad16(hl);
    const end = c + pad16(pl);
    work8.set(buf.subarray(off, off + hl), 0);
    work8.fill(0, hl, c);
    work8.set(buf.subarray(off + hl, off + hl + pl), c);
    work8.fill(0, c + pl, end);
    const ks = keystream(this.rtp, i0, i1, i2, pl);
    tag(this.rtp, ks, end, hl, pl);
    if (!tagMatches(end + 16, buf, off + hl + pl)) return false;
    xorPayload(ks, c >>> 2, pl);
    buf.set(work8.subarray(c, c + pl), off + hl);
    return true;
  }

  protectRtcp(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number,
    ssrc: number, index: number): void {
    const pl = len - 8;
    if (pl > this.jsMaxRtcp) {
      const iv = setIv(this.rtcp, nat(ssrc >>> 16), nat(ssrc << 16), nat(index));
      aadBuf.set(src.subarray(srcOff, srcOff + 8), 0);
      aadBuf.writeUInt32BE((0x80000000 | index) >>> 0, 8);
      sealNative(this.rtcp, iv, aadBuf, src.subarray(srcOff + 8, srcOff + len), aadBuf.subarray(0, 8), dst, dstOff);
      dst.set(aadBuf.subarray(8, 12), dstOff + len + TAG);
      return;
    }
    const end = 16 + pad16(pl);
    // AAD: the first 8 bytes, then E=1 || index, padded to one block.
    work8.set(src.subarray(srcOff, srcOff + 8), 0);
    work32[2] = nat(0x80000000 | index);
    work32[3] = 0;
    work8.set(src.subarray(srcOff + 8, srcOff + len), 16);
    const ks = keystream(this.rtcp, nat(ssrc >>> 16), nat(ssrc << 16), nat(index), pl);
    xorPayload(ks, 4, pl);
    tag(this.rtcp, ks, end, 12, pl);
    dst.set(work8.subarray(0, 8), dstOff);
    dst.set(work8.subarray(16, 16 + pl), dstOff + 8);
    writeTag(end + 16, dst, dstOff + len);
    dst.set(work8.subarray(8, 12), dstOff + len + TAG);
  }

  unprotectRtcp(buf: Uint8Array, off: number, len: number, ssrc: number, index: number, encrypted: boolean): boolean {
    const k = this.rtcp;
    const idxOff = off + len + TAG;
    // E=1: AAD = 8 bytes || E||index, C = the rest. E=0: AAD = whole packet || E||index, no C.
    const aadLen = encrypted ? 12 : len + 4;
    const clear = encrypted ? 8 : len;
    const pl = encrypted ? len - 8 : 0;
    if (pl > this.jsMaxRtcp) {
      aadBuf.set(buf.subarray(off, off + 8), 0);
      aadBuf.set(buf.subarray(idxOff, idxOff + 4), 8);
      const plain = openNative(k, setIv(k, nat(ssrc >>> 16), nat(ssrc << 16), nat(index)), aadBuf,
        buf.subarray(off + 8, off + len), buf.subarray(off + len, off + len + TAG));
      if (plain === null) return false;
      buf.set(plain, off + 8);
      return true;
    }
    const c = pad16(aadLen);
    const end = c + pad16(pl);
    work8.set(buf.subarray(off, off + clear), 0);
    work8.set(buf.subarray(idxOff, idxOff + 4), clear);
    work8.fill(0, aadLen, c);
    work8.set(buf.subarray(off + 8, off + 8 + pl), c);
    work8.fill(0, c + pl, end);
    const ks = keystream(k, nat(ssrc >>> 16), nat(ssrc << 16), nat(index), pl);
    tag(k, ks, end, aadLen, pl);
    if (!tagMatches(end + 16, buf, off + len)) return false;
    if (encrypted) {
      xorPayload(ks, c >>> 2, pl);
      buf.set(work8.subarray(c, c + pl), off + 8);
    }
    return true;
  }
}
