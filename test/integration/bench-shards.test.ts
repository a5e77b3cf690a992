// A smoke of the shards bench (bench/shards.ts) and its load-generator
// process (bench/loadgen/child.ts driven by remote.ts): one tiny step per
// shard count against the built daemon. No timing is asserted: only that
// the forked load generator joined, received without loss, sampled latency
// from decrypted packets, had its CPU read, and that 2 shards got a room each.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultShardsOptions, renderShards, runShardsBench } from '../../bench/shards.js';
import { ROOT } from '../../bench/support/servers.js';

const built = existsSync(join(ROOT, 'dist/bin/sfud.js'));

t.test('one small step with 1 and 2 shards, load generator in a child process', { skip: built ? false : 'run `npm run build` first', timeout: 120_000 }, async (t) => {
  const { report, markdown, files } = await runShardsBench(
    { ...defaultShardsOptions(), n: [3], seconds: 1.5, warmup: 1, waitQuiet: 0, retries: 0, latencySample: 4, joinTimeoutMs: 15_000, write: false },
    'test',
  );
  t.same(files, [], 'nothing written with write: false');
  t.equal(report.runs.length, 2);
  for (const run of report.runs) {
    t.equal(run.steps.length, 1, `${run.shards} shard(s): one step (${run.notes.join('; ')})`);
    const s = run.steps[0]!;
    t.equal(s.subscribers, 6, 'two rooms of three');
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
