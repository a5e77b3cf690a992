import t from 'tap';
import { videoOptions } from '../../src/bwe/downlink.js';
import {
  VideoLayerSelector,
  layerName,
  orderRids,
  type LayerPacket,
  type SelectDecision,
} from '../../src/simulcast/layer-selector.js';

const FRAME_MS = 33; // 30 fps

interface P {
  key?: boolean;
  tl?: number;
  sync?: boolean;
  size?: number;
  start?: boolean;
}
function pkt(layer: number, o: P = {}): LayerPacket {
  return {
    layer,
    keyframe: o.key ?? false,
    startOfFrame: o.start ?? true,
    marker: true,
    temporalLayer: o.tl ?? 0,
    temporalLayerSync: o.sync ?? false,
    size: o.size ?? 1000,
  };
}
/** A copy of the reused decision object, for exact comparison. */
function sel(s: VideoLayerSelector, p: LayerPacket, now: number): SelectDecision {
  return { ...s.select(p, now) };
}
function d(forward: boolean, spatial: number, temporal: number, extra: Partial<SelectDecision> = {}): SelectDecision {
  return { forward, dropTemporal: false, dropSpatial: false, switched: false, needKeyframe: -1, spatial, temporal, ...extra };
}
/** One 30 fps frame on each listed layer at frame index i; returns the decisions by layer. */
function frame(s: VideoLayerSelector, i: number, layers: number[], keyOn: number[] = []): SelectDecision[] {
  return layers.map((l) => sel(s, pkt(l, { key: keyOn.includes(l) }), i * FRAME_MS));
}
/** Starts a selector on `layer` (all three layers flowing) at frame 0. */
function started(target: number): VideoLayerSelector {
  const s = new VideoLayerSelector({ targetSpatial: target, targetTemporal: 2 });
  frame(s, 0, [0, 1, 2], [target]);
  return s;
}

t.test('start waits for a keyframe of the target layer', async (t) => {
  const s = new VideoLayerSelector();
  t.same(frame(s, 0, [0, 1, 2]), [
    d(false, -1, -1, { needKeyframe: 0 }),
    d(false, -1, -1, { needKeyframe: 1 }),
    d(false, -1, -1, { needKeyframe: 2 }),
  ], 'desired = highest layer seen so far');
  t.same(frame(s, 1, [0, 1, 2], [0, 1]), [
    d(false, -1, -1, { needKeyframe: 2 }),
    d(false, -1, -1, { needKeyframe: 2 }),
    d(false, -1, -1, { needKeyframe: 2 }),
  ], 'lower keyframes are not taken before the wait runs out');
  t.equal(s.switchPending(FRAME_MS), true);
  t.same(frame(s, 2, [0, 1, 2], [2]), [
    d(false, -1, -1, { needKeyframe: 2 }),
    d(false, -1, -1, { needKeyframe: 2 }),
    d(true, 2, 2, { switched: true }),
  ]);
  t.same(frame(s, 3, [0, 1, 2]), [d(false, 2, 2), d(false, 2, 2), d(true, 2, 2)]);
  t.equal(s.switchPending(3 * FRAME_MS), false);
  t.equal(s.switches, 1);
});

t.test('up-switch exactly at the target layer keyframe, keyframe asked meanwhile', async (t) => {
  const s = started(0);
  t.equal(s.currentSpatialLayer, 0);
  s.setTarget(2, 2);
  for (let i = 1; i <= 5; i++) {
    t.same(frame(s, i, [0, 1, 2], i === 3 ? [1] : []), [
      d(true, 0, 2, { needKeyframe: 2 }),
      d(false, 0, 2, { needKeyframe: 2 }),
      d(false, 0, 2, { needKeyframe: 2 }),
    ], `frame ${i}: still on 0 (a layer-1 keyframe at 3 is not the target)`);
  }
  t.same(frame(s, 6, [0, 2, 1], [2]), [
    d(true, 0, 2, { needKeyframe: 2 }),
    d(true, 2, 2, { switched: true }),
    d(false, 2, 2),
  ]);
  t.same(frame(s, 7, [0, 1, 2]), [d(false, 2, 2), d(false, 2, 2), d(true, 2, 2)]);
  t.equal(s.switches, 2);
  t.equal(s.keyframeWaits, 16, 'packets seen while the switch waited');
});

