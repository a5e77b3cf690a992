// ion-sdk-js 1.8.2 clients in Node (libwebrtc globals from @roamhq/wrtc, ws)
// against a real sfud: two publishers and a late joiner in one room, every
// subscriber decodes every other publisher's video; a data channel message
// fans out; speaker messages arrive; a publisher leaves and its tracks go.
import t from 'tap';
import { Sfu } from '../../src/sfu.js';
import { isLoopback, waitFor } from './echo.js';
import { join, type Participant } from '../helpers/ion-sdk-node.js';

// NOTE: @roamhq/wrtc segfaults in native teardown when a process that used an
// RTCVideoSource exits on its own; see test/interop/wrtc.test.ts.
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

t.test('two publishers and a late joiner through sfud', async (t) => {
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const everyone: Participant[] = [];
  t.teardown(() => {
    for (const p of everyone) p.stop();
  });

  const dominant: (string | null)[] = [];
  const alice = await join(url, 'room1', 'alice', { width: 320, height: 240, level: 12000 });
  sfu.rooms.get('room1')!.on('dominantspeaker', (id) => dominant.push(id));
  everyone.push(alice);
  const bob = await join(url, 'room1', 'bob', { width: 160, height: 120, level: 0 });
  everyone.push(bob);
  await waitFor('alice decodes bob and bob decodes alice', () => (alice.frames.get(bob.streamId!) ?? 0) >= 10 && (bob.frames.get(alice.streamId!) ?? 0) >= 10, 30_000);
  await waitFor('audio both ways', () => (alice.audio.get(bob.streamId!) ?? 0) > 4800 && (bob.audio.get(alice.streamId!) ?? 0) > 4800);

  const carol = await join(url, 'room1', 'carol');
  everyone.push(carol);
  await waitFor('the late joiner decodes both publishers', () => (carol.frames.get(alice.streamId!) ?? 0) >= 10 && (carol.frames.get(bob.streamId!) ?? 0) >= 10, 30_000);
  t.equal(bob.sizes.get(alice.streamId!), '320x240', 'bob decodes alice at her size');
  t.equal(alice.sizes.get(bob.streamId!), '160x120', 'alice decodes bob at his size');
  t.equal(carol.sizes.get(alice.streamId!), '320x240');
  t.equal(carol.sizes.get(bob.streamId!), '160x120');
  t.pass(`frames: alice<-bob ${alice.frames.get(bob.streamId!)}, bob<-alice ${bob.frames.get(alice.streamId!)}, carol<-alice ${carol.frames.get(alice.streamId!)}, carol<-bob ${carol.frames.get(bob.streamId!)}`);

  // Speaker: alice sends a loud tone, bob silence (wrtc's Opus encoder sets the audio level extension).
  await waitFor('audioLevels naming alice', () => alice.speakers.some((ids) => ids.includes(alice.streamId!)), 10_000);
  // ion-sfu sends only changes, so a late joiner would wait; sfud sends it the current list.
  await waitFor('the late joiner learns the current speaker', () => carol.speakers.some((ids) => ids.includes(alice.streamId!)), 10_000);
  t.notOk(alice.speakers.some((ids) => ids.includes(bob.streamId!)), 'silent bob is never a speaker');
  // sfud's dominantSpeaker message on the same channel (ion-sdk-js passes unknown methods to no one, so read it from the room).
  await waitFor('alice is the dominant speaker', () => dominant.at(-1) === alice.streamId);

  // Data channel fan-out: alice opens "chat" on her publisher connection.
  const chat = alice.client.createDataChannel('chat');
  await waitFor('chat open at alice', () => chat.readyState === 'open');
  await waitFor('chat channel reaches the others', () => sfu.rooms.get('room1')!.memberCount === 3);
  // The fan-out channel opens on the others' subscriber connections asynchronously.
  const deadline = Date.now() + 10_000;
  while (!(bob.messages.includes('hi all') && carol.messages.includes('hi all')) && Date.now() < deadline) {
    chat.send('hi all');
    await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(bob.messages.includes('hi all') && carol.messages.includes('hi all'), 'a data channel message fans out');

  // The backend API sees the same room over HTTP JSON-RPC.
  const rpc = async (method: string, params: unknown) => {
    const res = await fetch(`${sfu.httpUrl}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    return ((await res.json()) as { result?: unknown; error?: { code: number } });
  };
  t.same((await rpc('listRooms', {})).result, [{ sid: 'room1', peers: 3, tracks: 4 }]);
  const detail = (await rpc('getRoom', { sid: 'room1' })).result as { peers: { uid: string; tracks: { streamId: string }[] }[]; stats: { packetsIn: number; packetsOut: number } };
  t.same(detail.peers.map((p) => p.uid).sort(), ['alice', 'bob', 'carol']);
  t.ok(detail.peers.find((p) => p.uid === 'alice')!.tracks.every((tr) => tr.streamId === alice.streamId), 'tracks carry the publisher stream id');
  t.ok(detail.stats.packetsIn > 0 && detail.stats.packetsOut > detail.stats.packetsIn, 'room stats count ingress and the larger egress');
  t.equal((await rpc('getRoom', { sid: 'nope' })).error?.code, -32004);
  // Prometheus: the counters move during the call.
  const scrape = async () => {
    const text = await (await fetch(`${sfu.httpUrl}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { text, value };
  };
  const m1 = await scrape();
  await new Promise((r) => setTimeout(r, 1000));
  const m2 = await scrape();
  t.equal(m2.value('sfud_peers'), 3);
  t.equal(m2.value('sfud_producers{kind="video"}'), 2);
  t.equal(m2.value('sfud_transports'), 6);
  t.ok(m2.value('sfud_packets_total{direction="out",kind="video"}') > m1.value('sfud_packets_total{direction="out",kind="video"}'), 'egress RTP counter moves');
  t.ok(m2.value('sfud_packets_total{direction="in",kind="video"}') > m1.value('sfud_packets_total{direction="in",kind="video"}'), 'ingress RTP counter moves');
  t.ok(m2.value('sfud_rtcp_feedback_total{direction="out",type="sr"}') > 0, 'sender reports counted');
  t.match(m2.text, /sfud_process_cpu_seconds_total/, 'process metrics present');

  t.equal((await rpc('removePeer', { sid: 'room1', uid: 'carol' })).result !== undefined, true, 'carol removed by the backend');
  await waitFor('carol gone', () => sfu.rooms.get('room1')!.memberCount === 2);

  // Bob leaves: his tracks go from the room.
  bob.stop();
  await waitFor('bob gone from the room', () => sfu.rooms.get('room1')!.memberCount === 1);
  t.same(
    sfu.rooms.get('room1')!.producers.map((p) => p.streamId).filter((s) => s === bob.streamId),
    [],
    'no producer of bob remains',
  );
  // The others' subscriber connections lose bob's tracks: sfud renegotiates them inactive.
  const subSdp = () => (alice.client as unknown as { transports: { pc: { remoteDescription: { sdp: string } } }[] }).transports[1]!.pc.remoteDescription.sdp;
  await waitFor("bob's tracks leave alice's subscriber connection", () => !subSdp().includes(`a=msid:${bob.streamId}`));
  const m3 = await scrape();
  t.ok(m3.value('sfud_packets_total{direction="in",kind="video"}') >= m2.value('sfud_packets_total{direction="in",kind="video"}'), 'counters keep what closed producers counted');
  t.ok(m3.value('sfud_packets_total{direction="in",kind="rtcp"}') >= m2.value('sfud_packets_total{direction="in",kind="rtcp"}'), 'counters keep what closed transports counted');
  t.ok(m3.value('sfud_transports_closed_total{reason="peer-left"}') >= 2, 'closes counted by reason class');
});
