/**
 * SRTP key derivation, RFC 3711 section 4.3 (https://www.rfc-editor.org/rfc/rfc3711#section-4.3)
 * with key_derivation_rate = 0, so r = index DIV kdr = 0:
 *
 *   key_id = label || r            (8-bit label, 48-bit r = 0)
 *   x      = key_id XOR master_salt (right-aligned on the 112-bit salt)
 *   PRF_n(k_master, x) = first n bits of AES-CM(k_master, IV = x * 2^16)
 *
 * Labels: 0 SRTP encryption key, 1 SRTP auth key, 2 SRTP salt,
 *         3 SRTCP encryption key, 4 SRTCP auth key, 5 SRTCP salt.
 *
 * RFC 7714 section 11 uses the same AES-CM PRF for AEAD_AES_128_GCM with a
 * 96-bit master salt (zero-extended on the right to 112 bits, as libsrtp,
 * pion and werift do) and a 96-bit session salt; no auth keys are needed.
 * Test vectors: RFC 3711 Appendix B.3 (test/unit/srtp.test.ts).
 */

import { createEcb } from './work.js';
import { SrtpConfigError } from './errors.js';
import { srtpProfileParams, type SrtpProfile } from './profile.js';

export const LABEL_RTP_ENCRYPTION = 0;
export const LABEL_RTP_AUTH = 1;
export const LABEL_RTP_SALT = 2;
export const LABEL_RTCP_ENCRYPTION = 3;
export const LABEL_RTCP_AUTH = 4;
export const LABEL_RTCP_SALT = 5;

export interface SrtpSessionKeys {
  rtpKey: Buffer;
  rtpSalt: Buffer;
  /** Empty for the AEAD profile. */
  rtpAuthKey: Buffer;
  rtcpKey: Buffer;
  rtcpSalt: Buffer;
  /** Empty for the AEAD profile. */
  rtcpAuthKey: Buffer;
}

/** The AES-CM PRF of RFC 3711 4.3.3 for one label: `length` bytes. */
export function srtpPrf(masterKey: Uint8Array, masterSalt: Uint8Array, label: number, length: number): Buffer {
  const blocks = Math.ceil(length / 16);
  const input = Buffer.alloc(blocks * 16);
  for (let b = 0; b < blocks; b++) {
    const o = b * 16;
    input.set(masterSalt.subarray(0, 14), o);
    // key_id = label || 48 zero bits, right-aligned on 14 bytes: the label lands on byte 7.
    input[o + 7]! ^= label;
    input[o + 14] = b >>> 8;
    input[o + 15] = b & 0xff;
  }
  return createEcb(masterKey).update(input).subarray(0, length);
}

/** Derives the six session keys of one direction (RFC 3711 4.3, RFC 7714 11). */
export function deriveSessionKeys(profile: SrtpProfile, masterKey: Uint8Array, masterSalt: Uint8Array): SrtpSessionKeys {
  const p = srtpProfileParams(profile);
  if (masterKey.length !== p.keyLength) {
    throw new SrtpConfigError(`${profile}: master key must be ${p.keyLength} bytes, got ${masterKey.length}`);
  }
  if (masterSalt.length !== p.saltLength) {
    throw new SrtpConfigError(`${profile}: master salt must be ${p.saltLength} bytes, got ${masterSalt.length}`);
  }
  // A 12-byte GCM salt is zero-extended to the 14 bytes the PRF input holds.
  const salt = new Uint8Array(14);
  salt.set(masterSalt);
  const empty = Buffer.alloc(0);
  return {
    rtpKey: srtpPrf(masterKey, salt, LABEL_RTP_ENCRYPTION, p.keyLength),
    rtpAuthKey: p.authKeyLength ? srtpPrf(masterKey, salt, LABEL_RTP_AUTH, p.authKeyLength) : empty,
    rtpSalt: srtpPrf(masterKey, salt, LABEL_RTP_SALT, p.saltLength),
    rtcpKey: srtpPrf(masterKey, salt, LABEL_RTCP_ENCRYPTION, p.keyLength),
    rtcpAuthKey: p.authKeyLength ? srtpPrf(masterKey, salt, LABEL_RTCP_AUTH, p.authKeyLength) : empty,
    rtcpSalt: srtpPrf(masterKey, salt, LABEL_RTCP_SALT, p.saltLength),
  };
}
