/**
 * SRTP packet index estimation and the replay window.
 *
 * RFC 3711 section 3.3.1 and Appendix A
 * (https://www.rfc-editor.org/rfc/rfc3711#appendix-A): the 48-bit index
 * i = 2^16 * ROC + SEQ is guessed from the highest index seen so far,
 * s_l = its low 16 bits:
 *
 *   if s_l < 2^15:  v = ROC - 1 if SEQ - s_l > 2^15, else ROC
 *   else:           v = ROC + 1 if s_l - 2^15 > SEQ, else ROC
 *
 * RFC 3711 section 3.3.2: a sliding window of the last `size` indices below
 * the highest one rejects duplicates and anything older. The window is a
 * circular bitmap (bit `index mod size`), so advancing by d clears d bits and
 * allocates nothing. Indices are plain numbers: 48 bits fit a double exactly
 * and `index & mask` (ToInt32) keeps the low bits for any index < 2^53.
 */

import { SrtpConfigError, SrtpError } from './errors.js';

/** Largest valid SRTP index + 1 (48 bits). */
export const SRTP_INDEX_LIMIT = 2 ** 48;

/**
 * Guesses the index of a packet with sequence number `seq` given the highest
 * index seen, `highest` (>= 0). May return a negative number when the packet
 * would precede index 0 (ROC - 1 with ROC = 0): callers treat it as too old.
 */
export function estimateIndex(highest: number, seq: number): number {
  const sl = highest & 0xffff;
  const roc = (highest - sl) / 65536;
  if (sl < 32768) {
    if (seq - sl > 32768) return (roc - 1) * 65536 + seq;
  } else if (sl - 32768 > seq) {
    return (roc + 1) * 65536 + seq;
  }
  return roc * 65536 + seq;
}

export const MIN_REPLAY_WINDOW = 32;
export const MAX_REPLAY_WINDOW = 32768;
export const DEFAULT_REPLAY_WINDOW = 64;

/** Validates a window size and rounds it up to a power of two (>= 32). */
export function replayWindowSize(size: number | undefined): number {
  if (size === undefined) return DEFAULT_REPLAY_WINDOW;
  if (!Number.isInteger(size) || size < 1 || size > MAX_REPLAY_WINDOW) {
    throw new SrtpConfigError(`replay window must be an integer in 1..${MAX_REPLAY_WINDOW}, got ${size}`);
  }
  let s = MIN_REPLAY_WINDOW;
  while (s < size) s *= 2;
  return s;
}

export class ReplayWindow {
  /** Window size in packets (a power of two). */
  readonly size: number;
  /** Highest accepted index, or -1 before the first packet. */
  top = -1;
  private readonly mask: number;
  private readonly bits: Int32Array;

  constructor(size: number = DEFAULT_REPLAY_WINDOW) {
    this.size = replayWindowSize(size);
    this.mask = this.size - 1;
    this.bits = new Int32Array(this.size >>> 5);
  }

  /** 0 if `index` may be accepted, else `ReplayDuplicate` or `ReplayTooOld`. Does not change state. */
  check(index: number): number {
    const top = this.top;
    if (index > top) return 0;
    if (index < 0 || top - index >= this.size) return SrtpError.ReplayTooOld;
    const pos = index & this.mask;
    return (this.bits[pos >>> 5]! >>> (pos & 31)) & 1 ? SrtpError.ReplayDuplicate : 0;
  }

  /** Marks `index` received (call after authentication, only if `check(index) === 0`). */
  accept(index: number): void {
    const top = this.top;
    if (index > top) {
      if (top < 0 || index - top >= this.size) {
        this.bits.fill(0);
      } else {
        // Clear the slots of the skipped indices top+1 .. index-1 (index's own slot is set below).
        for (let i = top + 1; i < index; i++) {
          const pos = i & this.mask;
          this.bits[pos >>> 5]! &= ~(1 << (pos & 31));
        }
      }
      this.top = index;
    }
    const pos = index & this.mask;
    this.bits[pos >>> 5]! |= 1 << (pos & 31);
  }

  reset(): void {
    this.top = -1;
    this.bits.fill(0);
  }
}
