/**
 * Feedback messages: generic NACK, PLI, FIR, REMB.
 *
 * Common feedback header, RFC 4585 6.1 (https://www.rfc-editor.org/rfc/rfc4585#section-6.1):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|   FMT   |       PT      |          length               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                  SSRC of packet sender                        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                  SSRC of media source                         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    :            Feedback Control Information (FCI)                 :
 *
 * Generic NACK FCI (RTPFB FMT 1), RFC 4585 6.2.1
 * (https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1), one or more of:
 *
 *    |            PID                |             BLP               |
 *
 *   PID is a lost sequence number; bit i of BLP (LSB = 0) reports PID+i+1 lost.
 *
 * PLI (PSFB FMT 1), RFC 4585 6.3.1 (https://www.rfc-editor.org/rfc/rfc4585#section-6.3.1): no FCI.
 *
 * FIR FCI (PSFB FMT 4), RFC 5104 4.3.1 (https://www.rfc-editor.org/rfc/rfc5104#section-4.3.1),
 * one or more of (the media source SSRC of the header is unused):
 *
 *    |                              SSRC                             |
 *    | Seq nr.       |    Reserved                                   |
 *
 * REMB (PSFB FMT 15), draft-alvestrand-rmcat-remb-03 section 2.2
 * (https://datatracker.ietf.org/doc/html/draft-alvestrand-rmcat-remb-03#section-2.2),
 * media source SSRC is 0, then:
 *
 *    |  Unique identifier 'R' 'E' 'M' 'B'                            |
 *    |  Num SSRC     | BR Exp    |  BR Mantissa                      |
 *    |   SSRC feedback                                               |
 *    |  ...                                                          |
 *
 *   bitrate (bps) = mantissa (18 bits) * 2^exp (6 bits).
 */
import { PsfbFmt, RtcpType, RtpfbFmt, checkInt, checkRoom, u16, u32, writeHeader } from './header.js';
import type { FirEntry, FirPacket, NackPacket, NackPair, PliPacket, RembPacket } from './types.js';

export function decodeNack(buf: Buffer, off: number, end: number): NackPacket | null {
  let p = off + 12;
  if (p > end || (end - p) % 4 !== 0) return null;
  const pairs: NackPair[] = [];
  const lost: number[] = [];
  for (; p < end; p += 4) {
    const pid = u16(buf, p);
    const blp = u16(buf, p + 2);
    pairs.push({ pid, blp });
    lost.push(pid);
    for (let b = 0; b < 16; b++) if ((blp & (1 << b)) !== 0) lost.push((pid + b + 1) & 0xffff);
  }
  return { type: 'nack', senderSsrc: u32(buf, off + 4), mediaSsrc: u32(buf, off + 8), lost, pairs };
}

/**
 * Packs lost sequence numbers (ascending, wrap-aware: 65535 then 0 is fine)
 * into PID/BLP pairs: a seq within 16 after the current PID joins its BLP,
 * anything else starts a new pair, duplicates are dropped. Writes the pairs
 * at `off` when `buf` is given, collects them into `out` when given, and
 * returns the pair count (so sizing allocates nothing).
 */
function walkNackPairs(lost: readonly number[], buf: Buffer | null, off: number, out: NackPair[] | null): number {
  let n = 0;
  let pid = -1;
  let blp = 0;
  for (let i = 0; i <= lost.length; i++) {
    // One step past the end (seq = -1) flushes the last pair.
    const seq = i < lost.length ? lost[i]! : -1;
    if (i < lost.length) checkInt('NACK seq', seq, 0, 0xffff);
    if (pid >= 0 && seq >= 0) {
      const d = (seq - pid) & 0xffff;
      if (d === 0) continue;
      if (d <= 16) {
        blp |= 1 << (d - 1);
        continue;
      }
    }
    if (pid >= 0) {
      if (buf !== null) {
        buf.writeUInt16BE(pid, off + n * 4);
        buf.writeUInt16BE(blp, off + n * 4 + 2);
      }
      if (out !== null) out.push({ pid, blp });
      n++;
    }
    pid = seq;
    blp = 0;
  }
  return n;
}

/** The PID/BLP pairs the writer emits for `lost` (see `NackPacket.lost`). */
export function packNackPairs(lost: readonly number[]): NackPair[] {
  const pairs: NackPair[] = [];
  walkNackPairs(lost, null, 0, pairs);
  return pairs;
}

/** Expands PID/BLP pairs into lost sequence numbers, in wire order. */
export function unpackNackPairs(pairs: readonly NackPair[]): number[] {
  const lost: number[] = [];
  for (const { pid, blp } of pairs) {
    lost.push(pid);
    for (let b = 0; b < 16; b++) if ((blp & (1 << b)) !== 0) lost.push((pid + b + 1) & 0xffff);
  }
  return lost;
}

export function sizeNack(p: NackPacket): number {
  return 12 + walkNackPairs(p.lost, null, 0, null) * 4;
}

export function writeNack(p: NackPacket, buf: Buffer, off: number): number {
  const size = sizeNack(p);
  checkRoom(buf, off, size);
  writeHeader(buf, off, RtpfbFmt.NACK, RtcpType.RTPFB, size);
  buf.writeUInt32BE(p.senderSsrc, off + 4);
  buf.writeUInt32BE(p.mediaSsrc, off + 8);
  walkNackPairs(p.lost, buf, off + 12, null);
  return size;
}

