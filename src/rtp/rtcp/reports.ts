/**
 * RFC 3550 reports and source packets: SR, RR, SDES, BYE, APP.
 *
 * Decoders take the packet's header offset and payload end (padding already
 * stripped by the cursor) and return null on a malformed body. Writers throw
 * RangeError on a value the wire format cannot carry (a programming error,
 * never input) and return the bytes written.
 *
 * SR, https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1
 *
 *         0                   1                   2                   3
 *         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * header |V=2|P|    RC   |   PT=SR=200   |             length            |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                         SSRC of sender                        |
 *        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * sender |              NTP timestamp, most significant word             |
 * info   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |             NTP timestamp, least significant word             |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                         RTP timestamp                         |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                     sender's packet count                     |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                      sender's octet count                     |
 *        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * report |                 SSRC_1 (SSRC of first source)                 |
 * block  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   1    | fraction lost |       cumulative number of packets lost       |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |           extended highest sequence number received           |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                      interarrival jitter                      |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                         last SR (LSR)                         |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                   delay since last SR (DLSR)                  |
 *        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *        |                  profile-specific extensions                  |
 *
 * RR, https://www.rfc-editor.org/rfc/rfc3550#section-6.4.2: the same without
 * the sender info (PT=201).
 *
 * SDES, https://www.rfc-editor.org/rfc/rfc3550#section-6.5
 *
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * header |V=2|P|    SC   |  PT=SDES=202  |             length            |
 *        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * chunk  |                          SSRC/CSRC_1                          |
 *   1    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |     type      |    length     | text (length bytes) ...       |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        | ... more items, then END (type 0) and zeros to a 32-bit boundary
 *        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *
 * BYE, https://www.rfc-editor.org/rfc/rfc3550#section-6.6
 *
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |V=2|P|    SC   |   PT=BYE=203  |             length            |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                           SSRC/CSRC                           |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        :                              ...                              :
 *        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *  (opt) |     length    |               reason for leaving            ...
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * APP, https://www.rfc-editor.org/rfc/rfc3550#section-6.7
 *
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |V=2|P| subtype |   PT=APP=204  |             length            |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                           SSRC/CSRC                           |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                          name (ASCII)                         |
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |                   application-dependent data                ...
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
import { RtcpType, checkInt, checkPassThrough, checkRoom, u32, writeHeader } from './header.js';
import type {
  AppPacket,
  ByePacket,
  ReceiverReportPacket,
  ReportBlock,
  SdesChunk,
  SdesItem,
  SdesPacket,
  SenderReportPacket,
} from './types.js';

const REPORT_BLOCK_SIZE = 24;

function readReports(buf: Buffer, p: number, end: number, count: number): ReportBlock[] | null {
  if (p + count * REPORT_BLOCK_SIZE > end) return null;
  const reports: ReportBlock[] = [];
  for (let i = 0; i < count; i++, p += REPORT_BLOCK_SIZE) {
    const lossWord = u32(buf, p + 4);
    reports.push({
      ssrc: u32(buf, p),
      fractionLost: lossWord >>> 24,
      // Sign-extend the 24-bit cumulative loss.
      totalLost: (lossWord << 8) >> 8,
      highestSeq: u32(buf, p + 8),
      jitter: u32(buf, p + 12),
      lsr: u32(buf, p + 16),
      dlsr: u32(buf, p + 20),
    });
  }
  return reports;
}

function writeReports(reports: readonly ReportBlock[], buf: Buffer, p: number): void {
  for (const r of reports) {
    checkInt('report fractionLost', r.fractionLost, 0, 0xff);
    checkInt('report totalLost', r.totalLost, -0x800000, 0x7fffff);
    buf.writeUInt32BE(r.ssrc, p);
    buf.writeUInt32BE(((r.fractionLost << 24) | (r.totalLost & 0xffffff)) >>> 0, p + 4);
    buf.writeUInt32BE(r.highestSeq, p + 8);
    buf.writeUInt32BE(r.jitter, p + 12);
    buf.writeUInt32BE(r.lsr, p + 16);
    buf.writeUInt32BE(r.dlsr, p + 20);
    p += REPORT_BLOCK_SIZE;
  }
}

export function decodeSr(buf: Buffer, off: number, end: number, count: number): SenderReportPacket | null {
  if (off + 28 > end) return null;
  const reports = readReports(buf, off + 28, end, count);
  if (reports === null) return null;
  return {
    type: 'sr',
    ssrc: u32(buf, off + 4),
    ntpSec: u32(buf, off + 8),
    ntpFrac: u32(buf, off + 12),
    rtpTimestamp: u32(buf, off + 16),
    packetCount: u32(buf, off + 20),
    octetCount: u32(buf, off + 24),
    reports,
  };
}

export function sizeSr(p: SenderReportPacket): number {
  return 28 + p.reports.length * REPORT_BLOCK_SIZE;
}

export function writeSr(p: SenderReportPacket, buf: Buffer, off: number): number {
  checkInt('SR report count', p.reports.length, 0, 31);
  const size = sizeSr(p);
  checkRoom(buf, off, size);
  writeHeader(buf, off, p.reports.length, RtcpType.SR, size);
  buf.writeUInt32BE(p.ssrc, off + 4);
  buf.writeUInt32BE(p.ntpSec, off + 8);
  buf.writeUInt32BE(p.ntpFrac, off + 12);
  buf.writeUInt32BE(p.rtpTimestamp, off + 16);
  buf.writeUInt32BE(p.packetCount, off + 20);
  buf.writeUInt32BE(p.octetCount, off + 24);
  writeReports(p.reports, buf, off + 28);
  return size;
}

export function decodeRr(buf: Buffer, off: number, end: number, count: number): ReceiverReportPacket | null {
  if (off + 8 > end) return null;
  const reports = readReports(buf, off + 8, end, count);
  if (reports === null) return null;
  return { type: 'rr', ssrc: u32(buf, off + 4), reports };
}

export function sizeRr(p: ReceiverReportPacket): number {
  return 8 + p.reports.length * REPORT_BLOCK_SIZE;
}

export function writeRr(p: ReceiverReportPacket, buf: Buffer, off: number): number {
  checkInt('RR report count', p.reports.length, 0, 31);
  const size = sizeRr(p);
  checkRoom(buf, off, size);
  writeHeader(buf, off, p.reports.length, RtcpType.RR, size);
  buf.writeUInt32BE(p.ssrc, off + 4);
  writeReports(p.reports, buf, off + 8);
  return size;
}

export function decodeSdes(buf: Buffer, off: number, end: number, count: number): SdesPacket | null {
  const chunks: SdesChunk[] = [];
  let p = off + 4;
  for (let c = 0; c < count; c++) {
    if (p + 4 > end) return null;
    const ssrc = u32(buf, p);
    p += 4;
    const items: SdesItem[] = [];
    for (;;) {
      if (p >= end) return null; // no END item
      const type = buf[p]!;
      if (type === 0) {
        p++;
        break;
      }
      if (p + 2 > end) return null;
      const len = buf[p + 1]!;
      if (p + 2 + len > end) return null;
      items.push({ type, text: buf.toString('utf8', p + 2, p + 2 + len) });
      p += 2 + len;
    }
    // The END octet is followed by zeros up to the next 32-bit boundary.
    p = off + ((p - off + 3) & ~3);
    if (p > end) return null;
    chunks.push({ ssrc, items });
  }
  return { type: 'sdes', chunks };
}

function sdesChunkSize(chunk: SdesChunk): number {
  let n = 4;
  for (const item of chunk.items) n += 2 + Buffer.byteLength(item.text, 'utf8');
  // END plus zero padding: 1..4 octets.
  return (n + 4) & ~3;
}

export function sizeSdes(p: SdesPacket): number {
  let n = 4;
  for (const chunk of p.chunks) n += sdesChunkSize(chunk);
  return n;
}

export function writeSdes(p: SdesPacket, buf: Buffer, off: number): number {
  checkInt('SDES chunk count', p.chunks.length, 0, 31);
  const size = sizeSdes(p);
  checkRoom(buf, off, size);
  writeHeader(buf, off, p.chunks.length, RtcpType.SDES, size);
  let q = off + 4;
  for (const chunk of p.chunks) {
    const chunkEnd = q + sdesChunkSize(chunk);
    buf.writeUInt32BE(chunk.ssrc, q);
    q += 4;
    for (const item of chunk.items) {
      checkInt('SDES item type', item.type, 1, 255);
      const len = Buffer.byteLength(item.text, 'utf8');
      checkInt('SDES item length', len, 0, 255);
      buf[q] = item.type;
      buf[q + 1] = len;
      buf.write(item.text, q + 2, len, 'utf8');
      q += 2 + len;
    }
    buf.fill(0, q, chunkEnd);
    q = chunkEnd;
  }
  return size;
}

export function decodeBye(buf: Buffer, off: number, end: number, count: number): ByePacket | null {
  let p = off + 4;
  if (p + count * 4 > end) return null;
  const ssrcs: number[] = [];
  for (let i = 0; i < count; i++, p += 4) ssrcs.push(u32(buf, p));
  if (p >= end) return { type: 'bye', ssrcs };
  const len = buf[p]!;
  if (p + 1 + len > end) return null;
  return { type: 'bye', ssrcs, reason: buf.toString('utf8', p + 1, p + 1 + len) };
}

export function sizeBye(p: ByePacket): number {
  const reason = p.reason === undefined ? 0 : (1 + Buffer.byteLength(p.reason, 'utf8') + 3) & ~3;
  return 4 + p.ssrcs.length * 4 + reason;
}

export function writeBye(p: ByePacket, buf: Buffer, off: number): number {
  checkInt('BYE source count', p.ssrcs.length, 0, 31);
  const size = sizeBye(p);
  checkRoom(buf, off, size);
  writeHeader(buf, off, p.ssrcs.length, RtcpType.BYE, size);
  let q = off + 4;
  for (const ssrc of p.ssrcs) {
    buf.writeUInt32BE(ssrc, q);
    q += 4;
  }
  if (p.reason !== undefined) {
    const len = Buffer.byteLength(p.reason, 'utf8');
    checkInt('BYE reason length', len, 0, 255);
    buf[q] = len;
    buf.write(p.reason, q + 1, len, 'utf8');
    buf.fill(0, q + 1 + len, off + size);
  }
  return size;
}

/**
 * APP is passed through: `end` is the packet's full end (padding included),
 * `payloadEnd` where the padding starts. Padding that eats into the fixed
 * fields is malformed.
 */
