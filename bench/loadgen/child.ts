/**
 * Entry of a load-generator process (forked by remote.ts, driven over IPC):
 * ion-sfu publishers and cheap subscribers (header-only loss accounting, a
 * sample of packets decrypted for latency) grouped by room. Exits when the
 * parent disconnects, so a crashed bench leaves no peers behind.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { generateCertificate, type DtlsCertificate } from '../../src/dtls/certificate.js';
import { joinMany, settleAll } from '../scenarios/measure.js';
import { RtcConnection } from './connection.js';
import { Histogram } from './histogram.js';
import type { LoadgenRequest, LoadgenResults, LoadgenSample, PublishRequest, SubscribeRequest, SubscribeResult } from './remote.js';
import { Publisher, Subscriber } from './roles.js';

interface Room {
  pub: Publisher | undefined;
  subs: Subscriber[];
  /** uids handed out so far (failed joins use theirs up too). */
  nextUid: number;
}

const rooms = new Map<string, Room>();
const latency = new Histogram();
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
let certificate: Promise<DtlsCertificate> | undefined;

function cert(): Promise<DtlsCertificate> {
  certificate ??= generateCertificate();
  return certificate;
}

function room(sid: string): Room {
  let r = rooms.get(sid);
  if (!r) {
    r = { pub: undefined, subs: [], nextUid: 0 };
    rooms.set(sid, r);
  }
  return r;
}

async function publish(q: PublishRequest): Promise<LoadgenResults['publish']> {
  const r = room(q.sid);
  if (r.pub) throw new Error(`room ${q.sid} has a publisher here already`);
  const pub = await Publisher.join({ url: q.url, sid: q.sid, uid: q.uid, cert: await cert(), videoKbps: q.videoKbps, fps: q.fps, keyframeIntervalS: q.keyframeIntervalS, timeoutMs: q.timeoutMs });
  pub.start();
  r.pub = pub;
  return { port: pub.peer.pubConn.port };
}

async function subscribe(q: SubscribeRequest): Promise<SubscribeResult> {
  const r = room(q.sid);
  const c = await cert();
  const base = r.nextUid;
  r.nextUid += q.count;
  const j = await joinMany(q.count, q.concurrency, (i) =>
    Subscriber.join({
      url: q.url,
      sid: q.sid,
      uid: `sub-${base + i}`,
      cert: c,
      latency,
      decrypt: false,
      latencySample: q.latencySample,
      // ion-sdk-js connects it too; an idle one would be timed out by the server.
      connectPublisherPc: true,
      timeoutMs: q.timeoutMs,
    }),
  );
  r.subs.push(...j.joined);
  const ready = await settleAll(j.joined.map((s) => s.ready));
  return { joined: j.joined.length, failed: j.failed, noVideo: ready.failed, errors: [...j.errors, ...ready.errors].slice(0, 5) };
}

function sample(reset: boolean): LoadgenSample {
  const out: LoadgenSample = {
    rooms: [...rooms].map(([sid, r]) => {
      let expected = 0;
      let received = 0;
      let bytes = 0;
      for (const s of r.subs) {
        const c = s.counters();
        expected += c.expected;
        received += c.received;
        bytes += s.bytes;
      }
      const st = r.pub?.stats;
      return { sid, subscribers: r.subs.length, expected, received, bytes, published: st ? st.audioPackets + st.topLayerVideoPackets : 0 };
    }),
    latency: latency.data(),
    eventLoopP99Ms: loop.percentile(99) / 1e6,
    ports: [...RtcConnection.openPorts],
  };
  if (reset) {
    latency.reset();
    loop.reset();
  }
  return out;
}

function closeAll(): void {
  for (const r of rooms.values()) {
    for (const s of r.subs) s.close();
    r.pub?.close();
  }
  rooms.clear();
}

async function handle(q: LoadgenRequest): Promise<unknown> {
  switch (q.op) {
    case 'publish':
      return publish(q);
    case 'subscribe':
      return subscribe(q);
    case 'drop': {
      const r = room(q.sid);
      for (const sub of r.subs.splice(Math.max(0, r.subs.length - q.count))) sub.close();
      return { left: r.subs.length };
    }
    case 'sample':
      return sample(q.reset);
    case 'close':
      closeAll();
      // Exit once the reply is out: sockets are closed, nothing else keeps the process useful.
      setTimeout(() => process.exit(0), 100);
      return null;
  }
}

// The parent may be gone already (it exits, the channel closes): nothing to tell it then.
const send = (m: unknown): void => {
  if (process.connected) process.send?.(m);
};

if (!process.send) {
  process.stderr.write('bench/loadgen/child: run me with child_process.fork (see remote.ts)\n');
  process.exit(2);
}
process.on('message', (m: LoadgenRequest & { id: number }) => {
  handle(m).then(
    (result) => send({ id: m.id, ok: true, result }),
    (err: unknown) => send({ id: m.id, ok: false, error: (err as Error).message }),
  );
});
process.on('disconnect', () => {
  closeAll();
  process.exit(0);
});
send({ ready: true });
