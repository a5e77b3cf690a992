import t from 'tap';
import { ProbeController, type ProbeState } from '../../src/bwe/probe-controller.js';

const st = (nowMs: number, o: Partial<ProbeState> = {}): ProbeState => ({
  nowMs,
  estimateBps: 1_000_000,
  limited: true,
  wantedBps: 5_000_000,
  overusing: false,
  ...o,
});

/** Calls decide every 25 ms from `from` to `to`; returns the first probe's time and decision. */
function firstProbe(p: ProbeController, from: number, to: number, o: Partial<ProbeState> = {}) {
  for (let now = from; now <= to; now += 25) {
    const d = p.decide(st(now, o));
    if (d) return { now, d };
  }
  return null;
}

t.test('probes after 2 s of stability, at min(wanted, 2 x estimate), for 150 ms', async (t) => {
  const p = new ProbeController();
  const first = firstProbe(p, 0, 5000);
  t.ok(first, 'a probe');
  t.equal(first!.now, 2000, 'exactly 2 s after the first decision');
  t.same(first!.d, { clusterId: 0, targetBps: 2_000_000, durationMs: 150 });
  t.equal(p.decide(st(2100)), null, 'one probe at a time');
  p.onProbeDone(0, 1_900_000, 2700);
  t.equal(p.successes, 1);
  const second = firstProbe(p, 2700, 10_000, { estimateBps: 1_900_000, wantedBps: 2_500_000 });
  t.equal(second!.now, 4700, 'next one 2 s after the last probe ended');
  t.same(second!.d, { clusterId: 1, targetBps: 2_500_000, durationMs: 150 }, 'capped by what is wanted');
  p.onProbeDone(1, 2_400_000, 5400);
  const third = firstProbe(p, 5400, 10_000, { estimateBps: 2_400_000, wantedBps: 2_500_000 });
  t.equal(third!.d.targetBps, 3_000_000, 'at least 1.25 x the estimate');
});

t.test('the first probe may come sooner (initialWaitMs), unless congestion showed first', async (t) => {
  const p = new ProbeController({ initialWaitMs: 300 });
  const first = firstProbe(p, 0, 5000);
  t.equal(first!.now, 300, 'the start estimate is a guess: probed after 300 ms');
  p.onProbeDone(0, 1_000_000, 1000);
  t.equal(firstProbe(p, 1000, 10_000)!.now, 5000, 'later ones wait as usual (here 2 x 2 s after a failure)');
  const q = new ProbeController({ initialWaitMs: 300 });
  q.decide(st(0));
  q.decide(st(100, { overusing: true }));
  t.equal(firstProbe(q, 125, 10_000)!.now, 2100, 'overuse before the first probe: the full stable period');
});

t.test('no probe while not limited, overusing or after a decrease', async (t) => {
  const p = new ProbeController();
  t.equal(firstProbe(p, 0, 10_000, { limited: false }), null, 'not limited');
  t.equal(firstProbe(p, 10_000, 20_000, { wantedBps: 900_000 }), null, 'wanted already covered');
  const q = new ProbeController();
  q.decide(st(0));
  q.decide(st(1500, { overusing: true }));
  t.equal(firstProbe(q, 1525, 3475), null, 'overuse restarts the stable period');
  t.equal(firstProbe(q, 3500, 3600)!.now, 3500);
  const r = new ProbeController();
  r.decide(st(0));
  r.decide(st(1900, { estimateBps: 800_000 }));
  t.equal(firstProbe(r, 1925, 3875, { estimateBps: 800_000 }), null, 'a decrease restarts it too');
  t.equal(firstProbe(r, 3900, 4000, { estimateBps: 800_000 })!.now, 3900);
  const s = new ProbeController();
  s.decide(st(0));
  t.equal(firstProbe(s, 25, 1975, { estimateBps: 1_200_000 }), null);
  t.equal(firstProbe(s, 2000, 2100, { estimateBps: 1_200_000 })!.now, 2000, 'an increase does not');
});

