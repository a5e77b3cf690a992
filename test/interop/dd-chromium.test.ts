// Temporal layers from the Dependency Descriptor, end to end with headless
// Chromium (Debian's chromium via playwright-core, fake camera): a publisher
// page sends AV1 (libaom) or H.264 (OpenH264) with scalabilityMode L1T3 and
// the DD negotiated, through sfud over ion-sfu JSON-RPC; a subscriber page
// asks on the ion-sfu data channel for a lower frame rate and must keep
// decoding at about a half / a quarter of the full rate, then come back.
import t, { type Test } from 'tap';
import type { BrowserContext, Page } from 'playwright-core';
import { Sfu } from '../../src/sfu.js';
import { launchChromium, requireChromium, type Chromium } from '../helpers/chromium.js';
import { IonRpc } from '../helpers/ion-rpc.js';
import { isLoopback, waitFor } from './echo.js';

requireChromium();

const MEASURE_MS = 4000;

let sfu: Sfu | undefined;
let chrome: Chromium | undefined;
let browser: BrowserContext;

/** The Sfu of this file (started before the first test). */
function server(): Sfu {
  if (!sfu) throw new Error('sfu not started');
  return sfu;
}

t.before(async () => {
  [sfu, chrome] = await Promise.all([
    Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback }),
    launchChromium('sfud-dd-chromium-'),
  ]);
  browser = chrome.context;
});

t.teardown(() => Promise.all([chrome?.close(), sfu?.close()]));

interface PageWindow {
  pub: RTCPeerConnection;
  sub: RTCPeerConnection;
  api?: RTCDataChannel;
  streamId?: string;
}

/**
 * A member in a page: publisher and subscriber connections as ion-sdk-js
 * has them, signalled from Node. `codec`: publish the camera with it in L1T3.
 */
/** L1T3 on one encoding, or rid simulcast with L1T3 on each. */
const SINGLE = [{ scalabilityMode: 'L1T3' }];
const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, scalabilityMode: 'L1T3' },
  { rid: 'h', scaleResolutionDownBy: 2, scalabilityMode: 'L1T3' },
  { rid: 'f', scalabilityMode: 'L1T3' },
];

async function join(
  t: Test,
  sid: string,
  uid: string,
  codec?: string,
  encodings: readonly Record<string, unknown>[] = SINGLE,
  size = { width: 640, height: 360 },
): Promise<{ page: Page; rpc: IonRpc; offerSdp: string; subSdp: () => Promise<string> }> {
  const page = await browser.newPage();
  // Served by sfud on 127.0.0.1: a secure context, so getUserMedia exists.
  await page.goto(server().httpUrl);
  const offerSdp = await page.evaluate(async ({ codec, encodings, size }) => {
    const w = window as unknown as PageWindow;
    w.pub = new RTCPeerConnection();
    w.sub = new RTCPeerConnection();
    w.pub.createDataChannel('ion-sfu');
    w.sub.ondatachannel = (e) => {
      if (e.channel.label === 'ion-sfu') w.api = e.channel;
    };
    if (codec) {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: size.width, height: size.height, frameRate: 30 } });
      w.streamId = stream.id;
      const tr = w.pub.addTransceiver(stream.getVideoTracks()[0]!, { direction: 'sendonly', streams: [stream], sendEncodings: encodings as unknown as RTCRtpEncodingParameters[] });
      tr.setCodecPreferences(RTCRtpSender.getCapabilities('video')!.codecs.filter((c) => c.mimeType === `video/${codec}`));
    }
    await w.pub.setLocalDescription();
    return w.pub.localDescription!.sdp;
  }, { codec, encodings, size });
  const rpc = await IonRpc.connect(`${server().httpUrl.replace('http', 'ws')}/ws`);
  rpc.onNotification = (method, params) => {
    if (method !== 'offer') return;
    void page
      .evaluate(async (sdp) => {
        const w = window as unknown as PageWindow;
        await w.sub.setRemoteDescription({ type: 'offer', sdp });
        await w.sub.setLocalDescription();
        return w.sub.localDescription!.sdp;
      }, (params as { sdp: string }).sdp)
      .then((sdp) => rpc.notify('answer', { desc: { type: 'answer', sdp } }))
      .catch((e: unknown) => t.fail(`${uid}: subscriber negotiation: ${String(e)}`));
  };
  const answer = (await rpc.call('join', { sid, uid, offer: { type: 'offer', sdp: offerSdp } })) as { sdp: string };
  await page.evaluate(async (sdp) => {
    await (window as unknown as PageWindow).pub.setRemoteDescription({ type: 'answer', sdp });
  }, answer.sdp);
  t.teardown(async () => {
    rpc.close();
    await page.close();
  });
  const subSdp = () => page.evaluate(() => (window as unknown as PageWindow).sub.currentRemoteDescription?.sdp ?? '');
  return { page, rpc, offerSdp, subSdp };
}