export function decodePli(buf: Buffer, off: number, end: number): PliPacket | null {
  if (off + 12 > end) return null;
  return { type: 'pli', senderSsrc: u32(buf, off + 4), mediaSsrc: u32(buf, off + 8) };
}

export function writePli(p: PliPacket, buf: Buffer, off: number): number {
  checkRoom(buf, off, 12);
  writeHeader(buf, off, PsfbFmt.PLI, RtcpType.PSFB, 12);
  buf.writeUInt32BE(p.senderSsrc, off + 4);
  buf.writeUInt32BE(p.mediaSsrc, off + 8);
  return 12;
}

export function decodeFir(buf: Buffer, off: number, end: number): FirPacket | null {
  let p = off + 12;
  if (p > end || (end - p) % 8 !== 0) return null;
  const entries: FirEntry[] = [];
  for (; p < end; p += 8) entries.push({ ssrc: u32(buf, p), seqNr: buf[p + 4]! });
  return { type: 'fir', senderSsrc: u32(buf, off + 4), mediaSsrc: u32(buf, off + 8), entries };
}

export function sizeFir(p: FirPacket): number {
  return 12 + p.entries.length * 8;
}

export function writeFir(p: FirPacket, buf: Buffer, off: number): number {
  const size = sizeFir(p);
  checkRoom(buf, off, size);
  writeHeader(buf, off, PsfbFmt.FIR, RtcpType.PSFB, size);
  buf.writeUInt32BE(p.senderSsrc, off + 4);
  buf.writeUInt32BE(p.mediaSsrc, off + 8);
  let q = off + 12;
  for (const e of p.entries) {
    buf.writeUInt32BE(e.ssrc, q);
    buf.writeUInt8(e.seqNr, q + 4);
    buf[q + 5] = buf[q + 6] = buf[q + 7] = 0;
    q += 8;
  }
  return size;
}

/** "REMB" as a big-endian 32-bit word. */
const REMB_ID = 0x52454d42;
const MAX_MANTISSA = 0x3ffff;
const MAX_EXP = 63;

/** True if a PSFB FMT 15 body carries the REMB identifier (otherwise it is some other AFB message). */
export function isRemb(buf: Buffer, off: number, end: number): boolean {
  return off + 16 <= end && u32(buf, off + 12) === REMB_ID;
}

export function decodeRemb(buf: Buffer, off: number, end: number): RembPacket | null {
  if (off + 20 > end) return null;
  const num = buf[off + 16]!;
  const b17 = buf[off + 17]!;
  const exp = b17 >>> 2;
  const mantissa = ((b17 & 3) << 16) | u16(buf, off + 18);
  if (off + 20 + num * 4 > end) return null;
  const ssrcs: number[] = [];
  for (let i = 0, p = off + 20; i < num; i++, p += 4) ssrcs.push(u32(buf, p));
  // mantissa * 2^exp is exact in a double: 18 significant bits.
  return { type: 'remb', senderSsrc: u32(buf, off + 4), bitrate: mantissa * 2 ** exp, ssrcs };
}

/**
 * Splits a bitrate into REMB's exponent and 18-bit mantissa, choosing the
 * largest representable value <= bps (the smallest exponent that fits, as
 * libwebrtc does). Values above the format's maximum clamp to it.
 */
function rembSplit(bps: number): { exp: number; mantissa: number } {
  if (!(bps >= 0)) throw new RangeError(`RTCP REMB bitrate must be a non-negative number, got ${bps}`);
  let exp = 0;
  // Dividing by a power of two is exact, so floor() here is floor(floor(bps) / 2^exp).
  let mantissa = Math.floor(bps);
  while (mantissa > MAX_MANTISSA) {
    exp++;
    if (exp > MAX_EXP) return { exp: MAX_EXP, mantissa: MAX_MANTISSA };
    mantissa = Math.floor(bps / 2 ** exp);
  }
  return { exp, mantissa };
}

/** The bitrate a REMB carrying `bps` decodes to: the largest representable value <= bps. */
export function rembQuantize(bps: number): number {
  const { exp, mantissa } = rembSplit(bps);
  return mantissa * 2 ** exp;
}

export function sizeRemb(p: RembPacket): number {
  return 20 + p.ssrcs.length * 4;
}

export function writeRemb(p: RembPacket, buf: Buffer, off: number): number {
  checkInt('REMB SSRC count', p.ssrcs.length, 0, 255);
  const { exp, mantissa } = rembSplit(p.bitrate);
  const size = sizeRemb(p);
  checkRoom(buf, off, size);
  writeHeader(buf, off, PsfbFmt.AFB, RtcpType.PSFB, size);
  buf.writeUInt32BE(p.senderSsrc, off + 4);
  buf.writeUInt32BE(0, off + 8);
  buf.writeUInt32BE(REMB_ID, off + 12);
  buf[off + 16] = p.ssrcs.length;
  buf[off + 17] = (exp << 2) | (mantissa >>> 16);
  buf.writeUInt16BE(mantissa & 0xffff, off + 18);
  let q = off + 20;
  for (const ssrc of p.ssrcs) {
    buf.writeUInt32BE(ssrc, q);
    q += 4;
  }
  return size;
}
