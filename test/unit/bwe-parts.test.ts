// The estimator's parts on their own: delay detector, AIMD, loss cap,
// acknowledged rate, probe cluster measurement.
import t from 'tap';
import { AckedRate } from '../../src/bwe/acked-rate.js';
import { AimdRateControl } from '../../src/bwe/aimd.js';
import { DelayDetector } from '../../src/bwe/delay-detector.js';
import { LossControl } from '../../src/bwe/loss-control.js';
import { ProbeClusters } from '../../src/bwe/probe-clusters.js';

/** Feeds `n` packets sent `sendGap` apart, arriving `recvGap` apart; returns the signal after each group. */
function feed(d: DelayDetector, from: { send: number; arrival: number }, n: number, sendGap: number, recvGap: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    from.send += sendGap;
    from.arrival += recvGap;
    if (d.add(from.send, from.arrival)) out.push(d.signal);
  }
  return out;
}

t.test('delay detector: groups, steady path, overuse, underuse', async (t) => {
  const d = new DelayDetector();
  const at = { send: 0, arrival: 1e9 };
  t.same(new Set(feed(d, at, 200, 10, 10)), new Set(['normal']), 'no delay variation: normal');
  t.equal(d.groups, 198, 'one group per packet 10 ms apart: a delta per completed pair (the last group is open)');
  t.ok(Math.abs(d.slope) < 1e-9);

  const grow = feed(d, at, 40, 10, 13);
  const first = grow.indexOf('overusing');
  t.ok(first >= 0 && first < 20, `30 % overshoot detected after ${first + 1} groups`);
  t.equal(d.overuses, 1);

  const drain = feed(d, at, 40, 10, 7);
  t.ok(drain.includes('underusing'), 'a draining queue reads as underuse');
  feed(d, at, 200, 10, 10);
  t.equal(d.signal, 'normal', 'back to normal once steady');

  const b = new DelayDetector();
  const at2 = { send: 0, arrival: 0 };
  feed(b, at2, 100, 1, 1);
  t.equal(b.groups, 15, 'packets 1 ms apart: groups span 5 ms (6 packets), 16 closed groups, 15 deltas');

  // A queue draining: sent 10 ms apart, delivered 4 ms apart. Catch-up arrivals join the group,
  // but only for 100 ms of arrival time, so the drain still produces groups (and reads as underuse).
  const c = new DelayDetector();
  const at3 = { send: 0, arrival: 0 };
  feed(c, at3, 100, 10, 10);
  const g = c.groups;
  const catchUp = feed(c, at3, 300, 10, 4);
  t.ok(c.groups - g >= 10, `a long drain still closes groups (${c.groups - g})`);
  t.ok(catchUp.includes('underusing'));
});

t.test('delay detector: jitter alone is not overuse; the threshold adapts within 6..600', async (t) => {
  const d = new DelayDetector();
  let seed = 1;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  let arrival = 0;
  let send = 0;
  let overuse = 0;
  for (let i = 0; i < 3000; i++) {
    send += 10;
    const next = send + 20 + rnd() * 4;
    arrival = Math.max(arrival, next);
    if (d.add(send, arrival) && d.signal === 'overusing') overuse++;
  }
  t.equal(overuse, 0, '4 ms of uniform jitter never reads as overuse');
  t.ok(d.threshold >= 6 && d.threshold <= 600, `threshold ${d.threshold}`);
  t.ok(d.threshold < 12.5, 'a quiet path lowers the threshold toward its floor');

  // Sustained large trends pull it up, but never past 600.
  const u = new DelayDetector({ initialThreshold: 590 });
  const at = { send: 0, arrival: 0 };
  feed(u, at, 2000, 10, 30);
  t.ok(u.threshold <= 600, `capped at 600 (${u.threshold})`);
});

t.test('delay detector: a receiver clock jump resets; reordered groups are skipped', async (t) => {
  const d = new DelayDetector();
  const at = { send: 0, arrival: 0 };
  feed(d, at, 50, 10, 10);
  at.arrival += 100_000;
  feed(d, at, 3, 10, 10);
  t.equal(d.resets, 1, 'reset on a 100 s arrival jump');
  t.equal(d.signal, 'normal');
  const before = d.reordered;
  d.add(at.send - 50, at.arrival);
  t.equal(d.reordered, before + 1, 'a packet older than the current group is counted and ignored');
  d.add(at.send + 10, at.arrival - 30);
  d.add(at.send + 20, at.arrival - 25);
  t.ok(d.reordered >= before + 2, 'a group arriving before its predecessor is skipped');
});

