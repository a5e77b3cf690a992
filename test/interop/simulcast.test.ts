// Simulcast end to end with libwebrtc (@roamhq/wrtc): a publisher sends three
// rid encodings (q/h/f, 240/480/960 px wide) through sfud over ion-sfu
// JSON-RPC. Three viewers ask, on the ion-sfu data channel, for high, medium
// and low, and decode the matching frame sizes; a fourth switches layer
// every 2 s for 30 s and its decoder never freezes (no gap over 500 ms).
import t from 'tap';
import { Sfu } from '../../src/sfu.js';
import { framesSince, simulcastPublisher, viewer, type Layer, type Viewer } from '../helpers/wrtc-ion.js';
import { isLoopback, waitFor } from './echo.js';

// NOTE: see test/interop/wrtc.test.ts (wrtc segfaults on a natural exit).
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

const WIDTH = 960;
const HEIGHT = 540;
const FPS = 15;
const SWITCH_SECONDS = 30;

const WIDTH_OF: Record<Layer, number> = { low: WIDTH / 4, medium: WIDTH / 2, high: WIDTH };

/** What the timeline reads from a viewer's peer stats. */
interface PeerStats {
  downlink: { estimateBps: number; allocatedBps: number; limited: boolean; estimator: Record<string, unknown>; pacer: { queueMs: number } };
  consumers: { layers?: { current: number; allocated: { spatial: number } }; congestionStops?: number }[];
}

