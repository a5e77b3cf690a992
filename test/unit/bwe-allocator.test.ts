import t from 'tap';
import { allocate, type AllocationTrack, type TrackOption } from '../../src/bwe/allocator.js';

/** A three-layer simulcast camera: q at TL0, q, h, f (ascending bps). */
const SIM: TrackOption[] = [
  { spatial: 0, temporal: 0, bps: 80_000 },
  { spatial: 0, temporal: 2, bps: 150_000 },
  { spatial: 1, temporal: 2, bps: 500_000 },
  { spatial: 2, temporal: 2, bps: 1_500_000 },
];

function video(id: string, priority: number, o: Partial<AllocationTrack> = {}): AllocationTrack {
  return { id, kind: 'video', priority, options: SIM, maxSpatial: 2, maxTemporal: 2, ...o };
}
function audio(id: string, bps = 40_000): AllocationTrack {
  return { id, kind: 'audio', priority: 0, options: [], maxSpatial: 0, maxTemporal: 0, bps };
}
/** The allocation as a plain object `{ id: 's/t' }`, in map order. */
function layers(r: ReturnType<typeof allocate>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, a] of r.byId) out[id] = `${a.spatial}/${a.temporal}`;
  return out;
}

t.test('plenty of bandwidth: everyone gets the best within caps, not limited', async (t) => {
  const r = allocate(10_000_000, [audio('a1'), video('screen', 1), video('cam', 3, { maxSpatial: 1 })]);
  t.same(layers(r), { a1: '0/0', screen: '2/2', cam: '1/2' });
  t.equal(r.usedBps, 40_000 + 1_500_000 + 500_000);
  t.equal(r.wantedBps, r.usedBps);
  t.equal(r.limited, false);
});

t.test('audio first, then minimums by priority, then upgrades by priority', async (t) => {
  const tracks = [video('cam1', 3), video('cam2', 3), video('speaker', 2), audio('a1'), audio('a2'), video('screen', 1)];
  const r = allocate(1_700_000, tracks);
  // Remainder after audio and minimums: 1.7M - 80k - 320k = 1.3M. Screen: best fitting is 500k (+420k) -> 880k left;
  // speaker: 500k (+420k) -> 460k; cam1: 500k (+420k) -> 40k; cam2 stays at 80k.
  t.same(layers(r), { cam1: '1/2', cam2: '0/0', speaker: '1/2', a1: '0/0', a2: '0/0', screen: '1/2' }, 'input order kept in the map');
  t.equal(r.usedBps, 80_000 + 500_000 * 3 + 80_000);
  t.equal(r.limited, true);
  t.equal(r.wantedBps, 80_000 + 4 * 1_500_000);

  const more = allocate(2_500_000, tracks);
  // 2.1M after audio and minimums: screen to full (+1.42M) -> 680k; speaker +420k -> 260k; cams +70k each.
  t.same(layers(more), { cam1: '0/2', cam2: '0/2', speaker: '1/2', a1: '0/0', a2: '0/0', screen: '2/2' }, 'the screen share is served in full first');
});

t.test('pausing: the lowest that does not fit is paused; cheaper later tracks still get theirs', async (t) => {
  const big: TrackOption[] = [{ spatial: 0, temporal: 0, bps: 400_000 }];
  const r = allocate(300_000, [audio('a', 50_000), video('screen', 1, { options: big }), video('cam', 3)]);
  t.same(layers(r), { a: '0/0', screen: '-1/-1', cam: '0/2' });
  t.equal(r.usedBps, 50_000 + 150_000);
  t.equal(r.limited, true);

  const none = allocate(100_000, [audio('a', 50_000), video('v1', 3), video('v2', 3)]);
  t.same(layers(none), { a: '0/0', v1: '-1/-1', v2: '-1/-1' }, 'both paused (50k left, lowest 80k)');
  t.equal(none.usedBps, 50_000);

  const starved = allocate(20_000, [audio('a', 50_000), audio('b', 50_000), video('v', 3)]);
  t.same(layers(starved), { a: '0/0', b: '0/0', v: '-1/-1' }, 'audio is never paused, even over budget');
  t.equal(starved.usedBps, 100_000);

  const zero = allocate(Number.NaN, [video('v', 3)]);
  t.same(layers(zero), { v: '-1/-1' }, 'NaN available = nothing');
});

