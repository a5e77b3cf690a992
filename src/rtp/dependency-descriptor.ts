/**
 * Dependency Descriptor RTP header extension: zero-alloc reader and the two
 * in-place rewrites an SFU needs.
 *
 * AV1 RTP spec, appendix A
 * (https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension),
 * URI https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension.
 * Browsers send it with AV1, VP8, VP9 and H.264 when it is negotiated; it is
 * the only place an H.264 stream says which temporal layer a packet is in.
 *
 * Mandatory fields (A.8.2), always the first three bytes:
 *
 *    0                   1                   2
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |S|E| template_id |        frame_number           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * then, when the element is longer than 3 bytes, a bit string (MSB first):
 *
 *   template_dependency_structure_present_flag  f(1)
 *   active_decode_targets_present_flag          f(1)
 *   custom_dtis_flag / custom_fdiffs_flag / custom_chains_flag  f(1) each
 *   [template_dependency_structure]             (first packet of a key frame)
 *   [active_decode_targets_bitmask]             f(DtCnt)
 *   [frame_dtis]  f(2) x DtCnt   [frame_fdiffs]  (f(2) size, f(4*size))*   [frame_chains] f(8) x chain_cnt
 *   zero padding
 *
 * The template structure arrives once per coded video sequence (on the first
 * packet of a key frame) and is needed to read every later packet of that
 * sequence: the caller keeps one `DdStream` per RTP stream (per SSRC) and
 * passes it to every parse. A packet whose template id the remembered
 * structure cannot resolve (no structure yet, or a new one was lost) parses
 * as DD_NO_STRUCTURE: its mandatory fields are valid, nothing else is.
 *
 * Pure: no I/O, never throws, never allocates per packet. A structure is read
 * into the stream's spare slot and swapped in only when the whole element
 * parsed, so a truncated key-frame packet never destroys the last good one.
 */

/** Limits of this reader (libwebrtc sends at most 4 spatial and 8 temporal ids, 32 decode targets). */
export const DD_MAX_TEMPLATES = 64;
export const DD_MAX_DECODE_TARGETS = 32;
export const DD_MAX_CHAINS = 32;
export const DD_MAX_SPATIAL_IDS = 4;
export const DD_MAX_TEMPORAL_IDS = 8;
/** Frame diffs kept per template or frame; more is refused as malformed (real encoders use 1-3). */
export const DD_MAX_FDIFFS = 16;

/** Decode target indications (A.8.3 table A.1). */
export const DTI_NOT_PRESENT = 0;
export const DTI_DISCARDABLE = 1;
export const DTI_SWITCH = 2;
export const DTI_REQUIRED = 3;

/** Parse results. */
export const DD_MALFORMED = 0;
/** Mandatory fields valid; the template is unknown (no structure for it yet). */
export const DD_NO_STRUCTURE = 1;
export const DD_OK = 2;
export type DdResult = typeof DD_MALFORMED | typeof DD_NO_STRUCTURE | typeof DD_OK;

/** A template dependency structure (A.8.2 template_dependency_structure), in flat typed arrays. */
export interface DdStructure {
  templateIdOffset: number;
  templateCount: number;
  /** DtCnt. */
  decodeTargetCount: number;
  chainCount: number;
  maxSpatialId: number;
  maxTemporalId: number;
  readonly templateSpatialId: Uint8Array;
  readonly templateTemporalId: Uint8Array;
  /** [template * DD_MAX_DECODE_TARGETS + dt] */
  readonly templateDti: Uint8Array;
  readonly templateFdiffCount: Uint8Array;
  /** [template * DD_MAX_FDIFFS + i], values 1-16. */
  readonly templateFdiff: Uint8Array;
  /** [template * DD_MAX_CHAINS + chain], values 0-15. */
  readonly templateChainFdiff: Uint8Array;
  readonly decodeTargetProtectedBy: Uint8Array;
  /** Highest spatial / temporal id of the frames each decode target contains (decode_target_layers()). */
  readonly decodeTargetSpatialId: Uint8Array;
  readonly decodeTargetTemporalId: Uint8Array;
  /** Per template: `temporalSwitchMask` of a frame that uses its DTIs, computed once per structure. */
  readonly templateSwitchMask: Uint8Array;
  resolutionsPresent: boolean;
  /** Max render size per spatial id (0 when absent). */
  readonly width: Uint16Array;
  readonly height: Uint16Array;
}

