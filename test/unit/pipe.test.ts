// Issue 7, part 3, without sockets or threads: the pipe's RTP batch codec
// and control-message validation, and two room parts joined by an in-memory
// link through the same codec. A publisher's track on part A becomes a
// producer on part B that a consumer reads like a local one; its keyframe
// requests and store misses travel upstream (the store serves what it has,
// the publisher is asked for the rest); `wanted` stops piping what B does
// not consume; a member leaving or the link closing takes B's copy away.
import t from 'tap';
import { Producer, type RouterCodec } from '../../src/router/producer.js';
import { Consumer } from '../../src/router/consumer.js';
import { Room, type RoomMember } from '../../src/router/room.js';
import { RtpView, encodeRtp } from '../../src/rtp/rtp.js';
import { parseControl, readRtpBatch, RtpBatchWriter, PIPE_PACKET_HEADER, type PipeControl } from '../../src/pipe/messages.js';
import { emptyCounters, emptyDrops, unattachedHandlers, type PipeLink } from '../../src/pipe/link.js';
import { PipeRoom } from '../../src/pipe/pipe-room.js';
import { CaptureSink } from '../helpers/capture-sink.js';

const VP8: RouterCodec = { payloadType: 96, kind: 'vp8', mimeType: 'video/VP8', clockRate: 90000 };
const KEY = Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
const DELTA = Buffer.from([0x10, 0x01, 0x00, 0x00, 0x00]);
const vp8 = (seq: number, key: boolean): Buffer => encodeRtp({ payloadType: 96, sequenceNumber: seq, timestamp: seq * 3000, ssrc: 0xabc, marker: true }, key ? KEY : DELTA);

t.test('RTP batches round-trip, and a damaged one is refused', async (t) => {
  const w = new RtpBatchWriter(256);
  const a = vp8(1, true);
  const b = vp8(2, false);
  t.ok(w.add(7, 0, 0, a, 0, a.length));
  t.ok(w.add(300, 2, 1, Buffer.concat([Buffer.alloc(5), b]), 5, b.length), 'a packet at an offset');
  t.notOk(w.add(1, 0, 0, Buffer.alloc(300), 0, 300), 'a packet that does not fit is refused');
  const batch = w.take()!;
  t.equal(batch.length, 2 + 2 * PIPE_PACKET_HEADER + a.length + b.length);
  t.equal(w.take(), undefined, 'the writer starts empty');
  const got: [number, number, number, string][] = [];
  t.equal(readRtpBatch(batch, 0, batch.length, (id, enc, flags, buf, off, len) => got.push([id, enc, flags, buf.subarray(off, off + len).toString('hex')])), 2);
  t.same(got, [
    [7, 0, 0, a.toString('hex')],
    [300, 2, 1, b.toString('hex')],
  ]);
  let seen = 0;
  t.equal(readRtpBatch(batch, 0, batch.length - 1, () => seen++), -1, 'truncated: refused');
  t.equal(seen, 1, 'what came before the bad entry was read');
  t.equal(readRtpBatch(Buffer.from([0xff]), 0, 1, () => seen++), -1, 'too short for a count');
});

t.test('control messages are validated', async (t) => {
  t.same(parseControl({ t: 'keyframe', id: 3, layer: 1 }), { t: 'keyframe', id: 3, layer: 1 });
  t.same(parseControl({ t: 'sync' }), { t: 'sync' });
  for (const bad of [null, 7, 'sync', [], { t: 'nope' }, { t: 'keyframe', id: -1, layer: 0 }, { t: 'nack', id: 1, encoding: 0, seqs: [70000] }, { t: 'producer', id: 1, owner: 'x', producer: { kind: 'data' } }]) {
    t.equal(parseControl(bad), null, `refused: ${JSON.stringify(bad)}`);
  }
});

