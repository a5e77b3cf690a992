// Property-based fuzz for the codec payload parsers: arbitrary bytes and
// windows never throw, and generated descriptors parse back to their fields.
import fc from 'fast-check';
import t from 'tap';
import {
  createAv1Descriptor,
  createCodecDescriptors,
  createCodecSummary,
  createH264Descriptor,
  createLeb128,
  createOpusDescriptor,
  createVp8Descriptor,
  createVp9Descriptor,
  parseAv1,
  parseCodecPayload,
  parseH264,
  parseOpus,
  parseVp8,
  parseVp9,
  readLeb128,
  readUe,
  writeVp8PictureId,
  writeVp8Tl0PicIdx,
} from '../../src/rtp/codecs/index.js';

const NUM_RUNS = 10_000;

/** Bytes plus a window that may fall partly or wholly outside them. */
const bytesAndWindow = fc
  .uint8Array({ minLength: 0, maxLength: 96 })
  .chain((b) =>
    fc.tuple(fc.constant(b), fc.integer({ min: -2, max: b.length + 2 }), fc.integer({ min: -2, max: b.length + 2 })),
  );

t.test('arbitrary bytes never throw', async (t) => {
  const vp8 = createVp8Descriptor();
  const vp9 = createVp9Descriptor();
  const h264 = createH264Descriptor();
  const av1 = createAv1Descriptor();
  const opus = createOpusDescriptor();
  const all = createCodecDescriptors();
  const sum = createCodecSummary();
  const leb = createLeb128();

  t.doesNotThrow(() =>
    fc.assert(
      fc.property(bytesAndWindow, ([b, off, len]) => {
        if (parseVp8(b, off, len, vp8)) {
          if (!(vp8.headerSize >= 1 && vp8.headerSize < len)) return false;
          if (vp8.pictureIdOffset >= 0 && !(vp8.pictureIdOffset > off && vp8.pictureIdOffset < off + vp8.headerSize)) return false;
        }
        return true;
      }),
      { numRuns: NUM_RUNS },
    ),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(bytesAndWindow, ([b, off, len]) => {
        if (parseVp9(b, off, len, vp9)) {
          if (!(vp9.headerSize >= 1 && vp9.headerSize <= len)) return false;
          if (vp9.pDiffCount > 3 || vp9.spatialLayerCount > 8) return false;
        }
        return true;
      }),
      { numRuns: NUM_RUNS },
    ),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(bytesAndWindow, ([b, off, len]) => {
        if (parseH264(b, off, len, h264) && h264.nalCount < 1) return false;
        return true;
      }),
      { numRuns: NUM_RUNS },
    ),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(bytesAndWindow, ([b, off, len]) => {
        if (parseAv1(b, off, len, av1) && av1.elementCount < 1) return false;
        readLeb128(b, off, off + len, leb);
        readUe(b, off, off + len);
        return true;
      }),
      { numRuns: NUM_RUNS },
    ),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(bytesAndWindow, ([b, off, len]) => {
        if (parseOpus(b, off, len, opus) && !(opus.packetSamples > 0 && opus.packetSamples <= 5760)) return false;
        return true;
      }),
      { numRuns: NUM_RUNS },
    ),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(
        fc.constantFrom('vp8', 'vp9', 'h264', 'av1', 'opus' as const),
        bytesAndWindow,
        (kind, [b, off, len]) => {
          parseCodecPayload(kind, b, off, len, all, sum);
        },
      ),
      { numRuns: NUM_RUNS },
    ),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.integer({ min: -2, max: 10 }), fc.integer(), (b, off, v) => {
        const copy = Uint8Array.from(b);
        writeVp8PictureId(copy, off, v);
        writeVp8Tl0PicIdx(copy, off, v);
        return copy.length === b.length;
      }),
      { numRuns: NUM_RUNS },
    ),
  );
});

interface Vp8Fields {
  nonReference: boolean;
  startOfPartition: boolean;
  partitionIndex: number;
  forceExtension: boolean;
  picture: { long: boolean; id: number } | null;
  tl0PicIdx: number | null;
  temporal: { tid: number; y: boolean } | null;
  keyIdx: number | null;
  payload: Uint8Array;
}

const vp8Fields: fc.Arbitrary<Vp8Fields> = fc.record({
  nonReference: fc.boolean(),
  startOfPartition: fc.boolean(),
  partitionIndex: fc.integer({ min: 0, max: 7 }),
  forceExtension: fc.boolean(),
  picture: fc.option(fc.record({ long: fc.boolean(), id: fc.integer({ min: 0, max: 0x7fff }) })),
  tl0PicIdx: fc.option(fc.integer({ min: 0, max: 255 })),
  temporal: fc.option(fc.record({ tid: fc.integer({ min: 0, max: 3 }), y: fc.boolean() })),
  keyIdx: fc.option(fc.integer({ min: 0, max: 31 })),
  payload: fc.uint8Array({ minLength: 1, maxLength: 16 }),
});

