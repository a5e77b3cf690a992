/**
 * NTP time helpers for SR/RR (RFC 3550 section 4 and 6.4.1,
 * https://www.rfc-editor.org/rfc/rfc3550#section-4).
 *
 * An SR carries a 64-bit NTP timestamp: seconds since 1900-01-01 (ntpSec)
 * and a 2^-32 s fraction (ntpFrac). Report blocks echo its middle 32 bits
 * (the "compact" form, 16.16 fixed point seconds) as LSR, and the delay
 * since it as DLSR in 1/65536 s units; RTT = A - LSR - DLSR where A is the
 * compact arrival time of the report. Times here are milliseconds on the NTP
 * time line; add `NTP_UNIX_OFFSET_MS` to a Unix-epoch clock to get there.
 */

/** Milliseconds from the NTP epoch (1900) to the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_MS = 2_208_988_800_000;

const TWO_32 = 2 ** 32;

/** A 64-bit NTP timestamp to milliseconds since 1900 (not wrapped for era 1). */
export function ntpToMs(ntpSec: number, ntpFrac: number): number {
  return ntpSec * 1000 + (ntpFrac * 1000) / TWO_32;
}

/** The seconds half of the NTP timestamp for `ms` since 1900 (mod 2^32). */
export function msToNtpSec(ms: number): number {
  return Math.floor(ms / 1000) >>> 0;
}

/** The fraction half of the NTP timestamp for `ms` since 1900. */
export function msToNtpFrac(ms: number): number {
  const sub = ms - Math.floor(ms / 1000) * 1000;
  return Math.min(Math.floor((sub * TWO_32) / 1000), TWO_32 - 1);
}

/** The middle 32 bits of an NTP timestamp (LSR, and arrival times for RTT). */
export function compactNtp(ntpSec: number, ntpFrac: number): number {
  return (((ntpSec & 0xffff) << 16) | (ntpFrac >>> 16)) >>> 0;
}

/** Milliseconds since 1900 to compact NTP (mod 2^32). Also converts a delay in ms to DLSR units. */
export function msToCompactNtp(ms: number): number {
  return Math.floor((ms * 65536) / 1000) >>> 0;
}

/** A compact NTP duration (e.g. DLSR) to milliseconds. */
export function compactNtpToMs(v: number): number {
  return (v * 1000) / 65536;
}

/**
 * Round-trip time in ms from a report block received at compact NTP time
 * `arrival` (RFC 3550 6.4.1). Returns -1 when the block has no LSR yet (0),
 * and 0 when clock skew makes the difference negative.
 */
export function rttMs(arrival: number, lsr: number, dlsr: number): number {
  if (lsr === 0) return -1;
  const rtt = (arrival - lsr - dlsr) >>> 0;
  // Differences above 2^31 are negative in 32-bit modular arithmetic.
  return rtt >= 0x80000000 ? 0 : compactNtpToMs(rtt);
}
