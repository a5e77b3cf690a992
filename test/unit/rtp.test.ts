import t from 'tap';
import { RtpView, parseRtp, encodeRtp, rtpSize, writeRtp, isRtcp, isRtpOrRtcp } from '../../src/rtp/rtp.js';
import {
  readAbsSendTime,
  readAudioLevelByte,
  readDependencyDescriptorHead,
  readSdesString,
  readTransportWideSeq,
  absSendTimeFromMs,
  type DependencyDescriptorHead,
} from '../../src/rtp/extensions.js';
import { Unwrapper, seqDiff, seqNewer } from '../../src/rtp/seq.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+|#.*$/gm, ''), 'hex');

// A VP8 packet shaped like Chrome's, with one-byte header extensions
// (extmap 2 = abs-send-time, 3 = transport-wide-cc, 4 = mid, 10 = rid).
const chromeVp8 = hex(`
  90 e0 1a 2b                # V=2 X=1 CC=0, M=1 PT=96, seq 0x1a2b
  00 0d bb a0                # timestamp 900000
  12 34 56 78                # SSRC 0x12345678
  be de 00 04                # one-byte profile, 4 words of elements
  22 12 34 56                # id 2 len 3: abs-send-time 0x123456
  31 00 07                   # id 3 len 2: transport-wide seq 7
  40 30                      # id 4 len 1: mid "0"
  a0 68                      # id 10 len 1: rid "h"
  00 00 00 00 00             # padding to a word boundary (11 + 5 = 16 bytes)
  90 e0 80 00                # VP8 descriptor (X I, picture id 15-bit 0) + ...
  9d 01 2a                   # ... the start of a keyframe payload
`);

t.test('parses a captured Chrome-shaped VP8 packet', async (t) => {
  const v = parseRtp(chromeVp8);
  t.ok(v);
  if (!v) return;
  t.equal(v.version, 2);
  t.equal(v.padding, false);
  t.equal(v.hasExtension, true);
  t.equal(v.marker, true);
  t.equal(v.payloadType, 96);
  t.equal(v.sequenceNumber, 0x1a2b);
  t.equal(v.timestamp, 900000);
  t.equal(v.ssrc, 0x12345678);
  t.equal(v.extProfile, 0xbede);
  t.equal(v.headerLength, 12 + 4 + 16);
  t.equal(v.payloadLength, 7);
  let p = v.findExtension(2);
  t.equal(readAbsSendTime(v.buf, p, v.extValueLength), 0x123456);
  p = v.findExtension(3);
  t.equal(readTransportWideSeq(v.buf, p, v.extValueLength), 7);
  p = v.findExtension(4);
  t.equal(readSdesString(v.buf, p, v.extValueLength), '0');
  t.equal(v.getExtension(10)?.toString(), 'h');
  t.equal(v.findExtension(5), -1);
  t.same([...v.payload()], [0x90, 0xe0, 0x80, 0x00, 0x9d, 0x01, 0x2a]);
});

t.test('in-place setters rewrite only their fields', async (t) => {
  const buf = Buffer.from(chromeVp8);
  const v = new RtpView();
  t.ok(v.reset(buf));
  v.ssrc = 0xdeadbeef;
  v.sequenceNumber = 0xffff;
  v.timestamp = 0xfffffffe;
  v.payloadType = 111;
  v.marker = false;
  t.equal(v.ssrc, 0xdeadbeef);
  t.equal(v.sequenceNumber, 0xffff);
  t.equal(v.timestamp, 0xfffffffe);
  t.equal(v.payloadType, 111);
  t.equal(v.marker, false);
  // Everything after the fixed header is untouched.
  t.same(buf.subarray(12), chromeVp8.subarray(12));
  v.marker = true;
  t.equal(v.payloadType, 111);
  t.equal(buf[1], 0x80 | 111);
});

t.test('remaps extension ids in place and removes unmapped ones', async (t) => {
  const buf = Buffer.from(chromeVp8);
  const v = parseRtp(buf)!;
  const map = new Uint8Array(256);
  map[2] = 5; // abs-send-time -> 5
  map[3] = 1; // twcc -> 1
  // mid (4) and rid (10) are not negotiated by this subscriber: removed.
  t.ok(v.remapExtensionIds(map));
  t.equal(readAbsSendTime(buf, v.findExtension(5), v.extValueLength), 0x123456);
  t.equal(readTransportWideSeq(buf, v.findExtension(1), v.extValueLength), 7);
  t.equal(v.findExtension(4), -1);
  t.equal(v.findExtension(10), -1);
  t.equal(v.findExtension(2), -1);
  t.equal(v.headerLength, 32, 'no byte moved');
});