t.test('exponential backoff after failures, reset on success or a bigger want', async (t) => {
  const p = new ProbeController({ maxIntervalMs: 16_000 });
  let now = 0;
  const gaps: number[] = [];
  let doneAt = 0;
  for (let i = 0; i < 6; i++) {
    const got = firstProbe(p, now, now + 100_000)!;
    gaps.push(got.now - doneAt);
    doneAt = got.now + 600;
    p.onProbeDone(got.d.clusterId, 1_000_000, doneAt);
    now = doneAt;
  }
  t.same(gaps, [2000, 4000, 8000, 16_000, 16_000, 16_000], 'doubling, capped');
  t.equal(p.failed, 6);
  const bigger = firstProbe(p, now, now + 100_000, { wantedBps: 8_000_000 })!;
  t.equal(bigger.now - now, 2000, 'a 60 % bigger want resets the backoff');
  p.onProbeDone(bigger.d.clusterId, 1_000_000, bigger.now + 600);
  now = bigger.now + 600;
  const after = firstProbe(p, now, now + 100_000, { wantedBps: 8_000_000 })!;
  t.equal(after.now - now, 4000, 'and it backs off again from there');
  p.onProbeDone(after.d.clusterId, 1_500_000, after.now + 600);
  now = after.now + 600;
  const ok = firstProbe(p, now, now + 100_000, { estimateBps: 1_500_000, wantedBps: 8_000_000 })!;
  t.equal(ok.now - now, 2000, 'a success resets it');
});

t.test('a failed probe goes stale once the estimate climbs 20 % above where it failed', async (t) => {
  const p = new ProbeController();
  let now = 0;
  for (let i = 0; i < 3; i++) {
    const got = firstProbe(p, now, now + 100_000)!;
    p.onProbeDone(got.d.clusterId, 1_000_000, got.now + 600);
    now = got.now + 600;
  }
  t.equal(p.intervalMs, 16_000, 'three failures: 16 s');
  t.equal(firstProbe(p, now, now + 2000, { estimateBps: 1_150_000 }), null, '+15 %: still backing off');
  const got = firstProbe(p, now + 2025, now + 20_000, { estimateBps: 1_250_000 })!;
  t.equal(got.now, now + 2025, '+25 %: the next decision probes (stable for 2 s already)');
  t.equal(got.d.targetBps, 2_500_000);
});

t.test('a probe never reported done times out as a failure; stray ids are ignored', async (t) => {
  const p = new ProbeController();
  const a = firstProbe(p, 0, 5000)!;
  p.onProbeDone(12345, 9_000_000, 2100);
  t.equal(p.pendingCluster, a.d.clusterId, 'unknown id ignored');
  // The default duration is 150 ms: the probe is given up 2150 ms after it started.
  t.equal(p.decide(st(a.now + 2150)), null, 'still waiting within duration + 2 s');
  t.equal(p.decide(st(a.now + 2175)), null, 'timed out: failed, and the backoff starts now');
  t.equal(p.failed, 1);
  t.equal(p.pendingCluster, -1);
  t.equal(firstProbe(p, a.now + 2200, a.now + 2175 + 3975), null);
  t.ok(firstProbe(p, a.now + 2175 + 4000, a.now + 2175 + 4000), 'after 4 s');
});

t.test('bad input gives no probe and no throw; ids wrap; maxBps caps the target', async (t) => {
  const p = new ProbeController({ maxBps: 1_500_000, firstClusterId: 0x7fffffff });
  t.equal(p.decide(st(Number.NaN)), null);
  t.equal(p.decide(st(0, { estimateBps: Number.NaN })), null);
  t.equal(p.decide(st(0, { estimateBps: -1 })), null);
  const d = firstProbe(p, 0, 5000)!;
  t.equal(d.d.targetBps, 1_500_000, 'capped by maxBps');
  t.equal(d.d.clusterId, 0x7fffffff);
  p.onProbeDone(d.d.clusterId, Number.NaN, d.now + 600);
  const e = firstProbe(p, d.now + 600, d.now + 20_000)!;
  t.equal(e.d.clusterId, 0, 'wrapped');
  const capped = new ProbeController({ maxBps: 1_000_000 });
  t.equal(firstProbe(capped, 0, 10_000), null, 'no probe when the cap leaves nothing above the estimate');
});

t.test('a probe nothing was measured of is neither success nor failure: no backoff', async (t) => {
  const p = new ProbeController();
  let now = 0;
  for (let i = 0; i < 3; i++) {
    const got = firstProbe(p, now, now + 100_000)!;
    p.onProbeDone(got.d.clusterId, 1_000_000, got.now + 600, false);
    t.equal(got.now - now, 2000, `probe ${i + 1} after the usual 2 s`);
    now = got.now + 600;
  }
  t.same([p.failed, p.successes, p.inconclusive], [0, 0, 3]);
  t.equal(p.intervalMs, 2000, 'the wait did not double');
});
