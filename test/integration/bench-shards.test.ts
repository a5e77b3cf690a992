// A smoke of the shards bench (bench/shards.ts) and its load-generator
// process (bench/loadgen/child.ts driven by remote.ts): one tiny step per
// shard count against the built daemon. No timing is asserted: only that
// the forked load generator joined, received without loss, sampled latency
// from decrypted packets, had its CPU read, and that 2 shards got a room each.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoadgenProcess } from '../../bench/loadgen/remote.js';
import { defaultShardsOptions, renderShards, runShardsBench } from '../../bench/shards.js';
import { ROOT, startSfud } from '../../bench/support/servers.js';

const built = existsSync(join(ROOT, 'dist/bin/sfud.js'));
// Two daemons and three forked load generators on a shared 2-core machine: more than tap's 30 s default.
t.setTimeout(240_000);

t.test('one small step with 1 and 2 shards, load generator in a child process', { skip: built ? false : 'run `npm run build` first', timeout: 120_000 }, async (t) => {
  const { report, markdown, files } = await runShardsBench(
    { ...defaultShardsOptions(), n: [2], seconds: 1, warmup: 1, waitQuiet: 0, retries: 0, refine: false, latencySample: 4, joinTimeoutMs: 15_000, write: false },
    'test',
  );
  t.same(files, [], 'nothing written with write: false');
  t.equal(report.runs.length, 2);
  for (const run of report.runs) {
    t.equal(run.steps.length, 1, `${run.shards} shard(s): one step (${run.notes.join('; ')})`);
    const s = run.steps[0]!;
    t.equal(s.subscribers, 4, 'two rooms of two');
    t.equal(s.joinFailures, 0);
    t.ok(s.forwardedPps > 0, 'packets reached the sinks in the child');
    t.ok(s.offeredPps > 0, 'the publishers in the child are counted');
    t.ok(s.lossPct < 5, `header-only accounting counts what arrives (loss ${s.lossPct.toFixed(2)}%)`);
    t.ok(s.latencyMs.samples > 0, 'some packets were decrypted for their stamp');
    t.ok(s.loadgenCores > 0, 'the load generator CPU was read from /proc');
    t.ok(s.sfudCores > 0);
    t.equal(run.best, s.carried ? s : undefined);
  }
  t.match(report.runs[1]!.placement, /shard="0"} 1 .*shard="1"} 1/, 'with 2 shards each room has its own');
  t.equal(markdown, renderShards(report));
  t.match(markdown, /### 2 shards/);
});

t.test('the load-generator process: publish, subscribe, sample, drop, close', { skip: built ? false : 'run `npm run build` first', timeout: 60_000 }, async (t) => {
  const d = await startSfud();
  t.teardown(() => d.stop());
  const lg = await LoadgenProcess.start();
  t.teardown(() => lg.close());
  const pub = await lg.call({ op: 'publish', url: d.wsUrl, sid: 'r', uid: 'p', videoKbps: 300, fps: 30, keyframeIntervalS: 2, timeoutMs: 15_000 });
  t.ok(pub.port > 0);
  const sub = await lg.call({ op: 'subscribe', url: d.wsUrl, sid: 'r', count: 2, latencySample: 1, concurrency: 2, timeoutMs: 15_000 });
  t.same(sub, { joined: 2, failed: 0, noVideo: 0, errors: [] });
  await sleep(1000);
  const a = await lg.call({ op: 'sample', reset: true });
  t.equal(a.rooms.length, 1);
  const room = a.rooms[0]!;
  t.equal(room.subscribers, 2);
  t.ok(room.received > 0 && room.published > 0, 'media went from the publisher through sfud to the sinks');
  t.ok(a.latency.count > 0, 'latencySample 1 decrypts every packet for its stamp');
  t.ok(a.ports.length >= 5, 'publisher and subscriber sockets listed');
  t.ok(lg.cpuSeconds() > 0, 'CPU read from /proc');
  const b = await lg.call({ op: 'sample', reset: false });
  t.ok(b.latency.count < a.latency.count, 'reset starts a new latency window');
  t.same(await lg.call({ op: 'drop', sid: 'r', count: 1 }), { left: 1 });
  t.equal((await lg.call({ op: 'sample', reset: false })).rooms[0]!.subscribers, 1);
  await t.rejects(lg.call({ op: 'publish', url: d.wsUrl, sid: 'r', uid: 'p2', videoKbps: 300, fps: 30, keyframeIntervalS: 2, timeoutMs: 15_000 }), /has a publisher here already/);
  await lg.close();
  await t.rejects(lg.call({ op: 'sample', reset: false }), /exited/, 'closed: calls fail instead of hanging');
});
