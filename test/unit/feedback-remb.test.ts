// RembEstimator: sliding-window receive rate and when a REMB is due.
import t from 'tap';
import { RembEstimator } from '../../src/rtp/feedback/index.js';
import { ManualClock } from '../../src/util/clock.js';

/** Feeds `bps` as 1200-byte packets for `ms` milliseconds, returning what value() said at each packet. */
function run(r: RembEstimator, clock: ManualClock, bps: number, ms: number): number[] {
  const gap = (1200 * 8 * 1000) / bps;
  const sent: number[] = [];
  const end = clock.now() + ms;
  while (clock.now() + gap <= end) {
    clock.advance(gap);
    r.onPacket(1200, clock.now());
    const v = r.value(clock.now());
    if (v >= 0) sent.push(v);
  }
  clock.advance(end - clock.now());
  return sent;
}

t.test('a steady stream reads its own rate; REMB once per second with headroom', async (t) => {
  const clock = new ManualClock();
  const r = new RembEstimator({ increaseFactor: 1 });
  t.equal(r.bitrate(0), 0);
  t.equal(r.value(0), -1);
  const sent = run(r, clock, 960_000, 3500);
  t.ok(Math.abs(r.bitrate(clock.now()) - 960_000) < 960_000 * 0.015, `bitrate ${r.bitrate(clock.now())}`);
  t.equal(sent.length, 3, 'at 1 s, 2 s and 3 s, not before a full window');
  for (const v of sent) t.ok(Math.abs(v - 960_000) < 960_000 * 0.02, `REMB ${v}`);
  const h = new RembEstimator();
  const hs = run(h, new ManualClock(), 960_000, 1500);
  t.equal(hs.length, 1);
  t.ok(hs[0]! > 960_000 * 1.05 && hs[0]! < 960_000 * 1.1, 'default headroom of 8 %');
});

t.test('a drop of more than 3 % sends at once', async (t) => {
  const clock = new ManualClock();
  const r = new RembEstimator({ increaseFactor: 1 });
  run(r, clock, 2_000_000, 1500);
  const first = r.lastSent;
  t.ok(first > 1_900_000);
  const start = clock.now();
  const sent = run(r, clock, 500_000, 400);
  t.ok(sent.length >= 1, 'sent before the 1 s interval');
  t.ok(sent[0]! < first * 0.97);
  t.ok(clock.now() - start < 1000);
  t.equal(r.rembsDue, 1 + sent.length);
});

t.test('silence empties the window; the floor is minBitrate', async (t) => {
  const clock = new ManualClock();
  const r = new RembEstimator({ minBitrate: 50_000 });
  run(r, clock, 300_000, 1200);
  clock.advance(5000);
  t.equal(r.bitrate(clock.now()), 0);
  t.equal(r.value(clock.now()), 50_000);
  t.same(r.toJSON(), { packets: r.packets, lastSent: 50_000, rembsDue: 2 });
});
