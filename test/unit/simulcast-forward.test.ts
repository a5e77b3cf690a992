// Simulcast forwarding, Producer -> Consumer, on synthetic VP8 packet
// sequences (no sockets): keyframe-gated switches up and down, a lost
// keyframe, temporal-layer drops, wrap-around of sequence number, timestamp
// and picture id, timestamp alignment from sender reports, and NACKs served
// with the header the packet was first sent with.
import t, { type Test } from 'tap';
import { Producer, type RouterCodec } from '../../src/router/producer.js';
import { Consumer } from '../../src/router/consumer.js';
import { CaptureSink } from '../helpers/capture-sink.js';
import { SendHistory } from '../../src/bwe/send-history.js';
import { RtpView, encodeRtp, parseRtp } from '../../src/rtp/rtp.js';
import { createVp8Descriptor, parseVp8 } from '../../src/rtp/codecs/index.js';

const VP8: RouterCodec = { payloadType: 96, kind: 'vp8', mimeType: 'video/VP8', clockRate: 90000 };
const SSRCS = [0x1000, 0x2000, 0x3000];
const FRAME_TICKS = 3000; // 30 fps at 90 kHz

class TakeSink extends CaptureSink {
  take(): Out[] {
    return this.packets.splice(0).map(decode);
  }
}

interface Out {
  seq: number;
  ts: number;
  ssrc: number;
  marker: boolean;
  pictureId: number;
  tl0: number;
  tid: number;
  key: boolean;
  width: number;
}

function decode(b: Buffer): Out {
  const r = parseRtp(b)!;
  const d = createVp8Descriptor();
  const payload = r.payload();
  if (!parseVp8(payload, 0, payload.length, d)) throw new Error('bad vp8');
  return {
    seq: r.sequenceNumber,
    ts: r.timestamp,
    ssrc: r.ssrc,
    marker: r.marker,
    pictureId: d.pictureId,
    tl0: d.tl0PicIdx,
    tid: d.tid,
    key: d.isKeyframe,
    width: d.width,
  };
}

/** A VP8 payload with picture id (15 bit), TL0PICIDX and TID; a keyframe carries a width. */
function vp8Payload(o: { start: boolean; key: boolean; pic: number; tl0: number; tid: number; sync?: boolean; width?: number }): Buffer {
  const desc = [0x80 | (o.start ? 0x10 : 0), 0xe0, 0x80 | ((o.pic >> 8) & 0x7f), o.pic & 0xff, o.tl0 & 0xff, (o.tid << 6) | (o.sync ? 0x20 : 0)];
  if (!o.start) return Buffer.from([...desc, 0xaa, 0xbb]);
  if (!o.key) return Buffer.from([...desc, 0x01, 0x00, 0x00, 0xcc]);
  const w = o.width ?? 320;
  return Buffer.from([...desc, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, w & 0xff, w >> 8, 0x10, 0x00]);
}

/** One publisher encoding: its own seq/ts/picture id/TL0 spaces, as libwebrtc gives each simulcast stream. */
class Encoder {
  seq: number;
  ts: number;
  pic: number;
  tl0: number;
  frame = 0;
  constructor(
    readonly layer: number,
    seq: number,
    ts: number,
    pic: number,
    tl0: number,
  ) {
    this.seq = seq;
    this.ts = ts;
    this.pic = pic;
    this.tl0 = tl0;
  }
  /** The packets of the next frame (2 per frame); temporal pattern 0,2,1,2 when `temporal`. */
  next(key: boolean, temporal = false): Buffer[] {
    const tid = key || !temporal ? 0 : [0, 2, 1, 2][this.frame % 4]!;
    if (tid === 0 && this.frame > 0) this.tl0 = (this.tl0 + 1) & 0xff;
    const out: Buffer[] = [];
    for (let i = 0; i < 2; i++) {
      out.push(
        encodeRtp(
          { payloadType: 96, sequenceNumber: this.seq, timestamp: this.ts >>> 0, ssrc: SSRCS[this.layer]!, marker: i === 1 },
          vp8Payload({ start: i === 0, key, pic: this.pic, tl0: this.tl0, tid, sync: tid > 0, width: 320 << this.layer }),
        ),
      );
      this.seq = (this.seq + 1) & 0xffff;
    }
    this.pic = (this.pic + 1) & 0x7fff;
    this.ts = (this.ts + FRAME_TICKS) % 2 ** 32;
    this.frame++;
    return out;
  }
}

