import t from 'tap';
import { DominantSpeakerIdentifier } from '../../src/speaker/dominant-speaker.js';
import type { DominantSpeakerOptions } from '../../src/speaker/dominant-speaker.js';

// Synthetic RFC 6464 traces, one packet per participant every 20 ms, decisions
// at the 300 ms ticks (startMs 0). How the expected ticks follow from
// reference/anchors.md section 5:
// - LOUD v = 20 -> L = 107 -> 10 active sub-bands (> 7: an active frame).
//   QUIET v = 120 -> L = 7 = the noise floor -> 0 sub-bands.
// - Scores: immediate is the floor (1e-10) for 0..3 sub-bands; medium is the
//   floor only with 0 active frames in the newest 5; long rises with each
//   fully active 100 ms block among the last 10. The ratios can only clear
//   C1 = 3 and C2 = 2 when the dominant speaker's newest frame and newest
//   100 ms are silent, and C3 = 0 when the challenger has strictly more fully
//   active blocks in the last second than the dominant speaker.
// - After j loud packets (newest first) a speaker has floor(j / 5) active
//   blocks; after j quiet packets following a full second of speech, the
//   previous speaker keeps 10 - ceil(j / 5).
// - With two or more speakers and no dominant speaker, the first one (join
//   order) is nominated: a quiet room reports it at the first tick, 300 ms.
const LOUD = 20;
const QUIET = 120;

type Source = (t: number) => number | null; // level, or null for no packet
type Changes = [number, string | null][];

/** Loud during the half-open [start, end) ranges, quiet otherwise. */
function talk(...ranges: [number, number][]): Source {
  return (ms) => (ranges.some(([a, b]) => ms >= a && ms < b) ? LOUD : QUIET);
}

/** Feeds packets at from, from + 20, ..., to (sources in object order), ticking after each step. */
function replay(
  dsi: DominantSpeakerIdentifier,
  sources: Record<string, Source>,
  from: number,
  to: number,
  tickEvery = 20,
): Changes {
  const out: Changes = [];
  for (let ms = from; ms <= to; ms += 20) {
    for (const [id, src] of Object.entries(sources)) {
      const v = src(ms);
      if (v !== null) dsi.levelReceived(id, v, ms);
    }
    if (ms % tickEvery === 0) {
      const c = dsi.tick(ms);
      if (c) out.push([c.atMs, c.dominant]);
    }
  }
  return out;
}

function run(sources: Record<string, Source>, to: number, opts?: DominantSpeakerOptions, tickEvery?: number): Changes {
  return replay(new DominantSpeakerIdentifier(opts), sources, 0, to, tickEvery);
}

t.test('one speaker: dominant at the first decision tick; with silence detection only once it speaks', async (t) => {
  // A single speaker is dominant by definition at the first tick, speaking or not.
  t.same(run({ A: talk([1000, 2000]) }, 3000), [[300, 'A']]);

  // Silence detection: never spoken -> none. Speech from 1000: at 1200 the newest 5
  // packets form an active block (long > min). The last tick with an active block
  // is 2700 (j = 36 quiet: loud blocks 8, 9 remain); at 3000 (j = 51) none.
  // 5700 - 2700 = 3000 is not > 3000; 6000 is. Speech again from 7000 -> 7200.
  t.same(run({ A: talk([1000, 2000], [7000, 8000]) }, 8000, { silenceDetection: true }), [
    [1200, 'A'],
    [6000, null],
    [7200, 'A'],
  ]);
});

t.test('onset: 100 ms of speech against a silent dominant speaker takes over at the next tick', async (t) => {
  // B from 1120: 5 loud packets at 1200 = one active block > A's 0.
  t.same(run({ A: talk(), B: talk([1120, 3000]) }, 3000), [
    [300, 'A'],
    [1200, 'B'],
  ]);
  // B from 1140: only 4 loud packets at 1200 (no full block, c3 = 0 is not > 0): the next tick.
  t.same(run({ A: talk(), B: talk([1140, 3000]) }, 3000), [
    [300, 'A'],
    [1500, 'B'],
  ]);
});

t.test('two speakers taking turns: the switch waits for the long window', async (t) => {
  const sources = { A: talk([1000, 3000], [5000, 7000]), B: talk([3000, 5000]) };
  // Hand-over at 3000: tick 3300 has j = 16 -> A keeps 10 - 4 = 6 blocks, B has 3: no.
  // Tick 3600: j = 31 -> A 3, B 6: switch. Back at 5000: 5100 (B 8, A 1), 5400 (B 5, A 4),
  // 5700 (j = 36: B 2, A 7): switch.
  const expected: Changes = [
    [300, 'A'],
    [3600, 'B'],
    [5700, 'A'],
  ];
  t.same(run(sources, 7000), expected);
  t.same(run(sources, 7000, {}, 300), expected, 'ticking only on the 300 ms grid decides the same');
  t.same(run(sources, 7000, {}, 60), expected, 'ticking every 60 ms decides the same');
});

