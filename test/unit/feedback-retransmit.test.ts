// RetransmissionStore (ring of copies, overwrite, max age) and RFC 4588 RTX framing.
import t from 'tap';
import { RetransmissionStore, RtxDecoder, RtxEncoder, unwrapRtx, writeRtx } from '../../src/rtp/feedback/index.js';
import { encodeRtp, parseRtp } from '../../src/rtp/rtp.js';
import { Unwrapper } from '../../src/rtp/seq.js';
import { ManualClock } from '../../src/util/clock.js';

function packet(seq: number, payloadLen = 100, padding = 0): Buffer {
  const payload = Buffer.alloc(payloadLen);
  for (let i = 0; i < payloadLen; i++) payload[i] = (i * 7 + seq) & 0xff;
  return encodeRtp(
    {
      payloadType: 96,
      sequenceNumber: seq & 0xffff,
      timestamp: 0xdeadbeef,
      ssrc: 0x11223344,
      marker: true,
      csrcs: [0xcafe],
      extensions: [
        { id: 1, value: Buffer.from([0x12, 0x34]) },
        { id: 3, value: Buffer.from([1, 2, 3]) },
      ],
      padding,
    },
    payload,
  );
}

function stored(s: RetransmissionStore, slot: number): Buffer {
  return s.slab.subarray(s.offsetOf(slot), s.offsetOf(slot) + s.lengthOf(slot));
}

t.test('store copies the packet; the caller may reuse its buffer', async (t) => {
  const s = new RetransmissionStore();
  const p = packet(7);
  const copy = Buffer.from(p);
  t.equal(s.store(p, 0, p.length, 7, 0), true);
  p.fill(0);
  const slot = s.get(7, 10);
  t.not(slot, -1);
  t.same(stored(s, slot), copy);
  t.equal(s.extSeqOf(slot), 7);
  t.equal(s.get(8, 10), -1, 'never stored');
  t.equal(s.hits, 1);
  t.equal(s.misses, 1);
});

t.test('store honours offsets into a larger receive buffer', async (t) => {
  const s = new RetransmissionStore({ slots: 8 });
  const p = packet(3, 40);
  const big = Buffer.concat([Buffer.alloc(17, 0xee), p, Buffer.alloc(9, 0xee)]);
  s.store(big, 17, p.length, 3, 0);
  t.same(stored(s, s.get(3, 0)), p);
});

t.test('a newer seq overwrites the slot; the older seq is then a miss', async (t) => {
  const s = new RetransmissionStore({ slots: 4 });
  s.store(packet(1), 0, packet(1).length, 1, 0);
  s.store(packet(5), 0, packet(5).length, 5, 0);
  t.equal(s.get(1, 0), -1, 'seq 1 was overwritten by seq 5');
  t.same(stored(s, s.get(5, 0)), packet(5));
  t.equal(s.store(packet(1), 0, packet(1).length, 1, 0), false, 'a late older packet does not evict a newer one');
  t.equal(s.stale, 1);
  t.same(stored(s, s.get(5, 0)), packet(5));
});

t.test('max age', async (t) => {
  const clock = new ManualClock();
  const s = new RetransmissionStore({ maxAgeMs: 1000 });
  const p = packet(9);
  s.store(p, 0, p.length, 9, clock.now());
  clock.advance(1000);
  t.not(s.get(9, clock.now()), -1, 'exactly max age is still served');
  clock.advance(1);
  t.equal(s.get(9, clock.now()), -1);
  t.equal(s.expired, 1);
});

t.test('packets larger than a slot are counted, not stored', async (t) => {
  const s = new RetransmissionStore({ slotSize: 1500 });
  const p = packet(1, 1500 - 28 + 1);
  t.equal(p.length, 1501);
  t.equal(s.store(p, 0, p.length, 1, 0), false);
  t.equal(s.tooLarge, 1);
  t.equal(s.get(1, 0), -1);
  const q = packet(2, 1500 - 28);
  t.equal(s.store(q, 0, q.length, 2, 0), true, 'exactly a slot fits');
  t.throws(() => new RetransmissionStore({ slots: 500 }), RangeError);
});

t.test('sequence wrap at 65535', async (t) => {
  const s = new RetransmissionStore({ slots: 16 });
  const u = new Unwrapper(16);
  for (const seq of [65533, 65534, 65535, 0, 1, 2]) {
    const p = packet(seq);
    s.store(p, 0, p.length, u.update(seq), 0);
  }
  for (const seq of [65533, 65534, 65535, 0, 1, 2]) t.same(stored(s, s.get(seq, 0)), packet(seq), `seq ${seq}`);
  t.equal(s.extSeqOf(s.get(0, 0)), 65536 * 2, 'slot keeps the extended seq');
});

