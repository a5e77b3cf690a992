/**
 * Codec payload descriptors: is parsing once per packet at ingress, and the
 * VP8 picture id / TL0PICIDX rewrite on layer switches, cheap enough for the
 * forwarding path? Baseline: werift's depacketizers, which allocate a result
 * object (and for H.264 a new Buffer) per call, measured in the same run.
 * NOTE: werift's VP8 picture id goes through binary strings and parseInt,
 * which is most of its cost; the gap is not only allocation.
 *
 *   npm run build && node -e "import('./dist/bench/micro/codecs.js').then(m=>m.run())"
 */
import { H264RtpPayload, Vp8RtpPayload } from 'werift';
import { createCodecDescriptors, createCodecSummary, parseCodecPayload } from '../../src/rtp/codecs/index.js';
import { createH264Descriptor, parseH264 } from '../../src/rtp/codecs/h264.js';
import { createVp8Descriptor, parseVp8, writeVp8PictureId, writeVp8Tl0PicIdx } from '../../src/rtp/codecs/vp8.js';
import {
  createDdStream,
  createDependencyDescriptor,
  parseDependencyDescriptor,
  writeDdFrameNumber,
} from '../../src/rtp/dependency-descriptor.js';
import { bench, consume, report } from './harness.js';

/** A payload of `size` bytes: `head` followed by filler. */
function payload(head: number[], size: number): Buffer {
  const b = Buffer.alloc(size, 0x5a);
  Buffer.from(head).copy(b);
  return b;
}

export function run(): void {
  // Chrome-shaped VP8 simulcast packet: X S | I L T | 15-bit picture id | TL0PICIDX | TID=1 Y | delta frame data
  const vp8 = payload([0x90, 0xe0, 0x9a, 0x0c, 0x07, 0x60, 0x31, 0x02, 0x00], 1100);
  const vd = createVp8Descriptor();
  const all = createCodecDescriptors();
  const sum = createCodecSummary();
  parseVp8(vp8, 0, vp8.length, vd);
  const idOff = vd.pictureIdOffset;
  const tl0Off = vd.tl0PicIdxOffset;

  report('VP8 payload descriptor, 1100-byte payload (ns/op)', [
    bench('werift Vp8RtpPayload.deSerialize', () => Vp8RtpPayload.deSerialize(vp8).pictureId),
    bench('sfud parseVp8 (reused descriptor)', () => (parseVp8(vp8, 0, vp8.length, vd) ? vd.pictureId : -1)),
    bench('sfud parseCodecPayload("vp8") summary', () =>
      parseCodecPayload('vp8', vp8, 0, vp8.length, all, sum) ? sum.pictureId : -1,
    ),
    bench('sfud parseVp8 + rewrite picture id + TL0PICIDX', (i) => {
      if (!parseVp8(vp8, 0, vp8.length, vd)) return false;
      writeVp8PictureId(vp8, vd.pictureIdOffset, i);
      return writeVp8Tl0PicIdx(vp8, vd.tl0PicIdxOffset, i >> 2);
    }),
    // Offsets come from the ingress parse: the egress rewrite is two stores.
    bench('sfud rewrite only (offsets from ingress)', (i) => {
      writeVp8PictureId(vp8, idOff, i);
      return writeVp8Tl0PicIdx(vp8, tl0Off, i >> 2);
    }),
  ]);

  // FU-A start of an IDR slice, 1200 bytes
  const fua = payload([0x7c, 0x85, 0x88, 0x84, 0x00, 0x21], 1200);
  // STAP-A: SPS + PPS + small IDR, as Chrome sends before a key frame
  const stap = Buffer.from('78' + '000f6742c01f1a323501407a403c2211a8' + '0005681a34e3c8' + '000465888040', 'hex');
  const hd = createH264Descriptor();
  if (!parseH264(stap, 0, stap.length, hd) || hd.nalCount !== 3) throw new Error('bench STAP-A vector does not parse');

  report('H.264 FU-A (IDR start), 1200-byte payload (ns/op)', [
    bench('werift H264RtpPayload.deSerialize', () => H264RtpPayload.deSerialize(fua).isKeyframe),
    bench('sfud parseH264 (reused descriptor)', () => (parseH264(fua, 0, fua.length, hd) ? hd.isKeyframe : false)),
  ]);

  report('H.264 STAP-A (SPS + PPS + IDR) (ns/op)', [
    bench('werift H264RtpPayload.deSerialize', () => H264RtpPayload.deSerialize(stap).isKeyframe),
    bench('sfud parseH264 (reused descriptor)', () => (parseH264(stap, 0, stap.length, hd) ? hd.isKeyframe : false)),
  ]);

  // Dependency Descriptor (L1T3 of the spec's example A.10.2.1): what reading it adds per packet.
  // The baseline is the H.264 payload parse every packet pays already.
  const structure = Buffer.from('810000802214eaaa44104d1410208426', 'hex');
  const mandatory = Buffer.from('c30001', 'hex'); // S E, template 3 (T1), frame 1
  const ddStream = createDdStream();
  const dd = createDependencyDescriptor();
  if (parseDependencyDescriptor(structure, 0, structure.length, ddStream, dd) !== 2) throw new Error('bench DD structure does not parse');
  report('Dependency Descriptor (ns/op)', [
    bench('sfud parseH264 FU-A (baseline, per packet)', () => (parseH264(fua, 0, fua.length, hd) ? hd.isKeyframe : false)),
    bench('sfud parseDependencyDescriptor, 3-byte packet', () => parseDependencyDescriptor(mandatory, 0, 3, ddStream, dd)),
    bench('sfud parseDependencyDescriptor, key frame structure', () => parseDependencyDescriptor(structure, 0, structure.length, ddStream, dd)),
    bench('sfud writeDdFrameNumber (egress rewrite)', (i) => {
      writeDdFrameNumber(mandatory, 0, i & 0xffff);
      return mandatory[2];
    }),
  ]);
  consume(vd);
}
