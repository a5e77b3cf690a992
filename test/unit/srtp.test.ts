// SRTP/SRTCP known-answer tests (RFC 3711 Appendix B, RFC 7714 sections 16-17),
// cross-checks against OpenSSL (createCipheriv/createHmac) and werift, and the
// error codes of the data-plane API.
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import t from 'tap';
import { SrtcpSession as WeriftSrtcp, SrtpSession as WeriftSrtp, RtpPacket } from 'werift';
import {
  deriveSessionKeys,
  rtpHeaderLength,
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SrtpConfigError,
  SrtpContext,
  SrtpError,
  srtpErrorName,
  srtpKeyingMaterialLength,
  srtpProfileFromId,
  type SrtpProfile,
  type SrtpSessionKeys,
} from '../../src/srtp/index.js';
import { SrtpSession } from '../../src/srtp/session.js';

/** Bytes from a hex string; spaces, newlines and `|` are separators. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

/** An RTP packet: V=2, optional CSRCs and extension, then payload. */
function rtp(o: { seq: number; ssrc: number; ts?: number; pt?: number; csrcs?: number; ext?: Buffer; payload: Buffer }): Buffer {
  const cc = o.csrcs ?? 0;
  const extLen = o.ext ? 4 + o.ext.length : 0;
  const b = Buffer.alloc(12 + cc * 4 + extLen + o.payload.length);
  b[0] = 0x80 | (o.ext ? 0x10 : 0) | cc;
  b[1] = o.pt ?? 96;
  b.writeUInt16BE(o.seq & 0xffff, 2);
  b.writeUInt32BE((o.ts ?? 1234) >>> 0, 4);
  b.writeUInt32BE(o.ssrc >>> 0, 8);
  for (let i = 0; i < cc; i++) b.writeUInt32BE(0x1000 + i, 12 + i * 4);
  let p = 12 + cc * 4;
  if (o.ext) {
    b.writeUInt16BE(0xbede, p);
    b.writeUInt16BE(o.ext.length / 4, p + 2);
    o.ext.copy(b, p + 4);
    p += extLen;
  }
  o.payload.copy(b, p);
  return b;
}

/** RTCP sender report-ish packet of `words` 32-bit words after the header. */
function rtcp(ssrc: number, body: Buffer): Buffer {
  const b = Buffer.alloc(8 + body.length);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE((b.length >>> 2) - 1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  body.copy(b, 8);
  return b;
}

function protect(ctx: SrtpContext, pkt: Buffer): Buffer {
  const out = Buffer.alloc(pkt.length + ctx.rtpOverhead);
  const n = ctx.protectRtp(pkt, 0, pkt.length, out, 0);
  if (n < 0) throw new Error(`protectRtp failed: ${srtpErrorName(n)}`);
  return out.subarray(0, n);
}

function protectC(ctx: SrtpContext, pkt: Buffer): Buffer {
  const out = Buffer.alloc(pkt.length + ctx.rtcpOverhead);
  const n = ctx.protectRtcp(pkt, 0, pkt.length, out, 0);
  if (n < 0) throw new Error(`protectRtcp failed: ${srtpErrorName(n)}`);
  return out.subarray(0, n);
}

/** Unprotects a copy; returns the plaintext or the error code. */
function unprotect(ctx: SrtpContext, pkt: Buffer): Buffer | number {
  const b = Buffer.from(pkt);
  const n = ctx.unprotectRtp(b, 0, b.length);
  return n < 0 ? n : b.subarray(0, n);
}

function unprotectC(ctx: SrtpContext, pkt: Buffer): Buffer | number {
  const b = Buffer.from(pkt);
  const n = ctx.unprotectRtcp(b, 0, b.length);
  return n < 0 ? n : b.subarray(0, n);
}

const PROFILES: { profile: SrtpProfile; salt: number; werift: number }[] = [
  { profile: SRTP_AES128_CM_HMAC_SHA1_80, salt: 14, werift: 1 },
  { profile: SRTP_AEAD_AES_128_GCM, salt: 12, werift: 7 },
];

t.test('RFC 3711 B.3 key derivation', async (t) => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');
  const k = deriveSessionKeys(SRTP_AES128_CM_HMAC_SHA1_80, masterKey, masterSalt);
  t.equal(k.rtpKey.toString('hex'), 'c61e7a93744f39ee10734afe3ff7a087', 'cipher key (label 0)');
  t.equal(k.rtpSalt.toString('hex'), '30cbbc08863d8c85d49db34a9ae1', 'cipher salt (label 2)');
  t.equal(k.rtpAuthKey.toString('hex'), 'cebe321f6ff7716b6fd4ab49af256a156d38baa4', 'auth key (label 1), first 160 bits');
  // SRTCP labels differ from SRTP ones; the GCM profile derives a 12-byte salt with the same PRF.
  t.not(k.rtcpKey.toString('hex'), k.rtpKey.toString('hex'));
  const g = deriveSessionKeys(SRTP_AEAD_AES_128_GCM, masterKey, masterSalt.subarray(0, 12));
  t.equal(g.rtpSalt.length, 12);
  t.equal(g.rtpAuthKey.length, 0);
  t.throws(() => deriveSessionKeys(SRTP_AES128_CM_HMAC_SHA1_80, masterKey, masterSalt.subarray(0, 12)), SrtpConfigError);
  t.throws(() => new SrtpContext(SRTP_AEAD_AES_128_GCM, masterKey.subarray(0, 15), masterSalt.subarray(0, 12)), {
    code: 'ERR_SRTP_CONFIG',
  });
});

