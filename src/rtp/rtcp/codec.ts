/**
 * Compound-level codec: typed decode of every packet in a compound, and
 * serialization into caller buffers. The per-type layouts live next door
 * (reports.ts, feedback.ts, twcc.ts); XR and unknown types are passed
 * through here.
 *
 * XR, RFC 3611 section 2 (https://www.rfc-editor.org/rfc/rfc3611#section-2):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|reserved |   PT=XR=207   |             length            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                              SSRC                             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    :                         report blocks                         :
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Malformed input: `parseRtcp` returns null for the whole compound if the
 * walk fails or any packet body is malformed (a compound is one datagram;
 * half of it is not worth trusting). It never throws.
 */
import { checkInt, checkPassThrough, checkRoom, PsfbFmt, RtcpCursor, RtcpType, RtpfbFmt, u32, writeHeader } from './header.js';
import type { RtcpWalkOptions } from './header.js';
import {
  decodeFir,
  decodeNack,
  decodePli,
  decodeRemb,
  isRemb,
  sizeFir,
  sizeNack,
  sizeRemb,
  writeFir,
  writeNack,
  writePli,
  writeRemb,
} from './feedback.js';
import {
  decodeApp,
  decodeBye,
  decodeRr,
  decodeSdes,
  decodeSr,
  sizeApp,
  sizeBye,
  sizeRr,
  sizeSdes,
  sizeSr,
  writeApp,
  writeBye,
  writeRr,
  writeSdes,
  writeSr,
} from './reports.js';
import { decodeTwcc, sizeTwcc, writeTwcc } from './twcc.js';
import type { RtcpPacket, UnknownRtcpPacket, XrPacket } from './types.js';

/** Pass-through, like APP: padding stays in `data`, but must not eat into the SSRC. */
function decodeXr(buf: Buffer, off: number, payloadEnd: number, end: number): XrPacket | null {
  if (off + 8 > payloadEnd) return null;
  const xr: XrPacket = { type: 'xr', senderSsrc: u32(buf, off + 4), data: Buffer.from(buf.subarray(off + 8, end)) };
  if (payloadEnd !== end) xr.padding = true;
  return xr;
}

function decodeUnknown(buf: Buffer, off: number, end: number, pt: number, fmt: number, padded: boolean): UnknownRtcpPacket {
  const u: UnknownRtcpPacket = { type: 'unknown', pt, fmt, data: Buffer.from(buf.subarray(off + 4, end)) };
  if (padded) u.padding = true;
  return u;
}

/**
 * Decodes the packet the cursor is on, or returns null if its body is
 * malformed. Lets a hot path walk a compound with the cursor and decode only
 * the packets it needs.
 */
export function decodeRtcpAt(c: RtcpCursor): RtcpPacket | null {
  const buf = c.buf;
  const off = c.offset;
  const count = c.count;
  // Typed decoders see the payload without padding; pass-through keeps it all.
  const end = c.payloadEnd;
  const full = off + c.length;
  const padded = c.padding > 0;
  switch (c.type) {
    case RtcpType.SR:
      return decodeSr(buf, off, end, count);
    case RtcpType.RR:
      return decodeRr(buf, off, end, count);
    case RtcpType.SDES:
      return decodeSdes(buf, off, end, count);
    case RtcpType.BYE:
      return decodeBye(buf, off, end, count);
    case RtcpType.APP:
      return decodeApp(buf, off, end, full, count);
    case RtcpType.RTPFB:
      if (count === RtpfbFmt.NACK) return decodeNack(buf, off, end);
      if (count === RtpfbFmt.TWCC) return decodeTwcc(buf, off, end);
      break;
    case RtcpType.PSFB:
      if (count === PsfbFmt.PLI) return decodePli(buf, off, end);
      if (count === PsfbFmt.FIR) return decodeFir(buf, off, end);
      if (count === PsfbFmt.AFB && isRemb(buf, off, end)) return decodeRemb(buf, off, end);
      break;
    case RtcpType.XR:
      return decodeXr(buf, off, end, full);
    default:
      break;
  }
  return decodeUnknown(buf, off, full, c.type, count, padded);
}

