/**
 * NACK generator for one incoming video SSRC: finds gaps in the extended
 * sequence numbers and says which to request with a generic NACK
 * (RFC 4585 6.2.1, https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1).
 *
 * Policy (DESIGN.md, "NACK for gaps (up to 3 tries, then PLI)"):
 * - a gap found by `onPacket` is requested on the next `collect`, then again
 *   every max(rtt, 20 ms), at most `maxTries` times;
 * - one more interval after the last try the seq is given up and
 *   `keyframeNeeded` is set (the decoder cannot recover without one);
 * - a packet that fills a gap removes it (`recovered` if it was NACKed);
 * - the list holds at most `maxMissing` seqs; the oldest is dropped (and a
 *   keyframe asked for) when a new gap does not fit;
 * - a forward jump of `resetJump` or more is a stream reset: the list clears.
 *
 * Storage: a ring of parallel typed arrays, ascending by extended seq (gaps
 * are only ever found above the highest seq, so appends keep it sorted).
 * A filled gap is marked dead in place, found by binary search; `collect`
 * compacts the ring while it walks it. Nothing allocates per packet.
 */

export interface NackGeneratorOptions {
  /** Largest number of missing seqs tracked (default 500). */
  maxMissing?: number;
  /** Requests per missing seq before giving up (default 3). */
  maxTries?: number;
  /** Lower bound of the retry interval in ms (default 20). */
  minIntervalMs?: number;
  /** A forward jump at least this large is a stream reset (default 1000). */
  resetJump?: number;
}

export class NackGenerator {
  private readonly capacity: number;
  private readonly mask: number;
  private readonly maxTries: number;
  private readonly minIntervalMs: number;
  private readonly resetJump: number;
  private readonly seqs: Float64Array;
  private readonly tries: Uint8Array;
  private readonly sentAt: Float64Array;
  private readonly dead: Uint8Array;
  /** Physical index of the oldest slot, and slots in use (live and dead). */
  private head = 0;
  private size = 0;
  private highest = -1;

  /** Set when a seq is given up or dropped; the caller requests a keyframe and clears it. */
  keyframeNeeded = false;
  /** Seqs currently missing. */
  missing = 0;
  /** Sequence numbers put in NACKs (each try counts). */
  nacksSent = 0;
  /** Gaps filled after at least one NACK. */
  recovered = 0;
  /** Gaps filled before any NACK went out (reordering). */
  reordered = 0;
  /** Seqs abandoned after `maxTries`. */
  givenUp = 0;
  /** Seqs dropped because the list was full. */
  dropped = 0;
  /** Stream resets (huge jumps). */
  resets = 0;

  constructor(opts: NackGeneratorOptions = {}) {
    this.capacity = opts.maxMissing ?? 500;
    this.maxTries = opts.maxTries ?? 3;
    this.minIntervalMs = opts.minIntervalMs ?? 20;
    this.resetJump = opts.resetJump ?? 1000;
    let ring = 1;
    while (ring < this.capacity) ring <<= 1;
    this.mask = ring - 1;
    this.seqs = new Float64Array(ring);
    this.tries = new Uint8Array(ring);
    this.sentAt = new Float64Array(ring);
    this.dead = new Uint8Array(ring);
  }

  /** Accounts a received packet by its extended sequence number. */
  onPacket(extSeq: number, _nowMs: number): void {
    const hi = this.highest;
    if (hi < 0) {
      this.highest = extSeq;
      return;
    }
    const diff = extSeq - hi;
    if (diff === 1) {
      this.highest = extSeq;
      return;
    }
    if (diff > 1) {
      this.highest = extSeq;
      if (diff >= this.resetJump) {
        this.resets++;
        this.clear();
        return;
      }
      for (let s = hi + 1; s < extSeq; s++) this.append(s);
      return;
    }
    if (this.missing > 0) this.fill(extSeq);
  }

