/**
 * VP9 RTP payload descriptor: zero-alloc parse, including the scalability
 * structure (SS).
 *
 * RFC 9628 section 4.2 (https://www.rfc-editor.org/rfc/rfc9628#section-4.2),
 * flexible mode (F=1) and non-flexible mode (F=0):
 *
 *        0 1 2 3 4 5 6 7                  0 1 2 3 4 5 6 7
 *       +-+-+-+-+-+-+-+-+                +-+-+-+-+-+-+-+-+
 *       |I|P|L|F|B|E|V|Z| (REQUIRED)     |I|P|L|F|B|E|V|Z|
 *       +-+-+-+-+-+-+-+-+                +-+-+-+-+-+-+-+-+
 *  I:   |M| PICTURE ID  |           I:   |M| PICTURE ID  |
 *       +-+-+-+-+-+-+-+-+                +-+-+-+-+-+-+-+-+
 *  M:   | EXTENDED PID  |           M:   | EXTENDED PID  |
 *       +-+-+-+-+-+-+-+-+                +-+-+-+-+-+-+-+-+
 *  L:   | TID |U| SID |D|           L:   | TID |U| SID |D|
 *       +-+-+-+-+-+-+-+-+  -\            +-+-+-+-+-+-+-+-+
 *  P,F: | P_DIFF      |N|   up to 3      |   TL0PICIDX   |
 *       +-+-+-+-+-+-+-+-+  -/            +-+-+-+-+-+-+-+-+
 *  V:   | SS            |           V:   | SS            |
 *
 * Scalability structure, RFC 9628 section 4.2.1
 * (https://www.rfc-editor.org/rfc/rfc9628#section-4.2.1):
 *
 *       +-+-+-+-+-+-+-+-+
 *  V:   | N_S |Y|G|-|-|-|
 *       +-+-+-+-+-+-+-+-+              -\
 *  Y:   |     WIDTH     | (16 bits)     - N_S + 1 times
 *       |     HEIGHT    | (16 bits)    -/
 *       +-+-+-+-+-+-+-+-+
 *  G:   |      N_G      |
 *       +-+-+-+-+-+-+-+-+              -\
 *  N_G: | TID |U| R |-|-|               - N_G times
 *       |    P_DIFF     | (R times)    -/
 *       +-+-+-+-+-+-+-+-+
 *
 * Key frame rule used here: B=1 (start of a layer frame), P=0 (no
 * inter-picture prediction) and SID=0 (or no layer indices). A P=0 frame on
 * an upper spatial layer still depends on the layers below it (D=1 or not),
 * so only the base-layer frame starts a decodable picture.
 *
 * Pure: no I/O, never throws. The descriptor holds fixed-size typed arrays
 * allocated once by createVp9Descriptor(); parsing never allocates.
 */

/** N_S is 3 bits: at most 8 spatial layers. */
export const VP9_MAX_SPATIAL_LAYERS = 8;
/** N_G is 8 bits: at most 255 picture group entries. */
export const VP9_MAX_PICTURE_GROUPS = 255;
/** Flexible mode carries at most 3 P_DIFFs; R in the SS is 2 bits (0-3). */
export const VP9_MAX_P_DIFFS = 3;