t.test('RFC 3711 B.2 AES-CM keystream', async (t) => {
  // Session key 2B7E1516..., session salt F0F1...FD, SSRC 0, index 0: the
  // ciphertext of an all-zero payload is the keystream for IV F0F1..FD0000.
  const keys: SrtpSessionKeys = {
    rtpKey: hex('2B7E151628AED2A6ABF7158809CF4F3C'),
    rtpSalt: hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'),
    rtpAuthKey: Buffer.alloc(20, 1),
    rtcpKey: hex('2B7E151628AED2A6ABF7158809CF4F3C'),
    rtcpSalt: hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'),
    rtcpAuthKey: Buffer.alloc(20, 1),
  };
  const ctx = SrtpContext.fromSessionKeys(SRTP_AES128_CM_HMAC_SHA1_80, keys);
  const out = protect(ctx, rtp({ seq: 0, ssrc: 0, payload: Buffer.alloc(48) }));
  t.equal(
    out.subarray(12, 60).toString('hex'),
    hex(`E03EAD0935C95E80E166B16DD92B4EB4
         D23513162B02D0F72A43A2FE4A5F97AB
         41E95B3BB0A2E8DD477901E4FCA894C0`).toString('hex'),
  );
});

t.test('RFC 7714 sections 16.1 and 17.1 (AEAD_AES_128_GCM)', async (t) => {
  // Session keys as given by the RFC (no KDF): key 000102..0f, salt "Quid pro quo".
  const key = hex('000102030405060708090a0b0c0d0e0f');
  const salt = hex('517569642070726f2071756f');
  const keys: SrtpSessionKeys = { rtpKey: key, rtpSalt: salt, rtpAuthKey: Buffer.alloc(0), rtcpKey: key, rtcpSalt: salt, rtcpAuthKey: Buffer.alloc(0) };
  // 16.1: SSRC 0x5501a0b2, ROC 0, SEQ 0xf17b.
  const rtpPlain = hex(`8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
    20646976 69736120 696e2070 61727465 73207472 6573`);
  const rtpCipher = hex(`8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca
    be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce`);
  // 17.1: SSRC 0x4d617273, SRTCP index 0x5d4, E = 1; the index follows the tag.
  const rtcpPlain = hex(`81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
    4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef`);
  const rtcpCipher = hex(`81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7
    6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872
    45d9eade 800005d4`);
  // 17.2 (E = 0, authentication only) from the same section.
  const rtcpAuthOnly = hex(`81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
    4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef 841dd968 3dd78ec9 2ae58790
    125f62b3 000005d4`);

  // Default thresholds (these small packets take the JS path), then forced OpenSSL (0) and forced JS.
  for (const gcmJsMaxPayload of [undefined, 0, 65536]) {
    const o = { gcmJsMaxPayload };
    const tx = SrtpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, keys, o);
    t.equal(protect(tx, rtpPlain).toString('hex'), rtpCipher.toString('hex'), `SRTP encrypt (js max ${gcmJsMaxPayload})`);
    tx.setRtcpIndex(0x4d617273, 0x5d4);
    t.equal(protectC(tx, rtcpPlain).toString('hex'), rtcpCipher.toString('hex'), 'SRTCP encrypt');

    const rx = SrtpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, keys, o);
    t.same(unprotect(rx, rtpCipher), rtpPlain, 'SRTP decrypt');
    t.same(unprotectC(rx, rtcpCipher), rtcpPlain, 'SRTCP decrypt');
    const rx2 = SrtpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, keys, o);
    t.same(unprotectC(rx2, rtcpAuthOnly), rtcpPlain, 'SRTCP with E = 0 (authenticated only)');
  }
  // In place on a larger buffer at an odd offset.
  const rx3 = SrtpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, keys);
  const big = Buffer.alloc(rtpCipher.length + 7, 0xee);
  rtpCipher.copy(big, 3);
  const n = rx3.unprotectRtp(big, 3, rtpCipher.length);
  t.equal(n, rtpPlain.length);
  t.same(big.subarray(3, 3 + n), rtpPlain);
  t.equal(big[0], 0xee);
  t.equal(big[big.length - 1], 0xee);
});

