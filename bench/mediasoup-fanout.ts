/**
 * Scenario (a), fan-out, side by side: sfud and mediasoup (through
 * bench/servers/mediasoup-ion.ts, the same ion-sfu JSON-RPC) each in a fresh
 * process of its own, driven by the same load generator: one publisher
 * (Opus + VP8-shaped video) to N subscribers, N swept upward. Server CPU is
 * every process of the server (mediasoup: its Node process and its C++
 * worker). The sweep of a server stops when loss > --max-loss % or the
 * deficit > 2 %.
 *
 *   npm run bench:mediasoup        (builds mediasoup into bench/.peers/ first if needed)
 *   node dist/bench/mediasoup-fanout.js --servers sfud,mediasoup --n 10,25,50 --seconds 8
 *
 * Options: --servers sfud,mediasoup  --n 10,25,50  --seconds 8  --warmup 2  --video-kbps 1000
 *          --join-concurrency 10  --max-loss 1  --wait-quiet 20  --smoke (N=5,10, 2 s windows: < 30 s)
 *          --out FILE  --no-json
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateCertificate, type DtlsCertificate } from '../src/dtls/certificate.js';
import { Publisher, Subscriber } from './loadgen/roles.js';
import { Histogram } from './loadgen/histogram.js';
import { startServer, type RunningServer, type ServerKind } from './support/servers.js';
import { joinMany, measureWindow, waitQuiet, type WindowResult } from './support/measure.js';
import { fixed, intList, markdownTable, quantile, writeResults } from './support/report.js';
import { COMMON_OPTIONS, WAIT_QUIET_OPTION, num, serverKind, outputOf, stringOptions, type OutputOptions } from './support/args.js';

interface Options extends OutputOptions {
  servers: ServerKind[];
  n: number[];
  seconds: number;
  warmup: number;
  videoKbps: number;
  joinConcurrency: number;
  maxLoss: number;
  waitQuiet: number;
}

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...COMMON_OPTIONS,
      ...WAIT_QUIET_OPTION,
      ...stringOptions({ servers: 'sfud,mediasoup', n: '10,25,50', seconds: '8', warmup: '2', 'video-kbps': '1000', 'join-concurrency': '10', 'max-loss': '1' }),
    },
  });
  const o: Options = {
    servers: v.servers.split(',').map((s) => serverKind(s.trim())),
    n: intList(v.n, '--n'),
    seconds: num('seconds', v.seconds),
    warmup: num('warmup', v.warmup),
    videoKbps: num('video-kbps', v['video-kbps']),
    joinConcurrency: num('join-concurrency', v['join-concurrency'], 1, true),
    maxLoss: num('max-loss', v['max-loss']),
    waitQuiet: num('wait-quiet', v['wait-quiet']),
    ...outputOf(v),
  };
  if (v.smoke) Object.assign(o, { n: [5, 10], seconds: 2, warmup: 0.5, waitQuiet: 1 });
  return o;
}

interface Row extends WindowResult {
  server: ServerKind;
  n: number;
  joinFirstVideoMs: { p50: number; p99: number };
  failedJoins: number;
}

async function sweep(kind: ServerKind, o: Options, cert: DtlsCertificate, notes: string[]): Promise<Row[]> {
  const server: RunningServer = await startServer(kind);
  const rows: Row[] = [];
  const subs: Subscriber[] = [];
  let pub: Publisher | undefined;
  try {
    process.stderr.write(`${kind}: pids ${server.pids.join(',')}, ${server.wsUrl}\n`);
    const latency = new Histogram();
    pub = await Publisher.join({ url: server.wsUrl, sid: 'fanout', uid: 'publisher', cert, videoKbps: o.videoKbps });
    pub.start();
    await sleep(1000);
    const p = pub;
    for (const n of o.n) {
      const add = n - subs.length;
      if (add <= 0) continue;
      process.stderr.write(`${kind} N=${n}: joining ${add} subscribers\n`);
      const base = subs.length;
      const j = await joinMany(add, o.joinConcurrency, (i) =>
        Subscriber.join({ url: server.wsUrl, sid: 'fanout', uid: `sub-${base + i}`, cert, latency, timeoutMs: 30_000, connectPublisherPc: true }),
      );
      subs.push(...j.joined);
      const settled = await Promise.allSettled(j.joined.map((s) => s.ready));
      const noMedia = settled.filter((x) => x.status === 'rejected').length;
      if (j.failed + noMedia > 0) notes.push(`${kind} N=${n}: ${j.failed} joins failed, ${noMedia} without video (${[...j.errors, ...j.joined.filter((s) => s.error).map((s) => s.error!.message)].slice(0, 3).join('; ')})`);
      const firstVideo = j.joined.filter((s) => s.times.firstVideo > 0).map((s) => s.times.firstVideo - s.times.start);
      await sleep(o.warmup * 1000);
      const other = await waitQuiet(server, o.waitQuiet);
      if (other >= 25) process.stderr.write(`${kind} N=${n}: other processes use ${other.toFixed(0)}% of a core; measuring anyway\n`);
      const w = await measureWindow({ server, subs, published: () => p.stats.audioPackets + p.stats.videoPackets, copies: subs.length, latency, seconds: o.seconds });
      const row: Row = { server: kind, n: subs.length, ...w, joinFirstVideoMs: { p50: quantile(firstVideo, 0.5), p99: quantile(firstVideo, 0.99) }, failedJoins: j.failed + noMedia };
      rows.push(row);
      process.stderr.write(`${kind} N=${row.n}: ${Math.round(row.forwardedPps)} pkt/s, loss ${row.lossPct.toFixed(2)}%, CPU ${row.serverCpuPct.toFixed(1)}%\n`);
      if (row.lossPct > o.maxLoss || row.deficitPct > Math.max(2, o.maxLoss)) {
        notes.push(`${kind}: stopped at N=${row.n} (loss ${row.lossPct.toFixed(2)}%, deficit ${row.deficitPct.toFixed(1)}%)`);
        break;
      }
    }
    const ps = pub.stats;
    notes.push(`${kind} publisher: ${ps.videoFrames} frames, ${ps.keyframes} keyframes, ${ps.keyframeRequests} PLI/FIR, ${ps.nacks} NACKs, ${ps.twccFeedback} TWCC, ${ps.receiverReports} RRs`);
  } finally {
    for (const s of subs) s.close();
    pub?.close();
    await sleep(200);
    await server.stop();
  }
  return rows;
}

const HEADER = [
  'server',
  'N',
  'fwd pkt/s',
  'Mbit/s',
  'loss / deficit %',
  'server CPU %',
  'µs / fwd pkt',
  'latency p50 / p99 / max ms',
  'RSS MB',
  'join→1st video p50 / p99 ms',
  'loadgen CPU %',
  'other CPU %',
  'rx queue KB server / loadgen',
  'UDP drops server / loadgen',
];

function cells(r: Row): (string | number)[] {
  return [
    r.server,
    r.n,
    Math.round(r.forwardedPps),
    fixed(r.forwardedMbps),
    `${fixed(r.lossPct, 2)} / ${fixed(r.deficitPct)}`,
    fixed(r.serverCpuPct),
    fixed(r.serverUsPerPacket, 2),
    `${fixed(r.latencyMs.p50, 2)} / ${fixed(r.latencyMs.p99, 2)} / ${fixed(r.latencyMs.max)}`,
    fixed(r.serverRssMB),
    `${Math.round(r.joinFirstVideoMs.p50)} / ${Math.round(r.joinFirstVideoMs.p99)}`,
    fixed(r.loadgenCpuPct),
    fixed(r.otherCpuPct),
    `${Math.round(r.udpRxQueueKB.serverMean)} / ${Math.round(r.udpRxQueueKB.loadgenMean)}`,
    `${r.udpDrops.server} / ${r.udpDrops.loadgen}`,
  ];
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const started = new Date();
  const cert = await generateCertificate();
  const notes: string[] = [];
  const rows: Row[] = [];
  for (const kind of o.servers) {
    try {
      rows.push(...(await sweep(kind, o, cert, notes)));
    } catch (err) {
      notes.push(`${kind}: ${(err as Error).message.split('\n')[0]}`);
      process.stderr.write(`${kind} failed: ${(err as Error).stack ?? String(err)}\n`);
    }
  }
  process.stdout.write(`\n${markdownTable(HEADER, rows.map(cells))}\n`);
  // Ratios within one run are what compares: the machine is shared and noisy.
  for (const n of o.n) {
    const s = rows.find((r) => r.server === 'sfud' && r.n === n);
    const m = rows.find((r) => r.server === 'mediasoup' && r.n === n);
    if (s && m && m.serverUsPerPacket > 0) notes.push(`N=${n}: sfud / mediasoup CPU per forwarded packet = ${(s.serverUsPerPacket / m.serverUsPerPacket).toFixed(2)}`);
  }
  for (const n of notes) process.stdout.write(`\n- ${n}`);
  process.stdout.write('\n');
  if (o.json && rows.length > 0) process.stdout.write(`wrote ${writeResults('mediasoup-fanout', started, { options: o, results: rows, notes }, o.out)}\n`);
  if (rows.length === 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`mediasoup-fanout: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
