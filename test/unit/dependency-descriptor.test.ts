// Dependency Descriptor reader (AV1 RTP spec appendix A). Every vector is
// written out field by field from the A.8.2 syntax, as bit strings, so a
// reader can check each one against the spec.
import t from 'tap';
import {
  DD_MALFORMED,
  DD_NO_STRUCTURE,
  DD_OK,
  DTI_DISCARDABLE,
  DTI_NOT_PRESENT,
  DTI_SWITCH,
  createDdStream,
  createDependencyDescriptor,
  decodeTargetsUpTo,
  frameChainFdiff,
  frameDti,
  frameFdiff,
  parseDependencyDescriptor,
  temporalSwitchMask,
  writeDdActiveDecodeTargets,
  writeDdFrameNumber,
} from '../../src/rtp/dependency-descriptor.js';
import { bits } from '../helpers/dd.js';

/**
 * L1T3 from the spec's example A.10.2.1: 5 templates, 3 decode targets
 * (DT0 30 fps, DT1 15 fps, DT2 7.5 fps), one chain over the TL0 frames.
 *
 *   idx S T fdiffs chain  DT0 DT1 DT2
 *    0  0 0   -      0     S   S   S
 *    1  0 0   4      4     S   S   S
 *    2  0 1   2      2     S   D   -
 *    3  0 2   1      1     D   -   -
 *    4  0 2   1      3     D   -   -
 */
const L1T3_STRUCTURE = [
  '000001', // template_id_offset = 1
  '00010', // dt_cnt_minus_one = 2
  '00 01 01 00 11', // next_layer_idc: same, +T, +T, same, end -> T0 T0 T1 T2 T2
  '101010 101010 100100 010000 010000', // template_dti (S=10 D=01 -=00), 3 per template
  '0 100110 100010 100000 100000', // fdiffs: none | 4 | 2 | 1 | 1 (flag, fdiff_minus_one f(4), ..., 0)
  '01', // chain_cnt = ns(4) = 1 (2 bits: 01)
  '', // decode_target_protected_by = ns(1) x 3: zero bits each
  '0000 0100 0010 0001 0011', // template_chain_fdiff: 0 4 2 1 3
  '1', // resolutions_present_flag
  '0000001001111111 0000000101100111', // 640x360 (minus one)
].join(' ');

/** First packet of a key frame: S=1, E=0, template id 1 (index 0), frame 100, structure attached. */
const KEY = bits('1 0 000001', '0000000001100100', '1 0 0 0 0', L1T3_STRUCTURE);

function parse(buf: Buffer, stream = createDdStream(), d = createDependencyDescriptor()) {
  const r = parseDependencyDescriptor(buf, 0, buf.length, stream, d);
  return { r, d, stream };
}

t.test('key frame with the L1T3 template structure', async (t) => {
  const { r, d, stream } = parse(KEY);
  t.equal(r, DD_OK);
  t.match(d, { startOfFrame: true, endOfFrame: false, templateId: 1, frameNumber: 100, structureAttached: true });
  t.match(d, { templateIndex: 0, spatialId: 0, temporalId: 0, fdiffCount: 0, width: 640, height: 360, activeDecodeTargetsBit: -1 });
  const s = stream.structure;
  t.same([0, 1, 2].map((i) => frameDti(s, d, i)), [DTI_SWITCH, DTI_SWITCH, DTI_SWITCH]);
  t.ok(stream.hasStructure);
  t.match(s, { templateIdOffset: 1, templateCount: 5, decodeTargetCount: 3, chainCount: 1, maxSpatialId: 0, maxTemporalId: 2 });
  t.same([...s.templateTemporalId.subarray(0, 5)], [0, 0, 1, 2, 2]);
  t.same([...s.templateFdiffCount.subarray(0, 5)], [0, 1, 1, 1, 1]);
  t.same([s.templateFdiff[16], s.templateFdiff[32], s.templateFdiff[48], s.templateFdiff[64]], [4, 2, 1, 1]);
  t.same([0, 1, 2, 3, 4].map((i) => s.templateChainFdiff[i * 32]), [0, 4, 2, 1, 3]);
  t.same([...s.decodeTargetProtectedBy.subarray(0, 3)], [0, 0, 0]);
  // decode_target_layers(): DT0 holds T2 frames, DT1 up to T1, DT2 only T0.
  t.same([...s.decodeTargetTemporalId.subarray(0, 3)], [2, 1, 0]);
  t.same([...s.decodeTargetSpatialId.subarray(0, 3)], [0, 0, 0]);
  t.equal(stream.activeDecodeTargets, 0b111, 'a structure makes every decode target active');
  t.equal(temporalSwitchMask(s, d), 0b111, 'a key frame is a switch point into every target');
  t.equal(decodeTargetsUpTo(s, 0, 1), 0b110);
  t.equal(decodeTargetsUpTo(s, 0, 0), 0b100);
});