// parseRtcp is synchronous and decoders never re-enter it, so one cursor per mode is enough.
const strictCursor = new RtcpCursor();
const lenientCursor = new RtcpCursor({ allowInnerPadding: true });

/**
 * Decodes a compound RTCP packet into plain objects, or returns null if
 * anything in it is malformed. Never throws.
 */
export function parseRtcp(
  buf: Buffer,
  offset = 0,
  length = buf.length - offset,
  opts?: RtcpWalkOptions,
): RtcpPacket[] | null {
  const c = (opts?.allowInnerPadding === true ? lenientCursor : strictCursor).reset(buf, offset, length);
  const packets: RtcpPacket[] = [];
  while (c.next()) {
    const p = decodeRtcpAt(c);
    if (p === null) return null;
    packets.push(p);
  }
  return c.error === null ? packets : null;
}

/** Bytes `writeRtcp` will write for `p`. */
export function rtcpSize(p: RtcpPacket): number {
  switch (p.type) {
    case 'sr':
      return sizeSr(p);
    case 'rr':
      return sizeRr(p);
    case 'sdes':
      return sizeSdes(p);
    case 'bye':
      return sizeBye(p);
    case 'app':
      return sizeApp(p);
    case 'nack':
      return sizeNack(p);
    case 'pli':
      return 12;
    case 'fir':
      return sizeFir(p);
    case 'remb':
      return sizeRemb(p);
    case 'twcc':
      return sizeTwcc(p);
    case 'xr':
      return 8 + p.data.length;
    case 'unknown':
      return 4 + p.data.length;
  }
}

/**
 * Serializes one packet at `offset` and returns the bytes written. Throws a
 * RangeError if `buf` is too small or a field cannot be represented on the
 * wire (a programming error: input bytes never reach a writer).
 */
export function writeRtcp(p: RtcpPacket, buf: Buffer, offset: number): number {
  switch (p.type) {
    case 'sr':
      return writeSr(p, buf, offset);
    case 'rr':
      return writeRr(p, buf, offset);
    case 'sdes':
      return writeSdes(p, buf, offset);
    case 'bye':
      return writeBye(p, buf, offset);
    case 'app':
      return writeApp(p, buf, offset);
    case 'nack':
      return writeNack(p, buf, offset);
    case 'pli':
      return writePli(p, buf, offset);
    case 'fir':
      return writeFir(p, buf, offset);
    case 'remb':
      return writeRemb(p, buf, offset);
    case 'twcc':
      return writeTwcc(p, buf, offset);
    case 'xr': {
      const size = 8 + p.data.length;
      checkPassThrough('XR', p.data, p.padding === true);
      checkRoom(buf, offset, size);
      writeHeader(buf, offset, 0, RtcpType.XR, size, p.padding === true);
      buf.writeUInt32BE(p.senderSsrc, offset + 4);
      p.data.copy(buf, offset + 8);
      return size;
    }
    case 'unknown': {
      checkInt('RTCP packet type', p.pt, 0, 255);
      checkInt('RTCP count/FMT', p.fmt, 0, 31);
      const size = 4 + p.data.length;
      checkPassThrough('unknown', p.data, p.padding === true);
      checkRoom(buf, offset, size);
      writeHeader(buf, offset, p.fmt, p.pt, size, p.padding === true);
      p.data.copy(buf, offset + 4);
      return size;
    }
  }
}

/** Serializes packets back to back into a new Buffer (a compound packet). */
export function encodeRtcp(packets: readonly RtcpPacket[]): Buffer {
  let total = 0;
  for (const p of packets) total += rtcpSize(p);
  // alloc, not allocUnsafe: a writer bug must never put stale memory on the wire.
  const buf = Buffer.alloc(total);
  let off = 0;
  for (const p of packets) off += writeRtcp(p, buf, off);
  return buf;
}