t.test('down-switch waits for the lower layer keyframe', async (t) => {
  const s = started(2);
  s.setTarget(0, 2);
  t.same(frame(s, 1, [0, 1, 2], [1]), [
    d(false, 2, 2, { needKeyframe: 0 }),
    d(false, 2, 2, { needKeyframe: 0 }),
    d(true, 2, 2, { needKeyframe: 0 }),
  ]);
  t.same(frame(s, 2, [2, 0, 1], [0]), [
    d(true, 2, 2, { needKeyframe: 0 }),
    d(true, 0, 2, { switched: true }),
    d(false, 0, 2),
  ]);
  t.same(frame(s, 3, [0, 1, 2]), [d(true, 0, 2), d(false, 0, 2), d(false, 0, 2)]);
});

t.test('current layer vanishing for 600 ms: switch at the next keyframe of another layer', async (t) => {
  const s = started(2);
  // Layer 2 last arrives at frame 1 (33 ms); layers 0 and 1 go on.
  frame(s, 1, [0, 1, 2]);
  t.same(frame(s, 10, [0, 1], [1]), [d(false, 2, 2), d(false, 2, 2)], '330 ms: layer 2 still counts as alive, no switch');
  t.same(s.availableLayers(10 * FRAME_MS), [0, 1, 2]);
  t.same(frame(s, 19, [0, 1]), [
    d(false, 2, 2, { needKeyframe: 1 }),
    d(false, 2, 2, { needKeyframe: 1 }),
  ], '627 ms: layer 2 gone, a layer-1 keyframe is requested');
  t.same(s.availableLayers(19 * FRAME_MS), [0, 1]);
  t.same(frame(s, 20, [0, 1], [0]), [
    d(true, 0, 2, { switched: true }),
    d(false, 0, 2, { needKeyframe: 1 }),
  ], 'any available layer keyframe ends the freeze');
  t.same(frame(s, 21, [0, 1], [1]), [
    d(true, 0, 2, { needKeyframe: 1 }),
    d(true, 1, 2, { switched: true }),
  ], 'then climbs to the best available at its keyframe');
  t.same(frame(s, 22, [0, 1, 2]), [d(false, 1, 2), d(true, 1, 2), d(false, 1, 2, { needKeyframe: 2 })],
    'layer 2 back: up-switch pending from its first packet');
  t.same(frame(s, 23, [0, 1, 2]), [
    d(false, 1, 2, { needKeyframe: 2 }),
    d(true, 1, 2, { needKeyframe: 2 }),
    d(false, 1, 2, { needKeyframe: 2 }),
  ]);
});

t.test('start falls back to a lower layer keyframe after 1 s without the target', async (t) => {
  const s = new VideoLayerSelector();
  frame(s, 0, [0, 1, 2]);
  t.same(frame(s, 15, [0, 1, 2], [0]), [
    d(false, -1, -1, { needKeyframe: 2 }),
    d(false, -1, -1, { needKeyframe: 2 }),
    d(false, -1, -1, { needKeyframe: 2 }),
  ], '495 ms: keep waiting');
  t.same(frame(s, 30, [0, 1, 2]), [
    d(false, -1, -1, { needKeyframe: 2 }),
    d(false, -1, -1, { needKeyframe: 2 }),
    d(false, -1, -1, { needKeyframe: 2 }),
  ], '990 ms: still waiting');
  t.same(frame(s, 31, [0, 1, 2], [1]), [
    d(false, -1, -1, { needKeyframe: 2 }),
    d(true, 1, 2, { switched: true }),
    d(false, 1, 2, { needKeyframe: 2 }),
  ], '1023 ms: the layer-1 keyframe is taken, layer 2 still wanted');
  t.same(frame(s, 32, [0, 1, 2], [2]), [
    d(false, 1, 2, { needKeyframe: 2 }),
    d(true, 1, 2, { needKeyframe: 2 }),
    d(true, 2, 2, { switched: true }),
  ]);
});

