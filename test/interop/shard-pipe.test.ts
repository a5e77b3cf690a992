// Issue 7, part 3: a room larger than one shard. sfud with two shards and
// room-shard-fanout 2: the publisher and the first subscriber land on the
// room's home shard, the next two subscribers on the other shard (read from
// getRoom's per-peer shard and sfu.shardsOf). Every subscriber receives the
// publisher's video (packets and keyframes); a PLI from a subscriber on the
// spill shard reaches the publisher; a NACK from it is served from the
// spill shard's own store, and one for a packet that store has let go
// travels up the pipe and reaches the publisher as a NACK. A member on the
// spill shard publishes and a member on the home shard receives it. Then
// the spill shard dies: the home shard's subscriber keeps receiving.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { GenericNack, RtcpTransportLayerFeedback, type RtcpPacket, type RtpPacket } from 'werift';
import { Sfu } from '../../src/sfu.js';
import { WeriftIonClient } from '../helpers/werift-ion.js';
import { waitFor } from './echo.js';
import { hookReceiver } from '../helpers/webhook-receiver.js';

/** VP8 keyframe: descriptor S=1 then a frame tag with P=0 (werift's synthetic stream, helpers/werift-ion.ts). */
function isKeyframe(p: RtpPacket): boolean {
  const d = p.payload;
  return d.length > 2 && (d[0]! & 0x10) !== 0 && (d[1]! & 0x01) === 0;
}

interface Watch {
  /** Sequence numbers of the first video track, in arrival order (duplicates kept). */
  seqs: number[];
  keyframes: number;
  /** Packets of each video track, in track order. */
  perTrack: number[];
}

function watch(c: WeriftIonClient): Watch {
  const w: Watch = { seqs: [], keyframes: 0, perTrack: [] };
  c.sub.onTrack.subscribe((track) => {
    if (track.kind !== 'video') return;
    const i = w.perTrack.push(0) - 1;
    track.onReceiveRtp.subscribe((p) => {
      w.perTrack[i]!++;
      if (i !== 0) return;
      w.seqs.push(p.header.sequenceNumber);
      if (isKeyframe(p)) w.keyframes++;
    });
  });
  return w;
}

