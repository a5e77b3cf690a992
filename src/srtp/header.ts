/**
 * RTP header length for SRTP, RFC 3550 section 5.1 / 5.3.1: the header that
 * stays in clear is 12 bytes + 4 * CC + (if X) 4 + 4 * extension length.
 *
 *   0                   1                   2                   3
 *  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *  |                           timestamp                           |
 *  |           synchronization source (SSRC) identifier            |
 *  |            contributing source (CSRC) identifiers ...         |
 *  |      defined by profile       |           length              |  if X
 *  |                        header extension ...                   |
 */

import { SrtpError } from './errors.js';

/**
 * Header length of the RTP packet in `buf[off .. off+len)`, or a negative
 * `SrtpError` (TooShort below 12 bytes, Malformed for a version other than 2
 * or a CSRC list/extension that runs past `len`). `off`/`len` must already be
 * inside `buf`.
 */
export function rtpHeaderLength(buf: Uint8Array, off: number, len: number): number {
  if (len < 12) return SrtpError.TooShort;
  const b0 = buf[off]!;
  if ((b0 & 0xc0) !== 0x80) return SrtpError.Malformed;
  let hl = 12 + ((b0 & 0x0f) << 2);
  if (b0 & 0x10) {
    if (hl + 4 > len) return SrtpError.Malformed;
    hl += 4 + (((buf[off + hl + 2]! << 8) | buf[off + hl + 3]!) << 2);
  }
  return hl > len ? SrtpError.Malformed : hl;
}
