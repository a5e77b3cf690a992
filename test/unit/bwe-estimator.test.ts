// The bandwidth estimator against a simulated bottleneck (test/helpers/bwe-link.ts),
// plus its fallbacks (REMB, RR-only) and hostile feedback.
import t from 'tap';
import { BandwidthEstimator, type PacketResult } from '../../src/bwe/estimator.js';
import { LinkSim } from '../helpers/bwe-link.js';

const kbps = (bps: number): string => `${Math.round(bps / 1000)} kbps`;

/** Link profiles the scenarios must hold on: one-way propagation, uniform jitter, queue bound. */
const PROFILES = [
  { name: '20 ms, 1 ms jitter, 300 ms queue', propagationMs: 20, jitterMs: 1, maxQueueMs: 300, seed: 1 },
  { name: '50 ms, 5 ms jitter, 300 ms queue', propagationMs: 50, jitterMs: 5, maxQueueMs: 300, seed: 2 },
  { name: '10 ms, 10 ms jitter, 150 ms queue', propagationMs: 10, jitterMs: 10, maxQueueMs: 150, seed: 3 },
  { name: '80 ms, 2 ms jitter, 500 ms queue', propagationMs: 80, jitterMs: 2, maxQueueMs: 500, seed: 4 },
];
const probesOf = (sim: LinkSim): string =>
  JSON.stringify(sim.probeLog.map((p) => [p.startMs, kbps(p.targetBps), p.estimateAfter < 0 ? 'pending' : kbps(p.estimateAfter)]));

for (const link of PROFILES) {
  t.test(`(1) 300 kbps start on a 2 Mbps link: probes bring it above 1.5 Mbps within 10 s [${link.name}]`, async (t) => {
    const sim = new LinkSim({ ...link, capacityBps: 2_000_000, probes: true, wantedBps: 2_500_000, estimator: { startBps: 300_000 } });
    sim.run(20_000);
    const reached = sim.firstTime(0, (s) => s.estimateBps >= 1_500_000);
    t.comment(`reached 1.5 Mbps at ${reached} ms; probes [start ms, target, estimate after] ${probesOf(sim)}`);
    t.ok(reached > 0 && reached <= 10_000, `reached 1.5 Mbps at ${reached} ms`);
    t.ok(sim.probeLog.length >= 2, 'probes did the climbing');
    t.ok(sim.probeLog[0]!.estimateAfter > 1.5 * sim.probeLog[0]!.estimateBefore, 'the first probe doubled the estimate');
    const late = sim.estimateBetween(10_000, 20_000);
    const loss = sim.lossBetween(10_000, 20_000);
    t.comment(`10-20 s: mean ${kbps(late.mean)}, min ${kbps(late.min)}, max ${kbps(late.max)}; loss ${(loss * 100).toFixed(2)} %`);
    t.ok(late.min >= 1_400_000 && late.max <= 2_300_000, 'stays near the capacity');
    t.ok(loss < 0.02, 'with little loss');
    t.equal(sim.est.stats().invalid, 0);
  });

  t.test(`(2)+(3) 3 Mbps, drop to 600 kbps, lifted back to 3 Mbps [${link.name}]`, async (t) => {
    const sim = new LinkSim({ ...link, capacityBps: 3_000_000, probes: true, wantedBps: 5_000_000, estimator: { startBps: 2_500_000 } });
    sim.run(10_000);
    const before = sim.estimateBetween(5_000, 10_000);
    t.comment(`3 Mbps, 5-10 s: mean ${kbps(before.mean)} (min ${kbps(before.min)}, max ${kbps(before.max)})`);
    t.ok(before.mean > 2_000_000, 'uses the 3 Mbps link');

    sim.capacityBps = 600_000;
    sim.run(20_000);
    const fell = sim.firstTime(10_000, (s) => s.estimateBps < 700_000);
    t.comment(`below 700 kbps ${fell - 10_000} ms after the drop`);
    t.ok(fell > 0 && fell - 10_000 <= 3000, `fell below 700 kbps within 3 s (${fell - 10_000} ms)`);
    const settled = sim.lossBetween(13_000, 20_000);
    const queueAtEnd = sim.samples[sim.samples.length - 1]!.queueMs;
    const low = sim.estimateBetween(13_000, 20_000);
    t.comment(`600 kbps, 13-20 s: loss ${(settled * 100).toFixed(2)} %, estimate mean ${kbps(low.mean)} (min ${kbps(low.min)}, max ${kbps(low.max)}), queue at 20 s ${queueAtEnd.toFixed(1)} ms`);
    t.ok(settled < 0.02, 'loss under 2 % after settling');
    t.ok(queueAtEnd < 100, 'the queue drained');
    t.ok(low.max < 800_000, 'no overshoot far above the new capacity');

    sim.capacityBps = 3_000_000;
    sim.run(35_000);
    const rose = sim.firstTime(20_000, (s) => s.estimateBps > 2_000_000);
    t.comment(`above 2 Mbps ${rose - 20_000} ms after the lift; probes [start ms, target, estimate after] ${probesOf(sim)}`);
    t.ok(rose > 0 && rose - 20_000 <= 15_000, `above 2 Mbps within 15 s (${rose - 20_000} ms)`);
    t.ok(sim.probeLog.some((p) => p.startMs >= 20_000 && p.estimateAfter > 1.5 * p.estimateBefore), 'a probe did it');
    t.ok(sim.est.estimateBps <= 3_300_000, 'and not far past the capacity');
  });
}