/** Per RTP stream: the structure in force and a spare one to parse a new structure into. */
export interface DdStream {
  structure: DdStructure;
  spare: DdStructure;
  /** A structure has been received. */
  hasStructure: boolean;
  /** Active decode targets in force (bit i: decode target i); a structure makes all active (A.4). */
  activeDecodeTargets: number;
}

/** One parsed element. Fields past the mandatory ones are valid only after DD_OK. */
export interface DependencyDescriptor {
  startOfFrame: boolean;
  endOfFrame: boolean;
  templateId: number;
  frameNumber: number;
  /** The packet carries a template dependency structure (the first packet of a key frame). */
  structureAttached: boolean;
  /** Bit position of active_decode_targets_bitmask from the element's first byte, -1 when absent. */
  activeDecodeTargetsBit: number;
  customDtis: boolean;
  customFdiffs: boolean;
  customChains: boolean;
  templateIndex: number;
  spatialId: number;
  temporalId: number;
  /** Number of frames this one refers to (frame diffs). */
  fdiffCount: number;
  /**
   * The custom values (frame_dtis, frame_fdiffs, frame_chains) when the
   * matching custom flag is set; a frame that follows its template leaves
   * them untouched (copying the template per packet costs more than the
   * rest of the parse: bench/micro/codecs.ts). Read through `frameDti`,
   * `frameFdiff` and `frameChainFdiff`, which take either.
   */
  readonly dti: Uint8Array;
  readonly fdiff: Uint16Array;
  readonly chainFdiff: Uint8Array;
  /** Max render size of the frame's spatial layer, 0 when the structure has none. */
  width: number;
  height: number;
}

export function createDdStructure(): DdStructure {
  return {
    templateIdOffset: 0,
    templateCount: 0,
    decodeTargetCount: 0,
    chainCount: 0,
    maxSpatialId: 0,
    maxTemporalId: 0,
    templateSpatialId: new Uint8Array(DD_MAX_TEMPLATES),
    templateTemporalId: new Uint8Array(DD_MAX_TEMPLATES),
    templateDti: new Uint8Array(DD_MAX_TEMPLATES * DD_MAX_DECODE_TARGETS),
    templateFdiffCount: new Uint8Array(DD_MAX_TEMPLATES),
    templateFdiff: new Uint8Array(DD_MAX_TEMPLATES * DD_MAX_FDIFFS),
    templateChainFdiff: new Uint8Array(DD_MAX_TEMPLATES * DD_MAX_CHAINS),
    decodeTargetProtectedBy: new Uint8Array(DD_MAX_DECODE_TARGETS),
    decodeTargetSpatialId: new Uint8Array(DD_MAX_DECODE_TARGETS),
    decodeTargetTemporalId: new Uint8Array(DD_MAX_DECODE_TARGETS),
    templateSwitchMask: new Uint8Array(DD_MAX_TEMPLATES),
    resolutionsPresent: false,
    width: new Uint16Array(DD_MAX_SPATIAL_IDS),
    height: new Uint16Array(DD_MAX_SPATIAL_IDS),
  };
}

export function createDdStream(): DdStream {
  return { structure: createDdStructure(), spare: createDdStructure(), hasStructure: false, activeDecodeTargets: 0 };
}

export function createDependencyDescriptor(): DependencyDescriptor {
  return {
    startOfFrame: false,
    endOfFrame: false,
    templateId: 0,
    frameNumber: 0,
    structureAttached: false,
    activeDecodeTargetsBit: -1,
    customDtis: false,
    customFdiffs: false,
    customChains: false,
    templateIndex: -1,
    spatialId: 0,
    temporalId: 0,
    dti: new Uint8Array(DD_MAX_DECODE_TARGETS),
    fdiffCount: 0,
    fdiff: new Uint16Array(DD_MAX_FDIFFS),
    chainFdiff: new Uint8Array(DD_MAX_CHAINS),
    width: 0,
    height: 0,
  };
}

