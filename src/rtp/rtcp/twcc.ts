/**
 * Transport-wide congestion control feedback (RTPFB FMT 15),
 * draft-holmer-rmcat-transport-wide-cc-extensions-01 section 3.1
 * (https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01#section-3.1):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|  FMT=15 |    PT=205     |           length              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                     SSRC of packet sender                     |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                      SSRC of media source                     |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |      base sequence number     |      packet status count      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                 reference time                | fb pkt. count |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |          packet chunk         |         packet chunk          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    .                                                               .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         packet chunk          |  recv delta   |  recv delta   |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    .                                                               .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |           recv delta          |  recv delta   | zero padding  |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Reference time: signed 24 bits, 64 ms units. Status symbols: 00 not
 * received, 01 received with a small delta (1 byte, unsigned), 10 received
 * with a large or negative delta (2 bytes, signed), 11 reserved. Deltas are
 * in 250 us units.
 *
 * Run-length chunk (3.1.3):    |T=0| S |       run length (13 bits)      |
 * Status vector chunk (3.1.4): |T=1|S=0| 14 one-bit symbols (0 = not received, 1 = small delta)
 *                              |T=1|S=1| 7 two-bit symbols
 *
 * NOTE: the reserved symbol 11 makes the feedback malformed (libwebrtc
 * rejects it too). Chunks may describe more packets than the status count;
 * the extra symbols are ignored. Bytes after the last delta are ignored.
 */
import { RtcpType, RtpfbFmt, checkInt, checkRoom, u16, u32, writeHeader } from './header.js';
import { TwccStatus } from './types.js';
import type { TwccPacket, TwccPacketStatus } from './types.js';

const DELTA_UNIT_US = 250;
const MAX_RUN = 0x1fff;

export function decodeTwcc(buf: Buffer, off: number, end: number): TwccPacket | null {
  if (off + 20 > end) return null;
  const count = u16(buf, off + 14);
  // Pass 1: the chunks, into one symbol per packet.
  const symbols = new Uint8Array(count);
  let p = off + 20;
  let n = 0;
  while (n < count) {
    if (p + 2 > end) return null;
    const chunk = u16(buf, p);
    p += 2;
    if ((chunk & 0x8000) === 0) {
      const sym = (chunk >>> 13) & 3;
      const run = Math.min(chunk & MAX_RUN, count - n);
      if (sym === 3 && run > 0) return null;
      symbols.fill(sym, n, n + run);
      n += run;
    } else if ((chunk & 0x4000) === 0) {
      for (let k = 13; k >= 0 && n < count; k--) symbols[n++] = (chunk >>> k) & 1;
    } else {
      for (let k = 12; k >= 0 && n < count; k -= 2) {
        const sym = (chunk >>> k) & 3;
        if (sym === 3) return null;
        symbols[n++] = sym;
      }
    }
  }
  // Pass 2: the receive deltas, one per received packet.
  const packets: TwccPacketStatus[] = [];
  for (let i = 0; i < count; i++) {
    const sym = symbols[i]!;
    if (sym === TwccStatus.NotReceived) {
      packets.push({ status: TwccStatus.NotReceived, deltaUs: 0 });
    } else if (sym === TwccStatus.SmallDelta) {
      if (p + 1 > end) return null;
      packets.push({ status: TwccStatus.SmallDelta, deltaUs: buf[p]! * DELTA_UNIT_US });
      p += 1;
    } else {
      if (p + 2 > end) return null;
      // Sign-extend the 16-bit large delta.
      packets.push({ status: TwccStatus.LargeDelta, deltaUs: ((u16(buf, p) << 16) >> 16) * DELTA_UNIT_US });
      p += 2;
    }
  }
  return {
    type: 'twcc',
    senderSsrc: u32(buf, off + 4),
    mediaSsrc: u32(buf, off + 8),
    baseSeq: u16(buf, off + 12),
    // Arithmetic shift sign-extends the 24-bit reference time.
    referenceTime: (u32(buf, off + 16) | 0) >> 8,
    fbPktCount: buf[off + 19]!,
    packets,
  };
}

function symbolAt(packets: readonly TwccPacketStatus[], i: number): number {
  const s = packets[i]!.status;
  checkInt('TWCC status', s, 0, 2);
  return s;
}

