/**
 * SRTP protection profiles this package implements and their lengths.
 *
 * - SRTP_AES128_CM_HMAC_SHA1_80, RFC 3711 (https://www.rfc-editor.org/rfc/rfc3711)
 *   and RFC 5764 section 4.1.2: AES-128 counter mode, HMAC-SHA1 tag cut to 80 bits
 *   (SRTP and SRTCP), 112-bit master salt, 160-bit session authentication key.
 * - SRTP_AEAD_AES_128_GCM, RFC 7714 (https://www.rfc-editor.org/rfc/rfc7714)
 *   section 14.2: AES-128-GCM with a 96-bit salt and a 128-bit tag.
 *
 * DTLS-SRTP ids are from the IANA "DTLS-SRTP Protection Profiles" registry.
 */

export const SRTP_AES128_CM_HMAC_SHA1_80 = 'SRTP_AES128_CM_HMAC_SHA1_80';
export const SRTP_AEAD_AES_128_GCM = 'SRTP_AEAD_AES_128_GCM';

export type SrtpProfile = typeof SRTP_AES128_CM_HMAC_SHA1_80 | typeof SRTP_AEAD_AES_128_GCM;

export interface SrtpProfileParams {
  /** DTLS-SRTP protection profile id (RFC 5764 use_srtp extension). */
  readonly id: number;
  /** Master and session encryption key length in bytes. */
  readonly keyLength: number;
  /** Master and session salt length in bytes. */
  readonly saltLength: number;
  /** Session authentication key length in bytes (0 for AEAD). */
  readonly authKeyLength: number;
  /** SRTP/SRTCP authentication tag length in bytes. */
  readonly tagLength: number;
}

const CM: SrtpProfileParams = { id: 0x0001, keyLength: 16, saltLength: 14, authKeyLength: 20, tagLength: 10 };
const GCM: SrtpProfileParams = { id: 0x0007, keyLength: 16, saltLength: 12, authKeyLength: 0, tagLength: 16 };

export function srtpProfileParams(profile: SrtpProfile): SrtpProfileParams {
  switch (profile) {
    case SRTP_AES128_CM_HMAC_SHA1_80:
      return CM;
    case SRTP_AEAD_AES_128_GCM:
      return GCM;
  }
}

/** Maps a DTLS-SRTP protection profile id to a profile we implement, or null. */
export function srtpProfileFromId(id: number): SrtpProfile | null {
  if (id === CM.id) return SRTP_AES128_CM_HMAC_SHA1_80;
  if (id === GCM.id) return SRTP_AEAD_AES_128_GCM;
  return null;
}

/**
 * Keying material the DTLS exporter must produce for one profile
 * (RFC 5764 section 4.2: 2 * (key + salt) bytes, client first).
 */
export function srtpKeyingMaterialLength(profile: SrtpProfile): number {
  const p = srtpProfileParams(profile);
  return 2 * (p.keyLength + p.saltLength);
}
