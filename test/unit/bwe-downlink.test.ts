// DownlinkController's decisions with stand-in consumers (no sockets): the
// pacing rate it sets from the estimate, tighter while the allocation is
// limited, what it counts as spent, and the probe a step up held back by hysteresis asks for.
import t from 'tap';
import { DownlinkController, Priority, type DownlinkTrack } from '../../src/bwe/downlink.js';
import type { Consumer } from '../../src/router/consumer.js';

/** A video consumer whose three layers cost `costs` bps; records what it was given. */
function fakeVideo(id: string, costs: number[]) {
  const given: [number, number][] = [];
  /** Whether each allocation came with a congested link (a layer above it stops at once). */
  const congested: boolean[] = [];
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
    setAllocatedLayers: (s: number, tl: number, stop = false) => {
      given.push([s, tl]);
      congested.push(stop);
      c.currentLayer = s;
    },
    sendPadding: () => 0,
  };
  return { consumer: c as unknown as Consumer, given, congested };
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

t.test('a subscriber that negotiated transport-cc but sends no feedback gets an estimate from its receiver reports after 10 s', async (t) => {
  const d = new DownlinkController();
  const v = fakeVideo('v', [150_000, 400_000, 1_200_000]);
  const tracks: DownlinkTrack[] = [{ consumer: v.consumer, priority: Priority.Video }];
  // A packet with a transport-wide number went out: feedback is due.
  d.history.stamp(Buffer.alloc(2), 0, 1200, 0);
  d.tick(0, tracks);
  d.onReceiverReport(0, 20, 1000);
  d.tick(1020, tracks);
  t.equal(d.estimateBps, 0, 'an RR while the first feedback is due gives no estimate');
  t.equal(v.given.length, 0, 'and limits nothing');
  d.onReceiverReport(Math.round(0.3 * 256), 20, 10_500);
  d.tick(10_520, tracks);
  t.ok(d.estimateBps > 0 && d.estimateBps < 1_000_000, `no feedback for 10 s: the RR loss gives an estimate (${d.estimateBps})`);
  t.same(v.given.at(-1), [1, 2], 'which the allocation spends');
  t.equal((d.toJSON() as { probes: number }).probes, 0, 'no probes: nothing would measure them');
  d.close();
});

t.test('a move down is a congestion stop only on a link measured full, not on an estimate still climbing from its start', async (t) => {
  const d = new DownlinkController();
  const v = fakeVideo('v', [150_000, 400_000, 1_200_000]);
  const tracks: DownlinkTrack[] = [{ consumer: v.consumer, priority: Priority.Video }];
  // Transport-wide feedback at a steady 1.1 Mbps: the start estimate (1 Mbps) buys layer 1, with no sign of a full link.
  const feedback = (nowMs: number, spacingMs: number) => {
    const results = [];
    for (let i = 0; i < 10; i++) results.push({ sendMs: nowMs - 100 + i * 10, size: 1200, arrivalMs: 50_000 + nowMs - 100 + i * spacingMs, probeCluster: -1 });
    d.estimator.onTransportFeedback(results, nowMs);
  };
  for (let now = 100; now <= 1000; now += 100) feedback(now, 10);
  d.tick(1000, tracks);
  t.same(v.given.at(-1), [1, 2], 'layer 1 fits the start estimate');
  t.equal(v.congested.at(-1), false, 'moved down without a stop: the current layer flows until the keyframe');
  // Then the link fills: arrivals spread out more and more (a growing queue): overuse, the estimate falls.
  for (let now = 1100, k = 0; now <= 3000; now += 100, k++) feedback(now, 10 + k * 2);
  t.equal(d.estimator.congested, true, 'the delay overuses');
  d.tick(3000, tracks);
  t.equal(v.congested.at(-1), true, 'a move down now stops the current layer at once');
  d.close();
});

t.test('a layer arriving without a price yet changes nothing: the allocation holds until it is priced', async (t) => {
  const d = new DownlinkController();
  const costs = [150_000, 400_000, 1_200_000];
  const v = fakeVideo('v', costs);
  const tracks: DownlinkTrack[] = [{ consumer: v.consumer, priority: Priority.Video }];
  d.onRemb(600_000, 0);
  d.tick(0, tracks);
  t.same(v.given.at(-1), [1, 2], 'layer 1 fits 600 kbps');
  // Layer 2 comes back unpriced (a new encoding's first second): not a free top layer, not a move down.
  costs[2] = 0;
  d.tick(600, tracks);
  t.same(v.given.at(-1), [1, 2], 'held at layer 1');
  costs[2] = 1_200_000;
  d.onRemb(3_000_000, 1100);
  d.tick(1200, tracks);
  t.same(v.given.at(-1), [2, 2], 'priced and paid for: layer 2');
  d.close();
});

