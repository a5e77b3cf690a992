// The calm side of the hostile-input tests (test/integration/*-hostile*.ts):
// an Sfu on 127.0.0.1 with a werift publisher (alice, synthetic but
// decodable VP8 at 50 frames/s), a werift subscriber (bob) and a libwebrtc
// viewer (dana, whose VP8 decoder turns alice's packets into pictures) in
// room 'calm', 100 ms samplers of bob's packet count and dana's decoded
// frames, and the checks every case ends with: bob kept receiving and dana
// kept decoding, neither with a gap over a second, and sfud still serves.
// A test file using it must exit explicitly (wrtc segfaults on a natural
// exit): see test/interop/wrtc.test.ts.
import type { Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { Sfu, type SfuOptions } from '../../src/sfu.js';
import { isLoopback, waitFor } from '../interop/echo.js';
import { WeriftIonClient } from './werift-ion.js';
import { viewer, type Viewer } from './wrtc-ion.js';

export interface CalmRoom {
  sfu: Sfu;
  /** The ion-sfu JSON-RPC WebSocket URL. */
  url: string;
  alice: WeriftIonClient;
  bob: WeriftIonClient;
  dana: DecodingViewer;
  aliceStream: string;
  /** The media port (one IPv4 mux on 127.0.0.1). */
  mediaPort: number;
  /** Marks the start of a case; pass the result to `calmAfter`. */
  mark(): CaseWindow;
  /** `stage:reason` drop total (sfu.metrics.dropTotals(), the numbers behind `sfud_drops_total`). */
  drops(key: string): number;
  /** Bob's packet count and dana's decoded frames every 100 ms. */
  readonly samples: readonly CaseWindow[];
  /** Closes clients and samplers (the Sfu closes with the test's teardown). */
  close(): void;
}

export interface CaseWindow {
  at: number;
  /** Bob's video packets. */
  packets: number;
  /** Frames dana's decoder produced (libwebrtc's framesDecoded, as last sampled). */
  frames: number;
}

/** The largest gap allowed in bob's packets and dana's frames on this shared 2-core machine (a frame is 20 ms). */
export const MAX_GAP_MS = 1000;

/** A libwebrtc viewer whose `framesDecoded` for one stream is read every 100 ms: the proof that the call still decodes. */
export interface DecodingViewer {
  viewer: Viewer;
  /** framesDecoded of the stream's video track as last read (0 before it arrives). */
  readonly frames: number;
  close(): void;
}

export async function decodingViewer(url: string, sid: string, uid: string, streamId: string): Promise<DecodingViewer> {
  const v = await viewer(url, sid, uid);
  let frames = 0;
  let reading = false;
  let closed = false;
  // getStats is asynchronous: one reading at a time, so a slow one cannot pile up behind the timer.
  const sampler = setInterval(() => {
    // Only the watched stream: another member's video (a hostile case may publish some) must not count.
    const track = v.videoTracks.find((x) => x.streamId === streamId);
    if (reading || closed || !track) return;
    reading = true;
    v.inbound(track.id)
      .then((s) => {
        if (!closed) frames = s.framesDecoded;
      })
      .catch(() => {})
      .finally(() => (reading = false));
  }, 100);
  return {
    viewer: v,
    get frames() {
      return frames;
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(sampler);
      v.close();
    },
  };
}

/**
 * The largest time between two rises of a counter: from `from` (when it
 * read `start`) through `samples` to `end`. A counter that never rose gives
 * `end - from`.
 */
export function largestGap(samples: readonly { at: number; n: number }[], from: number, start: number, end: number): number {
  let lastRise = from;
  let prev = start;
  let maxGap = 0;
  for (const s of samples) {
    if (s.at < from || s.n <= prev) continue;
    maxGap = Math.max(maxGap, s.at - lastRise);
    lastRise = s.at;
    prev = s.n;
  }
  return Math.max(maxGap, end - lastRise);
}

export async function startCalmRoom(t: Test, config: SfuOptions['config'] = {}): Promise<CalmRoom> {
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0, ...config }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const clients: WeriftIonClient[] = [];
  // Closed even when the setup fails half-way: an open peer would keep the process from exiting.
  const live: { dana?: DecodingViewer; sampler?: NodeJS.Timeout } = {};
  const close = (): void => {
    clearInterval(live.sampler);
    live.dana?.close();
    for (const c of clients) c.close();
  };
  t.teardown(close);
  // With transport-cc from alice, sfud estimates dana's downlink from TWCC feedback, as a browser
  // publisher would have it; REMB alone pins her at libwebrtc's 30 kbps start and pauses the video.
  const alice = await WeriftIonClient.connect(url, { transportCc: true });
  clients.push(alice);
  await alice.join('calm', 'alice');
  const aliceStream = `calm-${randomUUID()}`;
  await alice.publishVideo(aliceStream);
  await waitFor('alice publisher connected', () => alice.pub.connectionState === 'connected', 20_000);
  alice.startSending();
  const bob = await WeriftIonClient.connect(url);
  clients.push(bob);
  await bob.join('calm', 'bob');
  await waitFor('bob receives alice', () => bob.videoPackets >= 25, 20_000);
  // Bob's subscriber must be connected for good before the cases start (see signal-security.test.ts on werift's DTLS client).
  await waitFor('bob subscriber connected', () => bob.sub.connectionState === 'connected', 20_000);
  const dana = (live.dana = await decodingViewer(url, 'calm', 'dana', aliceStream));
  const samples: CaseWindow[] = [];
  const mark = (): CaseWindow => ({ at: Date.now(), packets: bob.videoPackets, frames: dana.frames });
  live.sampler = setInterval(() => samples.push(mark()), 100);
  await waitFor('dana decodes alice', () => dana.frames >= 25, 20_000);
  return {
    sfu,
    url,
    alice,
    bob,
    dana,
    aliceStream,
    mediaPort: sfu.webRtcServer.muxes[0]!.port,
    mark,
    drops: (key) => sfu.metrics.dropTotals().get(key) ?? 0,
    samples,
    close,
  };
}

