/**
 * SRTP/SRTCP (RFC 3711, RFC 7714) for the packet path: `SrtpContext` per
 * direction, in-place unprotect, protect into caller buffers, typed drop codes.
 */
export { SrtpContext } from './context.js';
export type { SrtpContextOptions, SrtpContextDump, SrtpSsrcDump } from './context.js';
export { SrtpError, SrtpConfigError, srtpErrorName } from './errors.js';
export type { SrtpErrorCode } from './errors.js';
export { deriveSessionKeys, srtpPrf } from './kdf.js';
export type { SrtpSessionKeys } from './kdf.js';
export {
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  srtpKeyingMaterialLength,
  srtpProfileFromId,
  srtpProfileParams,
} from './profile.js';
export type { SrtpProfile, SrtpProfileParams } from './profile.js';
export { ReplayWindow, estimateIndex, DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW } from './replay.js';
export { rtpHeaderLength } from './header.js';