t.test('matches OpenSSL for every payload length (both profiles, both GCM paths)', async (t) => {
  const variants = [...PROFILES.map((p) => ({ ...p, jsMax: undefined as number | undefined })),
    { ...PROFILES[1]!, jsMax: 0 }, { ...PROFILES[1]!, jsMax: 65536 }];
  for (const { profile, salt, jsMax } of variants) {
    const masterKey = randomBytes(16);
    const masterSalt = randomBytes(salt);
    const keys = deriveSessionKeys(profile, masterKey, masterSalt);
    const ctx = new SrtpContext(profile, masterKey, masterSalt, { gcmJsMaxPayload: jsMax });
    let bad = 0;
    // Every length up to 200, then around the GCM JS/OpenSSL switch (512) and video sizes.
    const lengths = [...Array(201).keys(), 255, 256, 257, 511, 512, 513, 514, 700, 1188, 1400];
    for (const len of lengths) {
      const seq = (len * 613) & 0xffff;
      const ssrc = 0x89abcdef ^ (len * 0x01010101);
      const pkt = rtp({ seq, ssrc, csrcs: len % 3, ext: len % 2 ? Buffer.from([0x10, 0xff, 0, 0]) : undefined, payload: randomBytes(len) });
      const hl = rtpHeaderLength(pkt, 0, pkt.length);
      // Fresh context per SSRC would be ROC 0 too; these SSRCs are all new.
      const ours = protect(ctx, pkt);
      let want: Buffer;
      if (profile === SRTP_AES128_CM_HMAC_SHA1_80) {
        const iv = Buffer.alloc(16);
        keys.rtpSalt.copy(iv, 0);
        iv.writeUInt32BE((iv.readUInt32BE(4) ^ (ssrc >>> 0)) >>> 0, 4);
        iv.writeUInt16BE(iv.readUInt16BE(12) ^ seq, 12);
        const c = createCipheriv('aes-128-ctr', keys.rtpKey, iv);
        const body = Buffer.concat([pkt.subarray(0, hl), c.update(pkt.subarray(hl))]);
        const tag = createHmac('sha1', keys.rtpAuthKey).update(body).update(Buffer.alloc(4)).digest().subarray(0, 10);
        want = Buffer.concat([body, tag]);
      } else {
        const iv = Buffer.alloc(12);
        iv.writeUInt32BE(ssrc >>> 0, 2);
        iv.writeUInt16BE(seq, 10);
        for (let i = 0; i < 12; i++) iv[i]! ^= keys.rtpSalt[i]!;
        const c = createCipheriv('aes-128-gcm', keys.rtpKey, iv);
        c.setAAD(pkt.subarray(0, hl));
        const body = Buffer.concat([pkt.subarray(0, hl), c.update(pkt.subarray(hl)), c.final()]);
        want = Buffer.concat([body, c.getAuthTag()]);
      }
      if (!ours.equals(want)) bad++;
      const back = unprotect(ctx, ours);
      if (!(Buffer.isBuffer(back) && back.equals(pkt))) bad++;
    }
    t.equal(bad, 0, `${profile} (GCM JS max ${jsMax}): protect equals OpenSSL and round-trips for payloads of 0..200, 255..257, 511..514, 700, 1188, 1400 bytes`);
  }
});

