/**
 * RTP: parse and in-place rewrite (what a consumer does per forwarded packet)
 * against werift's parse -> modify -> serialize, in the same process.
 * Question answered: is the zero-copy view worth its code? (issue 2 asks for
 * at least 20x.)
 */
import { RtpPacket } from 'werift';
import { RtpView, encodeRtp } from '../../src/rtp/rtp.js';
import { readTransportWideSeq } from '../../src/rtp/extensions.js';
import { bench, consume, report } from './harness.js';

// A 1200-byte VP8 packet with the extensions Chrome sends.
const packet = encodeRtp(
  {
    payloadType: 96,
    sequenceNumber: 1000,
    timestamp: 90000,
    ssrc: 0x11223344,
    marker: false,
    extensions: [
      { id: 2, value: Buffer.from([1, 2, 3]) },
      { id: 3, value: Buffer.from([0, 7]) },
      { id: 4, value: Buffer.from('0') },
      { id: 10, value: Buffer.from('h') },
    ],
  },
  Buffer.alloc(1200 - 32, 0x5a),
);

export function run(): void {
  const ours = Buffer.from(packet);
  const view = new RtpView();
  const map = new Uint8Array(256);
  map[2] = 2;
  map[3] = 5;

  const results = [
    bench('werift RtpPacket parse+modify+serialize', (i) => {
      const p = RtpPacket.deSerialize(packet);
      p.header.ssrc = 0xaabbccdd;
      p.header.sequenceNumber = i & 0xffff;
      p.header.timestamp = i >>> 0;
      p.header.payloadType = 100;
      return p.serialize();
    }, { ops: 50_000 }),
    bench('sfud RtpView reset + rewrite ssrc/seq/ts/pt', (i) => {
      view.reset(ours, 0, ours.length);
      view.ssrc = 0xaabbccdd;
      view.sequenceNumber = i & 0xffff;
      view.timestamp = i >>> 0;
      view.payloadType = 100;
      return view;
    }, { ops: 1_000_000 }),
    bench('sfud ... + twcc lookup + extension id remap', (i) => {
      view.reset(ours, 0, ours.length);
      view.ssrc = 0xaabbccdd;
      view.sequenceNumber = i & 0xffff;
      view.timestamp = i >>> 0;
      view.payloadType = 100;
      const p = view.findExtension(3);
      consume(readTransportWideSeq(ours, p, view.extValueLength));
      // Remap to the same ids so every round sees the same bytes.
      map[3] = 3;
      view.remapExtensionIds(map);
      return view;
    }, { ops: 1_000_000 }),
  ];
  report('RTP forward rewrite, 1200-byte VP8 packet', results);
}
