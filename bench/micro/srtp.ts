/**
 * SRTP protect/unprotect of 1200-byte RTP packets, per profile: the naive
 * per-packet `createCipheriv()` path (baseline), sfud's SrtpContext, and
 * werift's SrtpSession, in the same process. Then the pieces that decided the
 * design ("why" groups): keystream from a long-lived ECB cipher, word vs byte
 * XOR, four ways to compute HMAC-SHA1, and JS GHASH tables vs OpenSSL's GCM.
 *
 * Questions answered: is a cipher object per packet avoidable in Node, and up
 * to which payload size does the JS GHASH beat `createCipheriv('aes-128-gcm')`
 * (the GCM_JS_MAX_* thresholds in src/srtp/gcm.ts)? Run on every supported
 * Node line: Node 24's OpenSSL 3.5 makes `createCipheriv()` with a raw Buffer
 * key ~4x slower, which the "KeyObject" rows show is the key import, not GCM.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSecretKey,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { RtpPacket, SrtpSession as WeriftSrtp } from 'werift';
import { ghash, ghashTables, type GhashTables } from '../../src/srtp/ghash.js';
import {
  deriveSessionKeys,
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SrtpContext,
  type SrtpProfile,
  type SrtpSessionKeys,
} from '../../src/srtp/index.js';
import { HmacSha1Key, hmacOuter, sha1 } from '../../src/srtp/sha1.js';
import { createEcb } from '../../src/srtp/work.js';
import { bench, consume, report, type BenchResult } from './harness.js';

const PACKET = 1200;
const HEADER = 12;
const SSRC = 0x11223344;
// More, shorter rounds than the default: the median resists a noisy neighbour better.
const SLOW = { ops: 10_000, rounds: 15, warmup: 5_000 };
const FAST = { ops: 200_000, rounds: 7 };

function rtpPacket(seq: number): Buffer {
  const b = randomBytes(PACKET);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(SSRC, 8);
  return b;
}

// ---------------------------------------------------------------------------
// Naive baselines: a cipher (and HMAC) object per packet, as werift and most
// JS code do, but writing into a caller buffer instead of Buffer.concat.

interface Naive {
  protect(src: Buffer, dst: Buffer, roc: number): number;
  unprotect(buf: Buffer, len: number, roc: number): number;
}

function naiveCm(k: SrtpSessionKeys): Naive {
  const iv = Buffer.alloc(16);
  const rocBuf = Buffer.alloc(4);
  const setIv = (b: Buffer, roc: number): void => {
    k.rtpSalt.copy(iv, 0);
    iv[14] = 0;
    iv[15] = 0;
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ b.readUInt32BE(8)) >>> 0, 4);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ roc) >>> 0, 8);
    iv.writeUInt16BE(iv.readUInt16BE(12) ^ b.readUInt16BE(2), 12);
  };
  return {
    protect(src, dst, roc) {
      setIv(src, roc);
      src.copy(dst, 0, 0, HEADER);
      createCipheriv('aes-128-ctr', k.rtpKey, iv).update(src.subarray(HEADER)).copy(dst, HEADER);
      rocBuf.writeUInt32BE(roc, 0);
      const tag = createHmac('sha1', k.rtpAuthKey).update(dst.subarray(0, src.length)).update(rocBuf).digest();
      tag.copy(dst, src.length, 0, 10);
      return src.length + 10;
    },
    unprotect(buf, len, roc) {
      const n = len - 10;
      rocBuf.writeUInt32BE(roc, 0);
      const tag = createHmac('sha1', k.rtpAuthKey).update(buf.subarray(0, n)).update(rocBuf).digest();
      if (tag.compare(buf, n, len, 0, 10) !== 0) return -3;
      setIv(buf, roc);
      createDecipheriv('aes-128-ctr', k.rtpKey, iv).update(buf.subarray(HEADER, n)).copy(buf, HEADER);
      return n;
    },
  };
}

function naiveGcm(k: SrtpSessionKeys, key: Buffer | KeyObject): Naive {
  const iv = Buffer.alloc(12);
  const setIv = (b: Buffer, roc: number): void => {
    iv.fill(0);
    iv.writeUInt32BE(b.readUInt32BE(8), 2);
    iv.writeUInt32BE(roc, 6);
    iv.writeUInt16BE(b.readUInt16BE(2), 10);
    for (let i = 0; i < 12; i++) iv[i]! ^= k.rtpSalt[i]!;
  };
  return {
    protect(src, dst, roc) {
      setIv(src, roc);
      const c = createCipheriv('aes-128-gcm', key, iv);
      c.setAAD(src.subarray(0, HEADER));
      src.copy(dst, 0, 0, HEADER);
      c.update(src.subarray(HEADER)).copy(dst, HEADER);
      c.final();
      c.getAuthTag().copy(dst, src.length);
      return src.length + 16;
    },
    unprotect(buf, len, roc) {
      const n = len - 16;
      setIv(buf, roc);
      const d = createDecipheriv('aes-128-gcm', key, iv);
      d.setAAD(buf.subarray(0, HEADER));
      d.setAuthTag(buf.subarray(n, len));
      const plain = d.update(buf.subarray(HEADER, n));
      try {
        d.final();
      } catch {
        return -3;
      }
      plain.copy(buf, HEADER);
      return n;
    },
  };
}

// ---------------------------------------------------------------------------
// Alternatives measured for the "why" groups.

/**
 * Rejected: one interleaved 8-bit table array (64 KB, entry = 4 consecutive
 * words) instead of one array per output word. Same lookups, but V8 computes
 * four indices per lookup and the XOR chains serialize.
 */
