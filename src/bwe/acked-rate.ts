/**
 * Acknowledged throughput: the rate at which the receiver got our packets,
 * from TWCC arrival times (receiver clock: only differences matter).
 *
 * A FIFO ring of (arrival, size) for the received packets of the last
 * `windowMs` of arrival time (500 ms: long enough to smooth a frame's burst,
 * short enough that a capacity drop shows within one or two feedbacks). The
 * rate is the window's bytes, minus the first packet's (the span starts at
 * its arrival), over the span from the oldest to the newest arrival. Rings
 * of `capacity` packets (2048: about 1 s at 20 Mbps of 1200-byte packets);
 * a fuller window is cut to what fits, which keeps the rate right.
 * Amortized O(1) per packet, no allocation.
 */

export interface AckedRateOptions {
  windowMs?: number;
  capacity?: number;
  /** The rate is unknown (0) until the window spans this much arrival time. */
  minSpanMs?: number;
  /** `busyBps` is unknown (0) while the window holds fewer packets (default 8). */
  minPackets?: number;
  /** `busyBps` is unknown (0) while the window holds a silence this long between arrivals (ms; default 200). */
  maxGapMs?: number;
}

/** An arrival this far behind the newest is a new receiver clock, not reordering. */
const CLOCK_JUMP_MS = 10_000;

export class AckedRate {
  private readonly windowMs: number;
  private readonly minSpanMs: number;
  private readonly minPackets: number;
  private readonly maxGapMs: number;
  private readonly arrivals: Float64Array;
  private readonly sizes: Float64Array;
  /** 1 where a silence of over `maxGapMs` came before the packet. */
  private readonly gapBefore: Uint8Array;
  /** Such silences inside the window (before any packet but the oldest). */
  private gaps = 0;
  private readonly mask: number;
  /** Ring indices: `tail` is the oldest kept packet, `head` the next free slot (both increase forever). */
  private tail = 0;
  private head = 0;
  private bytes = 0;
  private newest = -Infinity;

  constructor(opts: AckedRateOptions = {}) {
    this.windowMs = opts.windowMs ?? 500;
    this.minSpanMs = opts.minSpanMs ?? 100;
    this.minPackets = Math.max(2, opts.minPackets ?? 8);
    this.maxGapMs = opts.maxGapMs ?? 200;
    let cap = 1;
    while (cap < (opts.capacity ?? 2048)) cap <<= 1;
    this.arrivals = new Float64Array(cap);
    this.sizes = new Float64Array(cap);
    this.gapBefore = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /** One received packet (finite arrival, size >= 0). */
  add(arrivalMs: number, size: number): void {
    if (arrivalMs < this.newest - CLOCK_JUMP_MS) this.reset();
    const gap = this.head > this.tail && arrivalMs - this.newest > this.maxGapMs;
    if (arrivalMs > this.newest) this.newest = arrivalMs;
    if (this.head - this.tail > this.mask) this.dropOldest();
    const i = this.head & this.mask;
    this.gapBefore[i] = gap ? 1 : 0;
    if (gap) this.gaps++;
    this.arrivals[i] = arrivalMs;
    this.sizes[i] = size;
    this.bytes += size;
    this.head++;
    const from = this.newest - this.windowMs;
    while (this.head - this.tail > 1 && this.arrivals[this.tail & this.mask]! < from) this.dropOldest();
  }

  /** Acknowledged bps over the window, 0 while unknown. */
  bps(): number {
    if (this.head - this.tail < 2) return 0;
    const first = this.tail & this.mask;
    const span = this.newest - this.arrivals[first]!;
    if (!(span >= this.minSpanMs)) return 0;
    const bits = (this.bytes - this.sizes[first]!) * 8000;
    return bits > 0 ? bits / span : 0;
  }

  /**
   * The rate over a window the link was kept busy through: 0 (unknown)
   * when it holds fewer than `minPackets` or a silence over `maxGapMs`.
   * Such a window measures the sender's pauses, not the link: a stopped
   * layer's last three packets read 39 kbps on a 500 kbps link, and the
   * delay-based cut that took it for the link's rate put the estimate at
   * its 30 kbps floor.
   */
  busyBps(): number {
    if (this.gaps > 0 || this.head - this.tail < this.minPackets) return 0;
    return this.bps();
  }

  reset(): void {
    this.tail = this.head = 0;
    this.bytes = 0;
    this.gaps = 0;
    this.newest = -Infinity;
  }

  private dropOldest(): void {
    this.bytes -= this.sizes[this.tail & this.mask]!;
    this.tail++;
    // The silence before the new oldest packet now lies before the window.
    const t = this.tail & this.mask;
    if (this.head > this.tail && this.gapBefore[t] === 1) {
      this.gapBefore[t] = 0;
      this.gaps--;
    }
  }
}