t.test('several challengers: the most active newest 100 ms wins, ties by join order', async (t) => {
  // At 1200 both B and C beat the silent A; C's packet at 1180 is quiet, so its newest
  // 100 ms has 4 active frames (medium score 90.97) against B's 5 (113.36).
  t.same(run({ A: talk(), B: talk([1000, 3000]), C: talk([1000, 1180], [1200, 3000]) }, 1500), [
    [300, 'A'],
    [1200, 'B'],
  ]);
  t.same(run({ A: talk(), C: talk([1000, 1180], [1200, 3000]), B: talk([1000, 3000]) }, 1500), [
    [300, 'A'],
    [1200, 'B'],
  ]);
  // Identical challengers: the first to join.
  t.same(run({ A: talk(), C: talk([1000, 3000]), B: talk([1000, 3000]) }, 1500), [
    [300, 'A'],
    [1200, 'C'],
  ]);
});

t.test('a short cough from a listener does not switch', async (t) => {
  // A spoke 1000..2980. B coughs 200 ms (10 packets, 3120..3300) ending exactly on the
  // 3300 tick, in A's silence: A still has 10 - ceil(16 / 5) = 6 active blocks, B 2.
  // At 3600 B's newest frame is quiet (c1 = 0).
  t.same(run({ A: talk([1000, 3000]), B: talk([3120, 3320]) }, 4500), [[300, 'A']]);

  // Reference behaviour, pinned: there is no hold timer beyond the long window. Once A's
  // whole last second is silent (tick 4200: j = 61, 0 blocks), the same 200 ms burst
  // (4020..4200, 2 blocks) wins.
  t.same(run({ A: talk([1000, 3000]), B: talk([4020, 4220]) }, 4500), [
    [300, 'A'],
    [4200, 'B'],
  ]);
});

t.test('a newcomer must talk about a second before taking over a speaker who pauses', async (t) => {
  // A talks from 1000 with a 120 ms pause (6 quiet packets) ending on every 600 ms tick;
  // on the other ticks A is mid-word, so nobody can switch (c1 = 0). At a pause tick A
  // has 6 active blocks (the two blocks touching each of its two pauses are incomplete).
  const a: Source = (ms) => (ms >= 1000 && ms % 600 >= 20 && ms % 600 <= 480 ? LOUD : QUIET);
  const dsi = new DominantSpeakerIdentifier();
  const sources = { A: a, B: talk([3020, 10000]) };
  t.same(replay(dsi, sources, 0, 3000), [[300, 'A']]);
  // B starts at 3020. Pause tick 3600 (580 ms of B): 30 packets = 6 blocks, not > 6.
  t.same(replay(dsi, sources, 3020, 4180), [], 'not taken over at ~500 ms (ticks 3300, 3600, 3900)');
  t.equal(dsi.dominant, 'A');
  // Pause tick 4200 (1180 ms of B): 10 blocks > 6.
  t.same(replay(dsi, sources, 4200, 5000), [[4200, 'B']], 'taken over at the 4200 tick');
  t.equal(dsi.dominant, 'B');
});

t.test('silence: the last dominant speaker is kept by default; reported as none with silence detection', async (t) => {
  const sources = { A: talk([1000, 2000]), B: talk([7000, 8000]) };
  t.same(run(sources, 8000), [
    [300, 'A'],
    [7200, 'B'],
  ]);

  const dsi = new DominantSpeakerIdentifier({ silenceDetection: true });
  // 300: A is nominated but has never spoken -> stays none (no change reported).
  // 1200: A active. Last active block at 2700 -> none at 6000 (> 3000 ms later).
  t.same(replay(dsi, sources, 0, 6500), [
    [1200, 'A'],
    [6000, null],
  ]);
  t.equal(dsi.dominant, null);
  // B speaks against the nominated, silent A: 11 loud packets = 2 blocks at 7200.
  t.same(replay(dsi, sources, 6520, 8000), [[7200, 'B']]);

  // A dominant speaker that stops sending (muted, DTX) gets one silent level per 40 ms
  // grid point after 40 ms idle: 17 at tick 2700 -> 10 - 4 = 6 blocks, B (36 loud) 7.
  const muted = { A: (ms: number) => (ms < 2000 ? talk([1000, 2000])(ms) : null), B: talk([2000, 4000]) };
  const expected: Changes = [
    [300, 'A'],
    [2700, 'B'],
  ];
  t.same(run(muted, 4000), expected);
  t.same(run(muted, 4000, {}, 300), expected, 'idle levels are the same when ticking only every 300 ms');
});

t.test('a steady hum is the speaker’s noise floor, not speech', async (t) => {
  // B hums at v = 40 (L = 87, 8 sub-bands: loud enough to be speech) from the start:
  // its floor is 87, so the hum counts 0 sub-bands. B's speech (L = 107 >= 87 + 10)
  // counts: 16 packets at 3300 = 3 blocks against A's 0.
  const hum: Source = (ms) => (ms >= 3000 && ms < 4000 ? LOUD : 40);
  t.same(run({ A: talk([1000, 2000]), B: hum }, 4000), [
    [300, 'A'],
    [3300, 'B'],
  ]);
});