/** The bit reader's state: one object for the module, so a parse allocates nothing (parses never nest). */
class BitReader {
  buf: Uint8Array = new Uint8Array(0);
  /** Bit positions in `buf`. */
  pos = 0;
  end = 0;
  ok = true;
}
const r = new BitReader();

/** f(n), n <= 32: past the end it reads 0 and marks the parse failed. */
function f(n: number): number {
  const pos = r.pos;
  if (pos + n > r.end) {
    r.ok = false;
    r.pos = r.end;
    return 0;
  }
  const buf = r.buf;
  let v = 0;
  if (n < 32) {
    for (let p = pos; p < pos + n; p++) v = (v << 1) | ((buf[p >>> 3]! >> (7 - (p & 7))) & 1);
  } else {
    // Multiplication, not <<: a 32-bit bitmask would turn negative.
    for (let p = pos; p < pos + n; p++) v = v * 2 + ((buf[p >>> 3]! >> (7 - (p & 7))) & 1);
  }
  r.pos = pos + n;
  return v;
}

/** ns(n): non-symmetric unsigned value in 0..n-1 (A.8.2). */
function ns(n: number): number {
  let w = 0;
  for (let x = n; x !== 0; x >>>= 1) w++;
  const m = (1 << w) - n;
  const v = f(w - 1);
  if (v < m) return v;
  return (v << 1) - m + f(1);
}

/**
 * Parses the element `buf[off, off+len)` with `stream`'s remembered
 * structure into `out`, updating `stream` (a new structure, the active
 * decode targets). Never throws.
 */
export function parseDependencyDescriptor(
  buf: Uint8Array,
  off: number,
  len: number,
  stream: DdStream,
  out: DependencyDescriptor,
): DdResult {
  if (!(off >= 0 && len >= 3 && off + len <= buf.length)) return DD_MALFORMED;
  const b0 = buf[off]!;
  out.startOfFrame = (b0 & 0x80) !== 0;
  out.endOfFrame = (b0 & 0x40) !== 0;
  out.templateId = b0 & 0x3f;
  out.frameNumber = (buf[off + 1]! << 8) | buf[off + 2]!;
  out.structureAttached = false;
  out.activeDecodeTargetsBit = -1;
  out.customDtis = false;
  out.customFdiffs = false;
  out.customChains = false;
  out.templateIndex = -1;
  r.buf = buf;
  r.pos = (off + 3) * 8;
  r.end = (off + len) * 8;
  r.ok = true;
  let structure = stream.structure;
  let known = stream.hasStructure;
  let active = stream.activeDecodeTargets;
  let activeBit = -1;
  if (len > 3) {
    const structurePresent = f(1) === 1;
    const activePresent = f(1) === 1;
    out.customDtis = f(1) === 1;
    out.customFdiffs = f(1) === 1;
    out.customChains = f(1) === 1;
    if (structurePresent) {
      // NOTE: the spec allows a structure only on the first packet of a coded video sequence.
      if (!out.startOfFrame) return DD_MALFORMED;
      structure = stream.spare;
      if (!readStructure(structure)) return DD_MALFORMED;
      known = true;
      out.structureAttached = true;
      active = structure.decodeTargetCount === 32 ? 0xffffffff : (1 << structure.decodeTargetCount) - 1;
    }
    if (activePresent) {
      if (!known) return DD_NO_STRUCTURE;
      activeBit = r.pos - off * 8;
      active = f(structure.decodeTargetCount);
    }
  }
  if (!r.ok) return DD_MALFORMED;
  if (!known) return DD_NO_STRUCTURE;
  const index = (out.templateId + 64 - structure.templateIdOffset) % 64;
  // Out of range: a new structure was lost or reordered (A.8.3): unknown, not broken.
  if (index >= structure.templateCount) return out.structureAttached ? DD_MALFORMED : DD_NO_STRUCTURE;
  out.templateIndex = index;
  out.spatialId = structure.templateSpatialId[index]!;
  out.temporalId = structure.templateTemporalId[index]!;
  if (out.customDtis) {
    const dtCount = structure.decodeTargetCount;
    for (let i = 0; i < dtCount; i++) out.dti[i] = f(2);
  }
  if (out.customFdiffs) {
    let n = 0;
    for (let size = f(2); size !== 0 && r.ok; size = f(2)) {
      if (n === DD_MAX_FDIFFS) return DD_MALFORMED;
      out.fdiff[n++] = f(4 * size) + 1;
    }
    out.fdiffCount = n;
  } else {
    out.fdiffCount = structure.templateFdiffCount[index]!;
  }
  if (out.customChains) {
    const chains = structure.chainCount;
    for (let i = 0; i < chains; i++) out.chainFdiff[i] = f(8);
  }
  if (!r.ok) return DD_MALFORMED;
  out.width = structure.resolutionsPresent ? structure.width[out.spatialId]! : 0;
  out.height = structure.resolutionsPresent ? structure.height[out.spatialId]! : 0;
  out.activeDecodeTargetsBit = activeBit;
  // Commit only now: a packet that failed to parse changes nothing.
  if (out.structureAttached) {
    stream.spare = stream.structure;
    stream.structure = structure;
    stream.hasStructure = true;
  }
  stream.activeDecodeTargets = active;
  return DD_OK;
}

