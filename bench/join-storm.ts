/**
 * Scenario (d), join storm: K peers join one room at once (all K joins in
 * flight together, or --concurrency at a time) while a publisher sends Opus +
 * VP8-shaped video; for each peer, the time from the start of its join until
 * the join answer, until its subscriber connection is up (ICE + DTLS), until
 * its first media packet, its first video packet and its first key frame;
 * p50/p99/max and failures (a join error or no video within --timeout). A
 * fresh server per K, so steps do not inherit each other's state; before the
 * storm, --warmup-joins peers join one by one and leave again (a cold process
 * would add its one-off compile time to the first joins). The load
 * generator does the clients' DTLS handshakes in this one process: at large K
 * its own CPU (reported) is part of what a peer waits for.
 *
 *   npm run bench:join-storm
 *   node dist/bench/join-storm.js --k 50,100
 *
 * Options: --k 50,100  --concurrency K (default: all at once)  --timeout 30  --video-kbps 1000
 *          --keyframe-interval 2  --warmup-joins 10  --no-pub-pc  --server sfud|mediasoup  --wait-quiet 20
 *          --smoke (K=10,20: < 30 s)  --out FILE  --no-json
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateCertificate, type DtlsCertificate } from '../src/dtls/certificate.js';
import { Publisher, Subscriber } from './loadgen/roles.js';
import { Histogram } from './loadgen/histogram.js';
import { cpuSeconds } from './loadgen/proc.js';
import { serverCpuSeconds, startServer, type ServerKind } from './support/servers.js';
import { joinMany, waitQuiet } from './support/measure.js';
import { OtherCpu, fixed, intList, markdownTable, quantile, writeResults } from './support/report.js';
import { COMMON_OPTIONS, SERVER_OPTION, WAIT_QUIET_OPTION, num, serverKind, outputOf, stringOptions, type OutputOptions } from './support/args.js';

interface Options extends OutputOptions {
  server: ServerKind;
  k: number[];
  concurrency: number;
  timeout: number;
  videoKbps: number;
  keyframeInterval: number;
  warmupJoins: number;
  pubPc: boolean;
  waitQuiet: number;
}

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...COMMON_OPTIONS,
      ...WAIT_QUIET_OPTION,
      ...SERVER_OPTION,
      'no-pub-pc': { type: 'boolean', default: false },
      ...stringOptions({ k: '50,100', concurrency: '0', timeout: '30', 'video-kbps': '1000', 'keyframe-interval': '2', 'warmup-joins': '10' }),
    },
  });
  const o: Options = {
    server: serverKind(v.server),
    k: intList(v.k, '--k'),
    concurrency: num('concurrency', v.concurrency, 0, true),
    timeout: num('timeout', v.timeout, 1),
    videoKbps: num('video-kbps', v['video-kbps']),
    keyframeInterval: num('keyframe-interval', v['keyframe-interval'], 0.1),
    warmupJoins: num('warmup-joins', v['warmup-joins'], 0, true),
    pubPc: !v['no-pub-pc'],
    waitQuiet: num('wait-quiet', v['wait-quiet']),
    ...outputOf(v),
  };
  if (v.smoke) Object.assign(o, { k: [10, 20], timeout: 10, waitQuiet: 1, warmupJoins: 3 });
  return o;
}

interface Percentiles {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

function percentiles(values: number[]): Percentiles {
  return { p50: quantile(values, 0.5), p99: quantile(values, 0.99), max: values.length ? Math.max(...values) : 0, n: values.length };
}

interface Row {
  k: number;
  concurrency: number;
  joinAnswerMs: Percentiles;
  connectedMs: Percentiles;
  firstPacketMs: Percentiles;
  firstVideoMs: Percentiles;
  firstKeyframeMs: Percentiles;
  /** From the first join's start to the last peer's first video. */
  spanMs: number;
  failedJoins: number;
  noVideo: number;
  errors: string[];
  serverCpuPct: number;
  serverCpuMsPerJoin: number;
  loadgenCpuPct: number;
  otherCpuPct: number;
}

