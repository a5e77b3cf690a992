// H.264 RTP payload (RFC 6184): single NAL, STAP-A, FU-A, SPS profile/level
// and first_mb_in_slice (H.264 7.3.3) vectors.
import t from 'tap';
import { createH264Descriptor, parseH264, readUe } from '../../src/rtp/codecs/h264.js';

/** Bytes from a hex string; `|` and spaces are separators for readability. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

function parse(b: Uint8Array, off = 0, len = b.length - off) {
  const d = createH264Descriptor();
  return { ok: parseH264(b, off, len, d), d };
}

t.test('single NAL unit packets', async (t) => {
  // IDR slice, NRI=3 | first_mb_in_slice ue '1' = 0 | slice data
  let { ok, d } = parse(hex('65 | 88 84 00 33 ff'));
  t.ok(ok);
  t.match(d, { packetType: 5, nri: 3, nalType: 5, nalCount: 1, hasIdr: true, hasSps: false });
  t.match(d, { isKeyframe: true, isStartOfFrame: true, firstMbInSlice: 0, profileIdc: -1 });

  // non-IDR slice, NRI=2 | first_mb_in_slice 0
  ({ ok, d } = parse(hex('41 | 9a 02 4c')));
  t.ok(ok);
  t.match(d, { nalType: 1, nri: 2, isKeyframe: false, isStartOfFrame: true, firstMbInSlice: 0 });

  // non-IDR slice | ue '010' = 1: second slice of a picture
  ({ ok, d } = parse(hex('41 | 40 00')));
  t.ok(ok);
  t.match(d, { isStartOfFrame: false, firstMbInSlice: 1 });

  // non-IDR slice | ue '000011111' = 30
  ({ ok, d } = parse(hex('41 | 0f 80')));
  t.ok(ok);
  t.match(d, { isStartOfFrame: false, firstMbInSlice: 30 });

  // SPS, constrained baseline 3.1: 42 e0 1f (tail truncated; only the first 3 bytes are read)
  ({ ok, d } = parse(hex('67 | 42 e0 1f | da 01 40 16 e8 06 d0 a1 35')));
  t.ok(ok);
  t.match(d, { hasSps: true, isKeyframe: true, isStartOfFrame: true });
  t.match(d, { profileIdc: 0x42, constraintFlags: 0xe0, levelIdc: 0x1f, profileLevelId: 0x42e01f });

  // SPS, high 3.1: 64 0c 1f
  ({ ok, d } = parse(hex('67 | 64 0c 1f | ac b2 01 40 16 ec 04 40')));
  t.ok(ok);
  t.match(d, { profileIdc: 100, constraintFlags: 0x0c, levelIdc: 31, profileLevelId: 0x640c1f });

  // PPS alone: starts an access unit, not a key frame
  ({ ok, d } = parse(hex('68 | ce 3c 80')));
  t.ok(ok);
  t.match(d, { hasPps: true, isKeyframe: false, isStartOfFrame: true });

  // SEI / AUD start an access unit (H.264 7.4.1.2.3)
  t.equal(parse(hex('06 | 05 ff')).d.isStartOfFrame, true);
  t.equal(parse(hex('09 | f0')).d.isStartOfFrame, true);
  // filler data (12) does not
  t.equal(parse(hex('0c | ff ff')).d.isStartOfFrame, false);

  // slice with a truncated header: first_mb_in_slice unreadable
  ({ ok, d } = parse(hex('41 | 00')));
  t.ok(ok);
  t.match(d, { firstMbInSlice: -1, isStartOfFrame: false });
  ({ ok, d } = parse(hex('65')));
  t.ok(ok);
  t.match(d, { hasIdr: true, isKeyframe: true, firstMbInSlice: -1, isStartOfFrame: false });

  // pion singlePayload: type 16 (reserved) is a single NAL unit packet
  t.ok(parse(hex('90 90 90')).ok);
});

t.test('STAP-A with SPS + PPS + IDR', async (t) => {
  const { ok, d } = parse(
    hex(
      '78' + // STAP-A, NRI=3
        '00 0f | 67 42 c0 1f 1a 32 35 01 40 7a 40 3c 22 11 a8' + // SPS (pion vector), baseline 3.1
        '00 05 | 68 1a 34 e3 c8' + // PPS
        '00 04 | 65 88 80 40', // IDR slice, first_mb_in_slice 0
    ),
  );
  t.ok(ok);
  t.match(d, { packetType: 24, nalType: 7, nalCount: 3, hasSps: true, hasPps: true, hasIdr: true });
  t.match(d, { isKeyframe: true, isStartOfFrame: true, firstMbInSlice: 0, profileLevelId: 0x42c01f });

  // pion singlePayloadMultiNALU: SPS + PPS only
  const sp = parse(hex('78 00 0f 67 42 c0 1f 1a 32 35 01 40 7a 40 3c 22 11 a8 00 05 68 1a 34 e3 c8'));
  t.ok(sp.ok);
  t.match(sp.d, { nalCount: 2, hasSps: true, hasPps: true, hasIdr: false, isKeyframe: true });

  // two slices of one picture aggregated: the second has first_mb 1, the first decides
  const two = parse(hex('78 | 00 02 | 41 9a | 00 02 | 41 40'));
  t.ok(two.ok);
  t.match(two.d, { nalCount: 2, isStartOfFrame: true, firstMbInSlice: 0, isKeyframe: false });
});

t.test('FU-A', async (t) => {
  // IDR start: FU indicator NRI=3 type 28 | S=1 type 5 | first_mb 0
  let { ok, d } = parse(hex('7c | 85 | 88 84 00 21'));
  t.ok(ok);
  t.match(d, { packetType: 28, nalType: 5, fuStart: true, fuEnd: false, hasIdr: true });
  t.match(d, { isKeyframe: true, isStartOfFrame: true, firstMbInSlice: 0 });

  // IDR middle
  ({ ok, d } = parse(hex('7c | 05 | aa bb cc')));
  t.ok(ok);
  t.match(d, { fuStart: false, fuEnd: false, hasIdr: true, isKeyframe: false, isStartOfFrame: false, firstMbInSlice: -1 });

  // IDR end
  ({ ok, d } = parse(hex('7c | 45 | dd ee')));
  t.ok(ok);
  t.match(d, { fuStart: false, fuEnd: true, hasIdr: true, isKeyframe: false });

  // non-IDR start, NRI=2
  ({ ok, d } = parse(hex('5c | 81 | 9a 00 11')));
  t.ok(ok);
  t.match(d, { nri: 2, nalType: 1, fuStart: true, hasIdr: false, isKeyframe: false, isStartOfFrame: true });

  // non-IDR end
  ({ ok, d } = parse(hex('5c | 41 | 11')));
  t.ok(ok);
  t.match(d, { nalType: 1, fuEnd: true, hasIdr: false, isKeyframe: false, isStartOfFrame: false });

  // fragmented SPS start: profile still read from the first fragment
  ({ ok, d } = parse(hex('7c | 87 | 64 00 28 ac')));
  t.ok(ok);
  t.match(d, { hasSps: true, isKeyframe: true, profileLevelId: 0x640028 });
});

t.test('malformed and truncated input returns false', async (t) => {
  const bad: Array<[string, string]> = [
    ['', 'empty'],
    ['00 11', 'NAL type 0'],
    ['ff 00 00', 'type 31 (pion)'],
    ['19 00 02 41 9a', 'STAP-B (not allowed in non-interleaved mode)'],
    ['1a 00', 'MTAP16'],
    ['1b 00', 'MTAP24'],
    ['1d 85 00', 'FU-B'],
    ['1e 00', 'reserved 30'],
    ['7c', 'FU-A without FU header'],
    ['7c c5 00', 'FU-A with S and E both set'],
    ['7c 80 00', 'FU-A of NAL type 0 (pion packetizer test NAL)'],
    ['7c 98 00', 'FU-A of type 24'],
    ['78', 'STAP-A without NAL units'],
    ['78 00', 'STAP-A size truncated'],
    ['78 00 00', 'STAP-A zero size'],
    ['78 00 0f 67 42 c0 1f 1a 32 35 01 40 7a 40 3c 22 11', 'STAP-A size past the end (pion)'],
    ['78 00 02 78 00', 'STAP-A nested in STAP-A'],
    ['78 00 01 00', 'STAP-A aggregating NAL type 0'],
    ['78 00 02 41 9a 00', 'STAP-A trailing byte'],
  ];
  for (const [h, why] of bad) t.equal(parse(hex(h)).ok, false, why);
  const stap = hex('78 00 0f 67 42 c0 1f 1a 32 35 01 40 7a 40 3c 22 11 a8 00 05 68 1a 34 e3 c8');
  let okPrefixes = 0;
  for (let n = 0; n <= stap.length; n++) if (parse(stap, 0, n).ok) okPrefixes++;
  t.equal(okPrefixes, 2, 'only the two NAL-aligned prefixes parse');
  t.equal(parse(stap, 3, stap.length).ok, false, 'window past the end');
});

t.test('readUe: Exp-Golomb with emulation prevention', async (t) => {
  const ue = (h: string) => {
    const b = hex(h);
    return readUe(b, 0, b.length);
  };
  t.equal(ue('80'), 0); // 1
  t.equal(ue('40'), 1); // 010
  t.equal(ue('60'), 2); // 011
  t.equal(ue('20'), 3); // 00100
  t.equal(ue('0f 80'), 30); // 000011111
  // 16 zeros, EPB 03 skipped, then 0000000 1 (23 leading zeros) + 23 one bits
  t.equal(ue('00 00 03 01 ff ff fe'), 2 ** 23 - 1 + (2 ** 23 - 1));
  // without the 03 being an EPB (not after 00 00) it is data: 0000 0011 -> 6 zeros, 1, then 6 bits 111110
  t.equal(ue('03 f0'), 2 ** 6 - 1 + 0b111110);
  t.equal(ue('00 00 00 00 01'), -1, '31+ leading zeros');
  t.equal(ue('00 00 01 ff'), -1, 'suffix truncated');
  t.equal(ue(''), -1);
  t.equal(ue('00 00 03'), -1, 'EPB at the end');
  // 31 leading zeros and an all-ones suffix: the largest value that fits
  t.equal(ue('00 00 00 01 ff ff ff ff'), 2 ** 32 - 2);
  t.equal(readUe(hex('80'), 0, 5), -1, 'end past buffer');
});