t.test('AIMD: multiplicative far from capacity, 0.85 x acked on overuse, additive near it', async (t) => {
  const a = new AimdRateControl({ startBps: 1_000_000, minBps: 30_000, maxBps: 20_000_000 });
  for (let now = 0; now <= 1000; now += 100) a.update('normal', 0, 100, now);
  t.ok(Math.abs(a.bps - 1_080_000) < 2000, `about +8 % in 1 s (${a.bps})`);
  a.update('overusing', 1_000_000, 100, 1100);
  t.equal(a.bps, 850_000, '0.85 x acknowledged');
  t.equal(a.state, 'hold');
  t.equal(a.linkBps, 1_000_000, 'capacity sample taken');
  a.update('overusing', 900_000, 100, 1150);
  t.equal(a.bps, 850_000, 'no second cut within the rtt-bounded interval');
  a.update('overusing', 300_000, 100, 1160);
  t.equal(a.bps, 255_000, 'unless the acknowledged rate collapsed below half');
  a.set(850_000);
  a.update('overusing', 1_000_000, 100, 2000);
  a.update('normal', 850_000, 100, 2100);
  t.equal(a.state, 'increase', 'hold -> increase on the next normal verdict');
  const start = a.bps;
  for (let now = 2200; now <= 3100; now += 100) a.update('normal', 850_000, 100, now);
  const perSecond = a.bps - start;
  t.ok(perSecond > 30_000 && perSecond < 60_000, `additive near the known capacity: +${Math.round(perSecond)} bps/s`);
  a.update('underusing', 850_000, 100, 3200);
  const held = a.bps;
  a.update('normal', 850_000, 100, 3300);
  t.equal(a.bps, held, 'underuse holds; the first normal verdict only changes state');
});

t.test('AIMD: overuse on an application-limited flow cuts the estimate by beta, not to 0.85 x a thin acknowledged rate', async (t) => {
  const a = new AimdRateControl({ startBps: 500_000, minBps: 30_000, maxBps: 20_000_000 });
  // A thin layer and one keyframe burst: the receiver got 106 kbps of the 110 kbps sent.
  a.update('overusing', 106_000, 50, 1000, 110_000);
  t.equal(a.bps, 0.85 * 500_000, 'the link kept up with what was sent: 0.85 x the estimate');
  t.equal(a.linkBps, -1, 'and no capacity sample from it');
  a.update('overusing', 100_000, 50, 1020, 105_000);
  t.equal(a.bps, 0.85 * 500_000, 'no second cut within the interval (not a collapse)');
  a.update('overusing', 100_000, 50, 1100, 105_000);
  t.ok(Math.abs(a.bps - 0.85 * 0.85 * 500_000) < 1, `the next interval cuts again by beta (${a.bps})`);
  // Link-limited: 300 kbps arrive of 1 Mbps sent.
  const b = new AimdRateControl({ startBps: 1_000_000, minBps: 30_000, maxBps: 20_000_000 });
  b.update('overusing', 300_000, 50, 1000, 1_000_000);
  t.equal(b.bps, 0.85 * 300_000, 'the link fell behind what was sent: 0.85 x acknowledged');
  t.equal(b.linkBps, 300_000, 'a capacity sample');
});

t.test('AIMD: an unused estimate does not grow (1.5 x acked + 10 kbps cap); clamps to [min, max]', async (t) => {
  const a = new AimdRateControl({ startBps: 1_000_000, minBps: 30_000, maxBps: 2_000_000 });
  for (let now = 0; now <= 10_000; now += 100) a.update('normal', 300_000, 100, now);
  t.equal(a.bps, 1_000_000, 'above the cap already: stays, never cut by the cap');
  const b = new AimdRateControl({ startBps: 400_000, minBps: 30_000, maxBps: 2_000_000 });
  for (let now = 0; now <= 20_000; now += 100) b.update('normal', 300_000, 100, now);
  t.equal(b.bps, 460_000, 'grows up to 1.5 x 300k + 10k');
  for (let now = 20_100; now <= 60_000; now += 100) b.update('normal', 5_000_000, 100, now);
  t.equal(b.bps, 2_000_000, 'max');
  for (let now = 60_100; now <= 70_000; now += 300) b.update('overusing', 10, 100, now);
  t.equal(b.bps, 30_000, 'min');
});

t.test('loss cap: hold, cut, grow, release', async (t) => {
  const l = new LossControl();
  l.onLoss(0.01, 1_000_000, 1_000_000, 100, 0);
  t.equal(l.capBps, Infinity, 'low loss: no cap');
  l.onLoss(0.05, 1_000_000, 1_200_000, 100, 1000);
  t.equal(l.capBps, 1_000_000, '2..10 %: hold at the estimate');
  l.onLoss(0.2, 1_000_000, 1_200_000, 100, 2000);
  t.equal(l.capBps, 900_000, '> 10 %: x (1 - 0.5 loss)');
  l.onLoss(0.2, 900_000, 1_200_000, 100, 2300);
  t.equal(l.capBps, 900_000, 'not again before 300 ms + rtt');
  l.onLoss(0, 900_000, 1_200_000, 100, 3300);
  t.equal(l.capBps, 900_000 * 1.08 + 1000, 'clean: +8 %/s + 1 kbps/s');
  for (let now = 4300; now < 10_000; now += 1000) l.onLoss(0, 0, 1_200_000, 100, now);
  t.equal(l.capBps, Infinity, 'released once it reaches the other controller');
  l.limitTo(500_000);
  l.onProbe(800_000, 0);
  t.equal(l.capBps, 800_000, 'a probe lifts it');
  l.onLoss(0.3, 800_000, 1_000_000, 100, 20_000);
  const cut = l.capBps;
  l.onProbe(2_000_000, 0.3);
  t.equal(l.capBps, cut, 'but not while loss is high');
  l.onProbe(1_000_000, 0.01);
  t.equal(l.capBps, 1_000_000, 'a clean probe after a lossy report (a link that paused) lifts it again');
  l.release();
  t.equal(l.capBps, Infinity);
});