t.test('after the link shows itself full, egress stays at 1 x the estimate (queueing up to 2 s) for 10 s, even with nothing more wanted', async (t) => {
  const d = new DownlinkController();
  const costs = [150_000, 400_000, 1_200_000];
  const v = fakeVideo('v', costs);
  const tracks: DownlinkTrack[] = [{ consumer: v.consumer, priority: Priority.Video }];
  d.onRemb(3_000_000, 0);
  d.tick(0, tracks);
  t.equal(d.pacer.rateBps, 2.5 * d.estimateBps, 'an open link: 2.5 x');
  // The estimate falls to 600 kbps: the link just showed its limit.
  d.onRemb(600_000, 600);
  d.tick(600, tracks);
  t.same(v.given.at(-1), [1, 2]);
  // The publisher pauses its top layer: nothing wants more than the estimate gives.
  costs.pop();
  d.tick(1200, tracks);
  t.equal(d.snapshot().limited, false, 'nothing is limited');
  t.equal(d.pacer.rateBps, d.estimateBps, 'but the link was full 0.6 s ago: a keyframe waits here, at 1 x');
  t.equal(d.pacer.maxQueueMs, 2000, 'for up to 2 s before the pacer drains faster than the estimate');
  d.tick(10_500, tracks);
  t.equal(d.pacer.rateBps, d.estimateBps, 'still within 10 s');
  d.tick(10_700, tracks);
  t.equal(d.pacer.rateBps, 2.5 * d.estimateBps, '10 s without a sign of a full link: bursts pass at 2.5 x again');
  t.equal(d.pacer.maxQueueMs, 500, 'and a queue over 500 ms drains faster');
  d.close();
});

t.test('a probe sends its target in all, media and padding together, aiming above the step it must prove', async (t) => {
  const d = new DownlinkController();
  const costs = [150_000, 400_000, 1_200_000];
  let nowMs = 0;
  const v = fakeVideo('v', costs);
  const buf = Buffer.alloc(2);
  // Padding goes out at once (no pacer here), stamped into the probe's cluster like any packet.
  (v.consumer as unknown as { sendPadding: (n: number, cluster: number) => number }).sendPadding = (n, cluster) => {
    for (let k = 0; k < n; k++) d.history.stamp(buf, 0, 275, nowMs, cluster);
    return n * 275;
  };
  const tracks: DownlinkTrack[] = [{ consumer: v.consumer, priority: Priority.Video }];
  // Steady transport-wide feedback at 960 kbps: the 1 Mbps start estimate buys layer 1, the top layer is wanted.
  for (let now = 100; now <= 1000; now += 100) {
    const results = [];
    for (let i = 0; i < 10; i++) results.push({ sendMs: now - 100 + i * 10, size: 1200, arrivalMs: 50_000 + now - 100 + i * 10, probeCluster: -1 });
    d.estimator.onTransportFeedback(results, now);
  }
  let probeStart = -1;
  let bytesAtStart = 0;
  let target = 0;
  for (nowMs = 1000; nowMs <= 2000; nowMs += 20) {
    // Media: 1000 bytes a tick (400 kbps), uneven in time like frames are.
    if ((nowMs / 20) % 3 === 0) d.history.stamp(buf, 0, 3000, nowMs);
    const before = d.history.bytesStamped;
    d.tick(nowMs, tracks);
    const j = d.toJSON() as { probes: number; lastProbeTargetBps: number };
    if (j.probes > 0 && probeStart < 0) {
      probeStart = nowMs;
      target = j.lastProbeTargetBps;
      // What went out before this tick is not the probe's.
      bytesAtStart = before;
    }
    if (probeStart >= 0 && nowMs >= probeStart + 140) break;
  }
  t.ok(probeStart >= 0, 'a probe ran');
  // Its reading becomes an estimate of 90 % of it, which must cover the top layer with the 15 % headroom.
  t.ok(0.9 * target >= 1_200_000 / 0.85 - 1, `the target (${target} bps) proves the step after the 90 % share`);
  const sent = d.history.bytesStamped - bytesAtStart;
  const due = (target * 150) / 8000;
  t.ok(sent >= 0.9 * due && sent <= 1.1 * due, `sent ${sent} bytes in the probe's 150 ms, its target's pace gives ${Math.round(due)}`);
  d.close();
});