function setup(opts: { seqs?: number[]; tss?: number[]; pics?: number[]; rtx?: boolean; insertTcc?: boolean } = {}) {
  const clock = { t: 10_000 };
  const requests: number[] = [];
  const producer = new Producer({
    kind: 'video',
    streamId: 's',
    trackId: 't',
    mid: '1',
    codecs: [VP8],
    encodings: SSRCS.map((ssrc) => ({ ssrc })),
    extensionIds: {},
    requestKeyframe: (_p, enc) => requests.push(enc.layer),
  });
  const sink = new TakeSink();
  const consumer = new Consumer({
    producer,
    sink,
    ssrc: 0xbeef,
    payloadTypes: new Map([[96, 100]]),
    extensionIds: new Map(),
    now: () => clock.t,
    rtx: opts.rtx ? { ssrc: 0xfeed, payloadTypes: new Map([[100, 101]]) } : undefined,
    transportCc: opts.rtx || opts.insertTcc ? { history: new SendHistory(), extId: 3, insert: opts.insertTcc ?? false } : undefined,
  });
  const enc = [0, 1, 2].map((l) => new Encoder(l, opts.seqs?.[l] ?? 100 * (l + 1), opts.tss?.[l] ?? 1_000_000 * (l + 1), opts.pics?.[l] ?? 1000 * (l + 1), 10 * (l + 1)));
  const view = new RtpView();
  /** Sends one frame on each layer (keyframes on the listed layers) and advances the clock a frame. */
  const frame = (keyOn: number[] = [], temporal = false, layers = [0, 1, 2]) => {
    for (const l of layers) {
      for (const pkt of enc[l]!.next(keyOn.includes(l), temporal)) {
        view.reset(pkt);
        producer.receive(view, pkt.length, clock.t, l);
      }
    }
    clock.t += 33;
    producer.flushKeyframeRequests(clock.t); // the owner's RTCP tick sends owed requests
  };
  return { clock, producer, consumer, sink, enc, frame, requests };
}

function assertContinuous(t: Test, outs: Out[], what: string): void {
  for (let i = 1; i < outs.length; i++) {
    t.equal(outs[i]!.seq, (outs[i - 1]!.seq + 1) & 0xffff, `${what}: seq ${i} follows`);
  }
}

