/**
 * RTP packet view: zero-copy parse, in-place setters, lazy header extensions.
 *
 * RFC 3550 section 5.1 (https://www.rfc-editor.org/rfc/rfc3550#section-5.1):
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                           timestamp                           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           synchronization source (SSRC) identifier            |
 *  +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *  |            contributing source (CSRC) identifiers             |
 *  |                             ....                              |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Header extensions, RFC 8285 (https://www.rfc-editor.org/rfc/rfc8285):
 *
 *  |      0xBE     |      0xDE     |           length              |  one-byte form
 *  |  ID   |  len  |  data (len+1 bytes) ...                         (ID 1-14, 15 stops)
 *
 *  |      0x10     |    0x0 (appbits)|         length              |  two-byte form
 *  |       ID      |     length    |  data (length bytes) ...        (ID 1-255)
 *
 * A zero byte between elements is padding in both forms. Elements are found
 * by scanning the (small) extension block on request: no per-packet arrays.
 *
 * This file does no I/O and never throws on packet bytes: `reset()` returns
 * false for malformed input and every getter reads inside checked bounds.
 */

/** RFC 8285 one-byte header extension profile. */
export const EXT_PROFILE_ONE_BYTE = 0xbede;
/** RFC 8285 two-byte header extension profile (the low 4 bits are appbits). */
export const EXT_PROFILE_TWO_BYTE = 0x1000;
export const RTP_FIXED_HEADER_SIZE = 12;

export class RtpView {
  buf: Buffer = Buffer.alloc(0);
  /** Offset of the first RTP byte in `buf`. */
  offset = 0;
  /** Total RTP length (header + payload + padding). */
  length = 0;
  /** Header length including CSRCs and the extension block. */
  headerLength = 0;
  /** Trailing padding bytes (RFC 3550 P bit); not part of the payload. */
  paddingLength = 0;
  /** Header-extension profile (0xBEDE, 0x100X or other), 0 when absent. */
  extProfile = 0;
  /** Offset in `buf` of the first extension element (after the 4-byte extension header). */
  extOffset = 0;
  /** Length in bytes of the extension elements block. */
  extLength = 0;
  /** Set by `findExtension()`: length of the element found. */
  extValueLength = 0;

  /**
   * Points this view at a packet, validating every length field.
   * Returns false (and leaves the view unusable) for malformed input.
   */
  reset(buf: Buffer, offset = 0, length = buf.length - offset): boolean {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.extProfile = 0;
    this.extOffset = 0;
    this.extLength = 0;
    this.paddingLength = 0;
    if (length < RTP_FIXED_HEADER_SIZE || offset < 0 || offset + length > buf.length) return false;
    const b0 = buf[offset]!;
    if (b0 >> 6 !== 2) return false;
    let hl = RTP_FIXED_HEADER_SIZE + (b0 & 0x0f) * 4;
    if (hl > length) return false;
    if (b0 & 0x10) {
      if (hl + 4 > length) return false;
      const p = offset + hl;
      this.extProfile = buf.readUInt16BE(p);
      const extLen = buf.readUInt16BE(p + 2) * 4;
      hl += 4 + extLen;
      if (hl > length) return false;
      this.extOffset = p + 4;
      this.extLength = extLen;
    }
    if (b0 & 0x20) {
      const pad = buf[offset + length - 1]!;
      // A padding count of zero or one that eats into the header is malformed (RFC 3550 5.1).
      if (pad === 0 || hl + pad > length) return false;
      this.paddingLength = pad;
    }
    this.headerLength = hl;
    return true;
  }

  get version(): number {
    return this.buf[this.offset]! >> 6;
  }
  get padding(): boolean {
    return (this.buf[this.offset]! & 0x20) !== 0;
  }
  get hasExtension(): boolean {
    return (this.buf[this.offset]! & 0x10) !== 0;
  }
  get csrcCount(): number {
    return this.buf[this.offset]! & 0x0f;
  }
  csrc(i: number): number {
    return this.buf.readUInt32BE(this.offset + RTP_FIXED_HEADER_SIZE + i * 4);
  }

