// Producer -> Consumer forwarding: keyframe gating, numbering continuity
// across pause/resume, payload-type and extension-id rewriting. The sink is a
// capture of what would be encrypted and sent.
import t from 'tap';
import { Producer, type RouterCodec } from '../../src/router/producer.js';
import { Consumer } from '../../src/router/consumer.js';
import { CaptureSink } from '../helpers/capture-sink.js';
import { RtpView, encodeRtp, parseRtp } from '../../src/rtp/rtp.js';

const VP8: RouterCodec = { payloadType: 96, kind: 'vp8', mimeType: 'video/VP8', clockRate: 90000 };
const OPUS: RouterCodec = { payloadType: 111, kind: 'opus', mimeType: 'audio/opus', clockRate: 48000, channels: 2 };

class LastSink extends CaptureSink {
  get last() {
    return parseRtp(this.packets[this.packets.length - 1]!)!;
  }
}

// VP8 payloads: descriptor (S=1, PID=0) then a frame header whose P bit says key (0) or delta (1).
const KEY = Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
const DELTA = Buffer.from([0x10, 0x01, 0x00, 0x00, 0x00]);

function vp8(seq: number, ts: number, key: boolean, level?: number) {
  return encodeRtp(
    {
      payloadType: 96,
      sequenceNumber: seq,
      timestamp: ts,
      ssrc: 0xabc,
      marker: true,
      extensions: [
        { id: 3, value: Buffer.from([0, seq & 0xff]) },
        ...(level !== undefined ? [{ id: 1, value: Buffer.from([level]) }] : []),
        { id: 9, value: Buffer.from('q') },
      ],
    },
    key ? KEY : DELTA,
  );
}

function setup(now: { t: number }) {
  const requests: number[] = [];
  const producer = new Producer({
    kind: 'video',
    streamId: 'stream-a',
    trackId: 'track-a',
    mid: '1',
    codecs: [VP8],
    ssrc: 0xabc,
    extensionIds: { transportWideCc: 3 },
    requestKeyframe: () => requests.push(now.t),
  });
  const sink = new LastSink();
  const consumer = new Consumer({
    producer,
    sink,
    ssrc: 0x5000,
    payloadTypes: new Map([[96, 100]]),
    extensionIds: new Map([[3, 5]]), // twcc 3 -> 5; id 9 not negotiated by this subscriber
    now: () => now.t,
  });
  const view = new RtpView();
  const send = (pkt: Buffer) => {
    view.reset(pkt);
    producer.receive(view, pkt.length, now.t);
  };
  return { producer, consumer, sink, send, requests };
}

t.test('video waits for a keyframe (and asks for one), then rewrites every field', async (t) => {
  const now = { t: 1000 };
  const { consumer, sink, send, requests } = setup(now);
  t.same(requests, [1000], 'a new consumer asks for a keyframe at once');
  send(vp8(10, 9000, false));
  send(vp8(11, 9000, false));
  t.equal(sink.packets.length, 0, 'delta frames before the first keyframe are dropped');
  t.equal(consumer.stats.drops.waitingKeyframe, 2);
  send(vp8(12, 12000, true));
  send(vp8(13, 15000, false));
  t.equal(sink.packets.length, 2);
  const p = sink.last;
  t.equal(p.ssrc, 0x5000);
  t.equal(p.payloadType, 100);
  t.equal(p.sequenceNumber, 13);
  t.equal(p.timestamp, 15000);
  t.same(p.getExtension(5), Buffer.from([0, 13]), 'twcc moved to the subscriber id');
  t.equal(p.findExtension(3), -1);
  t.equal(p.findExtension(9), -1, 'an extension the subscriber did not negotiate is removed');
  t.same(p.payload(), DELTA);
});