function interleave(t: GhashTables): Int32Array {
  const out = new Int32Array(t.t0.length * 4);
  for (let e = 0; e < t.t0.length; e++) {
    out[e * 4] = t.t0[e]!;
    out[e * 4 + 1] = t.t1[e]!;
    out[e * 4 + 2] = t.t2[e]!;
    out[e * 4 + 3] = t.t3[e]!;
  }
  return out;
}

function ghashInterleaved(t: Int32Array, y: Int32Array, w: Int32Array, from: number, to: number): void {
  let y0 = y[0]!;
  let y1 = y[1]!;
  let y2 = y[2]!;
  let y3 = y[3]!;
  for (let p = from; p < to; p += 4) {
    const x0 = y0 ^ w[p]!;
    const x1 = y1 ^ w[p + 1]!;
    const x2 = y2 ^ w[p + 2]!;
    const x3 = y3 ^ w[p + 3]!;
    let z0 = 0;
    let z1 = 0;
    let z2 = 0;
    let z3 = 0;
    for (let s = 0; s < 16; s++) {
      const x = s < 4 ? x0 : s < 8 ? x1 : s < 12 ? x2 : x3;
      const o = ((s << 8) + ((x >>> ((s & 3) << 3)) & 255)) << 2;
      z0 ^= t[o]!;
      z1 ^= t[o + 1]!;
      z2 ^= t[o + 2]!;
      z3 ^= t[o + 3]!;
    }
    y0 = z0;
    y1 = z1;
    y2 = z2;
    y3 = z3;
  }
  y[0] = y0;
  y[1] = y1;
  y[2] = y2;
  y[3] = y3;
}

/** Pure-JS SHA-1 over a whole message (to compare with native hashing). */
function sha1JsBlocks(state: Int32Array, m: Uint8Array, blocks: number): void {
  const w = new Int32Array(80);
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 16; i++) {
      const p = b * 64 + i * 4;
      w[i] = (m[p]! << 24) | (m[p + 1]! << 16) | (m[p + 2]! << 8) | m[p + 3]!;
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = state[0]!;
    let bb = state[1]!;
    let c = state[2]!;
    let d = state[3]!;
    let e = state[4]!;
    for (let i = 0; i < 80; i++) {
      const f = i < 20 ? (bb & c) | (~bb & d) : i < 40 || i >= 60 ? bb ^ c ^ d : (bb & c) | (bb & d) | (c & d);
      const k = i < 20 ? 0x5a827999 : i < 40 ? 0x6ed9eba1 : i < 60 ? -0x70e44324 : -0x359d3e2a;
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = t;
    }
    state[0] = (state[0]! + a) | 0;
    state[1] = (state[1]! + bb) | 0;
    state[2] = (state[2]! + c) | 0;
    state[3] = (state[3]! + d) | 0;
    state[4] = (state[4]! + e) | 0;
  }
}