t.test('mandatory-only packets resolve through the remembered structure', async (t) => {
  const stream = createDdStream();
  t.equal(parse(KEY, stream).r, DD_OK);
  // S=1 E=1, template id 4 (index 3: T2, fdiff 1), frame 101.
  let { r, d } = parse(bits('1 1 000100', '0000000001100101'), stream);
  t.equal(r, DD_OK);
  t.match(d, { startOfFrame: true, endOfFrame: true, templateIndex: 3, temporalId: 2, frameNumber: 101, structureAttached: false });
  const s = stream.structure;
  t.equal(d.fdiffCount, 1);
  t.equal(frameFdiff(s, d, 0), 1);
  t.equal(frameChainFdiff(s, d, 0), 1);
  t.same([0, 1, 2].map((i) => frameDti(s, d, i)), [DTI_DISCARDABLE, DTI_NOT_PRESENT, DTI_NOT_PRESENT]);
  t.equal(temporalSwitchMask(stream.structure, d), 0, 'a TL2 frame is a switch point into nothing');
  // Template id 3 (index 2: T1): a switch point into the 30 fps target only.
  ({ r, d } = parse(bits('1 1 000011', '0000000001100110'), stream));
  t.equal(r, DD_OK);
  t.equal(d.temporalId, 1);
  t.equal(temporalSwitchMask(stream.structure, d), 0b100);
  // Template id 0 is outside offset 1 .. 1+5-1: a structure we do not have (not malformed).
  ({ r, d } = parse(bits('1 1 000000', '0000000001100111'), stream));
  t.equal(r, DD_NO_STRUCTURE);
  t.equal(d.frameNumber, 103);
});

t.test('without a structure only the mandatory fields are known', async (t) => {
  const { r, d } = parse(bits('0 1 000100', '1111111111111110'));
  t.equal(r, DD_NO_STRUCTURE);
  t.match(d, { startOfFrame: false, endOfFrame: true, templateId: 4, frameNumber: 0xfffe });
  // An active-targets bitmask cannot be read without DtCnt.
  t.equal(parse(bits('1 1 000100', '0000000000000001', '0 1 0 0 0', '111')).r, DD_NO_STRUCTURE);
});

t.test('custom dtis, fdiffs, chains and the active decode targets bitmask', async (t) => {
  const stream = createDdStream();
  t.equal(parse(KEY, stream).r, DD_OK);
  const buf = bits(
    '1 0 000011', // S=1 E=0, template id 3 (index 2, T1)
    '0000000001101110', // frame 110
    '0 1 1 1 1', // no structure; active bitmask, custom dtis, custom fdiffs, custom chains
    '011', // active_decode_targets_bitmask f(3): DT0 and DT1
    '10 01 00', // frame_dti: S D -
    '01 0001', // next_fdiff_size 1, fdiff_minus_one f(4) = 1 -> fdiff 2
    '10 00010011', // next_fdiff_size 2, f(8) = 19 -> fdiff 20
    '00', // no more fdiffs
    '00000101', // frame_chain_fdiff[0] = 5
  );
  const { r, d } = parse(buf, stream);
  t.equal(r, DD_OK);
  t.match(d, { customDtis: true, customFdiffs: true, customChains: true, temporalId: 1, frameNumber: 110 });
  t.equal(d.activeDecodeTargetsBit, 29, 'after 24 mandatory bits and 5 flags');
  t.equal(stream.activeDecodeTargets, 0b011);
  const s = stream.structure;
  t.same([0, 1, 2].map((i) => frameDti(s, d, i)), [DTI_SWITCH, DTI_DISCARDABLE, DTI_NOT_PRESENT]);
  t.same([d.fdiffCount, frameFdiff(s, d, 0), frameFdiff(s, d, 1)], [2, 2, 20]);
  t.equal(frameChainFdiff(s, d, 0), 5);
  t.equal(temporalSwitchMask(s, d), 0b100, 'custom DTIs: S for DT0 (up to T2)');

  // In-place rewrites keep every other bit.
  const copy = Buffer.from(buf);
  writeDdActiveDecodeTargets(copy, 0, d.activeDecodeTargetsBit, 3, 0b100);
  writeDdFrameNumber(copy, 0, 0xbeef);
  const again = parse(copy, stream);
  t.equal(again.r, DD_OK);
  t.equal(again.d.frameNumber, 0xbeef);
  t.equal(stream.activeDecodeTargets, 0b100);
  t.same([frameFdiff(s, again.d, 0), frameFdiff(s, again.d, 1), frameChainFdiff(s, again.d, 0)], [2, 20, 5]);
});

