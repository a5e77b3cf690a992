/**
 * RTP retransmission payload format, RFC 4588 section 4
 * (https://www.rfc-editor.org/rfc/rfc4588#section-4):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         RTP Header                            |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |            OSN                |                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               |
 *   |                  Original RTP Packet Payload                  |
 *   |                                                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The RTX packet keeps the original header (marker, timestamp, CSRCs,
 * header extensions) with the RTX stream's SSRC, payload type and sequence
 * number, and prepends the original sequence number (OSN) to the payload.
 * RTP padding, if any, stays at the end (a receiver strips it before reading
 * the OSN), so encode then decode gives back the original bytes exactly.
 *
 * Both directions validate the packet with `RtpView.reset` and return -1 on
 * malformed input or a buffer that is too small; they never throw on bytes.
 */
import { RtpView } from '../rtp.js';

/** Scratch view for the module functions (synchronous use only, never escapes). */
const scratch = new RtpView();

/**
 * Writes the RTX form of the RTP packet `src[off, off + len)` into `out` at
 * `outOff`: `len + 2` bytes. `out` may be `src` at the same offset (in-place
 * encode, given two spare bytes after the packet); otherwise the two ranges
 * must not overlap. Returns the bytes written, or -1.
 */
export function writeRtx(
  src: Buffer,
  off: number,
  len: number,
  rtxSsrc: number,
  rtxPt: number,
  rtxSeq: number,
  out: Buffer,
  outOff: number,
): number {
  const v = scratch;
  if (!v.reset(src, off, len)) return -1;
  if (outOff < 0 || outOff + len + 2 > out.length) return -1;
  const hl = v.headerLength;
  const osn = v.sequenceNumber;
  // Payload (and padding) first, so the in-place case moves it before the OSN lands on it.
  src.copy(out, outOff + hl + 2, off + hl, off + len);
  if (out !== src || outOff !== off) src.copy(out, outOff, off, off + hl);
  out[outOff + hl] = osn >>> 8;
  out[outOff + hl + 1] = osn & 0xff;
  out[outOff + 1] = (out[outOff + 1]! & 0x80) | (rtxPt & 0x7f);
  out[outOff + 2] = (rtxSeq >>> 8) & 0xff;
  out[outOff + 3] = rtxSeq & 0xff;
  out.writeUInt32BE(rtxSsrc >>> 0, outOff + 8);
  return len + 2;
}

/**
 * Turns the RTX packet `buf[off, off + len)` back into the original packet
 * in place: SSRC and payload type from the arguments, sequence number from
 * the OSN, payload shifted down two bytes. Returns the original's length
 * (`len - 2`), or -1 when the packet is malformed or carries no OSN (an RTX
 * padding-only probe).
 */
export function unwrapRtx(buf: Buffer, off: number, len: number, mediaSsrc: number, mediaPt: number): number {
  const v = scratch;
  if (!v.reset(buf, off, len)) return -1;
  if (v.payloadLength < 2) return -1;
  const p = off + v.headerLength;
  const osn = (buf[p]! << 8) | buf[p + 1]!;
  buf.copy(buf, p, p + 2, off + len);
  buf[off + 1] = (buf[off + 1]! & 0x80) | (mediaPt & 0x7f);
  buf[off + 2] = osn >>> 8;
  buf[off + 3] = osn & 0xff;
  buf.writeUInt32BE(mediaSsrc >>> 0, off + 8);
  return len - 2;
}

/** RTX sender for one outgoing stream: its SSRC, payload type and own sequence space. */
export class RtxEncoder {
  readonly ssrc: number;
  readonly payloadType: number;
  /** Next RTX sequence number (16-bit). */
  seq: number;
  packetsSent = 0;
  malformed = 0;

  constructor(ssrc: number, payloadType: number, initialSeq = 0) {
    this.ssrc = ssrc >>> 0;
    this.payloadType = payloadType & 0x7f;
    this.seq = initialSeq & 0xffff;
  }

  /** `writeRtx` with this stream's SSRC, PT and next seq; the seq advances only on success. */
  encode(src: Buffer, off: number, len: number, out: Buffer, outOff: number): number {
    const n = writeRtx(src, off, len, this.ssrc, this.payloadType, this.seq, out, outOff);
    if (n < 0) {
      this.malformed++;
      return -1;
    }
    this.seq = (this.seq + 1) & 0xffff;
    this.packetsSent++;
    return n;
  }
}

/** RTX receiver for one incoming stream (a publisher that sends RTX). */
export class RtxDecoder {
  readonly mediaSsrc: number;
  /** Original payload type by RTX payload type (the `apt` fmtp), -1 when not an RTX PT. */
  private readonly apt = new Int16Array(128).fill(-1);
  packetsDecoded = 0;
  /** Valid RTP without an OSN: RTX padding sent for bandwidth probing (normal, not an error). */
  paddingOnly = 0;
  malformed = 0;
  unknownPt = 0;

  /** `apt` pairs: [rtxPayloadType, originalPayloadType]. */
  constructor(mediaSsrc: number, apt: readonly (readonly [number, number])[]) {
    this.mediaSsrc = mediaSsrc >>> 0;
    for (const [rtxPt, pt] of apt) this.apt[rtxPt & 0x7f] = pt & 0x7f;
  }

  /** Unwraps in place (see `unwrapRtx`); returns the original's length or -1. */
  decode(buf: Buffer, off: number, len: number): number {
    if (len < 2 || off < 0 || off + 2 > buf.length) {
      this.malformed++;
      return -1;
    }
    const pt = this.apt[buf[off + 1]! & 0x7f]!;
    if (pt < 0) {
      this.unknownPt++;
      return -1;
    }
    const n = unwrapRtx(buf, off, len, this.mediaSsrc, pt);
    if (n >= 0) this.packetsDecoded++;
    // Failure path only: tell probes from garbage (the scratch view still holds the parse).
    else if (scratch.reset(buf, off, len) && scratch.payloadLength < 2) this.paddingOnly++;
    else this.malformed++;
    return n;
  }
}
