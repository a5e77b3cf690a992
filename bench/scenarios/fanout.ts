/**
 * Scenario (a), fan-out: one publisher (Opus + VP8-shaped video) to N
 * subscribers, N swept upward on one server and one room: each step adds
 * subscribers, waits until every one receives video, lets things settle, then
 * measures a window. The sweep stops when loss exceeds the limit.
 *
 * The simulcast variant is the same with a publisher sending three layers
 * (SSRC simulcast, 1/10, 3/10 and all of the bitrate): subscribers get the
 * top layer, so it prices what simulcast adds per forwarded packet (three
 * layers received and decrypted, the layer selector and the rewrite on every
 * packet) against the plain fan-out in the same run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Histogram } from '../loadgen/histogram.js';
import { rssBytes } from '../loadgen/proc.js';
import { overServerPids, type BenchClient, type RunningServer } from '../servers/types.js';
import { joinMany, measureStep, settleAll } from './measure.js';
import type { ScenarioOptions, ScenarioRun, ScenarioSpec } from './types.js';

/** A rough upper bound of one step's duration, to respect the run's time budget. */
function stepEstimateMs(o: ScenarioOptions, add: number): number {
  return (o.warmup + o.seconds + 2) * 1000 + add * 150;
}

async function runFanout(server: RunningServer, o: ScenarioOptions, simulcast: boolean): Promise<ScenarioRun> {
  const latency = new Histogram();
  const subs: BenchClient[] = [];
  const run: ScenarioRun = { steps: [], notes: [] };
  let pub: BenchClient | undefined;
  try {
    pub = await server.join({
      room: 'fanout',
      uid: 'publisher',
      cert: o.cert,
      publish: { videoKbps: o.videoKbps, fps: o.fps, keyframeIntervalS: o.keyframeInterval, simulcast },
      timeoutMs: o.joinTimeoutMs,
    });
    const source = pub.source!;
    source.start();
    await sleep(1000);
    const rssBase = overServerPids(server, rssBytes);

    for (const n of o.steps) {
      const add = n - subs.length;
      if (add <= 0) continue;
      if (performance.now() + stepEstimateMs(o, add) > o.deadline) {
        run.notes.push(`stopped before ${n}: the run's time budget is spent`);
        break;
      }
      o.log(`${server.name} ${simulcast ? 'simulcast' : 'fanout'} N=${n}: joining ${add} subscribers`);
      const base = subs.length;
      const j = await joinMany(add, o.joinConcurrency, (i) =>
        server.join({
          room: 'fanout',
          uid: `sub-${base + i}`,
          cert: o.cert,
          subscribe: { latency, recvBufferBytes: o.recvBuf, timeoutMs: o.joinTimeoutMs, decrypt: (base + i) % o.decryptEvery === 0 },
          connectPublisherPc: o.pubPc,
          timeoutMs: o.joinTimeoutMs,
        }),
      );
      subs.push(...j.joined);
      const ready = await settleAll(j.joined.map((c) => c.sink!.ready));
      const trouble =
        j.failed > 0 || ready.failed > 0
          ? `N=${n}: ${j.failed} joins failed, ${ready.failed} subscribers got no video (${[...j.errors, ...ready.errors].join('; ')})`
          : undefined;
      const input = { label: 'N', trouble, clients: subs, sources: [source], newcomers: j.joined, failedJoins: j.failed, noVideo: ready.failed, copies: subs.length, latency, rssBase };
      if (await measureStep(server, o, input, run)) break;
    }
    const ps = source.stats;
    run.notes.push(
      `publisher: ${ps.videoFrames} frames, ${ps.keyframes} keyframes, ${ps.keyframeRequests} PLI/FIR received, ${ps.nacks} NACKs, ${ps.twccFeedback} TWCC feedback, ${ps.receiverReports} RRs`,
    );
  } finally {
    for (const s of subs) s.close();
    pub?.close();
    await sleep(200);
  }
  return run;
}

export const fanoutScenario: ScenarioSpec = {
  name: 'fanout',
  title: 'Scenario (a), fan-out: 1 publisher (Opus + 1 Mbps VP8-shaped video, 30 fps) to N subscribers',
  unit: 'subscribers',
  defaults: {
    quick: [10, 25, 50, 100],
    full: [10, 25, 50, 100, 150, 200, 300],
    perServer: {
      // The naive baseline saturates a core early; do not spend the budget joining clients it cannot serve.
      'werift-naive': { quick: [10, 25, 50], full: [5, 10, 25, 50, 100] },
      // The tuned Janus variant and mediasoup: two points in the quick run, to keep it under 5 minutes.
      'janus-2loops': { quick: [25, 100] },
      mediasoup: { quick: [25, 100] },
    },
  },
  run: (server, o) => runFanout(server, o, false),
};

export const simulcastFanoutScenario: ScenarioSpec = {
  name: 'simulcast',
  title: 'Fan-out with simulcast: 1 publisher (Opus + VP8-shaped video in 3 SSRC simulcast layers, 0.1 / 0.3 / 1 Mbps, 30 fps) to N subscribers on the top layer',
  unit: 'subscribers',
  baseline: 'fanout',
  defaults: {
    quick: [25, 100],
    full: [10, 25, 50, 100, 150, 200, 300],
    // Simulcast's price is sfud's own question; Janus takes the same publisher in the full run.
    quickServers: ['sfud'],
  },
  run: (server, o) => runFanout(server, o, true),
};