t.test('a room spanning two shards: placement, media, PLI and NACK across the pipe, a publisher on the spill shard, its failure', async (t) => {
  const hooks = await hookReceiver();
  t.teardown(() => hooks.close());
  const sfu = await Sfu.create({
    config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0, shards: 2, roomShardFanout: 2 },
    shardTestHooks: true,
    webhooks: { url: hooks.url, secret: 'pipe-test' },
  });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const clients: WeriftIonClient[] = [];
  t.teardown(() => {
    for (const c of clients) c.close();
  });
  const connect = async (): Promise<WeriftIonClient> => {
    const c = await WeriftIonClient.connect(url);
    clients.push(c);
    return c;
  };
  const sid = 'big';

  const pub = await connect();
  await pub.join(sid, 'pub');
  await pub.publishVideo(`pub-${randomUUID()}`);
  await waitFor('publisher connected', () => pub.pub.connectionState === 'connected');
  pub.startSending();
  const sender = pub.pub.getTransceivers().find((x) => x.kind === 'video')!.sender;
  const fromSfu = { pli: 0, nack: [] as number[] };
  sender.onRtcp.subscribe((p: RtcpPacket) => {
    // RFC 4585: PSFB (206) FMT 1 is PLI; RTPFB (205) FMT 1 is a generic NACK.
    const fb = (p as { feedback?: { count?: number; lost?: number[] } }).feedback;
    if (p.type === 206 && fb?.count === 1) fromSfu.pli++;
    if (p.type === 205 && fb?.count === 1) fromSfu.nack.push(...(fb.lost ?? []));
  });

  const subs: { c: WeriftIonClient; w: Watch; uid: string }[] = [];
  for (const uid of ['s1', 's2', 's3']) {
    const c = await connect();
    const w = watch(c);
    await c.join(sid, uid);
    subs.push({ c, w, uid });
  }
  const home = sfu.shardOf(sid)!;
  const spill = 1 - home;
  t.same(
    sfu.shardsOf(sid),
    [
      { shard: home, sessions: 2 },
      { shard: spill, sessions: 2 },
    ],
    `the room fills its home shard ${home} to the fan-out (2), then spills onto shard ${spill}`,
  );
  const room = await sfu.getRoom(sid);
  const where = Object.fromEntries((room?.peers ?? []).map((p) => [p.uid, p.shard]));
  t.same(where, { pub: home, s1: home, s2: spill, s3: spill }, 'getRoom: every member, each with its shard');

  for (const s of subs) {
    await waitFor(`${s.uid} receives the publisher's video`, () => s.w.seqs.length >= 50 && s.w.keyframes >= 2, 30_000).catch((err: Error) => {
      // What each one got, to tell a slow machine from a broken path.
      t.comment(subs.map((x) => `${x.uid}: ${x.w.seqs.length} packets, ${x.w.keyframes} keyframes, sub ${x.c.sub.connectionState}`).join('; '));
      t.comment(`publisher sent ${pub.sent}, ${pub.pub.connectionState}`);
      throw err;
    });
    t.pass(`${s.uid} (shard ${where[s.uid]}): ${s.w.seqs.length} video packets, ${s.w.keyframes} keyframes`);
  }
  t.same([pub, ...subs.map((s) => s.c)].flatMap((c) => c.failures), [], 'no negotiation failures');
  t.same(await sfu.listRooms(), [{ sid, peers: 4, tracks: 1 }], 'listRooms: the room once, its members and tracks over both shards');
  await waitFor('a participant_joined webhook per member', () => hooks.events.filter((e) => e.event === 'participant_joined').length >= 4, 10_000);
  t.same(
    hooks.events.filter((e) => e.event === 'room_started').map((e) => e.room?.sid),
    [sid],
    'one room_started for the room, though both shards opened their part',
  );
  t.same(
    hooks.events
      .filter((e) => e.event === 'participant_joined')
      .map((e) => e.participant?.uid)
      .sort(),
    ['pub', 's1', 's2', 's3'],
    'participant_joined once per member, from the shard it is on',
  );
  const stats = sfu.getStats() as { spanningRooms?: Record<string, unknown> };
  t.ok(stats.spanningRooms?.[sid], 'getStats lists the spanning room');

  const s2 = subs[1]!;
  const video = s2.c.tracks.find((x) => x.track.kind === 'video')!;
  const receiver = s2.c.sub.getTransceivers().find((x) => x.receiver.track === video.track)!.receiver;

  /** A counter of the last heartbeat reports (they lag by up to 500 ms). */
  const pipeFeedback = async (shard: number, kind: string): Promise<number> => {
    const m = await (await fetch(sfu.metricsUrl + '/metrics')).text();
    const line = m.split('\n').find((l) => l.startsWith(`sfud_pipe_feedback_total{shard="${shard}",kind="${kind}"}`));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  await t.test('a PLI from a subscriber on the spill shard reaches the publisher', async (t) => {
    await new Promise((r) => setTimeout(r, 1000));
    const upBefore = await pipeFeedback(spill, 'keyframe_out');
    const unasked = fromSfu.pli;
    // Throttled per producer on both shards (500 ms): ask a few times, spaced.
    for (let i = 0; i < 10 && fromSfu.pli === unasked; i++) {
      await receiver.sendRtcpPLI(video.track.ssrc!);
      await new Promise((r) => setTimeout(r, 600));
    }
    t.ok(fromSfu.pli > unasked, `the publisher received ${fromSfu.pli - unasked} PLI(s) (${unasked} before)`);
    let up = upBefore;
    for (let i = 0; i < 20 && up === upBefore; i++) {
      await new Promise((r) => setTimeout(r, 250));
      up = await pipeFeedback(spill, 'keyframe_out');
    }
    t.ok(up > upBefore, `the spill shard sent ${up - upBefore} keyframe request(s) up the pipe`);
  });

  const nack = (seq: number): Promise<unknown> =>
    receiver.dtlsTransport.sendRtcp([
      new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 0x1234, mediaSourceSsrc: video.track.ssrc!, lost: [seq] }) }),
    ]);

  await t.test('a NACK from the spill shard is served from its own store', async (t) => {
    const seqs = s2.w.seqs;
    // 10 packets back (200 ms): past the resend guard, well inside the store's second.
    const seq = seqs[seqs.length - 10]!;
    const before = seqs.filter((x) => x === seq).length;
    const publisherNacks = fromSfu.nack.length;
    await nack(seq);
    await waitFor('the NACKed packet arrives again', () => seqs.filter((x) => x === seq).length > before, 5000);
    t.pass(`packet ${seq} was resent to the subscriber`);
    t.equal(fromSfu.nack.length, publisherNacks, 'without asking the publisher');
  });

  await t.test("a NACK for a packet the spill shard's store let go reaches the publisher", async (t) => {
    const seqs = s2.w.seqs;
    // 75 packets (1.5 s) back: still in the subscriber's sequencer (512), past the stores' 1 s.
    const seq = seqs[seqs.length - 75]!;
    const before = fromSfu.nack.length;
    for (let i = 0; i < 5 && fromSfu.nack.length === before; i++) {
      await nack(seq);
      await new Promise((r) => setTimeout(r, 300));
    }
    t.ok(fromSfu.nack.length > before, `the publisher was NACKed for ${fromSfu.nack.slice(before).join(',')}`);
    let up = 0;
    for (let i = 0; i < 20 && up === 0; i++) {
      up = await pipeFeedback(spill, 'nack_out');
      if (up === 0) await new Promise((r) => setTimeout(r, 250));
    }
    t.ok(up > 0, `the spill shard counted ${up} NACKed packet(s) it sent up the pipe`);
  });

  await t.test('a member on the spill shard publishes; a member on the home shard receives it', async (t) => {
    const s3 = subs[2]!;
    await s3.c.publishVideo(`s3-${randomUUID()}`);
    await waitFor('s3 publisher connected', () => s3.c.pub.connectionState === 'connected');
    s3.c.startSending();
    const s1 = subs[0]!;
    await waitFor('s1 receives s3', () => (s1.w.perTrack[1] ?? 0) >= 50, 30_000);
    t.pass(`s1 (shard ${home}) got ${s1.w.perTrack[1]} packets of s3 (shard ${spill})`);
    t.same(await sfu.listRooms(), [{ sid, peers: 4, tracks: 2 }], 'two tracks in the room');
  });

  await t.test('the spill shard dies: the home shard goes on', async (t) => {
    const s1 = subs[0]!;
    const closed: string[] = [];
    for (const s of subs.slice(1)) s.c.rpc.ws.once('close', (_code: number, reason: Buffer) => closed.push(String(reason)));
    await sfu.crashShard(spill, 'exit');
    await waitFor('the spill shard members are disconnected', () => closed.length === 2, 10_000);
    const at = s1.w.seqs.length;
    await new Promise((r) => setTimeout(r, 2000));
    t.ok(s1.w.seqs.length - at > 50, `s1 kept receiving the publisher (${s1.w.seqs.length - at} packets in 2 s)`);
    t.same(sfu.shardsOf(sid), [{ shard: home, sessions: 2 }], 'the room is back to its home shard');
    for (let i = 0; i < 50 && (await sfu.listRooms())[0]?.tracks !== 1; i++) await new Promise((r) => setTimeout(r, 200));
    t.same(await sfu.listRooms(), [{ sid, peers: 2, tracks: 1 }], 'listRooms: the home shard part');
  });
});

