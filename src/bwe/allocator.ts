/**
 * Downlink allocation: which layer of each track one subscriber gets within
 * the estimated bandwidth. Pure and deterministic: the same input gives the
 * same output, in input order (no churn from iteration order).
 *
 * Rules:
 * 1. Audio first, always, never paused (its `bps` is charged even when it
 *    does not fit: without audio there is no meeting; an invalid `bps`
 *    counts as 0).
 * 2. Video by priority (lower first; ties keep input order): each track gets
 *    its cheapest option within its caps, or is paused (spatial -1) when that
 *    does not fit the remainder. A track paused for bandwidth does not stop
 *    a later, cheaper one from getting its minimum.
 * 3. Second pass, same order: each unpaused track moves up to the most
 *    expensive option within its caps that the remainder still pays for.
 *    The first track's upgrade comes before the second's minimum would be
 *    improved: a screen share at full quality beats two mediocre cameras.
 *
 * Caps: options above maxSpatial / maxTemporal are not candidates. A cap
 * below every known option (a subscriber who wants less than the lowest
 * we know a price for) gets the cheapest option, clamped to the caps: the
 * price is an overestimate, the layer what was asked. Caps below 0 mean
 * the subscriber paused the track: paused, not counted as limited.
 * Tracks with no known options get their caps and cost nothing: with no
 * information, pausing them would only black out a starting track.
 * Options with a bps that is not in 0..1e12, or a layer that is not a
 * non-negative integer, are ignored (all invalid: as if none were known).
 */

export interface TrackOption {
  spatial: number;
  temporal: number;
  bps: number;
}

export interface AllocationTrack {
  id: string;
  kind: 'audio' | 'video';
  /** Lower goes first: 0 audio, 1 screen share, 2 active speaker, 3 other video (the caller assigns). */
  priority: number;
  /** What can be sent, ascending by bps (e.g. each spatial layer at full frame rate, and the lowest at TL0); empty: nothing known yet. */
  options: readonly TrackOption[];
  /** Caps from the subscriber's preference. */
  maxSpatial: number;
  maxTemporal: number;
  /** Audio: its bitrate (always allocated first, never paused). */
  bps?: number;
}

/** spatial -1: paused (does not fit, or the subscriber paused it). */
export interface Allocation {
  spatial: number;
  temporal: number;
}

export interface AllocationResult {
  byId: Map<string, Allocation>;
  usedBps: number;
  /** true when some video got less than its caps allow */
  limited: boolean;
  /** bps the caps would want in total */
  wantedBps: number;
}

/** How one video track stands: candidate range and choice, as option indices (-1: none). */
interface VideoState {
  track: AllocationTrack;
  index: number;
  lowest: number;
  best: number;
  chosen: number;
  /** Cost of the chosen option (0 when none or unknown options). */
  cost: number;
}

export function allocate(availableBps: number, tracks: readonly AllocationTrack[]): AllocationResult {
  let remaining = availableBps > 0 && Number.isFinite(availableBps) ? availableBps : 0;
  let used = 0;
  let wanted = 0;
  let limited = false;
  const result: (Allocation | VideoState)[] = [];
  const video: VideoState[] = [];

  for (let i = 0; i < tracks.length; i++) {
    const t = tracks[i]!;
    if (t.kind === 'audio') {
      const bps = validBps(t.bps ?? 0) ? (t.bps ?? 0) : 0;
      used += bps;
      wanted += bps;
      remaining -= bps;
      result.push({ spatial: 0, temporal: 0 });
      continue;
    }
    const v = candidates(t, i);
    if (v.best >= 0) wanted += t.options[v.best]!.bps;
    result.push(v);
    if (v.lowest >= 0) video.push(v);
  }

  video.sort(byPriority);
  for (const v of video) {
    const bps = v.track.options[v.lowest]!.bps;
    if (bps <= remaining) {
      v.chosen = v.lowest;
      v.cost = bps;
      remaining -= bps;
    }
  }
  for (const v of video) {
    if (v.chosen < 0) continue;
    const up = bestFitting(v, remaining);
    if (up !== v.chosen) {
      const bps = v.track.options[up]!.bps;
      remaining -= bps - v.cost;
      v.chosen = up;
      v.cost = bps;
    }
  }

  const byId = new Map<string, Allocation>();
  for (let i = 0; i < tracks.length; i++) {
    const r = result[i]!;
    if (!('track' in r)) {
      byId.set(tracks[i]!.id, r);
      continue;
    }
    used += r.cost;
    if (r.chosen !== r.best) limited = true;
    byId.set(r.track.id, toAllocation(r));
  }
  return { byId, usedBps: used, limited, wantedBps: wanted };
}