t.test('interop with werift across a ROC wrap (seq 65530 -> 5)', async (t) => {
  for (const { profile, salt, werift } of PROFILES) {
    const aKey = randomBytes(16);
    const aSalt = randomBytes(salt);
    const bKey = randomBytes(16);
    const bSalt = randomBytes(salt);
    // We are "a" (local = a), werift is "b".
    const oursTx = new SrtpContext(profile, aKey, aSalt);
    const oursRx = new SrtpContext(profile, bKey, bSalt);
    const cfg = { keys: { localMasterKey: bKey, localMasterSalt: bSalt, remoteMasterKey: aKey, remoteMasterSalt: aSalt }, profile: werift };
    const wSrtp = new WeriftSrtp(cfg);
    const wSrtcp = new WeriftSrtcp(cfg);
    let ok = 0;
    let total = 0;
    for (let i = 0; i < 12; i++) {
      const seq = (65530 + i) & 0xffff;
      const payload = randomBytes(i % 2 ? 40 + i * 10 : 600 + i * 60);
      const pkt = rtp({ seq, ssrc: 0x11223344, ts: 1000 * i, payload });
      // ours -> werift
      total++;
      const dec = wSrtp.decrypt(protect(oursTx, pkt));
      if (dec.equals(pkt)) ok++;
      // werift -> ours
      total++;
      const wp = RtpPacket.deSerialize(pkt);
      const enc = wSrtp.encrypt(wp.payload, wp.header);
      const back = unprotect(oursRx, enc);
      if (Buffer.isBuffer(back) && back.equals(pkt)) ok++;
    }
    t.equal(ok, total, `${profile}: SRTP both ways`);
    t.same(oursTx.dump().rtpSend, [{ ssrc: 0x11223344, index: 65536 + 5 }], 'sender ROC advanced to 1');
    t.same(oursRx.dump().rtpRecv, [{ ssrc: 0x11223344, index: 65536 + 5 }], 'receiver ROC advanced to 1');

    for (let i = 0; i < 4; i++) {
      const pkt = rtcp(0x55667788, randomBytes(i < 2 ? 20 + 4 * i : 400 * i));
      const dec = wSrtcp.decrypt(protectC(oursTx, pkt));
      t.same(dec, pkt, `${profile}: SRTCP ours -> werift #${i}`);
      const back = unprotectC(oursRx, wSrtcp.encrypt(pkt));
      t.same(back, pkt, `${profile}: SRTCP werift -> ours #${i}`);
    }
  }
});