t.test('(4) random loss without a capacity limit', async (t) => {
  const run = (loss: number): LinkSim => {
    const sim = new LinkSim({ capacityBps: Infinity, randomLoss: loss, seed: 7, estimator: { startBps: 1_000_000 } });
    sim.run(20_000);
    return sim;
  };
  const five = run(0.05);
  const r5 = five.estimateBetween(2_000, 20_000);
  t.comment(`5 % loss: estimate ${kbps(r5.min)}..${kbps(r5.max)} over 2-20 s (start 1000 kbps)`);
  t.ok(r5.min >= 900_000 && r5.max <= 1_200_000, 'loss-based holds (no climb, no collapse)');
  t.ok(five.est.stats().delayBasedBps as number > five.est.estimateBps, 'while the delay-based side would allow more');

  const fifteen = run(0.15);
  const at10 = fifteen.estimateBetween(10_000, 10_000).mean;
  t.comment(`15 % loss: ${kbps(at10)} at 10 s, ${kbps(fifteen.est.estimateBps)} at 20 s`);
  t.ok(at10 < 650_000, 'loss-based decreases (about 7.5 % per second)');
  t.ok(fifteen.est.estimateBps < at10, 'and keeps decreasing');
  t.ok(fifteen.est.estimateBps >= fifteen.est.minBps);

  const clean = run(0);
  t.ok(clean.est.estimateBps > 2_000_000, `no loss, no limit: climbs (${kbps(clean.est.estimateBps)} at 20 s)`);
});

t.test('(5) REMB-only fallback', async (t) => {
  const e = new BandwidthEstimator({ startBps: 500_000, minBps: 50_000, maxBps: 5_000_000 });
  e.onRemb(1_200_000, 0);
  t.equal(e.estimateBps, 1_200_000, 'estimate = REMB');
  t.equal(e.stats().mode, 'remb');
  e.onRemb(9_000_000, 100);
  t.equal(e.estimateBps, 5_000_000, 'clamped to max');
  e.onRemb(10_000, 200);
  t.equal(e.estimateBps, 50_000, 'clamped to min');
  e.onRemb(800_000, 300);
  e.onReceiverReport(0, 50, 1300);
  t.equal(e.estimateBps, 800_000, 'a clean RR does not move it');
  e.onReceiverReport(Math.round(0.2 * 256), 50, 2300);
  t.ok(Math.abs(e.estimateBps - 800_000 * (1 - 0.1)) < 1000, `20 % loss caps it below the REMB (${e.estimateBps})`);
  e.onRemb(2_000_000, 2400);
  t.ok(e.estimateBps < 800_000, 'the loss cap holds against a higher REMB');
  for (let i = 0; i < 20; i++) {
    e.onRemb(2_000_000, 3300 + i * 1000);
    e.onReceiverReport(0, 50, 3300 + i * 1000);
  }
  t.equal(e.estimateBps, 2_000_000, 'clean reports release the cap up to the REMB');
  e.onRemb(Number.NaN, 23_000);
  e.onRemb(-5, 23_000);
  t.equal(e.estimateBps, 2_000_000, 'bad REMB values are ignored');
  for (let i = 0; i < 12; i++) e.onReceiverReport(0, 50, 24_000 + i * 1000);
  t.equal(e.stats().mode, 'loss', 'a REMB silent for 10 s gives way to RR-only');
});

