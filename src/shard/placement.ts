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