t.test('two spatial layers: spatial ids and decode target layers', async (t) => {
  // L2T1: template 0 = S0, template 1 = S1 (next_layer_idc 2); DT0 = both layers, DT1 = S0 only; no chains.
  const buf = bits(
    '1 0 000000',
    '0000000000000001',
    '1 0 0 0 0',
    '000000', // template_id_offset 0
    '00001', // 2 decode targets
    '10 11', // S0 T0, then S1 T0, end
    '1010 1000', // dtis: S0 = S S, S1 = S -
    '0 11000', // fdiffs: S0 none, S1 refers to the S0 frame (fdiff 1)
    '0', // chain_cnt = ns(3) = 0 (one bit)
    '0', // no resolutions
  );
  const stream = createDdStream();
  t.equal(parse(buf, stream).r, DD_OK);
  t.same([...stream.structure.decodeTargetSpatialId.subarray(0, 2)], [1, 0]);
  const { r, d } = parse(bits('0 1 000001', '0000000000000001'), stream);
  t.equal(r, DD_OK);
  t.match(d, { spatialId: 1, temporalId: 0, fdiffCount: 1 });
  t.equal(decodeTargetsUpTo(stream.structure, 0, 7), 0b10);
});

t.test('a truncated structure is malformed and keeps the last good one', async (t) => {
  const stream = createDdStream();
  t.equal(parse(KEY, stream).r, DD_OK);
  const kept = stream.structure;
  // The structure needs every bit up to the resolutions; cutting any byte of it fails cleanly.
  const needed = Math.ceil((24 + 5 + L1T3_STRUCTURE.replace(/\s/g, '').length) / 8);
  t.equal(needed, KEY.length);
  for (let len = 0; len < KEY.length; len++) {
    const r = parseDependencyDescriptor(KEY, 0, len, stream, createDependencyDescriptor());
    if (len === 3) t.equal(r, DD_OK, 'three bytes: the mandatory fields, template 1 of the known structure');
    else t.equal(r, DD_MALFORMED, `cut at ${len} bytes`);
  }
  t.equal(stream.structure, kept);
  t.equal(stream.structure.templateCount, 5);
  t.equal(parse(bits('1 1 000101', '0000000001100101'), stream).d.temporalId, 2);
  // Bounds: offsets and lengths outside the buffer.
  const d = createDependencyDescriptor();
  t.equal(parseDependencyDescriptor(KEY, -1, 3, stream, d), DD_MALFORMED);
  t.equal(parseDependencyDescriptor(KEY, KEY.length - 2, 3, stream, d), DD_MALFORMED);
  // A structure on a packet that does not start a frame breaks the spec.
  t.equal(parse(bits('0 0 000001', '0000000001100100', '1 0 0 0 0', L1T3_STRUCTURE), stream).r, DD_MALFORMED);
  t.equal(stream.structure, kept);
});

t.test('garbage never throws', async (t) => {
  // A fixed-seed generator keeps failures reproducible.
  let seed = 0x2545f491;
  const rnd = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const counts = [0, 0, 0];
  const stream = createDdStream();
  const d = createDependencyDescriptor();
  for (let i = 0; i < 20000; i++) {
    const buf = Buffer.alloc(rnd(40));
    for (let j = 0; j < buf.length; j++) buf[j] = rnd(256);
    // Half the time keep a valid structure around so mandatory-only garbage resolves too.
    if (rnd(2) === 0) parse(KEY, stream, d);
    const r = parseDependencyDescriptor(buf, 0, buf.length, stream, d);
    counts[r]!++;
    if (stream.hasStructure && !(stream.structure.templateCount >= 1 && stream.structure.decodeTargetCount >= 1)) t.fail('empty structure kept');
    if (r === DD_OK) {
      if (d.spatialId > 3 || d.temporalId > 7) t.fail(`layer out of range: ${d.spatialId}/${d.temporalId}`);
    }
  }
  t.ok(counts[DD_MALFORMED]! > 0 && counts[DD_OK]! > 0 && counts[DD_NO_STRUCTURE]! > 0, `results ${counts.join('/')}`);
});
