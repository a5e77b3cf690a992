// The soak's pass/fail rule on synthetic series: a clean run passes, and each
// kind of leak (memory, slope, gauges, handles, fds) and a churn that did not
// happen fails it, so the soak (test/integration/soak.test.ts) can fail.
import t from 'tap';
import { DEFAULT_LIMITS, judgeSoak, slope, type SoakSample } from '../../bench/soak-judge.js';

const MB = 1024 * 1024;
const zero = { rooms: 0, peers: 0, transports: 0, producers: 0, consumers: 0, wsConnections: 0 };

function sample(t: number, heapMB: number, over: Partial<SoakSample> = {}): SoakSample {
  return { t, heapUsed: heapMB * MB, external: 2 * MB, rss: 100 * MB, handles: 5, fds: 30, gauges: zero, ...over };
}

/** One sample every 10 s over `minutes`, heap = base + rate * minutes + a deterministic wobble. */
function series(minutes: number, base: number, ratePerMin: number): SoakSample[] {
  const out: SoakSample[] = [];
  for (let s = 10; s <= minutes * 60; s += 10) out.push(sample(s, base + (ratePerMin * s) / 60 + ((s / 10) % 3) - 1, { gauges: { ...zero, peers: 60 } }));
  return out;
}

const joins = { attempted: 12_000, failed: 3 };

t.test('slope: least squares', async (t) => {
  t.equal(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
  t.ok(Number.isNaN(slope([{ x: 1, y: 1 }])));
  t.ok(Number.isNaN(slope([{ x: 1, y: 1 }, { x: 1, y: 2 }])));
});

t.test('a clean run passes', async (t) => {
  const v = judgeSoak(sample(-1, 30), series(10, 60, 0), sample(700, 31), 600, joins);
  t.ok(v.pass, v.failures.join('; '));
  t.ok(Math.abs(v.slopeMBPerMin) < 0.2);
  t.equal(v.slopeSamples, 31);
  t.equal(Math.round(v.growthMB), 1);
});

t.test('memory left behind after settling fails', async (t) => {
  const v = judgeSoak(sample(-1, 30), series(10, 60, 0), sample(700, 30 + DEFAULT_LIMITS.maxGrowthMB + 1), 600, joins);
  t.notOk(v.pass);
  t.match(v.failures, [/retained memory grew 9\.0 MB/]);
});

t.test('memory rising through the churn fails on the slope even if settling looks fine', async (t) => {
  const v = judgeSoak(sample(-1, 30), series(10, 60, 3), sample(700, 31), 600, joins);
  t.notOk(v.pass);
  t.match(v.failures, [/rose 3\.\d\d MB\/min/]);
  const short = judgeSoak(sample(-1, 30), series(1, 60, 30), sample(70, 31), 60, joins);
  t.ok(short.pass, 'six samples are too few to judge a slope on: the settled growth rule covers short runs');
});

t.test('gauges, handles and fds that do not come back fail', async (t) => {
  const v = judgeSoak(
    sample(-1, 30),
    series(1, 60, 0),
    sample(70, 30, { gauges: { ...zero, transports: 2, consumers: 1 }, handles: 12, fds: 37 }),
    60,
    joins,
  );
  t.notOk(v.pass);
  t.match(v.failures.join('\n'), /transports gauge is 2/);
  t.match(v.failures.join('\n'), /consumers gauge is 1/);
  t.match(v.failures.join('\n'), /active handles grew by 7/);
  t.match(v.failures.join('\n'), /file descriptors grew by 7/);
});

t.test('a churn where joins failed proves nothing: it fails', async (t) => {
  const v = judgeSoak(sample(-1, 30), series(1, 60, 0), sample(70, 30), 60, { attempted: 600, failed: 100 });
  t.notOk(v.pass);
  t.match(v.failures, [/100 of 600 joins failed/]);
  t.notOk(judgeSoak(sample(-1, 30), [], sample(70, 30), 60, { attempted: 0, failed: 0 }).pass, 'no churn at all');
});