t.test('(5) RR-only fallback: loss-based only', async (t) => {
  const e = new BandwidthEstimator({ startBps: 1_000_000 });
  for (let i = 1; i <= 5; i++) e.onReceiverReport(0, 80, i * 1000);
  t.equal(e.stats().mode, 'loss');
  const grown = e.estimateBps;
  t.ok(grown > 1_000_000 * Math.pow(1.08, 4) && grown < 1_000_000 * Math.pow(1.08, 4) + 10_000, `grows about 8 %/s (${grown})`);
  e.onReceiverReport(Math.round(0.05 * 256), 80, 6000);
  t.equal(e.estimateBps, grown, '5 % loss holds');
  e.onReceiverReport(Math.round(0.3 * 256), 80, 7000);
  t.ok(Math.abs(e.estimateBps - grown * (1 - 0.5 * (77 / 256))) < 1, '30 % loss cuts by half the loss');
  const cut = e.estimateBps;
  e.onReceiverReport(Math.round(0.3 * 256), 80, 7100);
  t.equal(e.estimateBps, cut, 'no second cut within 300 ms + rtt');
  e.onReceiverReport(300, 80, 8000);
  e.onReceiverReport(Number.NaN, 80, 8000);
  t.equal(e.estimateBps, cut, 'out-of-range fraction ignored');
  t.equal(e.delaySignal, 'normal');
  t.equal(e.ackedBps, 0, 'no acknowledged rate without TWCC');
});

t.test('negotiated transport-cc: REMB and RR loss wait 10 s for the first feedback, then count', async (t) => {
  // Feedback comes: it leads from the start, nothing in between moved the estimate.
  const a = new BandwidthEstimator({ startBps: 1_000_000 });
  a.expectTransportFeedback(0);
  a.onReceiverReport(200, 30, 50);
  a.onRemb(100_000, 60);
  t.equal(a.stats().mode, 'start', 'an early RR or REMB does not take over while the first feedback is due');
  t.equal(a.stats().rttMs, 30, 'the RR RTT still counts');
  a.onTransportFeedback([{ sendMs: 0, size: 1200, arrivalMs: 500, probeCluster: -1 }, { sendMs: 10, size: 1200, arrivalMs: 510, probeCluster: -1 }], 100);
  t.equal(a.stats().mode, 'twcc');
  // Feedback never comes (a client that negotiates transport-cc and sends none): after 10 s the
  // receiver reports lead, so the subscriber is still protected.
  const b = new BandwidthEstimator({ startBps: 1_000_000 });
  b.expectTransportFeedback(0);
  b.expectTransportFeedback(9_000);
  b.onReceiverReport(200, 30, 9_900);
  t.equal(b.stats().mode, 'start', 'still due at 9.9 s (a later expectation does not move the start)');
  b.onReceiverReport(200, 30, 10_100);
  t.equal(b.stats().mode, 'loss', 'no feedback in 10 s: RR loss leads');
  t.ok(b.estimateBps < 1_000_000, `and its loss counts (${b.estimateBps})`);
  const c = new BandwidthEstimator({ startBps: 1_000_000 });
  c.expectTransportFeedback(0);
  c.onRemb(700_000, 10_500);
  t.equal(c.stats().mode, 'remb', 'or the REMB, when the subscriber sends one');
  t.equal(c.estimateBps, 700_000);
});

t.test('congested: an overusing delay or a fresh loss report of 2 % or more, not a low estimate', async (t) => {
  const e = new BandwidthEstimator({ startBps: 1_000_000 });
  e.onReceiverReport(0, 50, 1000);
  t.equal(e.congested, false, 'a clean report');
  e.onReceiverReport(Math.round(0.05 * 256), 50, 2000);
  t.equal(e.congested, true, '5 % lost');
  e.tick(4000);
  t.equal(e.congested, true, 'still, 2 s later');
  e.tick(5000);
  t.equal(e.congested, false, 'a loss report 3 s old says nothing about the link now');
});