t.test('temporal filtering: TL2 dropped at target 1; up-switch only at a sync point', async (t) => {
  const s = new VideoLayerSelector({ targetSpatial: 0, targetTemporal: 1 });
  const tls = [0, 2, 1, 2];
  t.same(sel(s, pkt(0, { key: true }), 0), d(true, 0, 1, { switched: true }));
  const out: SelectDecision[] = [];
  for (let i = 1; i < 8; i++) out.push(sel(s, pkt(0, { tl: tls[i % 4] ?? 0, sync: true }), i * FRAME_MS));
  t.same(out, [
    d(false, 0, 1, { dropTemporal: true }),
    d(true, 0, 1),
    d(false, 0, 1, { dropTemporal: true }),
    d(true, 0, 1),
    d(false, 0, 1, { dropTemporal: true }),
    d(true, 0, 1),
    d(false, 0, 1, { dropTemporal: true }),
  ], 'TL2 (even when a sync point) is above the target');
  s.setTarget(0, 2);
  t.same(sel(s, pkt(0, { tl: 2 }), 8 * FRAME_MS), d(false, 0, 1, { dropTemporal: true }), 'no sync bit: no up-switch');
  t.same(sel(s, pkt(0, { tl: 2, start: false, sync: true }), 8 * FRAME_MS), d(false, 0, 1, { dropTemporal: true }),
    'not a frame start: no up-switch');
  t.same(sel(s, pkt(0, { tl: 1 }), 9 * FRAME_MS), d(true, 0, 1));
  t.same(sel(s, pkt(0, { tl: 2, sync: true }), 10 * FRAME_MS), d(true, 0, 2), 'sync point: up-switch');
  t.same(sel(s, pkt(0, { tl: 2 }), 11 * FRAME_MS), d(true, 0, 2));
  s.setTarget(0, 0);
  t.same(sel(s, pkt(0, { tl: 1 }), 12 * FRAME_MS), d(false, 0, 0, { dropTemporal: true }), 'down-switch at a frame start');
  t.same(sel(s, pkt(0, { tl: 0 }), 13 * FRAME_MS), d(true, 0, 0));
  s.setTarget(0, 2);
  t.same(sel(s, pkt(0, { tl: 0, key: true }), 14 * FRAME_MS), d(true, 0, 2), 'a keyframe is a switching point');
});

t.test('pause and resume restart at a keyframe', async (t) => {
  const s = started(1);
  s.pause();
  t.equal(s.isPaused, true);
  t.same(frame(s, 1, [0, 1, 2], [1]), [d(false, -1, -1), d(false, -1, -1), d(false, -1, -1)]);
  s.resume(2 * FRAME_MS);
  t.same(frame(s, 2, [0, 1, 2]), [
    d(false, -1, -1, { needKeyframe: 1 }),
    d(false, -1, -1, { needKeyframe: 1 }),
    d(false, -1, -1, { needKeyframe: 1 }),
  ]);
  t.same(frame(s, 3, [0, 1, 2], [1]), [
    d(false, -1, -1, { needKeyframe: 1 }),
    d(true, 1, 2, { switched: true }),
    d(false, 1, 2),
  ]);
  s.setTarget(-1, 2);
  t.same(frame(s, 4, [1], [1]), [d(false, -1, -1)], 'target none forwards nothing');
  s.setTarget(1, 2);
  t.same(frame(s, 5, [1], [1]), [d(true, 1, 2, { switched: true })]);
});

