/**
 * Control plane: how fast the built daemon answers its HTTP JSON-RPC admin
 * API (`POST /rpc`: ping, listRooms, getRoom, with autocannon) and how many
 * ion-sfu `join`s per second it takes over WebSocket (K concurrent clients,
 * each in a loop: open a socket, join with a minimal valid offer (a data
 * channel section only, as a subscribe-only ion-sdk-js client sends), wait
 * for the answer, close). Each client joins its own room, so a join also
 * creates a room and a close removes it: the cost per participant arriving
 * and leaving, without cross-talk between rooms. While the HTTP phases run,
 * --rooms rooms with --peers-per-room joined peers exist so that listRooms
 * and getRoom have something to list.
 *
 *   npm run bench:control
 *   node dist/bench/control-plane.js --connections 10 --http-seconds 4 --k 1,10,50 --join-seconds 4
 *
 * Options: --connections 10 (autocannon)  --http-seconds 4  --k 1,10,50  --join-seconds 4
 *          --rooms 10  --peers-per-room 2  --smoke (2 s phases, K=1,10)  --out FILE  --no-json
 */
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateCertificate } from '../src/dtls/certificate.js';
import { IonSignal } from './loadgen/signal.js';
import { dataOnlyOffer, type LocalIce } from './loadgen/sdp.js';
import { cpuSeconds } from './loadgen/proc.js';
import { serverCpuSeconds, startSfud, type RunningServer } from './support/servers.js';
import { Histogram } from './loadgen/histogram.js';
import { OtherCpu, fixed, intList, markdownTable, writeResults } from './support/report.js';
import { COMMON_OPTIONS, num, outputOf, stringOptions, type OutputOptions } from './support/args.js';

interface Options extends OutputOptions {
  connections: number;
  httpSeconds: number;
  k: number[];
  joinSeconds: number;
  rooms: number;
  peersPerRoom: number;
}

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...COMMON_OPTIONS,
      ...stringOptions({ connections: '10', 'http-seconds': '4', k: '1,10,50', 'join-seconds': '4', rooms: '10', 'peers-per-room': '2' }),
    },
  });
  const o: Options = {
    connections: num('connections', v.connections, 1, true),
    httpSeconds: num('http-seconds', v['http-seconds'], 1, true),
    k: intList(v.k, '--k'),
    joinSeconds: num('join-seconds', v['join-seconds'], 1),
    rooms: num('rooms', v.rooms, 0, true),
    peersPerRoom: num('peers-per-room', v['peers-per-room'], 1, true),
    ...outputOf(v),
  };
  if (v.smoke) Object.assign(o, { httpSeconds: 2, joinSeconds: 2, k: [1, 10] });
  return o;
}

interface PhaseResult {
  phase: string;
  /** WS joins: connect + join latency (the table shows the join call alone). */
  connectAndJoinMs?: { p50: number; p99: number };
  concurrency: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  ok: number;
  errors: number;
  sfudCpuPct: number;
  /** sfud CPU per request (or per join + leave), microseconds. */
  sfudUsPerOp: number;
  loadgenCpuPct: number;
  otherCpuPct: number;
}

/** CPU of sfud, of this process, and of everything else around `run`. */
async function withCpu(server: RunningServer, run: () => Promise<{ ops: number; wallS: number }>): Promise<{ ops: number; wallS: number; sfudPct: number; sfudUs: number; genPct: number; otherPct: number }> {
  const other = new OtherCpu();
  const s0 = serverCpuSeconds(server);
  const g0 = cpuSeconds(process.pid);
  other.start(s0 + g0);
  const r = await run();
  const s1 = serverCpuSeconds(server);
  const g1 = cpuSeconds(process.pid);
  const otherPct = other.stop(s1 + g1);
  return {
    ...r,
    sfudPct: (100 * (s1 - s0)) / r.wallS,
    sfudUs: r.ops > 0 ? ((s1 - s0) * 1e6) / r.ops : 0,
    genPct: (100 * (g1 - g0)) / r.wallS,
    otherPct,
  };
}

