// Simulcast end to end with libwebrtc (@roamhq/wrtc): a publisher sends three
// rid encodings (q/h/f, 240/480/960 px wide) through sfud over ion-sfu
// JSON-RPC. Three viewers ask, on the ion-sfu data channel, for high, medium
// and low, and decode the matching frame sizes; a fourth switches layer
// every 2 s for 30 s and its decoder never freezes (no gap over 500 ms).
import t from 'tap';
import wrtc from '@roamhq/wrtc';
import { Sfu } from '../../src/sfu.js';
import { IonRpc } from '../helpers/ion-rpc.js';
import { isLoopback, waitFor } from './echo.js';

// NOTE: see test/interop/wrtc.test.ts (wrtc segfaults on a natural exit).
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

const { RTCPeerConnection, nonstandard } = wrtc;
const WIDTH = 960;
const HEIGHT = 540;
const FPS = 15;
const SWITCH_SECONDS = 30;

type SessionDescription = { type: string; sdp: string };
type Channel = { label: string; readyState: string; send(m: string): void; onmessage: ((m: { data: string }) => void) | null };
type Layer = 'low' | 'medium' | 'high';
const WIDTH_OF: Record<Layer, number> = { low: WIDTH / 4, medium: WIDTH / 2, high: WIDTH };

interface Viewer {
  uid: string;
  frames: { at: number; width: number }[];
  api: Channel | undefined;
  activeLayers: string[];
  prefer(streamId: string, video: Layer): void;
  close(): void;
}

async function viewer(url: string, sid: string, uid: string): Promise<Viewer> {
  const pub = new RTCPeerConnection();
  const sub = new RTCPeerConnection();
  const rpc = await IonRpc.connect(url);
  const v: Viewer = {
    uid,
    frames: [],
    api: undefined,
    activeLayers: [],
    prefer(streamId, video) {
      v.api!.send(JSON.stringify({ streamId, video, framerate: 'high', audio: true }));
    },
    close() {
      sink?.stop();
      pub.close();
      sub.close();
      rpc.close();
    },
  };
  let sink: { stop(): void } | undefined;
  sub.ontrack = (e: { track: { kind: string } }) => {
    if (e.track.kind !== 'video') return;
    const s = new nonstandard.RTCVideoSink(e.track);
    s.onframe = ({ frame }: { frame: { width: number } }) => v.frames.push({ at: Date.now(), width: frame.width });
    sink = s;
  };
  sub.ondatachannel = (e: { channel: Channel }) => {
    if (e.channel.label !== 'ion-sfu') return;
    v.api = e.channel;
    e.channel.onmessage = (m) => {
      const msg = JSON.parse(m.data) as { method?: string; params?: { activeLayer?: string } };
      if (msg.method === 'activeLayer' && msg.params?.activeLayer) v.activeLayers.push(msg.params.activeLayer);
    };
  };
  rpc.onNotification = (method, params) => {
    if (method !== 'offer' || !params) return;
    void (async () => {
      await sub.setRemoteDescription({ type: 'offer', sdp: (params as { sdp: string }).sdp });
      await sub.setLocalDescription(await sub.createAnswer());
      rpc.notify('answer', { desc: { type: 'answer', sdp: sub.localDescription.sdp } });
    })();
  };
  pub.createDataChannel('ion-sfu');
  await pub.setLocalDescription(await pub.createOffer());
  const answer = (await rpc.call('join', { sid, uid, offer: { type: 'offer', sdp: pub.localDescription.sdp } })) as SessionDescription;
  await pub.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  return v;
}

/** Frames decoded after `from` ms, with the longest gap between two of them. */
function window(v: Viewer, from: number) {
  const frames = v.frames.filter((f) => f.at >= from);
  let maxGap = frames.length > 0 ? frames[0]!.at - from : Infinity;
  for (let i = 1; i < frames.length; i++) maxGap = Math.max(maxGap, frames[i]!.at - frames[i - 1]!.at);
  return { frames, maxGap };
}

t.test('rid simulcast: each viewer decodes the layer it asked for; switching never freezes', async (t) => {
  t.setTimeout(110_000);
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const sid = 'simulcast';

  // Publisher: a moving picture, three rid encodings as ion-sdk-js names them.
  const source = new nonstandard.RTCVideoSource();
  const data = new Uint8ClampedArray((WIDTH * HEIGHT * 3) / 2);
  let n = 0;
  const timer = setInterval(() => {
    n++;
    for (let i = 0; i < WIDTH * HEIGHT; i += 7) data[i] = (i * 13 + n * 17) & 0xff;
    source.onFrame({ width: WIDTH, height: HEIGHT, data });
  }, 1000 / FPS);
  const track = source.createTrack();
  const stream = new wrtc.MediaStream([track]);
  const pubPc = new RTCPeerConnection();
  const pubRpc = await IonRpc.connect(url);
  pubPc.createDataChannel('ion-sfu');
  pubPc.addTransceiver(track, {
    direction: 'sendonly',
    streams: [stream],
    sendEncodings: [
      { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { rid: 'f', maxBitrate: 1_500_000 },
    ],
  });
  await pubPc.setLocalDescription(await pubPc.createOffer());
  t.match(pubPc.localDescription.sdp, /a=simulcast:send q;h;f/, 'the publisher offers rid simulcast');
  const pubAnswer = (await pubRpc.call('join', { sid, uid: 'pub', offer: { type: 'offer', sdp: pubPc.localDescription.sdp } })) as SessionDescription;
  t.match(pubAnswer.sdp, /a=simulcast:recv q;h;f/, 'sfud accepts the three layers');
  await pubPc.setRemoteDescription({ type: 'answer', sdp: pubAnswer.sdp });

  const viewers = await Promise.all(['high', 'medium', 'low', 'switcher'].map((uid) => viewer(url, sid, uid)));
  t.teardown(() => {
    clearInterval(timer);
    for (const v of viewers) v.close();
    pubPc.close();
    track.stop();
    pubRpc.close();
  });
  const [high, medium, low, switcher] = viewers as [Viewer, Viewer, Viewer, Viewer];

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
  const streamId = stream.id;
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
  const w = window(switcher, start);
  const secs = (Date.now() - start) / 1000;
  const fps = w.frames.length / secs;
  // The fixed viewers show what the publisher itself delivered meanwhile (a
  // CPU-starved encoder skips frames too): the switcher is measured against them.
  const ref = [high, medium, low].map((v) => window(v, start));
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
