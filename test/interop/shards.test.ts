// Issue 7, shards: sfud with two worker shards. Two rooms land on different
// shards (placement by load); real werift peers in each get the publisher's
// video through their shard; a subscriber's PLI reaches its publisher; the
// admin API and /metrics see both shards (per-shard ELU, pps, consumers, and
// the merged per-object counters move). Then one shard is made to fail
// (a test hook, not the wire): its peers' sockets are closed with the reason,
// the other room's subscriber keeps receiving without a gap over 500 ms, a
// new join succeeds within 5 s, and the shard comes back on the same port.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import type { RtcpPacket } from 'werift';
import { Sfu } from '../../src/sfu.js';
import { WeriftIonClient } from '../helpers/werift-ion.js';
import { waitFor } from './echo.js';
import { hookReceiver } from '../helpers/webhook-receiver.js';

/** Polls an async condition (bounded by `ms`). */
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

interface Call {
  sid: string;
  pub: WeriftIonClient;
  sub: WeriftIonClient;
  /** Video packet arrival times at the subscriber (ms). */
  arrivals: number[];
}

t.test('two shards: placement, media and PLI through each shard, admin API, metrics, a shard failure', async (t) => {
  const hooks = await hookReceiver();
  t.teardown(() => hooks.close());
  const sfu = await Sfu.create({
    config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0, shards: 2 },
    shardTestHooks: true,
    webhooks: { url: hooks.url, secret: 'shards-test' },
  });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const clients: WeriftIonClient[] = [];
  t.teardown(() => {
    for (const c of clients) c.close();
  });
  t.same(
    sfu.shards.map((s) => s.state),
    ['up', 'up'],
    'both shards are up',
  );
  const ports = sfu.shards.map((s) => s.port);
  t.not(ports[0], ports[1], 'each shard has its own media port');
  t.equal(sfu.readiness().ready, true, 'ready with both shards up');

  async function call(sid: string): Promise<Call> {
    const pub = await WeriftIonClient.connect(url);
    clients.push(pub);
    await pub.join(sid, `${sid}-pub`);
    await pub.publishVideo(`${sid}-${randomUUID()}`);
    await waitFor(`${sid} publisher connected`, () => pub.pub.connectionState === 'connected');
    pub.startSending();
    const sub = await WeriftIonClient.connect(url);
    clients.push(sub);
    await sub.join(sid, `${sid}-sub`);
    const c: Call = { sid, pub, sub, arrivals: [] };
    sub.sub.onTrack.subscribe((track) => {
      if (track.kind === 'video') track.onReceiveRtp.subscribe(() => c.arrivals.push(performance.now()));
    });
    return c;
  }

  const a = await call('room-a');
  const b = await call('room-b');
  const shardA = sfu.shardOf('room-a');
  const shardB = sfu.shardOf('room-b');
  t.ok(shardA !== undefined && shardB !== undefined, `both rooms are placed (a on ${shardA}, b on ${shardB})`);
  t.not(shardA, shardB, 'the second room goes to the other (less loaded) shard');

  for (const c of [a, b]) {
    await waitFor(`${c.sid} subscriber receives >= 50 video packets`, () => c.sub.videoPackets >= 50, 30_000);
    t.ok(c.sub.videoPackets >= 50, `${c.sid}: the subscriber got ${c.sub.videoPackets} video RTP packets (publisher sent ${c.pub.sent})`);
  }
  t.same([...a.pub.failures, ...a.sub.failures, ...b.pub.failures, ...b.sub.failures], [], 'no negotiation failures');
  await waitFor('webhooks from both shards', () => ['room-a', 'room-b'].every((sid) => hooks.events.some((e) => e.event === 'track_published' && e.room?.sid === sid)), 10_000);
  for (const sid of ['room-a', 'room-b']) {
    const mine = hooks.events.filter((e) => e.room?.sid === sid).map((e) => e.event);
    t.same(mine.slice(0, 2), ['room_started', 'participant_joined'], `${sid}: the shard's room events reach the webhook (${mine.join(',')})`);
  }

  await t.test('a subscriber PLI reaches its publisher through the shard', async (t) => {
    const sender = a.pub.pub.getTransceivers().find((x) => x.kind === 'video')!.sender;
    let plis = 0;
    sender.onRtcp.subscribe((p: RtcpPacket) => {
      // RFC 4585 PSFB (206), FMT 1: picture loss indication.
      if (p.type === 206 && (p as { feedback?: { count?: number } }).feedback?.count === 1) plis++;
    });
    const video = a.sub.tracks.find((x) => x.track.kind === 'video')!;
    const receiver = a.sub.sub.getTransceivers().find((x) => x.receiver.track === video.track)!.receiver;
    // What the publisher gets unasked (the stream sends a keyframe every 0.5 s: nothing, normally).
    await new Promise((r) => setTimeout(r, 1000));
    const unasked = plis;
    // The shard throttles keyframe requests per producer (500 ms): ask a few times, spaced.
    for (let i = 0; i < 10 && plis === unasked; i++) {
      await receiver.sendRtcpPLI(video.track.ssrc!);
      await new Promise((r) => setTimeout(r, 600));
    }
    t.ok(plis > unasked, `the publisher received ${plis - unasked} PLI(s) after the subscriber sent its own (${unasked} unasked before)`);
  });

  await t.test('admin API over HTTP JSON-RPC asks the shards', async (t) => {
    const rpc = async (method: string, params: unknown): Promise<{ result?: unknown; error?: { code: number } }> =>
      (await (
        await fetch(`${sfu.httpUrl}/rpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
      ).json()) as { result?: unknown; error?: { code: number } };
    const list = (await rpc('listRooms', {})).result as { sid: string; peers: number; tracks: number }[];
    t.same(
      [...list].sort((x, y) => x.sid.localeCompare(y.sid)),
      [
        { sid: 'room-a', peers: 2, tracks: 1 },
        { sid: 'room-b', peers: 2, tracks: 1 },
      ],
      'listRooms: the rooms of both shards',
    );
    const room = (await rpc('getRoom', { sid: 'room-b' })).result as { sid: string; peers: { uid: string }[]; stats: { packetsOut: number } };
    t.same(room.peers.map((p) => p.uid).sort(), ['room-b-pub', 'room-b-sub'], 'getRoom from the owning shard');
    t.ok(room.stats.packetsOut > 0, 'with its traffic counters');
    t.equal((await rpc('getRoom', { sid: 'nowhere' })).error?.code, -32004, 'an unknown room is -32004');
    t.equal((await rpc('removePeer', { sid: 'room-a', uid: 'nobody' })).error?.code, -32005, 'an unknown peer is -32005');
    t.same(await sfu.listRooms().then((r) => r.length), 2, 'sfu.listRooms() too');
    t.throws(() => sfu.rooms, /worker shards/, 'sfu.rooms says where the rooms are');
  });

  await t.test('/metrics: per-shard ELU, pps and consumers; merged counters move', async (t) => {
    const scrape = async (): Promise<string> => (await fetch(sfu.metricsUrl + '/metrics')).text();
    await until('both shards report forwarding', async () => {
      const m = await scrape();
      return metricValue(m, 'sfud_shard_packets_per_second', 'shard="0"') > 0 && metricValue(m, 'sfud_shard_packets_per_second', 'shard="1"') > 0;
    });
    const first = await scrape();
    for (const shard of ['0', '1']) {
      const elu = metricValue(first, 'sfud_event_loop_utilization', `shard="${shard}"`);
      t.ok(elu >= 0 && elu <= 1, `shard ${shard} event-loop utilization ${elu.toFixed(3)}`);
      t.ok(metricValue(first, 'sfud_shard_consumers', `shard="${shard}"`) >= 1, `shard ${shard} has its consumer`);
      t.equal(metricValue(first, 'sfud_shard_rooms', `shard="${shard}"`), 1, `shard ${shard} has one room`);
      t.equal(metricValue(first, 'sfud_shard_up', `shard="${shard}"`), 1, `shard ${shard} is up`);
    }
    t.ok(metricValue(first, 'sfud_event_loop_utilization', 'shard="main"') >= 0, 'the main thread keeps its own series');
    t.equal(metricValue(first, 'sfud_rooms', ''), 2, 'sfud_rooms sums the shards');
    t.equal(metricValue(first, 'sfud_peers', ''), 4, 'sfud_peers sums the shards');
    const out = (m: string): number => metricValue(m, 'sfud_packets_total', 'direction="out",kind="video"');
    const before = out(first);
    t.ok(before > 0, `video packets out ${before}`);
    await until('the merged video counter grows', async () => out(await scrape()) > before + 20, 10_000);
    t.pass('sfud_packets_total (merged from both shards) grows during the call');
    t.ok(metricValue(first, 'sfud_ws_connections', '') >= 4, 'control-plane metrics come from the main thread');
  });

  await t.test('a shard that exits: its peers are told, the other shard goes on, a new join works, it restarts', async (t) => {
    const victim = shardA!;
    const closed: { reason: string }[] = [];
    for (const c of [a.pub, a.sub]) c.rpc.ws.once('close', (_code: number, reason: Buffer) => closed.push({ reason: String(reason) }));
    const killedAt = performance.now();
    await sfu.crashShard(victim, 'exit');
    await waitFor('both peers of the failed shard are disconnected', () => closed.length === 2, 10_000);
    t.ok(
      closed.every((c) => /media shard .* failed/.test(c.reason)),
      `their sockets closed with the reason (${closed[0]?.reason})`,
    );
    t.ok(sfu.shards[victim]!.state !== 'up' || sfu.shards[victim]!.restarts === 1, 'the shard is down or already restarted');

    const fresh = await WeriftIonClient.connect(url);
    clients.push(fresh);
    await fresh.join('room-c', 'c-1');
    const joinedMs = performance.now() - killedAt;
    t.ok(joinedMs < 5000, `a new join succeeded ${Math.round(joinedMs)} ms after the kill`);

    await new Promise((r) => setTimeout(r, 2000));
    const window = b.arrivals.filter((x) => x >= killedAt - 200);
    let gap = 0;
    for (let i = 1; i < window.length; i++) gap = Math.max(gap, window[i]! - window[i - 1]!);
    t.ok(window.length > 50, `room-b's subscriber kept receiving (${window.length} packets in the 2 s after the kill)`);
    t.ok(gap < 500, `largest gap at room-b's subscriber ${Math.round(gap)} ms`);

    await until('the failed shard is back', () => sfu.shards[victim]!.state === 'up', 20_000);
    t.equal(sfu.shards[victim]!.restarts, 1, 'one restart counted');
    t.equal(sfu.shards[victim]!.port, ports[victim], 'on the same media port');
    t.equal(sfu.readiness().ready, true, 'ready again');
    const m = await (await fetch(sfu.metricsUrl + '/metrics')).text();
    t.equal(metricValue(m, 'sfud_shard_restarts_total', `shard="${victim}"`), 1, 'sfud_shard_restarts_total counts it');

    // The client rejoins and is served again.
    const again = await WeriftIonClient.connect(url);
    clients.push(again);
    await again.join('room-a', 'room-a-pub');
    t.ok(sfu.shardOf('room-a') !== undefined, 'room-a is placed again on rejoin');
  });

  await t.test('a shard that spins (blocks its loop) is found by its heartbeat and restarted', async (t) => {
    const victim = shardB!;
    const restarts = sfu.shards[victim]!.restarts;
    const closed: string[] = [];
    for (const c of [b.pub, b.sub]) c.rpc.ws.once('close', (_code: number, reason: Buffer) => closed.push(String(reason)));
    const spunAt = performance.now();
    await sfu.crashShard(victim, 'spin');
    await until('the spinning shard is detected', () => sfu.shards[victim]!.state !== 'up' || sfu.shards[victim]!.restarts > restarts, 10_000);
    const detectedMs = performance.now() - spunAt;
    t.ok(detectedMs < 4000, `detected ${Math.round(detectedMs)} ms after it stopped answering`);
    t.equal(sfu.readiness().ready, sfu.shards.every((s) => s.state === 'up'), '/ready follows the shards');
    await waitFor('its peers are disconnected', () => closed.length === 2, 10_000);
    t.match(closed[0], /no heartbeat answer/, `reason: ${closed[0]}`);
    await until('it is back', () => sfu.shards[victim]!.state === 'up', 20_000);
    t.equal(sfu.shards[victim]!.restarts, restarts + 1, 'restart counted');
  });
});

t.test('shards: 0 (the library default) keeps the data plane in this thread', async (t) => {
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 } });
  t.teardown(() => sfu.close());
  t.equal(sfu.config.shards, 0);
  t.equal(sfu.readiness().dataPlane, 'in-thread');
  t.same(sfu.shards, []);
  t.ok(sfu.rooms, 'sfu.rooms is the in-thread registry');
  await t.rejects(sfu.crashShard(0, 'exit'), /no shards/);
});