// ---------------------------------------------------------------------------

function profileGroup(profile: SrtpProfile, weriftId: number): void {
  const label = profile === SRTP_AEAD_AES_128_GCM ? 'AEAD_AES_128_GCM' : 'AES_CM_HMAC_SHA1_80';
  const masterKey = randomBytes(16);
  const masterSalt = randomBytes(profile === SRTP_AEAD_AES_128_GCM ? 12 : 14);
  const keys = deriveSessionKeys(profile, masterKey, masterSalt);
  const naive = profile === SRTP_AEAD_AES_128_GCM ? naiveGcm(keys, keys.rtpKey) : naiveCm(keys);
  const naiveKo = profile === SRTP_AEAD_AES_128_GCM ? naiveGcm(keys, createSecretKey(keys.rtpKey)) : undefined;
  const werift = new WeriftSrtp({
    keys: { localMasterKey: masterKey, localMasterSalt: masterSalt, remoteMasterKey: masterKey, remoteMasterSalt: masterSalt },
    profile: weriftId,
  });

  // protect: a new sequence number per packet, into a pooled output buffer.
  const src = rtpPacket(0);
  const dst = Buffer.alloc(PACKET + 16);
  const gcm = profile === SRTP_AEAD_AES_128_GCM;
  const tx = new SrtpContext(profile, masterKey, masterSalt);
  // GCM: the rejected arrangement for video sizes, ECB keystream + JS GHASH, forced.
  const txJs = new SrtpContext(profile, masterKey, masterSalt, { gcmJsMaxPayload: 65536 });
  const wp = RtpPacket.deSerialize(src);
  const prot: BenchResult[] = [
    bench(`naive createCipheriv per packet`, (i) => {
      src.writeUInt16BE(i & 0xffff, 2);
      return naive.protect(src, dst, i >>> 16);
    }, SLOW),
  ];
  if (naiveKo) {
    prot.push(bench(`naive createCipheriv(KeyObject) per packet`, (i) => {
      src.writeUInt16BE(i & 0xffff, 2);
      return naiveKo.protect(src, dst, i >>> 16);
    }, SLOW));
  }
  prot.push(
    bench(`werift SrtpSession.encrypt`, (i) => {
      wp.header.sequenceNumber = i & 0xffff;
      return werift.encrypt(wp.payload, wp.header);
    }, SLOW),
    bench(`sfud SrtpContext.protectRtp`, (i) => {
      src.writeUInt16BE(i & 0xffff, 2);
      return tx.protectRtp(src, 0, PACKET, dst, 0);
    }, SLOW),
  );
  if (gcm) {
    prot.push(bench(`sfud protectRtp, JS GHASH forced (rejected here)`, (i) => {
      src.writeUInt16BE(i & 0xffff, 2);
      return txJs.protectRtp(src, 0, PACKET, dst, 0);
    }, SLOW));
  }
  report(`SRTP ${label} protect, ${PACKET}-byte packets`, prot);

  // unprotect: 4096 distinct protected packets (the replay window rejects
  // repeats); each op copies one into the work buffer first (~0.1 us, paid by
  // every contender), and our receiver is reset once per 4096 packets.
  const RING = 4096;
  const sealed: Buffer[] = [];
  const sender = new SrtpContext(profile, masterKey, masterSalt);
  for (let s = 0; s < RING; s++) {
    const p = rtpPacket(s);
    const out = Buffer.alloc(PACKET + sender.rtpOverhead);
    sender.protectRtp(p, 0, PACKET, out, 0);
    sealed.push(out);
  }
  const len = PACKET + sender.rtpOverhead;
  const work = Buffer.alloc(len);
  const rx = new SrtpContext(profile, masterKey, masterSalt);
  const rxJs = new SrtpContext(profile, masterKey, masterSalt, { gcmJsMaxPayload: 65536 });
  const unprot: BenchResult[] = [
    bench(`naive createDecipheriv per packet`, (i) => {
      sealed[i & (RING - 1)]!.copy(work);
      return naive.unprotect(work, len, 0);
    }, SLOW),
  ];
  if (naiveKo) {
    unprot.push(bench(`naive createDecipheriv(KeyObject) per packet`, (i) => {
      sealed[i & (RING - 1)]!.copy(work);
      return naiveKo.unprotect(work, len, 0);
    }, SLOW));
  }
  unprot.push(
    // werift has no replay window, and its ROC guess would wrap on the ring: one packet, repeatedly.
    bench(`werift SrtpSession.decrypt`, () => {
      sealed[0]!.copy(work);
      return werift.decrypt(work);
    }, SLOW),
    bench(`sfud SrtpContext.unprotectRtp (in place)`, (i) => {
      const k = i & (RING - 1);
      if (k === 0) rx.reset();
      sealed[k]!.copy(work);
      const n = rx.unprotectRtp(work, 0, len);
      if (n < 0) throw new Error(`unprotect failed ${n}`);
      return n;
    }, SLOW),
  );
  if (gcm) {
    unprot.push(bench(`sfud unprotectRtp, JS GHASH forced (rejected here)`, (i) => {
      const k = i & (RING - 1);
      if (k === 0) rxJs.reset();
      sealed[k]!.copy(work);
      return rxJs.unprotectRtp(work, 0, len);
    }, SLOW));
  }
  report(`SRTP ${label} unprotect, ${PACKET}-byte packets`, unprot);
}

