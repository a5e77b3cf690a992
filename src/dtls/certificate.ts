/**
 * The DTLS certificate: ECDSA P-256, self-signed, SHA-256 fingerprint for SDP
 * (RFC 8122 section 5). One certificate serves every transport of an SFU and,
 * as PEM strings, crosses into every shard so all present the same fingerprint.
 */
import { X509Certificate, createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSelfSignedCertificate, SignatureAlgorithm, HashAlgorithm, NamedCurveAlgorithm } from 'werift';
import { SfuError } from '../errors.js';

export interface DtlsCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint, uppercase hex bytes joined by ':' as SDP writes it. */
  fingerprint: string;
}

export interface DtlsFingerprint {
  /** Hash function name as in SDP: sha-1, sha-224, sha-256, sha-384, sha-512. */
  algorithm: string;
  value: string;
}

const HASHES: Record<string, string> = {
  'sha-1': 'sha1',
  'sha-224': 'sha224',
  'sha-256': 'sha256',
  'sha-384': 'sha384',
  'sha-512': 'sha512',
};

/** Generates a fresh ECDSA P-256 certificate. */
export async function generateCertificate(): Promise<DtlsCertificate> {
  const { certPem, keyPem } = await createSelfSignedCertificate(
    { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
    NamedCurveAlgorithm.secp256r1_23,
  );
  return withFingerprint(certPem, keyPem);
}

/** Loads a certificate and key (PEM files); the key must be ECDSA P-256, which is what our DTLS offers. */
export async function loadCertificate(certPath: string, keyPath: string): Promise<DtlsCertificate> {
  const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return withFingerprint(certPem, keyPem);
}

function withFingerprint(certPem: string, keyPem: string): DtlsCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    throw new SfuError('ERR_SFUD_CERTIFICATE', 'the DTLS certificate is not a valid PEM X.509 certificate', { cause: err });
  }
  return { certPem, keyPem, fingerprint: x509.fingerprint256 };
}

/** Fingerprint of a DER certificate with an SDP hash name; null for an unknown hash. */
export function fingerprintOf(der: Uint8Array, algorithm: string): string | null {
  const hash = HASHES[algorithm.trim().toLowerCase()];
  if (!hash) return null;
  const hex = createHash(hash).update(der).digest('hex').toUpperCase();
  return hex.match(/../g)!.join(':');
}

/**
 * True when the DER certificate matches one of the fingerprints from the
 * remote SDP (RFC 8122 5: any listed fingerprint with a known hash may match;
 * an unknown hash is skipped, not a match).
 */
export function matchesFingerprint(der: Uint8Array, expected: readonly DtlsFingerprint[]): boolean {
  for (const fp of expected) {
    const actual = fingerprintOf(der, fp.algorithm);
    if (!actual) continue;
    const want = Buffer.from(fp.value.trim().toUpperCase());
    const got = Buffer.from(actual);
    if (want.length === got.length && timingSafeEqual(want, got)) return true;
  }
  return false;
}
