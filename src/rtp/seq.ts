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
