// Property-based fuzzing of the bandwidth estimation modules: no input
// sequence makes the estimate NaN or leave [min, max], nothing throws, the
// allocator stays within caps and budget, the probe controller never asks
// for a probe at or below the estimate.
import fc from 'fast-check';
import t from 'tap';
import { allocate, type AllocationTrack } from '../../src/bwe/allocator.js';
import { BandwidthEstimator, type PacketResult } from '../../src/bwe/estimator.js';
import { ProbeController } from '../../src/bwe/probe-controller.js';

const RUNS = { numRuns: 10000 };

/** Any number, weighted toward the nasty ones. */
const anyNum = fc.oneof(
  fc.double(),
  fc.integer({ min: -1000, max: 100_000 }),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -1, 0, -0, 1e308, -1e308, Number.MAX_SAFE_INTEGER),
);

const hostileResult: fc.Arbitrary<PacketResult> = fc.record({
  sendMs: anyNum,
  size: anyNum,
  arrivalMs: anyNum,
  probeCluster: fc.oneof(fc.constantFrom(-1, 0, 1, 2), anyNum),
});

type Op =
  | { k: 'fb'; dt: number; results: PacketResult[] }
  | { k: 'remb'; dt: number; bps: number }
  | { k: 'rr'; dt: number; lost: number; rtt: number | undefined }
  | { k: 'tick'; dt: number };

const dt = fc.oneof(fc.integer({ min: 0, max: 200 }), anyNum);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('fb' as const), dt, results: fc.array(hostileResult, { maxLength: 12 }) }),
  fc.record({ k: fc.constant('remb' as const), dt, bps: anyNum }),
  fc.record({ k: fc.constant('rr' as const), dt, lost: anyNum, rtt: fc.option(anyNum, { nil: undefined }) }),
  fc.record({ k: fc.constant('tick' as const), dt }),
);

/** Plausible feedback: send times near the clock, real sizes, arrivals with noise, loss, probes, repeats. */
const plausible = fc.array(
  fc.record({
    gap: fc.integer({ min: 0, max: 30 }),
    size: fc.integer({ min: 50, max: 1300 }),
    jitter: fc.integer({ min: -20, max: 200 }),
    lost: fc.boolean(),
    probe: fc.constantFrom(-1, -1, -1, 3, 4),
    repeat: fc.boolean(),
  }),
  { maxLength: 200 },
);

function checkInvariants(e: BandwidthEstimator): void {
  const v = e.estimateBps;
  if (!(v >= e.minBps && v <= e.maxBps)) throw new Error(`estimate ${v} outside [${e.minBps}, ${e.maxBps}]`);
  if (!(e.ackedBps >= 0 && Number.isFinite(e.ackedBps))) throw new Error(`acked ${e.ackedBps}`);
  if (!['normal', 'overusing', 'underusing'].includes(e.delaySignal)) throw new Error(`signal ${e.delaySignal}`);
  for (const [k, x] of Object.entries(e.stats())) {
    if (typeof x === 'number' && !Number.isFinite(x)) throw new Error(`stats.${k} = ${x}`);
  }
}

t.test('hostile operation sequences keep the estimate finite and in [min, max]', async (t) => {
  fc.assert(
    fc.property(
      fc.record({ startBps: anyNum, minBps: anyNum, maxBps: anyNum }),
      fc.array(op, { maxLength: 25 }),
      (opts, ops) => {
        const e = new BandwidthEstimator(opts);
        checkInvariants(e);
        let now = 0;
        for (const o of ops) {
          now = Number.isFinite(o.dt) ? now + o.dt : o.dt;
          switch (o.k) {
            case 'fb':
              e.onTransportFeedback(o.results, now);
              break;
            case 'remb':
              e.onRemb(o.bps, now);
              break;
            case 'rr':
              e.onReceiverReport(o.lost, o.rtt, now);
              break;
            case 'tick':
              e.tick(now);
              break;
          }
          checkInvariants(e);
        }
      },
    ),
    RUNS,
  );
  t.pass('10000 runs');
});