t.test('two-byte extension form', async (t) => {
  const value = Buffer.alloc(20, 0xab); // too long for the one-byte form
  const pkt = encodeRtp(
    { payloadType: 100, sequenceNumber: 1, timestamp: 2, ssrc: 3, extensions: [{ id: 20, value }, { id: 1, value: Buffer.from([9]) }] },
    Buffer.from([1, 2, 3]),
  );
  const v = parseRtp(pkt)!;
  t.equal(v.extProfile, 0x1000);
  t.same(v.getExtension(20), value);
  t.same(v.getExtension(1), Buffer.from([9]));
  const map = new Uint8Array(256);
  map[20] = 200;
  t.ok(v.remapExtensionIds(map));
  t.same(v.getExtension(200), value);
  t.equal(v.findExtension(1), -1);
});

t.test('writer round trip with CSRCs, extensions and padding', async (t) => {
  const init = {
    payloadType: 111,
    sequenceNumber: 65535,
    timestamp: 4294967295,
    ssrc: 0xcafebabe,
    marker: true,
    csrcs: [1, 2],
    extensions: [{ id: 1, value: Buffer.from([0x80 | 30]) }, { id: 14, value: Buffer.from('abc') }],
    padding: 4,
  };
  const payload = Buffer.from('hello opus');
  const buf = Buffer.alloc(rtpSize(init, payload.length) + 8);
  const n = writeRtp(init, payload, buf, 8);
  t.equal(n, rtpSize(init, payload.length));
  const v = parseRtp(buf, 8, n)!;
  t.ok(v);
  t.equal(v.csrcCount, 2);
  t.equal(v.csrc(1), 2);
  t.equal(v.marker, true);
  t.equal(v.paddingLength, 4);
  t.same(v.payload(), payload);
  const lvl = readAudioLevelByte(v.buf, v.findExtension(1), v.extValueLength);
  t.equal(lvl & 0x7f, 30);
  t.equal(lvl & 0x80, 0x80);
  t.equal(v.getExtension(14)?.toString(), 'abc');
  // Re-encode from parsed fields: byte-equal.
  const again = encodeRtp(
    {
      payloadType: v.payloadType,
      sequenceNumber: v.sequenceNumber,
      timestamp: v.timestamp,
      ssrc: v.ssrc,
      marker: v.marker,
      csrcs: [v.csrc(0), v.csrc(1)],
      extensions: [
        { id: 1, value: v.getExtension(1)! },
        { id: 14, value: v.getExtension(14)! },
      ],
      padding: v.paddingLength,
    },
    v.payload(),
  );
  t.same(again, buf.subarray(8, 8 + n));
});

t.test('malformed packets are rejected without throwing', async (t) => {
  const v = new RtpView();
  t.notOk(v.reset(Buffer.alloc(0)));
  t.notOk(v.reset(hex('80 60 00 01 00 00 00 01 00 00 00')), 'short header');
  t.notOk(v.reset(hex('40 60 00 01 00 00 00 01 00 00 00 01')), 'version 1');
  t.notOk(v.reset(hex('81 60 00 01 00 00 00 01 00 00 00 01')), 'CSRC count past end');
  t.notOk(v.reset(hex('90 60 00 01 00 00 00 01 00 00 00 01 be de')), 'extension header truncated');
  t.notOk(v.reset(hex('90 60 00 01 00 00 00 01 00 00 00 01 be de 00 02 10 00 00 00')), 'extension length past end');
  t.notOk(v.reset(hex('a0 60 00 01 00 00 00 01 00 00 00 01 aa 00')), 'zero padding count');
  t.notOk(v.reset(hex('a0 60 00 01 00 00 00 01 00 00 00 01 aa 05')), 'padding past payload');
  t.notOk(v.reset(Buffer.alloc(20), 15, 10), 'window outside the buffer');
  // An element whose length runs past the block is not found, not read past.
  const bad = hex('90 60 00 01 00 00 00 01 00 00 00 01 be de 00 01 1f 00 00 00');
  t.ok(v.reset(bad));
  t.equal(v.findExtension(1), -1);
  t.equal(v.remapExtensionIds(new Uint8Array(256)), false);
});

