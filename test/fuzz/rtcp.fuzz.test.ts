// Property-based fuzzing of the RTCP codec: nothing throws on any input, and
// every packet shape survives write -> parse -> write unchanged.
import { deepStrictEqual } from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { RtcpCursor, encodeRtcp, packNackPairs, parseRtcp, rtcpSize, writeRtcp } from '../../src/rtp/rtcp/index.js';
import type { ReportBlock, RtcpPacket, TwccPacketStatus } from '../../src/rtp/rtcp/index.js';

const RUNS = { numRuns: 10000 };

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u8 = fc.integer({ min: 0, max: 0xff });
const u5 = fc.integer({ min: 0, max: 31 });

/** Walks with the cursor and decodes; returns what it saw (the point is that it returns at all). */
function walk(buf: Buffer, off?: number, len?: number): number {
  const c = new RtcpCursor().reset(buf, off, len);
  let n = 0;
  while (c.next()) n += c.length + c.type + c.count + c.padding + c.senderSsrc + c.mediaSsrc;
  return n;
}

/** fc.record with ordinary prototypes, so deepStrictEqual matches decoded objects. */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

/** Words-only bytes: a multiple of 4. */
function words(maxWords: number): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ maxLength: maxWords * 4 }).map((a) => Buffer.from(a.subarray(0, a.length & ~3)));
}

// UTF-8 text of at most 255 bytes: SDES items and BYE reasons.
const text = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => Buffer.byteLength(s, 'utf8') <= 255);

const reportBlock: fc.Arbitrary<ReportBlock> = rec({
  ssrc: u32,
  fractionLost: u8,
  totalLost: fc.integer({ min: -0x800000, max: 0x7fffff }),
  highestSeq: u32,
  jitter: u32,
  lsr: u32,
  dlsr: u32,
});

// Ascending (wrap-aware) lost seqs: the order the writer's packing preserves.
const lostSeqs = fc
  .tuple(u16, fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 60 }))
  .map(([start, gaps]) => {
    const lost = gaps.length > 0 ? [start] : [];
    for (const g of gaps.slice(1)) lost.push((lost[lost.length - 1]! + g) & 0xffff);
    return lost;
  });

// TWCC statuses in runs, so run-length and both vector kinds all get chosen.
const twccStatus: fc.Arbitrary<TwccPacketStatus> = fc.oneof(
  fc.constant({ status: 0 as const, deltaUs: 0 }),
  u8.map((u) => ({ status: 1 as const, deltaUs: u * 250 })),
  fc.integer({ min: -0x8000, max: 0x7fff }).map((u) => ({ status: 2 as const, deltaUs: u * 250 })),
);
const twccPackets = fc
  .array(fc.tuple(fc.array(twccStatus, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 40 })), { maxLength: 12 })
  .map((runs) => runs.flatMap(([pattern, n]) => Array.from({ length: n }, (_, i) => ({ ...pattern[i % pattern.length]! }))));

/** Pass-through data with the P bit: the last byte is a padding count that stays within the data. */
function padded(data: Buffer, pad: number): Buffer {
  const out = data.length === 0 ? Buffer.alloc(4) : Buffer.from(data);
  out[out.length - 1] = 1 + (pad % Math.min(255, out.length));
  return out;
}

// Unknown: any PT the codec does not decode, or a feedback FMT it does not decode.
const unknownPtFmt = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 255 }).filter((pt) => pt < 200 || pt > 207), u5),
  fc.tuple(fc.constant(205), u5.filter((f) => f !== 1 && f !== 15)),
  fc.tuple(fc.constant(206), u5.filter((f) => f !== 1 && f !== 4 && f !== 15)),
);