  /**
   * Puts the 16-bit seqs to NACK now into `out` (cleared first; ascending,
   * ready for a NACK packet's `lost`) and returns how many. Seqs past their
   * last try for an interval are given up here. `rttMs` is the current
   * round-trip estimate (0 or less if unknown).
   */
  collect(nowMs: number, rttMs: number, out: number[]): number {
    out.length = 0;
    const interval = rttMs > this.minIntervalMs ? rttMs : this.minIntervalMs;
    const mask = this.mask;
    let w = 0;
    for (let r = 0; r < this.size; r++) {
      const i = (this.head + r) & mask;
      if (this.dead[i] === 1) continue;
      const tries = this.tries[i]!;
      const due = tries === 0 || nowMs - this.sentAt[i]! >= interval;
      if (due && tries >= this.maxTries) {
        this.givenUp++;
        this.missing--;
        this.keyframeNeeded = true;
        continue;
      }
      if (due) {
        this.tries[i] = tries + 1;
        this.sentAt[i] = nowMs;
        out.push(this.seqs[i]! & 0xffff);
      }
      // Compact: move the live entry down to the write position.
      const j = (this.head + w) & mask;
      if (j !== i) {
        this.seqs[j] = this.seqs[i]!;
        this.tries[j] = this.tries[i]!;
        this.sentAt[j] = this.sentAt[i]!;
        this.dead[j] = 0;
      }
      w++;
    }
    this.size = w;
    this.nacksSent += out.length;
    return out.length;
  }

  /** Forgets every missing seq (e.g. after a keyframe made them moot). */
  clear(): void {
    this.head = 0;
    this.size = 0;
    this.missing = 0;
  }

  private append(extSeq: number): void {
    if (this.size === this.capacity && this.missing < this.size) this.compact();
    if (this.size === this.capacity) {
      if (this.dead[this.head] === 0) {
        this.dropped++;
        this.missing--;
        this.keyframeNeeded = true;
      }
      this.head = (this.head + 1) & this.mask;
      this.size--;
    }
    const i = (this.head + this.size) & this.mask;
    this.seqs[i] = extSeq;
    this.tries[i] = 0;
    this.sentAt[i] = 0;
    this.dead[i] = 0;
    this.size++;
    this.missing++;
  }

  /** Squeezes dead slots out of the ring, keeping the order. */
  private compact(): void {
    const mask = this.mask;
    let w = 0;
    for (let r = 0; r < this.size; r++) {
      const i = (this.head + r) & mask;
      if (this.dead[i] === 1) continue;
      const j = (this.head + w) & mask;
      if (j !== i) {
        this.seqs[j] = this.seqs[i]!;
        this.tries[j] = this.tries[i]!;
        this.sentAt[j] = this.sentAt[i]!;
        this.dead[j] = 0;
      }
      w++;
    }
    this.size = w;
  }

  /** Removes `extSeq` from the list if it is there (binary search; seqs stay sorted). */
  private fill(extSeq: number): void {
    let lo = 0;
    let hi = this.size - 1;
    const mask = this.mask;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const i = (this.head + mid) & mask;
      const s = this.seqs[i]!;
      if (s < extSeq) lo = mid + 1;
      else if (s > extSeq) hi = mid - 1;
      else {
        if (this.dead[i] === 1) return;
        this.dead[i] = 1;
        this.missing--;
        if (this.tries[i]! > 0) this.recovered++;
        else this.reordered++;
        // Trim dead slots at the head so the ring does not fill with them.
        while (this.size > 0 && this.dead[this.head] === 1) {
          this.head = (this.head + 1) & mask;
          this.size--;
        }
        return;
      }
    }
  }

  toJSON(): Record<string, number | boolean> {
    return {
      missing: this.missing,
      nacksSent: this.nacksSent,
      recovered: this.recovered,
      reordered: this.reordered,
      givenUp: this.givenUp,
      dropped: this.dropped,
      resets: this.resets,
      keyframeNeeded: this.keyframeNeeded,
    };
  }
}
