/**
 * ion-sfu's `audioLevels` observer, with its meaning and sfu.toml defaults
 * kept (reference/ion-sfu-protocol.md 2.4; ion-sfu pkg/sfu/audioobserver.go):
 *
 * - a packet counts when its RFC 6464 level is <= `threshold` (0 loudest,
 *   127 silence; the V bit is ignored); thresholds above 127 clamp to 127;
 * - every `intervalMs`, a stream is "speaking" if it counted at least
 *   `expected = intervalMs * filter / 2000` packets (interval / 20 ms packets
 *   times filter %); `filter` clamps to 0..100;
 * - speakers are sorted by count (descending), ties by lower level sum;
 * - counters reset each interval; a list is emitted only when it changed;
 * - streams are keyed by msid stream id (two audio tracks of one stream share a key).
 *
 * Pure: the owner feeds levels per packet and calls `tick()` on its interval.
 */

export interface AudioLevelOptions {
  /** sfu.toml `audiolevelinterval` in ms; ion-sfu treats 0 as 1000 for the timer. */
  intervalMs?: number;
  /** sfu.toml `audiolevelthreshold` (dBov, 0..127). ion-sfu's default config: 40. */
  threshold?: number;
  /** sfu.toml `audiolevelfilter` (percent). ion-sfu's default config: 20. */
  filter?: number;
}

interface StreamLevel {
  streamId: string;
  count: number;
  levelSum: number;
}

export class AudioLevelObserver {
  readonly intervalMs: number;
  private readonly threshold: number;
  private readonly expected: number;
  private readonly streams = new Map<string, StreamLevel>();
  private last: string[] = [];

  constructor(opts: AudioLevelOptions = {}) {
    // ion-sfu: expected uses the configured interval (0 when absent), the timer uses 1000 for 0.
    const configured = Math.max(0, opts.intervalMs ?? 1000);
    this.intervalMs = configured === 0 ? 1000 : configured;
    this.threshold = Math.min(127, Math.max(0, opts.threshold ?? 40));
    const filter = Math.min(100, Math.max(0, opts.filter ?? 20));
    this.expected = (configured * filter) / 2000;
  }

  /** Registers a stream so it can be reported (ion-sfu adds a stream when its audio track is routed). */
  addStream(streamId: string): StreamLevel {
    let s = this.streams.get(streamId);
    if (!s) {
      s = { streamId, count: 0, levelSum: 0 };
      this.streams.set(streamId, s);
    }
    return s;
  }

  removeStream(streamId: string): void {
    this.streams.delete(streamId);
  }

  /**
   * One audio packet's level. Hot path: the producer keeps the handle from
   * `addStream` and calls this with it, so no lookup happens per packet.
   */
  observe(handle: StreamLevel, level: number): void {
    if (level >= 0 && level <= this.threshold) {
      handle.count++;
      handle.levelSum += level;
    }
  }

  /**
   * Ends an interval: returns the speaking stream ids when the list changed
   * since the last tick, else null. Counters reset.
   */
  tick(): string[] | null {
    const speaking: StreamLevel[] = [];
    for (const s of this.streams.values()) {
      if (s.count >= this.expected) speaking.push({ ...s });
      s.count = 0;
      s.levelSum = 0;
    }
    speaking.sort((a, b) => b.count - a.count || a.levelSum - b.levelSum);
    const ids = speaking.map((s) => s.streamId);
    const changed = ids.length !== this.last.length || ids.some((id, i) => id !== this.last[i]);
    if (!changed) return null;
    this.last = ids;
    return ids;
  }
}