/** template_dependency_structure() into `s`; false when malformed or past this reader's limits. */
function readStructure(s: DdStructure): boolean {
  s.templateIdOffset = f(6);
  const dtCount = f(5) + 1;
  s.decodeTargetCount = dtCount;
  // template_layers()
  let spatial = 0;
  let temporal = 0;
  let count = 0;
  let maxTemporal = 0;
  for (;;) {
    if (count === DD_MAX_TEMPLATES || spatial >= DD_MAX_SPATIAL_IDS || temporal >= DD_MAX_TEMPORAL_IDS) return false;
    s.templateSpatialId[count] = spatial;
    s.templateTemporalId[count] = temporal;
    count++;
    const idc = f(2);
    if (!r.ok) return false;
    if (idc === 3) break;
    if (idc === 1) {
      temporal++;
      if (temporal > maxTemporal) maxTemporal = temporal;
    } else if (idc === 2) {
      temporal = 0;
      spatial++;
    }
  }
  s.templateCount = count;
  s.maxSpatialId = spatial;
  s.maxTemporalId = maxTemporal;
  // template_dtis()
  for (let t = 0; t < count; t++) {
    const base = t * DD_MAX_DECODE_TARGETS;
    for (let i = 0; i < dtCount; i++) s.templateDti[base + i] = f(2);
  }
  // template_fdiffs()
  for (let t = 0; t < count; t++) {
    let n = 0;
    while (f(1) === 1) {
      if (n === DD_MAX_FDIFFS) return false;
      s.templateFdiff[t * DD_MAX_FDIFFS + n++] = f(4) + 1;
    }
    s.templateFdiffCount[t] = n;
    if (!r.ok) return false;
  }
  // template_chains()
  const chains = ns(dtCount + 1);
  s.chainCount = chains;
  if (chains > 0) {
    for (let i = 0; i < dtCount; i++) s.decodeTargetProtectedBy[i] = ns(chains);
    for (let t = 0; t < count; t++) {
      const base = t * DD_MAX_CHAINS;
      for (let c = 0; c < chains; c++) s.templateChainFdiff[base + c] = f(4);
    }
  }
  // decode_target_layers(): the highest layer each decode target contains.
  for (let i = 0; i < dtCount; i++) {
    let sid = 0;
    let tid = 0;
    for (let t = 0; t < count; t++) {
      if (s.templateDti[t * DD_MAX_DECODE_TARGETS + i] === DTI_NOT_PRESENT) continue;
      if (s.templateSpatialId[t]! > sid) sid = s.templateSpatialId[t]!;
      if (s.templateTemporalId[t]! > tid) tid = s.templateTemporalId[t]!;
    }
    s.decodeTargetSpatialId[i] = sid;
    s.decodeTargetTemporalId[i] = tid;
  }
  for (let t = 0; t < count; t++) s.templateSwitchMask[t] = switchMask(s, s.templateDti, t * DD_MAX_DECODE_TARGETS, s.templateSpatialId[t]!);
  s.resolutionsPresent = f(1) === 1;
  if (s.resolutionsPresent) {
    for (let sid = 0; sid <= s.maxSpatialId; sid++) {
      s.width[sid] = f(16) + 1;
      s.height[sid] = f(16) + 1;
    }
  }
  return r.ok;
}