t.test('starts on the highest layer at its keyframe; switches down only at the lower layer keyframe', async (t) => {
  const { consumer, sink, frame, requests } = setup();
  t.same(requests, [2], 'a new consumer asks for a keyframe of the layer it wants');
  frame(); // every layer arriving, no keyframe yet
  frame([0, 1]); // keyframes on 0 and 1 only: nothing forwarded, still waiting for layer 2
  t.equal(sink.packets.length, 0, 'no packet before the wanted layer keyframe (for up to 1 s)');
  frame([2]);
  frame();
  let outs = sink.take();
  t.equal(outs.length, 4);
  t.ok(outs.every((o) => o.ssrc === 0xbeef && o.width !== 320), 'only layer 2 is forwarded');
  t.equal(outs[0]!.width, 1280, 'starts at the layer-2 keyframe');
  t.equal(consumer.currentLayer, 2);

  consumer.setPreferredLayers({ spatial: 0 });
  t.equal(requests.at(-1), 0, 'asks for a keyframe on the layer it goes to');
  frame();
  frame();
  outs = sink.take();
  t.equal(outs.length, 4, 'the current layer keeps flowing while the switch waits (no freeze)');
  t.equal(consumer.currentLayer, 2);
  const lastBefore = outs.at(-1)!;
  frame([0]);
  frame();
  outs = sink.take();
  t.equal(consumer.currentLayer, 0, 'switched at the layer-0 keyframe');
  t.equal(outs[0]!.key && outs[0]!.width, 320, 'the first packet after the switch is the keyframe');
  t.equal(outs[0]!.seq, (lastBefore.seq + 1) & 0xffff, 'sequence numbers continue across the switch');
  t.equal(outs[0]!.pictureId, (lastBefore.pictureId + 1) & 0x7fff, 'picture id continues');
  t.equal(outs[0]!.tl0, (lastBefore.tl0 + 1) & 0xff, 'TL0PICIDX continues');
  const tsStep = (outs[0]!.ts - lastBefore.ts) >>> 0;
  t.ok(tsStep >= 1 && tsStep <= 3 * FRAME_TICKS, `timestamp advances by about the elapsed time (${tsStep} ticks)`);
  assertContinuous(t, outs, 'after switch');
  const stats = consumer.getStats() as { layerSwitches: number; layers: { freezesAvoided: number } };
  t.equal(stats.layerSwitches, 1);
  t.ok(stats.layers.freezesAvoided > 0, 'switch requests that waited for a keyframe are counted');
});

t.test('a lost keyframe: the old layer keeps flowing and keyframe requests repeat, throttled', async (t) => {
  const { consumer, sink, frame, requests, clock } = setup();
  frame([2]);
  sink.take();
  const before = requests.length;
  consumer.setPreferredLayers({ spatial: 1 }); // layer 1: keyframes at most once a second
  for (let i = 0; i < 29; i++) frame(); // ~1 s, no keyframe on layer 1
  const outs = sink.take();
  t.equal(outs.length, 58, 'every layer-2 frame kept flowing');
  assertContinuous(t, outs, 'while waiting');
  const asked = requests.slice(before);
  t.ok(asked.length === 1, `keyframe requests to the publisher for layer 1: at most one a second (${asked.length} in 1 s)`);
  t.ok(
    asked.every((l) => l === 1),
    'for the layer it waits for',
  );
  frame([1]);
  t.equal(consumer.currentLayer, 1);
  void clock;
});

t.test('a layer that stops arriving is replaced by the next keyframe of a lower one', async (t) => {
  const { consumer, sink, frame } = setup();
  frame([2]);
  sink.take();
  for (let i = 0; i < 50; i++) frame([], false, [0, 1]); // layer 2 stops for 1.65 s (publisher paused it)
  frame([1], false, [0, 1]);
  const outs = sink.take();
  t.equal(consumer.currentLayer, 1, 'moved to layer 1 when 2 went away');
  t.equal(outs.at(-2)!.width, 640, 'from its keyframe');
});

t.test('temporal filtering: dropped layers consume no sequence number or picture id', async (t) => {
  const { consumer, sink, frame } = setup();
  consumer.setPreferredLayers({ spatial: 2, temporal: 0 });
  frame([2], true);
  for (let i = 0; i < 11; i++) frame([], true);
  const outs = sink.take();
  t.ok(outs.every((o) => o.tid === 0), 'only TL0 frames forwarded');
  t.equal(outs.length, 6, '3 TL0 frames of 12, 2 packets each');
  assertContinuous(t, outs, 'TL0 only');
  for (let i = 2; i < outs.length; i += 2) {
    t.equal(outs[i]!.pictureId, (outs[i - 2]!.pictureId + 1) & 0x7fff, 'picture ids consecutive');
  }
  const st = consumer.getStats() as { drops: { temporalLayer: number } };
  t.equal(st.drops.temporalLayer, 18);
  consumer.setPreferredLayers({ spatial: 2, temporal: 2 });
  for (let i = 0; i < 4; i++) frame([], true);
  const more = sink.take();
  t.ok(
    more.some((o) => o.tid > 0),
    'higher temporal layers come back at a switching point',
  );
  assertContinuous(t, [outs.at(-1)!, ...more], 'after temporal up-switch');
});