t.test('caps: temporal and spatial caps, caps below every option, subscriber pause', async (t) => {
  const r = allocate(10_000_000, [
    video('t0', 3, { maxTemporal: 0 }),
    video('s0', 3, { maxSpatial: 0 }),
    video('below', 3, { options: [{ spatial: 1, temporal: 1, bps: 300_000 }], maxSpatial: 0, maxTemporal: 0 }),
    video('off', 3, { maxSpatial: -1 }),
  ]);
  t.same(layers(r), { t0: '0/0', s0: '0/2', below: '0/0', off: '-1/-1' });
  t.equal(r.usedBps, 80_000 + 150_000 + 300_000, 'a cap below the options is charged the cheapest price');
  t.equal(r.limited, false, 'a subscriber pause is not a bandwidth limit');
  t.equal(r.wantedBps, r.usedBps);
});

t.test('tracks with no known options get their caps, unpaused and free', async (t) => {
  const r = allocate(0, [video('new', 3, { options: [], maxSpatial: 2, maxTemporal: 1 })]);
  t.same(layers(r), { new: '2/1' });
  t.equal(r.usedBps, 0);
  t.equal(r.limited, false);
  const bad = allocate(1_000_000, [video('bad', 3, { options: [{ spatial: 0, temporal: 0, bps: Number.NaN }, { spatial: 1, temporal: 0, bps: -1 }] })]);
  t.same(layers(bad), { bad: '2/2' }, 'only invalid prices: as if unknown');
});

t.test('options in any order; ties broken by layer, not input order', async (t) => {
  const shuffled = [SIM[3]!, SIM[0]!, SIM[2]!, SIM[1]!];
  const a = allocate(700_000, [video('v', 3)]);
  const b = allocate(700_000, [video('v', 3, { options: shuffled })]);
  t.same(layers(a), layers(b));
  t.same(layers(a), { v: '1/2' });
  const tie: TrackOption[] = [
    { spatial: 1, temporal: 0, bps: 200_000 },
    { spatial: 0, temporal: 2, bps: 200_000 },
  ];
  t.same(layers(allocate(1e6, [video('v', 3, { options: tie })])), { v: '1/0' });
  t.same(layers(allocate(1e6, [video('v', 3, { options: [...tie].reverse() })])), { v: '1/0' });
});

t.test('deterministic: equal input, equal output; priorities with NaN go last', async (t) => {
  const tracks = [video('x', 3), video('y', Number.NaN), video('z', 2), audio('a')];
  const first = allocate(1_000_000, tracks);
  for (let i = 0; i < 50; i++) {
    const again = allocate(1_000_000, tracks);
    t.same(layers(again), layers(first));
    t.equal(again.usedBps, first.usedBps);
  }
  // 720k after audio and minimums: z +420k -> 300k; x cannot take +420k, takes +70k -> 230k; y +70k.
  t.same(layers(first), { x: '0/2', y: '0/2', z: '1/2', a: '0/0' }, 'z (2), then x (3), then y (NaN) upgraded');
  t.same(layers(allocate(800_000, tracks)), { x: '0/2', y: '0/0', z: '1/2', a: '0/0' }, 'y (NaN priority) is the one left at the minimum');
});

t.test('a sweep of available bandwidth: monotone use, never above available (video), limited until enough', async (t) => {
  const tracks = [audio('a'), video('screen', 1), video('spk', 2), video('c1', 3), video('c2', 3)];
  let prev = -1;
  const bad: string[] = [];
  for (let bps = 0; bps <= 7_000_000; bps += 10_000) {
    const r = allocate(bps, tracks);
    if (r.usedBps - 40_000 > Math.max(0, bps - 40_000)) bad.push(`${bps}: used ${r.usedBps}`);
    if (r.usedBps < prev) bad.push(`${bps}: used ${r.usedBps} < ${prev}`);
    if (r.limited !== bps < r.wantedBps) bad.push(`${bps}: limited ${r.limited}, wanted ${r.wantedBps}`);
    prev = r.usedBps;
  }
  t.same(bad, [], 'video within the budget, use monotone in the budget, limited iff under the want');
});
