// Issue 7, placement: a new room goes to the least-loaded shard that is up,
// by reported load (not round-robin), and a burst spreads before the next report.
import t from 'tap';
import { pickRoomShard, pickShard, type PlacementCandidate } from '../../src/shard/placement.js';

const idle = { elu: 0, pps: 0, consumers: 0, rooms: 0, peers: 0, transports: 0 };
const shard = (load: Partial<typeof idle> = {}, placedSinceReport = 0, up = true): PlacementCandidate => ({ up, load: { ...idle, ...load }, placedSinceReport });

t.test('idle shards: the lowest index', async (t) => {
  t.equal(pickShard([shard(), shard(), shard()]), 0);
});

t.test('a shard forwarding more gets the next room, whatever was placed last', async (t) => {
  t.equal(pickShard([shard({ pps: 5000, consumers: 50, peers: 51, rooms: 1 }), shard({ pps: 100, consumers: 1, peers: 2, rooms: 1 })]), 1);
  // Round-robin would alternate; by load shard 1 keeps getting rooms while it is far lighter.
  t.equal(pickShard([shard({ pps: 5000, consumers: 50, peers: 51, rooms: 1 }), shard({ pps: 200, consumers: 2, peers: 4, rooms: 2 })]), 1);
});

t.test('rooms placed since the last report count, so a burst spreads', async (t) => {
  const loads = [shard(), shard()];
  const placed: number[] = [];
  for (let i = 0; i < 4; i++) {
    const k = pickShard(loads);
    placed.push(k);
    loads[k]!.placedSinceReport++;
  }
  t.same(placed, [0, 1, 0, 1]);
});

t.test('consumers weigh before the packet rate shows them', async (t) => {
  t.equal(pickShard([shard({ consumers: 40, peers: 41 }), shard({ pps: 300, consumers: 3, peers: 4 })]), 1);
});

t.test('shards that are down are skipped; none up is -1', async (t) => {
  t.equal(pickShard([shard({}, 0, false), shard({ pps: 9000, consumers: 90 })]), 1);
  t.equal(pickShard([shard({}, 0, false), shard({}, 0, false)]), -1);
  t.equal(pickShard([]), -1);
});

t.test('a room fills its shards in order up to the fan-out, then spills onto the least-loaded other shard', async (t) => {
  const loads = [shard(), shard({ consumers: 50 }), shard()];
  // Room on shard 1 (home) with 1 member, fan-out 2: home first.
  t.equal(pickRoomShard(loads, [undefined, 1, undefined], [1], 2), 1);
  // Home full: the least-loaded shard the room is not on (0 and 2 tie: the lower index).
  t.equal(pickRoomShard(loads, [undefined, 2, undefined], [1], 2), 0);
  // Home full, spill shard 2 has room: it, before opening a third shard.
  t.equal(pickRoomShard(loads, [undefined, 2, 1], [1, 2], 2), 2);
  // Every shard holds the room and all are full: the one with the fewest members.
  t.equal(pickRoomShard(loads, [3, 2, 4], [1, 0, 2], 2), 1);
  // A shard of the room that is down is skipped.
  t.equal(pickRoomShard([shard({}, 0, false), shard(), shard()], [1, undefined, undefined], [0], 2), 1);
  // Fan-out 0: the room never leaves its home.
  t.equal(pickRoomShard(loads, [undefined, 500, undefined], [1], 0), 1);
  t.equal(pickRoomShard([shard({}, 0, false)], [1], [0], 2), -1, 'nothing up');
});
