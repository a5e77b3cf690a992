/**
 * SRTP_AES128_CM_HMAC_SHA1_80, RFC 3711.
 *
 * SRTP packet (section 3.1):      SRTCP packet (section 3.4):
 *   RTP header (clear)              RTCP header, first 8 bytes (clear)
 *   payload (AES-CM encrypted)      rest (AES-CM encrypted)
 *   auth tag (80 bits)              E (1 bit) || SRTCP index (31 bits)
 *                                   auth tag (80 bits)
 *
 * Keystream (4.1.1): AES(k_e, IV + i) for block i, where
 *   IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16)
 * Tag (4.2): HMAC-SHA1(k_a, header || encrypted payload || ROC) (SRTP), or
 *            HMAC-SHA1(k_a, header || encrypted || E||index) (SRTCP), cut to 80 bits.
 *
 * How (bench/micro/srtp.ts has the numbers): the packet is copied once into an
 * aligned work area laid out as [K^ipad | header | payload | ROC]; a
 * long-lived AES-ECB cipher turns counter blocks into keystream in one
 * `update()`; the XOR runs over Int32 words; the inner hash is one native
 * `crypto.hash('sha1')` over the contiguous work area and the outer hash one
 * JS SHA-1 compression from a per-key precomputed state. No cipher or HMAC
 * object is created per packet.
 */

import type { Cipher } from 'node:crypto';
import type { SrtpSessionKeys } from './kdf.js';
import { HmacSha1Key, hmacOuter, sha1 } from './sha1.js';
import type { SrtpTransform } from './transform.js';
import { counterBlocks, counterWord, createEcb, ctr32, nat, nativeWords, words, work32, work8 } from './work.js';

const TAG = 10;
/** Work-area offset of the packet: after the 64-byte K^ipad block. */
const PKT = 64;

/**
 * XORs `len` bytes of work8 at word offset `wordOff` with AES-CM keystream
 * for IV words (salt ^ (0, w1, w2, w3)). Writes up to 3 bytes past `len`.
 */
function ctrXor(ecb: Cipher, salt: Int32Array, w1: number, w2: number, w3: number, wordOff: number, len: number): void {
  const nb = (len + 15) >>> 4;
  if (nb === 0) return;
  const s0 = salt[0]!;
  const s1 = salt[1]! ^ w1;
  const s2 = salt[2]! ^ w2;
  const s3 = salt[3]! ^ w3;
  // Bytes 14-15 of the IV are zero (salt * 2^16), so OR-ing the block counter in is the "+ i".
  for (let i = 0, p = 0; i < nb; i++, p += 4) {
    ctr32[p] = s0;
    ctr32[p + 1] = s1;
    ctr32[p + 2] = s2;
    ctr32[p + 3] = s3 | counterWord[i]!;
  }
  const ks = words(ecb.update(counterBlocks(nb)));
  const nw = (len + 3) >>> 2;
  for (let i = 0; i < nw; i++) work32[wordOff + i]! ^= ks[i]!;
}

/** Puts the key's K^ipad block in front of the packet (16 words; a loop beats TypedArray.set here). */
function putIpad(key: HmacSha1Key): void {
  const ip = key.ipad;
  for (let i = 0; i < 16; i++) work32[i] = ip[i]!;
}

/** HMAC-SHA1 of work8[0 .. end) (which starts with the key's ipad block). */
function mac(key: HmacSha1Key, end: number): Int32Array {
  return hmacOuter(key, sha1(work8.subarray(0, end)));
}

function writeTag(st: Int32Array, dst: Uint8Array, off: number): void {
  const a = st[0]!;
  const b = st[1]!;
  const c = st[2]!;
  dst[off] = a >>> 24;
  dst[off + 1] = a >>> 16;
  dst[off + 2] = a >>> 8;
  dst[off + 3] = a;
  dst[off + 4] = b >>> 24;
  dst[off + 5] = b >>> 16;
  dst[off + 6] = b >>> 8;
  dst[off + 7] = b;
  dst[off + 8] = c >>> 24;
  dst[off + 9] = c >>> 16;
}

