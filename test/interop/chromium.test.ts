// Interop with headless Chromium (Debian's chromium via playwright-core, fake
// camera and microphone): offer audio + video + data channel to an sfud
// transport, decode the echoed video in the browser, and exchange data
// channel messages; once with each SRTP profile forced on sfud's side.
import t from 'tap';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { WebRtcServer } from '../../src/transport/webrtc-server.js';
import type { SrtpProfileName } from '../../src/dtls/dtls-transport.js';
import { launchChromium, requireChromium, type Chromium } from '../helpers/chromium.js';
import { answerOffer, echoDataChannels, isLoopback, startEcho, waitFor } from './echo.js';

requireChromium();

let chrome: Chromium | undefined;
let browser: BrowserContext;
let page: Page;
const http = createServer((_req, res) => res.end('<!doctype html><title>sfud interop</title>'));

t.before(async () => {
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  chrome = await launchChromium('sfud-chromium-');
  browser = chrome.context;
});

t.teardown(async () => {
  await chrome?.close();
  http.close();
});

async function newPage(): Promise<Page> {
  const p = await browser.newPage();
  await p.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
  return p;
}

for (const profile of ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80'] as SrtpProfileName[]) {
  t.test(`Chromium peer with ${profile}`, async (t) => {
    const server = await WebRtcServer.create({ listen: [{ ip: '127.0.0.1', port: 0 }], acceptRemote: isLoopback, srtpProfiles: [profile] });
    t.teardown(() => server.close());
    const transport = server.createWebRtcTransport({ enableSctp: true });
    const peerChannels = echoDataChannels(transport);
    page = await newPage();
    t.teardown(() => page.close());

    const offer = await page.evaluate(async () => {
      const w = window as unknown as Record<string, unknown>;
      const pc = new RTCPeerConnection();
      w.pc = pc;
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
      for (const track of stream.getTracks()) pc.addTrack(track, stream);
      const chat = pc.createDataChannel('chat');
      w.chat = chat;
      const got: string[] = [];
      w.got = got;
      chat.onmessage = (e) => got.push(String(e.data));
      pc.ondatachannel = (e) => {
        e.channel.onmessage = (m) => got.push(`${e.channel.label}:${String(m.data)}`);
      };
      await pc.setLocalDescription(await pc.createOffer());
      return pc.localDescription!.sdp;
    });
    const plan = answerOffer(offer, transport);
    const counts = startEcho(transport, plan);
    await page.evaluate(async (sdp) => {
      const pc = (window as unknown as { pc: RTCPeerConnection }).pc;
      await pc.setRemoteDescription({ type: 'answer', sdp });
    }, plan.answer);

    await waitFor('DTLS connected', () => transport.dtlsState === 'connected');
    t.ok(isLoopback(transport.selectedTuple!.address), `media path on loopback (${transport.selectedTuple!.address})`);
  t.ok(isLoopback(transport.selectedTuple!.address), `media path on loopback (${transport.selectedTuple!.address})`);
    t.equal(transport.srtpProfile, profile, `negotiated ${profile}`);
    // Chrome nominates (USE-CANDIDATE) on its own schedule, sometimes after DTLS is up.
    await waitFor('ICE nomination', () => transport.ice.state === 'completed');

    const framesDecoded = async (): Promise<number> =>
      page.evaluate(async () => {
        const pc = (window as unknown as { pc: RTCPeerConnection }).pc;
        let frames = 0;
        (await pc.getStats()).forEach((s: { type: string; kind?: string; framesDecoded?: number }) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
        });
        return frames;
      });
    let frames = 0;
    const start = Date.now();
    while (frames < 10 && Date.now() - start < 20_000) {
      frames = await framesDecoded();
      if (frames < 10) await new Promise((r) => setTimeout(r, 200));
    }
    t.ok(frames >= 10, `the browser decoded ${frames} echoed video frames`);
    t.ok(counts.rtpIn > 0 && counts.rtpOut > 0, `RTP in ${counts.rtpIn}, echoed ${counts.rtpOut}`);

    await waitFor('chat channel at sfud', () => peerChannels.length === 1);
    await page.evaluate(() => {
      const chat = (window as unknown as { chat: RTCDataChannel }).chat;
      const send = () => chat.send('hello sfu');
      if (chat.readyState === 'open') send();
      else chat.onopen = send;
    });
    const mine = transport.createDataChannel('sfu');
    await new Promise<void>((r) => mine.once('open', () => r()));
    mine.send('hello browser');
    const got = async () => page.evaluate(() => (window as unknown as { got: string[] }).got);
    const until = Date.now() + 10_000;
    let messages: string[] = [];
    while (Date.now() < until) {
      messages = await got();
      if (messages.includes('echo: hello sfu') && messages.includes('sfu:hello browser')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.ok(messages.includes('echo: hello sfu'), 'browser -> sfud -> browser on the browser-opened channel');
    t.ok(messages.includes('sfu:hello browser'), 'sfud-opened channel reached the browser');
    transport.close();
  });
}