async function inbound(page: Page): Promise<{ framesDecoded: number; codec: string; decoder: string; width: number }> {
  return page.evaluate(async () => {
    const w = window as unknown as PageWindow;
    const out = { framesDecoded: 0, codec: '', decoder: '', width: 0 };
    const stats = await w.sub.getStats();
    stats.forEach((s: { type: string; kind?: string; framesDecoded?: number; codecId?: string; decoderImplementation?: string; frameWidth?: number }) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      out.framesDecoded += s.framesDecoded ?? 0;
      out.width = s.frameWidth ?? 0;
      out.decoder = s.decoderImplementation ?? '';
      const c = s.codecId ? (stats.get(s.codecId) as { mimeType?: string } | undefined) : undefined;
      out.codec = c?.mimeType ?? '';
    });
    return out;
  });
}

/** Frames decoded per second by the subscriber over `MEASURE_MS`. */
async function decodeRate(page: Page): Promise<number> {
  const a = await inbound(page);
  const start = Date.now();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  const b = await inbound(page);
  return ((b.framesDecoded - a.framesDecoded) * 1000) / (Date.now() - start);
}

/** Waits (up to 20 s) for the subscriber's ion-sfu channel and 10 decoded frames; returns its inbound stats. */
async function subscriberReady(page: Page): Promise<Awaited<ReturnType<typeof inbound>>> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ready = await page.evaluate(() => (window as unknown as PageWindow).api?.readyState === 'open');
    if (ready && (await inbound(page)).framesDecoded > 10) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return inbound(page);
}

type Level = 'low' | 'medium' | 'high';

async function prefer(page: Page, streamId: string, framerate: Level, video: Level = 'high'): Promise<void> {
  await page.evaluate(
    ({ streamId, framerate, video }) => {
      (window as unknown as PageWindow).api!.send(JSON.stringify({ streamId, video, framerate, audio: true }));
    },
    { streamId, framerate, video },
  );
}

