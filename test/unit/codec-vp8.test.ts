// VP8 payload descriptor (RFC 7741 section 4.2) vectors, keyframe header
// (RFC 6386 section 9.1) and in-place picture id / TL0PICIDX rewrite.
import t from 'tap';
import { createVp8Descriptor, parseVp8, writeVp8PictureId, writeVp8Tl0PicIdx } from '../../src/rtp/codecs/vp8.js';

/** Bytes from a hex string; `|` and spaces are separators for readability. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

function parse(b: Uint8Array, off = 0, len = b.length - off) {
  const d = createVp8Descriptor();
  return { ok: parseVp8(b, off, len, d), d };
}

t.test('descriptor vectors', async (t) => {
  // S=1 PID=0, no extension | delta frame payload (P=1)
  let { ok, d } = parse(hex('10 | 31 12 00 9a'));
  t.ok(ok);
  t.match(d, { extended: false, startOfPartition: true, partitionIndex: 0, headerSize: 1 });
  t.match(d, { pictureId: -1, pictureIdBits: 0, tl0PicIdx: -1, tid: -1, keyIdx: -1 });
  t.match(d, { isStartOfFrame: true, isKeyframe: false, width: 0, height: 0 });

  // X S | I | M=0 picture id 42 (7-bit) | delta payload
  ({ ok, d } = parse(hex('90 | 80 | 2a | 31 02 00')));
  t.ok(ok);
  t.match(d, { extended: true, pictureId: 42, pictureIdBits: 7, pictureIdOffset: 2, headerSize: 3 });

  // X S | I L T | M=1 picture id 0x1a0c | TL0PICIDX 7 | TID=1 Y=1 | delta payload
  ({ ok, d } = parse(hex('90 | e0 | 9a 0c | 07 | 60 | 31 02 00')));
  t.ok(ok);
  t.match(d, { pictureId: 0x1a0c, pictureIdBits: 15, pictureIdOffset: 2 });
  t.match(d, { tl0PicIdx: 7, tl0PicIdxOffset: 4, tid: 1, layerSync: true, keyIdx: -1, headerSize: 6 });

  // X S | I L T | picture id 0x8001 -> 1 | TL0PICIDX 0 | TID=0 | key frame tag 50 42 00, start code 9d 01 2a, 640x480
  ({ ok, d } = parse(hex('90 | e0 | 80 01 | 00 | 00 | 50 42 00 9d 01 2a 80 02 e0 01 ff ff')));
  t.ok(ok);
  t.match(d, { pictureId: 1, tl0PicIdx: 0, tid: 0, layerSync: false, headerSize: 6 });
  t.match(d, { isStartOfFrame: true, isKeyframe: true, width: 640, height: 480 });

  // 2-bit scale bits above the 14-bit sizes are masked off: 1280|0x4000 x 720|0xc000
  ({ ok, d } = parse(hex('10 | 50 42 00 9d 01 2a 00 45 d0 c2')));
  t.ok(ok);
  t.match(d, { isKeyframe: true, width: 1280, height: 720 });

  // key frame whose first packet is cut before the sizes: key frame, no dimensions
  ({ ok, d } = parse(hex('10 | 50 42 00 9d 01')));
  t.ok(ok);
  t.match(d, { isKeyframe: true, width: 0, height: 0 });

  // X | I | picture id 43, S=0: continuation packet; P-bit-like byte is frame data, not a header
  ({ ok, d } = parse(hex('80 | 80 | 2b | 00 00 00')));
  t.ok(ok);
  t.match(d, { startOfPartition: false, isStartOfFrame: false, isKeyframe: false });

  // S=1 PID=1: start of partition 1 is not the start of the frame
  ({ ok, d } = parse(hex('11 | 00 00 00')));
  t.ok(ok);
  t.match(d, { startOfPartition: true, partitionIndex: 1, isStartOfFrame: false, isKeyframe: false });

  // X N S | K only: KEYIDX 31, no TID
  ({ ok, d } = parse(hex('b0 | 10 | 1f | 31')));
  t.ok(ok);
  t.match(d, { nonReference: true, tid: -1, keyIdx: 31, headerSize: 3 });

  // X | T K: TID=2 Y=0 KEYIDX=5
  ({ ok, d } = parse(hex('80 | 30 | 85 | 00')));
  t.ok(ok);
  t.match(d, { tid: 2, layerSync: false, keyIdx: 5 });

  // pion: "normal payload" and "X only"
  t.ok(parse(hex('00 11 22 33 44 55 66 90')).ok);
  t.ok(parse(hex('80 00 00 00')).ok);
});

t.test('parses at an offset inside a larger buffer (RTP header before the payload)', async (t) => {
  const rtp = Buffer.concat([Buffer.alloc(12, 0xee), hex('90 e0 9a 0c 07 60 31 02 00'), Buffer.alloc(4, 0xee)]);
  const { ok, d } = parse(rtp, 12, 9);
  t.ok(ok);
  t.match(d, { pictureId: 0x1a0c, pictureIdOffset: 14, tl0PicIdxOffset: 16, headerSize: 6 });
});

t.test('malformed and truncated input returns false', async (t) => {
  const bad: Array<[string, string]> = [
    ['', 'empty'],
    ['80', 'X without the extension byte'],
    ['80 80', 'I without a picture id'],
    ['80 80 81', '15-bit picture id missing its second byte'],
    ['80 80 81 00', 'descriptor only, no payload (pion)'],
    ['ff ff 00 00', 'all flags, T/K byte missing (pion)'],
    ['80 40', 'L without TL0PICIDX'],
    ['80 20', 'T without its byte'],
    ['10', 'S=1, no payload'],
  ];
  for (const [h, why] of bad) t.equal(parse(hex(h)).ok, false, why);
  // every prefix of a full descriptor shorter than header + 1 byte is rejected
  const full = hex('90 e0 9a 0c 07 60 31');
  for (let n = 0; n < full.length; n++) t.equal(parse(full, 0, n).ok, false, `prefix ${n}`);
  // windows outside the buffer
  const b = hex('10 31');
  t.equal(parse(b, -1, 2).ok, false);
  t.equal(parse(b, 1, 2).ok, false);
  t.equal(parse(b, Number.NaN, 1).ok, false);
  t.equal(parse(b, 0, Number.NaN).ok, false);
});

t.test('in-place picture id and TL0PICIDX rewrite, then re-parse', async (t) => {
  const b = hex('90 e0 9a 0c 07 60 31 02 00');
  const d = createVp8Descriptor();
  t.ok(parseVp8(b, 0, b.length, d));
  t.ok(writeVp8PictureId(b, d.pictureIdOffset, 0x1234));
  t.ok(writeVp8Tl0PicIdx(b, d.tl0PicIdxOffset, 0x42));
  t.ok(parseVp8(b, 0, b.length, d));
  t.match(d, { pictureId: 0x1234, pictureIdBits: 15, tl0PicIdx: 0x42, tid: 1, headerSize: 6 });
  t.same(b.subarray(6), hex('31 02 00'), 'payload untouched');

  // 15-bit values wrap; TL0PICIDX wraps at 256
  t.ok(writeVp8PictureId(b, d.pictureIdOffset, 0x8005));
  t.ok(writeVp8Tl0PicIdx(b, d.tl0PicIdxOffset, 300));
  t.ok(parseVp8(b, 0, b.length, d));
  t.match(d, { pictureId: 5, pictureIdBits: 15, tl0PicIdx: 44 });

  // a 7-bit field keeps its width: 200 is masked to 200 & 0x7f = 72
  const s = hex('90 80 2a 31');
  t.ok(parseVp8(s, 0, s.length, d));
  t.ok(writeVp8PictureId(s, d.pictureIdOffset, 200));
  t.ok(parseVp8(s, 0, s.length, d));
  t.match(d, { pictureId: 72, pictureIdBits: 7, headerSize: 3 });

  // offsets that do not fit write nothing
  const before = Buffer.from(b);
  t.equal(writeVp8PictureId(b, -1, 1), false);
  t.equal(writeVp8PictureId(b, b.length, 1), false);
  t.equal(writeVp8Tl0PicIdx(b, b.length, 1), false);
  t.equal(writeVp8Tl0PicIdx(b, Number.NaN, 1), false);
  const edge = hex('00 81'); // M=1 field in the last byte: its second byte is missing
  t.equal(writeVp8PictureId(edge, 1, 5), false);
  t.same(edge, hex('00 81'));
  t.same(b, before);
});
