// The side-by-side bench's pure pieces: the hand-written SVG chart, the
// Markdown report (rows grouped by N, ratios to sfud, largest N held), the
// talk schedule of the meeting scenario, the plan of steps per server, and
// the command line recorded in results.
import t from 'tap';
import { escapeXml, formatTick, lineChartSvg, yTicks } from '../../bench/report/svg.js';
import { chartFor, largestHeld, ratios, renderMarkdown } from '../../bench/report/markdown.js';
import type { BenchReport } from '../../bench/report/types.js';
import type { StepResult } from '../../bench/scenarios/types.js';
import { talkLevel, TALK } from '../../bench/scenarios/talk.js';
import { commandLine, defaultOptions, minimalRunMs, parseArgs, plannedSteps } from '../../bench/run.js';
import { fanoutScenario } from '../../bench/scenarios/fanout.js';
import { meetingScenario } from '../../bench/scenarios/meeting.js';
import { parseBandwidthEvents } from '../../bench/servers/sfud.js';

function step(n: number, us: number, p99: number, loss = 0): StepResult {
  return {
    n,
    seconds: 5,
    publishedPps: 174,
    forwardedPps: 174 * n,
    forwardedMbps: n,
    lossPct: loss,
    deficitPct: 0,
    serverCpuPct: 10,
    serverUsPerPacket: us,
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, max: p99 * 2, mean: p99 / 3 },
    serverRssMB: 80,
    rssPerClientKB: 300,
    joinMs: {
      firstPacketP50: 1,
      firstPacketP99: 2,
      firstVideoP50: 3,
      firstVideoP99: 4,
      firstKeyframeP50: 100,
      firstKeyframeP99: 200,
      allVideoP50: 300,
      allVideoP99: 400,
      joined: n,
      failed: 0,
    },
    loadgenCpuPct: 20,
    otherCpuPct: 3,
    udpDrops: { server: 0, loadgen: 0 },
    sinksWithoutMedia: 0,
    loadgenEventLoopDelayMs: { p50: 1, p99: 2, max: 3 },
    udpRxQueueKB: { serverMean: 0, serverMax: 0, loadgenMean: 0, loadgenMax: 0 },
    srtpProfile: 'AEAD_AES_128_GCM',
    windows: 1,
  };
}

function report(): BenchReport {
  return {
    started: '2026-11-22T03:00:00Z',
    durationS: 200,
    command: 'npm run bench',
    machine: { nproc: 2, cpuModel: 'AMD EPYC <test> & co', memGB: 23, node: 'v20.20.2', kernel: '6.18', platform: 'linux' },
    netns: true,
    options: { maxLoss: 1 },
    scenarios: [
      { name: 'fanout', title: fanoutScenario.title, unit: 'subscribers' },
      { name: 'meeting', title: meetingScenario.title, unit: 'participants' },
    ],
    servers: [
      { name: 'sfud', describe: 'x', available: true },
      { name: 'janus', describe: 'y', available: true },
      { name: 'mediasoup', describe: 'z', available: false, reason: 'not built', hint: 'build it' },
    ],
    runs: [
      { scenario: 'fanout', server: 'sfud', planned: [10, 25], steps: [step(10, 40, 8), step(25, 30, 12)], notes: ['publisher: fine'] },
      { scenario: 'fanout', server: 'janus', planned: [10, 25], steps: [step(10, 8, 2), step(25, 6, 3, 2.5)], notes: [] },
      { scenario: 'meeting', server: 'sfud', planned: [6], steps: [step(6, 50, 20)], notes: [] },
      { scenario: 'meeting', server: 'janus', planned: [6], steps: [], notes: [], error: 'connect: no ICE' },
    ],
    notes: ['a run note'],
  };
}