function bySize(): void {
  // Where does the JS GCM path stop paying? (sets GCM_JS_MAX_RTP_PAYLOAD in gcm.ts)
  const mk = randomBytes(16);
  const ms = randomBytes(12);
  const keys = deriveSessionKeys(SRTP_AEAD_AES_128_GCM, mk, ms);
  const naive = naiveGcm(keys, createSecretKey(keys.rtpKey));
  const js = new SrtpContext(SRTP_AEAD_AES_128_GCM, mk, ms, { gcmJsMaxPayload: 65536 });
  const ossl = new SrtpContext(SRTP_AEAD_AES_128_GCM, mk, ms, { gcmJsMaxPayload: 0 });
  const out: BenchResult[] = [];
  for (const payload of [100, 300, 500, 800, 1188]) {
    const len = HEADER + payload;
    const src = rtpPacket(0).subarray(0, len);
    const dst = Buffer.alloc(len + 16);
    out.push(
      bench(`${payload} B: naive createCipheriv(KeyObject)`, (i) => {
        src.writeUInt16BE(i & 0xffff, 2);
        return naive.protect(src, dst, i >>> 16);
      }, SLOW),
      bench(`${payload} B: sfud, OpenSSL path`, (i) => {
        src.writeUInt16BE(i & 0xffff, 2);
        return ossl.protectRtp(src, 0, len, dst, 0);
      }, SLOW),
      bench(`${payload} B: sfud, JS path`, (i) => {
        src.writeUInt16BE(i & 0xffff, 2);
        return js.protectRtp(src, 0, len, dst, 0);
      }, SLOW),
    );
  }
  report('GCM protect by payload size (JS path below 512 B by default)', out);

  const cm = new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, mk, randomBytes(14));
  const cmKeys = deriveSessionKeys(SRTP_AES128_CM_HMAC_SHA1_80, mk, randomBytes(14));
  const cmNaive = naiveCm(cmKeys);
  const small: BenchResult[] = [];
  const src = rtpPacket(0).subarray(0, 160);
  const dst = Buffer.alloc(200);
  small.push(
    bench('AES-CM 148 B: naive createCipheriv + createHmac', (i) => {
      src.writeUInt16BE(i & 0xffff, 2);
      return cmNaive.protect(src, dst, i >>> 16);
    }, SLOW),
    bench('AES-CM 148 B: sfud protectRtp', (i) => {
      src.writeUInt16BE(i & 0xffff, 2);
      return cm.protectRtp(src, 0, 160, dst, 0);
    }, SLOW),
  );
  report('AES-CM protect, 160-byte audio packets', small);
}