/** Every packet shape; `withPadding` adds P-bit variants of the pass-through types (valid only last). */
function packetArb(withPadding: boolean): fc.Arbitrary<RtcpPacket> {
  const pad = withPadding ? fc.option(u8, { nil: undefined }) : fc.constant(undefined);
  return fc.oneof(
    rec({
      type: fc.constant('sr' as const),
      ssrc: u32,
      ntpSec: u32,
      ntpFrac: u32,
      rtpTimestamp: u32,
      packetCount: u32,
      octetCount: u32,
      reports: fc.array(reportBlock, { maxLength: 31 }),
    }),
    rec({ type: fc.constant('rr' as const), ssrc: u32, reports: fc.array(reportBlock, { maxLength: 31 }) }),
    rec({
      type: fc.constant('sdes' as const),
      chunks: fc.array(
        rec({ ssrc: u32, items: fc.array(rec({ type: fc.integer({ min: 1, max: 255 }), text }), { maxLength: 4 }) }),
        { maxLength: 31 },
      ),
    }),
    fc.record(
      { type: fc.constant('bye' as const), ssrcs: fc.array(u32, { maxLength: 31 }), reason: text },
      { requiredKeys: ['type', 'ssrcs'], noNullPrototype: true },
    ),
    fc
      .tuple(u5, u32, fc.uint8Array({ minLength: 4, maxLength: 4 }), words(16), pad)
      .map(([subtype, ssrc, name, data, p]): RtcpPacket =>
        p === undefined
          ? { type: 'app', subtype, ssrc, name: Buffer.from(name).toString('latin1'), data }
          : { type: 'app', subtype, ssrc, name: Buffer.from(name).toString('latin1'), data: padded(data, p), padding: true },
      ),
    fc
      .tuple(u32, u32, lostSeqs)
      .map(([senderSsrc, mediaSsrc, lost]): RtcpPacket => ({ type: 'nack', senderSsrc, mediaSsrc, lost, pairs: packNackPairs(lost) })),
    rec({ type: fc.constant('pli' as const), senderSsrc: u32, mediaSsrc: u32 }),
    rec({
      type: fc.constant('fir' as const),
      senderSsrc: u32,
      mediaSsrc: u32,
      entries: fc.array(rec({ ssrc: u32, seqNr: u8 }), { maxLength: 20 }),
    }),
    fc
      .tuple(u32, fc.integer({ min: 0, max: 0x3ffff }), fc.integer({ min: 0, max: 63 }), fc.array(u32, { maxLength: 255 }))
      .map(([senderSsrc, mantissa, exp, ssrcs]): RtcpPacket => ({ type: 'remb', senderSsrc, bitrate: mantissa * 2 ** exp, ssrcs })),
    rec({
      type: fc.constant('twcc' as const),
      senderSsrc: u32,
      mediaSsrc: u32,
      baseSeq: u16,
      referenceTime: fc.integer({ min: -0x800000, max: 0x7fffff }),
      fbPktCount: u8,
      packets: twccPackets,
    }),
    fc
      .tuple(u32, words(32), pad)
      .map(([senderSsrc, data, p]): RtcpPacket =>
        p === undefined ? { type: 'xr', senderSsrc, data } : { type: 'xr', senderSsrc, data: padded(data, p), padding: true },
      ),
    fc
      .tuple(unknownPtFmt, words(32), pad)
      .map(([[pt, fmt], data, p]): RtcpPacket =>
        p === undefined ? { type: 'unknown', pt, fmt, data } : { type: 'unknown', pt, fmt, data: padded(data, p), padding: true },
      ),
  );
}

t.test('arbitrary bytes never throw (cursor walk and parseRtcp)', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (a) => {
      const buf = Buffer.from(a);
      walk(buf);
      parseRtcp(buf);
      parseRtcp(buf, 0, buf.length, { allowInnerPadding: true });
    }),
    RUNS,
  );
  t.pass(`${RUNS.numRuns} runs`);
  // Mostly V=2 first bytes and small length fields, so walks get past the first header.
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0x80, max: 0xbf }), u8, fc.integer({ min: 0, max: 12 }), fc.uint8Array({ maxLength: 52 })), { maxLength: 6 }), (parts) => {
      const buf = Buffer.concat(parts.map(([b0, pt, len, body]) => Buffer.concat([Buffer.from([b0, pt, 0, len]), body])));
      walk(buf);
      parseRtcp(buf);
    }),
    RUNS,
  );
  t.pass(`${RUNS.numRuns} runs`);
  // Arbitrary, including nonsensical, offset/length arguments.
  const anyNumber = fc.oneof(fc.integer({ min: -8, max: 600 }), fc.double(), fc.constant(Number.NaN));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), anyNumber, anyNumber, (a, off, len) => {
      const buf = Buffer.from(a);
      walk(buf, off, len);
      parseRtcp(buf, off, len);
    }),
    RUNS,
  );
  t.pass(`${RUNS.numRuns} runs`);
});

