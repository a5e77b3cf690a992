// End to end through the demo page: a real Sfu serves `/`, two headless
// Chromium pages (Debian's chromium via playwright-core, fake camera and
// microphone) join the same room through the page's form, publish, and each
// decodes the other's video and receives its audio; then one leaves.
import t, { type Test } from 'tap';
import type { BrowserContext, Page } from 'playwright-core';
import { Sfu } from '../../src/sfu.js';
import { launchChromium, requireChromium, type Chromium } from '../helpers/chromium.js';
import { isLoopback, waitFor } from './echo.js';

requireChromium();

const ROOM = 'demo-e2e';
const WAIT_MS = 30_000;

/** What the test reads of the page's `window.sfudDemo` (ion-sdk-js objects, untyped here). */
interface DemoState {
  client: { transports?: Record<number, { pc: RTCPeerConnection }> } | null;
  local: MediaStream | null;
  remoteStreams: Map<string, MediaStream>;
  joined: boolean;
  status: string;
}
type DemoWindow = Window & { sfudDemo: DemoState };

interface InboundStats {
  framesDecoded: number;
  audioPackets: number;
  audioSamples: boolean;
}

let sfu: Sfu;
let chrome: Chromium | undefined;
let browser: BrowserContext;

t.before(async () => {
  sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  chrome = await launchChromium('sfud-demo-chromium-');
  browser = chrome.context;
});

t.teardown(async () => {
  await chrome?.close();
  await sfu?.close();
});

/** Polls `check()` in Node every 100 ms until true; fails with `what` after `ms`. */
async function waitForAsync(what: string, check: () => Promise<boolean>, ms = WAIT_MS): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function openAndJoin(t: Test, uid: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${sfu.httpUrl}/?room=${ROOM}`);
  const room = page.getByLabel('Room');
  t.equal(await room.inputValue(), ROOM, `${uid}: room field prefilled from ?room=`);
  await page.getByLabel('Display id').fill(uid);
  await page.getByRole('button', { name: 'Join' }).click();
  return page;
}

const localStreamId = (page: Page): Promise<string | null> =>
  page.evaluate(() => (window as unknown as DemoWindow).sfudDemo.local?.id ?? null);

const remoteIds = (page: Page): Promise<string[]> =>
  page.evaluate(() => [...(window as unknown as DemoWindow).sfudDemo.remoteStreams.keys()]);

/** Sums the subscriber PeerConnection's inbound-rtp stats (ion-sdk-js: transports[1] = Role.sub). */
const inbound = (page: Page): Promise<InboundStats> =>
  page.evaluate(async () => {
    const pc = (window as unknown as DemoWindow).sfudDemo.client?.transports?.[1]?.pc;
    const out = { framesDecoded: 0, audioPackets: 0, audioSamples: false };
    if (!pc) return out;
    (await pc.getStats()).forEach(
      (s: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number; totalSamplesReceived?: number; audioLevel?: number }) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') out.framesDecoded += s.framesDecoded ?? 0;
        if (s.kind === 'audio') {
          out.audioPackets += s.packetsReceived ?? 0;
          if ((s.totalSamplesReceived ?? 0) > 0 || s.audioLevel !== undefined) out.audioSamples = true;
        }
      },
    );
    return out;
  });

t.test('two demo pages in one room see and hear each other', async (t) => {
  const t0 = Date.now();
  const lap = (what: string) => t.comment(`${what} at +${Date.now() - t0} ms`);
  const alice = await openAndJoin(t, 'alice');
  t.teardown(() => alice.close());
  const bob = await openAndJoin(t, 'bob');
  t.teardown(() => bob.close());
  const pages = [
    { name: 'alice', page: alice },
    { name: 'bob', page: bob },
  ];

  // Both joined and publishing.
  for (const { name, page } of pages) {
    await waitForAsync(`${name} joined and publishing`, () => page.evaluate(() => (window as unknown as DemoWindow).sfudDemo.joined));
  }
  lap('both publishing');
  const ids = { alice: (await localStreamId(alice))!, bob: (await localStreamId(bob))! };
  t.ok(ids.alice && ids.bob && ids.alice !== ids.bob, `local streams ${ids.alice} / ${ids.bob}`);

  // Each page subscribed to the other's stream (same stream id, as ion-sfu keeps msid).
  for (const [self, other] of [
    ['alice', 'bob'],
    ['bob', 'alice'],
  ] as const) {
    const page = self === 'alice' ? alice : bob;
    await waitForAsync(`${self} receiving ${other}'s stream`, async () => (await remoteIds(page)).includes(ids[other]));
    t.ok((await remoteIds(page)).includes(ids[other]), `${self}.remoteStreams has ${other}'s stream ${ids[other]}`);
    const tile = page.locator(`figure[data-stream-id="${ids[other]}"] video`);
    t.equal(await tile.count(), 1, `${self} shows a tile for ${other}'s stream`);
  }
  lap('remote streams present');

  // Video: frames decoded on the subscriber PC, and rising over a second.
  for (const { name, page } of pages) {
    await waitForAsync(`${name} decoding video`, async () => (await inbound(page)).framesDecoded > 0);
    const first = await inbound(page);
    await new Promise((r) => setTimeout(r, 1000));
    const second = await inbound(page);
    t.ok(second.framesDecoded > first.framesDecoded, `${name} framesDecoded rising: ${first.framesDecoded} -> ${second.framesDecoded}`);
  }
  lap('video decoding');

  // Audio: packets arriving on the subscriber PC.
  for (const { name, page } of pages) {
    await waitForAsync(`${name} receiving audio`, async () => (await inbound(page)).audioPackets > 0);
    const s = await inbound(page);
    t.ok(s.audioPackets > 0, `${name} received ${s.audioPackets} audio packets`);
    t.ok(s.audioSamples, `${name} audio inbound-rtp reports totalSamplesReceived/audioLevel`);
  }
  lap('audio flowing');

  // The room as sfud sees it.
  const room = () => sfu.rooms.get(ROOM);
  await waitFor('2 members with 2 producers each', () => {
    const r = room();
    return r !== undefined && r.memberCount === 2 && r.memberList.every((m) => m.producers.length === 2);
  }, WAIT_MS);
  const members = room()!.memberList;
  t.same(members.map((m) => m.uid).sort(), ['alice', 'bob'], 'room has alice and bob');
  for (const m of members) {
    t.same(m.producers.map((p) => p.kind).sort(), ['audio', 'video'], `${m.uid} publishes audio + video`);
  }

  // Bob leaves through the page's Leave button.
  await bob.getByRole('button', { name: 'Leave' }).click();
  await waitFor('room down to 1 member', () => room()?.memberCount === 1, WAIT_MS);
  t.same(room()!.memberList.map((m) => m.uid), ['alice'], 'only alice left in the room');
  t.equal(await bob.evaluate(() => (window as unknown as DemoWindow).sfudDemo.joined), false, 'bob page reset after Leave');
  lap('bob left');
});
