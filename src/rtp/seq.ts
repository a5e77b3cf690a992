/**
 * Unwrapping of 16-bit sequence numbers and 32-bit timestamps into extended
 * (monotonic) numbers. After ingress everything works on extended values so
 * wrap-around is never special-cased downstream (the LiveKit practice).
 *
 * A new value is placed at whichever extension (same cycle, previous, next) is
 * closest to the highest value seen: RFC 3550 appendix A.1's idea, without
 * its probation logic (that belongs to stream validation, not arithmetic).
 * Extended values stay within Number's exact integer range for centuries of
 * media (2^53 / 2^32 wraps).
 */
export class Unwrapper {
  private readonly bits: number;
  private readonly modulus: number;
  private readonly half: number;
  private highest = -1;

  constructor(bits: 16 | 32) {
    this.bits = bits;
    this.modulus = 2 ** bits;
    this.half = this.modulus / 2;
  }

  /** True until the first value arrives. */
  get empty(): boolean {
    return this.highest < 0;
  }

  /** The highest extended value seen, or -1. */
  get max(): number {
    return this.highest;
  }

  /** Extends `value` without updating state. */
  peek(value: number): number {
    if (this.highest < 0) return value + this.modulus; // leave room to go backwards once
    const m = this.modulus;
    const cycle = this.highest - (this.highest % m);
    let ext = cycle + value;
    const diff = ext - this.highest;
    if (diff > this.half) ext -= m;
    else if (diff < -this.half) ext += m;
    return ext;
  }

  /** Extends `value` and records it if it is the newest. */
  update(value: number): number {
    const ext = this.peek(value);
    if (ext > this.highest) this.highest = ext;
    return ext;
  }

  reset(): void {
    this.highest = -1;
  }

  toJSON(): { bits: number; highest: number } {
    return { bits: this.bits, highest: this.highest };
  }
}

/** Signed distance a - b between two 16-bit sequence numbers, in [-32768, 32767]. */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

/** True when 16-bit `a` is newer than `b` (RFC 1982 serial arithmetic). */
export function seqNewer(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

/**
 * Which of the last `size` extended sequence numbers of one stream arrived,
 * so a copy of a packet already received is told apart from a late packet
 * that fills a gap. Copies do happen: a repair the publisher sends for a
 * NACK whose original came after all, a retransmission racing its original,
 * a replay. Forwarded again, a copy reaches each subscriber under an output
 * sequence number it already had: its SRTP drops it as a replay, and its
 * transport-wide feedback then reports the copy lost, which the bandwidth
 * estimate reads as congestion.
 */
export class SeqWindow {
  private readonly seen: Uint8Array;
  private readonly mask: number;
  private highest = -1;

  constructor(size = 1024) {
    let n = 1;
    while (n < size) n <<= 1;
    this.seen = new Uint8Array(n);
    this.mask = n - 1;
  }

  /**
   * Marks `ext` received. False when it had been already, or when it is too
   * old to tell (more than the window behind the newest).
   */
  add(ext: number): boolean {
    const seen = this.seen;
    if (this.highest < 0 || ext - this.highest > this.mask) {
      // First packet, or a jump past the whole window: nothing in it is known any more.
      seen.fill(0);
      this.highest = ext;
      seen[ext & this.mask] = 1;
      return true;
    }
    if (ext > this.highest) {
      for (let s = this.highest + 1; s < ext; s++) seen[s & this.mask] = 0;
      this.highest = ext;
      seen[ext & this.mask] = 1;
      return true;
    }
    if (this.highest - ext > this.mask || seen[ext & this.mask] === 1) return false;
    seen[ext & this.mask] = 1;
    return true;
  }
}
