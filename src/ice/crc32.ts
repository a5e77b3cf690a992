/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as used by the STUN
 * FINGERPRINT attribute (RFC 8489 section 14.7, which points at ITU-T V.42 /
 * ISO 3309). Pure, allocation-free, one 1 KiB table built at load time.
 *
 * NOTE: byte-at-a-time table lookup is enough here: a STUN binding request is
 * about 100 bytes, so the checksum costs well under the HMAC next to it
 * (bench/micro/stun.ts).
 */

const TABLE = makeTable();

function makeTable(): Int32Array {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
}

/**
 * CRC-32 of `buf[start, end)` as an unsigned 32-bit integer. The caller keeps
 * `0 <= start <= end <= buf.length`; out-of-range indexes read as 0 rather
 * than throwing.
 */
export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = -1;
  for (let i = start; i < end; i++) {
    // An out-of-range read is undefined, which `^` converts to 0: no NaN, no throw.
    crc = (TABLE[(crc ^ (buf[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ -1) >>> 0;
}
