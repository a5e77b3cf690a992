// The calm side of the hostile-input tests (test/integration/*-hostile*.ts):
// an Sfu on 127.0.0.1 with a werift publisher (alice, synthetic VP8 at 50
// packets/s) and a werift subscriber (bob) in room 'calm', a 100 ms sampler
// of bob's packet count, and the checks every case ends with: bob kept
// receiving with no gap over a second, and sfud still serves.
import type { Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { Sfu, type SfuOptions } from '../../src/sfu.js';
import { isLoopback, waitFor } from '../interop/echo.js';
import { WeriftIonClient } from './werift-ion.js';

export interface CalmRoom {
  sfu: Sfu;
  /** The ion-sfu JSON-RPC WebSocket URL. */
  url: string;
  alice: WeriftIonClient;
  bob: WeriftIonClient;
  aliceStream: string;
  /** The media port (one IPv4 mux on 127.0.0.1). */
  mediaPort: number;
  /** Marks the start of a case; pass the result to `calmAfter`. */
  mark(): CaseWindow;
  /** `stage:reason` drop total (sfu.metrics.dropTotals(), the numbers behind `sfud_drops_total`). */
  drops(key: string): number;
  /** Bob's packet count every 100 ms. */
  readonly samples: readonly CaseWindow[];
  /** Closes clients and samplers (the Sfu closes with the test's teardown). */
  close(): void;
}

export interface CaseWindow {
  at: number;
  packets: number;
}

/** The largest gap allowed in bob's packets on this shared 2-core machine (a frame is 20 ms). */
export const MAX_GAP_MS = 1000;

export async function startCalmRoom(t: Test, config: SfuOptions['config'] = {}): Promise<CalmRoom> {
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0, ...config }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const clients: WeriftIonClient[] = [];
  const alice = await WeriftIonClient.connect(url);
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

  const samples: CaseWindow[] = [];
  const sampler = setInterval(() => samples.push({ at: Date.now(), packets: bob.videoPackets }), 100);
  const close = (): void => {
    clearInterval(sampler);
    for (const c of clients) c.close();
  };
  t.teardown(close);
  return {
    sfu,
    url,
    alice,
    bob,
    aliceStream,
    mediaPort: sfu.webRtcServer.muxes[0]!.port,
    mark: () => ({ at: Date.now(), packets: bob.videoPackets }),
    drops: (key) => sfu.metrics.dropTotals().get(key) ?? 0,
    samples,
    close,
  };
}

/**
 * Ends a case: waits `settleMs` more, then asserts that bob's count grew and
 * that no gap between two rises (or to the window's ends) exceeded MAX_GAP_MS,
 * that alice and bob are still in the room, and that `/health` answers.
 * `settleMs` is how long to keep watching after the case.
 */
export async function calmAfter(t: Test, room: CalmRoom, w: CaseWindow, settleMs = 1000): Promise<void> {
  await new Promise((r) => setTimeout(r, settleMs));
  const samples = room.samples.filter((s) => s.at >= w.at);
  const end = Date.now();
  const packets = room.bob.videoPackets;
  t.ok(packets > w.packets + 20, `bob kept receiving (${w.packets} -> ${packets} packets in ${end - w.at} ms)`);
  let lastRise = w.at;
  let prev = w.packets;
  let maxGap = 0;
  for (const s of samples) {
    if (s.packets > prev) {
      maxGap = Math.max(maxGap, s.at - lastRise);
      lastRise = s.at;
      prev = s.packets;
    }
  }
  maxGap = Math.max(maxGap, end - lastRise);
  t.ok(maxGap <= MAX_GAP_MS, `no gap in bob's packets over ${MAX_GAP_MS} ms (largest ${maxGap} ms, ${samples.length} samples)`);
  const health = await fetch(`${room.sfu.httpUrl}/health`);
  t.equal(health.status, 200, 'GET /health is 200');
  await health.body?.cancel();
  const calm = room.sfu.rooms.get('calm');
  t.ok(calm?.getMember('alice') && calm.getMember('bob'), 'alice and bob are still in the room');
}
