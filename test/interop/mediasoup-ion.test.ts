// The bench's mediasoup server (bench/servers/mediasoup-ion.ts) speaks ion-sfu
// JSON-RPC well enough for real clients: ion-sdk-js 1.8.2 on @roamhq/wrtc
// (libwebrtc) joins (which needs the ion-sfu data channel on the subscriber
// PC), publishes VP8 + Opus and decodes the others; a late joiner decodes
// everyone; a leaving publisher's tracks leave the others' connections. Then
// the load generator the benches use (bench/loadgen) publishes and subscribes
// through it with no loss. Skipped when mediasoup is not built
// (sh bench/servers/mediasoup-setup.sh; it is a bench-only peer).
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { generateCertificate } from '../../src/dtls/certificate.js';
import { startMediasoupIon, type MediasoupIon } from '../../bench/servers/mediasoup-ion.js';
import { Publisher, Subscriber } from '../../bench/loadgen/roles.js';
import { Histogram } from '../../bench/loadgen/histogram.js';
import { waitFor } from './echo.js';
import { join, type Participant } from '../helpers/ion-sdk-node.js';
import { fromRoot } from '../helpers/paths.js';

// NOTE: @roamhq/wrtc segfaults in native teardown when a process that used an
// RTCVideoSource exits on its own; see test/interop/wrtc.test.ts.
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

const mediasoupDir = process.env.MEDIASOUP_PEER_DIR ?? fromRoot('bench/.peers/mediasoup');
const built = existsSync(joinPath(mediasoupDir, 'node_modules/mediasoup/worker/out/Release/mediasoup-worker'));
const skip = built ? false : `mediasoup is not built in ${mediasoupDir} (sh bench/servers/mediasoup-setup.sh)`;

async function start(t: Test): Promise<MediasoupIon> {
  const server = await startMediasoupIon({ port: 0, udpPort: 0, mediasoupDir });
  server.onWorkerDied = (pid, err) => t.fail(`mediasoup worker ${pid} died: ${String(err)}`);
  t.teardown(() => server.close());
  t.match(server.ready.mediasoup, /^3\./, `mediasoup ${server.ready.mediasoup}, worker pid ${server.ready.workerPids.join(',')}`);
  return server;
}

t.test('ion-sdk-js (wrtc) through mediasoup: two publishers and a late joiner', { skip }, async (t) => {
  const server = await start(t);
  const url = server.ready.ws;
  const everyone: Participant[] = [];
  t.teardown(() => {
    for (const p of everyone) p.stop();
  });
  const alice = await join(url, 'room1', 'alice', { width: 320, height: 240, level: 8000 });
  everyone.push(alice);
  const bob = await join(url, 'room1', 'bob', { width: 160, height: 120, level: 8000 });
  everyone.push(bob);
  await waitFor('alice decodes bob and bob decodes alice', () => (alice.frames.get(bob.streamId!) ?? 0) >= 10 && (bob.frames.get(alice.streamId!) ?? 0) >= 10, 30_000);
  await waitFor('audio both ways', () => (alice.audio.get(bob.streamId!) ?? 0) > 4800 && (bob.audio.get(alice.streamId!) ?? 0) > 4800);
  const carol = await join(url, 'room1', 'carol');
  everyone.push(carol);
  await waitFor('the late joiner decodes both publishers', () => (carol.frames.get(alice.streamId!) ?? 0) >= 10 && (carol.frames.get(bob.streamId!) ?? 0) >= 10, 30_000);
  t.equal(bob.sizes.get(alice.streamId!), '320x240', 'bob decodes alice at her size');
  t.equal(alice.sizes.get(bob.streamId!), '160x120', 'alice decodes bob at his size');
  t.equal(carol.sizes.get(bob.streamId!), '160x120');
  t.notOk(carol.frames.has(carol.streamId ?? '-'), 'nobody receives itself');

  bob.stop();
  // The others' subscriber connections lose bob's tracks: his sections are offered again rejected.
  const subSdp = (p: Participant) => (p.client as unknown as { transports: { pc: { remoteDescription: { sdp: string } | null } }[] }).transports[1]!.pc.remoteDescription?.sdp ?? '';
  await waitFor("bob's tracks leave alice's subscriber connection", () => !subSdp(alice).includes(`msid:${bob.streamId!} `), 10_000);
  const before = alice.frames.get(bob.streamId!) ?? 0;
  await new Promise((r) => setTimeout(r, 500));
  t.equal(alice.frames.get(bob.streamId!) ?? 0, before, 'no frames of bob after he left');
  t.ok((carol.frames.get(alice.streamId!) ?? 0) >= 10, 'alice still reaches carol');
});

t.test('the bench load generator through mediasoup: one publisher, three subscribers, no loss', { skip }, async (t) => {
  const server = await start(t);
  const cert = await generateCertificate();
  const latency = new Histogram();
  const pub = await Publisher.join({ url: server.ready.ws, sid: 'load', uid: 'pub', cert, videoKbps: 500 });
  t.teardown(() => pub.close());
  pub.start();
  const subs: Subscriber[] = [];
  t.teardown(() => {
    for (const s of subs) s.close();
  });
  for (let i = 0; i < 3; i++) subs.push(await Subscriber.join({ url: server.ready.ws, sid: 'load', uid: `sub-${i}`, cert, latency, timeoutMs: 15_000, connectPublisherPc: true }));
  await Promise.all(subs.map((s) => s.ready));
  await new Promise((r) => setTimeout(r, 2000));
  for (const [i, s] of subs.entries()) {
    const kinds = [...s.streams.values()].map((x) => x.kind).sort();
    t.same(kinds, ['audio', 'video'], `subscriber ${i} gets one audio and one video stream`);
    const c = s.counters();
    t.ok(c.received > 100, `subscriber ${i} received ${c.received} packets`);
    t.ok(c.received >= c.expected * 0.99, `subscriber ${i}: ${c.expected - c.received} of ${c.expected} missing`);
    t.equal(s.error, undefined, `subscriber ${i} has no error`);
  }
  t.ok(latency.count > 0, `latency p50 ${latency.quantile(0.5)} us`);
});
