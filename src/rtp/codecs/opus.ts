/**
 * Opus TOC byte: zero-alloc parse of the first byte of an Opus RTP payload.
 *
 * RFC 6716 section 3.1 (https://www.rfc-editor.org/rfc/rfc6716#section-3.1);
 * RTP carriage per RFC 7587 (https://www.rfc-editor.org/rfc/rfc7587), one
 * Opus packet per RTP payload:
 *
 *    0 1 2 3 4 5 6 7
 *   +-+-+-+-+-+-+-+-+
 *   | config  |s| c |
 *   +-+-+-+-+-+-+-+-+
 *
 *   config  0-11  SILK-only   NB/MB/WB     10, 20, 40, 60 ms
 *          12-15  Hybrid      SWB/FB       10, 20 ms
 *          16-31  CELT-only   NB/WB/SWB/FB 2.5, 5, 10, 20 ms
 *   s       stereo
 *   c       0: 1 frame, 1: 2 equal frames, 2: 2 frames, 3: M frames (next byte,
 *           RFC 6716 section 3.2.5: |v|p|     M     |)
 *
 * Pure: no I/O, never throws, never allocates.
 */

export type OpusMode = 'silk' | 'hybrid' | 'celt';
export type OpusBandwidth = 'nb' | 'mb' | 'wb' | 'swb' | 'fb';

/** RFC 6716 section 3.2.5: a packet may not exceed 120 ms (5760 samples at 48 kHz). */
export const OPUS_MAX_PACKET_SAMPLES = 5760;

/** Parsed Opus TOC. */
export interface OpusDescriptor {
  /** TOC config (0-31). */
  config: number;
  mode: OpusMode;
  bandwidth: OpusBandwidth;
  stereo: boolean;
  /** Frame count code c (0-3). */
  frameCountCode: number;
  /** Frames in the packet: 1 (c=0), 2 (c=1,2) or M from the frame count byte (c=3). */
  frameCount: number;
  /** Duration of one frame in 48 kHz samples (120 = 2.5 ms ... 2880 = 60 ms). */
  frameSamples: number;
  /** frameCount * frameSamples. */
  packetSamples: number;
  /** Payload of 1-2 bytes: DTX / comfort noise (see isOpusDtx). */
  isDtx: boolean;
}

export function createOpusDescriptor(): OpusDescriptor {
  return {
    config: 0,
    mode: 'silk',
    bandwidth: 'nb',
    stereo: false,
    frameCountCode: 0,
    frameCount: 1,
    frameSamples: 480,
    packetSamples: 480,
    isDtx: false,
  };
}

// Frame duration per config in 48 kHz samples (RFC 6716 section 3.1, Table 2).
const FRAME_SAMPLES = [
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880, // SILK NB/MB/WB
  480, 960, 480, 960, // Hybrid SWB/FB
  120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, // CELT NB/WB/SWB/FB
] as const;

/**
 * An Opus RTP payload of 1 or 2 bytes carries no audio: it is what encoders
 * send during DTX (RFC 7587 section 3.1.3; a TOC byte alone codes a zero-length
 * frame, i.e. "no data, conceal or comfort noise").
 */
export function isOpusDtx(payloadLength: number): boolean {
  return payloadLength >= 1 && payloadLength <= 2;
}

/**
 * Parses the TOC byte (and the frame count byte of a code 3 packet) of the
 * Opus RTP payload `buf[off, off+len)` into `out`. Returns false when the
 * payload is empty, a code 3 packet lacks its frame count byte or has M=0,
 * or the packet would exceed 120 ms; `out` is then unspecified.
 */
export function parseOpus(buf: Uint8Array, off: number, len: number, out: OpusDescriptor): boolean {
  if (!(off >= 0 && len >= 1 && off + len <= buf.length)) return false;
  const toc = buf[off]!;
  const config = toc >> 3;
  out.config = config;
  out.stereo = (toc & 0x04) !== 0;
  out.frameCountCode = toc & 0x03;
  out.frameSamples = FRAME_SAMPLES[config] ?? 0;
  if (config < 12) {
    out.mode = 'silk';
    out.bandwidth = config < 4 ? 'nb' : config < 8 ? 'mb' : 'wb';
  } else if (config < 16) {
    out.mode = 'hybrid';
    out.bandwidth = config < 14 ? 'swb' : 'fb';
  } else {
    out.mode = 'celt';
    out.bandwidth = config < 20 ? 'nb' : config < 24 ? 'wb' : config < 28 ? 'swb' : 'fb';
  }
  switch (out.frameCountCode) {
    case 0:
      out.frameCount = 1;
      break;
    case 1:
    case 2:
      out.frameCount = 2;
      break;
    default: {
      if (len < 2) return false;
      const m = buf[off + 1]! & 0x3f;
      if (m === 0) return false;
      out.frameCount = m;
      break;
    }
  }
  out.packetSamples = out.frameCount * out.frameSamples;
  if (out.packetSamples > OPUS_MAX_PACKET_SAMPLES) return false;
  out.isDtx = isOpusDtx(len);
  return true;
}
