/**
 * Dominant speaker identification: Volfin & Cohen, "Dominant speaker
 * identification for multipoint videoconferencing" (Computer Speech and
 * Language 27, 2013), as Jitsi implements it on RFC 6464 audio levels
 * (jitsi-utils `DominantSpeakerIdentification.java`; mediasoup's
 * `ActiveSpeakerObserver.cpp` is a port with the same constants).
 * Every constant and rule below is from reference/anchors.md section 5 ("§5").
 *
 * Per speaker, the last 50 levels (1 s at 20 ms per packet) are reduced to:
 *   immediate: the newest level in "active sub-bands" 0..12 (level / 10, 0 when
 *              within 10 of the speaker's own noise floor);
 *   medium:    frames with more than 7 active sub-bands among the newest 5 (100 ms);
 *   long:      100 ms blocks with all 5 frames active among the last 10 (1 s).
 * Each count becomes a speech activity score. Every 300 ms, a speaker takes
 * over from the dominant one only if all three log score ratios clear
 * C1 = 3, C2 = 2, C3 = 0. In practice that means: the dominant speaker is
 * silent right now and for the last 100 ms, and the challenger has more fully
 * active 100 ms blocks in the last second than the dominant speaker. That
 * long-window comparison is the hold that keeps a cough from switching: Jitsi
 * has no separate hold timer.
 *
 * Pure and clock-injected (STYLE.md 5, 9): the owner passes `nowMs` (from its
 * Clock) to `levelReceived()` per audio packet and calls `tick(nowMs)` from its
 * coarse timer; decisions happen on a fixed 300 ms grid anchored at `startMs`.
 * `levelReceived()` allocates nothing: each speaker keeps a fixed ring buffer.
 */

// --- Constants (reference/anchors.md §5 "Constants", from DominantSpeakerIdentification.java) ---

/** §5: RFC 6464 levels are 0..127; after `L = 127 - v`, 0 is silence (MIN_LEVEL) and 127 the loudest. */
const MAX_LEVEL = 127;
/** §5: N1, the paper's sub-bands, here 13 buckets of the 0..127 level range. */
const N1 = 13;
/** §5: N2, frames (levels) per medium block. */
const N2 = 5;
/** §5: N3, medium blocks per long window. */
const N3 = 10;
/** §5: LONG_COUNT, long windows kept (only one). */
const LONG_COUNT = 1;
/** §5: SUBUNIT = (127 - 0 + 13 - 1) / 13 = 10 (integer division): width of one sub-band in level units. */
const SUBUNIT = Math.trunc((MAX_LEVEL - 0 + N1 - 1) / N1);
/** §5: MEDIUM_THRESHOLD, a frame is active in the medium window with more than 7 active sub-bands. */
const MEDIUM_THRESHOLD = 7;
/** §5: LONG_THRESHOLD, a medium block is active in the long window with more than 4 active frames. */
const LONG_THRESHOLD = 4;
/** §5: C1, threshold of the immediate relative speech activity. */
const C1 = 3;
/** §5: C2, threshold of the medium relative speech activity (also the initial bar among challengers). */
const C2 = 2;
/** §5: C3, threshold of the long relative speech activity. */
const C3 = 0;
/** §5: DECISION_INTERVAL, the global decision runs every 300 ms. */
export const DECISION_INTERVAL_MS = 300;
/** §5: LEVEL_IDLE_TIMEOUT, every 40 ms a speaker without a level for more than 40 ms gets a silent level. */
export const LEVEL_IDLE_TIMEOUT_MS = 40;
/** §5: SPEAKER_IDLE_TIMEOUT, a non-dominant speaker without a level for more than 1 h is dropped. */
export const SPEAKER_IDLE_TIMEOUT_MS = 60 * 60 * 1000;
/** §5: MIN_LEVEL_WINDOW = 15000 / 20 = 750 levels before the noise floor may rise. */
const MIN_LEVEL_WINDOW = (15 * 1000) / 20;
/** §5: MIN_SCORE, scores are floored at 1e-10 (positive: they are divided and logged). */
const MIN_SCORE = 1e-10;
/** §5: score parameter p. */
const P = 0.5;
/** §5: λ of the immediate, medium and long scores. */
const LAMBDA_IMMEDIATE = 0.78;
const LAMBDA_MEDIUM = 24;
const LAMBDA_LONG = 47;
/** §5: JVB `speech-activity.enable-silence-detection` timeout (3 s). */
export const DEFAULT_SILENCE_TIMEOUT_MS = 3000;