  get marker(): boolean {
    return (this.buf[this.offset + 1]! & 0x80) !== 0;
  }
  set marker(v: boolean) {
    const p = this.offset + 1;
    this.buf[p] = v ? this.buf[p]! | 0x80 : this.buf[p]! & 0x7f;
  }

  get payloadType(): number {
    return this.buf[this.offset + 1]! & 0x7f;
  }
  set payloadType(pt: number) {
    const p = this.offset + 1;
    this.buf[p] = (this.buf[p]! & 0x80) | (pt & 0x7f);
  }

  get sequenceNumber(): number {
    const p = this.offset + 2;
    return (this.buf[p]! << 8) | this.buf[p + 1]!;
  }
  set sequenceNumber(seq: number) {
    const p = this.offset + 2;
    this.buf[p] = (seq >>> 8) & 0xff;
    this.buf[p + 1] = seq & 0xff;
  }

  get timestamp(): number {
    return this.buf.readUInt32BE(this.offset + 4);
  }
  set timestamp(ts: number) {
    this.buf.writeUInt32BE(ts >>> 0, this.offset + 4);
  }

  get ssrc(): number {
    return this.buf.readUInt32BE(this.offset + 8);
  }
  set ssrc(ssrc: number) {
    this.buf.writeUInt32BE(ssrc >>> 0, this.offset + 8);
  }

  /** Offset in `buf` of the payload. */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  /** Payload length, excluding padding. */
  get payloadLength(): number {
    return this.length - this.headerLength - this.paddingLength;
  }
  /** The payload as a subarray (allocates a view object; not for the hot path). */
  payload(): Buffer {
    const start = this.payloadOffset;
    return this.buf.subarray(start, start + this.payloadLength);
  }

  /**
   * Finds header extension `id` and returns the offset in `buf` of its value,
   * or -1 when absent; the value's length is left in `extValueLength`.
   * Unknown extension profiles are treated as carrying no elements.
   */
  findExtension(id: number): number {
    const profile = this.extProfile;
    if (this.extLength === 0) return -1;
    const buf = this.buf;
    const end = this.extOffset + this.extLength;
    let p = this.extOffset;
    if (profile === EXT_PROFILE_ONE_BYTE) {
      while (p < end) {
        const b = buf[p]!;
        if (b === 0) {
          p++;
          continue;
        }
        const eid = b >> 4;
        // ID 15 is reserved: "stop parsing" (RFC 8285 4.2).
        if (eid === 15) return -1;
        const len = (b & 0x0f) + 1;
        if (p + 1 + len > end) return -1;
        if (eid === id) {
          this.extValueLength = len;
          return p + 1;
        }
        p += 1 + len;
      }
    } else if ((profile & 0xfff0) === EXT_PROFILE_TWO_BYTE) {
      while (p < end) {
        const eid = buf[p]!;
        if (eid === 0) {
          p++;
          continue;
        }
        if (p + 2 > end) return -1;
        const len = buf[p + 1]!;
        if (p + 2 + len > end) return -1;
        if (eid === id) {
          this.extValueLength = len;
          return p + 2;
        }
        p += 2 + len;
      }
    }
    return -1;
  }

  /** The value of header extension `id` as a subarray, or null (allocates; control-plane use). */
  getExtension(id: number): Buffer | null {
    const p = this.findExtension(id);
    return p < 0 ? null : this.buf.subarray(p, p + this.extValueLength);
  }