/** Two ends of a synchronous in-memory link that goes through the real codec. */
function linkPair(): [PipeLink, PipeLink] {
  const make = (): PipeLink & { peer: PipeLink | undefined; isClosed: boolean } => {
    const link = {
      peer: undefined as PipeLink | undefined,
      isClosed: false,
      counters: emptyCounters(),
      drops: emptyDrops(),
      handlers: unattachedHandlers(emptyDrops()),
      onClose: undefined as ((r: string) => void) | undefined,
      get closed() {
        return link.isClosed;
      },
      sendRtp(id: number, enc: number, flags: number, buf: Buffer, off: number, len: number) {
        if (link.isClosed) return false;
        const w = new RtpBatchWriter(2048);
        w.add(id, enc, flags, buf, off, len);
        const batch = w.take()!;
        link.counters.packetsOut++;
        readRtpBatch(batch, 0, batch.length, (...a) => link.peer!.handlers.rtp(...a));
        return true;
      },
      sendControl(m: PipeControl) {
        if (link.isClosed) return;
        const parsed = parseControl(structuredClone(m));
        if (!parsed) throw new Error(`unparsable ${JSON.stringify(m)}`);
        link.peer!.handlers.control(parsed);
      },
      close() {
        for (const l of [link, link.peer as typeof link]) {
          if (l.isClosed) continue;
          l.isClosed = true;
          l.onClose?.('closed');
        }
      },
    };
    return link;
  };
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

interface FakeMember extends RoomMember {
  added: Producer[];
  /** What reached the member: fan-out labels and messages, publisher layer announcements. */
  heard: string[];
}

function member(uid: string, producers: Producer[] = []): FakeMember {
  const added: Producer[] = [];
  const heard: string[] = [];
  return {
    uid,
    producers,
    added,
    heard,
    rtcpStats: {},
    onProducerAdded: (p) => added.push(p),
    onSpeakerDecision: () => undefined,
    setLastN: () => undefined,
    onFanoutLabel: (label) => heard.push(`label ${label}`),
    onFanoutMessage: (label, data) => heard.push(`${label}: ${typeof data === 'string' ? data : `bytes ${data.toString('hex')}`}`),
    sendApi: () => undefined,
    setPreferredLayers: () => 0,
    onPublisherLayers: (streamId, layers) => heard.push(`layers ${streamId} ${layers.join(',')}`),
    tick: () => undefined,
    egressStats: () => ({ packets: 0, bytes: 0 }),
    close: () => undefined,
  };
}

t.test('a track piped to another room part: media, keyframe requests, NACKs, wanted layers, lifecycle', async (t) => {
  const asked = { keyframes: 0, retransmissions: [] as number[] };
  const source = new Producer({
    kind: 'video',
    streamId: 'stream-a',
    trackId: 'track-a',
    mid: '0',
    codecs: [VP8],
    ssrc: 0xabc,
    extensionIds: {},
    requestKeyframe: () => asked.keyframes++,
    requestRetransmission: (_p, _e, seqs) => asked.retransmissions.push(...seqs),
  });
  const roomA = new Room('r');
  const roomB = new Room('r');
  t.teardown(() => {
    roomA.close();
    roomB.close();
  });
  const publisher = member('pub', [source]);
  roomA.join(publisher);
  const viewer = member('viewer');
  roomB.join(viewer);
  const [la, lb] = linkPair();
  const pa = new PipeRoom(roomA, la);
  const pb = new PipeRoom(roomB, lb);

  t.equal(roomB.remoteMembers, 1, 'B knows the publisher as a member elsewhere');
  t.equal(viewer.added.length, 1, 'B announced the piped track to its member');
  const piped = viewer.added[0]!;
  t.equal(piped.streamId, 'stream-a');
  t.same(roomB.producersFor(viewer), [piped], 'a later subscriber on B finds it too');
  t.same(pa.pipedIn, [], 'nothing goes the other way');

  const view = new RtpView();
  const send = (seq: number, key: boolean): void => {
    const pkt = vp8(seq, key);
    view.reset(pkt);
    source.receive(view, pkt.length, performance.now());
  };
  send(1, true);
  t.equal(piped.stats.packets, 0, 'nobody on B consumes it: B said so, nothing was piped');

  const sink = new CaptureSink();
  const consumer = new Consumer({ producer: piped, sink, ssrc: 0x5000, payloadTypes: new Map([[96, 100]]), extensionIds: new Map() });
  t.equal(asked.keyframes, 1, "B's consumer asked for a keyframe: the request reached the publisher's producer");
  for (let seq = 2; seq <= 40; seq++) send(seq, seq === 2);
  t.equal(piped.stats.packets, 39, 'once consumed, every packet is piped');
  t.equal(sink.packets.length, 39, 'and forwarded by the consumer on B');

  // A NACK B can serve itself: nothing goes upstream.
  const lastOut = consumer.lastSequenceNumber;
  await new Promise((r) => setTimeout(r, 120));
  t.ok(consumer.retransmit(lastOut - 3), 'served from B\'s own store');
  t.same(asked.retransmissions, [], 'the publisher is not asked');

  // B's store lets the packet go: the miss travels upstream, A's store answers with a repair.
  piped.encodings[0]!.store!.clear();
  t.notOk(consumer.retransmit(lastOut - 5), 'a miss on B');
  await new Promise((r) => setImmediate(r));
  t.equal(pa.stats.repairsSent, 1, "A resent it from its store over the pipe");
  t.ok(consumer.retransmit(lastOut - 5), 'the next NACK for it is served on B');
  t.same(asked.retransmissions, [], 'still without the publisher');

  // Neither store has it: the publisher is asked.
  piped.encodings[0]!.store!.clear();
  source.encodings[0]!.store!.clear();
  t.notOk(consumer.retransmit(lastOut - 7));
  await new Promise((r) => setImmediate(r));
  t.equal(asked.retransmissions.length, 1, 'the publisher is NACKed for the packet');
  t.equal(pb.stats.nacksOut, 2, 'B sent two NACKs up the pipe');

  // Sender reports travel (consumers on B align simulcast layers with them).
  source.onSenderReport(0, 3_900_000_000, 0x80000000, 123_456, performance.now());
  t.same([piped.encodings[0]!.srRtp, piped.encodings[0]!.srNtpMs], [123_456, source.encodings[0]!.srNtpMs], "the publisher's sender report reached B");

  // Pause travels; the consumer going away stops the piping.
  source.pause();
  t.ok(piped.paused, 'pause reaches B');
  source.resume();
  consumer.close();
  const before = piped.stats.packets;
  send(41, false);
  t.equal(piped.stats.packets, before, 'B stopped wanting it');

  // The publisher leaves A: B's copy closes.
  let closed = false;
  piped.once('close', () => (closed = true));
  source.close();
  roomA.producerRemoved(source);
  t.ok(closed, 'the piped producer closed with its source');
  t.same(roomB.pipedProducers, [], 'and left room B');
  roomA.leave(publisher);
  t.equal(roomB.remoteMembers, 0, 'the member left B\'s count');

  // A new track, then the link dies: B's copy goes with it.
  const second = new Producer({ kind: 'audio', streamId: 's2', trackId: 't2', mid: '1', codecs: [{ payloadType: 111, kind: 'opus', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }], ssrc: 9, extensionIds: {} });
  const other = member('other', [second]);
  roomB.join(member('viewer2'));
  roomA.join(other);
  roomA.producerAdded(other, second);
  t.equal(roomB.pipedProducers.length, 1, 'a new track is piped');
  la.close();
  pa.detach(false);
  pb.detach(false);
  t.same(roomB.pipedProducers, [], 'the link closed: its tracks are gone from B');
  t.equal(roomB.remoteMembers, 0);
});

t.test('fan-out data channels and layer announcements cross the pipe once, both ways', async (t) => {
  const roomA = new Room('r');
  const roomB = new Room('r');
  t.teardown(() => {
    roomA.close();
    roomB.close();
  });
  const a = member('a');
  const b = member('b');
  roomA.join(a);
  roomB.join(b);
  const [la, lb] = linkPair();
  const pa = new PipeRoom(roomA, la);
  const pb = new PipeRoom(roomB, lb);
  roomA.addFanoutLabel(a, 'chat');
  roomA.fanout(a, 'chat', 'hello');
  roomB.fanout(b, 'chat', Buffer.from([1, 2]));
  roomA.announceLayers(a, 'stream-a', [0, 1]);
  t.same(b.heard, ['label chat', 'chat: hello', 'layers stream-a 0,1'], 'B heard A');
  t.same(a.heard, ['chat: bytes 0102'], 'A heard B once (nothing echoed back)');
  pa.detach(true);
  pb.detach(true);
});
