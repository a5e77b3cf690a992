/**
 * The forwarding path per packet: Producer.receive (ingress parse, NACK
 * bookkeeping, retransmission store) and one Consumer.forward (decide,
 * copy, rewrite) into a sink that drops the buffer. What does reading the
 * Dependency Descriptor (and rewriting it) add per packet? The VP8 case
 * negotiates no DD and is the baseline; the H.264 cases carry a DD on every
 * packet (L1T3, mandatory fields only after the key frame's structure), as
 * Chromium sends it, once forwarded whole and once capped at TL1 (half
 * of the packets, the TL2 frames, dropped in order).
 *
 *   npm run bench:micro -- forward
 */
import { Producer, type RouterCodec } from '../../src/router/producer.js';
import { Consumer, type RtpSink } from '../../src/router/consumer.js';
import { RtpView, encodeRtp } from '../../src/rtp/rtp.js';
import { bench, report } from './harness.js';

const VP8: RouterCodec = { payloadType: 96, kind: 'vp8', mimeType: 'video/VP8', clockRate: 90000 };
const H264: RouterCodec = { payloadType: 102, kind: 'h264', mimeType: 'video/H264', clockRate: 90000 };
const DD_ID = 12;
const SIZE = 1200;

const sink: RtpSink = { rtpTrailerRoom: 16, sendRtpOwned: () => true };

/** The L1T3 structure of the spec's example A.10.2.1 on a key frame's first packet (template id 1, frame 0; test/unit/dd-forward.test.ts). */
const STRUCTURE = Buffer.from('810000802214eaaa44104d1410208426', 'hex');

export function setup(codec: RouterCodec, dd: boolean): { producer: Producer; consumer: Consumer } {
  // A plain record, so the same file compiles against a Producer that knows no DD.
  const extensionIds: Record<string, number> = dd ? { dependencyDescriptor: DD_ID } : {};
  const producer = new Producer({ kind: 'video', streamId: 's', trackId: 't', mid: '1', codecs: [codec], ssrc: 1, extensionIds });
  const consumer = new Consumer({
    producer,
    sink,
    ssrc: 2,
    payloadTypes: new Map([[codec.payloadType, codec.payloadType]]),
    extensionIds: new Map(dd ? [[DD_ID, DD_ID]] : []),
    now: () => 0,
  });
  return { producer, consumer };
}

/** Packet `n` of a 2-packets-per-frame stream, written into `buf` in place; frame 0 is the key frame. */
function stream(codec: RouterCodec, dd: boolean): (n: number) => Buffer {
  const payload = Buffer.alloc(SIZE, 0x5a);
  const ext = dd ? [{ id: DD_ID, value: Buffer.alloc(3) }] : [];
  const delta = encodeRtp({ payloadType: codec.payloadType, sequenceNumber: 0, timestamp: 0, ssrc: 1, extensions: ext }, payload);
  const key = encodeRtp({ payloadType: codec.payloadType, sequenceNumber: 0, timestamp: 0, ssrc: 1, extensions: dd ? [{ id: DD_ID, value: STRUCTURE }] : [] }, payload);
  const view = new RtpView();
  view.reset(key);
  const keyPayloadAt = view.payloadOffset;
  view.reset(delta);
  const ddAt = dd ? view.findExtension(DD_ID) : -1;
  const deltaPayloadAt = view.payloadOffset;
  return (n) => {
    const frame = n >> 1;
    const first = (n & 1) === 0;
    const buf = frame === 0 ? key : delta;
    const payloadAt = frame === 0 ? keyPayloadAt : deltaPayloadAt;
    // first_mb_in_slice = 0 (ue(v) '1'): the slice starts its picture.
    buf[payloadAt + 2] = 0x88;
    buf.writeUInt16BE(n & 0xffff, 2);
    buf.writeUInt32BE((frame * 3000) >>> 0, 4);
    buf[1] = (buf[1]! & 0x7f) | (first ? 0 : 0x80);
    if (frame > 0) {
      if (codec.kind === 'vp8') {
        // VP8: S bit on the first packet, no X (no picture id): a delta frame.
        buf[payloadAt] = first ? 0x10 : 0x00;
        buf[payloadAt + 1] = 0x01;
      } else {
        // H.264 FU-A of a non-IDR slice, start / end.
        buf[payloadAt] = 0x7c;
        buf[payloadAt + 1] = first ? 0x81 : 0x41;
      }
      if (ddAt >= 0) {
        // Templates: T0 (index 1), T2 (3), T1 (2), T2 (4), ids = index + 1.
        const index = [1, 3, 2, 4][frame & 3]!;
        buf[ddAt] = (first ? 0x80 : 0x40) | (index + 1);
        buf.writeUInt16BE(frame & 0xffff, ddAt + 1);
      }
    } else if (codec.kind === 'vp8') {
      buf[payloadAt] = first ? 0x10 : 0x00;
      buf[payloadAt + 1] = 0x00;
      buf.write('9d012a', payloadAt + 4, 'hex');
    } else {
      buf[payloadAt] = 0x7c;
      buf[payloadAt + 1] = first ? 0x85 : 0x45;
    }
    return buf;
  };
}

export function forward(codec: RouterCodec, dd: boolean, temporal = 2): (i: number) => unknown {
  const { producer, consumer } = setup(codec, dd);
  consumer.setPreferredLayers({ spatial: 2, temporal });
  const next = stream(codec, dd);
  const view = new RtpView();
  let n = 0;
  return () => {
    const buf = next(n++);
    view.reset(buf, 0, buf.length);
    producer.receive(view, buf.length, 0);
    return consumer.stats.packets;
  };
}

export function run(): void {
  const opts = { ops: 50_000, rounds: 7 };
  report('Forwarding path: Producer.receive + one Consumer.forward, 1200-byte packets (ns/op)', [
    bench('VP8, no DD negotiated', forward(VP8, false), opts),
    bench('H.264 L1T3, DD on every packet, all forwarded', forward(H264, true), opts),
    bench('H.264 L1T3, DD, capped at TL1 (TL2 dropped)', forward(H264, true, 1), opts),
    bench('H.264, no DD negotiated', forward(H264, false), opts),
  ]);
}