t.test('removing speakers', async (t) => {
  const dsi = new DominantSpeakerIdentifier();
  const sources: Record<string, Source> = { A: talk(), B: talk([1000, 2000]), C: talk([1500, 3000]) };
  // B takes over from the nominated A at 1200; C cannot while B is talking.
  t.same(replay(dsi, sources, 0, 1980), [
    [300, 'A'],
    [1200, 'B'],
  ]);
  t.equal(dsi.removeSpeaker('B'), true, 'B was dominant');
  delete sources.B;
  t.equal(dsi.dominant, null);
  // 2100: no dominant -> A nominated, C (31 loud packets, 6 blocks) wins at once: no
  // waiting for B's long window to decay.
  t.same(replay(dsi, sources, 2000, 2480), [[2100, 'C']]);
  t.equal(dsi.removeSpeaker('A'), false, 'A was not dominant');
  t.equal(dsi.removeSpeaker('nobody'), false);
  delete sources.A;
  t.same(replay(dsi, sources, 2500, 2980), []);
  t.equal(dsi.removeSpeaker('C'), true);
  delete sources.C;
  t.same(replay(dsi, sources, 3000, 3080), [], 'nobody left: no change, none dominant');
  t.equal(dsi.dominant, null);
  sources.D = talk();
  t.same(replay(dsi, sources, 3100, 3400), [[3300, 'D']], 'a lone newcomer is dominant at the next tick');

  // Speakers silent for more than an hour are dropped, except the dominant one.
  const idle = new DominantSpeakerIdentifier();
  replay(idle, { A: talk([0, 1000]), B: talk() }, 0, 600);
  t.equal(idle.dominant, 'A');
  t.equal(idle.tick(600 + 3_600_000), null);
  t.same([idle.has('A'), idle.has('B')], [true, true], 'exactly one hour: kept');
  t.equal(idle.tick(600 + 3_600_020), null);
  t.same([idle.has('A'), idle.has('B')], [true, false], 'more than an hour: B dropped, the dominant A kept');
});

t.test('ranking: the dominant speaker, then the most recently active', async (t) => {
  const dsi = new DominantSpeakerIdentifier();
  const sources = { A: talk(), B: talk([1000, 2000]), C: talk([2000, 3000]), D: talk([2500, 2700]) };
  t.same(dsi.ranking(), []);
  replay(dsi, { A: talk(), B: talk(), C: talk(), D: talk() }, 0, 0);
  t.same(dsi.ranking(), ['A', 'B', 'C', 'D'], 'join order before any decision');

  t.same(replay(dsi, sources, 20, 1500), [
    [300, 'A'],
    [1200, 'B'],
  ]);
  t.same(dsi.ranking(), ['B', 'A', 'C', 'D'], 'the previous dominant speaker comes next');

  // C takes over at 2700 (B silent since 2000: j = 36 -> 2 blocks, C 7). D's 200 ms
  // interjection cannot (its newest frame at 2700 is quiet) but leaves one active
  // block until the 3300 tick, so D ranks above B (last active at 2700).
  t.same(replay(dsi, sources, 1520, 3000), [[2700, 'C']]);
  t.same(dsi.ranking(), ['C', 'D', 'B', 'A']);
  t.same(replay(dsi, sources, 3020, 5000), []);
  t.same(dsi.ranking(), ['C', 'D', 'B', 'A'], 'kept through silence');
  // Last tick with a fully active block: B 2700 (j = 36), D 3300, C 3600 (j = 31: 3 blocks).
  t.same(
    dsi.dump().speakers.map((s) => [s.id, s.lastNonSilenceMs]),
    [
      ['A', null],
      ['B', 2700],
      ['C', 3600],
      ['D', 3300],
    ],
  );
});

t.test('level input: RFC 6464 direction, cooked level, out-of-order levels', async (t) => {
  const dsi = new DominantSpeakerIdentifier();
  t.equal(dsi.levelReceived('A', QUIET, 0), 0, 'L = 7 sets the floor and is within 10 of it');
  t.equal(dsi.levelReceived('A', LOUD, 20), 107, 'L = 127 - 20');
  t.equal(dsi.levelReceived('A', 0, 40), 127, '0 dBov is the loudest');
  t.equal(dsi.levelReceived('A', 200, 60), 0, 'clamped to 127: silence');
  t.equal(dsi.levelReceived('A', LOUD, 40), -1, 'older than the last level: ignored');
  t.equal(dsi.levelReceived('A', LOUD, 60), 107, 'same time: accepted');
  const h = dsi.addSpeaker('B', 60);
  t.equal(dsi.addSpeaker('B', 80), h, 'idempotent');
  t.equal(dsi.levelReceived(h, LOUD, 80), 0, 'by handle; a first loud level is the floor until a quieter one comes');
  t.equal(dsi.levelReceived(h, QUIET, 80), 0);
  t.equal(dsi.levelReceived(h, LOUD, 80), 107);
  dsi.removeSpeaker('B');
  t.equal(dsi.levelReceived(h, LOUD, 100), -1, 'a removed handle is ignored');
  t.equal(dsi.size, 1);
});
