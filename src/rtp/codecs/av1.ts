/**
 * AV1 RTP aggregation header and OBU element walk: zero-alloc parse.
 *
 * RTP Payload Format for AV1, section 4.4
 * (https://aomediacodec.github.io/av1-rtp-spec/#44-av1-aggregation-header):
 *
 *    0 1 2 3 4 5 6 7
 *   +-+-+-+-+-+-+-+-+
 *   |Z|Y| W |N|-|-|-|
 *   +-+-+-+-+-+-+-+-+
 *
 *   Z  the first OBU element continues an OBU fragment from the previous packet
 *   Y  the last OBU element continues in the next packet
 *   W  0: every OBU element is preceded by a leb128 length;
 *      1-3: the packet holds W elements, all but the last preceded by a length
 *   N  first packet of a coded video sequence (a key frame); Z must be 0 then
 *
 * Payload (section 4.3): aggregation header, then OBU elements
 *
 *   |  AH  | [LEB128 length] OBU element | ... | [LEB128 length] OBU element |
 *
 * An element that starts an OBU begins with its OBU header (AV1 spec section
 * 5.3.2, https://aomediacodec.github.io/av1-spec/#obu-header-syntax):
 *
 *   |F| type  |X|S|R|   then, if X:  | tid | sid | reserved |
 *
 * Pure: no I/O, never throws, never allocates.
 */

export const AV1_OBU_SEQUENCE_HEADER = 1;
export const AV1_OBU_TEMPORAL_DELIMITER = 2;
export const AV1_OBU_FRAME_HEADER = 3;
export const AV1_OBU_TILE_GROUP = 4;
export const AV1_OBU_METADATA = 5;
export const AV1_OBU_FRAME = 6;

/** leb128 values are at most 8 bytes and must fit 32 bits (AV1 spec section 4.10.5). */
export const AV1_LEB128_MAX_BYTES = 8;

/** Parsed AV1 aggregation header and OBU summary. Absent numeric fields are -1. */
export interface Av1Descriptor {
  /** Z: the first element continues an OBU from the previous packet. */
  continuesObu: boolean;
  /** Y: the last element continues in the next packet. */
  obuContinues: boolean;
  /** W field (0-3). */
  elementCountField: number;
  /** N: first packet of a coded video sequence. */
  newCodedVideoSequence: boolean;
  /** OBU elements walked. */
  elementCount: number;
  /** Type of the first OBU that starts in this packet (a Z=1 continuation does not count), -1 when none. */
  firstObuType: number;
  /** A sequence header OBU (type 1) starts in this packet. */
  hasSequenceHeader: boolean;
  /** temporal_id of the first OBU with an extension header, -1 when none. */
  temporalId: number;
  /** spatial_id of the first OBU with an extension header, -1 when none. */
  spatialId: number;
  /** N=1: a new coded video sequence starts with a key frame. */
  isKeyframe: boolean;
  /**
   * Z=0 and the first OBU is a temporal delimiter, sequence header, frame
   * header or frame: the packet begins a new frame.
   */
  isStartOfFrame: boolean;
}

export function createAv1Descriptor(): Av1Descriptor {
  return {
    continuesObu: false,
    obuContinues: false,
    elementCountField: 0,
    newCodedVideoSequence: false,
    elementCount: 0,
    firstObuType: -1,
    hasSequenceHeader: false,
    temporalId: -1,
    spatialId: -1,
    isKeyframe: false,
    isStartOfFrame: false,
  };
}

/** Result of readLeb128: the value and how many bytes encoded it. */
export interface Leb128 {
  value: number;
  size: number;
}

export function createLeb128(): Leb128 {
  return { value: 0, size: 0 };
}

/**
 * Reads an unsigned leb128 (AV1 spec section 4.10.5) from `buf[p, end)`
 * into `out`. Returns false when it runs past `end`, uses more than 8 bytes
 * or exceeds 2^32 - 1.
 */
export function readLeb128(buf: Uint8Array, p: number, end: number, out: Leb128): boolean {
  if (!(p >= 0 && end <= buf.length)) return false;
  let value = 0;
  // Multiplication keeps the arithmetic exact past 31 bits (shifts are int32).
  let scale = 1;
  for (let i = 0; i < AV1_LEB128_MAX_BYTES; i++) {
    if (p + i >= end) return false;
    const b = buf[p + i]!;
    value += (b & 0x7f) * scale;
    if (value > 0xffffffff) return false;
    if ((b & 0x80) === 0) {
      out.value = value;
      out.size = i + 1;
      return true;
    }
    scale *= 128;
  }
  return false;
}

// One scratch result for the parser: module-level so parsing allocates nothing.
const lebScratch = createLeb128();

/**
 * Parses the AV1 RTP payload `buf[off, off+len)` into `out`, walking every
 * OBU element. Returns false for malformed input: no element after the
 * aggregation header, N=1 with Z=1, a bad or overrunning leb128 length, or
 * W > 0 with fewer elements than W (the last one must be non-empty); `out`
 * is then unspecified.
 */
export function parseAv1(buf: Uint8Array, off: number, len: number, out: Av1Descriptor): boolean {
  if (!(off >= 0 && len >= 2 && off + len <= buf.length)) return false;
  const end = off + len;
  const ah = buf[off]!;
  out.continuesObu = (ah & 0x80) !== 0;
  out.obuContinues = (ah & 0x40) !== 0;
  const w = (ah >> 4) & 0x03;
  out.elementCountField = w;
  out.newCodedVideoSequence = (ah & 0x08) !== 0;
  out.elementCount = 0;
  out.firstObuType = -1;
  out.hasSequenceHeader = false;
  out.temporalId = -1;
  out.spatialId = -1;
  out.isKeyframe = out.newCodedVideoSequence;
  out.isStartOfFrame = false;
  // NOTE: the spec says "if N equals 1 then Z must equal 0".
  if (out.newCodedVideoSequence && out.continuesObu) return false;

  let p = off + 1;
  while (p < end) {
    let size: number;
    // With W > 0 the W-th (last) element has no length and runs to the end.
    if (w !== 0 && out.elementCount === w - 1) {
      size = end - p;
    } else {
      if (!readLeb128(buf, p, end, lebScratch)) return false;
      p += lebScratch.size;
      size = lebScratch.value;
      if (size > end - p) return false;
    }
    if (size > 0 && !(out.elementCount === 0 && out.continuesObu)) noteObuStart(buf, p, p + size, out);
    out.elementCount++;
    p += size;
    if (w !== 0 && out.elementCount === w) break;
  }
  if (w !== 0 && out.elementCount !== w) return false;
  if (out.elementCount === 0) return false;
  const t = out.firstObuType;
  out.isStartOfFrame =
    !out.continuesObu &&
    (t === AV1_OBU_TEMPORAL_DELIMITER ||
      t === AV1_OBU_SEQUENCE_HEADER ||
      t === AV1_OBU_FRAME_HEADER ||
      t === AV1_OBU_FRAME);
  return true;
}

/** Reads the OBU header of an element that starts an OBU at `buf[p, end)`, end > p. */
function noteObuStart(buf: Uint8Array, p: number, end: number, out: Av1Descriptor): void {
  const h = buf[p]!;
  const type = (h >> 3) & 0x0f;
  if (out.firstObuType < 0) out.firstObuType = type;
  if (type === AV1_OBU_SEQUENCE_HEADER) out.hasSequenceHeader = true;
  if (h & 0x04 && out.temporalId < 0 && end - p >= 2) {
    const x = buf[p + 1]!;
    out.temporalId = x >> 5;
    out.spatialId = (x >> 3) & 0x03;
  }
}