t.test('availableLayers and per-layer counters', async (t) => {
  const s = new VideoLayerSelector();
  t.same(s.availableLayers(0), []);
  for (let i = 0; i <= 30; i++) {
    s.select(pkt(0, { size: 100 }), i * FRAME_MS);
    if (i <= 14) s.select(pkt(2, { size: 1000 }), i * FRAME_MS);
  }
  t.same(s.availableLayers(30 * FRAME_MS), [0]);
  t.same(s.availableLayers(14 * FRAME_MS + 500), [0, 2], 'layer 2 last seen 462 ms: alive until 962 ms');
  t.same(s.layerStats(0), { lastSeenMs: 990, lastKeyframeMs: -Infinity, packets: 31, bytes: 3100, bitrate: 0, temporalBitrates: [] });
  s.select(pkt(0, { size: 100, key: true }), 31 * FRAME_MS);
  t.same(s.layerStats(0), { lastSeenMs: 1023, lastKeyframeMs: 1023, packets: 32, bytes: 3200, bitrate: 24242, temporalBitrates: [24242] },
    '31 packets x 100 B in 1023 ms');
  t.same(s.layerStats(1), { lastSeenMs: -Infinity, lastKeyframeMs: -Infinity, packets: 0, bytes: 0, bitrate: 0, temporalBitrates: [] });
  t.equal(s.layerStats(4), undefined);
  t.same([0, 1, 2].map(layerName), ['low', 'medium', 'high']);
});

t.test('a layer back from a pause keeps its last price until fresh windows show its cost, never its bytes spread over the absence', async (t) => {
  const s = new VideoLayerSelector();
  // 1000 B per frame at 30 fps: 240 kbps.
  for (let i = 0; i <= 31; i++) s.select(pkt(2, { size: 1000 }), i * FRAME_MS);
  t.ok(Math.abs(s.layerStats(2)!.bitrate - 240_000) < 10_000, `measured ~240 kbps (${s.layerStats(2)!.bitrate})`);
  const before = s.layerStats(2)!.bitrate;
  // Paused for 3 s, then back at half the rate (an encoder ramps a resumed layer up): the first
  // packet must not close a 4-second window at ~70 kbps.
  const back = 31 * FRAME_MS + 3000;
  s.select(pkt(2, { size: 500 }), back);
  t.equal(s.layerStats(2)!.bitrate, before, 'right after the pause: its last price');
  t.equal(s.layerStats(2)!.temporalBitrates.length, 1, 'and its last temporal prices');
  for (let i = 1; i <= 31; i++) s.select(pkt(2, { size: 500 }), back + i * FRAME_MS);
  t.equal(s.layerStats(2)!.bitrate, before, 'the first fresh window (~120 kbps) is floored by the last price');
  for (let i = 32; i <= 62; i++) s.select(pkt(2, { size: 500 }), back + i * FRAME_MS);
  t.ok(Math.abs(s.layerStats(2)!.bitrate - 120_000) < 10_000, `two fresh windows later: ~120 kbps (${s.layerStats(2)!.bitrate})`);
});

