/**
 * Codec payload dispatch: one call per ingress packet turns a codec-specific
 * RTP payload descriptor into the few facts the forwarding path needs
 * (key frame, frame boundaries, layer, picture ids).
 *
 * Per-codec formats and RFC links are in the sibling files. Everything here
 * is pure and zero-alloc: the caller owns one CodecDescriptors and one
 * CodecSummary per stream and passes them to every call.
 */

import { createAv1Descriptor, parseAv1 } from './av1.js';
import type { Av1Descriptor } from './av1.js';
import { createH264Descriptor, parseH264 } from './h264.js';
import type { H264Descriptor } from './h264.js';
import { createOpusDescriptor, parseOpus } from './opus.js';
import type { OpusDescriptor } from './opus.js';
import { createVp8Descriptor, parseVp8 } from './vp8.js';
import type { Vp8Descriptor } from './vp8.js';
import { createVp9Descriptor, parseVp9 } from './vp9.js';
import type { Vp9Descriptor } from './vp9.js';

export * from './av1.js';
export * from './h264.js';
export * from './opus.js';
export * from './vp8.js';
export * from './vp9.js';

export type CodecKind = 'vp8' | 'vp9' | 'h264' | 'av1' | 'opus';

/**
 * Codec-independent facts about one RTP payload. Absent ids are -1 (not
 * optional properties) so every summary keeps one object shape.
 */
export interface CodecSummary {
  /** Decoding can start at this packet (audio: always). */
  keyframe: boolean;
  /** The packet begins a frame (VP9: a layer frame). */
  startOfFrame: boolean;
  /**
   * The packet ends a frame, when the payload says so (VP9 E bit; audio:
   * always); undefined for codecs that leave it to the RTP marker bit.
   */
  endOfFrame: boolean | undefined;
  /** Spatial layer; 0 when the payload carries no layer indices (a single layer). */
  spatialLayer: number;
  /** Temporal layer; 0 when the payload carries no layer indices (a single layer). */
  temporalLayer: number;
  /** VP8/VP9 picture id, -1 when absent. */
  pictureId: number;
  /** VP8/VP9 TL0PICIDX, -1 when absent. */
  tl0PicIdx: number;
  /** A temporal switching point (VP8 Y bit, VP9 U bit): the frame depends only on lower layers' switch points. */
  layerSync: boolean;
  /** Absolute offset of the VP8/VP9 picture id field in the parsed buffer, -1 when absent (rewrite in place). */
  pictureIdOffset: number;
  /** Absolute offset of the VP8/VP9 TL0PICIDX byte, -1 when absent. */
  tl0PicIdxOffset: number;
  /**
   * Bit t set: the frame is a switch point into temporal layer t (a
   * Dependency Descriptor 'S' indication). Not set by the payload parsers:
   * the producer fills it from the DD, 0 without one.
   */
  temporalSwitchMask: number;
}

/** One reusable descriptor per codec; after a parse the matching one holds the full detail (e.g. VP8 rewrite offsets). */
export interface CodecDescriptors {
  readonly vp8: Vp8Descriptor;
  readonly vp9: Vp9Descriptor;
  readonly h264: H264Descriptor;
  readonly av1: Av1Descriptor;
  readonly opus: OpusDescriptor;
}

export function createCodecDescriptors(): CodecDescriptors {
  return {
    vp8: createVp8Descriptor(),
    vp9: createVp9Descriptor(),
    h264: createH264Descriptor(),
    av1: createAv1Descriptor(),
    opus: createOpusDescriptor(),
  };
}

export function createCodecSummary(): CodecSummary {
  return {
    keyframe: false,
    startOfFrame: false,
    endOfFrame: undefined,
    spatialLayer: 0,
    temporalLayer: 0,
    pictureId: -1,
    tl0PicIdx: -1,
    layerSync: false,
    pictureIdOffset: -1,
    tl0PicIdxOffset: -1,
    temporalSwitchMask: 0,
  };
}