t.test('TWCC takes precedence over REMB and RR loss, and falls back when it goes silent', async (t) => {
  const e = new BandwidthEstimator({ startBps: 1_000_000 });
  const fb: PacketResult[] = [];
  for (let i = 0; i < 20; i++) fb.push({ sendMs: i * 10, size: 1200, arrivalMs: 1_000 + i * 10, probeCluster: -1 });
  e.onTransportFeedback(fb, 300);
  t.equal(e.stats().mode, 'twcc');
  e.onRemb(100_000, 400);
  e.onReceiverReport(200, 30, 500);
  t.equal(e.estimateBps, 1_000_000, 'REMB and RR loss ignored while TWCC is active');
  t.equal(e.stats().rttMs, 30, 'the RR RTT is used');
  e.onReceiverReport(200, 30, 20_000);
  t.equal(e.stats().mode, 'loss', 'after 10 s of TWCC silence, RRs lead');
  t.ok(e.estimateBps < 1_000_000, 'and their loss counts');
});

t.test('delay signal and acknowledged rate from clean feedback', async (t) => {
  const e = new BandwidthEstimator({ startBps: 1_000_000 });
  // 1 Mbps of 1200-byte packets (9.6 ms apart) through an idle path.
  let send = 0;
  for (let f = 1; f <= 20; f++) {
    const fb: PacketResult[] = [];
    for (; send < f * 100; send += 9.6) fb.push({ sendMs: send, size: 1200, arrivalMs: 5_000 + send + 25, probeCluster: -1 });
    e.onTransportFeedback(fb, f * 100 + 30);
  }
  t.equal(e.delaySignal, 'normal');
  t.ok(Math.abs(e.ackedBps - 1_000_000) < 20_000, `acked ${e.ackedBps} ~ 1 Mbps`);
  t.ok(e.estimateBps > 1_000_000 && e.estimateBps < 1_200_000, `grows gently (${e.estimateBps})`);
  e.tick(5000);
  t.equal(e.ackedBps, 0, 'an acked rate with nothing acked for 2 s is unknown');
});

t.test('lost retransmissions (replays without RTX) are not link loss', async (t) => {
  const run = (retransmission: boolean): BandwidthEstimator => {
    const e = new BandwidthEstimator({ startBps: 1_000_000 });
    let send = 0;
    for (let f = 1; f <= 20; f++) {
      const fb: PacketResult[] = [];
      for (; send < f * 100; send += 9.6) fb.push({ sendMs: send, size: 1200, arrivalMs: 5_000 + send + 25, probeCluster: -1 });
      // Every feedback also reports three copies of NACKed packets that never counted at the receiver.
      for (let k = 0; k < 3; k++) fb.push({ sendMs: send, size: 1200, arrivalMs: -1, probeCluster: -1, retransmission });
      e.onTransportFeedback(fb, f * 100 + 30);
    }
    return e;
  };
  const resent = run(true);
  const lost = run(false);
  t.equal(resent.stats().lostRetransmissions, 60, 'counted apart');
  t.equal(resent.stats().lost, 0, 'not as loss');
  t.ok(resent.estimateBps > 1_000_000, `the estimate grows as on a clean link (${resent.estimateBps})`);
  t.ok(lost.estimateBps < resent.estimateBps, `the same reports as plain media would be loss (${lost.estimateBps})`);
});