t.test('wrap-around of sequence number, timestamp and picture id across a switch', async (t) => {
  const { consumer, sink, frame } = setup({ seqs: [65530, 65533, 65534], tss: [2 ** 32 - 4000, 2 ** 32 - 2000, 2 ** 32 - 1000], pics: [0x7ffe, 0x7ffd, 0x7fff] });
  frame([2]);
  frame();
  frame();
  consumer.setPreferredLayers({ spatial: 0 });
  frame([0]);
  frame();
  const outs = sink.take();
  t.equal(outs.length, 10);
  assertContinuous(t, outs, 'wrapped');
  for (let i = 2; i < outs.length; i += 2) {
    t.equal(outs[i]!.pictureId, (outs[i - 2]!.pictureId + 1) & 0x7fff, `picture id ${i} follows across the wrap`);
    t.equal((outs[i]!.ts - outs[i - 2]!.ts) >>> 0 > 0, true, 'timestamp moves forward across the wrap');
  }
});

t.test('timestamps are aligned across layers from sender reports', async (t) => {
  const { consumer, sink, frame, producer, enc, clock } = setup();
  // Both encodings report the same instant: layer 2's RTP clock is 1,000,000 ahead of layer 0's.
  const ntpSec = 3_900_000_000;
  frame([2]);
  frame();
  producer.encodings[2]!.onSenderReport(ntpSec, 0, enc[2]!.ts, clock.t);
  producer.encodings[0]!.onSenderReport(ntpSec, 0, enc[0]!.ts, clock.t);
  const before = sink.take().at(-1)!;
  consumer.setPreferredLayers({ spatial: 0 });
  clock.t += 500; // a late keyframe: wall time would say +500 ms, the capture clock says +1 frame
  frame([0]);
  const after = sink.take()[0]!;
  t.equal((after.ts - before.ts) >>> 0, FRAME_TICKS, 'the switch lands one frame after the last (capture time, not arrival)');
  t.equal((consumer.getStats() as { tsFromSenderReports: number }).tsFromSenderReports, 1);
});

t.test('NACKs are answered with the header first sent, across a switch', async (t) => {
  const { consumer, sink, frame, clock } = setup();
  frame([2]);
  frame();
  consumer.setPreferredLayers({ spatial: 0 });
  frame([0]);
  frame();
  const outs = sink.take();
  clock.t += 200;
  for (const o of [outs[1]!, outs[4]!, outs[7]!]) {
    t.ok(consumer.retransmit(o.seq), `seq ${o.seq} resent`);
    const r = sink.take()[0]!;
    t.same(r, o, 'identical rewritten header and descriptor');
  }
  t.notOk(consumer.retransmit(outs[7]!.seq), 'not resent twice within 100 ms');
  t.notOk(consumer.retransmit((outs.at(-1)!.seq + 10) & 0xffff), 'never sent: miss');
});

/** On layer 2, then allocated layer 0 on a link not measured full: layer 0's keyframe is due. */
function movingDownFromTop() {
  const s = setup();
  s.frame([2]);
  s.frame();
  s.sink.take();
  // An estimate still climbing from its start buys only layer 0: not a full link, so no freeze.
  s.consumer.setAllocatedLayers(0, 2);
  return s;
}

t.test('an allocation below the current layer without congestion moves down at the keyframe, the current layer flowing until then', async (t) => {
  const { consumer, sink, frame } = movingDownFromTop();
  frame();
  frame();
  const waiting = sink.take();
  t.equal(waiting.length, 4, 'layer 2 keeps flowing (two frames of two packets) while layer 0\'s keyframe is due');
  frame([0]);
  frame();
  const after = sink.take();
  t.ok(after[0]!.key && after[0]!.width === 320, 'layer 0 from its keyframe on');
  t.equal(after.length, 4, 'and only layer 0');
  assertContinuous(t, [waiting.at(-1)!, ...after], 'across the switch');
  t.equal((consumer.getStats() as { congestionStops: number }).congestionStops, 0, 'no congestion stop');
});

