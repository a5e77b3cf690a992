// TwccRecorder: feedback that parses back (parseRtcp) to the recorded arrivals.
import t from 'tap';
import type { Test } from 'tap';
import { TwccRecorder } from '../../src/rtp/feedback/index.js';
import { TwccStatus, encodeRtcp, parseRtcp, rtcpSize } from '../../src/rtp/rtcp/index.js';
import type { TwccPacket } from '../../src/rtp/rtcp/index.js';

/** What a feedback sender learns: 16-bit seq -> arrival ms (null = reported lost), rebuilt from the wire. */
function decode(fb: readonly TwccPacket[]): Map<number, number | null>[] {
  return fb.map((p) => {
    const bytes = encodeRtcp([p]);
    const back = parseRtcp(bytes);
    const q = back?.[0];
    if (!q || q.type !== 'twcc') throw new Error('feedback does not parse back');
    const m = new Map<number, number | null>();
    let tMs = q.referenceTime * 64;
    q.packets.forEach((s, i) => {
      const seq = (q.baseSeq + i) & 0xffff;
      if (s.status === TwccStatus.NotReceived) m.set(seq, null);
      else {
        tMs += s.deltaUs / 1000;
        m.set(seq, tMs);
      }
    });
    return m;
  });
}

/** Asserts each recorded arrival is reported within 250 us and `lost` are reported lost (one assertion each). */
function check(t: Test, maps: Map<number, number | null>[], arrivals: Map<number, number>, lost: number[]): void {
  const merged = new Map<number, number | null>();
  for (const m of maps) for (const [k, v] of m) if (!merged.has(k) || v !== null) merged.set(k, v);
  const wrong: string[] = [];
  for (const [seq, ms] of arrivals) {
    const got = merged.get(seq);
    if (typeof got !== 'number' || Math.abs(got - ms) > 0.25) wrong.push(`seq ${seq}: ${ms} ms reported as ${got}`);
  }
  t.same(wrong, [], `${arrivals.size} arrivals reported within 250 us`);
  t.same(
    lost.filter((seq) => merged.get(seq) !== null),
    [],
    `${lost.length} lost packets reported lost`,
  );
}

t.test('arrivals, a lost packet and reordering parse back to the same deltas', async (t) => {
  const r = new TwccRecorder();
  const arrivals = new Map<number, number>();
  const order = [100, 101, 102, 103, 105, 107, 106, 108, 109];
  order.forEach((seq, i) => {
    const ms = 1000.3 + i * 5.13;
    arrivals.set(seq, ms);
    r.onPacket(seq, ms);
  });
  r.onPacket(103, 2000); // duplicate: the first arrival wins
  t.equal(r.duplicates, 1);
  const out: TwccPacket[] = [];
  t.equal(r.buildFeedback(0xaaaa, 0xbbbb, out), 1);
  const p = out[0]!;
  t.equal(p.baseSeq, 100);
  t.equal(p.packets.length, 10);
  t.equal(p.referenceTime, Math.floor(1000.3 / 64));
  t.equal(p.fbPktCount, 0);
  t.equal(p.senderSsrc, 0xaaaa);
  t.equal(p.mediaSsrc, 0xbbbb);
  t.equal(p.packets[4]!.status, TwccStatus.NotReceived, '104 lost');
  // 107 arrived before 106, so in seq order 107's delta (from 106) is negative.
  t.equal(p.packets[7]!.status, TwccStatus.LargeDelta, '107: a negative (large) delta');
  t.ok(p.packets[7]!.deltaUs < 0);
  check(t, decode(out), arrivals, [104]);
  t.equal(r.buildFeedback(1, 2, out), 0, 'nothing new, no feedback');
});

t.test('a late packet below the reported range is reported in the next feedback', async (t) => {
  const r = new TwccRecorder();
  const out: TwccPacket[] = [];
  r.onPacket(10, 0);
  r.onPacket(12, 2);
  r.buildFeedback(1, 2, out);
  r.onPacket(11, 150); // reported lost already; now it shows up
  r.onPacket(13, 151);
  out.length = 0;
  r.buildFeedback(1, 2, out);
  t.equal(out[0]!.baseSeq, 11);
  t.equal(out[0]!.fbPktCount, 1);
  check(t, decode(out), new Map([[11, 150], [12, 2], [13, 151]]), []);
});