t.test('(7) hostile feedback never makes the estimate NaN or leave [min, max]', async (t) => {
  const e = new BandwidthEstimator({ startBps: 800_000, minBps: 40_000, maxBps: 4_000_000 });
  const check = (what: string): void => {
    const v = e.estimateBps;
    t.ok(Number.isFinite(v) && v >= 40_000 && v <= 4_000_000, `${what}: ${v}`);
    t.ok(Number.isFinite(e.ackedBps) && e.ackedBps >= 0, `${what}: acked ${e.ackedBps}`);
  };
  e.onTransportFeedback([], 100);
  check('empty');
  t.equal(e.estimateBps, 800_000, 'empty feedback does not move the estimate');
  const lost: PacketResult[] = [];
  for (let i = 0; i < 50; i++) lost.push({ sendMs: 100 + i * 10, size: 1200, arrivalMs: -1, probeCluster: -1 });
  e.onTransportFeedback(lost, 700);
  check('all lost, first window');
  e.onTransportFeedback(lost.map((p) => ({ ...p, sendMs: p.sendMs + 600 })), 1400);
  check('all lost');
  t.ok(e.estimateBps < 800_000, `all lost: decreased (${e.estimateBps})`);
  for (let k = 0; k < 30; k++) e.onTransportFeedback(lost.map((p) => ({ ...p, sendMs: p.sendMs + 1300 + k * 600 })), 2100 + k * 600);
  check('all lost for 18 s');
  t.equal(e.estimateBps, 40_000, 'floored at min');

  const bad = [Number.NaN, Infinity, -Infinity, -5, 1e308, -1e308, 0];
  let now = 30_000;
  for (const x of bad) {
    now += 100;
    e.onTransportFeedback(
      [
        { sendMs: x, size: 1200, arrivalMs: 1, probeCluster: -1 },
        { sendMs: now - 50, size: x, arrivalMs: 2, probeCluster: x },
        { sendMs: now - 40, size: 1200, arrivalMs: x, probeCluster: 0 },
        { sendMs: now - 30, size: 1200, arrivalMs: 3, probeCluster: x },
      ],
      now,
    );
    e.onTransportFeedback([], x);
    e.onRemb(x, now);
    e.onReceiverReport(x, x, now);
    e.tick(x);
    check(`value ${x}`);
  }
  t.equal(e.stats().mode, 'twcc');
});

t.test('(7) reordered, repeated and malformed results are skipped and counted', async (t) => {
  const e = new BandwidthEstimator({ startBps: 800_000 });
  const now = 10_000;
  const fb: PacketResult[] = [];
  for (let i = 0; i < 30; i++) fb.push({ sendMs: now + i * 5, size: 1000, arrivalMs: 50_000 + i * 5, probeCluster: -1 });
  const shuffled = [...fb].reverse();
  e.onTransportFeedback([...fb, ...fb], now + 200);
  e.onTransportFeedback(shuffled, now + 300);
  e.onTransportFeedback(fb, now + 400);
  const st = e.stats();
  t.equal(st.stale, 58, 'repeats of earlier feedback are stale (all but the newest send time)');
  t.equal(st.packets, 62, 'the rest counted once, plus the in-feedback duplicates');
  t.ok((st.reordered as number) > 0, 'in-feedback duplicates are reordered groups for the detector');
  t.equal(e.delaySignal, 'normal');
  t.ok(e.estimateBps >= 800_000 && e.estimateBps < 900_000, `estimate sane: ${e.estimateBps}`);
  // Not even an array (a caller bug): counted, not thrown.
  e.onTransportFeedback(null as unknown as PacketResult[], now + 500);
  e.onTransportFeedback([undefined as unknown as PacketResult], now + 600);
  t.equal(e.stats().invalid, 1);
  // A clock going backward is held at its last value.
  e.onTransportFeedback([{ sendMs: now + 550, size: 1000, arrivalMs: 60_000, probeCluster: -1 }], now - 5000);
  t.equal(e.stats().invalid, 1, 'judged against the held clock, not the backward one');
  t.equal(e.stats().packets, 63);
});