t.test('per temporal layer bitrates, cumulative, feed the allocation options', async (t) => {
  const s = new VideoLayerSelector();
  // L1T3 pattern per 4 frames: TL0, TL2, TL1, TL2; TL0 frames 400 B, TL1 200 B, TL2 100 B.
  const pattern = [0, 2, 1, 2];
  const size = [400, 200, 100];
  for (let i = 0; i <= 31; i++) {
    const tl = pattern[i % 4]!;
    s.select(pkt(0, { tl, size: size[tl]!, key: i === 0 }), i * FRAME_MS);
    s.select(pkt(1, { tl, size: 5 * size[tl]!, key: i === 0 }), i * FRAME_MS);
  }
  const rate = (bytes: number): number => Math.round((bytes * 8 * 1000) / (31 * FRAME_MS));
  // 31 packets in the window [0, 1023): 8 TL0, 8 TL1... (frames 0..30)
  const tl0 = 8 * 400;
  const tl1 = 8 * 200;
  const tl2 = 15 * 100;
  t.same(s.layerStats(0)!.temporalBitrates, [rate(tl0), rate(tl0) + rate(tl1), rate(tl0) + rate(tl1) + rate(tl2)]);
  t.equal(s.layerStats(1)!.temporalBitrates.length, 3, 'layer 1 has temporal layers too');
  const consumer = {
    availableLayers: () => s.availableLayers(31 * FRAME_MS),
    layerBitrate: (l: number) => s.layerStats(l)!.bitrate,
    temporalBitrates: (l: number) => s.layerStats(l)!.temporalBitrates,
  };
  const opts = videoOptions(consumer);
  t.same(
    opts.map((o) => [o.spatial, o.temporal]),
    [
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 2],
    ],
    'reduced frame rates on the lowest layer only, ascending by bitrate',
  );
  t.equal(opts[0]!.bps, rate(tl0));
  t.equal(opts[3]!.bps, s.layerStats(1)!.bitrate);
  t.same(
    videoOptions(consumer, 0).map((o) => [o.spatial, o.temporal]),
    [
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 2],
    ],
    'a subscriber capping the frame rate (high, low frame rate) also gets that rate on the higher layer',
  );
  const flat = new VideoLayerSelector();
  for (let i = 0; i <= 31; i++) flat.select(pkt(0, { size: 1000, key: i === 0 }), i * FRAME_MS);
  t.same(flat.layerStats(0)!.temporalBitrates, [flat.layerStats(0)!.bitrate], 'a stream without temporal layers has one entry');
  t.same(
    videoOptions({ availableLayers: () => [0], layerBitrate: () => flat.layerStats(0)!.bitrate, temporalBitrates: () => flat.layerStats(0)!.temporalBitrates }).map((o) => o.temporal),
    [2],
    'and only its full rate is offered',
  );
});

t.test('an arriving layer within the cap with no price yet: no options (no information), not a move down to the priced ones', async (t) => {
  const prices = [150_000, 400_000, 0];
  const c = { availableLayers: () => [0, 1, 2], layerBitrate: (l: number) => prices[l]!, temporalBitrates: (l: number) => [prices[l]!] };
  t.same(videoOptions(c), [], 'layer 2 arrives unpriced: nothing to choose from yet');
  t.same(
    videoOptions(c, 2, 1).map((o) => o.spatial),
    [0, 1],
    'a subscriber capped at layer 1 does not wait for layer 2\'s price',
  );
  prices[2] = 1_200_000;
  t.same(
    videoOptions(c).map((o) => o.spatial),
    [0, 1, 2],
    'priced: every layer is an option',
  );
});

t.test('SVC: spatial layers in one stream', async (t) => {
  const s = new VideoLayerSelector({ svc: true, targetSpatial: 1 });
  t.same(sel(s, pkt(0), 0), d(false, -1, -1, { needKeyframe: 0 }));
  t.same(sel(s, pkt(1, { start: true }), 0), d(false, -1, -1, { needKeyframe: 0 }));
  t.same(sel(s, pkt(2), 0), d(false, -1, -1, { needKeyframe: 0 }));
  t.same(sel(s, pkt(0, { key: true }), FRAME_MS), d(true, 1, 2, { switched: true }));
  t.same(sel(s, pkt(1), FRAME_MS), d(true, 1, 2));
  t.same(sel(s, pkt(2), FRAME_MS), d(false, 1, 2, { dropSpatial: true }));
  s.setTarget(0, 2);
  t.same(sel(s, pkt(0), 2 * FRAME_MS), d(true, 0, 2), 'down at a picture start, no keyframe needed');
  t.same(sel(s, pkt(1), 2 * FRAME_MS), d(false, 0, 2, { dropSpatial: true }));
  s.setTarget(2, 2);
  t.same(sel(s, pkt(0), 3 * FRAME_MS), d(true, 0, 2, { needKeyframe: 0 }));
  t.same(sel(s, pkt(2), 3 * FRAME_MS), d(false, 0, 2, { dropSpatial: true, needKeyframe: 0 }));
  t.same(sel(s, pkt(0, { key: true }), 4 * FRAME_MS), d(true, 2, 2, { switched: true }));
  t.same(sel(s, pkt(2), 4 * FRAME_MS), d(true, 2, 2));
});

