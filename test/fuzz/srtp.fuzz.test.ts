// Property-based fuzzing of the SRTP data plane (fast-check, 10000 runs per
// property): arbitrary bytes never throw and return a negative code;
// protect -> unprotect round-trips random RTP/RTCP packets; any flipped bit
// in a protected packet is rejected.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import {
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SrtpContext,
  SrtpError,
  type SrtpProfile,
} from '../../src/srtp/index.js';

const RUNS = { numRuns: 10000 };

const rtpPacket = fc.record({
  cc: fc.integer({ min: 0, max: 15 }),
  extWords: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
  marker: fc.boolean(),
  pt: fc.integer({ min: 0, max: 127 }),
  seq: fc.integer({ min: 0, max: 0xffff }),
  ts: fc.integer({ min: 0, max: 0xffffffff }),
  ssrc: fc.integer({ min: 0, max: 0xffffffff }),
  padding: fc.boolean(),
  payload: fc.uint8Array({ minLength: 0, maxLength: 1400 }),
  offset: fc.integer({ min: 0, max: 9 }),
});

type RtpArb = typeof rtpPacket extends fc.Arbitrary<infer T> ? T : never;

function build(p: RtpArb): Buffer {
  const ext = p.extWords === undefined ? 0 : 4 + p.extWords * 4;
  const b = Buffer.alloc(12 + p.cc * 4 + ext + p.payload.length);
  b[0] = 0x80 | (p.padding ? 0x20 : 0) | (p.extWords === undefined ? 0 : 0x10) | p.cc;
  b[1] = (p.marker ? 0x80 : 0) | p.pt;
  b.writeUInt16BE(p.seq, 2);
  b.writeUInt32BE(p.ts, 4);
  b.writeUInt32BE(p.ssrc, 8);
  for (let i = 0; i < p.cc; i++) b.writeUInt32BE((p.ssrc + i + 1) >>> 0, 12 + i * 4);
  let o = 12 + p.cc * 4;
  if (p.extWords !== undefined) {
    b.writeUInt16BE(0xbede, o);
    b.writeUInt16BE(p.extWords, o + 2);
    for (let i = 4; i < ext; i++) b[o + i] = (i * 37) & 0xff;
    o += ext;
  }
  b.set(p.payload, o);
  return b;
}

function contexts(profile: SrtpProfile): { tx: SrtpContext; rx: SrtpContext } {
  const key = randomBytes(16);
  const salt = randomBytes(profile === SRTP_AEAD_AES_128_GCM ? 12 : 14);
  return { tx: new SrtpContext(profile, key, salt), rx: new SrtpContext(profile, key, salt) };
}

const ERRORS = new Set<number>(Object.values(SrtpError));

for (const profile of [SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM] as const) {
  t.test(`${profile}: arbitrary bytes never throw`, async (t) => {
    const { rx } = contexts(profile);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.integer({ min: 0, max: 310 }),
        fc.integer({ min: 0, max: 310 }),
        fc.boolean(),
        (bytes, off, len, v2) => {
          const b = Buffer.from(bytes);
          // Half the inputs look like version 2 so parsing goes past the first check.
          if (v2 && b.length > 0) b[0] = 0x80 | (b[0]! & 0x3f);
          const r1 = rx.unprotectRtp(b, off, len);
          const r2 = rx.unprotectRtcp(b, off, len);
          return r1 < 0 && ERRORS.has(r1) && r2 < 0 && ERRORS.has(r2);
        },
      ),
      RUNS,
    );
    t.pass('never threw, always a known negative code');
  });

  t.test(`${profile}: protect -> unprotect round-trips random RTP`, async (t) => {
    const { tx, rx } = contexts(profile);
    fc.assert(
      fc.property(rtpPacket, (p) => {
        const pkt = build(p);
        const buf = Buffer.alloc(p.offset + pkt.length + tx.rtpOverhead + 3);
        pkt.copy(buf, p.offset);
        // In place: dst is the source buffer.
        const n = tx.protectRtp(buf, p.offset, pkt.length, buf, p.offset);
        if (n !== pkt.length + tx.rtpOverhead) return false;
        const m = rx.unprotectRtp(buf, p.offset, n);
        tx.removeSsrc(p.ssrc);
        rx.removeSsrc(p.ssrc);
        return m === pkt.length && buf.subarray(p.offset, p.offset + m).equals(pkt);
      }),
      RUNS,
    );
    t.pass('round-trips');
  });

  t.test(`${profile}: protect -> unprotect round-trips random RTCP`, async (t) => {
    const { tx, rx } = contexts(profile);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ minLength: 0, maxLength: 1200 }),
        fc.integer({ min: 0, max: 200 }),
        (ssrc, body, pt) => {
          const pkt = Buffer.alloc(8 + body.length);
          pkt[0] = 0x81;
          pkt[1] = 200 + (pt % 8);
          pkt.writeUInt16BE(((pkt.length + 3) >>> 2) - 1, 2);
          pkt.writeUInt32BE(ssrc, 4);
          pkt.set(body, 8);
          const out = Buffer.alloc(pkt.length + tx.rtcpOverhead);
          const n = tx.protectRtcp(pkt, 0, pkt.length, out, 0);
          if (n !== out.length) return false;
          const m = rx.unprotectRtcp(out, 0, n);
          tx.removeSsrc(ssrc);
          rx.removeSsrc(ssrc);
          return m === pkt.length && out.subarray(0, m).equals(pkt);
        },
      ),
      RUNS,
    );
    t.pass('round-trips');
  });

  t.test(`${profile}: a flipped bit anywhere fails`, async (t) => {
    const { tx, rx } = contexts(profile);
    fc.assert(
      fc.property(rtpPacket, fc.nat(), fc.integer({ min: 0, max: 7 }), (p, at, bit) => {
        const pkt = build(p);
        const out = Buffer.alloc(pkt.length + tx.rtpOverhead);
        tx.protectRtp(pkt, 0, pkt.length, out, 0);
        out[at % out.length]! ^= 1 << bit;
        const copy = Buffer.from(out);
        const r = rx.unprotectRtp(out, 0, out.length);
        tx.removeSsrc(p.ssrc);
        // A header bit can make the header unparseable; everything else is an auth failure.
        // Either way the buffer is untouched.
        return (r === SrtpError.AuthFailed || r === SrtpError.Malformed) && out.equals(copy) && rx.dump().rtpRecv.length === 0;
      }),
      RUNS,
    );
    t.pass('SRTP: every flip rejected, no state created');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (body, at, bit) => {
        const pkt = Buffer.alloc(8 + body.length);
        pkt[0] = 0x80;
        pkt[1] = 201;
        pkt.writeUInt32BE(0xabcdef01, 4);
        pkt.set(body, 8);
        const out = Buffer.alloc(pkt.length + tx.rtcpOverhead);
        tx.protectRtcp(pkt, 0, pkt.length, out, 0);
        out[at % out.length]! ^= 1 << bit;
        const r = rx.unprotectRtcp(out, 0, out.length);
        return (r === SrtpError.AuthFailed || r === SrtpError.Malformed) && rx.dump().rtcpRecv.length === 0;
      }),
      RUNS,
    );
    t.pass('SRTCP: every flip rejected, no state created');
  });
}
