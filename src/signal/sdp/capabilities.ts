/**
 * The router's RTP capabilities: the codecs, RTCP feedback and header
 * extensions sfud forwards, in "router space" (our payload types and
 * extension ids). Negotiation maps each peer's payload types and ids onto
 * these entries; the router only ever sees a `CodecCapability`.
 *
 * Codec matching follows the codecs' own rules, not string equality of fmtp:
 *   - H.264: RFC 6184 section 8.1 and 8.2.2, same profile (profile_idc plus
 *     constraint flags, see `h264Profile()`) and packetization-mode; any level.
 *   - VP9: draft-ietf-payload-vp9 section 6, same profile-id (default 0).
 *   - AV1: AV1 RTP spec section 7.2, same profile (default 0).
 *   - Opus: RFC 7587 section 7, opus/48000/2 whatever the fmtp.
 */
import { EXT_URI } from '../../rtp/extensions.js';

export type MediaKind = 'audio' | 'video';

/** One a=rtcp-fb value: `nack`, `nack pli`, `ccm fir`, `goog-remb`, `transport-cc`. */
export interface RtcpFeedback {
  type: string;
  parameter?: string;
}

export interface CodecCapability {
  kind: MediaKind;
  /** Encoding name as in a=rtpmap, in its canonical case (opus, VP8, VP9, H264, AV1). */
  name: string;
  /** `kind/name`, e.g. video/VP8. */
  mimeType: string;
  clockRate: number;
  channels?: number;
  /** Canonical fmtp parameters the SFU writes in its own offers. */
  parameters: Readonly<Record<string, string>>;
  rtcpFeedback: readonly RtcpFeedback[];
  /** Router-space payload type. */
  payloadType: number;
  /** Router-space RTX payload type (video only). */
  rtxPayloadType?: number;
}

export interface HeaderExtensionCapability {
  kind: MediaKind;
  uri: string;
  /** Router-space id, used in the SFU's own offers. */
  id: number;
}

export interface RouterCapabilities {
  codecs: readonly CodecCapability[];
  headerExtensions: readonly HeaderExtensionCapability[];
}

const VIDEO_FB: readonly RtcpFeedback[] = [
  { type: 'nack' },
  { type: 'nack', parameter: 'pli' },
  { type: 'ccm', parameter: 'fir' },
  { type: 'goog-remb' },
  { type: 'transport-cc' },
];
const AUDIO_FB: readonly RtcpFeedback[] = [{ type: 'transport-cc' }];

function video(name: string, payloadType: number, parameters: Record<string, string> = {}): CodecCapability {
  return {
    kind: 'video',
    name,
    mimeType: `video/${name}`,
    clockRate: 90000,
    parameters,
    rtcpFeedback: VIDEO_FB,
    payloadType,
    rtxPayloadType: payloadType + 1,
  };
}

const H264_PARAMS = { 'level-asymmetry-allowed': '1', 'packetization-mode': '1' };

/** The codecs sfud forwards, in the order it prefers them in its own offers. */
export const ROUTER_CAPABILITIES: RouterCapabilities = {
  codecs: [
    {
      kind: 'audio',
      name: 'opus',
      mimeType: 'audio/opus',
      clockRate: 48000,
      channels: 2,
      parameters: { minptime: '10', useinbandfec: '1' },
      rtcpFeedback: AUDIO_FB,
      payloadType: 111,
    },
    video('VP8', 96),
    video('VP9', 98, { 'profile-id': '0' }),
    video('VP9', 100, { 'profile-id': '2' }),
    video('H264', 102, { ...H264_PARAMS, 'profile-level-id': '42e01f' }),
    video('H264', 104, { ...H264_PARAMS, 'profile-level-id': '640c1f' }),
    video('AV1', 106),
  ],
  // Ids follow Chromium's defaults, so an offer from Chromium maps 1:1.
  headerExtensions: [
    { kind: 'audio', uri: EXT_URI.audioLevel, id: 1 },
    { kind: 'audio', uri: EXT_URI.absSendTime, id: 2 },
    { kind: 'audio', uri: EXT_URI.transportWideCc, id: 3 },
    { kind: 'audio', uri: EXT_URI.mid, id: 4 },
    { kind: 'video', uri: EXT_URI.absSendTime, id: 2 },
    { kind: 'video', uri: EXT_URI.transportWideCc, id: 3 },
    { kind: 'video', uri: EXT_URI.mid, id: 4 },
    { kind: 'video', uri: EXT_URI.playoutDelay, id: 5 },
    { kind: 'video', uri: EXT_URI.rid, id: 10 },
    { kind: 'video', uri: EXT_URI.repairedRid, id: 11 },
    { kind: 'video', uri: EXT_URI.dependencyDescriptor, id: 12 },
    { kind: 'video', uri: EXT_URI.videoOrientation, id: 13 },
  ],
};