t.test('pause/resume keeps sequence numbers gap-free and timestamps moving with wall time', async (t) => {
  const now = { t: 0 };
  const { consumer, sink, send, requests } = setup(now);
  send(vp8(100, 90000, true));
  send(vp8(101, 93000, false));
  consumer.pause();
  // 149 is held back: it arrives last, as a straggler.
  for (let i = 102; i < 149; i++) send(vp8(i, 93000 + (i - 101) * 3000, false));
  t.equal(sink.packets.length, 2);
  now.t = 2000; // two seconds later
  consumer.resume();
  t.equal(requests.length, 2, 'resume asks for a keyframe');
  send(vp8(150, 300000, false));
  t.equal(sink.packets.length, 2, 'still waiting for the keyframe');
  send(vp8(151, 303000, true));
  const p = sink.last;
  t.equal(p.sequenceNumber, 102, 'continues right after the last packet sent');
  t.equal(p.timestamp, 93000 + 2000 * 90, 'timestamp advanced by the 2 s that passed, at 90 kHz');
  send(vp8(152, 306000, false));
  t.equal(sink.last.sequenceNumber, 103);
  t.equal(sink.last.timestamp, 93000 + 180000 + 3000);
  // A straggler from before the restart would number backwards: dropped.
  send(vp8(149, 297000, false));
  t.equal(consumer.stats.drops.stale, 1);
  // A copy of a packet already received (a repair racing its original) is not forwarded twice:
  // the subscriber's SRTP would drop it as a replay, and its transport-wide feedback call it lost.
  const before = sink.packets.length;
  send(vp8(152, 306000, false));
  t.equal(sink.packets.length, before, 'the copy is not sent');
  t.equal(consumer.producer.stats.drops.duplicate, 1);
  t.equal(consumer.stats.drops.stale, 1, 'stopped at the producer, before any consumer');
});

t.test('sequence numbers wrap cleanly', async (t) => {
  const now = { t: 0 };
  const { sink, send } = setup(now);
  send(vp8(65534, 1, true));
  send(vp8(65535, 2, false));
  send(vp8(0, 3, false));
  t.same(sink.packets.map((b) => parseRtp(b)!.sequenceNumber), [65534, 65535, 0]);
});

t.test('audio forwards from the first packet and reads the audio level once', async (t) => {
  const producer = new Producer({
    kind: 'audio',
    streamId: 's',
    trackId: 'a',
    mid: '0',
    codecs: [OPUS],
    ssrc: 1,
    extensionIds: { audioLevel: 1 },
  });
  const sink = new LastSink();
  const consumer = new Consumer({ producer, sink, ssrc: 7, payloadTypes: new Map([[111, 111]]), extensionIds: new Map([[1, 1]]) });
  let seen = -2;
  producer.addConsumer({ forward: (ctx: { audioLevel: number }) => (seen = ctx.audioLevel) } as unknown as Consumer);
  const pkt = encodeRtp({ payloadType: 111, sequenceNumber: 5, timestamp: 960, ssrc: 1, extensions: [{ id: 1, value: Buffer.from([0x80 | 25]) }] }, Buffer.from([0xfc, 1, 2, 3]));
  const v = new RtpView();
  v.reset(pkt);
  producer.receive(v, pkt.length, 0);
  t.equal(sink.packets.length, 1);
  t.equal(seen, 25);
  t.equal(consumer.stats.keyframeRequests, 0);
});

t.test('unknown payload types are dropped at ingress; closing cascades', async (t) => {
  const now = { t: 0 };
  const { producer, consumer, sink } = setup(now);
  const pkt = encodeRtp({ payloadType: 97, sequenceNumber: 1, timestamp: 1, ssrc: 0xabc }, KEY);
  const v = new RtpView();
  v.reset(pkt);
  producer.receive(v, pkt.length, 0);
  t.equal(producer.stats.drops.unknownPayloadType, 1);
  t.equal(sink.packets.length, 0);
  let closed = 0;
  consumer.on('close', () => closed++);
  producer.close();
  t.equal(closed, 1);
  t.ok(consumer.closed);
  t.equal(producer.consumerCount, 0);
});
