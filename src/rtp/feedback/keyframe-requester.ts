/**
 * Keyframe requests toward a publisher, per producer stream or layer
 * (DESIGN.md: "PLI/FIR on behalf of subscribers (at most one per 500 ms per
 * producer layer)").
 *
 * PLI: RFC 4585 6.3.1 (https://www.rfc-editor.org/rfc/rfc4585#section-6.3.1).
 * FIR: RFC 5104 4.3.1 (https://www.rfc-editor.org/rfc/rfc5104#section-4.3.1);
 * its command sequence number increments for every new request and is kept
 * for repetitions of the same one (4.3.1.2). Every request this unit lets
 * through is a new one, so `firSeqNr` advances (mod 256) per FIR.
 *
 * PLI is preferred whenever the publisher negotiated `nack pli` (every
 * browser does); FIR only when it negotiated `ccm fir` and not `nack pli`.
 */

export type KeyframeRequestKind = 'pli' | 'fir';

export interface KeyframeRequesterOptions {
  /** The publisher negotiated `a=rtcp-fb:* nack pli` (default true). */
  pli?: boolean;
  /** The publisher negotiated `a=rtcp-fb:* ccm fir` (default false). */
  fir?: boolean;
  /** Minimum spacing between requests in ms (default 500). */
  minIntervalMs?: number;
}

export class KeyframeRequester {
  readonly kind: KeyframeRequestKind | null;
  readonly minIntervalMs: number;
  private lastMs = -Infinity;
  /** The FIR command sequence number of the latest FIR (0..255); -1 before the first. */
  firSeqNr = -1;
  pliSent = 0;
  firSent = 0;
  /** Requests suppressed by the interval. */
  throttled = 0;
  /**
   * A request arrived inside the interval: it is owed, not forgotten, so a
   * second subscriber joining right after a first still gets its keyframe.
   * `due()` hands it out once the interval has passed.
   */
  pending = false;
  /** Requests dropped because the publisher negotiated neither PLI nor FIR. */
  unsupported = 0;

  constructor(opts: KeyframeRequesterOptions = {}) {
    const pli = opts.pli ?? true;
    const fir = opts.fir ?? false;
    this.kind = pli ? 'pli' : fir ? 'fir' : null;
    this.minIntervalMs = opts.minIntervalMs ?? 500;
  }

  /**
   * Asks for a keyframe at `nowMs`. Returns what to send now ('fir' with
   * `firSeqNr` already advanced), or null when throttled or impossible.
   */
  request(nowMs: number): KeyframeRequestKind | null {
    if (this.kind === null) {
      this.unsupported++;
      return null;
    }
    if (nowMs - this.lastMs < this.minIntervalMs) {
      this.throttled++;
      this.pending = true;
      return null;
    }
    this.pending = false;
    this.lastMs = nowMs;
    if (this.kind === 'fir') {
      this.firSeqNr = (this.firSeqNr + 1) & 0xff;
      this.firSent++;
    } else {
      this.pliSent++;
    }
    return this.kind;
  }

  /** The owed request, if one is pending and the interval has passed (call on a timer). */
  due(nowMs: number): KeyframeRequestKind | null {
    if (!this.pending || nowMs - this.lastMs < this.minIntervalMs) return null;
    return this.request(nowMs);
  }

  toJSON(): Record<string, number | string | null> {
    return {
      kind: this.kind,
      pliSent: this.pliSent,
      firSent: this.firSent,
      firSeqNr: this.firSeqNr,
      throttled: this.throttled,
      unsupported: this.unsupported,
    };
  }
}
