/**
 * Scenario (c), a large audio room: S speakers publishing Opus-shaped audio
 * (50 packets/s with the ssrc-audio-level extension) on a talk schedule, and
 * L audio-only listeners, L swept upward until loss > --max-loss %. Every
 * listener receives every speaker (an SFU forwards silence too: browsers
 * without DTX keep sending 50 packets/s), so forwarded packets/s is about
 * 50 x S x L; the schedule changes levels and sizes, which exercises the
 * server's audio-level and dominant-speaker logic.
 *
 * Talk schedule (deterministic): the floor moves to the next speaker every
 * --turn seconds; the speaker three seats on interrupts for the first quarter
 * of each turn. Talking: level 25 -dBov, 120-byte payloads (~48 kbit/s);
 * silent: level 127, 16-byte payloads.
 *
 *   npm run bench:audio-room
 *   node dist/bench/audio-room.js --listeners 25,50,100,200,400 --speakers 10 --seconds 8
 *
 * Options: --listeners 25,50,100,200,400  --speakers 10  --seconds 8  --warmup 2  --turn 2
 *          --join-concurrency 20  --max-loss 1  --wait-quiet 20  --decrypt-every 4 (every K-th
 *          listener decrypts and measures latency; the rest count RTP sequence numbers, so one
 *          load-generator process keeps up)  --no-pub-pc  --server sfud|mediasoup
 *          --smoke (10 and 20 listeners, 3 speakers, 2 s windows: < 30 s)  --out FILE  --no-json
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateCertificate } from '../src/dtls/certificate.js';
import { Publisher, Subscriber } from './loadgen/roles.js';
import { Histogram } from './loadgen/histogram.js';
import { serverRssBytes, startServer, type ServerKind } from './support/servers.js';
import { joinMany, measureWindow, waitQuiet, type WindowResult } from './support/measure.js';
import { fixed, intList, markdownTable, quantile, writeResults } from './support/report.js';
import { COMMON_OPTIONS, SERVER_OPTION, WAIT_QUIET_OPTION, num, serverKind, outputOf, stringOptions, type OutputOptions } from './support/args.js';

interface Options extends OutputOptions {
  server: ServerKind;
  listeners: number[];
  speakers: number;
  seconds: number;
  warmup: number;
  turn: number;
  joinConcurrency: number;
  maxLoss: number;
  waitQuiet: number;
  decryptEvery: number;
  pubPc: boolean;
}

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...COMMON_OPTIONS,
      ...WAIT_QUIET_OPTION,
      ...SERVER_OPTION,
      'no-pub-pc': { type: 'boolean', default: false },
      ...stringOptions({ listeners: '25,50,100,200,400', speakers: '10', seconds: '8', warmup: '2', turn: '2', 'join-concurrency': '20', 'max-loss': '1', 'decrypt-every': '4' }),
    },
  });
  const o: Options = {
    server: serverKind(v.server),
    listeners: intList(v.listeners, '--listeners'),
    speakers: num('speakers', v.speakers, 1, true),
    seconds: num('seconds', v.seconds),
    warmup: num('warmup', v.warmup),
    turn: num('turn', v.turn, 0.1),
    joinConcurrency: num('join-concurrency', v['join-concurrency'], 1, true),
    maxLoss: num('max-loss', v['max-loss']),
    waitQuiet: num('wait-quiet', v['wait-quiet']),
    decryptEvery: num('decrypt-every', v['decrypt-every'], 1, true),
    pubPc: !v['no-pub-pc'],
    ...outputOf(v),
  };
  if (v.smoke) Object.assign(o, { listeners: [10, 20], speakers: 3, seconds: 2, warmup: 0.5, waitQuiet: 1 });
  return o;
}

const TALK = { level: 25, bytes: 120 };
const SILENT = { level: 127, bytes: 16 };

/** Applies the schedule at `t` seconds: who has the floor, who interrupts. */
function schedule(speakers: readonly Publisher[], turnS: number, t: number): void {
  const n = speakers.length;
  const slot = Math.floor(t / turnS);
  const floor = slot % n;
  const interrupter = t - slot * turnS < turnS / 4 && n > 1 ? (slot + 3) % n : -1;
  speakers.forEach((p, i) => {
    const on = i === floor || i === interrupter;
    p.setAudio(on ? TALK.level : SILENT.level, on ? TALK.bytes : SILENT.bytes);
  });
}

interface Row extends WindowResult {
  listeners: number;
  speakers: number;
  rssPerListenerKB: number;
  joinFirstPacketMs: { p50: number; p99: number };
  failed: number;
}

const HEADER = [
  'listeners',
  'fwd pkt/s',
  'loss / deficit %',
  'server CPU %',
  'µs / fwd pkt',
  'latency p50 / p99 / max ms',
  'RSS MB',
  'RSS / listener KB',
  'join→1st pkt p50 / p99 ms',
  'loadgen CPU %',
  'other CPU %',
  'rx queue KB server / loadgen',
  'UDP drops server / loadgen',
];

