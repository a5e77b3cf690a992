/**
 * GHASH (NIST SP 800-38D section 6.4) in JS with per-key tables, for the
 * AEAD_AES_128_GCM profile (RFC 7714).
 *
 * GHASH is linear in its input block, so X * H is the XOR of the products of
 * H with each slice of X. Per key we precompute those products for every
 * value of every slice, indexed by the bits of the native words the caller
 * reads from an aligned buffer (tables are built in native word order, so the
 * code is endian-neutral and never byte-swaps). Each output word has its own
 * table array, so one computed index feeds four independent XOR chains.
 *
 * At ~50 ns per block this only pays for small payloads; gcm.ts switches to
 * OpenSSL above a size threshold. Two table sizes (bench/micro/srtp.ts
 * "GHASH" group has the numbers):
 * - 8-bit slices: 16 lookups per block, 4 x 16 KB per key. SRTP (audio and
 *   small video packets).
 * - 4-bit slices: 32 lookups per block, 4 x 2 KB per key. SRTCP, whose
 *   packets are short, so a context costs 72 KB instead of 128 KB.
 *
 * NOTE: table lookups are not constant time (cache timing). The looked-up
 * values are (Y XOR block) where blocks are header and ciphertext bytes that
 * are public on the wire; the same trade-off as OpenSSL's generic
 * gcm_gmult_4bit.
 */

export interface GhashTables {
  /** Slice width in bits. */
  readonly bits: 4 | 8;
  /** Output words 0..3 of the product, indexed by slice * 2^bits + slice value. */
  readonly t0: Int32Array;
  readonly t1: Int32Array;
  readonly t2: Int32Array;
  readonly t3: Int32Array;
}

/** H * x^j for j = 0..127 as big-endian byte blocks (the shift-and-reduce of SP 800-38D Alg. 1). */
function powersOfH(h: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const v = Uint8Array.from(h.subarray(0, 16));
  for (let j = 0; j < 128; j++) {
    out.push(Uint8Array.from(v));
    const lsb = v[15]! & 1;
    for (let k = 15; k > 0; k--) v[k] = (v[k]! >>> 1) | ((v[k - 1]! & 1) << 7);
    v[0] = v[0]! >>> 1;
    if (lsb) v[0] ^= 0xe1;
  }
  return out;
}

/** Builds the tables for H = AES(K, 0^128) (16 bytes). */
export function ghashTables(h: Uint8Array, bits: 4 | 8): GhashTables {
  const p = powersOfH(h);
  const size = 1 << bits;
  const slices = 128 / bits;
  const perWord = 32 / bits;
  const entries = new Uint8Array(slices * size * 16);
  const probe = new Int32Array(4);
  const probe8 = new Uint8Array(probe.buffer);
  const single = new Uint8Array(bits * 16);
  for (let s = 0; s < slices; s++) {
    // Which GCM bit (0 = MSB of byte 0) is each bit of this slice? Write it into a native word and look.
    for (let b = 0; b < bits; b++) {
      probe.fill(0);
      probe[Math.floor(s / perWord)] = (1 << ((s % perWord) * bits + b)) | 0;
      let j = 0;
      for (let by = 0; by < 16; by++) {
        const v = probe8[by]!;
        if (v !== 0) j = by * 8 + (7 - (31 - Math.clz32(v)));
      }
      single.set(p[j]!, b * 16);
    }
    // Entry n = XOR of the single-bit products for the bits of n.
    const base = s * size * 16;
    for (let n = 1; n < size; n++) {
      const low = 31 - Math.clz32(n & -n);
      const rest = base + (n & (n - 1)) * 16;
      for (let q = 0; q < 16; q++) entries[base + n * 16 + q] = entries[rest + q]! ^ single[low * 16 + q]!;
    }
  }
  const all = new Int32Array(entries.buffer);
  const n = slices * size;
  const t = [0, 1, 2, 3].map((q) => {
    const a = new Int32Array(n);
    for (let e = 0; e < n; e++) a[e] = all[e * 4 + q]!;
    return a;
  });
  return { bits, t0: t[0]!, t1: t[1]!, t2: t[2]!, t3: t[3]! };
}

/**
 * y = (...((y ^ X_1) * H ^ X_2) * H ...) over the 16-byte blocks in
 * `w[from..to)` (a multiple of 4 words); `y` is 4 native words in/out.
 */
export function ghash(t: GhashTables, y: Int32Array, w: Int32Array, from: number, to: number): void {
  if (t.bits === 8) ghash8(t, y, w, from, to);
  else ghash4(t, y, w, from, to);
}

// NOTE: a compact loop over the slices measured ~15% faster than the fully
// unrolled 16 (or 32) lookups (bench/micro/srtp.ts "GHASH" group): less
// code for V8 to schedule, the same loads.
function ghash8(t: GhashTables, y: Int32Array, w: Int32Array, from: number, to: number): void {
  const a0 = t.t0;
  const a1 = t.t1;
  const a2 = t.t2;
  const a3 = t.t3;
  let y0 = y[0]!;
  let y1 = y[1]!;
  let y2 = y[2]!;
  let y3 = y[3]!;
  for (let p = from; p < to; p += 4) {
    const x0 = y0 ^ w[p]!;
    const x1 = y1 ^ w[p + 1]!;
    const x2 = y2 ^ w[p + 2]!;
    const x3 = y3 ^ w[p + 3]!;
    y0 = 0;
    y1 = 0;
    y2 = 0;
    y3 = 0;
    // Slice s is byte lane s & 3 of word s >> 2; 256 entries per slice.
    for (let s = 0; s < 16; s++) {
      const x = s < 4 ? x0 : s < 8 ? x1 : s < 12 ? x2 : x3;
      const i = (s << 8) + ((x >>> ((s & 3) << 3)) & 255);
      y0 ^= a0[i]!;
      y1 ^= a1[i]!;
      y2 ^= a2[i]!;
      y3 ^= a3[i]!;
    }
  }
  y[0] = y0;
  y[1] = y1;
  y[2] = y2;
  y[3] = y3;
}

function ghash4(t: GhashTables, y: Int32Array, w: Int32Array, from: number, to: number): void {
  const a0 = t.t0;
  const a1 = t.t1;
  const a2 = t.t2;
  const a3 = t.t3;
  let y0 = y[0]!;
  let y1 = y[1]!;
  let y2 = y[2]!;
  let y3 = y[3]!;
  for (let p = from; p < to; p += 4) {
    const x0 = y0 ^ w[p]!;
    const x1 = y1 ^ w[p + 1]!;
    const x2 = y2 ^ w[p + 2]!;
    const x3 = y3 ^ w[p + 3]!;
    y0 = 0;
    y1 = 0;
    y2 = 0;
    y3 = 0;
    // Slice s is nibble s & 7 of word s >> 3; 16 entries per slice.
    for (let s = 0; s < 32; s++) {
      const x = s < 8 ? x0 : s < 16 ? x1 : s < 24 ? x2 : x3;
      const i = (s << 4) + ((x >>> ((s & 7) << 2)) & 15);
      y0 ^= a0[i]!;
      y1 ^= a1[i]!;
      y2 ^= a2[i]!;
      y3 ^= a3[i]!;
    }
  }
  y[0] = y0;
  y[1] = y1;
  y[2] = y2;
  y[3] = y3;
}