t.test('a move down waiting for its keyframe stops the current layer at once when the link then shows itself full', async (t) => {
  const { consumer, sink, frame } = movingDownFromTop();
  frame();
  t.equal(sink.take().length, 2, 'layer 2 flows while layer 0\'s keyframe is due');
  // The same allocation again, now on a congested link.
  consumer.setAllocatedLayers(0, 2, true);
  frame();
  t.equal(sink.take().length, 0, 'layer 2 stopped');
  t.equal((consumer.getStats() as { congestionStops: number }).congestionStops, 1, 'a congestion stop');
  consumer.setAllocatedLayers(0, 2, true);
  t.equal((consumer.getStats() as { congestionStops: number }).congestionStops, 1, 'once');
  frame([0]);
  const after = sink.take();
  t.ok(after[0]!.key && after[0]!.width === 320, 'layer 0 from its keyframe on');
});

t.test('a layer stopped for congestion is not resent: only what follows the stop is', async (t) => {
  const { consumer, sink, frame, clock } = setup();
  frame([2]);
  frame();
  const before = sink.take();
  consumer.setAllocatedLayers(0, 2, true); // the link is congested and cannot carry layer 2: it stops at once
  frame([0]);
  frame();
  const after = sink.take();
  t.equal(after[0]!.width, 320, 'layer 0 from its keyframe');
  clock.t += 200;
  t.notOk(consumer.retransmit(before[1]!.seq), 'a packet of the stopped layer: not resent');
  t.ok(consumer.retransmit(after[1]!.seq), 'a packet after the stop: resent');
  const st = consumer.getStats() as { retransmitted: number; retransmitSkipped: number; congestionStops: number };
  t.same([st.congestionStops, st.retransmitted, st.retransmitSkipped], [1, 1, 1]);
});

t.test('with RTX, resent packets and padding go on the RTX stream; the media numbering never sees them', async (t) => {
  const { consumer, sink, frame, clock } = setup({ rtx: true });
  frame([2]);
  frame();
  const sent = sink.packets.splice(0);
  const media = sent.map((b) => parseRtp(b)!);
  const last = media.at(-1)!;
  clock.t += 20;
  t.ok(consumer.retransmit(media[1]!.sequenceNumber), 'resent');
  t.ok(consumer.retransmit(media[2]!.sequenceNumber), 'resent');
  const [r1, r2] = sink.packets.splice(0).map((b) => parseRtp(b)!);
  t.equal(r1!.ssrc, 0xfeed, 'on the RTX SSRC');
  t.equal(r1!.payloadType, 101, 'with the RTX payload type of the media payload type');
  t.equal(r1!.payload().readUInt16BE(0), media[1]!.sequenceNumber, 'the original sequence number leads the payload');
  t.same(r1!.payload().subarray(2), media[1]!.payload(), 'then the original payload');
  t.equal(r1!.timestamp, media[1]!.timestamp, 'and its timestamp');
  t.equal(r2!.sequenceNumber, (r1!.sequenceNumber + 1) & 0xffff, 'RTX has its own numbering');
  t.equal(consumer.sendPadding(2, 0), 2 * (12 + 8 + 255), 'padding mid-frame is fine on RTX');
  const pads = sink.packets.splice(0).map((b) => parseRtp(b)!);
  t.ok(pads.every((p) => p.ssrc === 0xfeed && p.padding), 'padding on the RTX SSRC');
  t.equal(pads[0]!.sequenceNumber, (r2!.sequenceNumber + 1) & 0xffff, 'numbered on from the RTX copies');
  frame();
  const next = parseRtp(sink.packets.splice(0)[0]!)!;
  t.equal(next.sequenceNumber, (last.sequenceNumber + 1) & 0xffff, 'media numbering continues with no gap');
  const st = consumer.getStats() as { retransmitted: number; retransmittedRtx: number; paddingPackets: number };
  t.same([st.retransmitted, st.retransmittedRtx, st.paddingPackets], [2, 2, 2]);
});

