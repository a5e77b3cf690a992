import t from 'tap';
import { AudioLevelObserver } from '../../src/speaker/audio-levels.js';

t.test('ion-sfu defaults: 1000 ms, threshold 40, filter 20% -> 10 loud packets make a speaker', async (t) => {
  const o = new AudioLevelObserver();
  const a = o.addStream('alice');
  const b = o.addStream('bob');
  for (let i = 0; i < 9; i++) o.observe(a, 30);
  for (let i = 0; i < 50; i++) o.observe(b, 60); // above the threshold: quiet
  t.equal(o.tick(), null, 'nobody reached expected = 1000 * 20 / 2000 = 10: still the empty list, nothing sent');
  for (let i = 0; i < 10; i++) o.observe(a, 30);
  t.same(o.tick(), ['alice']);
  for (let i = 0; i < 10; i++) o.observe(a, 30);
  t.equal(o.tick(), null, 'unchanged lists are not re-sent');
  for (let i = 0; i < 12; i++) o.observe(a, 20);
  for (let i = 0; i < 20; i++) o.observe(b, 10);
  t.same(o.tick(), ['bob', 'alice'], 'sorted by count');
  for (let i = 0; i < 15; i++) o.observe(a, 30);
  for (let i = 0; i < 15; i++) o.observe(b, 5);
  t.equal(o.tick(), null, 'same order again: nothing sent');
});

t.test('ties: lower level sum first; a changed order is sent', async (t) => {
  const o = new AudioLevelObserver();
  const a = o.addStream('a');
  const b = o.addStream('b');
  for (let i = 0; i < 15; i++) o.observe(a, 30);
  for (let i = 0; i < 15; i++) o.observe(b, 5);
  t.same(o.tick(), ['b', 'a']);
  for (let i = 0; i < 15; i++) o.observe(a, 1);
  for (let i = 0; i < 15; i++) o.observe(b, 5);
  t.same(o.tick(), ['a', 'b']);
  t.same(o.tick(), [], 'silence empties the list, sent once');
  t.equal(o.tick(), null);
});

t.test('edge cases kept from ion-sfu: filter 0 or interval 0 lists every stream; clamps', async (t) => {
  const o = new AudioLevelObserver({ filter: 0 });
  o.addStream('x');
  o.addStream('y');
  t.same(o.tick(), ['x', 'y']);
  const z = new AudioLevelObserver({ intervalMs: 0 });
  t.equal(z.intervalMs, 1000, 'the timer still runs every second');
  z.addStream('q');
  t.same(z.tick(), ['q']);
  const c = new AudioLevelObserver({ threshold: 500, filter: 500 });
  const s = c.addStream('s');
  for (let i = 0; i < 500; i++) c.observe(s, 127);
  t.same(c.tick(), ['s'], 'threshold 127 counts even silence; filter 100% needs 50 packets');
  c.removeStream('s');
  t.same(c.tick(), []);
});