function cells(r: Row): (string | number)[] {
  return [
    r.listeners,
    Math.round(r.forwardedPps),
    `${fixed(r.lossPct, 2)} / ${fixed(r.deficitPct)}`,
    fixed(r.serverCpuPct),
    fixed(r.serverUsPerPacket, 2),
    `${fixed(r.latencyMs.p50, 2)} / ${fixed(r.latencyMs.p99, 2)} / ${fixed(r.latencyMs.max)}`,
    fixed(r.serverRssMB),
    fixed(r.rssPerListenerKB),
    `${Math.round(r.joinFirstPacketMs.p50)} / ${Math.round(r.joinFirstPacketMs.p99)}`,
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
  const server = await startServer(o.server);
  const speakers: Publisher[] = [];
  const listeners: Subscriber[] = [];
  const rows: Row[] = [];
  const notes: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    process.stderr.write(`${o.server}: pids ${server.pids.join(',')}, ${server.wsUrl}\n`);
    const latency = new Histogram();
    for (let i = 0; i < o.speakers; i++) {
      speakers.push(await Publisher.join({ url: server.wsUrl, sid: 'audio-room', uid: `speaker-${i}`, cert, video: false, audioLevel: SILENT.level, audioBytes: SILENT.bytes }));
    }
    const t0 = performance.now();
    schedule(speakers, o.turn, 0);
    for (const s of speakers) s.start();
    timer = setInterval(() => schedule(speakers, o.turn, (performance.now() - t0) / 1000), 50);
    await sleep(1000);
    const rssBase = serverRssBytes(server);
    const published = (): number => speakers.reduce((n, s) => n + s.stats.audioPackets, 0);
    for (const target of o.listeners) {
      const add = target - listeners.length;
      if (add <= 0) continue;
      process.stderr.write(`listeners=${target}: joining ${add}\n`);
      const base = listeners.length;
      const j = await joinMany(add, o.joinConcurrency, (i) =>
        Subscriber.join({
          url: server.wsUrl,
          sid: 'audio-room',
          uid: `listener-${base + i}`,
          cert,
          latency,
          timeoutMs: 30_000,
          connectPublisherPc: o.pubPc,
          decrypt: (base + i) % o.decryptEvery === 0,
          readyOn: 'media',
        }),
      );
      listeners.push(...j.joined);
      const settled = await Promise.allSettled(j.joined.map((s) => s.ready));
      const noMedia = settled.filter((x) => x.status === 'rejected').length;
      if (j.failed + noMedia > 0) notes.push(`listeners=${target}: ${j.failed} joins failed, ${noMedia} without media (${j.errors.slice(0, 3).join('; ')})`);
      const firstPacket = j.joined.filter((s) => s.times.firstRtp > 0).map((s) => s.times.firstRtp - s.times.start);
      await sleep(o.warmup * 1000);
      // Every listener should have every speaker by now.
      const partial = listeners.filter((s) => s.streams.size < o.speakers).length;
      if (partial > 0) notes.push(`listeners=${target}: ${partial} listeners had fewer than ${o.speakers} speaker streams when the window started`);
      const other = await waitQuiet(server, o.waitQuiet);
      if (other >= 25) process.stderr.write(`listeners=${target}: other processes use ${other.toFixed(0)}% of a core; measuring anyway\n`);
      const w = await measureWindow({ server, subs: listeners, published, copies: listeners.length, latency, seconds: o.seconds });
      const row: Row = {
        ...w,
        listeners: listeners.length,
        speakers: o.speakers,
        rssPerListenerKB: (serverRssBytes(server) - rssBase) / 1024 / Math.max(1, listeners.length),
        joinFirstPacketMs: { p50: quantile(firstPacket, 0.5), p99: quantile(firstPacket, 0.99) },
        failed: j.failed + noMedia,
      };
      rows.push(row);
      process.stderr.write(`listeners=${row.listeners}: ${Math.round(row.forwardedPps)} pkt/s, loss ${row.lossPct.toFixed(2)}%, CPU ${row.serverCpuPct.toFixed(1)}%\n`);
      if (row.lossPct > o.maxLoss || row.deficitPct > Math.max(2, o.maxLoss)) {
        notes.push(`stopped at ${row.listeners} listeners: loss ${row.lossPct.toFixed(2)}%, deficit ${row.deficitPct.toFixed(1)}%`);
        break;
      }
    }
  } finally {
    clearInterval(timer);
    for (const s of listeners) s.close();
    for (const s of speakers) s.close();
    await sleep(200);
    await server.stop();
  }
  process.stdout.write(`\n${o.server}, ${o.speakers} speakers (${TALK.bytes} B talking / ${SILENT.bytes} B silent Opus payloads, 50 pkt/s each)\n\n`);
  process.stdout.write(`${markdownTable(HEADER, rows.map(cells))}\n`);
  for (const n of notes) process.stdout.write(`\n- ${n}`);
  process.stdout.write('\n');
  if (o.json && rows.length > 0) process.stdout.write(`wrote ${writeResults('audio-room', started, { options: o, results: rows, notes }, o.out)}\n`);
  if (rows.length === 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`audio-room: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