/** Parsed VP9 payload descriptor. Absent numeric fields are -1. */
export interface Vp9Descriptor {
  /** I: picture id present. */
  hasPictureId: boolean;
  /** P: inter-picture predicted layer frame. */
  interPicturePredicted: boolean;
  /** L: layer indices present. */
  hasLayerIndices: boolean;
  /** F: flexible mode. */
  flexibleMode: boolean;
  /** B: start of a layer frame. */
  startOfFrame: boolean;
  /** E: end of a layer frame. */
  endOfFrame: boolean;
  /** V: scalability structure present. */
  hasScalabilityStructure: boolean;
  /** Z: not used as a reference by upper spatial layers. */
  notReferenceForUpperLayers: boolean;
  /** Picture id, -1 when I=0. */
  pictureId: number;
  /** 0 (absent), 7 or 15 bits. */
  pictureIdBits: number;
  /** Absolute offset in `buf` of the picture id field, -1 when absent. */
  pictureIdOffset: number;
  /** TID, -1 when L=0. */
  tid: number;
  /** U: switching up point. */
  switchingUpPoint: boolean;
  /** SID, -1 when L=0. */
  sid: number;
  /** D: inter-layer dependency. */
  interLayerDependent: boolean;
  /** TL0PICIDX (non-flexible mode with L=1), -1 otherwise. */
  tl0PicIdx: number;
  /** Absolute offset in `buf` of TL0PICIDX, -1 when absent. */
  tl0PicIdxOffset: number;
  /** Number of valid entries in `pDiffs` (flexible mode, P=1). */
  pDiffCount: number;
  /** Reference picture id deltas (flexible mode); first `pDiffCount` entries valid. */
  readonly pDiffs: Uint8Array;
  /** N_S + 1 when V=1, otherwise 0. */
  spatialLayerCount: number;
  /** Y: `widths`/`heights` hold `spatialLayerCount` valid entries. */
  hasResolutions: boolean;
  readonly widths: Uint16Array;
  readonly heights: Uint16Array;
  /** G: picture group description present. */
  hasPictureGroups: boolean;
  /** N_G (0 when G=0 or V=0). */
  pictureGroupCount: number;
  /** Per picture group entry: TID. */
  readonly pgTid: Uint8Array;
  /** Per picture group entry: U (0 or 1). */
  readonly pgSwitchingUp: Uint8Array;
  /** Per picture group entry: R, the number of P_DIFFs (0-3). */
  readonly pgRefCount: Uint8Array;
  /** Entry i's P_DIFFs are at `pgPDiffs[i * 3 + j]`, j < pgRefCount[i]. */
  readonly pgPDiffs: Uint8Array;
  /** Descriptor length in bytes; the VP9 payload starts at `offset + headerSize`. */
  headerSize: number;
  /** B=1, P=0 and SID 0 (see the rule at the top of this file). */
  isKeyframe: boolean;
}

export function createVp9Descriptor(): Vp9Descriptor {
  return {
    hasPictureId: false,
    interPicturePredicted: false,
    hasLayerIndices: false,
    flexibleMode: false,
    startOfFrame: false,
    endOfFrame: false,
    hasScalabilityStructure: false,
    notReferenceForUpperLayers: false,
    pictureId: -1,
    pictureIdBits: 0,
    pictureIdOffset: -1,
    tid: -1,
    switchingUpPoint: false,
    sid: -1,
    interLayerDependent: false,
    tl0PicIdx: -1,
    tl0PicIdxOffset: -1,
    pDiffCount: 0,
    pDiffs: new Uint8Array(VP9_MAX_P_DIFFS),
    spatialLayerCount: 0,
    hasResolutions: false,
    widths: new Uint16Array(VP9_MAX_SPATIAL_LAYERS),
    heights: new Uint16Array(VP9_MAX_SPATIAL_LAYERS),
    hasPictureGroups: false,
    pictureGroupCount: 0,
    pgTid: new Uint8Array(VP9_MAX_PICTURE_GROUPS),
    pgSwitchingUp: new Uint8Array(VP9_MAX_PICTURE_GROUPS),
    pgRefCount: new Uint8Array(VP9_MAX_PICTURE_GROUPS),
    pgPDiffs: new Uint8Array(VP9_MAX_PICTURE_GROUPS * VP9_MAX_P_DIFFS),
    headerSize: 0,
    isKeyframe: false,
  };
}

/**
 * Parses the VP9 payload descriptor of the RTP payload `buf[off, off+len)`
 * into `out`. Returns false for malformed input (truncated fields, more than
 * 3 P_DIFFs); `out` is then unspecified. An empty VP9 payload after the
 * descriptor is accepted (an SS-only packet parses).
 */
