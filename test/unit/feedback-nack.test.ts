// NackGenerator: scripted loss and reorder, retry timing against an RTT, give-up, caps, wrap.
import t from 'tap';
import { NackGenerator } from '../../src/rtp/feedback/index.js';
import { parseRtcp, encodeRtcp } from '../../src/rtp/rtcp/index.js';
import { Unwrapper } from '../../src/rtp/seq.js';
import { ManualClock } from '../../src/util/clock.js';

/** Feeds seqs in order at the clock's time. */
function feed(g: NackGenerator, clock: ManualClock, seqs: readonly number[]): void {
  for (const s of seqs) g.onPacket(s, clock.now());
}

t.test('three tries spaced by the RTT, then give up and ask for a keyframe', async (t) => {
  const clock = new ManualClock();
  const g = new NackGenerator();
  const out: number[] = [];
  feed(g, clock, [0, 1, 2, 5, 6, 8, 9, 10]); // 3, 4, 7 lost
  t.equal(g.missing, 3);
  t.equal(g.collect(clock.now(), 50, out), 3, 'first request right away');
  t.same(out, [3, 4, 7]);
  clock.advance(10);
  t.equal(g.collect(clock.now(), 50, out), 0, 'not again within one RTT');
  t.same(out, []);
  clock.advance(40); // t = 50
  g.collect(clock.now(), 50, out);
  t.same(out, [3, 4, 7], 'second try after one RTT');
  g.onPacket(4, clock.now()); // the retransmission of 4 arrives
  t.equal(g.recovered, 1);
  clock.advance(49); // t = 99
  g.collect(clock.now(), 50, out);
  t.same(out, [], '49 ms is not yet an RTT');
  clock.advance(1); // t = 100
  g.collect(clock.now(), 50, out);
  t.same(out, [3, 7], 'third and last try');
  t.equal(g.keyframeNeeded, false);
  clock.advance(50); // t = 150
  g.collect(clock.now(), 50, out);
  t.same(out, [], 'given up, not requested a fourth time');
  t.equal(g.givenUp, 2);
  t.equal(g.missing, 0);
  t.equal(g.keyframeNeeded, true, 'giving up asks for a keyframe');
  t.equal(g.nacksSent, 8);
  g.keyframeNeeded = false;
  clock.advance(1000);
  t.equal(g.collect(clock.now(), 50, out), 0, 'nothing left');
});

t.test('the retry interval is never below 20 ms', async (t) => {
  const g = new NackGenerator();
  const out: number[] = [];
  feed(g, new ManualClock(), [10, 12]);
  g.collect(0, 5, out);
  t.same(out, [11]);
  g.collect(19, 5, out);
  t.same(out, []);
  g.collect(20, 5, out);
  t.same(out, [11]);
  g.collect(40, 0, out);
  t.same(out, [11], 'unknown RTT (0) uses 20 ms too');
});

t.test('a reordered packet fills its gap before any NACK', async (t) => {
  const g = new NackGenerator();
  const out: number[] = [];
  for (const s of [1, 2, 4, 3, 5, 7, 9, 8, 6]) g.onPacket(s, 0);
  t.equal(g.collect(0, 30, out), 0);
  t.equal(g.reordered, 3);
  t.equal(g.recovered, 0);
  g.onPacket(3, 0); // duplicate of a filled gap
  g.onPacket(2, 0); // duplicate, never missing
  t.equal(g.reordered, 3);
});

t.test('sequence wrap at 65535: NACK carries 16-bit seqs that survive the wire', async (t) => {
  const u = new Unwrapper(16);
  const g = new NackGenerator();
  const out: number[] = [];
  for (const s of [65532, 65533, 1, 3]) g.onPacket(u.update(s), 0); // 65534, 65535, 0, 2 lost
  g.collect(0, 30, out);
  t.same(out, [65534, 65535, 0, 2]);
  const back = parseRtcp(encodeRtcp([{ type: 'nack', senderSsrc: 1, mediaSsrc: 2, lost: out }]));
  t.same(back?.[0]?.type === 'nack' ? back[0].lost : null, [65534, 65535, 0, 2]);
  g.onPacket(u.update(65535), 5);
  g.onPacket(u.update(0), 5);
  g.collect(30, 30, out);
  t.same(out, [65534, 2]);
  t.equal(g.recovered, 2);
});

t.test('the list is capped: the oldest missing seqs are dropped and a keyframe asked for', async (t) => {
  const g = new NackGenerator({ maxMissing: 500 });
  const out: number[] = [];
  g.onPacket(0, 0);
  g.onPacket(601, 0); // 600 missing: 1..600
  t.equal(g.missing, 500);
  t.equal(g.dropped, 100);
  t.equal(g.keyframeNeeded, true);
  t.equal(g.collect(0, 30, out), 500);
  t.equal(out[0], 101);
  t.equal(out[499], 600);
});

t.test('filled gaps in the middle do not make the cap drop live seqs', async (t) => {
  const g = new NackGenerator({ maxMissing: 8 });
  const out: number[] = [];
  g.onPacket(0, 0);
  g.onPacket(9, 0); // 1..8 missing, list full
  for (const s of [2, 3, 4, 5, 6, 7]) g.onPacket(s, 0); // 1 and 8 still missing
  g.onPacket(12, 0); // 10, 11 missing: fits after compaction
  t.equal(g.dropped, 0);
  g.collect(0, 30, out);
  t.same(out, [1, 8, 10, 11]);
});

t.test('a jump of 1000 or more is a stream reset that clears the list', async (t) => {
  const g = new NackGenerator();
  const out: number[] = [];
  feed(g, new ManualClock(), [100, 102, 104]);
  t.equal(g.missing, 2);
  g.onPacket(104 + 1000, 0);
  t.equal(g.resets, 1);
  t.equal(g.missing, 0);
  t.equal(g.collect(0, 30, out), 0);
  g.onPacket(1106, 0);
  g.collect(0, 30, out);
  t.same(out, [1105], 'gap detection continues from the new position');
  g.onPacket(1106 + 999, 0); // 999 is still a gap, capped at 500
  t.equal(g.resets, 1);
  t.equal(g.missing, 500);
});

t.test('a very old packet not in the list changes nothing', async (t) => {
  const g = new NackGenerator();
  const out: number[] = [];
  feed(g, new ManualClock(), [5000, 5002]);
  g.onPacket(10, 0);
  g.collect(0, 30, out);
  t.same(out, [5001]);
  t.same(g.toJSON(), {
    missing: 1,
    nacksSent: 1,
    recovered: 0,
    reordered: 0,
    givenUp: 0,
    dropped: 0,
    resets: 0,
    keyframeNeeded: false,
  });
});