t.test('protect: in place, overlapping, buffer checks', async (t) => {
  for (const { profile, salt } of PROFILES) {
    const key = randomBytes(16);
    const s = randomBytes(salt);
    const tx = new SrtpContext(profile, key, s);
    const tx2 = new SrtpContext(profile, key, s);
    const rx = new SrtpContext(profile, key, s);
    for (const size of [333, 1000]) {
      const pkt = rtp({ seq: 7 + size, ssrc: 1, csrcs: 2, payload: randomBytes(size) });
      const expected = protect(tx2, pkt);
      // In place with room for the tag.
      const buf = Buffer.alloc(pkt.length + 16);
      pkt.copy(buf);
      t.equal(tx.protectRtp(buf, 0, pkt.length, buf, 0), expected.length);
      t.same(buf.subarray(0, expected.length), expected, `${profile}: in place`);
      // Overlapping (shifted by 5 bytes) in the same buffer.
      const tx3 = new SrtpContext(profile, key, s);
      const ov = Buffer.alloc(pkt.length + 40);
      pkt.copy(ov, 10);
      t.equal(tx3.protectRtp(ov, 10, pkt.length, ov, 5), expected.length);
      t.same(ov.subarray(5, 5 + expected.length), expected, `${profile}: overlapping dst (before src)`);
      const tx4 = new SrtpContext(profile, key, s);
      const ov2 = Buffer.alloc(pkt.length + 40);
      pkt.copy(ov2, 3);
      t.equal(tx4.protectRtp(ov2, 3, pkt.length, ov2, 9), expected.length);
      t.same(ov2.subarray(9, 9 + expected.length), expected, `${profile}: overlapping dst (after src)`);
      t.equal(tx.protectRtp(pkt, 0, pkt.length, Buffer.alloc(pkt.length + tx.rtpOverhead - 1), 0), SrtpError.BufferTooSmall);
      t.equal(tx.protectRtp(pkt, 0, pkt.length + 1, Buffer.alloc(2000), 0), SrtpError.Malformed, 'src range past the end');
      t.equal(tx.protectRtp(pkt, -1, 10, Buffer.alloc(2000), 0), SrtpError.Malformed);
      t.equal(tx.protectRtp(pkt, 0, 11, Buffer.alloc(2000), 0), SrtpError.TooShort);
      t.equal(tx.protectRtcp(pkt, 0, 7, Buffer.alloc(2000), 0), SrtpError.TooShort);
      t.equal(tx.protectRtcp(pkt, 0, 40, Buffer.alloc(40), 0), SrtpError.BufferTooSmall);
      t.same(unprotect(rx, expected), pkt);
      // SRTCP in place.
      const c = rtcp(3, randomBytes(size));
      const cExpected = protectC(tx2, c);
      const cBuf = Buffer.alloc(c.length + 20);
      c.copy(cBuf);
      t.equal(tx.protectRtcp(cBuf, 0, c.length, cBuf, 0), cExpected.length);
      t.same(cBuf.subarray(0, cExpected.length), cExpected, `${profile}: SRTCP in place`);
    }
  }
  t.throws(() => new SrtpContext(SRTP_AEAD_AES_128_GCM, randomBytes(16), randomBytes(12), { gcmJsMaxPayload: -1 }), SrtpConfigError);
});

