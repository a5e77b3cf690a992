import t from 'tap';
import { SpeakerRanking, selectLastN } from '../../src/speaker/ranking.js';

const LOUD = 20;
const SOFT = 50;
const QUIET = 127;

/** Feeds one packet per stream every 20 ms over [from, to), `levels(ms)` giving each stream's level (null: no packet). */
function feed(r: SpeakerRanking, from: number, to: number, levels: (ms: number) => Record<string, number | null>): void {
  for (let ms = from; ms < to; ms += 20) {
    for (const [id, level] of Object.entries(levels(ms))) if (level !== null) r.level(id, level, ms);
  }
}

t.test('loudest-K: the K loudest streams plus the dominant speaker', async (t) => {
  const r = new SpeakerRanking({ loudestK: 2 });
  for (const id of ['a', 'b', 'c', 'd']) r.addStream(id);
  feed(r, 0, 1000, () => ({ a: LOUD, b: SOFT, c: QUIET, d: 30 }));
  let d = r.decide(1000, null);
  t.same([...d.loudest!].sort(), ['a', 'd'], 'the two loudest');
  d = r.decide(1000, 'c');
  t.same([...d.loudest!].sort(), ['a', 'c', 'd'], 'the dominant speaker is always in');
  t.equal(r.quietLevel, 67);
});

t.test('silence: quiet, muted (no packets) and DTX streams are not speaking', async (t) => {
  const r = new SpeakerRanking({ loudestK: 3 });
  for (const id of ['talker', 'muted', 'dtx', 'quiet']) r.addStream(id);
  feed(r, 0, 2000, (ms) => ({
    talker: LOUD,
    muted: ms < 500 ? LOUD : null, // spoke, then muted: no more packets
    dtx: ms % 400 === 0 ? QUIET : null, // comfort noise every 400 ms
    quiet: QUIET,
  }));
  const d = r.decide(2000, null);
  t.same([...d.loudest!], ['talker'], 'only the talker is loud');
  t.ok(r.energyOf('muted') < 1, `a muted stream decays to silence (${r.energyOf('muted').toFixed(3)})`);
});

t.test('relevance order: dominant, then most recent speakers, then join order', async (t) => {
  const r = new SpeakerRanking();
  for (const id of ['p1', 'p2', 'p3', 'p4', 'p5']) r.addStream(id);
  // p3 speaks first, then p5, then p2 (dominant now); p1 and p4 never.
  feed(r, 0, 1000, () => ({ p1: QUIET, p2: QUIET, p3: LOUD, p4: QUIET, p5: QUIET }));
  r.decide(1000, 'p3');
  feed(r, 1000, 3000, () => ({ p1: QUIET, p2: QUIET, p3: QUIET, p4: QUIET, p5: LOUD }));
  r.decide(3000, 'p5');
  feed(r, 3000, 5000, () => ({ p1: QUIET, p2: LOUD, p3: QUIET, p4: QUIET, p5: QUIET }));
  const d = r.decide(5000, 'p2');
  t.same(d.order, ['p2', 'p5', 'p3', 'p1', 'p4']);
  t.equal(d.loudest, undefined, 'loudest-K off by default');
});

t.test('selectLastN: pinned and screen shares always, own streams never', async (t) => {
  const order = ['a', 'me', 'b', 'c', 'd'];
  t.same([...selectLastN(order, 2, new Set(['me']))], ['a', 'b']);
  t.same([...selectLastN(order, 2, new Set(['me']), new Set(['d']))].sort(), ['a', 'b', 'd']);
  t.same([...selectLastN(order, 2, new Set(['me']), new Set(['a', 'me']))].sort(), ['a', 'b', 'c'], 'a pinned stream in the order is not counted twice');
  t.same([...selectLastN(order, 0, new Set())], []);
  t.same([...selectLastN(order, 10, new Set())], order);
});

t.test('streams come and go; bad levels are ignored', async (t) => {
  const r = new SpeakerRanking({ loudestK: 1 });
  r.addStream('x');
  r.addStream('x');
  r.level('x', NaN, 0);
  r.level('x', 200, 0);
  r.level('nobody', 10, 0);
  t.equal(r.energyOf('x'), 0);
  feed(r, 0, 500, () => ({ x: LOUD }));
  r.removeStream('x');
  t.same(r.decide(600, 'x'), { loudest: new Set(), order: [] });
});