t.test('ratios and the largest N held', async (t) => {
  const r = report();
  const [sfud, janus] = [r.runs[0]!.steps, r.runs[1]!.steps];
  t.same(ratios(sfud, janus, (x) => x.serverUsPerPacket), [
    { n: 10, ratio: 0.2 },
    { n: 25, ratio: 0.2 },
  ]);
  t.same(ratios(sfud, [janus[0]!], (x) => x.latencyMs.p99), [{ n: 10, ratio: 0.25 }], 'only common N');
  t.equal(largestHeld(janus, 1), 10, '2.5% loss at 25 does not count');
  t.equal(largestHeld([], 1), 0);
  t.equal(largestHeld([step(10, 1, 1), { ...step(25, 1, 1), deficitPct: 30 }], 1), 10, 'a server that fell behind did not hold');
});

t.test('the Markdown report puts servers side by side per N', async (t) => {
  const md = renderMarkdown(report());
  const lines = md.split('\n');
  const rows = lines.filter((l) => /^\| \d+ \| /.test(l));
  t.same(
    rows.map((l) => l.split('|').slice(1, 3).map((c) => c.trim()).join(' ')),
    ['10 sfud', '10 janus', '25 sfud', '25 janus', '6 sfud'],
    'grouped by N, servers in run order',
  );
  t.match(md, /\| 10 \| sfud \| 1740 \| 0\.00 \/ 0\.0 \| 10\.0 \| 40\.0 \| 2\.00 \/ 8\.00 \/ 16\.0 \| 300 \| 100 \/ 200 \|/);
  t.match(md, /\| 6 \| sfud \| .* \| 300 \/ 400 \|/, 'a meeting reports join to video from everyone');
  t.match(md, /janus ÷ sfud, CPU per forwarded packet: 0\.20× \(10\), 0\.20× \(25\); p99 latency: 0\.25× \(10\), 0\.25× \(25\)/);
  t.match(md, /Largest N with loss ≤ 1% and deficit ≤ 2% \(forwarded packets\/s there\): sfud 25 \(4350 pkt\/s\), janus 10 \(1740 pkt\/s\)\./);
  t.match(md, /- janus: connect: no ICE/);
  t.match(md, /- mediasoup skipped: not built \(`build it`\)/);
  t.match(md, /Command: `npm run bench` \(200 s\)\. Machine: 2 CPUs \(AMD EPYC <test> & co\)/);
  t.match(md, /- a run note/);
  t.notMatch(md, /†/, 'a quiet machine: no row marked');
  const busy = report();
  busy.runs[1]!.steps[0]!.otherCpuPct = 80;
  busy.runs[1]!.steps[1]!.udpDrops.loadgen = 42;
  const marked = renderMarkdown(busy);
  t.match(marked, /\| 10 † \| janus \|/, 'a disturbed window is marked');
  t.match(marked, /† other processes used more than 25% of a core/);
  t.match(marked, /- janus at 25: the load generator's own sockets dropped 42 datagrams/);
  t.notMatch(marked, /bandwidth estimates acted/, 'no server events reported: no line');
  // Loss while sfud's estimates paused or stopped video: the report says so.
  const paused = report();
  const s0 = paused.runs[0]!.steps[0]!;
  s0.lossPct = 3;
  s0.bandwidthEvents = { congestionStops: 2, pacerDropped: 0, limitedSubscribers: 4, videoWithoutLayer: 1 };
  paused.runs[0]!.steps[1]!.bandwidthEvents = { congestionStops: 0, pacerDropped: 0, limitedSubscribers: 0, videoWithoutLayer: 0 };
  const md2 = renderMarkdown(paused);
  t.match(md2, /- sfud at 10: its bandwidth estimates acted in the window \(2 congestion stops, 0 pacer drops; at its end 4 subscribers limited, 1 video tracks without a layer\)/);
  t.notMatch(md2, /sfud at 25: its bandwidth/, 'nothing acted: no line');
});

t.test('sfud\'s bandwidth decisions are read from its Prometheus text', async (t) => {
  const text = [
    '# HELP sfud_layer_changes_total Video layer events',
    '# TYPE sfud_layer_changes_total counter',
    'sfud_layer_changes_total{event="switch"} 7',
    'sfud_layer_changes_total{event="congestion_stop"} 3',
    'sfud_pacer_packets_total{what="paced"} 1000',
    'sfud_pacer_packets_total{what="dropped"} 12',
    'sfud_downlink_subscribers{state="estimated"} 25',
    'sfud_downlink_subscribers{state="limited"} 5',
    'sfud_consumer_layers{layer="none"} 2',
    '',
  ].join('\n');
  t.same(parseBandwidthEvents(text), { congestionStops: 3, pacerDropped: 12, limitedSubscribers: 5, videoWithoutLayer: 2 });
  t.same(parseBandwidthEvents('sfud_layer_changes_total{event="congestion_stop"} 4'), { congestionStops: 4, pacerDropped: 0, limitedSubscribers: 0, videoWithoutLayer: 0 }, 'the first line, the last line, absent series');
});

t.test('the SVG chart: one polyline per server per panel, escaped text, finite coordinates', async (t) => {
  const chart = chartFor(report(), report().scenarios[0]!)!;
  t.equal(chart.panels.length, 2);
  const svg = lineChartSvg(chart);
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.equal((svg.match(/<polyline /g) ?? []).length, 4, '2 servers x 2 panels');
  t.equal((svg.match(/<circle /g) ?? []).length, 8);
  t.match(svg, /AMD EPYC &lt;test&gt; &amp; co/);
  t.notMatch(svg, /NaN|Infinity|undefined/);
  for (const m of svg.matchAll(/points="([^"]+)"/g)) {
    for (const xy of m[1]!.split(' ')) t.ok(xy.split(',').every((v) => Number.isFinite(Number(v))), xy);
  }
  // Every opened element is closed (a cheap well-formedness check without an XML parser).
  for (const tag of ['svg', 'g', 'text', 'polyline', 'circle', 'title']) {
    const open = (svg.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length;
    const close = (svg.match(new RegExp(`</${tag}>`, 'g')) ?? []).length;
    t.equal(open, close, `<${tag}> balanced`);
  }
  t.equal(chartFor({ ...report(), runs: [] }, report().scenarios[0]!), undefined, 'nothing to draw');
  const one = lineChartSvg({ title: 't', xLabel: 'N', panels: [{ title: 'p', yLabel: 'y', log: false, series: [{ name: 'a', points: [{ x: 5, y: 3 }] }] }] });
  t.equal((one.match(/<polyline /g) ?? []).length, 0, 'a single point draws a marker, not a line');
  t.equal((one.match(/<circle /g) ?? []).length, 1);
});

t.test('axis ticks and labels', async (t) => {
  t.same(yTicks(3, 80, true), { lo: 1, hi: 100, ticks: [1, 2, 5, 10, 20, 50, 100] });
  t.same(yTicks(0.5, 3000, true).ticks, [0.1, 1, 10, 100, 1000, 10000], 'many decades: decades only');
  t.same(yTicks(0, 37, false), { lo: 0, hi: 40, ticks: [0, 10, 20, 30, 40] });
  t.equal(formatTick(1500), '1.5k');
  t.equal(formatTick(0.05), '0.05');
  t.equal(formatTick(25), '25');
  t.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
});

t.test('talk schedule: one speaker per turn, round robin, a short overlap', async (t) => {
  const m = 4;
  for (let tMs = 0; tMs < 4 * 3000 * 2; tMs += 250) {
    const levels = Array.from({ length: m }, (_, i) => talkLevel(i, m, tMs));
    t.equal(levels.filter((l) => l === TALK.speaker).length, 1, `one speaker at ${tMs} ms`);
    t.ok(levels.filter((l) => l === TALK.chiming).length <= 1);
  }
  t.equal(talkLevel(0, m, 0), TALK.speaker);
  t.equal(talkLevel(1, m, 100), TALK.chiming, 'the next one chimes in at the start of a turn');
  t.equal(talkLevel(1, m, 1000), TALK.background);
  t.equal(talkLevel(1, m, 3000), TALK.speaker, 'turns rotate');
  t.equal(talkLevel(0, m, 4 * 3000), TALK.speaker, 'and wrap');
  t.equal(talkLevel(0, 1, 500), TALK.speaker, 'alone: always the speaker');
  t.equal(talkLevel(0, 0, 500), TALK.background);
});

t.test('planned steps: quick and full defaults, per-server caps, explicit lists win', async (t) => {
  const quick = defaultOptions(false);
  t.same(plannedSteps(fanoutScenario, 'sfud', quick, false), [10, 25, 50, 100]);
  t.same(plannedSteps(fanoutScenario, 'werift-naive', quick, false), [10, 25, 50]);
  t.same(plannedSteps(fanoutScenario, 'janus-2loops', quick, false), [25, 100]);
  t.same(plannedSteps(meetingScenario, 'janus', quick, false), [6]);
  t.equal(plannedSteps(meetingScenario, 'werift-naive', quick, false), undefined, 'the quick run leaves werift out of meetings');
  t.same(plannedSteps(meetingScenario, 'werift-naive', quick, true), [6], 'unless asked for by name');
  const full = defaultOptions(true);
  t.same(plannedSteps(meetingScenario, 'werift-naive', full, false), [4, 6, 8, 10, 12]);
  t.same(plannedSteps(fanoutScenario, 'janus', full, false), [10, 25, 50, 100, 150, 200, 300]);
  const o = parseArgs(['--n', '25,5', '--m', '3', '--seconds', '1.5', '--servers', 'sfud', '--no-write']);
  t.same(plannedSteps(fanoutScenario, 'werift-naive', o, true), [5, 25]);
  t.same(plannedSteps(meetingScenario, 'sfud', o, true), [3]);
  t.equal(o.seconds, 1.5);
  t.equal(o.write, false);
  t.same(o.servers, ['sfud']);
  t.equal(parseArgs(['--full']).seconds, 10);
  t.equal(parseArgs(['--full']).retries, 2);
  t.equal(parseArgs([]).retries, 0);
  t.equal(parseArgs(['--retries', '3']).retries, 3);
  t.throws(() => parseArgs(['--n', 'x']), /positive integers/);
  t.throws(() => parseArgs(['--bogus']), /unknown option/);
});

t.test('the time a run reserves for itself in the quick budget', async (t) => {
  const quick = defaultOptions(false);
  // start 3 s + 4 steps x (2 warmup + 3 quiet + 5 window + 2) + 100 joins x 0.15 s
  t.equal(minimalRunMs([10, 25, 50, 100], quick), 3000 + 4 * 12_000 + 15_000);
  const plan = [fanoutScenario, meetingScenario].flatMap((s) => ['sfud', 'janus', 'janus-2loops', 'werift-naive'].map((sv) => plannedSteps(s, sv, quick, false)));
  t.equal(plan.filter((st) => st !== undefined).length, 6, 'fan-out on 4 servers, meeting on 2');
  const all = plan.reduce((ms: number, st) => ms + (st ? minimalRunMs(st, quick) : 0), 0);
  t.ok(all <= quick.budget * 1000, `the quick plan (${all / 1000} s) fits its budget (${quick.budget} s)`);
});

t.test('the recorded command line', async (t) => {
  t.equal(commandLine([], 'bench', 'npm run build && node dist/bench/run.js'), 'npm run bench');
  t.equal(commandLine(['--full'], 'bench:full', 'npm run build && node dist/bench/run.js --full'), 'npm run bench:full');
  t.equal(commandLine(['--n', '10'], 'bench', 'npm run build && node dist/bench/run.js'), 'npm run bench -- --n 10');
  t.equal(commandLine(['--n', '10'], undefined, undefined), 'node dist/bench/run.js --n 10');
});