t.test('orderRids', async (t) => {
  t.same([...orderRids([{ rid: 'f' }, { rid: 'h' }, { rid: 'q' }])], [['f', 2], ['h', 1], ['q', 0]]);
  t.same([...orderRids([{ rid: 'q' }, { rid: 'f' }])], [['q', 0], ['f', 2]], 'ion-sfu numbering kept');
  t.same(
    [...orderRids([
      { rid: 'hi', width: 1280, height: 720 },
      { rid: 'lo', width: 320, height: 180 },
      { rid: 'mid', width: 640, height: 360 },
    ])],
    [['lo', 0], ['mid', 1], ['hi', 2]],
  );
  t.same(
    [...orderRids([{ rid: '2', bitrate: 2_000_000 }, { rid: '0', bitrate: 150_000 }, { rid: '1', bitrate: 500_000 }])],
    [['0', 0], ['1', 1], ['2', 2]],
    'bitrate when the resolution is unknown',
  );
  t.same([...orderRids([{ rid: 'a' }, { rid: 'b' }])], [['a', 0], ['b', 1]], 'given order otherwise');
  t.same([...orderRids([{ rid: 'f' }, { rid: 'x', width: 10, height: 10 }])], [['f', 0], ['x', 1]], 'mixed names: observed order');
  t.same([...orderRids([{ rid: 'toString' }])], [['toString', 0]]);
  t.same([...orderRids([])], []);
});

t.test('nothing at or below the target arrives: the lowest arriving layer, never a freeze', async (t) => {
  const s = new VideoLayerSelector({ targetSpatial: 0, targetTemporal: 1 });
  t.same([s.currentSpatialLayer, s.currentTemporalLayer, s.targetSpatialLayer, s.targetTemporalLayer], [-1, -1, 0, 1]);
  t.equal(s.desiredLayer(0), 0, 'nothing seen: the target');
  t.same(frame(s, 0, [2, 1]), [d(false, -1, -1, { needKeyframe: 2 }), d(false, -1, -1, { needKeyframe: 1 })]);
  t.same(frame(s, 1, [2, 1], [1]), [d(false, -1, -1, { needKeyframe: 1 }), d(true, 1, 1, { switched: true })]);
  t.same([s.currentSpatialLayer, s.currentTemporalLayer], [1, 1]);
});

t.test('a bandwidth ceiling stops the never-freeze fallback to a higher layer', async (t) => {
  const s = new VideoLayerSelector({ targetSpatial: 0 });
  // Only layer 2 arrives. Without a ceiling, rule 5 takes it rather than freeze ...
  t.equal(s.select(pkt(2, { key: true }), 0).forward, true, 'no ceiling: the only arriving layer is taken');
  // ... but when the allocation says the link carries layer 0 at most, it is not forwarded.
  const c = new VideoLayerSelector({ targetSpatial: 0 });
  c.setTarget(0, 2, 0);
  for (let i = 0; i < 10; i++) t.equal(c.select(pkt(2, { key: true }), i * FRAME_MS).forward, false);
  t.equal(c.desiredLayer(10 * FRAME_MS), 0, 'it waits for the layer the link carries');
  // Layer 0 comes back: taken at its keyframe.
  t.equal(c.select(pkt(0, { key: true }), 11 * FRAME_MS).forward, true);
});
