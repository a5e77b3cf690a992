// Temporal-layer filtering from the Dependency Descriptor, Producer ->
// Consumer on synthetic L1T3 streams (no sockets): H.264 (whose payload has
// no layer ids) and AV1 without OBU extension headers, so every layer fact
// comes from the DD. The subscriber's view must stay decodable: sequence
// numbers gap-free, every forwarded frame's references forwarded too, frame
// numbers increasing across restarts, the active decode targets rewritten.
import t, { type Test } from 'tap';
import { Producer, type RouterCodec } from '../../src/router/producer.js';
import { Consumer } from '../../src/router/consumer.js';
import { CaptureSink } from '../helpers/capture-sink.js';
import { bits } from '../helpers/dd.js';
import { RtpView, encodeRtp } from '../../src/rtp/rtp.js';
import {
  DD_OK,
  createDdStream,
  createDependencyDescriptor,
  frameFdiff,
  parseDependencyDescriptor,
  type DdStream,
} from '../../src/rtp/dependency-descriptor.js';

const DD_ID = 12;
const SSRC = 0x1234;
const H264: RouterCodec = { payloadType: 102, kind: 'h264', mimeType: 'video/H264', clockRate: 90000 };
const AV1: RouterCodec = { payloadType: 106, kind: 'av1', mimeType: 'video/AV1', clockRate: 90000 };

/**
 * The spec's L1T3 structure (A.10.2.1), template_id_offset 1:
 * index 0 key (T0), 1 T0 (fdiff 4), 2 T1 (fdiff 2), 3 T2 (fdiff 1), 4 T2 (fdiff 1, after the T1).
 * Decode targets: DT0 = T0-T2 (30 fps), DT1 = T0-T1, DT2 = T0.
 */
const L1T3_STRUCTURE =
  '000001 00010 00 01 01 00 11 101010 101010 100100 010000 010000 0 100110 100010 100000 100000 01 0000 0100 0010 0001 0011 0';

function frameNumberBits(n: number): string {
  return (n & 0xffff).toString(2).padStart(16, '0');
}

function ddBytes(o: { start: boolean; end: boolean; index: number; frame: number; structure?: boolean; active?: number }): Buffer {
  const head = `${o.start ? 1 : 0} ${o.end ? 1 : 0} ${(o.index + 1).toString(2).padStart(6, '0')} ${frameNumberBits(o.frame)}`;
  if (o.structure) return bits(head, '1 0 0 0 0', L1T3_STRUCTURE);
  if (o.active !== undefined) return bits(head, '0 1 0 0 0', o.active.toString(2).padStart(3, '0'));
  return bits(head);
}

function payload(codec: RouterCodec, start: boolean, end: boolean, key: boolean): Buffer {
  if (codec.kind === 'h264') {
    // FU-A (RFC 6184 5.8): indicator NRI=3 type 28, header S/E and the NAL type (5 IDR, 1 non-IDR).
    const type = key ? 5 : 1;
    return Buffer.from([0x7c, (start ? 0x80 : 0) | (end ? 0x40 : 0) | type, 0xaa, 0xbb]);
  }
  // AV1: one OBU element (W=1); the first packet starts a frame OBU (type 6, no extension
  // header: no layer ids in the payload), the second continues it (Z=1).
  const ah = (start ? 0 : 0x80) | (end ? 0 : 0x40) | 0x10 | (key && start ? 0x08 : 0);
  return start ? Buffer.from([ah, 0x30, 0xaa, 0xbb]) : Buffer.from([ah, 0xcc, 0xdd]);
}

