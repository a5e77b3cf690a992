/**
 * H.264 RTP payload inspection (packetization-mode 0 and 1): zero-alloc parse
 * of single NAL unit packets, STAP-A and FU-A.
 *
 * RFC 6184 (https://www.rfc-editor.org/rfc/rfc6184). NAL unit header,
 * section 1.3 (https://www.rfc-editor.org/rfc/rfc6184#section-1.3):
 *
 *   +---------------+
 *   |0|1|2|3|4|5|6|7|
 *   +-+-+-+-+-+-+-+-+
 *   |F|NRI|  Type   |   Type 1-23: single NAL unit packet (section 5.6)
 *   +---------------+
 *
 * STAP-A, section 5.7.1 (https://www.rfc-editor.org/rfc/rfc6184#section-5.7.1):
 *
 *   |STAP-A NAL HDR |         NALU 1 Size           | NALU 1 HDR    |
 *   |                         NALU 1 Data ...                       |
 *   |               | NALU 2 Size                   | NALU 2 HDR    | ...
 *
 * FU-A, section 5.8 (https://www.rfc-editor.org/rfc/rfc6184#section-5.8):
 *
 *   | FU indicator  |   FU header   |
 *   |F|NRI|Type=28  |S|E|R|  Type   |  FU payload ...
 *
 * Only single NAL units, STAP-A and FU-A may be used in non-interleaved mode
 * (RFC 6184 section 6.3), which is what WebRTC negotiates; STAP-B, MTAP and
 * FU-B packets are therefore reported as malformed.
 *
 * Beyond the RTP structure this reads the first bytes of the NAL units that
 * start in the packet: profile_idc / constraint flags / level_idc of an SPS
 * (H.264 section 7.3.2.1.1) and the ue(v) first_mb_in_slice of a slice header
 * (H.264 section 7.3.3), which tells whether a slice starts a picture.
 *
 * Pure: no I/O, never throws, never allocates (bench/micro/codecs.ts compares
 * it with werift's H264RtpPayload.deSerialize, which copies the payload).
 */

export const H264_NAL_SLICE = 1;
export const H264_NAL_IDR = 5;
export const H264_NAL_SEI = 6;
export const H264_NAL_SPS = 7;
export const H264_NAL_PPS = 8;
export const H264_NAL_AUD = 9;
export const H264_NAL_STAP_A = 24;
export const H264_NAL_FU_A = 28;

/** Parsed H.264 RTP payload. Absent numeric fields are -1. */
export interface H264Descriptor {
  /** Type of the payload header: 1-23 (single NAL unit), 24 (STAP-A) or 28 (FU-A). */
  packetType: number;
  /** NRI of the payload header (0-3). */
  nri: number;
  /** The NAL unit type carried: single = packetType, FU-A = the fragmented NAL's type, STAP-A = the first aggregated NAL's type. */
  nalType: number;
  /** NAL units (or NAL fragments) in the packet. */
  nalCount: number;
  /** FU-A S bit (false for other packet types). */
  fuStart: boolean;
  /** FU-A E bit (false for other packet types). */
  fuEnd: boolean;
  /** The packet carries an IDR slice or a fragment of one. */
  hasIdr: boolean;
  hasSps: boolean;
  hasPps: boolean;
  /** An SPS or the start of an IDR slice is in this packet. */
  isKeyframe: boolean;
  /**
   * The first NAL unit starting in this packet begins an access unit: an
   * AUD, SEI, SPS, PPS or types 14-18 (H.264 section 7.4.1.2.3), or a slice
   * with first_mb_in_slice = 0.
   */
  isStartOfFrame: boolean;
  /** first_mb_in_slice of the first slice (type 1 or 5) starting here, -1 when none or truncated. */
  firstMbInSlice: number;
  /** From the first SPS starting in this packet, -1 otherwise. */
  profileIdc: number;
  /** constraint_set0..5 flags and reserved bits (the SPS's second byte), -1 when no SPS. */
  constraintFlags: number;
  levelIdc: number;
  /** profile_idc << 16 | constraints << 8 | level_idc, as in SDP profile-level-id (42e01f), -1 when no SPS. */
  profileLevelId: number;
}

export function createH264Descriptor(): H264Descriptor {
  return {
    packetType: 0,
    nri: 0,
    nalType: 0,
    nalCount: 0,
    fuStart: false,
    fuEnd: false,
    hasIdr: false,
    hasSps: false,
    hasPps: false,
    isKeyframe: false,
    isStartOfFrame: false,
    firstMbInSlice: -1,
    profileIdc: -1,
    constraintFlags: -1,
    levelIdc: -1,
    profileLevelId: -1,
  };
}

/**
 * Parses the H.264 RTP payload `buf[off, off+len)` into `out`. Returns false
 * for malformed input: empty payload, NAL type 0, STAP-B/MTAP/FU-B/reserved
 * types, a STAP-A whose sizes overrun the payload or aggregate a zero-size or
 * non-NAL (0, 24-31) unit, an FU-A with S and E both set (RFC 6184 section
 * 5.8) or a non-NAL original type. `out` is then unspecified.
 */