/** True if the (up to) 14 packets from `i` fit a one-bit status vector. */
function fitsOneBit(packets: readonly TwccPacketStatus[], i: number): boolean {
  const stop = Math.min(i + 14, packets.length);
  for (let k = i; k < stop; k++) if (symbolAt(packets, k) > 1) return false;
  return true;
}

/**
 * Chooses the status chunks, writing them at `off` when `buf` is given, and
 * returns how many there are. Greedy: a run of 14 or more (or of 7 or more
 * that a one-bit vector cannot hold) becomes a run-length chunk, else a
 * one-bit vector if the next 14 symbols allow it, else a two-bit vector.
 * Vector slots past the last packet are zero (not received) and ignored by
 * readers, which stop at the status count.
 */
function walkChunks(packets: readonly TwccPacketStatus[], buf: Buffer | null, off: number): number {
  const n = packets.length;
  let chunks = 0;
  let i = 0;
  while (i < n) {
    const sym = symbolAt(packets, i);
    let run = 1;
    while (i + run < n && run < MAX_RUN && symbolAt(packets, i + run) === sym) run++;
    let chunk: number;
    const oneBit = run < 14 && fitsOneBit(packets, i);
    if (run >= 14 || (run >= 7 && !oneBit)) {
      chunk = (sym << 13) | run;
      i += run;
    } else if (oneBit) {
      chunk = 0x8000;
      for (let k = 0; k < 14 && i < n; k++, i++) chunk |= symbolAt(packets, i) << (13 - k);
    } else {
      chunk = 0xc000;
      for (let k = 0; k < 7 && i < n; k++, i++) chunk |= symbolAt(packets, i) << (12 - 2 * k);
    }
    if (buf !== null) buf.writeUInt16BE(chunk, off + chunks * 2);
    chunks++;
  }
  return chunks;
}

function deltaUnits(p: TwccPacketStatus): number {
  const units = Math.round(p.deltaUs / DELTA_UNIT_US);
  if (p.status === TwccStatus.SmallDelta) checkInt('TWCC small delta (250 us units)', units, 0, 0xff);
  else checkInt('TWCC large delta (250 us units)', units, -0x8000, 0x7fff);
  return units;
}

function unpaddedSize(p: TwccPacket): number {
  let n = 20 + walkChunks(p.packets, null, 0) * 2;
  for (const s of p.packets) {
    if (s.status === TwccStatus.NotReceived) continue;
    deltaUnits(s); // validates before anything is written
    n += s.status === TwccStatus.SmallDelta ? 1 : 2;
  }
  return n;
}

export function sizeTwcc(p: TwccPacket): number {
  return (unpaddedSize(p) + 3) & ~3;
}

export function writeTwcc(p: TwccPacket, buf: Buffer, off: number): number {
  checkInt('TWCC base seq', p.baseSeq, 0, 0xffff);
  checkInt('TWCC packet status count', p.packets.length, 0, 0xffff);
  checkInt('TWCC reference time', p.referenceTime, -0x800000, 0xffffff);
  checkInt('TWCC fb pkt count', p.fbPktCount, 0, 0xff);
  const unpadded = unpaddedSize(p);
  const size = (unpadded + 3) & ~3;
  checkRoom(buf, off, size);
  writeHeader(buf, off, RtpfbFmt.TWCC, RtcpType.RTPFB, size);
  buf.writeUInt32BE(p.senderSsrc, off + 4);
  buf.writeUInt32BE(p.mediaSsrc, off + 8);
  buf.writeUInt16BE(p.baseSeq, off + 12);
  buf.writeUInt16BE(p.packets.length, off + 14);
  buf.writeUInt32BE((((p.referenceTime & 0xffffff) << 8) | p.fbPktCount) >>> 0, off + 16);
  let q = off + 20 + walkChunks(p.packets, buf, off + 20) * 2;
  for (const s of p.packets) {
    if (s.status === TwccStatus.SmallDelta) {
      buf[q++] = deltaUnits(s);
    } else if (s.status === TwccStatus.LargeDelta) {
      buf.writeInt16BE(deltaUnits(s), q);
      q += 2;
    }
  }
  // Zero padding to the 32-bit boundary, without the P bit (the draft's layout).
  buf.fill(0, q, off + size);
  return size;
}