for (const codec of ['AV1', 'H264']) {
  t.test(`${codec} L1T3 with the dependency descriptor: a subscriber at a lower frame rate keeps decoding`, async (t) => {
    t.setTimeout(90_000);
    const sid = `dd-${codec}`;
    const pub = await join(t, sid, 'pub', codec);
    t.match(pub.offerSdp, /dependency-descriptor-rtp-header-extension/, 'Chromium offers the DD');
    const producer = () => server().rooms.get(sid)?.getMember('pub')?.producers[0];
    await waitFor('video arriving at sfud', () => (producer()?.stats.packets ?? 0) > 50, 20_000);
    const p = producer()!;
    t.equal(p.currentCodec.mimeType.toLowerCase(), `video/${codec.toLowerCase()}`);

    const sub = await join(t, sid, 'sub');
    const first = await subscriberReady(sub.page);
    t.ok(first.framesDecoded > 10, `subscriber decodes ${first.codec} (${first.framesDecoded} frames)`);
    t.match(await sub.subSdp(), /dependency-descriptor-rtp-header-extension/, 'sfud offers the DD to the subscriber');
    t.ok(p.stats.ddParsed > 0, `sfud read ${p.stats.ddParsed} DDs (${p.stats.ddUnknown} without a known structure, ${p.stats.ddMalformed} malformed)`);
    t.equal(p.stats.ddMalformed, 0);

    const streamId = p.streamId;
    const member = server().rooms.get(sid)!.getMember('sub') as unknown as { getStats(): { consumers: Record<string, unknown>[] } };
    const consumerStats = () => member.getStats().consumers.find((c) => c.layers) as unknown as { drops: { temporalLayer: number } };

    const full = await decodeRate(sub.page);
    const rates: Record<string, number> = { high: full };
    for (const framerate of ['medium', 'low', 'high'] as const) {
      await prefer(sub.page, streamId, framerate);
      await new Promise((r) => setTimeout(r, 1000));
      rates[`${framerate}${framerate === 'high' ? ' again' : ''}`] = await decodeRate(sub.page);
    }
    t.comment(`decoded fps: ${Object.entries(rates).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
    t.comment(`consumer at sfud: ${JSON.stringify(consumerStats())}`);
    t.ok(full > 6, `full rate ${full.toFixed(1)} fps`);
    t.ok(rates.medium! > 0.3 * full && rates.medium! < 0.7 * full, `medium (TL0+TL1) about half: ${rates.medium!.toFixed(1)} of ${full.toFixed(1)} fps`);
    t.ok(rates.low! > 0.1 * full && rates.low! < 0.4 * full, `low (TL0) about a quarter: ${rates.low!.toFixed(1)} of ${full.toFixed(1)} fps`);
    t.ok(rates['high again']! > 0.75 * full, `back to the full rate: ${rates['high again']!.toFixed(1)} fps`);
    t.ok(consumerStats().drops.temporalLayer > 0, `sfud dropped ${consumerStats().drops.temporalLayer} packets of higher temporal layers`);
  });
}

t.test('VP8 rid simulcast, L1T3 on each encoding, with the DD: layer and frame-rate switches keep the subscriber decoding', async (t) => {
  t.setTimeout(100_000);
  const sid = 'dd-simulcast';
  // libwebrtc sends three simulcast encodings from 960x540 up (fewer for smaller captures).
  const pub = await join(t, sid, 'pub', 'VP8', SIMULCAST, { width: 960, height: 540 });
  t.match(pub.offerSdp, /a=simulcast:send q;h;f/);
  const producer = () => server().rooms.get(sid)?.getMember('pub')?.producers[0];
  await waitFor('all three encodings arriving at sfud', () => (producer()?.encodings ?? []).every((e) => e.packets > 0), 30_000);
  const p = producer()!;
  const sub = await join(t, sid, 'sub');
  t.ok((await subscriberReady(sub.page)).framesDecoded > 10, 'subscriber decoding');
  t.ok(p.stats.ddParsed > 0, `sfud read ${p.stats.ddParsed} DDs (${p.stats.ddUnknown} without a known structure, ${p.stats.ddMalformed} malformed)`);
  t.equal(p.stats.ddMalformed, 0);
  const log: string[] = [];
  // Each step: a layer (and frame rate); the subscriber must decode frames of it within the wait.
  // 'high' at framerate 'low': the allocator offers a reduced rate on an upper layer only when
  // the subscriber capped the rate itself (src/bwe/downlink.ts videoOptions).
  for (const [video, framerate, width] of [
    ['low', 'high', 240],
    ['high', 'high', 960],
    ['low', 'low', 240],
    ['high', 'low', 960],
    ['medium', 'high', 480],
    ['low', 'medium', 240],
    ['high', 'high', 960],
  ] as const) {
    await prefer(sub.page, p.streamId, framerate, video);
    const before = await inbound(sub.page);
    let now = before;
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      now = await inbound(sub.page);
      if (now.width === width && now.framesDecoded - before.framesDecoded >= 5) break;
    }
    const member = server().rooms.get(sid)!.getMember('sub') as unknown as { getStats(): { consumers: { layers?: { current: number; currentTemporal: number } }[] } };
    const layers = member.getStats().consumers.find((c) => c.layers)?.layers;
    log.push(`${video}/${framerate}: ${now.width} px, +${now.framesDecoded - before.framesDecoded} frames, sfud S${layers?.current}T${layers?.currentTemporal}`);
    t.ok(now.width === width && now.framesDecoded - before.framesDecoded >= 5, `${video} at framerate ${framerate}: decodes ${now.width} px frames (+${now.framesDecoded - before.framesDecoded})`);
  }
  t.comment(log.join('; '));
});