t.test('sequence wrap at 65535', async (t) => {
  const r = new TwccRecorder();
  const arrivals = new Map<number, number>();
  let ms = 50_000;
  for (const seq of [65530, 65531, 65533, 65534, 65535, 0, 1, 3, 4]) {
    arrivals.set(seq, (ms += 1.7));
    r.onPacket(seq, ms);
  }
  const out: TwccPacket[] = [];
  r.buildFeedback(1, 2, out);
  t.equal(out.length, 1);
  t.equal(out[0]!.baseSeq, 65530);
  t.equal(out[0]!.packets.length, 11);
  check(t, decode(out), arrivals, [65532, 2]);
});

t.test('a time gap too large for a delta splits the feedback', async (t) => {
  const r = new TwccRecorder();
  const arrivals = new Map<number, number>([
    [1, 0],
    [2, 1],
    [3, 9000], // +8999 ms: beyond the 16-bit large delta (8191.75 ms)
    [4, 9001],
  ]);
  for (const [seq, ms] of arrivals) r.onPacket(seq, ms);
  const out: TwccPacket[] = [];
  t.equal(r.buildFeedback(1, 2, out), 2);
  t.equal(out[0]!.baseSeq, 1);
  t.equal(out[0]!.packets.length, 2);
  t.equal(out[1]!.baseSeq, 3);
  t.equal(out[1]!.referenceTime, Math.floor(9000 / 64));
  t.same(
    out.map((p) => p.fbPktCount),
    [0, 1],
  );
  check(t, decode(out), arrivals, []);
});

t.test('a burst too large for one packet splits near 1200 bytes', async (t) => {
  const r = new TwccRecorder();
  const arrivals = new Map<number, number>();
  for (let i = 0; i < 2500; i++) {
    const seq = (60_000 + i) & 0xffff;
    if (i % 50 === 7) continue; // some loss
    // 0.25 .. 15 ms spacing: mostly small deltas, some zero.
    const ms = 100 + i * 0.5 + (i % 3) * 0.25;
    arrivals.set(seq, ms);
    r.onPacket(seq, ms);
  }
  const out: TwccPacket[] = [];
  const n = r.buildFeedback(1, 2, out);
  t.ok(n >= 3, `${n} packets`);
  let covered = 0;
  for (const p of out) {
    const size = rtcpSize(p);
    t.ok(size <= 1200, `packet of ${p.packets.length} statuses is ${size} bytes`);
    covered += p.packets.length;
  }
  t.equal(covered, 2500, 'every seq reported once');
  for (let i = 1; i < out.length; i++) t.equal(out[i]!.baseSeq, (out[i - 1]!.baseSeq + out[i - 1]!.packets.length) & 0xffff);
  const lost: number[] = [];
  for (let i = 7; i < 2500; i += 50) lost.push((60_000 + i) & 0xffff);
  check(t, decode(out), arrivals, lost);
});

t.test('a large seq gap (lost run) splits and is reported lost', async (t) => {
  const r = new TwccRecorder();
  r.onPacket(0, 0);
  r.onPacket(5000, 10);
  const out: TwccPacket[] = [];
  r.buildFeedback(1, 2, out);
  let covered = 0;
  for (const p of out) {
    t.ok(rtcpSize(p) <= 1200);
    covered += p.packets.length;
  }
  t.equal(covered, 5001);
  check(t, decode(out), new Map([[0, 0], [5000, 10]]), [1, 2500, 4999]);
});

t.test('feedback packet count wraps mod 256; the window bounds what is kept', async (t) => {
  const r = new TwccRecorder({ window: 64 });
  const out: TwccPacket[] = [];
  for (let i = 0; i < 300; i++) {
    r.onPacket(i, i);
    r.buildFeedback(1, 2, out);
  }
  t.equal(out.length, 300);
  t.equal(out[255]!.fbPktCount, 255);
  t.equal(out[256]!.fbPktCount, 0);
  r.onPacket(200, 400); // 99 behind with a 64-slot window: ignored
  t.equal(r.tooOld, 1);
  out.length = 0;
  for (let i = 300; i < 500; i++) r.onPacket(i, i);
  r.buildFeedback(1, 2, out);
  t.equal(out[0]!.baseSeq, 500 - 64, 'only the last window is reported');
  t.throws(() => new TwccRecorder({ window: 100 }), RangeError);
});