t.test('arbitrary bodies behind a valid-looking header, per packet type: no throw, stable re-encode', async (t) => {
  const header = rec({
    pt: fc.integer({ min: 200, max: 207 }),
    fmt: fc.oneof(fc.constantFrom(0, 1, 4, 15), u5),
    body: fc.uint8Array({ maxLength: 160 }),
    remb: fc.boolean(),
    pad: fc.option(u8, { nil: undefined }),
  });
  fc.assert(
    fc.property(header, ({ pt, fmt, body, remb, pad }) => {
      const len = body.length & ~3;
      const buf = Buffer.alloc(4 + len);
      buf[0] = 0x80 | (pad === undefined ? 0 : 0x20) | fmt;
      buf[1] = pt;
      buf.writeUInt16BE(len / 4, 2);
      buf.set(body.subarray(0, len), 4);
      // Give PSFB FMT 15 the REMB identifier half of the time.
      if (remb && len >= 12) buf.write('REMB', 12, 'latin1');
      if (pad !== undefined && len > 0) buf[buf.length - 1] = pad;
      walk(buf);
      const parsed = parseRtcp(buf);
      if (parsed === null) return;
      // Invalid UTF-8 decodes to U+FFFD, which re-encodes longer: not comparable.
      if (parsed.some((p) => (p.type === 'sdes' || p.type === 'bye') && JSON.stringify(p).includes('\ufffd'))) return;
      const once = encodeRtcp(parsed);
      const reparsed = parseRtcp(once);
      if (reparsed === null) throw new Error(`re-encoded packet does not parse: ${once.toString('hex')}`);
      // NACK re-packs its pairs canonically, so compare it at the byte level only.
      if (parsed[0]?.type !== 'nack') deepStrictEqual(reparsed, parsed);
      if (!encodeRtcp(reparsed).equals(once)) throw new Error(`re-encode is not stable: ${once.toString('hex')}`);
    }),
    RUNS,
  );
  t.pass(`${RUNS.numRuns} runs`);
});

t.test('generated packets of every type round-trip and re-serialize byte-equal', async (t) => {
  fc.assert(
    fc.property(packetArb(true), (p) => {
      const size = rtcpSize(p);
      const buf = Buffer.alloc(size + 4);
      const n = writeRtcp(p, buf, 2);
      if (n !== size) throw new Error(`wrote ${n} bytes, rtcpSize said ${size}`);
      const parsed = parseRtcp(buf, 2, n);
      if (parsed === null) throw new Error(`${p.type} does not parse back: ${buf.toString('hex')}`);
      deepStrictEqual(parsed, [p]);
      const again = encodeRtcp(parsed);
      if (!again.equals(buf.subarray(2, 2 + n))) throw new Error(`${p.type} re-serializes differently`);
    }),
    RUNS,
  );
  t.pass(`${RUNS.numRuns} runs`);
});

t.test('generated compounds round-trip, and survive truncation and byte flips without throwing', async (t) => {
  fc.assert(
    fc.property(fc.array(packetArb(false), { minLength: 1, maxLength: 5 }), u16, u8, (packets, cut, flip) => {
      const bytes = encodeRtcp(packets);
      deepStrictEqual(parseRtcp(bytes), packets);
      const mangled = Buffer.from(bytes.subarray(0, cut % (bytes.length + 1)));
      if (mangled.length > 0) {
        const i = flip % mangled.length;
        mangled[i] = mangled[i]! ^ (1 << (flip & 7));
      }
      walk(mangled);
      parseRtcp(mangled);
    }),
    RUNS,
  );
  t.pass(`${RUNS.numRuns} runs`);
});
