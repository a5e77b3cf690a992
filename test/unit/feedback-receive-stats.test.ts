// ReceiveStatistics: RFC 3550 A.3 loss accounting and A.8 jitter, worked by hand.
import t from 'tap';
import { ReceiveStatistics } from '../../src/rtp/feedback/index.js';
import { encodeRtcp, msToCompactNtp, parseRtcp } from '../../src/rtp/rtcp/index.js';
import type { ReportBlock } from '../../src/rtp/rtcp/index.js';
import { Unwrapper } from '../../src/rtp/seq.js';
import { ManualClock } from '../../src/util/clock.js';

function block(): ReportBlock {
  return { ssrc: 0, fractionLost: 0, totalLost: 0, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };
}

t.test('constant transit gives zero jitter (90 kHz and 48 kHz, across a timestamp wrap)', async (t) => {
  for (const rate of [90000, 48000]) {
    const rs = new ReceiveStatistics(1);
    const tsStep = (rate * 20) / 1000;
    let ts = 2 ** 32 - 5 * tsStep; // wraps after 5 packets
    for (let i = 0; i < 50; i++) {
      rs.onPacket(1000 + i, ts >>> 0, 5000 + i * 20, rate);
      ts += tsStep;
    }
    t.equal(rs.jitter, 0, `${rate} Hz`);
  }
});

t.test('alternating transit converges to |D| in RTP units of the stream clock', async (t) => {
  // Arrival offset alternates 0 / +10 ms, so |D| = 10 ms every packet after the first.
  for (const [rate, d] of [
    [90000, 900],
    [48000, 480],
  ] as const) {
    const rs = new ReceiveStatistics(1);
    const step = (rate * 20) / 1000;
    rs.onPacket(0, 0, 0, rate);
    rs.onPacket(1, step, 20 + 10, rate);
    // J1 = |D| / 16
    t.equal(rs.jitter, d / 16, `${rate}: first sample`);
    rs.onPacket(2, 2 * step, 40, rate);
    // J2 = J1 + (|D| - J1) / 16 = |D| (1 - (15/16)^2)
    t.ok(Math.abs(rs.jitter - d * (1 - (15 / 16) ** 2)) < 1e-9, `${rate}: second sample`);
    for (let i = 3; i < 400; i++) rs.onPacket(i, i * step, i * 20 + (i % 2) * 10, rate);
    t.ok(Math.abs(rs.jitter - d) < 0.01, `${rate}: converges to ${d}, got ${rs.jitter}`);
    const b = block();
    rs.writeReportBlock(b, 8000);
    t.equal(b.jitter, d - 1, 'report floors the estimate (just under |D|)');
  }
});

t.test('reordered and retransmitted packets give no jitter sample', async (t) => {
  const rs = new ReceiveStatistics(1);
  rs.onPacket(10, 0, 0, 90000);
  rs.onPacket(11, 1800, 20, 90000);
  rs.onPacket(9, 0, 500, 90000); // late: a huge transit if it counted
  t.equal(rs.jitter, 0);
});

t.test('RR fraction lost and cumulative lost per interval', async (t) => {
  const rs = new ReceiveStatistics(0xabc);
  const b = block();
  t.equal(rs.writeReportBlock(b, 0), false, 'nothing to report before the first packet');
  // Interval 1: seqs 0..99 with 10 lost.
  for (let s = 0; s < 100; s++) if (s % 10 !== 3) rs.onPacket(s, s * 3000, s * 33, 90000);
  t.equal(rs.writeReportBlock(b, 1000), true);
  t.equal(b.ssrc, 0xabc);
  t.equal(b.fractionLost, Math.floor((10 * 256) / 100), '10 % lost = 25/256');
  t.equal(b.totalLost, 10);
  t.equal(b.highestSeq, 99);
  // Interval 2: 100..199 all received.
  for (let s = 100; s < 200; s++) rs.onPacket(s, s * 3000, s * 33, 90000);
  rs.writeReportBlock(b, 2000);
  t.equal(b.fractionLost, 0);
  t.equal(b.totalLost, 10, 'cumulative keeps the old loss');
  // Interval 3: 200..203 plus duplicates and two late fills: lost goes down, fraction clamps at 0.
  for (let s = 200; s < 204; s++) rs.onPacket(s, s * 3000, s * 33, 90000);
  rs.onPacket(3, 3 * 3000, 7000, 90000);
  rs.onPacket(13, 13 * 3000, 7000, 90000);
  rs.onPacket(201, 201 * 3000, 7000, 90000);
  rs.writeReportBlock(b, 3000);
  t.equal(b.fractionLost, 0, 'negative interval loss reports 0');
  t.equal(b.totalLost, 7, '10 lost - 2 late - 1 duplicate');
  // Interval 4: only every other packet.
  for (let s = 204; s < 304; s += 2) rs.onPacket(s, s * 3000, s * 33, 90000);
  rs.writeReportBlock(b, 4000);
  t.equal(b.fractionLost, Math.floor((49 * 256) / 99), 'highest 203 -> 302: 49 of 99 lost');
});

t.test('extended highest seq counts cycles from the first packet, across 65535', async (t) => {
  const rs = new ReceiveStatistics(1);
  const u = new Unwrapper(16);
  for (const seq of [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 4, 5]) rs.onPacket(u.update(seq), 0, 0, 90000);
  const b = block();
  rs.writeReportBlock(b, 0);
  t.equal(b.highestSeq, 0x10005, 'one cycle, seq 5');
  t.equal(b.totalLost, 1, 'seq 3');
  t.equal(b.fractionLost, Math.floor(256 / 12));
});

t.test('cumulative lost clamps to signed 24 bits', async (t) => {
  const rs = new ReceiveStatistics(1);
  rs.onPacket(0, 0, 0, 90000);
  rs.onPacket(0x900000, 0, 1, 90000);
  const b = block();
  rs.writeReportBlock(b, 2);
  t.equal(b.totalLost, 0x7fffff);
  t.equal(rs.cumulativeLost, 0x900000 - 1, 'the unclamped value stays available');
  const dup = new ReceiveStatistics(1);
  for (let i = 0; i < 6; i++) dup.onPacket(7, 0, i, 90000);
  dup.writeReportBlock(b, 10);
  t.equal(b.totalLost, -5, 'duplicates make it negative');
  const again = parseRtcp(encodeRtcp([{ type: 'rr', ssrc: 9, reports: [b] }]));
  t.same(again, [{ type: 'rr', ssrc: 9, reports: [b] }], 'negative loss survives the wire');
});

t.test('LSR and DLSR from the last sender report, with a manual clock', async (t) => {
  const clock = new ManualClock();
  const rs = new ReceiveStatistics(1);
  rs.onPacket(1, 0, clock.now(), 48000);
  const b = block();
  rs.writeReportBlock(b, clock.now());
  t.equal(b.lsr, 0);
  t.equal(b.dlsr, 0);
  clock.advance(1000);
  rs.onSenderReport(0x12345678, clock.now());
  clock.advance(500);
  rs.writeReportBlock(b, clock.now());
  t.equal(b.lsr, 0x12345678);
  t.equal(b.dlsr, 32768, '0.5 s in 1/65536 s');
  clock.advance(1234);
  rs.writeReportBlock(b, clock.now());
  t.equal(b.dlsr, msToCompactNtp(1734));
  t.same(parseRtcp(encodeRtcp([{ type: 'rr', ssrc: 2, reports: [b] }])), [{ type: 'rr', ssrc: 2, reports: [b] }]);
});
