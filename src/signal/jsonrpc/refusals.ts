/**
 * Refusals: every request sfud turns away on purpose (policy, limits, auth,
 * draining), as a JSON-RPC error or an HTTP status, is counted here by reason
 * so operators can see it (the metrics read `snapshot()`).
 *
 * Error codes on `/ws` follow ion-sfu's habit of HTTP-like codes (it answers
 * every failure with 500): 401 no or bad token, 403 the token forbids it, 413
 * too large or too many, 429 rate or room limit, 503 draining.
 */
import { SfuError } from '../../errors.js';

export const REFUSAL_REASONS = [
  /** WebSocket upgrade from an Origin not in the allow-list (HTTP 403). */
  'origin',
  /** Too many WebSocket connections from one address (HTTP 429). */
  'connectionRate',
  /** Too many joins from one address (429). */
  'joinRate',
  /** Upgrade (HTTP 503) or join (503) while draining. */
  'draining',
  'tokenMissing',
  'tokenInvalid',
  'tokenExpired',
  /** The token names another room (403). */
  'wrongRoom',
  /** The token names another uid (403). */
  'wrongUid',
  /** A viewer token offered to send media (403). */
  'publishForbidden',
  /** `/rpc` without a valid admin token (HTTP 401/403). */
  'adminToken',
  'sdpTooLarge',
  'tooManyTracks',
  'tooManyDataChannels',
  'tooManyCandidates',
  /** The room has max-peers-per-room peers (429). */
  'roomFull',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export const RefusalCode = {
  Unauthorized: 401,
  Forbidden: 403,
  TooLarge: 413,
  TooMany: 429,
  Draining: 503,
} as const;

export class Refusals {
  private readonly counts = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>;

  count(reason: RefusalReason): void {
    this.counts[reason]++;
  }

  get(reason: RefusalReason): number {
    return this.counts[reason];
  }

  snapshot(): Record<RefusalReason, number> {
    return { ...this.counts };
  }
}

/** Thrown by admission checks; the signalling server answers it with `code` and counts `reason`. */
export class SignalRefusal extends SfuError {
  constructor(
    readonly reason: RefusalReason,
    readonly rpcCode: number,
    message: string,
  ) {
    super('ERR_SFUD_REFUSED', message);
    this.name = 'SignalRefusal';
  }
}

/** An HTTP-level refusal of an upgrade or request. */
export interface HttpRefusal {
  reason: RefusalReason;
  status: number;
  message: string;
  headers?: Record<string, string>;
}