t.test('unprotect error codes and no state change on failure', async (t) => {
  for (const { profile, salt } of PROFILES) {
    const key = randomBytes(16);
    const s = randomBytes(salt);
    const tx = new SrtpContext(profile, key, s);
    const rx = new SrtpContext(profile, key, s);
    const p1 = protect(tx, rtp({ seq: 100, ssrc: 9, payload: randomBytes(50) }));
    t.type(unprotect(rx, p1), Buffer);
    t.equal(unprotect(rx, p1), SrtpError.ReplayDuplicate, `${profile}: duplicate`);
    // A forged packet far ahead must not move the highest index.
    const forged = Buffer.from(protect(tx, rtp({ seq: 100 + 30000, ssrc: 9, payload: randomBytes(50) })));
    forged[forged.length - 1]! ^= 1;
    t.equal(unprotect(rx, forged), SrtpError.AuthFailed);
    t.same(rx.dump().rtpRecv, [{ ssrc: 9, index: 100 }], 'highest index unchanged after auth failure');
    const p2 = protect(tx, rtp({ seq: 101, ssrc: 9, payload: randomBytes(50) }));
    t.type(unprotect(rx, p2), Buffer);
    // Unknown SSRC with a bad tag creates no state.
    const p3 = Buffer.from(protect(tx, rtp({ seq: 1, ssrc: 10, payload: randomBytes(20) })));
    p3[20]! ^= 0x40;
    t.equal(unprotect(rx, p3), SrtpError.AuthFailed);
    t.equal(rx.dump().rtpRecv.length, 1);

    // Large packets (GCM: the OpenSSL path) fail the same way and stay untouched.
    const big = Buffer.from(protect(tx, rtp({ seq: 102, ssrc: 9, payload: randomBytes(1100) })));
    big[500]! ^= 2;
    const bigCopy = Buffer.from(big);
    t.equal(rx.unprotectRtp(big, 0, big.length), SrtpError.AuthFailed, 'large packet, flipped payload bit');
    t.same(big, bigCopy, 'buffer untouched on failure');
    big[500]! ^= 2;
    t.equal(rx.unprotectRtp(big, 0, big.length), big.length - rx.rtpOverhead, 'then the intact one passes');
    const bigC = Buffer.from(protectC(tx, rtcp(9, randomBytes(800))));
    bigC[100]! ^= 1;
    t.equal(unprotectC(rx, bigC), SrtpError.AuthFailed, 'large SRTCP, flipped bit');
    bigC[100]! ^= 1;
    t.type(unprotectC(rx, bigC), Buffer);

    t.equal(unprotect(rx, Buffer.alloc(12 + rx.rtpOverhead - 1)), SrtpError.TooShort);
    const v1 = Buffer.from(p2);
    v1[0] = 0x40 | (v1[0]! & 0x3f);
    t.equal(unprotect(rx, v1), SrtpError.Malformed, 'version 1');
    // CC = 15 needs 72 header bytes.
    t.equal(unprotect(rx, Buffer.concat([Buffer.from([0x8f]), Buffer.alloc(40)])), SrtpError.Malformed, 'CSRC list past the end');
    // X set with an extension length past the end.
    const ext = Buffer.alloc(60);
    ext[0] = 0x90;
    ext.writeUInt16BE(0xbede, 12);
    ext.writeUInt16BE(100, 14);
    t.equal(unprotect(rx, ext), SrtpError.Malformed, 'extension past the end');
    t.equal(rx.unprotectRtp(p2, 0, p2.length + 1), SrtpError.Malformed, 'range past the buffer');
    t.equal(rx.unprotectRtp(p2, Number.NaN, 10), SrtpError.Malformed, 'NaN offset');
    // Larger than any UDP datagram: refused before touching the 64 KB work area.
    const huge = Buffer.alloc(70_000, 0x80);
    t.equal(rx.unprotectRtp(huge, 0, huge.length), SrtpError.Malformed, 'over 64 KB');
    t.equal(rx.unprotectRtcp(huge, 0, huge.length), SrtpError.Malformed, 'SRTCP over 64 KB');
    t.equal(tx.protectRtp(huge, 0, 65_530, Buffer.alloc(70_000), 0), SrtpError.Malformed, 'protect over 64 KB');
    t.equal(tx.protectRtcp(huge, 0, 65_530, Buffer.alloc(70_000), 0), SrtpError.Malformed, 'protectRtcp over 64 KB');
    const maxPkt = Buffer.alloc(65_536 - rx.rtpOverhead);
    maxPkt[0] = 0x80;
    maxPkt.writeUInt32BE(77, 8);
    const maxOut = Buffer.alloc(65_536);
    t.equal(tx.protectRtp(maxPkt, 0, maxPkt.length, maxOut, 0), 65_536, 'largest packet');
    t.equal(rx.unprotectRtp(maxOut, 0, maxOut.length), maxPkt.length);
    t.same(maxOut.subarray(0, maxPkt.length), maxPkt);

    // SRTCP
    const c1 = protectC(tx, rtcp(9, randomBytes(24)));
    t.type(unprotectC(rx, c1), Buffer);
    t.equal(unprotectC(rx, c1), SrtpError.ReplayDuplicate, `${profile}: SRTCP duplicate`);
    const c2 = Buffer.from(protectC(tx, rtcp(9, randomBytes(24))));
    c2[9]! ^= 0x80;
    t.equal(unprotectC(rx, c2), SrtpError.AuthFailed);
    t.equal(unprotectC(rx, Buffer.alloc(8 + rx.rtcpOverhead - 1, 0x80)), SrtpError.TooShort);
    const c3 = Buffer.from(c1);
    c3[0] = 0;
    t.equal(unprotectC(rx, c3), SrtpError.Malformed);
  }
});