t.test('rid simulcast: each viewer decodes the layer it asked for; switching never freezes', async (t) => {
  t.setTimeout(110_000);
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const sid = 'simulcast';

  const publisher = await simulcastPublisher(url, sid, { width: WIDTH, height: HEIGHT, fps: FPS });
  t.match(publisher.offerSdp, /a=simulcast:send q;h;f/, 'the publisher offers rid simulcast');
  t.match(publisher.answerSdp, /a=simulcast:recv q;h;f/, 'sfud accepts the three layers');
  const viewers = await Promise.all(['high', 'medium', 'low', 'switcher'].map((uid) => viewer(url, sid, uid)));
  t.teardown(() => {
    for (const v of viewers) v.close();
    publisher.close();
  });
  const [high, medium, low, switcher] = viewers as [Viewer, Viewer, Viewer, Viewer];
  // Each viewer's downlink, every 250 ms: printed when the test fails (or with BWE_TIMELINE=1).
  const timeline: string[] = [];
  const t0 = Date.now();
  const sampler = setInterval(() => {
    for (const uid of ['high', 'medium', 'low', 'switcher']) {
      const st = (sfu.rooms.get(sid)?.getMember(uid) as unknown as { getStats(): PeerStats } | undefined)?.getStats();
      if (!st) continue;
      const d = st.downlink;
      const c = st.consumers.find((x) => x.layers);
      timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} ${uid} est=${d.estimateBps} dly=${d.estimator.delayBasedBps} loss=${d.estimator.lossCapBps} ack=${d.estimator.ackedBps} sig=${d.estimator.delaySignal} rtt=${d.estimator.rttMs} alloc=${d.allocatedBps} lim=${d.limited} q=${d.pacer.queueMs} layer=${c?.layers?.current}/${c?.layers?.allocated.spatial} stops=${c?.congestionStops}`);
    }
  }, 250);
  t.teardown(() => {
    clearInterval(sampler);
    if (!t.passing() || process.env.BWE_TIMELINE) console.error(timeline.join('\n'));
  });

  const producer = () => sfu.rooms.get(sid)?.getMember('pub')?.producers[0];
  await waitFor('all three encodings arriving at sfud', () => (producer()?.encodings ?? []).every((e) => e.packets > 0), 30_000);
  t.same(
    producer()!
      .encodings.map((e) => `${e.rid}:${e.layer}`)
      .sort(),
    ['f:2', 'h:1', 'q:0'],
    'rids map to layers',
  );
  await waitFor('every viewer decoding and its ion-sfu channel open', () => viewers.every((v) => v.frames.length > 0 && v.api?.readyState === 'open'), 30_000);
  const streamId = publisher.streamId;
  high.prefer(streamId, 'high');
  medium.prefer(streamId, 'medium');
  low.prefer(streamId, 'low');
  switcher.prefer(streamId, 'high');
  for (const [v, layer] of [
    [high, 'high'],
    [medium, 'medium'],
    [low, 'low'],
  ] as const) {
    await waitFor(`${v.uid} decodes ${WIDTH_OF[layer]} px frames`, () => v.frames.at(-1)?.width === WIDTH_OF[layer], 20_000);
    t.pass(`${v.uid} decodes ${layer} (${WIDTH_OF[layer]} px)`);
  }
  await waitFor('activeLayer messages', () => medium.activeLayers.includes('medium') && low.activeLayers.includes('low') && high.activeLayers.at(-1) === 'high');
  t.pass('viewers are told their active layer on the ion-sfu channel');

  // The switcher: a new layer every 2 s for 30 s.
  const order: Layer[] = ['low', 'high', 'medium', 'high', 'low', 'medium'];
  const start = Date.now();
  const seen = new Set<number>();
  const switchAt: string[] = [];
  for (let i = 0; i < SWITCH_SECONDS / 2; i++) {
    switchAt.push(`${Date.now() - start}:${order[i % order.length]}`);
    switcher.prefer(streamId, order[i % order.length]!);
    await new Promise((r) => setTimeout(r, 2000));
    seen.add(switcher.frames.at(-1)?.width ?? 0);
  }
  const w = framesSince(switcher, start);
  const secs = (Date.now() - start) / 1000;
  const fps = w.frames.length / secs;
  // The fixed viewers show what the publisher itself delivered meanwhile (a
  // CPU-starved encoder skips frames too): the switcher is measured against them.
  const ref = [high, medium, low].map((v) => framesSince(v, start));
  // The switcher visits low, medium and high equally: compare with their mean rate and worst gap.
  const refFps = ref.reduce((n, r) => n + r.frames.length, 0) / ref.length / secs;
  const refGap = Math.max(...ref.map((r) => r.maxGap));
  t.comment(
    `switcher: ${w.frames.length} frames in ${secs.toFixed(1)} s (${fps.toFixed(1)} fps), longest gap ${w.maxGap} ms, widths ${[...seen].join(',')}; ` +
      `fixed viewers: ${refFps.toFixed(1)} fps, longest gaps ${ref.map((r) => r.maxGap).join('/')} ms (high/medium/low)`,
  );
  t.ok(w.maxGap <= Math.max(500, refGap + 100), `no freeze: longest gap ${w.maxGap} ms (<= 500, or the publisher's own ${refGap} ms + 100)`);
  t.ok(fps >= refFps * 0.8, `frames keep arriving at the publisher's rate (${fps.toFixed(1)} of ${refFps.toFixed(1)} fps)`);
  t.ok(seen.size >= 3, `the switcher really moved between layers (${[...seen].join(', ')})`);
  const sc = sfu.rooms.get(sid)!.getMember('switcher') as unknown as { getStats(): { consumers: { layers?: { switches: number } }[] } };
  const switches = sc.getStats().consumers.find((c) => c.layers)?.layers?.switches ?? 0;
  t.ok(switches >= 10, `sfud switched the consumer ${switches} times`);
  t.comment(`switcher consumer at sfud: ${JSON.stringify(sc.getStats().consumers.find((c) => c.layers))}`);
  t.comment('switches ' + switchAt.join(' '));
  const fr = w.frames;
  let gi = 1;
  for (let i = 1; i < fr.length; i++) if (fr[i]!.at - fr[i - 1]!.at > fr[gi]!.at - fr[gi - 1]!.at) gi = i;
  t.comment('around max gap ' + fr.slice(Math.max(0, gi - 4), gi + 4).map((f) => `${f.at - start}:${f.width}`).join(' '));
});
