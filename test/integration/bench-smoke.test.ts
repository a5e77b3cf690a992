// A CI-safe smoke of the side-by-side bench runner (bench/run.ts): one tiny
// fan-out step against the built sfud daemon and against the naive werift
// SFU baseline, in the host network namespace, results written to a
// temporary directory. No timing is asserted: only that packets went through
// and the JSON, Markdown and SVG came out. Janus is never part of the tests.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultOptions, ROOT, runBench } from '../../bench/run.js';
import type { BenchReport } from '../../bench/report/types.js';

const built = existsSync(join(ROOT, 'dist/bin/sfud.js')) && existsSync(join(ROOT, 'dist/bench/servers/werift-naive.js'));

t.test('one fan-out step on sfud and werift-naive: packets forwarded, files written', { skip: built ? false : 'run `npm run build` first' }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'sfud-bench-smoke-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const { report, markdown, files } = await runBench({
    ...defaultOptions(false),
    servers: ['sfud', 'werift-naive'],
    scenarios: ['fanout'],
    fanoutSteps: [3],
    seconds: 1.5,
    warmup: 0.5,
    waitQuiet: 0,
    retries: 0,
    budget: 60,
    joinTimeoutMs: 15_000,
    outDir: out,
    netns: false,
  });
  t.equal(report.runs.length, 2);
  for (const run of report.runs) {
    t.notOk(run.error, `${run.server} ran${run.error ? `: ${run.error}` : ""}`);
    t.equal(run.steps.length, 1, `${run.server} measured its step`);
    const r = run.steps[0]!;
    t.equal(r.n, 3);
    t.ok(r.forwardedPps > 0, `${run.server} forwarded packets`);
    t.ok(r.publishedPps > 0, 'the publisher is counted (the deficit needs it)');
    t.ok(r.deficitPct < 100);
    t.ok(r.serverUsPerPacket > 0, `${run.server} CPU per packet measured`);
    t.equal(r.sinksWithoutMedia, 0);
    t.equal(r.srtpProfile, 'AEAD_AES_128_GCM');
    t.equal(r.windows, 1);
  }
  t.match(markdown, /\| 3( †)? \| sfud \| \d+ \|/);
  t.match(markdown, /\| 3( †)? \| werift-naive \| \d+ \|/);
  t.match(markdown, /werift-naive ÷ sfud, CPU per forwarded packet: [\d.]+× \(3\)/);
  t.equal(files.length, 3, 'JSON, Markdown, one SVG');
  const json = files.find((f) => f.endsWith('.json'))!;
  const parsed = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
  t.equal(parsed.runs[0]!.steps[0]!.n, 3);
  t.ok(parsed.machine.nproc > 0);
  t.equal(readFileSync(files.find((f) => f.endsWith('.md'))!, 'utf8'), markdown);
  t.match(readFileSync(files.find((f) => f.endsWith('-fanout.svg'))!, 'utf8'), /<polyline|<circle/);
});

t.test('simulcast against single-layer fan-out on sfud: the top layer reaches everyone, priced per packet', { skip: built ? false : 'run `npm run build` first' }, async (t) => {
  const { report, markdown } = await runBench({
    ...defaultOptions(false),
    servers: ['sfud'],
    scenarios: ['fanout', 'simulcast'],
    fanoutSteps: [3],
    seconds: 2,
    warmup: 1.5,
    waitQuiet: 0,
    retries: 0,
    budget: 60,
    joinTimeoutMs: 15_000,
    write: false,
    netns: false,
  });
  const single = report.runs.find((r) => r.scenario === 'fanout')!;
  const simulcast = report.runs.find((r) => r.scenario === 'simulcast')!;
  t.notOk(simulcast.error, 'the simulcast run ran');
  const a = single.steps[0]!;
  const b = simulcast.steps[0]!;
  t.equal(b.sinksWithoutMedia, 0, 'every subscriber got video');
  // Subscribers receive one layer: the top one (what `published` counts), not all three.
  t.ok(b.deficitPct < 20, `simulcast subscribers get the top layer (deficit ${b.deficitPct.toFixed(1)}%)`);
  t.ok(b.forwardedPps < a.forwardedPps * 1.5, `one layer forwarded, not three (${Math.round(b.forwardedPps)} vs ${Math.round(a.forwardedPps)} pkt/s)`);
  t.equal(b.lossPct, 0, 'no loss counted across layer switches');
  t.match(markdown, /sfud, simulcast ÷ fanout in this run, CPU per forwarded packet: [\d.]+× \(3\)/);
});