function whyKeystream(): void {
  const key = randomBytes(16);
  const ecb = createEcb(key);
  const blocks = Buffer.alloc(76 * 16);
  const iv = randomBytes(16);
  const payload = randomBytes(1188);
  const a8 = new Uint8Array(1216);
  const k8 = new Uint8Array(1216);
  const a32 = new Int32Array(a8.buffer);
  const k32 = new Int32Array(k8.buffer);
  report('why: AES-CM keystream + XOR for 1188 bytes', [
    bench('createCipheriv(aes-128-ctr).update per packet', () => createCipheriv('aes-128-ctr', key, iv).update(payload), SLOW),
    bench('long-lived ECB update(1 block)', () => ecb.update(blocks.subarray(0, 16)), SLOW),
    bench('long-lived ECB update(75 counter blocks)', () => ecb.update(blocks.subarray(0, 75 * 16)), SLOW),
    bench('XOR byte loop (1188 B)', () => {
      for (let i = 0; i < 1188; i++) a8[i]! ^= k8[i]!;
      return a8;
    }, FAST),
    bench('XOR Int32 word loop (1188 B)', () => {
      for (let i = 0; i < 297; i++) a32[i]! ^= k32[i]!;
      return a32;
    }, FAST),
  ]);
}

function whyHmac(): void {
  const key = randomBytes(20);
  const ko = createSecretKey(key);
  const hk = new HmacSha1Key(key);
  const msg = new Uint8Array(64 + 1204);
  msg.set(new Uint8Array(hk.ipad.buffer));
  const body = Buffer.from(msg.buffer, 64, 1204);
  const st = new Int32Array(5);
  const padded = new Uint8Array(1280);
  report('why: HMAC-SHA1 over 1204 bytes (header + payload + ROC)', [
    bench('createHmac(raw key) per packet', () => createHmac('sha1', key).update(body).digest(), SLOW),
    bench('createHmac(KeyObject) per packet', () => createHmac('sha1', ko).update(body).digest(), SLOW),
    bench('createHash(ipad||m) + JS outer block', () => hmacOuter(hk, createHash('sha1').update(msg).digest()), SLOW),
    bench('crypto.hash(ipad||m) + JS outer block (chosen)', () => hmacOuter(hk, sha1(msg)), SLOW),
    bench('pure JS SHA-1, 20 blocks', () => {
      st.fill(1);
      sha1JsBlocks(st, padded, 20);
      return st;
    }, SLOW),
  ]);
}

function whyGhash(): void {
  const key = randomBytes(16);
  const h = createEcb(key).update(new Uint8Array(16));
  const t8 = ghashTables(h, 8);
  const t4 = ghashTables(h, 4);
  const ti = interleave(t8);
  const w = new Int32Array(4 * 77).map((_, i) => Math.imul(i, 0x9e3779b1));
  const y8 = new Int32Array(4);
  const y4 = new Int32Array(4);
  const yi = new Int32Array(4);
  ghash(t8, y8, w, 0, w.length);
  ghash(t4, y4, w, 0, w.length);
  ghashInterleaved(ti, yi, w, 0, w.length);
  if (y8.join() !== y4.join() || y8.join() !== yi.join()) throw new Error('GHASH variants disagree');
  const iv = randomBytes(12);
  const ko = createSecretKey(key);
  const aad = randomBytes(12);
  const payload = randomBytes(1188);
  report('why: GHASH of 77 blocks (1200-byte packet) vs a whole OpenSSL GCM encryption', [
    bench('createCipheriv(aes-128-gcm, KeyObject) encrypt+tag', () => {
      const c = createCipheriv('aes-128-gcm', ko, iv);
      c.setAAD(aad);
      consume(c.update(payload));
      c.final();
      return c.getAuthTag();
    }, SLOW),
    bench('JS GHASH 8-bit, table per output word (SRTP)', () => {
      ghash(t8, y8, w, 0, w.length);
      return y8;
    }, SLOW),
    bench('JS GHASH 8-bit, one interleaved table', () => {
      ghashInterleaved(ti, yi, w, 0, w.length);
      return yi;
    }, SLOW),
    bench('JS GHASH 4-bit, 8 KB/key (SRTCP)', () => {
      ghash(t4, y4, w, 0, w.length);
      return y4;
    }, SLOW),
    bench('ghashTables(h, 8) per key (context setup)', () => ghashTables(h, 8), { ops: 300, rounds: 5, warmup: 50 }),
  ]);
}

export function run(): void {
  profileGroup(SRTP_AES128_CM_HMAC_SHA1_80, 1);
  profileGroup(SRTP_AEAD_AES_128_GCM, 7);
  bySize();
  whyKeystream();
  whyHmac();
  whyGhash();
}