/**
 * Ends a case: waits `settleMs` more, then asserts that bob's packet count
 * and dana's decoded frames grew and that no gap between two rises of
 * either (or to the window's ends) exceeded MAX_GAP_MS, that alice, bob and
 * dana are still in the room, and that `/health` answers. `settleMs` is how
 * long to keep watching after the case.
 */
export async function calmAfter(t: Test, room: CalmRoom, w: CaseWindow, settleMs = 1000): Promise<void> {
  await new Promise((r) => setTimeout(r, settleMs));
  const samples = room.samples.filter((s) => s.at >= w.at);
  const end = Date.now();
  const packets = room.bob.videoPackets;
  const frames = room.dana.frames;
  t.ok(packets > w.packets + 20, `bob kept receiving (${w.packets} -> ${packets} packets in ${end - w.at} ms)`);
  t.ok(frames > w.frames + 20, `dana kept decoding (${w.frames} -> ${frames} frames in ${end - w.at} ms)`);
  const packetGap = largestGap(samples.map((s) => ({ at: s.at, n: s.packets })), w.at, w.packets, end);
  t.ok(packetGap <= MAX_GAP_MS, `no gap in bob's packets over ${MAX_GAP_MS} ms (largest ${packetGap} ms, ${samples.length} samples)`);
  const frameGap = largestGap(samples.map((s) => ({ at: s.at, n: s.frames })), w.at, w.frames, end);
  t.ok(frameGap <= MAX_GAP_MS, `no gap in dana's decoded frames over ${MAX_GAP_MS} ms (largest ${frameGap} ms)`);
  const health = await fetch(`${room.sfu.httpUrl}/health`);
  t.equal(health.status, 200, 'GET /health is 200');
  await health.body?.cancel();
  const calm = room.sfu.rooms.get('calm');
  t.ok(calm?.getMember('alice') && calm.getMember('bob') && calm.getMember('dana'), 'alice, bob and dana are still in the room');
}