  /**
   * Adds an extension element with id `id` and a zeroed value of
   * `valueLength` bytes to this packet, in place: appended to its one- or
   * two-byte extension block, or in a new one-byte block when it has none
   * (setting X). The payload moves right by the 4-8 bytes that takes, so
   * `buf` must have that room after the packet. The view is reset on the
   * longer packet. Returns the offset of the value in `buf`, or -1 when the
   * element cannot be expressed (an id or length the block's form cannot
   * carry, a profile sfud does not know) or does not fit.
   */
  appendExtension(id: number, valueLength: number): number {
    const buf = this.buf;
    const o = this.offset;
    const profile = this.extProfile;
    const twoByte = (profile & 0xfff0) === EXT_PROFILE_TWO_BYTE;
    if (twoByte ? id < 1 || id > 255 || valueLength < 0 || valueLength > 255 : id < 1 || id > 14 || valueLength < 1 || valueLength > 16) return -1;
    if (profile !== 0 && profile !== EXT_PROFILE_ONE_BYTE && !twoByte) return -1;
    const element = (twoByte ? 2 : 1) + valueLength;
    const words = (element + 3) >> 2;
    const add = words * 4 + (profile === 0 ? 4 : 0);
    const end = o + this.length;
    if (end + add > buf.length) return -1;
    const at = o + this.headerLength;
    buf.copyWithin(at + add, at, end);
    let p = at;
    if (profile === 0) {
      buf.writeUInt16BE(EXT_PROFILE_ONE_BYTE, p);
      buf.writeUInt16BE(words, p + 2);
      buf[o] = buf[o]! | 0x10;
      p += 4;
    } else {
      const lenAt = this.extOffset - 2;
      buf.writeUInt16BE(buf.readUInt16BE(lenAt) + words, lenAt);
    }
    buf.fill(0, p, at + add);
    if (twoByte) {
      buf[p] = id;
      buf[p + 1] = valueLength;
    } else {
      buf[p] = (id << 4) | (valueLength - 1);
    }
    const value = p + (twoByte ? 2 : 1);
    return this.reset(buf, o, this.length + add) ? value : -1;
  }

  /**
   * Rewrites every extension element's id through `map` (index: the
   * publisher's id, value: the subscriber's id), in place. A mapped value of
   * 0 removes the element by overwriting it with padding bytes, which RFC
   * 8285 allows between elements, so no byte moves. Returns false if the
   * block is malformed (the packet is then left partly rewritten; drop it).
   */
  remapExtensionIds(map: Uint8Array): boolean {
    if (this.extLength === 0) return true;
    const buf = this.buf;
    const end = this.extOffset + this.extLength;
    let p = this.extOffset;
    if (this.extProfile === EXT_PROFILE_ONE_BYTE) {
      while (p < end) {
        const b = buf[p]!;
        if (b === 0) {
          p++;
          continue;
        }
        const eid = b >> 4;
        if (eid === 15) return true;
        const len = (b & 0x0f) + 1;
        if (p + 1 + len > end) return false;
        const to = map[eid] ?? 0;
        // One-byte ids stop at 14; anything the map cannot express is dropped.
        if (to === 0 || to > 14) buf.fill(0, p, p + 1 + len);
        else buf[p] = (to << 4) | (b & 0x0f);
        p += 1 + len;
      }
      return true;
    }
    if ((this.extProfile & 0xfff0) === EXT_PROFILE_TWO_BYTE) {
      while (p < end) {
        const eid = buf[p]!;
        if (eid === 0) {
          p++;
          continue;
        }
        if (p + 2 > end) return false;
        const len = buf[p + 1]!;
        if (p + 2 + len > end) return false;
        const to = map[eid] ?? 0;
        if (to === 0) buf.fill(0, p, p + 2 + len);
        else buf[p] = to;
        p += 2 + len;
      }
      return true;
    }
    return true;
  }
}

/** Parses an RTP packet into a new view (allocates one object), or null when malformed. */
export function parseRtp(buf: Buffer, offset = 0, length = buf.length - offset): RtpView | null {
  const v = new RtpView();
  return v.reset(buf, offset, length) ? v : null;
}

/** RFC 7983 demux: RTP and RTCP first bytes are 128-191. */
export function isRtpOrRtcp(buf: Buffer, offset = 0, length = buf.length - offset): boolean {
  if (length < 2) return false;
  const b = buf[offset]!;
  return b >= 128 && b <= 191;
}

/**
 * RFC 5761 4: RTCP packet types 192-223 (mapped from the second byte) share
 * the port with RTP; with RTP payload types limited to 0-95 by that RFC the
 * ranges do not collide.
 */
