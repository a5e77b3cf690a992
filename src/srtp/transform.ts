/**
 * The per-profile crypto half of an SRTP context. The context does header
 * parsing, index estimation and replay; a transform only turns bytes into
 * bytes for a known (SSRC, ROC, SEQ) or SRTCP index. All methods assume the
 * ranges were validated by the caller and never allocate beyond the views
 * and the keystream buffer Node returns.
 */
export interface SrtpTransform {
  /** Authentication tag length in bytes (10 for AES-CM/HMAC-SHA1-80, 16 for GCM). */
  readonly tagLength: number;
  /** True when the SRTCP index word follows the tag (RFC 7714) instead of preceding it (RFC 3711). */
  readonly rtcpIndexLast: boolean;

  /** Writes header || E(payload) || tag (hl + pl + tagLength bytes) at dst[dstOff]. */
  protectRtp(src: Uint8Array, srcOff: number, hl: number, pl: number, dst: Uint8Array, dstOff: number,
    ssrc: number, roc: number, seq: number): void;

  /** Verifies and decrypts in place; false on tag mismatch (the buffer is then unchanged). */
  unprotectRtp(buf: Uint8Array, off: number, hl: number, pl: number, ssrc: number, roc: number, seq: number): boolean;

  /** Writes the SRTCP packet for the len-byte RTCP packet (len + 4 + tagLength bytes), E = 1. */
  protectRtcp(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number,
    ssrc: number, index: number): void;

  /**
   * Verifies the SRTCP packet whose RTCP part is buf[off .. off+len) and
   * decrypts it in place when `encrypted` (the E flag); false on tag mismatch.
   */
  unprotectRtcp(buf: Uint8Array, off: number, len: number, ssrc: number, index: number, encrypted: boolean): boolean;
}
