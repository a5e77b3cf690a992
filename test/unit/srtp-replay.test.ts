// RFC 3711 3.3.1 index estimation (Appendix A) and the 3.3.2 replay window,
// alone and through SrtpContext (duplicates, too old, far jumps, reordering,
// window edges, sequence wrap).
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import {
  estimateIndex,
  ReplayWindow,
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SrtpConfigError,
  SrtpContext,
  SrtpError,
  type SrtpProfile,
} from '../../src/srtp/index.js';

const DUP = SrtpError.ReplayDuplicate;
const OLD = SrtpError.ReplayTooOld;

/** check() then accept() when allowed, like the context does after auth. */
function offer(w: ReplayWindow, index: number): number {
  const r = w.check(index);
  if (r === 0) w.accept(index);
  return r;
}

t.test('estimateIndex (RFC 3711 Appendix A)', async (t) => {
  t.equal(estimateIndex(100, 101), 101, 'in order');
  t.equal(estimateIndex(100, 90), 90, 'late');
  t.equal(estimateIndex(65530, 5), 65536 + 5, 'wrap forward: ROC + 1');
  t.equal(estimateIndex(65536 + 5, 65530), 65530, 'late packet from before the wrap keeps ROC 0');
  t.equal(estimateIndex(65536 + 5, 6), 65536 + 6);
  t.equal(estimateIndex(40000, 100), 65536 + 100, 's_l >= 2^15, SEQ < s_l - 2^15: ROC + 1');
  t.equal(estimateIndex(40000, 8000), 8000, 's_l >= 2^15, SEQ >= s_l - 2^15: same ROC');
  t.equal(estimateIndex(100, 65000), 65000 - 65536, 'before index 0: negative (too old)');
  t.equal(estimateIndex(100, 32868), 32868, 'exactly 2^15 ahead stays in this ROC');
  t.equal(estimateIndex(100, 32869), 32869 - 65536, 'more than 2^15 ahead is read as the previous ROC');
  const big = 0xfffffffe * 65536 + 65535;
  t.equal(estimateIndex(big, 3), 0xffffffff * 65536 + 3, 'ROC near 2^32 stays exact');
  t.equal(estimateIndex(0xffffffff * 65536 + 65535, 0), 2 ** 48, 'past 2^48: caller reports IndexExhausted');
});

t.test('ReplayWindow basics', async (t) => {
  const w = new ReplayWindow();
  t.equal(w.size, 64);
  t.equal(offer(w, 1000), 0, 'first');
  t.equal(offer(w, 1000), DUP, 'duplicate');
  t.equal(offer(w, 1001), 0);
  t.equal(offer(w, 999), 0, 'reordered within the window');
  t.equal(offer(w, 999), DUP);
  t.equal(offer(w, 1001 - 63), 0, 'left edge (top - 63) accepted');
  t.equal(offer(w, 1001 - 64), OLD, 'top - 64 is too old');
  t.equal(offer(w, 5), OLD);
  t.equal(offer(w, -1), OLD, 'negative index');
  t.equal(offer(w, 1001 + 64), 0, 'jump by exactly the window size');
  t.equal(offer(w, 1001), OLD, 'old top fell out');
  t.equal(offer(w, 1002), 0, 'top - 63 slot was cleared by the jump');
  t.equal(offer(w, 100_000), 0, 'far jump');
  t.equal(offer(w, 100_000 - 1), 0, 'slot cleared after a far jump');
  t.equal(offer(w, 100_000 - 64), OLD);
  w.reset();
  t.equal(w.top, -1);
  t.equal(offer(w, 3), 0);
});

t.test('ReplayWindow sizes', async (t) => {
  t.equal(new ReplayWindow(100).size, 128, 'rounded up to a power of two');
  t.equal(new ReplayWindow(1).size, 32);
  t.equal(new ReplayWindow(1024).size, 1024);
  t.equal(new ReplayWindow(32768).size, 32768);
  t.throws(() => new ReplayWindow(0), SrtpConfigError);
  t.throws(() => new ReplayWindow(32769), SrtpConfigError);
  t.throws(() => new ReplayWindow(1.5), SrtpConfigError);
  const w = new ReplayWindow(1024);
  t.equal(offer(w, 5000), 0);
  t.equal(offer(w, 5000 - 1023), 0, '1023 behind accepted');
  t.equal(offer(w, 5000 - 1024), OLD);
  for (let i = 4000; i < 5000; i += 7) offer(w, i);
  t.equal(offer(w, 4007), DUP);
  t.equal(offer(w, 4008), 0);
});

t.test('ReplayWindow matches a reference model', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(32, 64, 128, 1024),
      fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 300 }),
      fc.integer({ min: 0, max: 2 ** 47 }),
      (size, seq, base) => {
        const w = new ReplayWindow(size);
        const seen = new Set<number>();
        let top = -1;
        for (const d of seq) {
          const i = base + d;
          const want = i > top ? 0 : top - i >= size ? OLD : seen.has(i) ? DUP : 0;
          if (offer(w, i) !== want) return false;
          if (want === 0) {
            seen.add(i);
            if (i > top) top = i;
          }
        }
        return true;
      },
    ),
    { numRuns: 2000 },
  );
  t.pass('2000 random sequences agree with a Set model');
});

