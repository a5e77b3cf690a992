/**
 * Pacer: one subscriber transport's egress, spread at a multiple of the
 * bandwidth estimate instead of leaving in bursts.
 *
 * A keyframe is tens of packets produced in one instant; forwarded as it
 * comes, it lands in the subscriber's bottleneck queue at once, and on a
 * link near its limit that queue overflows (loss) or the delay detector
 * reads the burst as congestion (a needless cut). libwebrtc paces every
 * sender at 2.5 x its estimate for the same reason; sfud forwards other
 * people's bursts, so it paces too.
 *
 * - Leaky bucket: `rateBps` bits per second of budget, at most
 *   `BURST_MS` of it saved while idle; a packet leaves while the budget is
 *   positive (it may overdraw by one packet). 0: unpaced (no estimate yet).
 * - Audio is never queued (small, steady, and the first thing a listener
 *   misses); it spends budget like the rest.
 * - Everything else waits in one FIFO, so each SSRC's order is kept (SRTP
 *   and the receiver's jitter buffer see what the consumer sent).
 * - A queue that would take longer than `maxQueueMs` (500 ms) to drain at
 *   the pacing rate drains faster instead: pacing must smooth bursts, not
 *   add seconds of delay when the estimate is low. Near the link's
 *   capacity the owner allows more (see DownlinkController): draining
 *   faster than the estimate there overflows the link's queue. Past `MAX_QUEUE_PACKETS` the
 *   oldest packet is dropped and counted (memory stays bounded).
 * - Transport-wide sequence numbers are written when a packet leaves, with
 *   that send time: the delay-based estimator must see the link's queueing,
 *   not ours.
 *
 * One drain timer serves every backlogged pacer of the thread (STYLE.md 9:
 * coarse shared timers, not one per stream): at a keyframe every subscriber
 * of a big room is backlogged at once, and a timer each would be thousands
 * of callbacks per 5 ms. It runs only while something is queued.
 */
import type { SendHistory } from './send-history.js';

/** Where paced packets go (the subscriber's transport). */
export interface PacedSink {
  /** Takes ownership of `buf` (sized for the SRTP tag) and sends `length` bytes of RTP. */
  sendRtpOwned(buf: Buffer, length: number): boolean;
}

/** `send` flags. */
export const PacketFlag = {
  /** Audio: sent at once, never queued. */
  Audio: 1,
  /** A NACKed packet sent again under its first sequence number (the estimator discounts its loss). */
  Resent: 2,
} as const;

export interface PacerOptions {
  /** Clock (ms); performance.now by default. */
  now?: () => number;
  /** Timer for the drain (tests drive `process` by hand instead); returns a handle for `cancel`. */
  schedule?: (fn: () => void, ms: number) => unknown;
  cancel?: (handle: unknown) => void;
}

/** Budget saved while idle: the next packet after a pause leaves at once, a burst does not. */
const BURST_MS = 5;
/** The drain timer's interval while something is queued. */
const DRAIN_INTERVAL_MS = 5;
/** The queue is drained within about this long whatever the rate (the default of `maxQueueMs`). */
export const DEFAULT_MAX_QUEUE_MS = 500;
const MAX_QUEUE_PACKETS = 2048;
/** An elapsed time longer than this (a stalled event loop) adds no more budget than this. */
const MAX_REFILL_MS = 50;

export class Pacer {
  /** Pacing rate in bits per second; 0 sends everything at once. */
  rateBps = 0;
  /** A queue that would take longer to drain at `rateBps` (ms) drains faster. */
  maxQueueMs = DEFAULT_MAX_QUEUE_MS;
  private budget = 0;
  private lastRefillMs = NaN;
  private readonly now: () => number;
  private readonly schedule: NonNullable<PacerOptions['schedule']>;
  private readonly cancel: NonNullable<PacerOptions['cancel']>;
  private timer: unknown = undefined;
  private readonly drain = (): void => this.process();
  private closed = false;
  // The FIFO, as parallel arrays from `head` (compacted as it drains).
  private head = 0;
  private readonly bufs: Buffer[] = [];
  private readonly lens: number[] = [];
  private readonly tccAts: number[] = [];
  private readonly flags: number[] = [];
  private readonly sinks: PacedSink[] = [];
  private queuedBytes = 0;
  /** Raised rate while an over-long queue drains (0: none). */
  private drainBps = 0;
  readonly stats = { paced: 0, sent: 0, dropped: 0, maxQueuePackets: 0, maxQueueMs: 0 };

  constructor(
    private readonly history: SendHistory | undefined,
    opts: PacerOptions = {},
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.schedule = opts.schedule ?? sharedSchedule;
    this.cancel = opts.cancel ?? sharedCancel;
  }

  /** Packets waiting. */
  get queued(): number {
    return this.bufs.length - this.head;
  }

  /** Bytes waiting. */
  get queuedByteCount(): number {
    return this.queuedBytes;
  }

  /** How long the queue takes to drain at the pacing rate (ms; 0 when unpaced). */
  get queueMs(): number {
    return this.rateBps > 0 ? (this.queuedBytes * 8000) / this.rateBps : 0;
  }

