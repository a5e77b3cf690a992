/**
 * Per-producer retransmission store (DESIGN.md: NACKs from subscribers are
 * served from the SFU's own store, never forwarded to the publisher).
 *
 * A ring of `slots` (a power of two) indexed by `seq & mask`. Each slot owns
 * a fixed `slotSize` region of one preallocated slab, so storing a packet is
 * one `Buffer.copy` and nothing is allocated per packet (STYLE.md 4: copy
 * only what something keeps). Each slot remembers the extended seq and the
 * store time of the packet in it; a lookup by 16-bit seq rejects a slot
 * that now holds another seq (overwritten by a newer one) or a packet older
 * than `maxAgeMs`.
 *
 * Lookups return a slot index (or -1); read the bytes from `slab` at
 * `offsetOf(slot)` for `lengthOf(slot)` bytes, synchronously, before the
 * next `store` can overwrite them.
 */

export interface RetransmissionStoreOptions {
  /** Number of packets kept; a power of two, at most 65536 (default 512). */
  slots?: number;
  /** Largest packet stored, in bytes (default 1500). */
  slotSize?: number;
  /** Packets older than this are not retransmitted, in ms (default 1000). */
  maxAgeMs?: number;
}

export class RetransmissionStore {
  readonly slots: number;
  readonly slotSize: number;
  readonly maxAgeMs: number;
  /** Packet bytes: slot i lives at [i * slotSize, i * slotSize + lengthOf(i)). */
  readonly slab: Buffer;
  private readonly mask: number;
  private readonly lengths: Uint16Array;
  private readonly extSeqs: Float64Array;
  private readonly storedAt: Float64Array;

  /** Packets stored. */
  stored = 0;
  /** Packets not stored because they exceed `slotSize`. */
  tooLarge = 0;
  /** Packets not stored because their slot already holds a newer seq. */
  stale = 0;
  /** Lookups that found the packet. */
  hits = 0;
  /** Lookups for a seq never stored or already overwritten. */
  misses = 0;
  /** Lookups that found the packet but too old. */
  expired = 0;

  constructor(opts: RetransmissionStoreOptions = {}) {
    const slots = opts.slots ?? 512;
    if (!Number.isInteger(slots) || slots < 1 || slots > 65536 || (slots & (slots - 1)) !== 0) {
      throw new RangeError(`RetransmissionStore slots must be a power of two in 1..65536, got ${slots}`);
    }
    const slotSize = opts.slotSize ?? 1500;
    if (!Number.isInteger(slotSize) || slotSize < 12 || slotSize > 0xffff) {
      throw new RangeError(`RetransmissionStore slotSize must be an integer in 12..65535, got ${slotSize}`);
    }
    this.slots = slots;
    this.slotSize = slotSize;
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.mask = slots - 1;
    this.slab = Buffer.alloc(slots * slotSize);
    this.lengths = new Uint16Array(slots);
    this.extSeqs = new Float64Array(slots).fill(-1);
    this.storedAt = new Float64Array(slots);
  }

  /**
   * Copies the packet `buf[off, off + len)` with extended seq `extSeq` into
   * its slot. Returns false when it was not stored (too large, or a newer
   * packet already owns the slot).
   */
  store(buf: Buffer, off: number, len: number, extSeq: number, nowMs: number): boolean {
    if (len > this.slotSize || len < 0) {
      this.tooLarge++;
      return false;
    }
    // `& mask` is exact for extended seqs: ToInt32 keeps the low 32 bits.
    const i = extSeq & this.mask;
    if (this.extSeqs[i]! > extSeq) {
      this.stale++;
      return false;
    }
    buf.copy(this.slab, i * this.slotSize, off, off + len);
    this.lengths[i] = len;
    this.extSeqs[i] = extSeq;
    this.storedAt[i] = nowMs;
    this.stored++;
    return true;
  }

  /** The slot holding 16-bit `seq` if it is stored and not older than `maxAgeMs`, else -1. */
  get(seq: number, nowMs: number): number {
    const i = seq & this.mask;
    const ext = this.extSeqs[i]!;
    if (ext < 0 || (ext & 0xffff) !== (seq & 0xffff)) {
      this.misses++;
      return -1;
    }
    if (nowMs - this.storedAt[i]! > this.maxAgeMs) {
      this.expired++;
      return -1;
    }
    this.hits++;
    return i;
  }

  /** Offset in `slab` of a slot's packet. */
  offsetOf(slot: number): number {
    return slot * this.slotSize;
  }

  /** Length of a slot's packet. */
  lengthOf(slot: number): number {
    return this.lengths[slot] ?? 0;
  }

  /** Extended seq of a slot's packet (-1 if empty). */
  extSeqOf(slot: number): number {
    return this.extSeqs[slot] ?? -1;
  }

  /** Store time of a slot's packet, in ms. */
  storedAtOf(slot: number): number {
    return this.storedAt[slot] ?? 0;
  }

  /** Empties every slot (the slab keeps its bytes; they are unreachable). */
  clear(): void {
    this.extSeqs.fill(-1);
  }

  toJSON(): Record<string, number> {
    return {
      slots: this.slots,
      stored: this.stored,
      tooLarge: this.tooLarge,
      stale: this.stale,
      hits: this.hits,
      misses: this.misses,
      expired: this.expired,
    };
  }
}