/** Above this a price is garbage (and sums of such prices would overflow to Infinity). */
const MAX_BPS = 1e12;

function validBps(bps: number): boolean {
  return bps >= 0 && bps <= MAX_BPS;
}

/** A layer pair that exists (non-negative integers) with a usable price. */
function validOption(o: TrackOption): boolean {
  return Number.isInteger(o.spatial) && o.spatial >= 0 && Number.isInteger(o.temporal) && o.temporal >= 0 && validBps(o.bps);
}

function withinCaps(t: AllocationTrack, o: TrackOption): boolean {
  return o.spatial <= t.maxSpatial && o.temporal <= t.maxTemporal;
}

/** Finds the cheapest and the best option within caps (or the clamped-cheapest fallback). */
function candidates(t: AllocationTrack, index: number): VideoState {
  const v: VideoState = { track: t, index, lowest: -1, best: -1, chosen: -1, cost: 0 };
  if (!(t.maxSpatial >= 0 && t.maxTemporal >= 0)) return v;
  let cheapest = -1;
  for (let k = 0; k < t.options.length; k++) {
    const o = t.options[k]!;
    if (!validOption(o)) continue;
    if (cheapest < 0 || o.bps < t.options[cheapest]!.bps) cheapest = k;
    if (!withinCaps(t, o)) continue;
    if (v.lowest < 0 || o.bps < t.options[v.lowest]!.bps) v.lowest = k;
    if (v.best < 0 || better(o, t.options[v.best]!)) v.best = k;
  }
  if (v.lowest < 0 && cheapest >= 0) v.lowest = v.best = cheapest;
  return v;
}

/** More bps wins; on a tie, the higher spatial, then temporal layer (a fixed order, never input luck). */
function better(a: TrackOption, b: TrackOption): boolean {
  if (a.bps !== b.bps) return a.bps > b.bps;
  if (a.spatial !== b.spatial) return a.spatial > b.spatial;
  return a.temporal > b.temporal;
}

/** The best option within caps whose extra cost over the current choice fits `remaining`. */
function bestFitting(v: VideoState, remaining: number): number {
  const t = v.track;
  let pick = v.chosen;
  for (let k = 0; k < t.options.length; k++) {
    const o = t.options[k]!;
    if (!validOption(o) || !withinCaps(t, o) || o.bps - v.cost > remaining) continue;
    if (better(o, t.options[pick]!)) pick = k;
  }
  return pick;
}

function toAllocation(v: VideoState): Allocation {
  const t = v.track;
  if (v.lowest < 0 && t.maxSpatial >= 0 && t.maxTemporal >= 0) {
    // No usable option known (none yet, or none with a valid price): the caps, unpaused.
    return { spatial: t.maxSpatial, temporal: t.maxTemporal };
  }
  if (v.chosen < 0) return { spatial: -1, temporal: -1 };
  const o = t.options[v.chosen]!;
  return { spatial: Math.min(o.spatial, t.maxSpatial), temporal: Math.min(o.temporal, t.maxTemporal) };
}

function byPriority(a: VideoState, b: VideoState): number {
  const pa = Number.isFinite(a.track.priority) ? a.track.priority : Infinity;
  const pb = Number.isFinite(b.track.priority) ? b.track.priority : Infinity;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return a.index - b.index;
}