export function decodeApp(buf: Buffer, off: number, payloadEnd: number, end: number, subtype: number): AppPacket | null {
  if (off + 12 > payloadEnd) return null;
  const app: AppPacket = {
    type: 'app',
    subtype,
    ssrc: u32(buf, off + 4),
    name: buf.toString('latin1', off + 8, off + 12),
    data: Buffer.from(buf.subarray(off + 12, end)),
  };
  if (payloadEnd !== end) app.padding = true;
  return app;
}

export function sizeApp(p: AppPacket): number {
  return 12 + p.data.length;
}

export function writeApp(p: AppPacket, buf: Buffer, off: number): number {
  checkInt('APP subtype', p.subtype, 0, 31);
  if (p.name.length !== 4 || Buffer.from(p.name, 'latin1').toString('latin1') !== p.name) {
    throw new RangeError(`RTCP APP name must be 4 latin1 characters, got ${JSON.stringify(p.name)}`);
  }
  const size = sizeApp(p);
  checkPassThrough('APP', p.data, p.padding === true);
  checkRoom(buf, off, size);
  writeHeader(buf, off, p.subtype, RtcpType.APP, size, p.padding === true);
  buf.writeUInt32BE(p.ssrc, off + 4);
  buf.write(p.name, off + 8, 4, 'latin1');
  p.data.copy(buf, off + 12);
  return size;
}