/** §5 "Per-speaker state": levels[50] = LONG_COUNT * N3 * N2. */
const HISTORY = LONG_COUNT * N3 * N2;

/** ln C(n, r), exact for these small n (the Java code multiplies in a long). */
function lnBinomial(n: number, r: number): number {
  const k = Math.max(r, n - r);
  let c = 1;
  for (let i = n, j = 1; i > k; i--, j++) c = (c * i) / j;
  return Math.log(c);
}

/** §5: score(vL, nR, λ) = ln C(nR, vL) + vL ln p + (nR - vL) ln(1 - p) - ln λ + λ vL, floored at MIN_SCORE. */
function score(vL: number, nR: number, lambda: number): number {
  const s = lnBinomial(nR, vL) + vL * Math.log(P) + (nR - vL) * Math.log(1 - P) - Math.log(lambda) + lambda * vL;
  return s < MIN_SCORE ? MIN_SCORE : s;
}

/** Scores only depend on small counts: tabulate them once (index = count). */
function table(nR: number, lambda: number): Float64Array {
  const t = new Float64Array(nR + 1);
  for (let v = 0; v <= nR; v++) t[v] = score(v, nR, lambda);
  return t;
}
const IMMEDIATE_SCORES = table(N1, LAMBDA_IMMEDIATE);
const MEDIUM_SCORES = table(N2, LAMBDA_MEDIUM);
const LONG_SCORES = table(N3, LAMBDA_LONG);

export interface DominantSpeakerOptions {
  /** Origin of the 40 ms idle grid and 300 ms decision grid; the first decision is at startMs + 300. Default 0. */
  startMs?: number;
  /**
   * Report "no dominant speaker" (null) after the dominant speaker has been
   * silent for `silenceTimeoutMs` (JVB `enable-silence-detection`). Default
   * false: the last dominant speaker is kept through silence.
   */
  silenceDetection?: boolean;
  /** Silence timeout when `silenceDetection` is on. Default 3000 ms (§5). */
  silenceTimeoutMs?: number;
}

/** What `tick()` returns when the dominant speaker changed. */
export interface DominantSpeakerChange {
  /** The new dominant speaker; null only with silence detection (or when everyone left). */
  readonly dominant: string | null;
  readonly previous: string | null;
  readonly atMs: number;
}

/** A registered speaker; pass it to `levelReceived()` to skip the id lookup per packet. */
export interface SpeakerHandle {
  readonly id: string;
}

class Speaker implements SpeakerHandle {
  /** Ring of the last HISTORY levels (L = 127 - v); `head` is the newest (§5 levels[0]). */
  readonly levels = new Uint8Array(HISTORY);
  head = 0;
  /** §5 noise floor: 0 means "not determined yet". */
  minLevel = 0;
  nextMinLevel = 0;
  nextMinLevelWindow = 0;
  lastLevelMs: number;
  /** Index of the last 40 ms idle grid point already applied to this speaker. */
  idleK: number;
  /** §5: immediates[0], mediums[0], longs[0] as of the last decision. */
  immediate = 0;
  medium = 0;
  long = 0;
  immediateScore = MIN_SCORE;
  mediumScore = MIN_SCORE;
  longScore = MIN_SCORE;
  /** Last decision at which the long score was above MIN_SCORE; -Infinity if never. */
  lastNonSilenceMs = Number.NEGATIVE_INFINITY;
  /** Last decision at which this speaker was dominant or non-silent (for ranking). */
  lastActiveMs = Number.NEGATIVE_INFINITY;
  removed = false;

