/**
 * Speaker ranking: which audio streams are loud now (loudest-K, Jitsi's
 * "route loudest only") and how relevant each stream is (last-N: the
 * dominant speaker, then the most recent speakers, then everyone else in
 * join order). Pure and clock-injected (STYLE.md 5): `level()` takes
 * authenticated RFC 6464 levels, `decide()` runs on the room's 300 ms grid
 * and returns plain sets/lists that the room applies.
 *
 * Energy per stream is an exponential average of (127 - level) per packet,
 * decayed toward silence between packets, so a muted or DTX stream (few or
 * no packets, level 127) falls to zero and counts as silent.
 */

export interface RankingOptions {
  /** Forward audio of only this many loudest streams (plus the dominant speaker); 0 = all (default). */
  loudestK?: number;
  /**
   * Energy (127 - level, averaged) from which a stream counts as speaking
   * (default 60: levels louder than -67 dBov; room noise sits around -80..-100).
   */
  speakingEnergy?: number;
  /** Time constant of the energy average, ms (default 300). */
  timeConstantMs?: number;
}

export interface RankingDecision {
  /** The loudest-K set (dominant speaker included); undefined when loudest-K is off. */
  loudest: ReadonlySet<string> | undefined;
  /** All streams, most relevant first. */
  order: readonly string[];
}

interface StreamState {
  id: string;
  joinOrder: number;
  energy: number;
  lastMs: number;
  lastSpokeMs: number;
}

export class SpeakerRanking {
  private readonly k: number;
  private readonly speakingEnergy: number;
  private readonly tauMs: number;
  private readonly streams = new Map<string, StreamState>();
  private joinCounter = 0;
  private dominant: string | null = null;
  private lastDecision: RankingDecision = { loudest: undefined, order: [] };

  constructor(opts: RankingOptions = {}) {
    this.k = Math.max(0, Math.trunc(opts.loudestK ?? 0));
    this.speakingEnergy = opts.speakingEnergy ?? 60;
    this.tauMs = opts.timeConstantMs ?? 300;
  }

  get loudestK(): number {
    return this.k;
  }

  /** A level quieter than this is silence for the pre-decryption gate (127 - speakingEnergy). */
  get quietLevel(): number {
    return 127 - this.speakingEnergy;
  }

  addStream(id: string): void {
    if (this.streams.has(id)) return;
    this.streams.set(id, { id, joinOrder: this.joinCounter++, energy: 0, lastMs: -1, lastSpokeMs: -Infinity });
  }

  removeStream(id: string): void {
    this.streams.delete(id);
    if (this.dominant === id) this.dominant = null;
  }

  /** One authenticated packet's level (0 loudest .. 127 silence). */
  level(id: string, level: number, nowMs: number): void {
    const s = this.streams.get(id);
    if (!s || !(level >= 0 && level <= 127)) return;
    this.decay(s, nowMs);
    const alpha = 20 / (this.tauMs + 20); // ~one 20 ms packet's weight
    s.energy += (127 - level - s.energy) * alpha;
    s.lastMs = nowMs;
  }

  private decay(s: StreamState, nowMs: number): void {
    if (s.lastMs < 0 || nowMs <= s.lastMs) return;
    // No packet for a while is silence (muted, DTX): decay as if level 127 arrived every 20 ms.
    const gap = nowMs - s.lastMs - 20;
    if (gap > 0) s.energy *= Math.exp(-gap / this.tauMs);
  }

  /**
   * The decision for `nowMs`: loudest-K (by energy, ties by join order; the
   * dominant speaker always in) and the relevance order (dominant speaker,
   * then by when each last spoke, then join order).
   */
  decide(nowMs: number, dominant: string | null): RankingDecision {
    this.dominant = dominant !== null && this.streams.has(dominant) ? dominant : null;
    const all = [...this.streams.values()];
    for (const s of all) {
      this.decay(s, nowMs);
      if (s.lastMs >= 0) s.lastMs = Math.max(s.lastMs, nowMs - 20);
      if (s.energy >= this.speakingEnergy) s.lastSpokeMs = nowMs;
    }
    if (this.dominant) this.streams.get(this.dominant)!.lastSpokeMs = nowMs;
    const order = all
      .slice()
      .sort((a, b) => {
        if (a.id === this.dominant) return -1;
        if (b.id === this.dominant) return 1;
        if (a.lastSpokeMs !== b.lastSpokeMs) return b.lastSpokeMs - a.lastSpokeMs;
        return a.joinOrder - b.joinOrder;
      })
      .map((s) => s.id);
    let loudest: Set<string> | undefined;
    if (this.k > 0) {
      loudest = new Set<string>();
      const byEnergy = all.filter((s) => s.energy >= this.speakingEnergy).sort((a, b) => b.energy - a.energy || a.joinOrder - b.joinOrder);
      for (const s of byEnergy) {
        if (loudest.size >= this.k) break;
        loudest.add(s.id);
      }
      if (this.dominant) loudest.add(this.dominant);
    }
    this.lastDecision = { loudest, order };
    return this.lastDecision;
  }

  get decision(): RankingDecision {
    return this.lastDecision;
  }

  energyOf(id: string): number {
    return this.streams.get(id)?.energy ?? 0;
  }
}

/**
 * A subscriber's last-N video set: its pinned streams and screen shares
 * always, then the first `n` other streams of the relevance order. The
 * subscriber's own streams never count.
 */
export function selectLastN(
  order: readonly string[],
  n: number,
  own: ReadonlySet<string>,
  always: ReadonlySet<string> = new Set(),
): Set<string> {
  const out = new Set<string>();
  for (const id of always) if (!own.has(id)) out.add(id);
  let taken = 0;
  for (const id of order) {
    if (taken >= n) break;
    if (own.has(id) || out.has(id)) continue;
    out.add(id);
    taken++;
  }
  return out;
}
