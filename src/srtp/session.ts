/**
 * `SrtpSession`: the name and profile spelling the transport layer uses
 * (RFC 7714 / RFC 5764 names without the `SRTP_` prefix) over `SrtpContext`,
 * plus the helpers it needs to size buffers and classify drop codes.
 */

import { SrtpContext, type SrtpContextOptions } from './context.js';
import { SrtpError } from './errors.js';
import { SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80, type SrtpProfile } from './profile.js';

/** Profile names as negotiated by DTLS-SRTP (IANA registry spelling). */
export type SrtpProfileName = 'AEAD_AES_128_GCM' | 'AES_CM_128_HMAC_SHA1_80';

function toProfile(p: SrtpProfileName | SrtpProfile): SrtpProfile {
  switch (p) {
    case 'AEAD_AES_128_GCM':
    case SRTP_AEAD_AES_128_GCM:
      return SRTP_AEAD_AES_128_GCM;
    case 'AES_CM_128_HMAC_SHA1_80':
    case SRTP_AES128_CM_HMAC_SHA1_80:
      return SRTP_AES128_CM_HMAC_SHA1_80;
  }
}

export class SrtpSession extends SrtpContext {
  /** Largest `protectRtp` overhead over all profiles (GCM tag). */
  static readonly MAX_TRAILER = 16;
  /** Largest `protectRtcp` overhead over all profiles (GCM tag + E||index). */
  static readonly MAX_RTCP_TRAILER = 20;

  constructor(profile: SrtpProfileName | SrtpProfile, masterKey: Uint8Array, masterSalt: Uint8Array, opts?: SrtpContextOptions) {
    super(toProfile(profile), masterKey, masterSalt, opts);
  }

  static isReplay(code: number): boolean {
    return code === SrtpError.ReplayDuplicate || code === SrtpError.ReplayTooOld;
  }

  static isAuthFailure(code: number): boolean {
    return code === SrtpError.AuthFailed;
  }
}