/** Test-side VP8 descriptor encoder (RFC 7741 section 4.2), written independently of the parser. */
function encodeVp8(f: Vp8Fields): Uint8Array {
  const out: number[] = [];
  const extended = f.forceExtension || f.picture !== null || f.tl0PicIdx !== null || f.temporal !== null || f.keyIdx !== null;
  out.push((extended ? 0x80 : 0) | (f.nonReference ? 0x20 : 0) | (f.startOfPartition ? 0x10 : 0) | f.partitionIndex);
  if (extended) {
    out.push(
      (f.picture ? 0x80 : 0) | (f.tl0PicIdx !== null ? 0x40 : 0) | (f.temporal ? 0x20 : 0) | (f.keyIdx !== null ? 0x10 : 0),
    );
  }
  if (f.picture) {
    if (f.picture.long) out.push(0x80 | (f.picture.id >> 8), f.picture.id & 0xff);
    else out.push(f.picture.id & 0x7f);
  }
  if (f.tl0PicIdx !== null) out.push(f.tl0PicIdx);
  if (f.temporal || f.keyIdx !== null) {
    out.push((f.temporal ? (f.temporal.tid << 6) | (f.temporal.y ? 0x20 : 0) : 0) | (f.keyIdx ?? 0));
  }
  return Uint8Array.from([...out, ...f.payload]);
}

t.test('VP8: generated descriptors parse back to the same fields', async (t) => {
  const d = createVp8Descriptor();
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(vp8Fields, fc.integer({ min: 0, max: 8 }), (f, pad) => {
        const enc = encodeVp8(f);
        // place it at an offset inside a larger buffer, as after an RTP header
        const buf = new Uint8Array(pad + enc.length + pad).fill(0xee);
        buf.set(enc, pad);
        if (!parseVp8(buf, pad, enc.length, d)) return false;
        const headerSize = enc.length - f.payload.length;
        const expectedId = f.picture ? (f.picture.long ? f.picture.id : f.picture.id & 0x7f) : -1;
        return (
          d.headerSize === headerSize &&
          d.nonReference === f.nonReference &&
          d.startOfPartition === f.startOfPartition &&
          d.partitionIndex === f.partitionIndex &&
          d.pictureId === expectedId &&
          d.pictureIdBits === (f.picture ? (f.picture.long ? 15 : 7) : 0) &&
          d.tl0PicIdx === (f.tl0PicIdx ?? -1) &&
          d.tid === (f.temporal ? f.temporal.tid : -1) &&
          d.layerSync === (f.temporal ? f.temporal.y : false) &&
          d.keyIdx === (f.keyIdx ?? -1) &&
          d.isStartOfFrame === (f.startOfPartition && f.partitionIndex === 0) &&
          d.isKeyframe === (d.isStartOfFrame && ((f.payload[0] ?? 1) & 1) === 0)
        );
      }),
      { numRuns: NUM_RUNS },
    ),
  );
});

t.test('VP8: in-place rewrite of generated descriptors re-parses', async (t) => {
  const d = createVp8Descriptor();
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(vp8Fields, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (f, id, tl0) => {
        const buf = encodeVp8(f);
        if (!parseVp8(buf, 0, buf.length, d)) return false;
        const before = { ...d };
        const payload = buf.slice(d.headerSize);
        const wroteId = writeVp8PictureId(buf, d.pictureIdOffset, id);
        const wroteTl0 = writeVp8Tl0PicIdx(buf, d.tl0PicIdxOffset, tl0);
        if (wroteId !== d.pictureIdOffset >= 0 || wroteTl0 !== d.tl0PicIdxOffset >= 0) return false;
        if (!parseVp8(buf, 0, buf.length, d)) return false;
        const idMask = before.pictureIdBits === 15 ? 0x7fff : 0x7f;
        return (
          d.headerSize === before.headerSize &&
          d.pictureIdBits === before.pictureIdBits &&
          d.pictureId === (before.pictureId < 0 ? -1 : id & idMask) &&
          d.tl0PicIdx === (before.tl0PicIdx < 0 ? -1 : tl0 & 0xff) &&
          d.tid === before.tid &&
          d.keyIdx === before.keyIdx &&
          Buffer.from(buf.subarray(d.headerSize)).equals(payload)
        );
      }),
      { numRuns: NUM_RUNS },
    ),
  );
});

t.test('H264: generated STAP-A packets count their NAL units', async (t) => {
  const d = createH264Descriptor();
  const nal = fc
    .tuple(fc.integer({ min: 1, max: 23 }), fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 20 }))
    .map(([type, nri, body]) => Uint8Array.from([(nri << 5) | type, ...body]));
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(nal, { minLength: 1, maxLength: 6 }), (nals) => {
        const parts: number[] = [0x78];
        for (const n of nals) parts.push(n.length >> 8, n.length & 0xff, ...n);
        const buf = Uint8Array.from(parts);
        if (!parseH264(buf, 0, buf.length, d)) return false;
        const types = nals.map((n) => (n[0] ?? 0) & 0x1f);
        return (
          d.nalCount === nals.length &&
          d.nalType === types[0] &&
          d.hasSps === types.includes(7) &&
          d.hasPps === types.includes(8) &&
          d.hasIdr === types.includes(5) &&
          d.isKeyframe === (types.includes(5) || types.includes(7))
        );
      }),
      { numRuns: NUM_RUNS },
    ),
  );
});

t.test('AV1: leb128 encodings of 32-bit values read back', async (t) => {
  const r = createLeb128();
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 3 }), (v, padBytes) => {
        const enc: number[] = [];
        let x = v;
        do {
          enc.push((x % 128) | 0x80);
          x = Math.floor(x / 128);
        } while (x > 0);
        // optional zero padding (0x80 continuation bytes) up to the 8-byte limit
        for (let i = 0; i < padBytes && enc.length < 8; i++) enc.push(0x80);
        enc[enc.length - 1] = (enc[enc.length - 1] ?? 0) & 0x7f;
        const b = Uint8Array.from(enc);
        return readLeb128(b, 0, b.length, r) && r.value === v && r.size === b.length;
      }),
      { numRuns: NUM_RUNS },
    ),
  );
});
