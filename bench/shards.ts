/**
 * Issue 7, shards: does a second shard carry more? The same fan-out load
 * (R rooms, each one publisher to N subscribers, N swept upward) against the
 * built daemon with --shards 1 and then --shards 2, in one invocation. A room
 * lives on one shard, so the load is split into rooms (placement puts them on
 * different shards). For each shard count: the highest forwarded packet rate
 * (received by subscribers, per second) with loss under --max-loss percent;
 * then the ratio 2 shards / 1 shard. The load generator runs in this process:
 * on a small machine it competes with the shards for cores, so read the ratio
 * together with the machine's core count (printed).
 *
 *   npm run bench:shards -- --rooms 2 --n 10,20,40 --seconds 5
 */
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateCertificate, type DtlsCertificate } from '../src/dtls/certificate.js';
import { Publisher, Subscriber } from './loadgen/roles.js';
import { Histogram } from './loadgen/histogram.js';
import { startSfud } from './support/servers.js';

interface Options {
  shards: number[];
  rooms: number;
  n: number[];
  seconds: number;
  videoKbps: number;
  maxLoss: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { shards: [1, 2], rooms: 2, n: [10, 20, 40, 60], seconds: 5, videoKbps: 500, maxLoss: 1 };
  const list = (s: string): number[] => s.split(',').map((x) => Number(x));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--shards') o.shards = list(v);
    else if (a === '--rooms') o.rooms = Number(v);
    else if (a === '--n') o.n = list(v);
    else if (a === '--seconds') o.seconds = Number(v);
    else if (a === '--video-kbps') o.videoKbps = Number(v);
    else if (a === '--max-loss') o.maxLoss = Number(v);
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

interface Step {
  subscribers: number;
  pps: number;
  lossPct: number;
}

async function run(o: Options, shards: number, cert: DtlsCertificate): Promise<{ steps: Step[]; best: number; placement: string }> {
  // Each shard needs its port (udp-port + i); readiness means every shard is up.
  const d = await startSfud({ args: ['--shards', String(shards)] });
  for (let i = 0; i < 300 && !(await fetch(`${d.httpUrl}/ready`)).ok; i++) await sleep(50);
  const pubs: Publisher[] = [];
  const subs: Subscriber[][] = Array.from({ length: o.rooms }, () => []);
  const latency = new Histogram();
  const steps: Step[] = [];
  let placement: string;
  try {
    for (let r = 0; r < o.rooms; r++) {
      const p = await Publisher.join({ url: d.wsUrl, sid: `room-${r}`, uid: 'pub', cert, videoKbps: o.videoKbps, fps: 30, keyframeIntervalS: 2 });
      p.start();
      pubs.push(p);
    }
    for (const n of o.n) {
      // Join in parallel per room, a few at a time (a join storm is not what is measured).
      await Promise.all(
        subs.map(async (list, r) => {
          while (list.length < n) {
            const batch = Math.min(5, n - list.length);
            const joined = await Promise.all(
              Array.from({ length: batch }, (_, k) =>
                Subscriber.join({ url: d.wsUrl, sid: `room-${r}`, uid: `sub-${list.length + k}`, cert, latency, timeoutMs: 30_000, decrypt: false }),
              ),
            );
            list.push(...joined);
          }
        }),
      );
      await sleep(2000);
      const sum = (): { expected: number; received: number } =>
        subs.flat().reduce(
          (acc, s) => {
            const c = s.counters();
            return { expected: acc.expected + c.expected, received: acc.received + c.received };
          },
          { expected: 0, received: 0 },
        );
      const a = sum();
      await sleep(o.seconds * 1000);
      const b = sum();
      const received = b.received - a.received;
      const expected = Math.max(1, b.expected - a.expected);
      const step = { subscribers: n * o.rooms, pps: received / o.seconds, lossPct: Math.max(0, 100 * (1 - received / expected)) };
      steps.push(step);
      process.stdout.write(`  shards=${shards} subscribers=${step.subscribers} forwarded=${Math.round(step.pps)} pkt/s loss=${step.lossPct.toFixed(2)}%\n`);
      if (step.lossPct > o.maxLoss) break;
    }
    const stats = await (await fetch(`${d.httpUrl}/metrics`)).text();
    placement = stats
      .split('\n')
      .filter((l) => l.startsWith('sfud_shard_rooms{'))
      .join(' ');
  } finally {
    for (const s of subs.flat()) s.close();
    for (const p of pubs) p.close();
    await d.stop();
  }
  const best = Math.max(0, ...steps.filter((s) => s.lossPct <= o.maxLoss).map((s) => s.pps));
  return { steps, best, placement };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const cert = await generateCertificate();
  process.stdout.write(`shards bench: ${o.rooms} rooms x 1 publisher (${o.videoKbps} kbps video) -> N subscribers each, N = ${o.n.join(',')}; ${availableParallelism()} cores\n`);
  const best = new Map<number, number>();
  for (const shards of o.shards) {
    const r = await run(o, shards, cert);
    best.set(shards, r.best);
    process.stdout.write(`shards=${shards}: best ${Math.round(r.best)} pkt/s at <= ${o.maxLoss}% loss (${r.placement})\n`);
  }
  const one = best.get(1);
  const two = best.get(2);
  if (one && two) process.stdout.write(`ratio 2 shards / 1 shard: ${(two / one).toFixed(2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