t.test('SRTCP index: from 0, settable, exhausted at 2^31', async (t) => {
  const ctx = new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, randomBytes(16), randomBytes(14));
  const pkt = rtcp(5, Buffer.alloc(16));
  const a = protectC(ctx, pkt);
  t.equal(a.readUInt32BE(pkt.length), 0x80000000, 'E = 1, index 0');
  t.equal(protectC(ctx, pkt).readUInt32BE(pkt.length), 0x80000001);
  ctx.setRtcpIndex(5, 0x7fffffff);
  t.equal(protectC(ctx, pkt).readUInt32BE(pkt.length), 0xffffffff);
  t.equal(ctx.protectRtcp(pkt, 0, pkt.length, Buffer.alloc(100), 0), SrtpError.IndexExhausted);
  t.throws(() => ctx.setRtcpIndex(5, 2 ** 31), SrtpConfigError);
});

t.test('maxSsrcs bounds per-direction state', async (t) => {
  const key = randomBytes(16);
  const s = randomBytes(14);
  const tx = new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, key, s, { maxSsrcs: 2 });
  const rx = new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, key, s, { maxSsrcs: 2 });
  const pk = [1, 2, 3].map((ssrc) => rtp({ seq: 1, ssrc, payload: Buffer.alloc(10) }));
  const p1 = protect(tx, pk[0]!);
  const p2 = protect(tx, pk[1]!);
  t.equal(tx.protectRtp(pk[2]!, 0, pk[2]!.length, Buffer.alloc(100), 0), SrtpError.TooManySsrcs);
  t.type(unprotect(rx, p1), Buffer);
  t.type(unprotect(rx, p2), Buffer);
  tx.removeSsrc(1);
  const p3 = protect(tx, pk[2]!);
  t.equal(unprotect(rx, p3), SrtpError.TooManySsrcs);
  rx.removeSsrc(2);
  t.type(unprotect(rx, p3), Buffer);
  rx.reset();
  t.same(rx.dump().rtpRecv, []);
  t.throws(() => new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, key, s, { maxSsrcs: 0 }), SrtpConfigError);
});

t.test('helpers: profile ids, names, header length, session adapter', async (t) => {
  t.equal(srtpProfileFromId(1), SRTP_AES128_CM_HMAC_SHA1_80);
  t.equal(srtpProfileFromId(7), SRTP_AEAD_AES_128_GCM);
  t.equal(srtpProfileFromId(2), null);
  t.equal(srtpKeyingMaterialLength(SRTP_AES128_CM_HMAC_SHA1_80), 60);
  t.equal(srtpKeyingMaterialLength(SRTP_AEAD_AES_128_GCM), 56);
  t.equal(srtpErrorName(SrtpError.AuthFailed), 'auth_failed');
  t.equal(srtpErrorName(SrtpError.ReplayDuplicate), 'replay_duplicate');
  t.equal(srtpErrorName(12), 'ok');
  t.equal(srtpErrorName(-99), 'unknown');
  const codes = Object.values(SrtpError);
  t.equal(new Set(codes.map(srtpErrorName)).size, codes.length, 'distinct names');
  t.equal(rtpHeaderLength(rtp({ seq: 1, ssrc: 1, payload: Buffer.alloc(0) }), 0, 12), 12);
  t.equal(rtpHeaderLength(rtp({ seq: 1, ssrc: 1, csrcs: 3, ext: Buffer.alloc(8), payload: Buffer.alloc(1) }), 0, 37), 36);
  t.equal(rtpHeaderLength(Buffer.alloc(11, 0x80), 0, 11), SrtpError.TooShort);

  const s1 = new SrtpSession('AEAD_AES_128_GCM', randomBytes(16), randomBytes(12));
  t.equal(s1.profile, SRTP_AEAD_AES_128_GCM);
  t.ok(SrtpSession.isReplay(SrtpError.ReplayTooOld));
  t.ok(SrtpSession.isAuthFailure(SrtpError.AuthFailed));
  t.ok(SrtpSession.MAX_TRAILER >= s1.rtpOverhead && SrtpSession.MAX_RTCP_TRAILER >= s1.rtcpOverhead);
  t.equal(new SrtpSession('AES_CM_128_HMAC_SHA1_80', randomBytes(16), randomBytes(14)).rtcpOverhead, 14);
});
