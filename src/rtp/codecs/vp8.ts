/**
 * VP8 RTP payload descriptor: zero-alloc parse and in-place picture id /
 * TL0PICIDX rewrite.
 *
 * RFC 7741 section 4.2 (https://www.rfc-editor.org/rfc/rfc7741#section-4.2):
 *
 *        0 1 2 3 4 5 6 7
 *       +-+-+-+-+-+-+-+-+
 *       |X|R|N|S|R| PID | (REQUIRED)
 *       +-+-+-+-+-+-+-+-+
 *  X:   |I|L|T|K| RSV   | (OPTIONAL)
 *       +-+-+-+-+-+-+-+-+
 *  I:   |M| PictureID   | (OPTIONAL)
 *       +-+-+-+-+-+-+-+-+
 *  M:   |   PictureID   | (second byte when M=1: 15-bit picture id)
 *       +-+-+-+-+-+-+-+-+
 *  L:   |   TL0PICIDX   | (OPTIONAL)
 *       +-+-+-+-+-+-+-+-+
 *  T/K: |TID|Y| KEYIDX  | (OPTIONAL)
 *       +-+-+-+-+-+-+-+-+
 *
 * VP8 payload header, RFC 7741 section 4.3 (first bytes of the frame, only in
 * the packet that starts partition 0):
 *
 *       |Size0|H| VER |P|   P (inverse key frame flag): 0 = key frame
 *       |     Size1     |
 *       |     Size2     |
 *
 * Key frames continue with the start code 9d 01 2a and two little-endian
 * 16-bit fields: 14-bit width + 2-bit scale, 14-bit height + 2-bit scale
 * (RFC 6386 section 9.1, https://www.rfc-editor.org/rfc/rfc6386#section-9.1).
 *
 * Pure: no I/O, never throws. Parsing fills a caller-owned descriptor so the
 * per-packet path allocates nothing, and records the offsets of the picture id
 * and TL0PICIDX so the egress rewrite is two stores (bench/micro/codecs.ts:
 * parse and rewrite are 2-3 orders of magnitude below werift's deSerialize).
 */

/** Parsed VP8 payload descriptor. Absent numeric fields are -1. */
export interface Vp8Descriptor {
  /** X: the extension byte is present. */
  extended: boolean;
  /** N: non-reference frame (may be discarded without affecting other frames). */
  nonReference: boolean;
  /** S: this packet starts a VP8 partition. */
  startOfPartition: boolean;
  /** PID: partition index (0-7). */
  partitionIndex: number;
  /** Picture id, -1 when I=0. */
  pictureId: number;
  /** Width of the picture id field on the wire: 0 (absent), 7 or 15 bits (M bit). */
  pictureIdBits: number;
  /** Absolute offset in `buf` of the picture id field, -1 when absent (see writeVp8PictureId). */
  pictureIdOffset: number;
  /** TL0PICIDX, -1 when L=0. */
  tl0PicIdx: number;
  /** Absolute offset in `buf` of TL0PICIDX, -1 when absent (see writeVp8Tl0PicIdx). */
  tl0PicIdxOffset: number;
  /** TID: temporal layer index, -1 when T=0. */
  tid: number;
  /** Y: layer sync bit (only meaningful when T=1). */
  layerSync: boolean;
  /** KEYIDX, -1 when K=0. */
  keyIdx: number;
  /** Descriptor length in bytes; the VP8 payload starts at `offset + headerSize`. */
  headerSize: number;
  /** S=1 and PID=0: the first packet of a frame. */
  isStartOfFrame: boolean;
  /** Start of partition 0 and the payload header's P bit is 0. */
  isKeyframe: boolean;
  /** Frame width from the key frame header, 0 when not present in this packet. */
  width: number;
  /** Frame height from the key frame header, 0 when not present in this packet. */
  height: number;
}

export function createVp8Descriptor(): Vp8Descriptor {
  return {
    extended: false,
    nonReference: false,
    startOfPartition: false,
    partitionIndex: 0,
    pictureId: -1,
    pictureIdBits: 0,
    pictureIdOffset: -1,
    tl0PicIdx: -1,
    tl0PicIdxOffset: -1,
    tid: -1,
    layerSync: false,
    keyIdx: -1,
    headerSize: 0,
    isStartOfFrame: false,
    isKeyframe: false,
    width: 0,
    height: 0,
  };
}

/**
 * Parses the VP8 payload descriptor of the RTP payload `buf[off, off+len)`
 * into `out`. Returns false for malformed input (contents of `out` are then
 * unspecified). A packet must carry at least one byte of VP8 payload after
 * the descriptor (RFC 7741 section 4.2: the descriptor is followed by the
 * payload); an empty payload is treated as malformed.
 */
