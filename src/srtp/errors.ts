/**
 * Data-plane results and control-plane errors of the SRTP layer.
 *
 * The packet functions never throw on packet bytes (STYLE.md rule 7): they
 * return a byte count, or one of these negative codes that the caller counts
 * as a drop reason. Construction with bad keys is a configuration error and
 * throws `SrtpConfigError`.
 */

export const SrtpError = {
  /** Shorter than a header plus the authentication tag. */
  TooShort: -1,
  /** Not RTP/RTCP version 2, or a length field (CSRC count, extension) runs past the end. */
  Malformed: -2,
  /** Authentication tag mismatch: wrong key, corruption or forgery. */
  AuthFailed: -3,
  /** Index already received (RFC 3711 section 3.3.2). */
  ReplayDuplicate: -4,
  /** Index older than the replay window, or before the stream's first packet. */
  ReplayTooOld: -5,
  /** Destination buffer has no room for the output. */
  BufferTooSmall: -6,
  /** The context already tracks `maxSsrcs` SSRCs in this direction. */
  TooManySsrcs: -7,
  /** 48-bit SRTP or 31-bit SRTCP index exhausted: the keys must be renewed. */
  IndexExhausted: -8,
} as const;

export type SrtpErrorCode = (typeof SrtpError)[keyof typeof SrtpError];

/** Stable snake_case name of a result code, for drop-reason counters and metrics labels. */
export function srtpErrorName(code: number): string {
  switch (code) {
    case SrtpError.TooShort:
      return 'too_short';
    case SrtpError.Malformed:
      return 'malformed';
    case SrtpError.AuthFailed:
      return 'auth_failed';
    case SrtpError.ReplayDuplicate:
      return 'replay_duplicate';
    case SrtpError.ReplayTooOld:
      return 'replay_too_old';
    case SrtpError.BufferTooSmall:
      return 'buffer_too_small';
    case SrtpError.TooManySsrcs:
      return 'too_many_ssrcs';
    case SrtpError.IndexExhausted:
      return 'index_exhausted';
    default:
      return code >= 0 ? 'ok' : 'unknown';
  }
}

/** Thrown (control plane only) for bad key/salt lengths or options. */
export class SrtpConfigError extends Error {
  readonly code = 'ERR_SRTP_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'SrtpConfigError';
  }
}