t.test('plausible feedback streams keep the invariants', async (t) => {
  fc.assert(
    fc.property(plausible, fc.integer({ min: 1, max: 10 }), (pkts, feedbacks) => {
      const e = new BandwidthEstimator({ startBps: 500_000 });
      let send = 1000;
      let prev: PacketResult[] = [];
      const per = Math.max(1, Math.ceil(pkts.length / feedbacks));
      for (let f = 0; f * per < pkts.length; f++) {
        const fb: PacketResult[] = [];
        for (const p of pkts.slice(f * per, (f + 1) * per)) {
          send += p.gap;
          fb.push({ sendMs: send, size: p.size, arrivalMs: p.lost ? -1 : 1e6 + send + p.jitter, probeCluster: p.probe });
          if (p.repeat && prev.length) fb.push(prev[prev.length - 1]!);
        }
        e.onTransportFeedback(fb, send + 50);
        checkInvariants(e);
        e.tick(send + 60);
        checkInvariants(e);
        prev = fb;
      }
    }),
    RUNS,
  );
  t.pass('10000 runs');
});

const option = fc.record({
  spatial: fc.integer({ min: -1, max: 3 }),
  temporal: fc.integer({ min: -1, max: 3 }),
  bps: fc.oneof(fc.integer({ min: 0, max: 3_000_000 }), anyNum),
});
const track: fc.Arbitrary<AllocationTrack> = fc.record({
  id: fc.string({ maxLength: 3 }),
  kind: fc.constantFrom('audio' as const, 'video' as const),
  priority: fc.oneof(fc.integer({ min: 0, max: 4 }), anyNum),
  options: fc.array(option, { maxLength: 5 }),
  maxSpatial: fc.integer({ min: -1, max: 3 }),
  maxTemporal: fc.integer({ min: -1, max: 3 }),
  bps: fc.option(fc.oneof(fc.integer({ min: 0, max: 100_000 }), anyNum), { nil: undefined }),
});

t.test('allocator: every track answered, within caps and budget, deterministic', async (t) => {
  fc.assert(
    fc.property(anyNum, fc.uniqueArray(track, { maxLength: 8, selector: (x) => x.id }), (available, tracks) => {
      const r = allocate(available, tracks);
      const again = allocate(available, tracks);
      if (JSON.stringify([...r.byId]) !== JSON.stringify([...again.byId]) || r.usedBps !== again.usedBps) {
        throw new Error('not deterministic');
      }
      if (r.byId.size !== tracks.length) throw new Error('a track without an answer');
      let audio = 0;
      for (const tr of tracks) {
        const a = r.byId.get(tr.id)!;
        if (tr.kind === 'audio') {
          const b = tr.bps ?? 0;
          if (b >= 0 && b !== Infinity) audio += b;
          continue;
        }
        if (a.spatial >= 0 && (a.spatial > tr.maxSpatial || a.temporal > tr.maxTemporal)) throw new Error('above caps');
        if ((a.spatial < 0) !== (a.temporal < 0)) throw new Error('half paused');
      }
      const budget = available > 0 && Number.isFinite(available) ? available : 0;
      if (r.usedBps - audio > Math.max(0, budget - audio) + 1e-6) throw new Error(`video over budget: ${r.usedBps}`);
      if (!Number.isFinite(r.usedBps) || !Number.isFinite(r.wantedBps)) throw new Error('non-finite totals');
      if (r.usedBps > r.wantedBps + 1e-6) throw new Error('used more than wanted');
    }),
    RUNS,
  );
  t.pass('10000 runs');
});

t.test('probe controller: any state sequence, every probe is above the estimate and finite', async (t) => {
  const state = fc.record({
    dt: fc.oneof(fc.integer({ min: 0, max: 3000 }), anyNum),
    estimateBps: fc.oneof(fc.integer({ min: 1, max: 10_000_000 }), anyNum),
    limited: fc.boolean(),
    wantedBps: fc.oneof(fc.integer({ min: 0, max: 20_000_000 }), anyNum),
    overusing: fc.boolean(),
    done: fc.option(anyNum, { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(state, { maxLength: 30 }), (states) => {
      const p = new ProbeController();
      let now = 0;
      for (const s of states) {
        now = Number.isFinite(s.dt) ? now + s.dt : s.dt;
        const d = p.decide({ nowMs: now, estimateBps: s.estimateBps, limited: s.limited, wantedBps: s.wantedBps, overusing: s.overusing });
        if (d) {
          if (!(d.targetBps > s.estimateBps * 0.999) || !Number.isFinite(d.targetBps)) throw new Error(`target ${d.targetBps} for ${s.estimateBps}`);
          if (d.durationMs !== 150) throw new Error('duration');
        }
        if (s.done !== undefined) p.onProbeDone(p.pendingCluster, s.done, now);
      }
    }),
    RUNS,
  );
  t.pass('10000 runs');
});