export function parseVp8(buf: Uint8Array, off: number, len: number, out: Vp8Descriptor): boolean {
  // NOTE: written as !(a && b) so NaN offsets/lengths are rejected too.
  if (!(off >= 0 && len >= 1 && off + len <= buf.length)) return false;
  const end = off + len;
  let p = off;
  const b0 = buf[p++]!;
  out.extended = (b0 & 0x80) !== 0;
  out.nonReference = (b0 & 0x20) !== 0;
  out.startOfPartition = (b0 & 0x10) !== 0;
  out.partitionIndex = b0 & 0x07;
  out.pictureId = -1;
  out.pictureIdBits = 0;
  out.pictureIdOffset = -1;
  out.tl0PicIdx = -1;
  out.tl0PicIdxOffset = -1;
  out.tid = -1;
  out.layerSync = false;
  out.keyIdx = -1;
  out.isKeyframe = false;
  out.width = 0;
  out.height = 0;

  if (out.extended) {
    if (p >= end) return false;
    const x = buf[p++]!;
    if (x & 0x80) {
      // I: 7- or 15-bit picture id, chosen by the M bit.
      if (p >= end) return false;
      out.pictureIdOffset = p;
      const m = buf[p++]!;
      if (m & 0x80) {
        if (p >= end) return false;
        out.pictureId = ((m & 0x7f) << 8) | buf[p++]!;
        out.pictureIdBits = 15;
      } else {
        out.pictureId = m;
        out.pictureIdBits = 7;
      }
    }
    if (x & 0x40) {
      if (p >= end) return false;
      out.tl0PicIdxOffset = p;
      out.tl0PicIdx = buf[p++]!;
    }
    // T and K share one byte; it is present when either bit is set.
    if (x & 0x30) {
      if (p >= end) return false;
      const tk = buf[p++]!;
      if (x & 0x20) {
        out.tid = tk >> 6;
        out.layerSync = (tk & 0x20) !== 0;
      }
      if (x & 0x10) out.keyIdx = tk & 0x1f;
    }
  }

  if (p >= end) return false;
  out.headerSize = p - off;
  out.isStartOfFrame = out.startOfPartition && out.partitionIndex === 0;
  if (out.isStartOfFrame) {
    // The payload header (and its P bit) exists only at the start of partition 0.
    const h0 = buf[p]!;
    if ((h0 & 0x01) === 0) {
      out.isKeyframe = true;
      // 3-byte frame tag, 3-byte start code, 2+2 bytes of size; absent in a
      // truncated first packet, in which case the dimensions stay 0.
      if (end - p >= 10 && buf[p + 3] === 0x9d && buf[p + 4] === 0x01 && buf[p + 5] === 0x2a) {
        out.width = (buf[p + 6]! | (buf[p + 7]! << 8)) & 0x3fff;
        out.height = (buf[p + 8]! | (buf[p + 9]! << 8)) & 0x3fff;
      }
    }
  }
  return true;
}

/**
 * Rewrites the picture id in place at `off` (a descriptor's `pictureIdOffset`),
 * keeping the field's existing width as given by its M bit: a 15-bit field
 * receives `pictureId & 0x7fff`, a 7-bit field receives `pictureId & 0x7f`.
 * NOTE: a 15-bit id written into a 7-bit field is silently masked to 7 bits;
 * a forwarder that rewrites a 7-bit stream must wrap its ids at 128.
 * Returns false, writing nothing, when the field does not fit in `buf`.
 */
export function writeVp8PictureId(buf: Uint8Array, off: number, pictureId: number): boolean {
  if (!(off >= 0 && off < buf.length)) return false;
  const m = buf[off]!;
  if (m & 0x80) {
    if (off + 1 >= buf.length) return false;
    buf[off] = 0x80 | ((pictureId >> 8) & 0x7f);
    buf[off + 1] = pictureId & 0xff;
  } else {
    buf[off] = pictureId & 0x7f;
  }
  return true;
}

/**
 * Rewrites TL0PICIDX in place at `off` (a descriptor's `tl0PicIdxOffset`);
 * the value wraps at 256. Returns false, writing nothing, when `off` is
 * outside `buf`.
 */
export function writeVp8Tl0PicIdx(buf: Uint8Array, off: number, tl0PicIdx: number): boolean {
  if (!(off >= 0 && off < buf.length)) return false;
  buf[off] = tl0PicIdx & 0xff;
  return true;
}