/** H.264 profiles as libwebrtc and RFC 6184 tell them apart (level is ignored). */
export type H264Profile =
  | 'constrained-baseline'
  | 'baseline'
  | 'main'
  | 'constrained-high'
  | 'high'
  | 'predictive-high-444';

/**
 * (profile_idc, profile-iop mask/value) -> profile, after H.264 Annex A.2:
 * constraint_set1 on Baseline means Constrained Baseline; Main with
 * constraint_set0, and Extended with set0+set1, are decodable as it too;
 * High with constraint_set4+set5 is Constrained High.
 * Each pattern is 8 bits, 'x' = don't care (most significant bit first).
 */
const H264_PROFILE_PATTERNS: readonly [number, string, H264Profile][] = [
  [0x42, 'x1xx0000', 'constrained-baseline'],
  [0x4d, '1xxx0000', 'constrained-baseline'],
  [0x58, '11xx0000', 'constrained-baseline'],
  [0x42, 'x0xx0000', 'baseline'],
  [0x58, '10xx0000', 'baseline'],
  [0x4d, '0x0x0000', 'main'],
  [0x64, '00000000', 'high'],
  [0x64, '00001100', 'constrained-high'],
  [0xf4, '00000000', 'predictive-high-444'],
];

function matchesBits(value: number, pattern: string): boolean {
  for (let i = 0; i < 8; i++) {
    const want = pattern[i];
    if (want === 'x') continue;
    const bit = (value >> (7 - i)) & 1;
    if (String(bit) !== want) return false;
  }
  return true;
}

/** The profile of an H.264 `profile-level-id` (6 hex digits), or null when it is malformed or unknown. */
export function h264Profile(profileLevelId: string): H264Profile | null {
  if (!/^[0-9a-fA-F]{6}$/.test(profileLevelId)) return null;
  const idc = parseInt(profileLevelId.slice(0, 2), 16);
  const iop = parseInt(profileLevelId.slice(2, 4), 16);
  for (const [pIdc, pattern, profile] of H264_PROFILE_PATTERNS) {
    if (pIdc === idc && matchesBits(iop, pattern)) return profile;
  }
  return null;
}

/** What a codec offer needs for matching: the parsed a=rtpmap and a=fmtp of one payload type. */
export interface CodecDescriptionLike {
  name: string;
  clockRate: number;
  channels?: number;
  params: Readonly<Record<string, string>>;
}

function param(params: Readonly<Record<string, string>>, key: string, fallback: string): string {
  return Object.prototype.hasOwnProperty.call(params, key) ? (params[key] ?? fallback) : fallback;
}

/** True when a peer's codec can be forwarded as `cap` (see the rules at the top of the file). */
export function codecMatches(cap: CodecCapability, codec: CodecDescriptionLike): boolean {
  if (codec.name.toLowerCase() !== cap.name.toLowerCase() || codec.clockRate !== cap.clockRate) return false;
  switch (cap.name.toLowerCase()) {
    case 'opus':
      // RFC 7587: always opus/48000/2 on the wire.
      return (codec.channels ?? 1) === 2;
    case 'vp9':
      return param(codec.params, 'profile-id', '0') === param(cap.parameters, 'profile-id', '0');
    case 'av1':
      return param(codec.params, 'profile', '0') === param(cap.parameters, 'profile', '0');
    case 'h264': {
      // RFC 6184 8.1: profile-level-id defaults to 42000A (Baseline), packetization-mode to 0.
      const theirs = h264Profile(param(codec.params, 'profile-level-id', '42000a'));
      const ours = h264Profile(param(cap.parameters, 'profile-level-id', '42000a'));
      return (
        theirs !== null &&
        theirs === ours &&
        param(codec.params, 'packetization-mode', '0') === param(cap.parameters, 'packetization-mode', '0')
      );
    }
    default:
      return true;
  }
}

/** The first capability of `kind` that `codec` matches. */
export function findCodecCapability(
  caps: RouterCapabilities,
  kind: MediaKind,
  codec: CodecDescriptionLike,
): CodecCapability | undefined {
  return caps.codecs.find((c) => c.kind === kind && codecMatches(c, codec));
}

/** The header extension capability of `kind` with this URI. */
export function findExtensionCapability(
  caps: RouterCapabilities,
  kind: MediaKind,
  uri: string,
): HeaderExtensionCapability | undefined {
  return caps.headerExtensions.find((e) => e.kind === kind && e.uri === uri);
}

/** True when `fb` is one of the capability's feedback types (same type and parameter). */
export function supportsFeedback(cap: CodecCapability, fb: RtcpFeedback): boolean {
  return cap.rtcpFeedback.some((c) => c.type === fb.type && (c.parameter ?? '') === (fb.parameter ?? ''));
}
