// Automatic layer selection by bandwidth: a libwebrtc publisher sends three
// simulcast layers through sfud; one libwebrtc viewer receives through a UDP
// relay whose down leg is a bottleneck (a rate-limited FIFO: delay builds,
// then packets drop). sfud estimates the viewer's downlink from its
// transport-wide feedback and moves it to a layer that fits: within 5 s of a
// 500 kbps limit, with loss under 2% once settled; and back to the top layer
// after the limit is lifted (probing finds the capacity again; target 15 s).
import t from 'tap';
import { Sfu } from '../../src/sfu.js';
import { simulcastPublisher, viewer } from '../helpers/wrtc-ion.js';
import { startRelay, viaRelay } from '../helpers/udp-relay.js';
import { isLoopback, waitFor } from './echo.js';
import { scrape } from '../helpers/metrics.js';

// NOTE: see test/interop/wrtc.test.ts (wrtc segfaults on a natural exit).
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

const LIMIT_BPS = 500_000;

t.test('the viewer settles on a layer its link carries, and climbs back when the limit goes', async (t) => {
  t.setTimeout(110_000);
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const sfuPort = sfu.webRtcServer.muxes[0]!.port;
  const relay = await startRelay(sfuPort, { accept: isLoopback, queueMs: 300 });
  const sid = 'bandwidth';
  const publisher = await simulcastPublisher(url, sid, { width: 960, height: 540, fps: 15 });
  const v = await viewer(url, sid, 'viewer', { mungeOffer: (sdp) => viaRelay(sdp, sfuPort, relay.port) });
  t.teardown(() => {
    v.close();
    publisher.close();
    relay.close();
  });
  const member = () => sfu.rooms.get(sid)!.getMember('viewer') as unknown as {
    getStats(): { consumers: { layers?: { current: number; target: number; allocated: { spatial: number; temporal: number }; bitrates: Record<string, number> }; congestionStops?: number; resyncs?: number }[]; downlink: { estimateBps: number } };
  };
  const state = () => {
    const s = member().getStats();
    const c = s.consumers.find((x) => x.layers)!;
    return { layer: c.layers!.current, target: c.layers!.target, allocated: c.layers!.allocated.spatial, allocatedTemporal: c.layers!.allocated.temporal, estimate: Math.round(s.downlink.estimateBps), bitrates: c.layers!.bitrates };
  };

  const timeline: string[] = [];
  const t0 = Date.now();
  const sampler = setInterval(() => {
    const d = (member().getStats() as unknown as { downlink: { estimator: Record<string, unknown>; allocatedBps: number; probes: number; lastProbeTargetBps: number; reported: number; reportedLost: number; history: { unknownReports: number; packetsStamped: number }; pacer: { rateBps: number; queueMs: number } } }).downlink;
    const e = d.estimator;
    timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s est=${e.estimateBps} dly=${e.delayBasedBps} loss=${e.lossCapBps} ack=${e.ackedBps} sig=${e.delaySignal} alloc=${d.allocatedBps} probes=${d.probes}(${d.lastProbeTargetBps}->${e.lastProbeSendBps}/${e.lastProbeRecvBps}) pacer=${d.pacer.rateBps}/${d.pacer.queueMs}ms rep=${d.reported}/${d.reportedLost}/${d.history.unknownReports}/${d.history.packetsStamped} q=${relay.counts.queuedBytes} drops=${relay.counts.shapedDrops} kdrops=${relay.kernelDrops()} ${JSON.stringify(state())}`);
  }, 500);
  t.teardown(() => {
    clearInterval(sampler);
    // The estimator's story, when something went wrong.
    if (!t.passing() || process.env.BWE_TIMELINE) console.error(timeline.join('\n'));
  });
  await waitFor('the viewer decodes the top layer (960 px) on an open link', () => v.frames.at(-1)?.width === 960, 40_000);
  t.comment(`open link: ${JSON.stringify(state())}`);

  relay.rateBps = LIMIT_BPS;
  const limitedAt = Date.now();
  await waitFor('sfud moves the viewer down', () => state().layer >= 0 && state().layer < 2, 10_000);
  const downAfter = Date.now() - limitedAt;
  t.comment(`limited to ${LIMIT_BPS / 1000} kbps: moved down after ${downAfter} ms, ${JSON.stringify(state())}`);
  t.ok(downAfter <= 5000, `settled on a lower layer within 5 s (${downAfter} ms)`);
  // Loss once settled: a window after the move.
  await new Promise((r) => setTimeout(r, 2000));
  const a = await v.inbound();
  await new Promise((r) => setTimeout(r, 5000));
  const b = await v.inbound();
  const received = b.packetsReceived - a.packetsReceived;
  const lost = Math.max(0, b.packetsLost - a.packetsLost);
  const loss = lost / Math.max(1, received + lost);
  t.comment(`settled window: ${received} received, ${lost} lost (${(loss * 100).toFixed(2)}%), relay drops ${relay.counts.shapedDrops} (kernel ${relay.kernelDrops()}), ${JSON.stringify(state())}`);
  // The window holds only ~100-150 packets: 3 lost fail it. What keeps it
  // clean: sfud forwards no duplicate packets (an SRTP replay reads as loss),
  // prices a layer at its recent peak (and one back from a pause at no less
  // than before it), probes from what it really sends, and near the link's
  // capacity (the allocation limited, or the link full in the last 10 s)
  // paces at the estimate, so a keyframe waits in sfud's queue instead of
  // overflowing the link's.
  t.ok(loss < 0.02, `loss under 2% once settled (${(loss * 100).toFixed(2)}%)`);
  t.ok(b.framesDecoded > a.framesDecoded, 'the viewer keeps decoding on the lower layer');
  // What happened is visible in Prometheus too.
  const m = await scrape(sfu.metricsUrl);
  t.equal(m.value('sfud_downlink_subscribers{state="estimated"}'), 1, 'one subscriber with an estimate');
  t.ok(m.value('sfud_downlink_bps{what="estimate"}') < 2 * LIMIT_BPS, `the summed estimate reflects the limit (${m.value('sfud_downlink_bps{what="estimate"}')} bps)`);
  t.ok(m.value('sfud_layer_changes_total{event="switch"}') + m.value('sfud_layer_changes_total{event="congestion_stop"}') >= 1, 'the move down is counted');
  t.ok(m.value('sfud_pacer_packets_total{what="paced"}') > 0, 'bursts were paced');

  relay.rateBps = 0;
  const liftedAt = Date.now();
  await waitFor('back on the top layer', () => state().layer === 2 && v.frames.at(-1)?.width === 960, 30_000);
  const upAfter = Date.now() - liftedAt;
  t.comment(`limit lifted: back on the top layer after ${upAfter} ms, ${JSON.stringify(state())}`);
  t.ok(upAfter <= 15_000, `climbed back within 15 s (${upAfter} ms)`);
});
