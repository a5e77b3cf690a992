// AV1 RTP aggregation header (AV1 RTP spec section 4.4) and leb128 vectors.
import t from 'tap';
import { createAv1Descriptor, createLeb128, parseAv1, readLeb128 } from '../../src/rtp/codecs/av1.js';

/** Bytes from a hex string; `|` and spaces are separators for readability. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

function parse(b: Uint8Array, off = 0, len = b.length - off) {
  const d = createAv1Descriptor();
  return { ok: parseAv1(b, off, len, d), d };
}

t.test('aggregation header vectors', async (t) => {
  // pion TestAV1_Unmarshal (first 30 bytes): Z=0 Y=1 W=2 N=1
  //   | leb128 12 | sequence header OBU (08 = type 1, no size field) ...
  //   | last element, no length: frame OBU (30 = type 6) ... (cut short here)
  let { ok, d } = parse(
    hex('68 | 0c | 08 00 00 00 2c d6 d3 0c d5 02 00 80 | 30 10 c3 c0 07 ff ff f8 b7 30 c0 00 00 88 17 f9'),
  );
  t.ok(ok);
  t.match(d, { continuesObu: false, obuContinues: true, elementCountField: 2, newCodedVideoSequence: true });
  t.match(d, { elementCount: 2, firstObuType: 1, hasSequenceHeader: true, isKeyframe: true, isStartOfFrame: true });
  t.match(d, { temporalId: -1, spatialId: -1 });

  // pion payloader output: W=0, one element of length 1 (OBU type 0)
  ({ ok, d } = parse(hex('00 | 01 | 01')));
  t.ok(ok);
  t.match(d, { elementCount: 1, firstObuType: 0, isKeyframe: false, isStartOfFrame: false, hasSequenceHeader: false });

  // pion payloader fragments: Y=1 first fragment; Z=1 Y=1 middle; Z=1 last
  ({ ok, d } = parse(hex('40 | 02 | 00 01')));
  t.ok(ok);
  t.match(d, { obuContinues: true, continuesObu: false, elementCount: 1 });
  ({ ok, d } = parse(hex('c0 | 02 | 02 03')));
  t.ok(ok);
  t.match(d, { continuesObu: true, obuContinues: true, firstObuType: -1, isStartOfFrame: false });
  ({ ok, d } = parse(hex('80 | 01 | 05')));
  t.ok(ok);
  t.match(d, { continuesObu: true, obuContinues: false, elementCount: 1 });

  // W=1: one element without length: frame OBU with extension (tid 1, sid 1)
  ({ ok, d } = parse(hex('10 | 34 28 aa bb')));
  t.ok(ok);
  t.match(d, { elementCount: 1, firstObuType: 6, temporalId: 1, spatialId: 1, isStartOfFrame: true });

  // W=0: temporal delimiter (len 1) + frame (len 2), every element length-prefixed
  ({ ok, d } = parse(hex('00 | 01 12 | 02 32 00')));
  t.ok(ok);
  t.match(d, { elementCount: 2, firstObuType: 2, isStartOfFrame: true });

  // W=3: continuation (Z=1) of a tile group, then sequence header, then frame
  ({ ok, d } = parse(hex('b0 | 02 aa bb | 02 0a 0b | 32 00 11')));
  t.ok(ok);
  t.match(d, { elementCount: 3, firstObuType: 1, hasSequenceHeader: true, isStartOfFrame: false, isKeyframe: false });

  // W=0 with a zero-length element is tolerated
  t.ok(parse(hex('00 | 00 | 01 32')).ok);
});

t.test('malformed and truncated input returns false', async (t) => {
  const bad: Array<[string, string]> = [
    ['', 'empty'],
    ['00', 'aggregation header only (pion)'],
    ['88 00', 'N=1 with Z=1 (pion)'],
    ['80 ff ff', 'leb128 runs past the end (pion)'],
    ['80 ff 0f 00 00', 'element length 2047 past the end (pion)'],
    ['20 05', 'W=2, first element past the end'],
    ['20 01 0a', 'W=2 but only one element'],
    ['30 01 0a 01 0b', 'W=3 but only two elements'],
    ['00 80 80 80 80 80 80 80 80 00 aa', 'leb128 of 9 bytes'],
    ['00 ff ff ff ff 7f aa', 'leb128 above 2^32 - 1'],
  ];
  for (const [h, why] of bad) t.equal(parse(hex(h)).ok, false, why);
  t.equal(parse(hex('68 0c 08'), 1, 3).ok, false, 'window past the end');
});

t.test('readLeb128', async (t) => {
  const r = createLeb128();
  const rd = (h: string) => {
    const b = hex(h);
    return readLeb128(b, 0, b.length, r) ? [r.value, r.size] : false;
  };
  t.same(rd('00'), [0, 1]);
  t.same(rd('7f'), [127, 1]);
  t.same(rd('80 01'), [128, 2]);
  t.same(rd('e5 8e 26'), [624485, 3]);
  t.same(rd('ff ff ff ff 0f'), [0xffffffff, 5], 'largest allowed value');
  t.same(rd('80 80 80 80 80 80 80 00'), [0, 8], '8 bytes (padded) is allowed');
  t.equal(rd('80 80 80 80 80 80 80 80 00'), false, '9 bytes');
  t.equal(rd('80 80 80 80 10'), false, '2^32 overflows');
  t.equal(rd('80 80 80 80 80 80 80 01'), false, '2^49 overflows');
  t.equal(rd('80'), false, 'continuation bit at the end');
  t.equal(rd(''), false);
  t.equal(readLeb128(hex('00'), 0, 2, r), false, 'end past buffer');
});