export function parseVp9(buf: Uint8Array, off: number, len: number, out: Vp9Descriptor): boolean {
  if (!(off >= 0 && len >= 1 && off + len <= buf.length)) return false;
  const end = off + len;
  let p = off;
  const b0 = buf[p++]!;
  out.hasPictureId = (b0 & 0x80) !== 0;
  out.interPicturePredicted = (b0 & 0x40) !== 0;
  out.hasLayerIndices = (b0 & 0x20) !== 0;
  out.flexibleMode = (b0 & 0x10) !== 0;
  out.startOfFrame = (b0 & 0x08) !== 0;
  out.endOfFrame = (b0 & 0x04) !== 0;
  out.hasScalabilityStructure = (b0 & 0x02) !== 0;
  out.notReferenceForUpperLayers = (b0 & 0x01) !== 0;
  out.pictureId = -1;
  out.pictureIdBits = 0;
  out.pictureIdOffset = -1;
  out.tid = -1;
  out.switchingUpPoint = false;
  out.sid = -1;
  out.interLayerDependent = false;
  out.tl0PicIdx = -1;
  out.tl0PicIdxOffset = -1;
  out.pDiffCount = 0;
  out.spatialLayerCount = 0;
  out.hasResolutions = false;
  out.hasPictureGroups = false;
  out.pictureGroupCount = 0;

  if (out.hasPictureId) {
    if (p >= end) return false;
    out.pictureIdOffset = p;
    const m = buf[p++]!;
    if (m & 0x80) {
      if (p >= end) return false;
      out.pictureId = ((m & 0x7f) << 8) | buf[p++]!;
      out.pictureIdBits = 15;
    } else {
      out.pictureId = m;
      out.pictureIdBits = 7;
    }
  }

  if (out.hasLayerIndices) {
    if (p >= end) return false;
    const l = buf[p++]!;
    out.tid = l >> 5;
    out.switchingUpPoint = (l & 0x10) !== 0;
    out.sid = (l >> 1) & 0x07;
    out.interLayerDependent = (l & 0x01) !== 0;
    if (!out.flexibleMode) {
      if (p >= end) return false;
      out.tl0PicIdxOffset = p;
      out.tl0PicIdx = buf[p++]!;
    }
  }

  if (out.flexibleMode && out.interPicturePredicted) {
    // P_DIFF bytes chain with the N bit; a fourth one is malformed.
    let n = 1;
    while (n) {
      if (p >= end || out.pDiffCount === VP9_MAX_P_DIFFS) return false;
      const d = buf[p++]!;
      out.pDiffs[out.pDiffCount++] = d >> 1;
      n = d & 0x01;
    }
  }

  if (out.hasScalabilityStructure) {
    p = parseScalabilityStructure(buf, p, end, out);
    if (p < 0) return false;
  }

  out.headerSize = p - off;
  out.isKeyframe = out.startOfFrame && !out.interPicturePredicted && out.sid <= 0;
  return true;
}

/** Parses the SS starting at `p`; returns the offset after it, or -1 if truncated. */
function parseScalabilityStructure(buf: Uint8Array, p: number, end: number, out: Vp9Descriptor): number {
  if (p >= end) return -1;
  const v = buf[p++]!;
  const layers = (v >> 5) + 1;
  out.spatialLayerCount = layers;
  out.hasResolutions = (v & 0x10) !== 0;
  out.hasPictureGroups = (v & 0x08) !== 0;
  if (out.hasResolutions) {
    if (end - p < layers * 4) return -1;
    for (let i = 0; i < layers; i++) {
      out.widths[i] = (buf[p]! << 8) | buf[p + 1]!;
      out.heights[i] = (buf[p + 2]! << 8) | buf[p + 3]!;
      p += 4;
    }
  }
  if (out.hasPictureGroups) {
    if (p >= end) return -1;
    const groups = buf[p++]!;
    out.pictureGroupCount = groups;
    for (let i = 0; i < groups; i++) {
      if (p >= end) return -1;
      const g = buf[p++]!;
      const refs = (g >> 2) & 0x03;
      out.pgTid[i] = g >> 5;
      out.pgSwitchingUp[i] = (g >> 4) & 0x01;
      out.pgRefCount[i] = refs;
      if (end - p < refs) return -1;
      for (let j = 0; j < refs; j++) out.pgPDiffs[i * VP9_MAX_P_DIFFS + j] = buf[p++]!;
    }
  }
  return p;
}
