/**
 * RTCP codec micro-benchmarks. Questions answered:
 * - What does walking a typical compound with the zero-allocation cursor cost,
 *   against werift's RtcpPacketConverter.deSerialize (baseline, same run)?
 * - What does the full typed decode (parseRtcp, allocating plain objects) cost?
 * - What does building a NACK cost, into a reused buffer vs werift's GenericNack?
 */
import { GenericNack, RtcpPacketConverter } from 'werift';
import { RtcpCursor, TwccStatus, encodeRtcp, parseRtcp, writeRtcp } from '../../src/rtp/rtcp/index.js';
import type { NackPacket, RtcpPacket, TwccPacketStatus } from '../../src/rtp/rtcp/index.js';
import { bench, consume, report } from './harness.js';

const SSRC_A = 0x2b7ec0c5;
const SSRC_B = 0x902f9e2e;

function compounds(): { name: string; bytes: Buffer }[] {
  // SR + SDES as Chrome sends it every second per outgoing stream.
  const srSdes: RtcpPacket[] = [
    {
      type: 'sr',
      ssrc: SSRC_A,
      ntpSec: 0xe020a2a9,
      ntpFrac: 0x52a53fc0,
      rtpTimestamp: 0x2e48a552,
      packetCount: 70,
      octetCount: 4637,
      reports: [{ ssrc: SSRC_B, fractionLost: 3, totalLost: 12, highestSeq: 0x146e1, jitter: 273, lsr: 0x09f36432, dlsr: 150137 }],
    },
    { type: 'sdes', chunks: [{ ssrc: SSRC_A, items: [{ type: 1, text: 'LcIfzXonDordSeW6' }] }] },
  ];
  // RR + REMB, what a receiver without transport-cc sends.
  const rrRemb: RtcpPacket[] = [
    { type: 'rr', ssrc: SSRC_B, reports: [{ ssrc: SSRC_A, fractionLost: 0, totalLost: 0, highestSeq: 0x46e1, jitter: 12, lsr: 0, dlsr: 0 }] },
    { type: 'remb', senderSsrc: SSRC_B, bitrate: 2_500_000, ssrcs: [SSRC_A] },
  ];
  // Transport-cc feedback for 60 packets (about 50 ms of video at 1.2 Mbps): a few losses, one late packet.
  const packets: TwccPacketStatus[] = Array.from({ length: 60 }, (_, i) =>
    i % 17 === 5
      ? { status: TwccStatus.NotReceived, deltaUs: 0 }
      : i === 40
        ? { status: TwccStatus.LargeDelta, deltaUs: 80_000 }
        : { status: TwccStatus.SmallDelta, deltaUs: (i % 9) * 250 },
  );
  const twcc: RtcpPacket[] = [
    { type: 'twcc', senderSsrc: SSRC_B, mediaSsrc: SSRC_A, baseSeq: 65500, referenceTime: 123456, fbPktCount: 9, packets },
  ];
  return [
    { name: 'SR + SDES', bytes: encodeRtcp(srSdes) },
    { name: 'RR + REMB', bytes: encodeRtcp(rrRemb) },
    { name: 'TWCC feedback, 60 packets', bytes: encodeRtcp(twcc) },
  ];
}

export function run(): void {
  const cursor = new RtcpCursor();
  for (const { name, bytes } of compounds()) {
    // Sanity: both sides understand the same bytes before we time them.
    const ours = parseRtcp(bytes);
    const theirs = RtcpPacketConverter.deSerialize(bytes);
    if (ours === null || ours.length !== theirs.length) throw new Error(`${name}: decoders disagree`);
    report(`RTCP decode: ${name} (${bytes.length} bytes)`, [
      bench('werift RtcpPacketConverter.deSerialize', () => RtcpPacketConverter.deSerialize(bytes)),
      bench('sfud RtcpCursor walk (zero-alloc)', () => {
        cursor.reset(bytes);
        let acc = 0;
        while (cursor.next()) acc += cursor.type + cursor.senderSsrc;
        return acc;
      }),
      bench('sfud parseRtcp (typed objects)', () => parseRtcp(bytes)),
    ]);
  }

  // NACK for 12 lost packets spread over 3 PID/BLP pairs, across the 16-bit wrap.
  const lost = [65530, 65531, 65533, 2, 3, 4, 40, 41, 44, 50, 300, 301];
  const nack: NackPacket = { type: 'nack', senderSsrc: SSRC_B, mediaSsrc: SSRC_A, lost };
  const out = Buffer.alloc(1500);
  report('RTCP build: generic NACK, 12 lost seqs', [
    bench('werift new GenericNack(...).serialize()', () =>
      new GenericNack({ senderSsrc: SSRC_B, mediaSourceSsrc: SSRC_A, lost }).serialize(),
    ),
    bench('sfud writeRtcp into a reused buffer', () => writeRtcp(nack, out, 0)),
    bench('sfud encodeRtcp (new Buffer)', () => encodeRtcp([nack])),
  ]);
  consume(out);
}