/** A publisher: L1T3 frames T0 T2 T1 T2 ..., 2 packets each, DD on every packet. */
class Publisher {
  seq = 40_000;
  ts = 5_000;
  frame = 700;
  n = 0;
  constructor(readonly codec: RouterCodec) {}
  /** The next frame's packets and its temporal id; `active` puts an active-targets bitmask on its first packet. */
  next(key = false, active?: number): { pkts: Buffer[]; tid: number; frame: number } {
    const phase = this.n % 4;
    const index = key ? 0 : [1, 3, 2, 4][phase]!;
    const pkts: Buffer[] = [];
    for (let i = 0; i < 2; i++) {
      const dd = ddBytes({ start: i === 0, end: i === 1, index, frame: this.frame, structure: key && i === 0, active: i === 0 ? active : undefined });
      pkts.push(
        encodeRtp(
          { payloadType: this.codec.payloadType, sequenceNumber: this.seq, timestamp: this.ts, ssrc: SSRC, marker: i === 1, extensions: [{ id: DD_ID, value: dd }] },
          payload(this.codec, i === 0, i === 1, key),
        ),
      );
      this.seq = (this.seq + 1) & 0xffff;
    }
    const frame = this.frame;
    this.frame = (this.frame + 1) & 0xffff;
    this.ts += 3000;
    this.n = key ? 1 : this.n + 1;
    return { pkts, tid: [0, 0, 1, 2, 2][index]!, frame };
  }
}

interface Out {
  seq: number;
  frame: number;
  start: boolean;
  tid: number;
  fdiffs: number[];
  key: boolean;
  active: number;
}

/** The subscriber side: parses what the consumer sent with its own DD state, as a receiver would. */
function receiver() {
  const stream: DdStream = createDdStream();
  const d = createDependencyDescriptor();
  const view = new RtpView();
  return (pkt: Buffer): Out => {
    if (!view.reset(pkt)) throw new Error('bad rtp');
    const at = view.findExtension(DD_ID);
    if (at < 0) throw new Error('no DD forwarded');
    const r = parseDependencyDescriptor(pkt, at, view.extValueLength, stream, d);
    if (r !== DD_OK) throw new Error(`DD did not parse at the receiver: ${r}`);
    return {
      seq: view.sequenceNumber,
      frame: d.frameNumber,
      start: d.startOfFrame,
      tid: d.temporalId,
      fdiffs: Array.from({ length: d.fdiffCount }, (_, i) => frameFdiff(stream.structure, d, i)),
      key: d.structureAttached,
      active: stream.activeDecodeTargets,
    };
  };
}

function setup(codec: RouterCodec) {
  const clock = { t: 1_000 };
  const producer = new Producer({
    kind: 'video',
    streamId: 's',
    trackId: 't',
    mid: '1',
    codecs: [codec],
    ssrc: SSRC,
    extensionIds: { dependencyDescriptor: DD_ID },
  });
  const sink = new CaptureSink();
  const consumer = new Consumer({
    producer,
    sink,
    ssrc: 0xbeef,
    payloadTypes: new Map([[codec.payloadType, codec.payloadType]]),
    extensionIds: new Map([[DD_ID, DD_ID]]),
    now: () => clock.t,
  });
  const pub = new Publisher(codec);
  const view = new RtpView();
  const sent: { frame: number; tid: number }[] = [];
  const send = (key = false, active?: number) => {
    const f = pub.next(key, active);
    sent.push(f);
    for (const p of f.pkts) {
      view.reset(p);
      producer.receive(view, p.length, clock.t);
    }
    clock.t += 33;
  };
  const parse = receiver();
  const take = (): Out[] => sink.packets.splice(0).map(parse);
  return { clock, producer, consumer, pub, send, take, sent };
}

function assertGapFree(t: Test, outs: Out[], from: number): number {
  let expect = from;
  for (const o of outs) {
    if (o.seq !== (expect & 0xffff)) {
      t.fail(`sequence gap: ${o.seq} after ${(expect - 1) & 0xffff}`);
      return o.seq;
    }
    expect++;
  }
  t.pass(`${outs.length} packets, sequence numbers gap-free`);
  return expect & 0xffff;
}

/** Every forwarded frame refers only to forwarded frames: the receiver's frame graph is complete. */
function assertDecodable(t: Test, outs: Out[], known: Set<number>): void {
  for (const o of outs) {
    if (!o.start) continue;
    if (o.key) known.clear();
    for (const f of o.fdiffs) {
      if (!known.has((o.frame - f) & 0xffff)) {
        t.fail(`frame ${o.frame} refers to ${(o.frame - f) & 0xffff}, never forwarded`);
        return;
      }
    }
    known.add(o.frame);
  }
  t.pass('every reference was forwarded');
}