  constructor(
    readonly id: string,
    readonly joinSeq: number,
    nowMs: number,
    idleK: number,
  ) {
    this.lastLevelMs = nowMs;
    this.idleK = idleK;
  }

  push(level: number): void {
    this.head = this.head === HISTORY - 1 ? 0 : this.head + 1;
    this.levels[this.head] = level;
  }

  /** §5 noise floor update ("On each level"); levels of 0 (silence) never move it. */
  updateMinLevel(level: number): void {
    if (level === 0) return;
    if (this.minLevel === 0 || level < this.minLevel) {
      this.minLevel = level;
      this.nextMinLevel = 0;
      this.nextMinLevelWindow = 0;
    } else if (this.nextMinLevel === 0) {
      this.nextMinLevel = level;
      this.nextMinLevelWindow = 1;
    } else {
      if (level < this.nextMinLevel) this.nextMinLevel = level;
      if (++this.nextMinLevelWindow >= MIN_LEVEL_WINDOW) {
        // Geometric mean: the floor rises slowly. Java stores it in a byte (truncation).
        this.minLevel = Math.min(MAX_LEVEL, Math.trunc(Math.sqrt(this.minLevel * this.nextMinLevel)));
        this.nextMinLevel = 0;
        this.nextMinLevelWindow = 0;
      }
    }
  }

  /** §5 steps 1-4: immediates -> mediums -> longs -> scores, newest first. */
  evaluate(): void {
    // NOTE: Java adds the floor in a signed byte, which wraps for minLevel >= 118 and then
    // counts every level as active; we add in int arithmetic (as Java's own cooked level
    // does), so a speaker whose floor is that high is silent.
    const floor = this.minLevel + SUBUNIT;
    const levels = this.levels;
    let idx = this.head;
    let long = 0;
    let immediate = 0;
    let medium = 0;
    for (let b = 0; b < N3 * LONG_COUNT; b++) {
      let active = 0;
      for (let f = 0; f < N2; f++) {
        const level = levels[idx] ?? 0;
        const imm = level < floor ? 0 : Math.trunc(level / SUBUNIT);
        if (b === 0 && f === 0) immediate = imm;
        if (imm > MEDIUM_THRESHOLD) active++;
        idx = idx === 0 ? HISTORY - 1 : idx - 1;
      }
      if (b === 0) medium = active;
      if (active > LONG_THRESHOLD) long++;
    }
    this.immediate = immediate;
    this.medium = medium;
    this.long = long;
    this.immediateScore = IMMEDIATE_SCORES[immediate] ?? MIN_SCORE;
    this.mediumScore = MEDIUM_SCORES[medium] ?? MIN_SCORE;
    this.longScore = LONG_SCORES[long] ?? MIN_SCORE;
  }
}

export interface DominantSpeakerDump {
  dominant: string | null;
  nextDecisionMs: number;
  speakers: {
    id: string;
    minLevel: number;
    immediate: number;
    medium: number;
    long: number;
    lastLevelMs: number;
    lastNonSilenceMs: number | null;
  }[];
}

export class DominantSpeakerIdentifier {
  private readonly startMs: number;
  private readonly silenceDetection: boolean;
  private readonly silenceTimeoutMs: number;
  /** Insertion order is join order: it replaces Jitsi's HashMap order (nomination, ties). */
  private readonly speakers = new Map<string, Speaker>();
  private dominantId: string | null = null;
  private nextDecisionMs: number;
  private joinSeq = 0;

  constructor(opts: DominantSpeakerOptions = {}) {
    this.startMs = opts.startMs ?? 0;
    this.silenceDetection = opts.silenceDetection ?? false;
    this.silenceTimeoutMs = opts.silenceTimeoutMs ?? DEFAULT_SILENCE_TIMEOUT_MS;
    this.nextDecisionMs = this.startMs + DECISION_INTERVAL_MS;
  }

  /** The current dominant speaker, or null (before the first decision, after removal, in silence). */
  get dominant(): string | null {
    return this.dominantId;
  }

  get size(): number {
    return this.speakers.size;
  }

  has(id: string): boolean {
    return this.speakers.has(id);
  }