  /**
   * Sends `buf` (`len` bytes of RTP; the 2-byte transport-wide sequence
   * number slot at `tccAt`, or -1 for none) now or when the budget allows.
   * Returns false only when the sink refused a packet sent at once.
   */
  send(sink: PacedSink, buf: Buffer, len: number, tccAt: number, flags = 0): boolean {
    if (this.closed) return false;
    // Unpaced with nothing waiting (no estimate yet, or none at all): straight out, the clock read only to stamp.
    if (this.rateBps <= 0 && this.head === this.bufs.length) return this.emit(sink, buf, len, tccAt, flags, tccAt >= 0 ? this.now() : 0);
    const now = this.now();
    this.refill(now);
    if ((flags & PacketFlag.Audio) !== 0 || (this.head === this.bufs.length && (this.rateBps <= 0 || this.budget > 0))) {
      return this.emit(sink, buf, len, tccAt, flags, now);
    }
    if (this.queued >= MAX_QUEUE_PACKETS) this.dropOldest();
    this.bufs.push(buf);
    this.lens.push(len);
    this.tccAts.push(tccAt);
    this.flags.push(flags);
    this.sinks.push(sink);
    this.queuedBytes += len;
    this.stats.paced++;
    if (this.queued > this.stats.maxQueuePackets) this.stats.maxQueuePackets = this.queued;
    this.arm();
    return true;
  }

  /** Sends what the budget allows now; the timer calls it, tests may too. */
  process(): void {
    this.timer = undefined;
    if (this.closed) return;
    const now = this.now();
    this.refill(now);
    const qms = this.queueMs;
    if (qms > this.stats.maxQueueMs) this.stats.maxQueueMs = Math.round(qms);
    // A queue longer than maxQueueMs gets the rate that drains it in that time, until it is empty.
    if (qms > this.maxQueueMs) {
      const need = (this.queuedBytes * 8000) / this.maxQueueMs;
      if (need > this.drainBps) this.drainBps = need;
    }
    while (this.head < this.bufs.length && (this.rateBps <= 0 || this.budget > 0)) {
      const i = this.head++;
      const len = this.lens[i]!;
      this.queuedBytes -= len;
      this.emit(this.sinks[i]!, this.bufs[i]!, len, this.tccAts[i]!, this.flags[i]!, now);
      this.bufs[i] = EMPTY;
      this.sinks[i] = NO_SINK;
    }
    this.compact();
    if (this.head < this.bufs.length) this.arm();
    else this.drainBps = 0;
  }

  /** Drops everything queued and stops the timer. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.cancel(this.timer);
    this.timer = undefined;
    this.head = this.bufs.length;
    this.queuedBytes = 0;
    this.compact();
  }

  toJSON(): Record<string, number> {
    return { rateBps: Math.round(this.rateBps), queued: this.queued, queueMs: Math.round(this.queueMs), ...this.stats };
  }

  private emit(sink: PacedSink, buf: Buffer, len: number, tccAt: number, flags: number, now: number): boolean {
    this.budget -= len;
    if (tccAt >= 0 && this.history) this.history.stamp(buf, tccAt, len, now, this.history.activeCluster, (flags & PacketFlag.Resent) !== 0);
    this.stats.sent++;
    return sink.sendRtpOwned(buf, len);
  }

  private refill(now: number): void {
    const last = this.lastRefillMs;
    this.lastRefillMs = now;
    if (this.rateBps <= 0) {
      this.budget = 0;
      return;
    }
    // The first packet finds the link idle.
    const elapsed = last === last ? Math.min(Math.max(now - last, 0), MAX_REFILL_MS) : MAX_REFILL_MS;
    const perMs = (this.drainBps > this.rateBps ? this.drainBps : this.rateBps) / 8000;
    const b = this.budget + perMs * elapsed;
    // Idle, only a little is saved; backlogged, a late timer must not cost rate.
    const cap = perMs * (this.head < this.bufs.length ? MAX_REFILL_MS : BURST_MS);
    this.budget = b > cap ? cap : b;
  }

  private arm(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = this.schedule(this.drain, DRAIN_INTERVAL_MS);
  }

  private dropOldest(): void {
    const i = this.head++;
    this.queuedBytes -= this.lens[i]!;
    this.bufs[i] = EMPTY;
    this.sinks[i] = NO_SINK;
    this.stats.dropped++;
  }

  private compact(): void {
    if (this.head === 0) return;
    if (this.head === this.bufs.length) {
      this.head = 0;
      this.bufs.length = this.lens.length = this.tccAts.length = this.flags.length = this.sinks.length = 0;
      return;
    }
    if (this.head < 1024) return;
    const h = this.head;
    this.head = 0;
    this.bufs.splice(0, h);
    this.lens.splice(0, h);
    this.tccAts.splice(0, h);
    this.flags.splice(0, h);
    this.sinks.splice(0, h);
  }
}

/** Drains due at the shared timer's next turn. */
const due = new Set<() => void>();
let sharedTimer: NodeJS.Timeout | undefined;

function sharedSchedule(fn: () => void, ms: number): { fn: () => void } {
  due.add(fn);
  if (!sharedTimer) {
    sharedTimer = setTimeout(runDue, ms);
    sharedTimer.unref();
  }
  return { fn };
}

function sharedCancel(handle: unknown): void {
  due.delete((handle as { fn: () => void }).fn);
}

function runDue(): void {
  sharedTimer = undefined;
  // A drain that is still backlogged schedules itself again (for the next turn).
  const list = [...due];
  due.clear();
  for (const fn of list) fn();
}

const EMPTY = Buffer.alloc(0);
const NO_SINK: PacedSink = { sendRtpOwned: () => false };