for (const codec of [H264, AV1]) {
  t.test(`${codec.kind} L1T3 with DD: dropping temporal layers keeps the stream decodable and gap-free`, async (t) => {
    const { consumer, send, take, producer } = setup(codec);
    send(true);
    for (let i = 0; i < 11; i++) send();
    let outs = take();
    t.equal(outs.length, 24, 'everything forwarded at the full target');
    t.equal(outs[0]!.key, true);
    let next = assertGapFree(t, outs, outs[0]!.seq);
    const known = new Set<number>();
    assertDecodable(t, outs, known);
    t.equal(producer.stats.ddUnknown, 0);
    t.equal(producer.stats.ddMalformed, 0);

    // 15 fps, then 7.5 fps: the frames above the cap go, and take no sequence numbers.
    for (const [temporal, packets] of [
      [1, 12],
      [0, 6],
    ] as const) {
      consumer.setPreferredLayers({ spatial: 2, temporal });
      for (let i = 0; i < 12; i++) send();
      outs = take();
      t.equal(outs.length, packets, `temporal cap ${temporal}: ${packets} of 24 packets`);
      t.notOk(outs.some((o) => o.tid > temporal), `nothing above TL${temporal} forwarded`);
      next = assertGapFree(t, outs, next);
      assertDecodable(t, outs, known);
      t.equal(consumer.currentTemporalLayer, temporal);
    }

    // Back to 30 fps at the next switch point ('S' for the 30 fps target), no key frame needed.
    consumer.setPreferredLayers({ spatial: 2, temporal: 2 });
    for (let i = 0; i < 8; i++) send();
    outs = take();
    t.ok(outs.length >= 12, `up again without a key frame (${outs.length} packets)`);
    t.ok(outs.some((o) => o.tid === 2));
    assertGapFree(t, outs, next);
    assertDecodable(t, outs, known);
    t.equal(consumer.currentTemporalLayer, 2);
    t.ok(consumer.stats.drops.temporalLayer > 0);
  });
}

t.test('frame numbers continue across a restart; the active decode targets follow the forwarded layers', async (t) => {
  const { consumer, send, take, pub, clock } = setup(H264);
  send(true);
  for (let i = 0; i < 5; i++) send();
  let outs = take();
  const last = outs.at(-1)!.frame;
  // The publisher's encoder restarts its frame numbering (behind the last one sent).
  consumer.pause();
  consumer.resume();
  pub.frame = 3;
  send(true);
  send();
  outs = take();
  t.equal(outs[0]!.key, true);
  t.equal(outs[0]!.frame, (last + 1) & 0xffff, 'the key frame follows the last frame sent');
  t.equal(outs.at(-1)!.frame, (last + 2) & 0xffff, 'and the offset holds');

  // An explicit active-targets bitmask (all three) from the publisher, forwarded at 15 fps:
  // DT0 (30 fps) is no longer decodable at the subscriber.
  consumer.setPreferredLayers({ spatial: 2, temporal: 1 });
  send();
  send();
  send(false, 0b111);
  outs = take();
  t.equal(outs.at(-1)!.active, 0b110, 'DT1 and DT2 left');

  // A NACK gets the header first sent, with the rewritten frame number and bitmask.
  const target = outs.at(-2)!;
  clock.t += 200;
  const before = take().length;
  t.equal(before, 0);
  t.ok(consumer.retransmit(target.seq));
  const again = take();
  t.equal(again.length, 1);
  t.same(again[0], target);
});

t.test('a DD without a known structure leaves the payload facts in charge', async (t) => {
  const { send, take, pub, producer } = setup(H264);
  // Join mid-stream: no structure yet. H.264 key frame from the payload starts the stream.
  pub.n = 1;
  const view = new RtpView();
  const f = pub.next(false);
  for (const p of f.pkts) {
    view.reset(p);
    producer.receive(view, p.length, 1000);
  }
  t.equal(producer.stats.ddUnknown, 2);
  t.equal(take().length, 0, 'no key frame yet');
  send(true);
  t.equal(take().length, 2);
});