t.test('a publisher without transport-cc: the consumer adds the element, numbered across media and RTX', async (t) => {
  const { consumer, sink, frame, clock } = setup({ rtx: true, insertTcc: true });
  frame([2]);
  frame();
  const media = sink.packets.splice(0).map((b) => parseRtp(b)!);
  t.equal(media.length, 4);
  const tcc = (v: ReturnType<typeof parseRtp>): number => v!.getExtension(3)!.readUInt16BE(0);
  t.same(media.map(tcc), [1, 2, 3, 4], 'every packet carries the next transport-wide number');
  t.same(decode(Buffer.from(media[0]!.buf.subarray(media[0]!.offset, media[0]!.offset + media[0]!.length))).width, 1280, 'and still parses as the same VP8 packet');
  clock.t += 20;
  t.ok(consumer.retransmit(media[0]!.sequenceNumber), 'resent');
  const rtx = parseRtp(sink.packets.splice(0)[0]!)!;
  t.equal(rtx.ssrc, 0xfeed);
  t.equal(tcc(rtx), 5, 'the RTX copy is numbered too');
  t.equal(rtx.payload().readUInt16BE(0), media[0]!.sequenceNumber, 'with the original sequence number before the payload');
});

t.test('the first NACK is answered at once; a second copy waits for a round trip', async (t) => {
  const { consumer, sink, frame, clock } = setup();
  frame([2]);
  const seq = sink.take().at(-1)!.seq;
  clock.t += 5; // a NACK on a short path comes within milliseconds of the original
  t.ok(consumer.retransmit(seq, 300), 'first NACK: resent');
  clock.t += 150;
  t.notOk(consumer.retransmit(seq, 300), 'NACKed again 150 ms later with a 300 ms round trip: the copy may still be on its way');
  clock.t += 200;
  t.ok(consumer.retransmit(seq, 300), 'a round trip after the copy: resent again');
  frame();
  const next = sink.take().at(-1)!.seq;
  t.ok(consumer.retransmit(next, 60_000), 'another packet: resent');
  clock.t += 490;
  t.notOk(consumer.retransmit(next, 60_000), 'not within 490 ms');
  clock.t += 20;
  t.ok(consumer.retransmit(next, 60_000), 'an absurd RTT estimate waits at most 500 ms');
  sink.take();
});

t.test('rid-based encodings are ranked by the resolution their keyframes show', async (t) => {
  const ridProducer = (rids: string[]) =>
    new Producer({ kind: 'video', streamId: 's', trackId: 't', mid: '1', codecs: [VP8], encodings: rids.map((rid, i) => ({ ssrc: i + 1, rid })), extensionIds: {} });
  const producer = ridProducer(['hi', 'lo', 'mid']);
  t.same(
    producer.encodings.map((e) => e.layer),
    [0, 1, 2],
    'SDP order until resolutions are known',
  );
  let changes = 0;
  producer.on('layerschange', () => changes++);
  const view = new RtpView();
  const widths = [1280, 320, 640];
  for (let i = 0; i < 3; i++) {
    const pkt = encodeRtp({ payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: i + 1, marker: true }, vp8Payload({ start: true, key: true, pic: 1, tl0: 1, tid: 0, width: widths[i] }));
    view.reset(pkt);
    producer.receive(view, pkt.length, 0, i);
  }
  t.same(
    producer.encodings.map((e) => e.layer),
    [2, 0, 1],
    'ranked by resolution',
  );
  t.equal(changes, 1);
  const ion = ridProducer(['f', 'h', 'q']);
  t.same(
    ion.encodings.map((e) => e.layer),
    [2, 1, 0],
    'ion-sfu rids f/h/q are layers 2/1/0',
  );
});