t.test('RTX encode writes RFC 4588 framing; decode restores the original byte for byte', async (t) => {
  for (const padding of [0, 4]) {
    const orig = packet(0xbeef, 200, padding);
    const out = Buffer.alloc(orig.length + 2);
    t.equal(writeRtx(orig, 0, orig.length, 0x55667788, 97, 4242, out, 0), orig.length + 2);
    const v = parseRtp(out);
    t.ok(v, 'RTX packet parses');
    if (!v) continue;
    t.equal(v.ssrc, 0x55667788);
    t.equal(v.payloadType, 97);
    t.equal(v.sequenceNumber, 4242);
    t.equal(v.marker, true, 'marker kept');
    t.equal(v.timestamp, 0xdeadbeef, 'timestamp kept');
    t.same(v.getExtension(1), Buffer.from([0x12, 0x34]), 'extensions kept');
    t.equal(v.csrc(0), 0xcafe);
    t.equal(v.paddingLength, padding);
    t.equal(out.readUInt16BE(v.payloadOffset), 0xbeef, 'OSN first');
    const ov = parseRtp(orig)!;
    t.same(out.subarray(v.payloadOffset + 2, v.payloadOffset + v.payloadLength), ov.payload(), 'then the payload');
    // Decode in place.
    const n = unwrapRtx(out, 0, out.length, 0x11223344, 96);
    t.equal(n, orig.length);
    t.same(out.subarray(0, n), orig, `round trip byte-equal (padding ${padding})`);
  }
});

t.test('RTX encode in place, and the stateful encoder/decoder pair', async (t) => {
  const orig = packet(65535, 50);
  const buf = Buffer.alloc(orig.length + 2 + 10);
  orig.copy(buf, 5);
  const enc = new RtxEncoder(0x99, 97, 65535);
  t.equal(enc.encode(buf, 5, orig.length, buf, 5), orig.length + 2, 'in place');
  t.equal(enc.seq, 0, 'RTX seq wraps');
  t.equal(buf.readUInt16BE(5 + 2), 65535);
  const dec = new RtxDecoder(0x11223344, [[97, 96]]);
  const n = dec.decode(buf, 5, orig.length + 2);
  t.same(buf.subarray(5, 5 + n), orig);
  t.equal(dec.packetsDecoded, 1);
  t.equal(enc.packetsSent, 1);
});

t.test('RTX: malformed input and small buffers return -1', async (t) => {
  const orig = packet(1, 20);
  t.equal(writeRtx(orig, 0, orig.length, 1, 97, 1, Buffer.alloc(orig.length + 1), 0), -1, 'no room for the OSN');
  t.equal(writeRtx(orig, 0, 11, 1, 97, 1, Buffer.alloc(100), 0), -1, 'shorter than a header');
  t.equal(writeRtx(orig, 0, 20, 1, 97, 1, Buffer.alloc(100), 0), -1, 'cut inside the extension block');
  const enc = new RtxEncoder(1, 97);
  t.equal(enc.encode(orig, 0, 5, Buffer.alloc(100), 0), -1);
  t.equal(enc.malformed, 1);
  t.equal(enc.seq, 0, 'seq not consumed by a failure');

  const dec = new RtxDecoder(5, [[97, 96]]);
  const rtx = Buffer.alloc(orig.length + 2);
  writeRtx(orig, 0, orig.length, 1, 97, 1, rtx, 0);
  t.equal(dec.decode(rtx, 0, 25), -1, 'truncated inside the header');
  t.equal(dec.malformed, 1);
  const other = Buffer.from(rtx);
  other[1] = (other[1]! & 0x80) | 100;
  t.equal(dec.decode(other, 0, other.length), -1, 'not an RTX payload type');
  t.equal(dec.unknownPt, 1);
  // A padding-only RTX probe: header only, P bit, 4 padding bytes.
  const probe = encodeRtp({ payloadType: 97, sequenceNumber: 3, timestamp: 0, ssrc: 1, padding: 4 }, Buffer.alloc(0));
  t.equal(dec.decode(probe, 0, probe.length), -1);
  t.equal(dec.paddingOnly, 1);
  t.equal(dec.decode(Buffer.alloc(1), 0, 1), -1);
  t.equal(unwrapRtx(Buffer.alloc(12), 0, 12, 1, 1), -1, 'version 0');
});