/**
 * Parses the RTP payload `buf[off, off+len)` of codec `kind` into `d` (the
 * codec's descriptor) and `out`. Returns false for malformed input; `out`
 * is then unspecified. Never throws.
 */
export function parseCodecPayload(
  kind: CodecKind,
  buf: Uint8Array,
  off: number,
  len: number,
  d: CodecDescriptors,
  out: CodecSummary,
): boolean {
  switch (kind) {
    case 'vp8': {
      const v = d.vp8;
      if (!parseVp8(buf, off, len, v)) return false;
      out.keyframe = v.isKeyframe;
      out.startOfFrame = v.isStartOfFrame;
      out.endOfFrame = undefined;
      // VP8 simulcast layers are separate streams; the descriptor only knows temporal layers.
      out.spatialLayer = 0;
      out.temporalLayer = v.tid < 0 ? 0 : v.tid;
      out.pictureId = v.pictureId;
      out.tl0PicIdx = v.tl0PicIdx;
      out.layerSync = v.tid >= 0 && v.layerSync;
      out.pictureIdOffset = v.pictureIdOffset;
      out.tl0PicIdxOffset = v.tl0PicIdxOffset;
      return true;
    }
    case 'vp9': {
      const v = d.vp9;
      if (!parseVp9(buf, off, len, v)) return false;
      out.keyframe = v.isKeyframe;
      out.startOfFrame = v.startOfFrame;
      out.endOfFrame = v.endOfFrame;
      out.spatialLayer = v.sid < 0 ? 0 : v.sid;
      out.temporalLayer = v.tid < 0 ? 0 : v.tid;
      out.pictureId = v.pictureId;
      out.tl0PicIdx = v.tl0PicIdx;
      out.layerSync = v.switchingUpPoint;
      out.pictureIdOffset = v.pictureIdOffset;
      out.tl0PicIdxOffset = v.tl0PicIdxOffset;
      return true;
    }
    case 'h264': {
      const v = d.h264;
      if (!parseH264(buf, off, len, v)) return false;
      out.keyframe = v.isKeyframe;
      out.startOfFrame = v.isStartOfFrame;
      out.endOfFrame = undefined;
      out.spatialLayer = 0;
      out.temporalLayer = 0;
      out.pictureId = -1;
      out.tl0PicIdx = -1;
      out.layerSync = false;
      out.pictureIdOffset = -1;
      out.tl0PicIdxOffset = -1;
      return true;
    }
    case 'av1': {
      const v = d.av1;
      if (!parseAv1(buf, off, len, v)) return false;
      out.keyframe = v.isKeyframe;
      out.startOfFrame = v.isStartOfFrame;
      out.endOfFrame = undefined;
      out.spatialLayer = v.spatialId < 0 ? 0 : v.spatialId;
      out.temporalLayer = v.temporalId < 0 ? 0 : v.temporalId;
      out.pictureId = -1;
      out.tl0PicIdx = -1;
      out.layerSync = false;
      out.pictureIdOffset = -1;
      out.tl0PicIdxOffset = -1;
      return true;
    }
    case 'opus': {
      if (!parseOpus(buf, off, len, d.opus)) return false;
      // Every Opus packet decodes on its own: each is a whole "frame" and a switch point.
      out.keyframe = true;
      out.startOfFrame = true;
      out.endOfFrame = true;
      out.spatialLayer = 0;
      out.temporalLayer = 0;
      out.pictureId = -1;
      out.tl0PicIdx = -1;
      out.layerSync = false;
      out.pictureIdOffset = -1;
      out.tl0PicIdxOffset = -1;
      return true;
    }
  }
}

/** Maps an SDP/RTP mime type (`video/VP8`, `audio/opus`, case-insensitive) to a CodecKind. Control plane only. */
export function codecKindFromMimeType(mimeType: string): CodecKind | undefined {
  switch (mimeType.toLowerCase()) {
    case 'video/vp8':
      return 'vp8';
    case 'video/vp9':
      return 'vp9';
    case 'video/h264':
      return 'h264';
    case 'video/av1':
      return 'av1';
    case 'audio/opus':
      return 'opus';
    default:
      return undefined;
  }
}
