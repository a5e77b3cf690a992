// Last-N end to end: 12 publishers in one room (the load generator's
// clients: real ICE, DTLS and SRTP), each sending Opus-shaped audio with the
// RFC 6464 level from a scripted talk schedule, and VP8-shaped video. One
// subscriber with last-N = 3 receives video from exactly 3 publishers at a
// time; the set follows the schedule (the current speaker is in it within
// 1.5 s of starting to talk), and a video that comes back starts with a
// keyframe, numbered on from where it stopped.
import t from 'tap';
import { Sfu } from '../../src/sfu.js';
import { generateCertificate } from '../../src/dtls/certificate.js';
import { createVp8Descriptor, parseVp8 } from '../../src/rtp/codecs/index.js';
import { Publisher, Subscriber } from '../../bench/loadgen/roles.js';
import { Histogram } from '../../bench/loadgen/histogram.js';
import { STAMP_BYTES } from '../../bench/loadgen/media.js';
import { isLoopback, waitFor } from '../interop/echo.js';

const PUBLISHERS = 12;
const TURN_MS = 4000;
const TURNS = 6;
const QUIET = 110;
const LOUD = 20;


t.test('a subscriber with last-N = 3 gets the 3 most relevant videos, following who talks', async (t) => {
  t.setTimeout(110_000);
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const sid = 'big-meeting';
  const cert = await generateCertificate();

  const pubs: Publisher[] = [];
  t.teardown(() => {
    for (const p of pubs) p.close();
  });
  for (let i = 0; i < PUBLISHERS; i++) {
    const p = await Publisher.join({ url, sid, uid: `p${i}`, cert, videoKbps: 120, fps: 15, keyframeIntervalS: 10, audioLevel: QUIET });
    pubs.push(p);
    p.start();
  }
  const sub = await Subscriber.join({ url, sid, uid: 'viewer', cert, latency: new Histogram(), connectPublisherPc: true });
  t.teardown(() => sub.close());
  await sub.ready;
  t.equal(sfu.setLastN(sid, 'viewer', 3), 'ok', 'the viewer sets its own last-N');

  // Server side: which publishers' video the viewer's consumers forward (not left out by last-N).
  const viewer = () =>
    sfu.rooms.get(sid)!.getMember('viewer') as unknown as {
      getStats(): { consumers: { kind: string; ssrc: number; streamId: string; drops: { lastN: number }; suspended: boolean }[] };
    };
  const streamOf = new Map<number, string>();
  /**
   * When the server was last seen holding each video out (after it had been
   * forwarded). A packet after a gap of over 250 ms with such a sighting
   * since the stream's previous packet ends a pause: it must start a
   * keyframe, numbered on. A gap with no sighting in it (this process
   * stalled) is not a pause, and a pause too short to be sampled is not
   * judged. Nor is a packet the publisher sent before the server was first
   * seen holding the stream out (its bench stamp says when): it waited in
   * the viewer's pacer (the viewer's estimate limits it while it ramps up)
   * and is the tail of what went before the pause, not a return.
   */
  const seenOut = new Map<number, number>();
  const outSince = new Map<number, bigint>();
  const forwarded = (): string[] => {
    const set: string[] = [];
    for (const c of viewer().getStats().consumers) {
      if (c.kind !== 'video') continue;
      streamOf.set(c.ssrc, c.streamId);
      if (!c.suspended) {
        set.push(c.streamId);
        outSince.delete(c.ssrc);
      }
      else if (lastSeq.has(c.ssrc)) {
        seenOut.set(c.ssrc, performance.now());
        if (!outSince.has(c.ssrc)) outSince.set(c.ssrc, process.hrtime.bigint());
      }
    }
    return set;
  };

  // Client side: the last sequence number per video SSRC, and what each return looked like.
  const lastSeq = new Map<number, number>();
  const lastAt = new Map<number, number>();
  const returns: { keyframe: boolean; seqContinues: boolean; ssrc: number }[] = [];
  const vp8 = createVp8Descriptor();
  const conn = sub.peer.subConn!;
  const inner = conn.onRtp!;
  conn.onRtp = (buf, len) => {
    inner(buf, len);
    if ((buf[1]! & 0x7f) === 111 || (buf[0]! & 0x20) !== 0) return; // audio, or padding
    const ssrc = buf.readUInt32BE(8);
    const seq = buf.readUInt16BE(2);
    const now = performance.now();
    // The first packet after a pause (a packet that left before the pause and
    // arrives late is skipped: it came before the gap).
    const prevAt = lastAt.get(ssrc);
    const sentBeforeOut = len >= 12 + STAMP_BYTES && buf.readBigUInt64BE(len - STAMP_BYTES) < (outSince.get(ssrc) ?? 0n);
    if (prevAt !== undefined && now - prevAt > 250 && (seenOut.get(ssrc) ?? -Infinity) > prevAt && !sentBeforeOut) {
      outSince.delete(ssrc);
      const cc = buf[0]! & 0x0f;
      let off = 12 + cc * 4;
      if ((buf[0]! & 0x10) !== 0) off += 4 + buf.readUInt16BE(off + 2) * 4;
      const key = parseVp8(buf, off, len - off, vp8) && vp8.isKeyframe;
      returns.push({ keyframe: key, seqContinues: seq === ((lastSeq.get(ssrc)! + 1) & 0xffff), ssrc });
    }
    lastSeq.set(ssrc, seq);
    lastAt.set(ssrc, now);
  };

  await waitFor('the room applies last-N to the viewer', () => forwarded().length === 3, 10_000);

  // The talk schedule: publisher k talks during turn k (one at a time), the others stay quiet.
  const samples: number[] = [];
  const followDelays: number[] = [];
  const start = performance.now();
  for (let turn = 0; turn < TURNS; turn++) {
    // Speakers 4..7 in turn, then 4 and 5 again: with N = 3 they have been left out meanwhile and come back.
    const speaker = pubs[4 + (turn % 4)]!;
    for (const p of pubs) p.setAudio(p === speaker ? LOUD : QUIET);
    const turnStart = performance.now();
    let followed = -1;
    while (performance.now() - turnStart < TURN_MS) {
      await new Promise((r) => setTimeout(r, 100));
      const set = forwarded();
      samples.push(set.length);
      if (followed < 0 && set.includes(speaker.streamId)) {
        // ...and its packets reach the viewer.
        const ssrc = [...streamOf].find(([, s]) => s === speaker.streamId)?.[0];
        if (ssrc !== undefined && (lastAt.get(ssrc) ?? -Infinity) >= turnStart) followed = performance.now() - turnStart;
      }
    }
    followDelays.push(followed);
  }
  t.comment(`talk schedule over ${((performance.now() - start) / 1000).toFixed(1)} s: speaker video reached the viewer after ${followDelays.map((d) => Math.round(d)).join(', ')} ms`);
  t.ok(
    samples.every((n) => n === 3),
    `the viewer's video set is exactly 3 publishers at every sample (sizes seen: ${[...new Set(samples)].join(', ')})`,
  );
  t.ok(
    followDelays.every((d) => d >= 0 && d <= 1500),
    `each new speaker's video reaches the viewer within 1.5 s (${followDelays.map((d) => Math.round(d)).join(', ')} ms)`,
  );
  t.ok(returns.length >= 2, `videos left out and let back in by sfud: ${returns.length}`);
  t.ok(
    returns.every((r) => r.keyframe),
    `every video let back in starts with a keyframe (${JSON.stringify(returns.filter((r) => !r.keyframe))})`,
  );
  t.ok(
    returns.every((r) => r.seqContinues),
    'and its sequence numbers continue from where it stopped (no gap for the decoder to wait on)',
  );
  const stats = viewer().getStats();
  const notSent = stats.consumers.filter((c) => c.kind === 'video').reduce((n, c) => n + c.drops.lastN, 0);
  t.ok(notSent > 0, `packets not sent thanks to last-N: ${notSent}`);
  const metrics = await (await fetch(`${sfu.metricsUrl}/metrics`)).text();
  const lastNMetric = Number(/^sfud_speaker_policy_total\{what="last_n_packets"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  const changes = Number(/^sfud_speaker_policy_total\{what="speaker_changes"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  t.ok(lastNMetric >= notSent, `Prometheus counts them too (${lastNMetric}), and ${changes} speaker changes`);
  t.ok(changes >= TURNS - 1, 'the speaker changes are counted');
});
