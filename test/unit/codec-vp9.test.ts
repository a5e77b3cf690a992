// VP9 payload descriptor (RFC 9628 section 4.2) vectors, including the
// scalability structure (section 4.2.1).
import t from 'tap';
import { createVp9Descriptor, parseVp9 } from '../../src/rtp/codecs/vp9.js';

/** Bytes from a hex string; `|` and spaces are separators for readability. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

function parse(b: Uint8Array, off = 0, len = b.length - off) {
  const d = createVp9Descriptor();
  return { ok: parseVp9(b, off, len, d), d };
}

t.test('non-flexible key frame with SS: 3 spatial layers 320x180 / 640x360 / 1280x720', async (t) => {
  const { ok, d } = parse(
    hex(
      'aa' + // I=1 P=0 L=1 F=0 B=1 E=0 V=1 Z=0
        '80 00' + // M=1, picture id 0
        '00' + // TID=0 U=0 SID=0 D=0
        '00' + // TL0PICIDX 0
        '58' + // SS: N_S=2 (3 layers) Y=1 G=1
        '01 40 00 b4' + // 320x180
        '02 80 01 68' + // 640x360
        '05 00 02 d0' + // 1280x720
        '02' + // N_G=2
        '04 02' + // TID=0 U=0 R=1, P_DIFF 2
        '34 01' + // TID=1 U=1 R=1, P_DIFF 1
        '82 49 83 42 00', // VP9 frame bytes
    ),
  );
  t.ok(ok);
  t.match(d, { hasPictureId: true, interPicturePredicted: false, hasLayerIndices: true, flexibleMode: false });
  t.match(d, { startOfFrame: true, endOfFrame: false, hasScalabilityStructure: true, notReferenceForUpperLayers: false });
  t.match(d, { pictureId: 0, pictureIdBits: 15, pictureIdOffset: 1, tid: 0, sid: 0, tl0PicIdx: 0, tl0PicIdxOffset: 4 });
  t.match(d, { spatialLayerCount: 3, hasResolutions: true, hasPictureGroups: true, pictureGroupCount: 2 });
  t.same(Array.from(d.widths.subarray(0, 3)), [320, 640, 1280]);
  t.same(Array.from(d.heights.subarray(0, 3)), [180, 360, 720]);
  t.same(Array.from(d.pgTid.subarray(0, 2)), [0, 1]);
  t.same(Array.from(d.pgSwitchingUp.subarray(0, 2)), [0, 1]);
  t.same(Array.from(d.pgRefCount.subarray(0, 2)), [1, 1]);
  t.equal(d.pgPDiffs[0], 2);
  t.equal(d.pgPDiffs[3], 1);
  t.equal(d.headerSize, 23);
  t.equal(d.isKeyframe, true);
});

t.test('non-flexible vectors', async (t) => {
  // upper spatial layer of the same picture: SID=1 D=1, P=0 -> not a key frame (rule: SID 0 only)
  let { ok, d } = parse(hex('a8 | 80 00 | 03 | 00 | 82 49'));
  t.ok(ok);
  t.match(d, { sid: 1, interLayerDependent: true, interPicturePredicted: false, isKeyframe: false, headerSize: 5 });

  // pion payloader, non-flexible key frame: I B E V Z | picture id 0x21f4 | SS N_S=0 Y=1 G=1 1920x804 N_G=1 (T0 U R=1 P_DIFF 1)
  ({ ok, d } = parse(hex('8f | a1 f4 | 18 07 80 03 24 01 14 01 | 82 49 83 42 00 77 f0 32 34')));
  t.ok(ok);
  t.match(d, { pictureId: 0x21f4, endOfFrame: true, notReferenceForUpperLayers: true, hasLayerIndices: false });
  t.match(d, { tid: -1, sid: -1, tl0PicIdx: -1, spatialLayerCount: 1, pictureGroupCount: 1, headerSize: 11, isKeyframe: true });
  t.equal(d.widths[0], 1920);
  t.equal(d.heights[0], 804);
  t.match(Array.from(d.pgSwitchingUp.subarray(0, 1)), [1]);

  // pion payloader, non-key frame: I P B E Z | picture id 0x21f4
  ({ ok, d } = parse(hex('cd | a1 f4 | 86 00 40 92 e1 31 42 8c c0 40')));
  t.ok(ok);
  t.match(d, { interPicturePredicted: true, startOfFrame: true, isKeyframe: false, headerSize: 3, pDiffCount: 0 });

  // pion NonFlexibleLayerIndicePictureID: I L | pid 2 | TID=1 U=0 SID=1 D=1 | TL0PICIDX 1 | payload
  ({ ok, d } = parse(hex('a0 | 02 | 23 | 01 | aa')));
  t.ok(ok);
  t.match(d, { pictureId: 2, pictureIdBits: 7, tid: 1, switchingUpPoint: false, sid: 1, interLayerDependent: true, tl0PicIdx: 1 });

  // werift ParseLayerInfoWithNonFlexibleMode: L | TID=2 U=1 SID=1 D=1 | TL0PICIDX 17
  ({ ok, d } = parse(hex('20 | 53 | 11 | 00')));
  t.ok(ok);
  t.match(d, { tid: 2, switchingUpPoint: true, sid: 1, interLayerDependent: true, tl0PicIdx: 17, headerSize: 3 });

  // minimal B E, empty payload accepted (SS-only style packets parse)
  ({ ok, d } = parse(hex('0c')));
  t.ok(ok);
  t.match(d, { headerSize: 1, isKeyframe: true });

  // pion ScalabilityStructureResolutionsNoPayload: B V | N_S=1 Y=1 G=0 | 640x360 1280x720
  ({ ok, d } = parse(hex('0a | 30 | 02 80 01 68 05 00 02 d0')));
  t.ok(ok);
  t.match(d, { spatialLayerCount: 2, hasResolutions: true, hasPictureGroups: false, pictureGroupCount: 0, headerSize: 10 });
  t.same(Array.from(d.widths.subarray(0, 2)), [640, 1280]);
  t.same(Array.from(d.heights.subarray(0, 2)), [360, 720]);

  // pion ScalabilityStructureNoPayload: N_S=1 Y=0 G=1, N_G=2: (T0 U R=0) (T2 R=1 P_DIFF 33)
  ({ ok, d } = parse(hex('0a | 28 | 02 | 10 | 44 21')));
  t.ok(ok);
  t.match(d, { spatialLayerCount: 2, hasResolutions: false, pictureGroupCount: 2, headerSize: 6 });
  t.same(Array.from(d.pgTid.subarray(0, 2)), [0, 2]);
  t.same(Array.from(d.pgRefCount.subarray(0, 2)), [0, 1]);
  t.equal(d.pgPDiffs[3], 33);
});

t.test('flexible mode with P_DIFFs', async (t) => {
  // werift ParseRefIdx: I P F B | pid 17 (15-bit) | P_DIFF 17 N=1, 18 N=1, 127 N=0 | payload
  let { ok, d } = parse(hex('d8 | 80 11 | 23 25 fe | aa'));
  t.ok(ok);
  t.match(d, { flexibleMode: true, pictureId: 17, pDiffCount: 3, headerSize: 6, isKeyframe: false, tl0PicIdx: -1 });
  t.same(Array.from(d.pDiffs), [17, 18, 127]);

  // pion FlexiblePictureIDRefIndex: I P F | pid 2 | P_DIFF 1 N=1, 2 N=0 | payload
  ({ ok, d } = parse(hex('d0 | 02 | 03 04 | aa')));
  t.ok(ok);
  t.match(d, { pictureId: 2, pDiffCount: 2, headerSize: 4 });
  t.same(Array.from(d.pDiffs.subarray(0, 2)), [1, 2]);

  // I P L F B | pid 17 | TID=2 SID=0 (no TL0PICIDX in flexible mode) | P_DIFF 17 N=1, 2 N=0
  ({ ok, d } = parse(hex('f8 | 80 11 | 40 | 23 04 | aa')));
  t.ok(ok);
  t.match(d, { tid: 2, sid: 0, tl0PicIdx: -1, tl0PicIdxOffset: -1, pDiffCount: 2, headerSize: 6 });

  // pion FlexibleLayerIndicePictureID: F=1 with L: the byte after L is payload, not TL0PICIDX
  ({ ok, d } = parse(hex('b0 | 02 | 23 | 01 aa')));
  t.ok(ok);
  t.match(d, { tid: 1, sid: 1, tl0PicIdx: -1, headerSize: 3 });
});

t.test('malformed and truncated input returns false', async (t) => {
  const bad: Array<[string, string]> = [
    ['', 'empty'],
    ['80', 'I without picture id (pion)'],
    ['80 81', '15-bit picture id missing its second byte (pion)'],
    ['a0 02', 'L without layer byte (pion)'],
    ['a0 02 23', 'non-flexible L without TL0PICIDX (pion)'],
    ['d0', 'flexible P without picture id / P_DIFF'],
    ['d0 02', 'flexible P without P_DIFF (pion)'],
    ['d0 02 03', 'P_DIFF N=1 but no next P_DIFF (pion)'],
    ['d0 02 03 05 07 09 10 aa', 'more than 3 P_DIFFs (pion)'],
    ['02', 'V without SS'],
    ['0a 30 02 80 01', 'SS resolutions truncated'],
    ['0a 08', 'SS G=1 without N_G'],
    ['0a 08 01', 'SS N_G=1 without its entry'],
    ['0a 08 01 04', 'SS entry R=1 without its P_DIFF'],
    ['0a 08 02 0c 01 02 03', 'SS second entry missing'],
  ];
  for (const [h, why] of bad) t.equal(parse(hex(h)).ok, false, why);
  const full = hex('aa 80 00 00 00 58 01 40 00 b4 02 80 01 68 05 00 02 d0 02 04 02 34 01');
  for (let n = 0; n < full.length; n++) t.equal(parse(full, 0, n).ok, false, `prefix ${n}`);
  t.equal(parse(full, 0, full.length).ok, true);
  t.equal(parse(full, 1, full.length).ok, false, 'window past the end');
});