/** Compares the 80-bit tag at buf[off] with the MAC state, without an early exit. */
function tagMatches(st: Int32Array, buf: Uint8Array, off: number): boolean {
  const a = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) ^ st[0]!;
  const b = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) ^ st[1]!;
  const c = ((buf[off + 8]! << 8) | buf[off + 9]!) ^ (st[2]! >>> 16);
  return (a | b | c) === 0;
}

function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

/** Salt as native IV words: salt bytes 0..13, bytes 14..15 zero. */
function saltWords(salt: Uint8Array): Int32Array {
  return nativeWords(salt.subarray(0, 14), 4);
}

export class AesCmTransform implements SrtpTransform {
  readonly tagLength = TAG;
  readonly rtcpIndexLast = false;
  private readonly rtpEcb: Cipher;
  private readonly rtcpEcb: Cipher;
  private readonly rtpSalt: Int32Array;
  private readonly rtcpSalt: Int32Array;
  private readonly rtpAuth: HmacSha1Key;
  private readonly rtcpAuth: HmacSha1Key;

  constructor(keys: SrtpSessionKeys) {
    this.rtpEcb = createEcb(keys.rtpKey);
    this.rtcpEcb = createEcb(keys.rtcpKey);
    this.rtpSalt = saltWords(keys.rtpSalt);
    this.rtcpSalt = saltWords(keys.rtcpSalt);
    this.rtpAuth = new HmacSha1Key(keys.rtpAuthKey);
    this.rtcpAuth = new HmacSha1Key(keys.rtcpAuthKey);
  }

  protectRtp(src: Uint8Array, srcOff: number, hl: number, pl: number, dst: Uint8Array, dstOff: number,
    ssrc: number, roc: number, seq: number): void {
    const n = hl + pl;
    putIpad(this.rtpAuth);
    work8.set(src.subarray(srcOff, srcOff + n), PKT);
    // hl is a multiple of 4, so the payload starts on a word.
    ctrXor(this.rtpEcb, this.rtpSalt, nat(ssrc), nat(roc), nat(seq << 16), (PKT + hl) >>> 2, pl);
    putU32(work8, PKT + n, roc);
    const st = mac(this.rtpAuth, PKT + n + 4);
    dst.set(work8.subarray(PKT, PKT + n), dstOff);
    writeTag(st, dst, dstOff + n);
  }

  unprotectRtp(buf: Uint8Array, off: number, hl: number, pl: number, ssrc: number, roc: number, seq: number): boolean {
    const n = hl + pl;
    putIpad(this.rtpAuth);
    work8.set(buf.subarray(off, off + n), PKT);
    putU32(work8, PKT + n, roc);
    if (!tagMatches(mac(this.rtpAuth, PKT + n + 4), buf, off + n)) return false;
    ctrXor(this.rtpEcb, this.rtpSalt, nat(ssrc), nat(roc), nat(seq << 16), (PKT + hl) >>> 2, pl);
    buf.set(work8.subarray(PKT + hl, PKT + n), off + hl);
    return true;
  }

  protectRtcp(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number,
    ssrc: number, index: number): void {
    putIpad(this.rtcpAuth);
    work8.set(src.subarray(srcOff, srcOff + len), PKT);
    ctrXor(this.rtcpEcb, this.rtcpSalt, nat(ssrc), nat(index >>> 16), nat(index << 16), (PKT + 8) >>> 2, len - 8);
    putU32(work8, PKT + len, (0x80000000 | index) >>> 0);
    const st = mac(this.rtcpAuth, PKT + len + 4);
    dst.set(work8.subarray(PKT, PKT + len + 4), dstOff);
    writeTag(st, dst, dstOff + len + 4);
  }

  unprotectRtcp(buf: Uint8Array, off: number, len: number, ssrc: number, index: number, encrypted: boolean): boolean {
    putIpad(this.rtcpAuth);
    // The E||index word is authenticated too and directly follows the packet.
    work8.set(buf.subarray(off, off + len + 4), PKT);
    if (!tagMatches(mac(this.rtcpAuth, PKT + len + 4), buf, off + len + 4)) return false;
    if (encrypted) {
      ctrXor(this.rtcpEcb, this.rtcpSalt, nat(ssrc), nat(index >>> 16), nat(index << 16), (PKT + 8) >>> 2, len - 8);
      buf.set(work8.subarray(PKT + 8, PKT + len), off + 8);
    }
    return true;
  }
}