t.test('probe packets raise the estimate only with enough arrivals and no overuse', async (t) => {
  const cluster = (id: number, at: number, n: number, gapMs: number, recvGapMs: number, lostEvery = 0): PacketResult[] => {
    const out: PacketResult[] = [];
    for (let i = 0; i < n; i++) {
      const lost = lostEvery > 0 && i % lostEvery === lostEvery - 1;
      out.push({ sendMs: at + i * gapMs, size: 1200, arrivalMs: lost ? -1 : 10_000 + at + i * recvGapMs, probeCluster: id });
    }
    return out;
  };
  // 1200 B every 4.8 ms = 2 Mbps, received at the same pace; 30 packets span 139 ms.
  let e = new BandwidthEstimator({ startBps: 500_000 });
  e.onTransportFeedback(cluster(1, 0, 30, 4.8, 4.8), 250);
  t.ok(Math.abs(e.estimateBps - 0.9 * 2_000_000) < 50_000, `a clean 2 Mbps probe sets 90 % of it, ~1.8 Mbps (${e.estimateBps})`);

  // The head of a probe (here 91 ms of it) proves nothing yet: a bottleneck's burst allowance
  // lets it through at any rate. Arriving all at once, it would read as 2 Mbps at least.
  e = new BandwidthEstimator({ startBps: 500_000 });
  e.onTransportFeedback(cluster(1, 0, 20, 4.8, 0.1), 200);
  t.equal(e.estimateBps, 500_000, 'a probe measured over less than 100 ms of sending does not count');

  e = new BandwidthEstimator({ startBps: 500_000 });
  e.onTransportFeedback(cluster(1, 0, 4, 4.8, 4.8), 200);
  t.equal(e.estimateBps, 500_000, 'four packets are not enough');

  e = new BandwidthEstimator({ startBps: 500_000 });
  e.onTransportFeedback(cluster(1, 0, 30, 4.8, 4.8, 3), 250);
  t.equal(e.estimateBps, 500_000, 'a third lost: below the 80 % arrival bar');

  e = new BandwidthEstimator({ startBps: 500_000 });
  e.onTransportFeedback(cluster(1, 0, 30, 4.8, 9.6), 400);
  t.ok(Math.abs(e.estimateBps - 0.9 * 1_000_000) < 30_000, `sent at 2 Mbps, delivered at 1 Mbps: 90 % of ~1 Mbps (${e.estimateBps})`);

  e = new BandwidthEstimator({ startBps: 500_000 });
  e.onTransportFeedback(cluster(1, 0, 30, 9.6, 1), 400);
  t.ok(e.estimateBps < 1_050_000, `delivery squeezed by jitter is capped by the send rate (${e.estimateBps})`);
});

t.test('a growing queue is detected as overuse and cuts to 0.85 x acknowledged', async (t) => {
  const e = new BandwidthEstimator({ startBps: 2_000_000 });
  // 2 Mbps sent (4.8 ms apart) into a 1 Mbps bottleneck (9.6 ms apart on arrival).
  let send = 0;
  let arrival = 20;
  let overAt = -1;
  for (let f = 1; f <= 10 && overAt < 0; f++) {
    const fb: PacketResult[] = [];
    for (; send < f * 100; send += 4.8) {
      arrival = Math.max(arrival + 9.6, send + 20);
      fb.push({ sendMs: send, size: 1200, arrivalMs: arrival, probeCluster: -1 });
    }
    e.onTransportFeedback(fb, f * 100 + 40);
    if (e.delaySignal === 'overusing') overAt = f * 100 + 40;
  }
  t.comment(`overuse after ${overAt} ms of a 2x overshoot`);
  t.ok(overAt > 0 && overAt <= 400, `overuse detected at ${overAt} ms`);
  t.ok(e.estimateBps < 1_000_000 && e.estimateBps > 750_000, `cut to about 0.85 x 1 Mbps (${e.estimateBps})`);
});

t.test('an overuse verdict expires once nothing is acknowledged: probes can bring a paused link back', async (t) => {
  const e = new BandwidthEstimator({ startBps: 1_000_000 });
  const results: PacketResult[] = [];
  let send = 0;
  let arrival = 10_000;
  // Steady, then every packet 30 % later than the last: a queue building.
  for (let i = 0; i < 200; i++) {
    send += 10;
    arrival += i < 100 ? 10 : 13;
    results.push({ sendMs: send, size: 1200, arrivalMs: arrival, probeCluster: -1 });
  }
  for (let i = 0; i < results.length; i += 20) e.onTransportFeedback(results.slice(i, i + 20), send);
  t.equal(e.delaySignal, 'overusing', 'the growing delay is seen');
  e.tick(send + 500);
  t.equal(e.delaySignal, 'overusing', 'still current 500 ms later');
  e.tick(send + 1500);
  t.equal(e.delaySignal, 'normal', 'nothing acknowledged for over a second: no longer evidence of a queue');
});
