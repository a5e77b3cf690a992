/**
 * A 30-person meeting, everyone publishing (Opus-shaped audio with the
 * audio-level extension on a talk schedule, VP8-shaped video) and
 * subscribing, run twice against the built daemon in the same invocation:
 * with last-N and loudest-K off, and with `--last-n 4 --loudest-k 3` (last-N
 * from any room size). Reports sfud CPU-seconds per participant-minute and
 * egress packets per second for both, and their ratios.
 *
 * Talk schedule: one main speaker per turn (round robin), the next one
 * chiming in during the first fifth of the turn, everyone else quiet (level
 * 110): one or two people speak at a time.
 *
 * Each participant is two load-generator clients (publisher and subscriber,
 * as ion-sdk-js has two connections); the subscriber also receives its own
 * publisher's stream, so the room has 2M members and each subscriber M
 * streams (not M - 1). Media is lighter than a browser's so the unrestricted
 * run fits this 2-core machine without loss: 60 ms Opus frames (legal Opus,
 * 16.7 packets/s) and 3 fps video, one packet a frame.
 *
 *   npm run bench:meeting-policy
 *   node dist/bench/meeting-policy.js --participants 30 --seconds 20
 *
 * Options: --participants 30  --seconds 20  --warmup 6  --turn 3  --last-n 4  --loudest-k 3
 *          --wait-quiet 20  --smoke (8 participants, 5 s windows)  --out FILE  --no-json
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateCertificate } from '../src/dtls/certificate.js';
import { Publisher, Subscriber } from './loadgen/roles.js';
import { Histogram } from './loadgen/histogram.js';
import { serverCpuSeconds, startSfud, type RunningServer } from './support/servers.js';
import { joinMany, waitQuiet } from './support/measure.js';
import { fixed, markdownTable, writeResults } from './support/report.js';
import { COMMON_OPTIONS, WAIT_QUIET_OPTION, num, outputOf, stringOptions } from './support/args.js';

const QUIET = 110;
const SPEAKING = 20;
const CHIMING = 35;

/** Participant i's level at tMs: the turn's speaker, the next one for the turn's first fifth, quiet otherwise. */
function level(i: number, m: number, tMs: number, turnMs: number): number {
  const turn = Math.floor(tMs / turnMs);
  if (i === turn % m) return SPEAKING;
  if (i === (turn + 1) % m && tMs - turn * turnMs < turnMs / 5) return CHIMING;
  return QUIET;
}

interface RunResult {
  name: string;
  flags: string[];
  participants: number;
  seconds: number;
  egressPps: number;
  sfudCpuPct: number;
  cpuSecondsPerParticipantMinute: number;
  joinFailures: number;
}

async function run(name: string, flags: string[], o: { participants: number; seconds: number; warmup: number; turn: number; waitQuiet: number }): Promise<RunResult> {
  const server: RunningServer = await startSfud({ args: flags });
  const cert = await generateCertificate();
  const pubs: Publisher[] = [];
  const subs: Subscriber[] = [];
  let schedule: NodeJS.Timeout | undefined;
  try {
    const sid = 'meeting';
    const p = await joinMany(o.participants, 8, (i) =>
      Publisher.join({ url: server.wsUrl, sid, uid: `p${i}`, cert, videoKbps: 24, fps: 3, maxPayload: 1200, keyframeIntervalS: 10, audioPtimeMs: 60, audioBytes: 200, audioLevel: QUIET }),
    );
    pubs.push(...p.joined);
    for (const x of pubs) x.start();
    const s = await joinMany(o.participants, 8, (i) =>
      Subscriber.join({ url: server.wsUrl, sid, uid: `s${i}`, cert, latency: new Histogram(), connectPublisherPc: true, decrypt: i === 0, timeoutMs: 60_000 }),
    );
    subs.push(...s.joined);
    const t0 = performance.now();
    schedule = setInterval(() => {
      const t = performance.now() - t0;
      pubs.forEach((x, i) => x.setAudio(level(i, pubs.length, t, o.turn * 1000)));
    }, 50);
    await sleep(o.warmup * 1000);
    await waitQuiet(server, o.waitQuiet);
    const cpuA = serverCpuSeconds(server);
    const pktA = subs.reduce((n, x) => n + x.packets, 0);
    const wallA = performance.now();
    await sleep(o.seconds * 1000);
    const wall = (performance.now() - wallA) / 1000;
    const cpu = serverCpuSeconds(server) - cpuA;
    const egress = (subs.reduce((n, x) => n + x.packets, 0) - pktA) / wall;
    return {
      name,
      flags,
      participants: o.participants,
      seconds: wall,
      egressPps: egress,
      sfudCpuPct: (100 * cpu) / wall,
      cpuSecondsPerParticipantMinute: cpu / (o.participants * (wall / 60)),
      joinFailures: p.failed + s.failed,
    };
  } finally {
    clearInterval(schedule);
    for (const x of subs) x.close();
    for (const x of pubs) x.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    args: process.argv.slice(2),
    options: {
      ...COMMON_OPTIONS,
      ...WAIT_QUIET_OPTION,
      ...stringOptions({ participants: '30', seconds: '20', warmup: '6', turn: '3', 'last-n': '4', 'loudest-k': '3' }),
    },
  });
  const smoke = v.smoke === true;
  const o = {
    participants: smoke ? 8 : num('participants', v.participants, 2, true),
    seconds: smoke ? 5 : num('seconds', v.seconds, 1),
    warmup: smoke ? 3 : num('warmup', v.warmup, 0),
    turn: num('turn', v.turn, 0.5),
    waitQuiet: smoke ? 2 : num('wait-quiet', v['wait-quiet'], 0),
  };
  const lastN = num('last-n', v['last-n'], 0, true);
  const loudestK = num('loudest-k', v['loudest-k'], 0, true);
  const started = new Date();
  const off = await run('last-N and loudest-K off', ['--last-n-min-participants', '0', '--loudest-k', '0'], o);
  const on = await run(`last-N ${lastN}, loudest-K ${loudestK}`, ['--last-n', String(lastN), '--last-n-min-participants', '1', '--loudest-k', String(loudestK)], o);
  const rows = [off, on].map((r) => [r.name, r.participants, fixed(r.egressPps, 0), fixed(r.sfudCpuPct), fixed(r.cpuSecondsPerParticipantMinute, 3), r.joinFailures]);
  console.log(markdownTable(['sfud', 'participants', 'egress pkt/s', 'sfud CPU %', 'CPU-s per participant-minute', 'join failures'], rows));
  console.log(
    `\non/off: egress ${fixed(on.egressPps / Math.max(1, off.egressPps), 3)}x, CPU per participant-minute ${fixed(on.cpuSecondsPerParticipantMinute / Math.max(1e-9, off.cpuSecondsPerParticipantMinute), 3)}x`,
  );
  const out = outputOf(v);
  if (out.json) console.log(`\n${writeResults('meeting-policy', started, { options: { ...o, lastN, loudestK }, runs: [off, on] }, out.out)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