t.test('acknowledged rate: exact for a steady stream, unknown when too short, reset on a clock jump', async (t) => {
  const r = new AckedRate();
  r.add(0, 1000);
  t.equal(r.bps(), 0, 'one packet: unknown');
  for (let i = 1; i <= 5; i++) r.add(i * 8, 1000);
  t.equal(r.bps(), 0, 'under 100 ms of span: unknown');
  for (let i = 6; i <= 200; i++) r.add(i * 8, 1000);
  t.equal(r.bps(), 1_000_000, '1000 B every 8 ms = 1 Mbps');
  r.add(1e7, 1000);
  t.equal(r.bps(), 0, 'a jump ahead empties the window');
  for (let i = 1; i <= 100; i++) r.add(1e7 + i * 4, 1000);
  t.equal(r.bps(), 2_000_000);
  r.add(5, 1000);
  t.equal(r.bps(), 0, 'a jump back (a new receiver clock) resets');
  const small = new AckedRate({ capacity: 16 });
  for (let i = 0; i < 100; i++) small.add(i, 125);
  t.equal(small.bps(), 0, 'a ring too small for the min span stays unknown rather than lying');
  // The link's rate is measured only over a window it was kept busy through.
  const thin = new AckedRate();
  for (let i = 0; i < 100; i++) thin.add(i * 16, 1000);
  t.equal(thin.busyBps(), 500_000, 'a busy 500 kbps link');
  thin.add(1600 + 250, 1000);
  t.equal(thin.busyBps(), 0, 'a 250 ms silence in the window: unmeasured');
  t.ok(thin.bps() > 0, 'though the plain rate (the cap on growth) is still known');
  for (let i = 1; i <= 40; i++) thin.add(1850 + i * 16, 1000);
  t.equal(thin.busyBps(), 500_000, 'the silence left the window: measured again');
  const few = new AckedRate();
  for (let i = 0; i < 6; i++) few.add(i * 40, 1000);
  t.equal(few.busyBps(), 0, 'six packets: unmeasured');
  t.ok(few.bps() > 0);
});

t.test('AIMD: overuse with no measured link rate cuts once by beta for the whole overuse, not by beta per verdict', async (t) => {
  const a = new AimdRateControl({ startBps: 2_000_000, minBps: 30_000, maxBps: 20_000_000 });
  // The link fills: 520 kbps arrive of 1.6 Mbps sent.
  a.update('overusing', 520_000, 20, 1000, 1_600_000);
  t.equal(a.bps, 0.85 * 520_000, '0.85 x acknowledged');
  // The layer stops: the window holds a silence (the plain rate reads 39 kbps), the verdict stays overuse.
  for (let now = 1100; now <= 2500; now += 100) a.update('overusing', 39_000, 20, now, 45_000, 0);
  t.equal(a.bps, 0.85 * 520_000, 'no compounding cut on no measurement');
  // A new overuse with nothing measured: one cut from where it found the estimate.
  a.update('normal', 0, 20, 2600);
  for (let now = 2700; now <= 3500; now += 100) a.update('overusing', 39_000, 20, now, 45_000, 0);
  t.ok(Math.abs(a.bps - 0.85 * 0.85 * 520_000) < 1, `one cut for the new overuse (${Math.round(a.bps)})`);
});

t.test('probe clusters: min(send, receive) rate, thresholds, taint, recycling', async (t) => {
  const p = new ProbeClusters();
  p.begin();
  for (let i = 0; i < 10; i++) p.add(7, i * 4.8, 1200, 1000 + i * 9.6);
  t.ok(Math.abs(p.bestTouched() - 1_000_000) < 1, 'sent at 2 Mbps, received at 1 Mbps: 1 Mbps');
  p.begin();
  t.equal(p.bestTouched(), 0, 'untouched clusters are not reported again');
  p.add(7, 100, 1200, 2000);
  p.taintTouched();
  t.equal(p.bestTouched(), 0, 'tainted');
  p.begin();
  p.add(7, 110, 1200, 2010);
  t.equal(p.bestTouched(), 0, 'a tainted cluster stays void');
  for (let id = 10; id < 20; id++) {
    p.begin();
    for (let i = 0; i < 6; i++) p.add(id, id * 1000 + i * 10, 1200, id * 1000 + i * 10);
    t.ok(Math.abs(p.bestTouched() - 960_000) < 1, `cluster ${id}: 960 kbps in a recycled slot`);
  }
  p.begin();
  for (let i = 0; i < 6; i++) p.add(99, i, 1200, 0);
  t.equal(p.bestTouched(), 0, 'a zero receive span measures nothing');
});