  /** Registers a speaker (idempotent). Unknown ids are also added by their first level, as in Jitsi. */
  addSpeaker(id: string, nowMs: number): SpeakerHandle {
    let s = this.speakers.get(id);
    if (!s) {
      s = new Speaker(id, this.joinSeq++, nowMs, this.idleGridIndexAtOrBefore(nowMs));
      this.speakers.set(id, s);
    }
    return s;
  }

  /**
   * Removes a speaker. Returns true if it was the dominant speaker: `dominant`
   * is then null until the next decision picks a successor (reported by `tick`).
   */
  removeSpeaker(id: string): boolean {
    const s = this.speakers.get(id);
    if (!s) return false;
    s.removed = true;
    this.speakers.delete(id);
    if (this.dominantId !== id) return false;
    this.dominantId = null;
    return true;
  }

  /**
   * One audio packet's RFC 6464 level `v` (0 = 0 dBov loudest .. 127 = silence;
   * the V bit stripped). Hot path, allocation-free. Returns Jitsi's "cooked"
   * level for energy ranking (L = 127 - v, or 0 within 10 of the speaker's
   * noise floor), or -1 when the level is older than the last one and ignored.
   */
  levelReceived(speaker: string | SpeakerHandle, v: number, nowMs: number): number {
    let s: Speaker;
    if (typeof speaker === 'string') {
      s = this.speakers.get(speaker) ?? (this.addSpeaker(speaker, nowMs) as Speaker);
    } else {
      s = speaker as Speaker;
      if (s.removed) return -1;
    }
    // §5 Input: ignore out-of-order levels (Java accepts equal times).
    if (nowMs < s.lastLevelMs) return -1;
    // Idle grid points strictly before this level come first (levels at t precede the check at t).
    this.applyIdle(s, this.idleGridIndexBefore(nowMs));
    s.lastLevelMs = nowMs;
    // §5 Input: L = 127 - v with v clamped to [0, 127] (NaN counts as silence).
    const vc = v >= 0 ? Math.min(MAX_LEVEL, Math.trunc(v)) : v < 0 ? 0 : MAX_LEVEL;
    const l = MAX_LEVEL - vc;
    s.push(l);
    s.updateMinLevel(l);
    return l >= s.minLevel + SUBUNIT ? l : 0;
  }

  /**
   * Drives idle handling and, when `nowMs` reached the next 300 ms decision
   * tick, the global decision. Call it from a coarse timer at least on every
   * decision tick (startMs + 300 k); calling it more often changes nothing.
   * Returns the change when the dominant speaker changed, else null.
   */
  tick(nowMs: number): DominantSpeakerChange | null {
    const upTo = this.idleGridIndexAtOrBefore(nowMs);
    for (const s of this.speakers.values()) {
      // §5 Idle handling: drop non-dominant speakers idle for more than 1 h.
      if (nowMs - s.lastLevelMs > SPEAKER_IDLE_TIMEOUT_MS && s.id !== this.dominantId) {
        s.removed = true;
        this.speakers.delete(s.id);
        continue;
      }
      this.applyIdle(s, upTo);
    }
    if (nowMs < this.nextDecisionMs) return null;
    this.nextDecisionMs =
      this.startMs + (Math.floor((nowMs - this.startMs) / DECISION_INTERVAL_MS) + 1) * DECISION_INTERVAL_MS;
    return this.decide(nowMs);
  }

  /**
   * Speakers from most to least relevant for last-N: the dominant speaker,
   * then by the last decision tick at which each was active (dominant, or a
   * long score above the minimum: a fully active 100 ms block in the last
   * second), ties by the current long-window activity, then join order.
   */
  ranking(): string[] {
    const list = [...this.speakers.values()];
    const dominant = this.dominantId;
    list.sort((a, b) => {
      if (a.id === dominant) return -1;
      if (b.id === dominant) return 1;
      if (a.lastActiveMs !== b.lastActiveMs) return a.lastActiveMs > b.lastActiveMs ? -1 : 1;
      return b.long - a.long || a.joinSeq - b.joinSeq;
    });
    return list.map((s) => s.id);
  }