function rtp(seq: number, ssrc: number): Buffer {
  const b = Buffer.alloc(12 + 40);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ssrc, 8);
  randomBytes(40).copy(b, 12);
  return b;
}

function pair(profile: SrtpProfile, opts = {}): { tx: SrtpContext; rx: SrtpContext } {
  const key = randomBytes(16);
  const salt = randomBytes(profile === SRTP_AEAD_AES_128_GCM ? 12 : 14);
  return { tx: new SrtpContext(profile, key, salt), rx: new SrtpContext(profile, key, salt, opts) };
}

function sealed(tx: SrtpContext, seq: number, ssrc = 42): Buffer {
  const p = rtp(seq, ssrc);
  const out = Buffer.alloc(p.length + tx.rtpOverhead);
  const n = tx.protectRtp(p, 0, p.length, out, 0);
  if (n < 0) throw new Error(`protect ${n}`);
  return out;
}

function open(rx: SrtpContext, pkt: Buffer): number {
  const b = Buffer.from(pkt);
  return rx.unprotectRtp(b, 0, b.length);
}

for (const profile of [SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM] as const) {
  t.test(`${profile}: replay through the context, across the seq wrap`, async (t) => {
    const { tx, rx } = pair(profile);
    const seqs = [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3];
    const pk = seqs.map((s) => sealed(tx, s));
    // Deliver out of order around the wrap.
    const order = [0, 1, 3, 2, 6, 4, 5, 8, 7, 9];
    for (const i of order) t.ok(open(rx, pk[i]!) > 0, `seq ${seqs[i]} accepted`);
    for (const i of [0, 5, 6, 9]) t.equal(open(rx, pk[i]!), DUP, `seq ${seqs[i]} duplicate after the wrap`);
    t.same(rx.dump().rtpRecv, [{ ssrc: 42, index: 65536 + 3 }]);
    // Keep going: 70 packets later the pre-wrap ones are too old.
    const later = [];
    for (let s = 4; s < 74; s++) later.push(sealed(tx, s));
    for (const p of later) t.ok(open(rx, p) > 0);
    t.equal(open(rx, pk[0]!), OLD, 'too old after the window moved');
  });

  t.test(`${profile}: far jump ahead, then reordering at the window edge`, async (t) => {
    const { tx, rx } = pair(profile);
    const a = sealed(tx, 10);
    t.ok(open(rx, a) > 0);
    const keep: Buffer[] = [];
    for (let s = 11; s < 11 + 64; s++) keep.push(sealed(tx, s));
    const jump = sealed(tx, 20000);
    t.ok(open(rx, jump) > 0, 'jump by ~20000');
    t.equal(open(rx, keep[0]!), OLD, 'left behind by the jump');
    const b = sealed(tx, 20000 - 63);
    const c = sealed(tx, 20000 - 64);
    t.ok(open(rx, b) > 0, 'top - 63 accepted');
    t.equal(open(rx, c), OLD, 'top - 64 too old');
  });

  t.test(`${profile}: a 1024 window accepts video-sized reordering`, async (t) => {
    const key = randomBytes(16);
    const salt = randomBytes(profile === SRTP_AEAD_AES_128_GCM ? 12 : 14);
    const tx = new SrtpContext(profile, key, salt);
    const rx = new SrtpContext(profile, key, salt, { replayWindow: 1024 });
    const rxSmall = new SrtpContext(profile, key, salt);
    const pk: Buffer[] = [];
    for (let s = 0; s < 1100; s++) pk.push(sealed(tx, 60000 + s));
    // Deliver all but #100 (crossing the seq wrap), then #100 last: 999 behind.
    let ok = 0;
    for (let i = 0; i < pk.length; i++) {
      if (i === 100) continue;
      if (open(rx, pk[i]!) > 0) ok++;
      if (open(rxSmall, pk[i]!) > 0) ok++;
    }
    t.equal(ok, 2 * (pk.length - 1));
    t.ok(open(rx, pk[100]!) > 0, '999 behind accepted with a 1024 window');
    t.equal(open(rx, pk[100]!), DUP);
    t.equal(open(rxSmall, pk[100]!), OLD, 'and too old with the default 64');
  });

  t.test(`${profile}: SRTCP replay window`, async (t) => {
    const { tx, rx } = pair(profile);
    const pkts: Buffer[] = [];
    for (let i = 0; i < 70; i++) {
      const p = Buffer.alloc(28);
      p[0] = 0x80;
      p[1] = 201;
      p.writeUInt16BE(6, 2);
      p.writeUInt32BE(77, 4);
      const out = Buffer.alloc(p.length + tx.rtcpOverhead);
      t.equal(tx.protectRtcp(p, 0, p.length, out, 0), out.length);
      pkts.push(out);
    }
    const openC = (b: Buffer): number => rx.unprotectRtcp(Buffer.from(b), 0, b.length);
    t.equal(openC(pkts[1]!), 28);
    t.equal(openC(pkts[0]!), 28, 'reordered');
    t.equal(openC(pkts[0]!), DUP);
    t.equal(openC(pkts[69]!), 28);
    t.equal(openC(pkts[6]!), 28, '63 behind is still in');
    t.equal(openC(pkts[5]!), OLD, '64 behind is too old');
  });
}
