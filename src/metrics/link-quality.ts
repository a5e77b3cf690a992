/**
 * Link quality samples for metrics: loss, jitter and round-trip time per
 * direction, taken at report rate (about once a second per stream), never per
 * packet.
 *
 *  - ingress (publisher -> sfud): the numbers of each receiver report block
 *    sfud writes for a publisher stream (its own receive statistics);
 *  - egress (sfud -> subscriber): the report blocks subscribers send about
 *    sfud's streams in their RR/SR, with RTT from LSR/DLSR (RFC 3550 6.4.1,
 *    https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1):
 *
 *        0                   1                   2                   3
 *        0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *       |                 SSRC_1 (SSRC of first source)                 |
 *       | fraction lost |       cumulative number of packets lost       |
 *       |           extended highest sequence number received           |
 *       |                      interarrival jitter                      |
 *       |                         last SR (LSR)                         |
 *       |                   delay since last SR (DLSR)                  |
 *       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
import { RtcpType, type RtcpCursor } from '../rtp/rtcp/header.js';
import { NTP_UNIX_OFFSET_MS, compactNtp, msToNtpFrac, msToNtpSec, rttMs } from '../rtp/rtcp/ntp.js';
import type { MediaKind } from '../router/producer.js';

export interface LinkQualitySink {
  /** A report block sfud wrote about a publisher stream: fraction lost 0..1, jitter in seconds. */
  ingress(kind: MediaKind, fractionLost: number, jitterSeconds: number): void;
  /** A report block a subscriber sent about an sfud stream; RTT in seconds, or -1 when the block carries no LSR. */
  egress(kind: MediaKind, fractionLost: number, jitterSeconds: number, rttSeconds: number): void;
}

/** What a report block about one of our outgoing SSRCs is matched to (a Consumer fits). */
export interface ReportedStream {
  readonly kind: MediaKind;
  readonly producer: { readonly currentCodec: { readonly clockRate: number } };
}

const BLOCK_BYTES = 24;

/**
 * Reads the report blocks of the RR or SR under `cur` and hands those about
 * known outgoing streams to `sink`. Blocks about SSRCs `streams` does not hold
 * are skipped; a truncated block ends the walk.
 */
export function observeReportBlocks(
  buf: Buffer,
  cur: RtcpCursor,
  streams: ReadonlyMap<number, ReportedStream>,
  sink: LinkQualitySink,
  unixNowMs = Date.now(),
): number {
  const first = cur.type === RtcpType.SR ? 28 : cur.type === RtcpType.RR ? 8 : -1;
  if (first < 0) return 0;
  const end = cur.payloadEnd;
  const ntpMs = unixNowMs + NTP_UNIX_OFFSET_MS;
  const arrival = compactNtp(msToNtpSec(ntpMs), msToNtpFrac(ntpMs));
  let seen = 0;
  for (let i = 0, off = cur.offset + first; i < cur.count && off + BLOCK_BYTES <= end; i++, off += BLOCK_BYTES) {
    const stream = streams.get(buf.readUInt32BE(off));
    if (!stream) continue;
    const rtt = rttMs(arrival, buf.readUInt32BE(off + 16), buf.readUInt32BE(off + 20));
    sink.egress(stream.kind, buf[off + 4]! / 256, buf.readUInt32BE(off + 12) / stream.producer.currentCodec.clockRate, rtt < 0 ? -1 : rtt / 1000);
    seen++;
  }
  return seen;
}
