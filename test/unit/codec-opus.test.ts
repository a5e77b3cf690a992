// Opus TOC byte (RFC 6716 section 3.1) vectors.
import t from 'tap';
import { createOpusDescriptor, isOpusDtx, parseOpus } from '../../src/rtp/codecs/opus.js';

/** Bytes from a hex string; `|` and spaces are separators for readability. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

function parse(b: Uint8Array, off = 0, len = b.length - off) {
  const d = createOpusDescriptor();
  return { ok: parseOpus(b, off, len, d), d };
}

t.test('TOC vectors', async (t) => {
  // config 31 CELT FB 20 ms, mono, c=0 (libopus default for 48 kHz music)
  let { ok, d } = parse(hex('f8 | ff fe 01 02'));
  t.ok(ok);
  t.match(d, { config: 31, mode: 'celt', bandwidth: 'fb', stereo: false, frameCountCode: 0 });
  t.match(d, { frameCount: 1, frameSamples: 960, packetSamples: 960, isDtx: false });

  // config 31 stereo
  ({ ok, d } = parse(hex('fc | 01 02 03')));
  t.ok(ok);
  t.match(d, { config: 31, stereo: true });

  // config 9 SILK WB 20 ms (libwebrtc voice at low bitrate)
  ({ ok, d } = parse(hex('48 | 0b e4 c1')));
  t.ok(ok);
  t.match(d, { config: 9, mode: 'silk', bandwidth: 'wb', frameSamples: 960 });

  // config 0 SILK NB 10 ms, config 7 SILK MB 60 ms
  t.match(parse(hex('00 | 11')).d, { mode: 'silk', bandwidth: 'nb', frameSamples: 480 });
  t.match(parse(hex('38 | 11')).d, { config: 7, bandwidth: 'mb', frameSamples: 2880 });

  // config 12 Hybrid SWB 10 ms, config 15 Hybrid FB 20 ms
  t.match(parse(hex('60 | 11')).d, { config: 12, mode: 'hybrid', bandwidth: 'swb', frameSamples: 480 });
  t.match(parse(hex('78 | 11')).d, { config: 15, mode: 'hybrid', bandwidth: 'fb', frameSamples: 960 });

  // config 16 CELT NB 2.5 ms, config 20 CELT WB 2.5 ms, config 26 CELT SWB 10 ms
  t.match(parse(hex('80 | 11')).d, { config: 16, mode: 'celt', bandwidth: 'nb', frameSamples: 120 });
  t.match(parse(hex('a0 | 11')).d, { config: 20, mode: 'celt', bandwidth: 'wb', frameSamples: 120 });
  t.match(parse(hex('d0 | 11')).d, { config: 26, bandwidth: 'swb', frameSamples: 480 });

  // c=1: two equal 20 ms frames; c=2: two frames
  t.match(parse(hex('f9 | 11 22')).d, { frameCountCode: 1, frameCount: 2, packetSamples: 1920 });
  t.match(parse(hex('fa | 01 11 22')).d, { frameCountCode: 2, frameCount: 2, packetSamples: 1920 });

  // c=3, frame count byte M=3 (v=0 p=0): 3 x 20 ms
  t.match(parse(hex('4b | 03 | 11 22 33')).d, { frameCountCode: 3, frameCount: 3, packetSamples: 2880 });
  // c=3 with VBR and padding flags set: M=6 x 20 ms = 120 ms, the maximum
  t.match(parse(hex('4b | c6 | 00')).d, { frameCount: 6, packetSamples: 5760 });
  // c=1 of 60 ms frames: 120 ms, still allowed
  t.ok(parse(hex('19 | 11')).ok);
});

t.test('DTX', async (t) => {
  // a lone TOC byte (zero-length frame) and a 2-byte payload are DTX / comfort noise
  t.equal(parse(hex('f8')).d.isDtx, true);
  t.equal(parse(hex('48 00')).d.isDtx, true);
  t.equal(parse(hex('48 00 00')).d.isDtx, false);
  t.equal(isOpusDtx(0), false);
  t.equal(isOpusDtx(1), true);
  t.equal(isOpusDtx(2), true);
  t.equal(isOpusDtx(3), false);
});

t.test('malformed input returns false', async (t) => {
  t.equal(parse(hex('')).ok, false, 'empty');
  t.equal(parse(hex('4b')).ok, false, 'code 3 without frame count byte');
  t.equal(parse(hex('4b 00')).ok, false, 'code 3 with M=0');
  t.equal(parse(hex('4b 07 00')).ok, false, '7 x 20 ms = 140 ms > 120 ms');
  t.equal(parse(hex('1b 03 00')).ok, false, '3 x 60 ms');
  t.equal(parse(hex('f8'), 1, 1).ok, false, 'window past the end');
});