async function storm(o: Options, k: number, cert: DtlsCertificate): Promise<Row> {
  const server = await startServer(o.server);
  const subs: Subscriber[] = [];
  let pub: Publisher | undefined;
  try {
    pub = await Publisher.join({ url: server.wsUrl, sid: 'storm', uid: 'publisher', cert, videoKbps: o.videoKbps, keyframeIntervalS: o.keyframeInterval });
    pub.start();
    await sleep(1000);
    // A fresh process pays for compiling its join path once; a storm on a warm server is the common case.
    const warm = await joinMany(o.warmupJoins, 5, async (i) => {
      const s = await Subscriber.join({ url: server.wsUrl, sid: 'storm', uid: `warmup-${i}`, cert, latency: new Histogram(), timeoutMs: o.timeout * 1000, connectPublisherPc: o.pubPc });
      await s.ready.finally(() => s.close());
    });
    if (warm.failed > 0) process.stderr.write(`K=${k}: ${warm.failed} of ${o.warmupJoins} warm-up joins failed (${warm.errors.join('; ')})\n`);
    await sleep(500);
    const other = await waitQuiet(server, o.waitQuiet);
    if (other >= 25) process.stderr.write(`K=${k}: other processes use ${other.toFixed(0)}% of a core; storming anyway\n`);
    const latency = new Histogram();
    const concurrency = o.concurrency > 0 ? o.concurrency : k;
    const cpu = new OtherCpu();
    const s0 = serverCpuSeconds(server);
    const g0 = cpuSeconds(process.pid);
    cpu.start(s0 + g0);
    const t0 = performance.now();
    const j = await joinMany(k, concurrency, (i) =>
      Subscriber.join({ url: server.wsUrl, sid: 'storm', uid: `peer-${i}`, cert, latency, timeoutMs: o.timeout * 1000, connectPublisherPc: o.pubPc }),
    );
    subs.push(...j.joined);
    const settled = await Promise.allSettled(j.joined.map((s) => s.ready));
    const wall = (performance.now() - t0) / 1000;
    const s1 = serverCpuSeconds(server);
    const g1 = cpuSeconds(process.pid);
    const otherPct = cpu.stop(s1 + g1);
    // Key frames can come after the first video packet: give the last ones a moment.
    await sleep(Math.min(3000, o.keyframeInterval * 1000));
    const ok = j.joined;
    const since = (pick: (s: Subscriber) => number): number[] => ok.filter((s) => pick(s) > 0).map((s) => pick(s) - s.times.start);
    const lastVideo = Math.max(0, ...ok.filter((s) => s.times.firstVideo > 0).map((s) => s.times.firstVideo));
    return {
      k,
      concurrency,
      joinAnswerMs: percentiles(since((s) => s.times.joined)),
      connectedMs: percentiles(since((s) => s.times.connected)),
      firstPacketMs: percentiles(since((s) => s.times.firstRtp)),
      firstVideoMs: percentiles(since((s) => s.times.firstVideo)),
      firstKeyframeMs: percentiles(since((s) => s.times.firstKeyframe)),
      spanMs: lastVideo > 0 ? lastVideo - t0 : 0,
      failedJoins: j.failed,
      noVideo: settled.filter((x) => x.status === 'rejected').length,
      errors: [...j.errors, ...ok.filter((s) => s.error).map((s) => s.error!.message)].slice(0, 5),
      serverCpuPct: (100 * (s1 - s0)) / wall,
      serverCpuMsPerJoin: ((s1 - s0) * 1000) / k,
      loadgenCpuPct: (100 * (g1 - g0)) / wall,
      otherCpuPct: otherPct,
    };
  } finally {
    for (const s of subs) s.close();
    pub?.close();
    await sleep(200);
    await server.stop();
  }
}

const HEADER = [
  'K',
  'join answer p50 / p99 / max ms',
  'connected p50 / p99 / max ms',
  '1st packet p50 / p99 / max ms',
  '1st video p50 / p99 / max ms',
  '1st keyframe p50 / p99 / max ms',
  'all have video after ms',
  'failed joins / no video',
  'server CPU %',
  'server CPU ms / join',
  'loadgen CPU %',
  'other CPU %',
];

const p3 = (p: Percentiles): string => `${Math.round(p.p50)} / ${Math.round(p.p99)} / ${Math.round(p.max)}`;

function cells(r: Row): (string | number)[] {
  return [
    r.k,
    p3(r.joinAnswerMs),
    p3(r.connectedMs),
    p3(r.firstPacketMs),
    p3(r.firstVideoMs),
    p3(r.firstKeyframeMs),
    Math.round(r.spanMs),
    `${r.failedJoins} / ${r.noVideo}`,
    fixed(r.serverCpuPct),
    fixed(r.serverCpuMsPerJoin, 2),
    fixed(r.loadgenCpuPct),
    fixed(r.otherCpuPct),
  ];
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const started = new Date();
  const cert = await generateCertificate();
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const k of o.k) {
    process.stderr.write(`${o.server} K=${k}: storming\n`);
    const r = await storm(o, k, cert);
    rows.push(r);
    if (r.errors.length > 0) notes.push(`K=${k}: ${r.errors.join('; ')}`);
  }
  process.stdout.write(`\n${o.server}, publisher Opus + ${o.videoKbps} kbit/s VP8-shaped video (key frame every ${o.keyframeInterval} s, and on PLI)\n\n`);
  process.stdout.write(`${markdownTable(HEADER, rows.map(cells))}\n`);
  for (const n of notes) process.stdout.write(`\n- ${n}`);
  process.stdout.write('\n');
  if (o.json) process.stdout.write(`wrote ${writeResults('join-storm', started, { options: o, results: rows, notes }, o.out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`join-storm: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
