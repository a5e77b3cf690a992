// Codec dispatch: one summary shape for every codec kind.
import t from 'tap';
import {
  codecKindFromMimeType,
  createCodecDescriptors,
  createCodecSummary,
  parseCodecPayload,
} from '../../src/rtp/codecs/index.js';
import type { CodecKind, CodecSummary } from '../../src/rtp/codecs/index.js';

/** Bytes from a hex string; `|` and spaces are separators for readability. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

const d = createCodecDescriptors();
const out = createCodecSummary();

function summary(kind: CodecKind, h: string): CodecSummary | false {
  const b = hex(h);
  return parseCodecPayload(kind, b, 0, b.length, d, out) ? { ...out } : false;
}

t.test('summaries per codec', async (t) => {
  // VP8: X S | I L T | picture id 0x1a0c | TL0PICIDX 7 | TID=2 | key frame 640x480
  t.same(summary('vp8', '90 e0 9a 0c 07 80 50 42 00 9d 01 2a 80 02 e0 01'), {
    keyframe: true,
    startOfFrame: true,
    endOfFrame: undefined,
    spatialLayer: 0,
    temporalLayer: 2,
    pictureId: 0x1a0c,
    tl0PicIdx: 7,
    layerSync: false,
    pictureIdOffset: 2,
    tl0PicIdxOffset: 4,
    temporalSwitchMask: 0,
  });
  t.equal(d.vp8.width, 640, 'full detail stays in the codec descriptor');
  // VP8 without T: a single temporal layer
  t.match(summary('vp8', '10 31'), { temporalLayer: 0, pictureId: -1, tl0PicIdx: -1, keyframe: false });

  // VP9: I P L B E | pid 5 | TID=1 SID=2 D=1 | TL0PICIDX 9
  t.same(summary('vp9', 'ec 05 25 09 aa'), {
    keyframe: false,
    startOfFrame: true,
    endOfFrame: true,
    spatialLayer: 2,
    temporalLayer: 1,
    pictureId: 5,
    tl0PicIdx: 9,
    layerSync: false,
    pictureIdOffset: 1,
    tl0PicIdxOffset: 3,
    temporalSwitchMask: 0,
  });

  // H264 FU-A IDR start
  t.same(summary('h264', '7c 85 88 84'), {
    keyframe: true,
    startOfFrame: true,
    endOfFrame: undefined,
    spatialLayer: 0,
    temporalLayer: 0,
    pictureId: -1,
    tl0PicIdx: -1,
    layerSync: false,
    pictureIdOffset: -1,
    tl0PicIdxOffset: -1,
    temporalSwitchMask: 0,
  });

  // AV1: N=1 W=1, sequence header; W=1 frame OBU with extension tid 1 sid 1
  t.match(summary('av1', '18 0a 0b 00'), { keyframe: true, startOfFrame: true, spatialLayer: 0, temporalLayer: 0 });
  t.match(summary('av1', '10 34 28 aa'), { keyframe: false, spatialLayer: 1, temporalLayer: 1 });

  // Opus: every packet is a switch point and a whole frame
  t.same(summary('opus', 'f8 ff fe'), {
    keyframe: true,
    startOfFrame: true,
    endOfFrame: true,
    spatialLayer: 0,
    temporalLayer: 0,
    pictureId: -1,
    tl0PicIdx: -1,
    layerSync: false,
    pictureIdOffset: -1,
    tl0PicIdxOffset: -1,
    temporalSwitchMask: 0,
  });

  for (const kind of ['vp8', 'vp9', 'h264', 'av1', 'opus'] as const) t.equal(summary(kind, ''), false, `${kind} empty`);
});

t.test('codecKindFromMimeType', async (t) => {
  t.equal(codecKindFromMimeType('video/VP8'), 'vp8');
  t.equal(codecKindFromMimeType('video/vp9'), 'vp9');
  t.equal(codecKindFromMimeType('video/H264'), 'h264');
  t.equal(codecKindFromMimeType('video/AV1'), 'av1');
  t.equal(codecKindFromMimeType('audio/opus'), 'opus');
  t.equal(codecKindFromMimeType('audio/PCMU'), undefined);
});
