// Simulcast end to end with libwebrtc (@roamhq/wrtc): a publisher sends three
// rid encodings (q/h/f, 240/480/960 px wide) through sfud over ion-sfu
// JSON-RPC. Three viewers ask, on the ion-sfu data channel, for high, medium
// and low, and decode the matching frame sizes; a fourth switches layer
// every 2 s for 30 s and its decoder never freezes (no gap over 500 ms).
// The picture pans a gradient: with per-pixel noise libvpx skipped frames of
// a layer for 1.1-1.7 s after each keyframe a switch asked for, and no
// subscriber can get frames the publisher did not send; with it the
// publisher keeps 15 fps and the switcher's longest gap was 90-183 ms.
import t from 'tap';
import { Sfu } from '../../src/sfu.js';
import { framesSince, simulcastPublisher, viewer, type Layer, type Viewer } from '../helpers/wrtc-ion.js';
import { isLoopback, waitFor } from './echo.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';

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

  const publisher = await simulcastPublisher(url, sid, { width: WIDTH, height: HEIGHT, fps: FPS, picture: 'pan' });
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

  // The switcher: a new layer every 2 s for 30 s. Meanwhile the high and
  // medium viewers stop handing frames to JavaScript (a copy of each picture:
  // load on this one process, which also runs sfud and the publisher).
  high.stopFrames();
  medium.stopFrames();
  // What the publisher itself delivered: the longest time any layer sent
  // nothing, as sfud's producer counts its packets (every 20 ms), and how
  // late this process's event loop ran (a stall shows on every viewer).
  const gaps = [0, 0, 0];
  const lastMove = [0, 0, 0];
  const lastCount = [-1, -1, -1];
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const poller = setInterval(() => {
    const now = Date.now();
    for (const e of producer()?.encodings ?? []) {
      if (e.layer < 0 || e.layer > 2) continue;
      if (e.packets !== lastCount[e.layer]) {
        if (lastCount[e.layer]! >= 0) gaps[e.layer] = Math.max(gaps[e.layer]!, now - lastMove[e.layer]!);
        lastCount[e.layer] = e.packets;
        lastMove[e.layer] = now;
      }
    }
  }, 20);
  const order: Layer[] = ['low', 'high', 'medium', 'high', 'low', 'medium'];
  const LAYER_OF: Record<Layer, number> = { low: 0, medium: 1, high: 2 };
  const framesSent = (): number[] => {
    const f = [0, 0, 0];
    for (const e of producer()?.encodings ?? []) if (e.layer >= 0 && e.layer <= 2) f[e.layer] = e.frames;
    return f;
  };
  const start = Date.now();
  const seen = new Set<number>();
  const switchAt: string[] = [];
  // The frames the switcher could get: per 2 s step, what the publisher sent
  // on the slower of the layer it left and the one it went to (it moves at
  // the new layer's keyframe, so it spends part of the step on each).
  let due = 0;
  let from = -1;
  for (let i = 0; i < SWITCH_SECONDS / 2; i++) {
    const layer = order[i % order.length]!;
    switchAt.push(`${Date.now() - start}:${layer}`);
    switcher.prefer(streamId, layer);
    const before = framesSent();
    await new Promise((r) => setTimeout(r, 2000));
    const after = framesSent();
    const to = LAYER_OF[layer];
    const sent = (l: number): number => after[l]! - before[l]!;
    due += from < 0 ? sent(to) : Math.min(sent(from), sent(to));
    from = to;
    seen.add(switcher.frames.at(-1)?.width ?? 0);
  }
  clearInterval(poller);
  loop.disable();
  const w = framesSince(switcher, start);
  const secs = (Date.now() - start) / 1000;
  const fps = w.frames.length / secs;
  const dueFps = due / secs;
  const publisherGap = Math.max(...gaps);
  const stallMs = Math.round(loop.max / 1e6);
  t.comment(
    `switcher: ${w.frames.length} frames in ${secs.toFixed(1)} s (${fps.toFixed(1)} fps), longest gap ${w.maxGap} ms, widths ${[...seen].join(',')}; ` +
      `the publisher sent ${dueFps.toFixed(1)} fps on the layers visited, and its longest silence per layer at sfud was ${gaps.join('/')} ms; ` +
      `event loop delay p99 ${Math.round(loop.percentile(99) / 1e6)} ms, max ${stallMs} ms`,
  );
  // No freeze: 500 ms, unless the publisher itself went silent longer (a
  // layer it stops sending cannot be switched to: libwebrtc's encoder skips
  // frames of a layer after the keyframes each switch asks for), or this
  // process stalled (then every viewer waits).
  const bound = Math.max(500, publisherGap + 100, stallMs + 100);
  t.ok(w.maxGap <= bound, `no freeze: longest gap ${w.maxGap} ms (<= 500, or the publisher's own ${publisherGap} ms or a stall of ${stallMs} ms, + 100)`);
  t.ok(w.frames.length >= 0.8 * due, `frames keep arriving at the publisher's rate (${fps.toFixed(1)} of ${dueFps.toFixed(1)} fps)`);
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
