/**
 * Scenario (b), meeting: M participants, every one publishing Opus + VP8-
 * shaped video and receiving everyone else, audio levels following a talk
 * schedule (talk.ts). M is swept upward in one room: each step adds
 * participants, waits until every participant receives video from all the
 * others, then measures a window (M x (M - 1) forwarded streams).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Histogram } from '../loadgen/histogram.js';
import { rssBytes } from '../loadgen/proc.js';
import { overServerPids, type BenchClient, type RunningServer } from '../servers/types.js';
import { joinMany, measureStep, settleAll } from './measure.js';
import { talkLevel } from './talk.js';
import type { ScenarioOptions, ScenarioRun, ScenarioSpec } from './types.js';

const TALK_TICK_MS = 100;

export const meetingScenario: ScenarioSpec = {
  name: 'meeting',
  title: 'Scenario (b), meeting: M participants, each publishing Opus + 1 Mbps VP8-shaped video and receiving all others, with a talk schedule',
  unit: 'participants',
  defaults: {
    quick: [6],
    full: [4, 6, 8, 10, 12],
    quickServers: ['sfud', 'janus'],
  },
  async run(server: RunningServer, o: ScenarioOptions): Promise<ScenarioRun> {
    const latency = new Histogram();
    const members: BenchClient[] = [];
    const run: ScenarioRun = { steps: [], notes: [] };
    const rssBase = overServerPids(server, rssBytes);
    const t0 = performance.now();
    const talk = setInterval(() => {
      const t = performance.now() - t0;
      members.forEach((c, i) => {
        if (c.source) c.source.audioLevel = talkLevel(i, members.length, t);
      });
    }, TALK_TICK_MS);
    try {
      for (const m of o.steps) {
        const add = m - members.length;
        if (add <= 0) continue;
        if (performance.now() + (o.warmup + o.seconds + 3) * 1000 + add * 500 > o.deadline) {
          run.notes.push(`stopped before ${m}: the run's time budget is spent`);
          break;
        }
        o.log(`${server.name} meeting M=${m}: joining ${add} participants`);
        const base = members.length;
        // A few at a time: every join renegotiates every other participant's subscription.
        const j = await joinMany(add, Math.min(o.joinConcurrency, 3), async (i) => {
          const c = await server.join({
            room: 'meeting',
            uid: `p-${base + i}`,
            cert: o.cert,
            publish: { videoKbps: o.videoKbps, fps: o.fps, keyframeIntervalS: o.keyframeInterval },
            subscribe: { latency, recvBufferBytes: o.recvBuf, timeoutMs: o.joinTimeoutMs, videoStreams: m - 1, decrypt: (base + i) % o.decryptEvery === 0 },
            timeoutMs: o.joinTimeoutMs,
          });
          c.source!.start();
          return c;
        });
        members.push(...j.joined);
        const target = members.length - 1;
        const video = await settleAll(members.map((c) => c.sink!.waitVideoStreams(target, o.joinTimeoutMs)));
        const lacking = members.filter((c) => c.sink!.videoStreams < target).slice(0, 3);
        const trouble =
          j.failed > 0 || video.failed > 0
            ? `M=${m}: ${j.failed} joins failed, ${video.failed} participants lack video from some others (${[...j.errors, ...lacking.map((c) => c.describe())].join('; ')})`
            : undefined;
        const copies = Math.max(1, target);
        const input = { label: 'M', trouble, clients: members, sources: members.map((c) => c.source!), newcomers: j.joined, failedJoins: j.failed, noVideo: video.failed, copies, latency, rssBase };
        if (await measureStep(server, o, input, run)) break;
      }
      let kf = 0;
      let pli = 0;
      for (const c of members) {
        kf += c.source!.stats.keyframes;
        pli += c.source!.stats.keyframeRequests;
      }
      run.notes.push(`publishers: ${kf} keyframes sent, ${pli} PLI/FIR received in total`);
    } finally {
      clearInterval(talk);
      for (const c of members) c.close();
      await sleep(200);
    }
    return run;
  },
};
