/**
 * Where a new room goes (STYLE.md 5: deciding is pure). The least-loaded
 * shard that is up, by what each reported with its last heartbeat plus the
 * rooms placed on it since (so a burst of new rooms spreads before the next
 * report). Not round-robin: a shard carrying a big room keeps getting fewer
 * new ones until the others catch up.
 */
import type { ShardLoad } from './host.js';

export interface PlacementCandidate {
  up: boolean;
  load: ShardLoad;
  /** Rooms placed on it since its last load report. */
  placedSinceReport: number;
}

/** A datagram-per-second rate that weighs like one consumer (a video consumer sends ~50-100 pps). */
const PPS_PER_CONSUMER = 100;

/** Lower is less loaded: forwarding rate and consumers first, then peers, then recent placements, rooms only as a tie-breaker. */
export function placementScore(c: PlacementCandidate): number {
  const l = c.load;
  return l.pps / PPS_PER_CONSUMER + l.consumers + l.peers / 2 + c.placedSinceReport + l.rooms / 100;
}

/** Index of the shard for a new room; -1 when none is up. Ties go to the lowest index. */
export function pickShard(candidates: readonly PlacementCandidate[]): number {
  let best = -1;
  let bestScore = Infinity;
  candidates.forEach((c, i) => {
    if (!c.up) return;
    const score = placementScore(c);
    if (score < bestScore) {
      best = i;
      bestScore = score;
    }
  });
  return best;
}

/**
 * Where a new member of a room that is already placed goes (issue 7, rooms
 * larger than a shard). `members[i]` is how many members of the room shard
 * i holds (undefined: the room is not on it). The room's shards in the
 * order they were added (`order`) are tried first, the first with fewer than
 * `fanout` members wins, so the home shard fills before spill shards do.
 * When all are full, the least-loaded shard the room is not on yet (its
 * publishers' packets are then piped there); when there is none, the room's
 * shard with the fewest members. `fanout` 0: always the home shard.
 * -1 when no shard is up.
 */
export function pickRoomShard(
  candidates: readonly PlacementCandidate[],
  members: readonly (number | undefined)[],
  order: readonly number[],
  fanout: number,
): number {
  const up = (i: number): boolean => candidates[i]?.up === true;
  const inRoom = order.filter(up);
  if (fanout <= 0) return inRoom[0] ?? pickShard(candidates);
  const roomy = inRoom.find((i) => (members[i] ?? 0) < fanout);
  if (roomy !== undefined) return roomy;
  const others = pickShard(candidates.map((c, i) => ({ ...c, up: c.up && members[i] === undefined })));
  if (others >= 0) return others;
  let best = -1;
  for (const i of inRoom) if (best < 0 || (members[i] ?? 0) < (members[best] ?? 0)) best = i;
  return best >= 0 ? best : pickShard(candidates);
}
