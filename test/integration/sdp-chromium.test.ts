// Subscriber-offer round trip in headless Chromium (Debian's chromium driven
// by playwright-core, a fresh profile, a tiny page served from 127.0.0.1):
// Chromium must accept createSubscriberOffer()'s SDP (setRemoteDescription),
// answer it (createAnswer/setLocalDescription), and parseSubscriberAnswer()
// must read that answer; then a renegotiation with a higher session version
// that adds a track after the kept inactive slot must be accepted too.
// With SFUD_CAPTURE_SDP=<file> the first answer is written there (that is how
// test/fixtures/sdp/chromium-subscriber-answer.sdp was captured).
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import {
  ROUTER_CAPABILITIES,
  createSubscriberOffer,
  parseSubscriberAnswer,
  type CodecCapability,
  type SubscriberOfferInput,
} from '../../src/signal/sdp/index.js';
import { EXT_URI } from '../../src/rtp/extensions.js';

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  t.fail(`${CHROMIUM} is not installed: apt-get install -y chromium`);
  process.exit(1);
}

const cap = (mime: string, param?: string): CodecCapability =>
  ROUTER_CAPABILITIES.codecs.find((c) => c.mimeType === mime && (param === undefined || Object.values(c.parameters).includes(param)))!;

/** Kept identical to the input in test/unit/sdp-offer.test.ts. */
function subscriberInput(version: number): SubscriberOfferInput {
  return {
    sessionId: '123456789',
    sessionVersion: version,
    ice: { usernameFragment: 'sfudSubUfrag', password: 'sfudSubPasswordSfudSubPassword' },
    candidates: [{ foundation: 'udp4', priority: 2130706431, address: '127.0.0.1', port: 5000, protocol: 'udp', type: 'host' }],
    fingerprint: {
      algorithm: 'sha-256',
      value: '7D:0C:2B:9A:95:3A:01:51:B4:2E:4D:2A:5A:4E:57:8C:E3:52:5E:59:A7:13:8C:DF:43:58:D0:29:1E:F1:2B:2D',
    },
    sections: [
      { kind: 'application', mid: '0' },
      {
        kind: 'audio',
        mid: '1',
        codecs: [{ payloadType: 111, capability: cap('audio/opus') }],
        extensions: { 1: EXT_URI.audioLevel, 3: EXT_URI.transportWideCc, 4: EXT_URI.mid },
        ssrc: 1001,
        cname: 'stream-a',
        streamId: 'stream-a',
        trackId: 'audio-a',
        direction: 'sendonly',
      },
      {
        kind: 'video',
        mid: '2',
        codecs: [
          { payloadType: 96, capability: cap('video/VP8'), rtxPayloadType: 97 },
          { payloadType: 98, capability: cap('video/VP9', '0'), rtxPayloadType: 99 },
          { payloadType: 102, capability: cap('video/H264', '42e01f'), rtxPayloadType: 103 },
        ],
        extensions: { 2: EXT_URI.absSendTime, 3: EXT_URI.transportWideCc, 4: EXT_URI.mid },
        ssrc: 2001,
        rtxSsrc: 2002,
        cname: 'stream-a',
        streamId: 'stream-a',
        trackId: 'video-a',
        direction: 'sendonly',
      },
      {
        kind: 'video',
        mid: '3',
        codecs: [{ payloadType: 96, capability: cap('video/VP8') }],
        extensions: {},
        ssrc: 3001,
        cname: 'gone',
        streamId: 'gone',
        trackId: 'gone-v',
        direction: 'inactive',
      },
    ],
  };
}

let browser: BrowserContext | undefined;
let page: Page;
let userDataDir: string | undefined;
const http = createServer((_req, res) => res.end('<!doctype html><title>sfud sdp</title>'));

t.before(async () => {
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  userDataDir = mkdtempSync(join(tmpdir(), 'sfud-sdp-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
    ],
  });
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
});

t.teardown(async () => {
  await browser?.close();
  http.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
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