export function parseH264(buf: Uint8Array, off: number, len: number, out: H264Descriptor): boolean {
  if (!(off >= 0 && len >= 1 && off + len <= buf.length)) return false;
  const end = off + len;
  const h = buf[off]!;
  const type = h & 0x1f;
  out.packetType = type;
  out.nri = (h >> 5) & 0x03;
  out.nalType = type;
  out.nalCount = 0;
  out.fuStart = false;
  out.fuEnd = false;
  out.hasIdr = false;
  out.hasSps = false;
  out.hasPps = false;
  out.isKeyframe = false;
  out.isStartOfFrame = false;
  out.firstMbInSlice = -1;
  out.profileIdc = -1;
  out.constraintFlags = -1;
  out.levelIdc = -1;
  out.profileLevelId = -1;

  if (type >= 1 && type <= 23) {
    out.nalCount = 1;
    noteNalStart(buf, type, off + 1, end, true, out);
    return true;
  }
  if (type === H264_NAL_STAP_A) {
    let p = off + 1;
    while (p < end) {
      if (end - p < 2) return false;
      const size = (buf[p]! << 8) | buf[p + 1]!;
      p += 2;
      if (size === 0 || end - p < size) return false;
      const inner = buf[p]! & 0x1f;
      if (inner === 0 || inner >= 24) return false;
      if (out.nalCount === 0) out.nalType = inner;
      noteNalStart(buf, inner, p + 1, p + size, out.nalCount === 0, out);
      out.nalCount++;
      p += size;
    }
    return out.nalCount > 0;
  }
  if (type === H264_NAL_FU_A) {
    if (len < 2) return false;
    const fu = buf[off + 1]!;
    const inner = fu & 0x1f;
    out.fuStart = (fu & 0x80) !== 0;
    out.fuEnd = (fu & 0x40) !== 0;
    if ((out.fuStart && out.fuEnd) || inner === 0 || inner >= 24) return false;
    out.nalType = inner;
    out.nalCount = 1;
    if (out.fuStart) {
      // The first fragment holds the NAL's first payload bytes (its header is folded into the FU bytes).
      noteNalStart(buf, inner, off + 2, end, true, out);
    } else if (inner === H264_NAL_IDR) {
      out.hasIdr = true;
    }
    return true;
  }
  // 0, STAP-B (25), MTAP16/24 (26/27), FU-B (29), reserved (30/31).
  return false;
}

/** Records a NAL unit of `type` whose payload (after the 1-byte NAL header) is `buf[p, end)`. */
function noteNalStart(buf: Uint8Array, type: number, p: number, end: number, first: boolean, out: H264Descriptor): void {
  let firstMb = -1;
  switch (type) {
    case H264_NAL_IDR:
    case H264_NAL_SLICE:
      firstMb = readUe(buf, p, end);
      if (out.firstMbInSlice < 0) out.firstMbInSlice = firstMb;
      if (type === H264_NAL_IDR) {
        out.hasIdr = true;
        out.isKeyframe = true;
      }
      break;
    case H264_NAL_SPS:
      out.hasSps = true;
      out.isKeyframe = true;
      if (out.profileIdc < 0 && end - p >= 3) {
        out.profileIdc = buf[p]!;
        out.constraintFlags = buf[p + 1]!;
        out.levelIdc = buf[p + 2]!;
        out.profileLevelId = (out.profileIdc << 16) | (out.constraintFlags << 8) | out.levelIdc;
      }
      break;
    case H264_NAL_PPS:
      out.hasPps = true;
      break;
    default:
      break;
  }
  if (first) {
    out.isStartOfFrame =
      firstMb === 0 ||
      type === H264_NAL_SEI ||
      type === H264_NAL_SPS ||
      type === H264_NAL_PPS ||
      type === H264_NAL_AUD ||
      (type >= 14 && type <= 18);
  }
}

/**
 * Reads one unsigned Exp-Golomb code, ue(v) (H.264 section 9.1), starting at
 * the first bit of `buf[p]` and skipping emulation prevention bytes
 * (00 00 03, H.264 section 7.4.1). Returns -1 when the code runs past `end`
 * or has more than 31 leading zero bits (the value would not fit 32 bits).
 */
export function readUe(buf: Uint8Array, p: number, end: number): number {
  if (!(p >= 0 && end <= buf.length)) return -1;
  let cur = 0;
  let bitsLeft = 0;
  let zeroRun = 0;
  let leading = 0;
  let remaining = -1;
  let value = 0;
  for (;;) {
    if (bitsLeft === 0) {
      if (p >= end) return -1;
      cur = buf[p++]!;
      if (zeroRun >= 2 && cur === 0x03) {
        zeroRun = 0;
        if (p >= end) return -1;
        cur = buf[p++]!;
      }
      zeroRun = cur === 0 ? zeroRun + 1 : 0;
      bitsLeft = 8;
    }
    bitsLeft--;
    const bit = (cur >> bitsLeft) & 1;
    if (remaining < 0) {
      if (bit === 0) {
        if (++leading > 31) return -1;
        continue;
      }
      if (leading === 0) return 0;
      remaining = leading;
    } else {
      // Multiplication, not shifts: the suffix may use all 31 bits.
      value = value * 2 + bit;
      if (--remaining === 0) return 2 ** leading - 1 + value;
    }
  }
}