export function isRtcp(buf: Buffer, offset = 0, length = buf.length - offset): boolean {
  if (length < 4) return false;
  const pt = buf[offset + 1]!;
  return pt >= 192 && pt <= 223;
}

export interface RtpHeaderExtensionInit {
  id: number;
  value: Buffer | Uint8Array;
}

export interface RtpPacketInit {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker?: boolean;
  csrcs?: readonly number[];
  /** Written in the one-byte form when every id is 1-14 and every value 1-16 bytes, else two-byte. */
  extensions?: readonly RtpHeaderExtensionInit[];
  /** Padding bytes to append (RFC 3550 P bit); 0 for none. */
  padding?: number;
}

function useOneByteForm(exts: readonly RtpHeaderExtensionInit[]): boolean {
  for (const e of exts) {
    if (e.id < 1 || e.id > 14 || e.value.length < 1 || e.value.length > 16) return false;
  }
  return true;
}

function extensionBlockSize(exts: readonly RtpHeaderExtensionInit[] | undefined): number {
  if (!exts || exts.length === 0) return 0;
  const one = useOneByteForm(exts);
  let n = 0;
  for (const e of exts) n += (one ? 1 : 2) + e.value.length;
  return 4 + Math.ceil(n / 4) * 4;
}

/** Bytes `writeRtp()` needs for this header and a payload of `payloadLength` bytes. */
export function rtpSize(init: RtpPacketInit, payloadLength: number): number {
  return (
    RTP_FIXED_HEADER_SIZE +
    (init.csrcs?.length ?? 0) * 4 +
    extensionBlockSize(init.extensions) +
    payloadLength +
    (init.padding ?? 0)
  );
}

/**
 * Writes an RTP packet into `buf` at `offset` and returns the bytes written.
 * The caller sizes `buf` with `rtpSize()`. Values out of range are masked to
 * their field width; this is a writer for our own packets, not a validator.
 */
export function writeRtp(init: RtpPacketInit, payload: Uint8Array, buf: Buffer, offset = 0): number {
  const csrcs = init.csrcs ?? [];
  const exts = init.extensions ?? [];
  const pad = init.padding ?? 0;
  let p = offset;
  buf[p++] = 0x80 | (pad > 0 ? 0x20 : 0) | (exts.length > 0 ? 0x10 : 0) | (csrcs.length & 0x0f);
  buf[p++] = (init.marker ? 0x80 : 0) | (init.payloadType & 0x7f);
  buf.writeUInt16BE(init.sequenceNumber & 0xffff, p);
  buf.writeUInt32BE(init.timestamp >>> 0, p + 2);
  buf.writeUInt32BE(init.ssrc >>> 0, p + 6);
  p += 10;
  for (const c of csrcs) {
    buf.writeUInt32BE(c >>> 0, p);
    p += 4;
  }
  if (exts.length > 0) {
    const one = useOneByteForm(exts);
    const blockSize = extensionBlockSize(exts);
    buf.writeUInt16BE(one ? EXT_PROFILE_ONE_BYTE : EXT_PROFILE_TWO_BYTE, p);
    buf.writeUInt16BE((blockSize - 4) / 4, p + 2);
    const blockEnd = p + blockSize;
    p += 4;
    for (const e of exts) {
      if (one) {
        buf[p++] = (e.id << 4) | (e.value.length - 1);
      } else {
        buf[p++] = e.id & 0xff;
        buf[p++] = e.value.length & 0xff;
      }
      buf.set(e.value, p);
      p += e.value.length;
    }
    buf.fill(0, p, blockEnd);
    p = blockEnd;
  }
  buf.set(payload, p);
  p += payload.length;
  if (pad > 0) {
    buf.fill(0, p, p + pad - 1);
    buf[p + pad - 1] = pad;
    p += pad;
  }
  return p - offset;
}

/** Convenience: allocates a buffer and writes the packet into it. */
export function encodeRtp(init: RtpPacketInit, payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(rtpSize(init, payload.length));
  writeRtp(init, payload, buf, 0);
  return buf;
}