  dump(): DominantSpeakerDump {
    return {
      dominant: this.dominantId,
      nextDecisionMs: this.nextDecisionMs,
      speakers: [...this.speakers.values()].map((s) => ({
        id: s.id,
        minLevel: s.minLevel,
        immediate: s.immediate,
        medium: s.medium,
        long: s.long,
        lastLevelMs: s.lastLevelMs,
        lastNonSilenceMs: Number.isFinite(s.lastNonSilenceMs) ? s.lastNonSilenceMs : null,
      })),
    };
  }

  /** §5 "Global decision". */
  private decide(nowMs: number): DominantSpeakerChange | null {
    for (const s of this.speakers.values()) {
      s.evaluate();
      // NOTE: Jitsi only refreshes lastNonSilence when the long count changed (a side effect
      // of its lazy evaluation, so steady speech for 3 s reads as silence); §5 states the
      // intent, "whenever its long score > MIN", which is what we do.
      if (s.longScore > MIN_SCORE) s.lastNonSilenceMs = nowMs;
    }

    let next: string | null;
    if (this.speakers.size === 0) {
      next = null;
    } else if (this.speakers.size === 1) {
      const only = this.speakers.values().next().value as Speaker;
      next = this.silentTooLong(only, nowMs) ? null : only.id;
    } else {
      // No dominant speaker: nominate the first one (join order) and let the others challenge it.
      const dom = (this.dominantId === null ? undefined : this.speakers.get(this.dominantId)) ??
        (this.speakers.values().next().value as Speaker);
      next = dom.id;
      let bestC2 = C2;
      for (const s of this.speakers.values()) {
        if (s === dom) continue;
        const c1 = Math.log(s.immediateScore / dom.immediateScore);
        const c2 = Math.log(s.mediumScore / dom.mediumScore);
        const c3 = Math.log(s.longScore / dom.longScore);
        // Several challengers compete by their medium-window relative activity.
        if (c1 > C1 && c2 > C2 && c3 > C3 && c2 > bestC2) {
          bestC2 = c2;
          next = s.id;
        }
      }
      if (next === dom.id && this.silentTooLong(dom, nowMs)) next = null;
    }

    const previous = this.dominantId;
    // Without silence detection a null never replaces a dominant speaker.
    const changed = (next !== null || this.silenceDetection) && next !== previous;
    if (changed) this.dominantId = next;

    for (const s of this.speakers.values()) {
      if (s.id === this.dominantId || s.longScore > MIN_SCORE) s.lastActiveMs = nowMs;
    }
    return changed ? { dominant: next, previous, atMs: nowMs } : null;
  }

  private silentTooLong(s: Speaker, nowMs: number): boolean {
    return this.silenceDetection && nowMs - s.lastNonSilenceMs > this.silenceTimeoutMs;
  }

  /**
   * §5 Idle handling, computed lazily: at each 40 ms grid point g (startMs + 40 k)
   * a speaker whose last level is more than 40 ms old gets one silent level,
   * so muted and DTX streams look like silence. Applies grid points up to `upTo`.
   */
  private applyIdle(s: Speaker, upTo: number): void {
    if (upTo <= s.idleK) return;
    // Grid points with g - lastLevel <= 40 add nothing.
    const notIdleUpTo = Math.floor((s.lastLevelMs + LEVEL_IDLE_TIMEOUT_MS - this.startMs) / LEVEL_IDLE_TIMEOUT_MS);
    const n = Math.min(HISTORY, upTo - Math.max(s.idleK, notIdleUpTo));
    for (let i = 0; i < n; i++) s.push(0);
    s.idleK = upTo;
  }

  /** Largest k with startMs + 40 k <= t. */
  private idleGridIndexAtOrBefore(t: number): number {
    return Math.floor((t - this.startMs) / LEVEL_IDLE_TIMEOUT_MS);
  }

  /** Largest k with startMs + 40 k < t. */
  private idleGridIndexBefore(t: number): number {
    return Math.ceil((t - this.startMs) / LEVEL_IDLE_TIMEOUT_MS) - 1;
  }
}
