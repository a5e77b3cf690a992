/**
 * Values of the RTP header extensions an SFU reads or writes. Each reader takes
 * the offset and length that `RtpView.findExtension()` returned, so nothing is
 * allocated per packet; readers return -1 (or null for strings) when the
 * element is too short for its format.
 *
 *   mid                 RFC 9143 section 15          urn:ietf:params:rtp-hdrext:sdes:mid
 *   rid                 RFC 8852 section 3.1         urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id
 *   repaired-rid        RFC 8852 section 3.2         urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id
 *   abs-send-time       webrtc.googlesource.com/src/+/main/docs/native-code/rtp-hdrext/abs-send-time
 *   transport-wide-cc   draft-holmer-rmcat-transport-wide-cc-extensions-01 section 2
 *   ssrc-audio-level    RFC 6464 section 3           urn:ietf:params:rtp-hdrext:ssrc-audio-level
 *   dependency-descriptor  AV1 RTP spec appendix A (mandatory fields here; the full reader is ./dependency-descriptor.ts)
 */

export const EXT_URI = {
  mid: 'urn:ietf:params:rtp-hdrext:sdes:mid',
  rid: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  repairedRid: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  absSendTime: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  transportWideCc: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  audioLevel: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  dependencyDescriptor:
    'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension',
  videoOrientation: 'urn:3gpp:video-orientation',
  playoutDelay: 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
} as const;

export type ExtensionName = keyof typeof EXT_URI;

/**
 * mid / rid / repaired-rid: an SDES item carried as ASCII (RFC 8852 allows
 * only alphanumerics, '-' and '_'). Allocates a string: call on stream
 * discovery, not per forwarded packet.
 */
export function readSdesString(buf: Buffer, offset: number, length: number): string | null {
  if (offset < 0 || length <= 0 || offset + length > buf.length) return null;
  // Some senders pad with trailing NULs inside the element.
  let end = offset + length;
  while (end > offset && buf[end - 1] === 0) end--;
  return end > offset ? buf.toString('latin1', offset, end) : null;
}

/** Writes an SDES string value; returns bytes written. */
export function writeSdesString(value: string, buf: Buffer, offset: number): number {
  return buf.write(value, offset, 'latin1');
}

/** abs-send-time: 24-bit unsigned 6.18 fixed-point seconds. */
export function readAbsSendTime(buf: Buffer, offset: number, length: number): number {
  if (length < 3 || offset < 0 || offset + 3 > buf.length) return -1;
  return (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
}

/** Converts milliseconds of a wall clock to the 6.18 fixed-point abs-send-time field. */
export function absSendTimeFromMs(ms: number): number {
  // (ms / 1000) * 2^18, wrapped at 64 s (the field's 6 integer bits).
  return Math.floor((ms * 262.144) % 0x1000000);
}

export function writeAbsSendTime(value: number, buf: Buffer, offset: number): number {
  buf[offset] = (value >>> 16) & 0xff;
  buf[offset + 1] = (value >>> 8) & 0xff;
  buf[offset + 2] = value & 0xff;
  return 3;
}

/** transport-wide-cc: a 16-bit transport-wide sequence number. */
export function readTransportWideSeq(buf: Buffer, offset: number, length: number): number {
  if (length < 2 || offset < 0 || offset + 2 > buf.length) return -1;
  return (buf[offset]! << 8) | buf[offset + 1]!;
}

export function writeTransportWideSeq(seq: number, buf: Buffer, offset: number): number {
  buf[offset] = (seq >>> 8) & 0xff;
  buf[offset + 1] = seq & 0xff;
  return 2;
}

/**
 * ssrc-audio-level (RFC 6464 3): V bit (voice activity) and the level in
 * -dBov, 0 (loudest) to 127 (silence). Returns the byte as is, so the caller
 * reads `level = v & 0x7f` and `voice = (v & 0x80) !== 0` without an object.
 */
export function readAudioLevelByte(buf: Buffer, offset: number, length: number): number {
  if (length < 1 || offset < 0 || offset >= buf.length) return -1;
  return buf[offset]!;
}

export function writeAudioLevel(level: number, voice: boolean, buf: Buffer, offset: number): number {
  buf[offset] = (voice ? 0x80 : 0) | (Math.max(0, Math.min(127, level)) & 0x7f);
  return 1;
}

/**
 * The dependency descriptor's mandatory fields (AV1 RTP spec A.8.1):
 *   start_of_frame (1) | end_of_frame (1) | frame_dependency_template_id (6) | frame_number (16)
 * The rest (template structure, active decode targets) is read by
 * `parseDependencyDescriptor` (./dependency-descriptor.ts), which needs the
 * stream's remembered structure.
 */
export interface DependencyDescriptorHead {
  startOfFrame: boolean;
  endOfFrame: boolean;
  templateId: number;
  frameNumber: number;
  /** True when more than the three mandatory bytes are present (extended fields follow). */
  hasExtendedFields: boolean;
}

export function readDependencyDescriptorHead(
  buf: Buffer,
  offset: number,
  length: number,
  out: DependencyDescriptorHead,
): boolean {
  if (length < 3 || offset < 0 || offset + length > buf.length) return false;
  const b0 = buf[offset]!;
  out.startOfFrame = (b0 & 0x80) !== 0;
  out.endOfFrame = (b0 & 0x40) !== 0;
  out.templateId = b0 & 0x3f;
  out.frameNumber = (buf[offset + 1]! << 8) | buf[offset + 2]!;
  out.hasExtendedFields = length > 3;
  return true;
}
