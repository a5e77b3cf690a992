// DownlinkController's decisions with stand-in consumers (no sockets): the
// pacing rate it sets from the estimate, tighter while the allocation is
// limited, what it counts as spent, and the probe a step up held back by hysteresis asks for.
import t from 'tap';
import { DownlinkController, Priority, type DownlinkTrack } from '../../src/bwe/downlink.js';
import type { Consumer } from '../../src/router/consumer.js';

/** A video consumer whose three layers cost `costs` bps; records what it was given. */
function fakeVideo(id: string, costs: number[]) {
  const given: [number, number][] = [];
  const c = {
    id,
    kind: 'video' as const,
    closed: false,
    suspended: false,
    paused: false,
    currentLayer: 0,
    preferredLayers: { spatial: 2, temporal: 2 },
    availableLayers: () => costs.map((_, i) => i),
    layerBitrate: (l: number) => costs[l] ?? 0,
    temporalBitrates: (l: number) => [costs[l] ?? 0],
    setAllocatedLayers: (s: number, tl: number) => {
      given.push([s, tl]);
      c.currentLayer = s;
    },
    sendPadding: () => 0,
  };
  return { consumer: c as unknown as Consumer, given };
}

t.test('no estimate: nothing paced; with one: 2.5 x the estimate, 1 x while limited', async (t) => {
  const d = new DownlinkController();
  const v = fakeVideo('v', [150_000, 400_000, 1_200_000]);
  const tracks: DownlinkTrack[] = [{ consumer: v.consumer, priority: Priority.Video }];
  d.tick(0, tracks);
  t.equal(d.pacer.rateBps, 0, 'no estimate yet: unpaced');
  t.equal(v.given.length, 0, 'and nothing allocated');

  // REMB (no transport-cc here) says 3 Mbps: everything fits.
  d.onRemb(3_000_000, 10);
  d.tick(20, tracks);
  t.same(v.given.at(-1), [2, 2], 'the top layer fits');
  t.equal(d.pacer.rateBps, 2.5 * d.estimateBps, 'paced at 2.5 x the estimate');
  t.equal(d.snapshot().limited, false);

  // 600 kbps: only layer 1 fits; the link is near its capacity.
  d.onRemb(600_000, 600);
  d.tick(620, tracks);
  t.same(v.given.at(-1), [1, 2], 'down to layer 1 at once');
  t.equal(d.snapshot().limited, true);
  t.equal(d.pacer.rateBps, d.estimateBps, 'limited: bursts wait here at the estimate, not in the link\'s queue');
  const snap = d.snapshot();
  t.equal(snap.estimateBps, 600_000);
  t.equal(snap.allocatedBps, 400_000);
  d.close();
});

t.test('a step up held back by the 15 % headroom still counts as wanted, so a probe can prove it', async (t) => {
  const d = new DownlinkController();
  const v = fakeVideo('v', [150_000, 400_000, 1_000_000]);
  const tracks: DownlinkTrack[] = [{ consumer: v.consumer, priority: Priority.Video }];
  d.onRemb(500_000, 0);
  d.tick(0, tracks);
  t.same(v.given.at(-1), [1, 2]);
  // 1.1 Mbps covers the top layer but not with 15 % to spare: it is held at layer 1.
  d.onRemb(1_100_000, 600);
  d.tick(600, tracks);
  t.same(v.given.at(-1), [1, 2], 'held at layer 1');
  const j = d.toJSON() as { limited: boolean; wantedBps: number };
  t.equal(j.limited, true, 'held below what fits counts as limited');
  t.ok(j.wantedBps >= 1_000_000 / 0.85 - 1, `wanted covers the headroom (${j.wantedBps} bps)`);
  // What is spent is layer 1, as applied: a probe pads from it to its target, so counting the
  // top layer the allocation would give (but the hysteresis held back) made probes too weak.
  t.equal(d.snapshot().allocatedBps, 400_000, 'allocated: the applied layer, not the held-back one');
  d.close();
});