t.test('RFC 7983 and RFC 5761 demux helpers', async (t) => {
  t.ok(isRtpOrRtcp(chromeVp8));
  t.notOk(isRtcp(chromeVp8));
  t.ok(isRtcp(hex('80 c8 00 06 00 00 00 01')));
  t.notOk(isRtpOrRtcp(hex('16 fe fd 00')), 'DTLS');
  t.notOk(isRtpOrRtcp(hex('00 01 00 00')), 'STUN');
});

t.test('extension value readers', async (t) => {
  const dd: DependencyDescriptorHead = { startOfFrame: false, endOfFrame: false, templateId: 0, frameNumber: 0, hasExtendedFields: false };
  t.ok(readDependencyDescriptorHead(hex('c5 12 34 ff'), 0, 4, dd));
  t.same(dd, { startOfFrame: true, endOfFrame: true, templateId: 5, frameNumber: 0x1234, hasExtendedFields: true });
  t.notOk(readDependencyDescriptorHead(hex('c5 12'), 0, 2, dd));
  t.equal(readAbsSendTime(hex('01 02'), 0, 2), -1);
  t.equal(readTransportWideSeq(hex('01'), 0, 1), -1);
  t.equal(readAudioLevelByte(hex(''), 0, 0), -1);
  t.equal(readSdesString(hex('61 62 00'), 0, 3), 'ab');
  t.equal(absSendTimeFromMs(1000), 1 << 18);
  t.equal(absSendTimeFromMs(64000), 0, 'wraps at 64 s');
});

t.test('sequence unwrapping', async (t) => {
  const u = new Unwrapper(16);
  const first = u.update(65530);
  t.equal(u.update(65535) - first, 5);
  t.equal(u.update(3) - first, 9, 'forward wrap');
  t.equal(u.update(65534) - first, 4, 'late packet from before the wrap');
  t.equal(u.max - first, 9, 'late packets do not move the max');
  t.equal(u.update(30003) - first, 30009, 'a jump under half the space goes forward');
  t.equal(u.update(65000) - first, 65000 - 65530, 'a jump over half the space is a late packet from the previous cycle');
  const ts = new Unwrapper(32);
  const a = ts.update(0xfffffff0);
  t.equal(ts.update(0x10) - a, 0x20);
  t.equal(seqDiff(1, 65535), 2);
  t.equal(seqDiff(65535, 1), -2);
  t.ok(seqNewer(0, 65535));
  t.notOk(seqNewer(65535, 0));
});

t.test('appendExtension adds an element in every form, moving the payload', async (t) => {
  const payload = Buffer.from('payload!');
  const room = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc(8)]);
  const cases: { what: string; pkt: Buffer; id: number; grow: number }[] = [
    { what: 'no extension: a new one-byte block', pkt: encodeRtp({ payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3 }, payload), id: 3, grow: 8 },
    {
      what: 'one-byte block: appended',
      pkt: encodeRtp({ payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3, extensions: [{ id: 1, value: Buffer.from([9]) }] }, payload),
      id: 3,
      grow: 4,
    },
    {
      what: 'two-byte block: appended',
      pkt: encodeRtp({ payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3, extensions: [{ id: 1, value: Buffer.alloc(20, 7) }] }, payload),
      id: 3,
      grow: 4,
    },
  ];
  for (const c of cases) {
    const buf = room(c.pkt);
    const v = new RtpView();
    t.ok(v.reset(buf, 0, c.pkt.length), c.what);
    const at = v.appendExtension(c.id, 2);
    t.ok(at > 0, `${c.what}: value at ${at}`);
    buf.writeUInt16BE(0xabcd, at);
    t.equal(v.length, c.pkt.length + c.grow, `${c.what}: ${c.grow} bytes longer`);
    const back = parseRtp(buf, 0, v.length)!;
    t.same(back.payload(), payload, `${c.what}: payload intact`);
    t.same(back.getExtension(c.id), Buffer.from([0xab, 0xcd]), `${c.what}: the element reads back`);
    if (c.grow === 4) t.same(back.getExtension(1)?.[0], c.what.startsWith('one') ? 9 : 7, `${c.what}: the old element kept`);
  }
  const v = new RtpView();
  const tight = encodeRtp({ payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3 }, payload);
  v.reset(tight);
  t.equal(v.appendExtension(3, 2), -1, 'no room after the packet: refused');
  const roomy = room(tight);
  v.reset(roomy, 0, tight.length);
  t.equal(v.appendExtension(15, 2), -1, 'id 15 cannot be a one-byte element');
  t.equal(v.appendExtension(3, 0), -1, 'nor can an empty value');
});
