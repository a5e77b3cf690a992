/**
 * Rate-limited drop summaries (STYLE.md 8: never a log line per packet).
 *
 * The data plane only counts drops. Every `intervalMs` (10 s) this reads the
 * cumulative counters and writes one line per reason that moved, with the
 * count since the previous line: at most one line per reason per interval,
 * however fast packets are dropped. Reasons that are part of normal life
 * (media racing the DTLS handshake, paused consumers, packets from a peer
 * that just left) are logged at debug, the rest at warn.
 */
import type { Logger } from '../logger.js';

/** `stage:reason` keys that are expected in normal operation. */
const EXPECTED = new Set([
  'mux:stun-unknown-ufrag',
  'mux:rtp-unknown-tuple',
  'mux:dtls-unknown-tuple',
  'mux:remote-filtered',
  'transport:srtp-not-ready',
  'transport:dtls-not-ready',
  'transport:no-selected-path',
  // Binding indications: keepalives some clients send.
  'transport:ice-not-request',
  // A publisher may send a stream before the renegotiation that names it arrives.
  'peer:unknown-ssrc',
  'consumer:paused',
  'consumer:waiting-keyframe',
  'consumer:stale',
  'consumer:sink',
]);

/** The log subsystem of each stage. */
const SUB: Record<string, string> = { mux: 'udp', transport: 'srtp', peer: 'rtp', producer: 'rtp', consumer: 'rtp' };

export interface DropLogOptions {
  logger: Logger;
  /** Cumulative drop counts keyed `stage:reason` (they only grow). */
  totals: () => ReadonlyMap<string, number>;
  /** Default 10 s; 0 disables the timer (call `check()` yourself). */
  intervalMs?: number;
}

export class DropLog {
  private readonly last = new Map<string, number>();
  private readonly log: Logger;
  private readonly totals: () => ReadonlyMap<string, number>;
  private readonly intervalMs: number;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(opts: DropLogOptions) {
    this.log = opts.logger;
    this.totals = opts.totals;
    this.intervalMs = opts.intervalMs ?? 10_000;
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => this.check(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Logs what was dropped since the previous check; returns the number of lines written. */
  check(): number {
    let lines = 0;
    for (const [key, total] of this.totals()) {
      const count = total - (this.last.get(key) ?? 0);
      this.last.set(key, total);
      if (count <= 0) continue;
      const colon = key.indexOf(':');
      const stage = key.slice(0, colon);
      const reason = key.slice(colon + 1);
      const fields = { sub: SUB[stage] ?? stage, stage, reason, count, windowSec: this.intervalMs / 1000 };
      if (EXPECTED.has(key)) this.log.debug(fields, 'packets dropped');
      else this.log.warn(fields, 'packets dropped');
      lines++;
    }
    return lines;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
