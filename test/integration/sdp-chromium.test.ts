// Subscriber-offer round trip in headless Chromium (Debian's chromium driven
// by playwright-core, a fresh profile, a tiny page served from 127.0.0.1):
// Chromium must accept createSubscriberOffer()'s SDP (setRemoteDescription),
// answer it (createAnswer/setLocalDescription), and parseSubscriberAnswer()
// must read that answer; then a renegotiation with a higher session version
// that adds a track after the kept inactive slot must be accepted too.
// With SFUD_CAPTURE_SDP=<file> the first answer is written there (that is how
// test/fixtures/sdp/chromium-subscriber-answer.sdp was captured).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { createSubscriberOffer, parseSubscriberAnswer, type SubscriberOfferInput } from '../../src/signal/sdp/index.js';
import { EXT_URI } from '../../src/rtp/extensions.js';
import { launchChromium, requireChromium, type Chromium } from '../helpers/chromium.js';
import { cap, subscriberInput } from '../helpers/sdp-input.js';

requireChromium();

let chrome: Chromium | undefined;
let browser: BrowserContext | undefined;
let page: Page;
const http = createServer((_req, res) => res.end('<!doctype html><title>sfud sdp</title>'));

t.before(async () => {
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  chrome = await launchChromium('sfud-sdp-chromium-');
  browser = chrome.context;
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
});

t.teardown(async () => {
  await chrome?.close();
  http.close();
});

/** Applies an offer on the page's subscriber PC and returns Chromium's answer plus what it saw. */
async function answerIn(offer: string): Promise<{ sdp: string; tracks: { kind: string; stream: string; track: string }[] }> {
  return page.evaluate(async (sdp) => {
    const w = window as unknown as { sub?: RTCPeerConnection; tracks: { kind: string; stream: string; track: string }[] };
    if (!w.sub) {
      w.tracks = [];
      w.sub = new RTCPeerConnection();
      w.sub.ontrack = (e) => w.tracks.push({ kind: e.track.kind, stream: e.streams[0]?.id ?? '', track: e.track.id });
    }
    await w.sub.setRemoteDescription({ type: 'offer', sdp });
    const answer = await w.sub.createAnswer();
    await w.sub.setLocalDescription(answer);
    return { sdp: w.sub.localDescription!.sdp, tracks: w.tracks };
  }, offer);
}

t.test('Chromium accepts the subscriber offer and its answer parses', async (t) => {
  const input = subscriberInput(1);
  const first = await answerIn(createSubscriberOffer(input));
  if (process.env.SFUD_CAPTURE_SDP) writeFileSync(process.env.SFUD_CAPTURE_SDP, first.sdp);
  const r = parseSubscriberAnswer(first.sdp, input);
  t.equal(r.setup, 'active');
  t.same(r.sections.map((s) => [s.mid, s.accepted]), [
    ['0', true],
    ['1', true],
    ['2', true],
    ['3', false],
  ]);
  t.same(r.sections[2]!.payloadTypes, [96, 98, 102], 'Chromium keeps every offered video codec');
  t.same(
    first.tracks.map((x) => [x.kind, x.stream]),
    [
      ['audio', 'stream-a'],
      ['video', 'stream-a'],
    ],
    'ontrack fires with our msid stream id',
  );

  // Renegotiation: a higher version, the kept inactive slot, a new track after it.
  const next = subscriberInput(2);
  const added: SubscriberOfferInput = {
    ...next,
    sections: [
      ...next.sections,
      {
        kind: 'video',
        mid: '4',
        codecs: [{ payloadType: 96, capability: cap('video/VP8'), rtxPayloadType: 97 }],
        extensions: { 4: EXT_URI.mid },
        ssrc: 4001,
        rtxSsrc: 4002,
        cname: 'stream-b',
        streamId: 'stream-b',
        trackId: 'video-b',
        direction: 'sendonly',
      },
    ],
  };
  const second = await answerIn(createSubscriberOffer(added));
  const r2 = parseSubscriberAnswer(second.sdp, added);
  t.same(r2.sections.map((s) => s.accepted), [true, true, true, false, true]);
  t.same(second.tracks.at(-1), { kind: 'video', stream: 'stream-b', track: 'video-b' });
  await page.evaluate(() => (window as unknown as { sub: RTCPeerConnection }).sub.close());
});