async function rpcOnce(server: RunningServer, method: string, params: unknown): Promise<unknown> {
  const res = await fetch(`${server.httpUrl}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: unknown };
  if (body.error !== undefined || body.result === undefined) throw new Error(`${method}: ${JSON.stringify(body)}`);
  return body.result;
}

async function httpPhase(server: RunningServer, o: Options, method: string, params: unknown): Promise<PhaseResult> {
  // A wrong method or params would measure the error path: check one call first.
  await rpcOnce(server, method, params);
  let result: autocannon.Result | undefined;
  const m = await withCpu(server, async () => {
    const t0 = performance.now();
    result = await autocannon({
      url: `${server.httpUrl}/rpc`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      connections: o.connections,
      duration: o.httpSeconds,
    });
    return { ops: result.requests.total, wallS: (performance.now() - t0) / 1000 };
  });
  const r = result!;
  return {
    phase: `POST /rpc ${method}`,
    concurrency: o.connections,
    perSecond: r.requests.total / r.duration,
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
    ok: r['2xx'],
    errors: r.errors + r.timeouts + r.non2xx,
    sfudCpuPct: m.sfudPct,
    sfudUsPerOp: m.sfudUs,
    loadgenCpuPct: m.genPct,
    otherCpuPct: m.otherPct,
  };
}

function fakeLocal(fingerprint: string): LocalIce {
  // sfud is ICE-lite and never checks toward the client: any port will do for a join.
  return { ufrag: randomBytes(4).toString('hex'), pwd: randomBytes(16).toString('hex'), fingerprint, port: 9 };
}

async function joinPhase(server: RunningServer, k: number, seconds: number, fingerprint: string): Promise<PhaseResult> {
  const rpcLatency = new Histogram();
  const total = new Histogram();
  let ok = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const m = await withCpu(server, async () => {
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    const client = async (w: number): Promise<void> => {
      for (let i = 0; performance.now() < end; i++) {
        const start = performance.now();
        let sig: IonSignal | undefined;
        try {
          sig = await IonSignal.connect(server.wsUrl);
          const sent = performance.now();
          const answer = (await sig.call('join', { sid: `join-${w}`, uid: `c${w}-${i}`, offer: { type: 'offer', sdp: dataOnlyOffer(fakeLocal(fingerprint)) } })) as { sdp?: unknown };
          if (typeof answer?.sdp !== 'string') throw new Error('join: no answer SDP');
          const done = performance.now();
          rpcLatency.record((done - sent) * 1000);
          total.record((done - start) * 1000);
          ok++;
        } catch (err) {
          errors++;
          if (errorSamples.length < 3) errorSamples.push((err as Error).message);
          await sleep(10);
        } finally {
          sig?.close();
        }
      }
    };
    await Promise.all(Array.from({ length: k }, (_, w) => client(w)));
    return { ops: ok, wallS: (performance.now() - t0) / 1000 };
  });
  if (errorSamples.length > 0) process.stderr.write(`join K=${k}: ${errors} errors, e.g. ${errorSamples.join('; ')}\n`);
  const q = rpcLatency.summary();
  const all = total.summary();
  return {
    phase: 'WS join (+ leave)',
    connectAndJoinMs: { p50: all.p50 / 1000, p99: all.p99 / 1000 },
    concurrency: k,
    perSecond: ok / m.wallS,
    latencyMs: { p50: q.p50 / 1000, p99: q.p99 / 1000, max: q.max / 1000 },
    ok,
    errors,
    sfudCpuPct: m.sfudPct,
    sfudUsPerOp: m.sfudUs,
    loadgenCpuPct: m.genPct,
    otherCpuPct: m.otherPct,
  };
}

/** Joined peers held open so the admin API has rooms to list. */
async function populate(server: RunningServer, o: Options, fingerprint: string): Promise<IonSignal[]> {
  const held: IonSignal[] = [];
  for (let r = 0; r < o.rooms; r++) {
    for (let p = 0; p < o.peersPerRoom; p++) {
      const sig = await IonSignal.connect(server.wsUrl);
      held.push(sig);
      await sig.call('join', { sid: `room-${r}`, uid: `peer-${p}`, offer: { type: 'offer', sdp: dataOnlyOffer(fakeLocal(fingerprint)) } });
    }
  }
  return held;
}

const HEADER = ['phase', 'concurrency', 'ops/s', 'latency p50 / p99 / max ms', 'ok', 'errors', 'sfud CPU %', 'sfud µs / op', 'loadgen CPU %', 'other CPU %'];

function cells(r: PhaseResult): (string | number)[] {
  return [
    r.phase,
    r.concurrency,
    Math.round(r.perSecond),
    `${fixed(r.latencyMs.p50, 2)} / ${fixed(r.latencyMs.p99, 2)} / ${fixed(r.latencyMs.max, 1)}`,
    r.ok,
    r.errors,
    fixed(r.sfudCpuPct),
    fixed(r.sfudUsPerOp),
    fixed(r.loadgenCpuPct),
    fixed(r.otherCpuPct),
  ];
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const started = new Date();
  const cert = await generateCertificate();
  const server = await startSfud();
  const results: PhaseResult[] = [];
  const notes: string[] = [];
  let held: IonSignal[] = [];
  try {
    process.stderr.write(`sfud pid ${server.pid}, ${server.httpUrl}\n`);
    held = await populate(server, o, cert.fingerprint);
    const rooms = (await rpcOnce(server, 'listRooms', {})) as unknown[];
    notes.push(`${rooms.length} rooms with ${o.peersPerRoom} joined peers each exist during the HTTP phases`);
    results.push(await httpPhase(server, o, 'ping', {}));
    results.push(await httpPhase(server, o, 'listRooms', {}));
    results.push(await httpPhase(server, o, 'getRoom', { sid: 'room-0' }));
    for (const s of held) s.close();
    held = [];
    await sleep(300);
    for (const k of o.k) results.push(await joinPhase(server, k, o.joinSeconds, cert.fingerprint));
  } finally {
    for (const s of held) s.close();
    await server.stop();
  }
  process.stdout.write(`\n${markdownTable(HEADER, results.map(cells))}\n`);
  notes.push('HTTP latency is autocannon\'s (whole milliseconds); WS join latency is the join call alone, from request to answer');
  for (const r of results) {
    if (r.connectAndJoinMs) notes.push(`WS join K=${r.concurrency}: WebSocket connect + join p50 ${fixed(r.connectAndJoinMs.p50, 2)} ms, p99 ${fixed(r.connectAndJoinMs.p99, 2)} ms`);
  }
  for (const n of notes) process.stdout.write(`\n- ${n}`);
  process.stdout.write('\n');
  if (o.json) process.stdout.write(`wrote ${writeResults('control-plane', started, { options: o, results, notes }, o.out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`control-plane: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
