// Dependency Descriptor test vectors written as bit strings, field by field (AV1 RTP spec A.8.2).

/** Bytes from bit strings (spaces ignored), MSB first, zero-padded to a whole byte (the spec's zero_padding). */
export function bits(...parts: string[]): Buffer {
  const s = parts.join('').replace(/\s/g, '');
  if (!/^[01]*$/.test(s)) throw new Error(`not a bit string: ${s}`);
  const out = Buffer.alloc(Math.ceil(s.length / 8));
  for (let i = 0; i < s.length; i++) if (s[i] === '1') out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}