/** Decode target indication of frame `d` for decode target `dt` (its own or its template's). Valid after DD_OK. */
export function frameDti(s: DdStructure, d: DependencyDescriptor, dt: number): number {
  return d.customDtis ? d.dti[dt]! : s.templateDti[d.templateIndex * DD_MAX_DECODE_TARGETS + dt]!;
}

/** Frame diff `i` (< fdiffCount) of frame `d`. Valid after DD_OK. */
export function frameFdiff(s: DdStructure, d: DependencyDescriptor, i: number): number {
  return d.customFdiffs ? d.fdiff[i]! : s.templateFdiff[d.templateIndex * DD_MAX_FDIFFS + i]!;
}

/** frame_chain_fdiff of chain `c` (< chainCount) for frame `d`. Valid after DD_OK. */
export function frameChainFdiff(s: DdStructure, d: DependencyDescriptor, c: number): number {
  return d.customChains ? d.chainFdiff[c]! : s.templateChainFdiff[d.templateIndex * DD_MAX_CHAINS + c]!;
}

function switchMask(s: DdStructure, dti: Uint8Array, base: number, spatialId: number): number {
  let mask = 0;
  for (let i = 0; i < s.decodeTargetCount; i++) {
    if (dti[base + i] === DTI_SWITCH && s.decodeTargetSpatialId[i] === spatialId) mask |= 1 << s.decodeTargetTemporalId[i]!;
  }
  return mask;
}

/**
 * Bit t set when this frame is a switch point (DTI 'S', A.7) into the
 * decode target of its spatial layer whose highest temporal layer is t:
 * forwarding that target may start here. Valid after DD_OK.
 */
export function temporalSwitchMask(s: DdStructure, d: DependencyDescriptor): number {
  return d.customDtis ? switchMask(s, d.dti, 0, d.spatialId) : s.templateSwitchMask[d.templateIndex]!;
}

/** The decode targets made only of layers up to (spatial, temporal) (bit i: target i). */
export function decodeTargetsUpTo(s: DdStructure, spatial: number, temporal: number): number {
  let mask = 0;
  for (let i = 0; i < s.decodeTargetCount; i++) {
    if (s.decodeTargetSpatialId[i]! <= spatial && s.decodeTargetTemporalId[i]! <= temporal) mask += 2 ** i;
  }
  return mask;
}

/** Rewrites frame_number of the element at `off` in place. */
export function writeDdFrameNumber(buf: Uint8Array, off: number, frameNumber: number): void {
  buf[off + 1] = (frameNumber >>> 8) & 0xff;
  buf[off + 2] = frameNumber & 0xff;
}

/**
 * Rewrites an active_decode_targets_bitmask already in the element at
 * `off` (bit position `bit` from `activeDecodeTargetsBit`, `count` = DtCnt
 * bits wide) in place: same width, so no byte moves.
 */
export function writeDdActiveDecodeTargets(buf: Uint8Array, off: number, bit: number, count: number, mask: number): void {
  for (let i = 0; i < count; i++) {
    const p = off * 8 + bit + i;
    const shift = 7 - (p & 7);
    // MSB first: the first bit written is decode target count-1.
    const v = Math.floor(mask / 2 ** (count - 1 - i)) & 1;
    const at = p >>> 3;
    buf[at] = (buf[at]! & ~(1 << shift)) | (v << shift);
  }
}
