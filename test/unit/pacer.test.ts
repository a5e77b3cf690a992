// The egress pacer on a hand-driven clock: what leaves at once, what waits,
// the rate it drains at, audio's bypass, transport-wide numbering at the
// moment a packet leaves, the queue's bounds, and close().
import t from 'tap';
import { Pacer, PacketFlag } from '../../src/bwe/pacer.js';
import { SendHistory } from '../../src/bwe/send-history.js';

interface Sent {
  at: number;
  len: number;
  tcc: number;
  first: number;
}

function rig(opts: { rateBps: number; refuse?: boolean }) {
  let now = 1000;
  const sent: Sent[] = [];
  const timers: (() => void)[] = [];
  const history = new SendHistory();
  const pacer = new Pacer(history, {
    now: () => now,
    schedule: (fn) => {
      timers.push(fn);
      return {};
    },
    cancel: () => {
      timers.length = 0;
    },
  });
  pacer.rateBps = opts.rateBps;
  const sink = {
    sendRtpOwned(buf: Buffer, len: number): boolean {
      sent.push({ at: now, len, tcc: buf.readUInt16BE(2), first: buf[0]! });
      return !opts.refuse;
    },
  };
  /** A packet of `len` bytes whose 2-byte transport-cc slot sits at offset 2; `tag` goes in byte 0. */
  const packet = (len: number, tag = 0): Buffer => {
    const b = Buffer.alloc(len);
    b[0] = tag;
    return b;
  };
  /** Advances the clock in 5 ms steps, firing the drain timer as it comes due. */
  const run = (ms: number): void => {
    for (let s = 0; s < ms; s += 5) {
      now += 5;
      const due = timers.splice(0);
      for (const fn of due) fn();
    }
  };
  return { pacer, sink, sent, packet, run, history, timers, advance: (ms: number) => (now += ms) };
}

t.test('unpaced (no estimate yet): everything leaves at once, numbered in order', async (t) => {
  const r = rig({ rateBps: 0 });
  for (let i = 0; i < 20; i++) t.equal(r.pacer.send(r.sink, r.packet(1200, i), 1200, 2), true);
  t.equal(r.sent.length, 20);
  t.same(
    r.sent.map((s) => s.tcc),
    Array.from({ length: 20 }, (_, i) => i + 1),
    'transport-wide numbers 1..20 in send order',
  );
  t.equal(r.pacer.queued, 0);
  t.equal(r.timers.length, 0, 'no timer while nothing waits');
});

t.test('a burst is spread at the pacing rate, in order, numbered as it leaves', async (t) => {
  // 960 kbps: 120 bytes per ms, one 1200-byte packet per 10 ms.
  const r = rig({ rateBps: 960_000 });
  r.advance(100);
  for (let i = 0; i < 30; i++) r.pacer.send(r.sink, r.packet(1200, i), 1200, 2);
  t.ok(r.sent.length <= 2, `the burst's head leaves at once (${r.sent.length}), the rest waits`);
  t.ok(r.pacer.queued >= 28);
  t.equal(r.pacer.queueMs, Math.round((r.pacer.queued * 1200 * 8000) / 960_000), 'queue time at the pacing rate');
  r.run(400);
  t.equal(r.sent.length, 30, 'all sent');
  t.same(
    r.sent.map((s) => s.first),
    Array.from({ length: 30 }, (_, i) => i),
    'FIFO order kept',
  );
  t.same(
    r.sent.map((s) => s.tcc),
    Array.from({ length: 30 }, (_, i) => i + 1),
    'numbers follow the order packets left in',
  );
  const span = r.sent.at(-1)!.at - r.sent[0]!.at;
  t.ok(span >= 250 && span <= 320, `30 x 1200 bytes at 960 kbps take ~290 ms (${span} ms)`);
  t.equal(r.timers.length, 0, 'the timer stops once the queue is empty');
  t.equal(r.pacer.stats.dropped, 0);
});

t.test('send times in the history are when packets left, not when they were queued', async (t) => {
  const r = rig({ rateBps: 960_000 });
  r.advance(100);
  const queuedAt = 1100;
  for (let i = 0; i < 10; i++) r.pacer.send(r.sink, r.packet(1200), 1200, 2);
  r.run(200);
  const results = r.history.toResults(
    { baseSeq: 1, referenceTime: 0, feedbackCount: 0, packets: Array.from({ length: 10 }, () => ({ status: 1, deltaUs: 1000 })) } as never,
    [],
  );
  t.equal(results.length, 10);
  t.equal(results[0]!.sendMs, queuedAt, 'the first left at once');
  t.ok(results[9]!.sendMs >= queuedAt + 80, `the tenth left ~90 ms later (${results[9]!.sendMs - queuedAt} ms)`);
});

t.test('audio is never queued, even behind a video backlog', async (t) => {
  const r = rig({ rateBps: 480_000 });
  r.advance(100);
  for (let i = 0; i < 20; i++) r.pacer.send(r.sink, r.packet(1200, 1), 1200, 2);
  const before = r.sent.length;
  r.pacer.send(r.sink, r.packet(100, 9), 100, 2, PacketFlag.Audio);
  t.equal(r.sent.length, before + 1, 'audio left at once');
  t.equal(r.sent.at(-1)!.first, 9);
});

t.test('a long queue drains within ~500 ms whatever the rate', async (t) => {
  // 100 kbps would take ~3.8 s for 40 x 1200 bytes; the pacer speeds up.
  const r = rig({ rateBps: 100_000 });
  r.advance(100);
  for (let i = 0; i < 40; i++) r.pacer.send(r.sink, r.packet(1200), 1200, 2);
  t.ok(r.pacer.queueMs > 3000);
  r.run(1000);
  t.equal(r.pacer.queued, 0, 'drained');
  const span = r.sent.at(-1)!.at - r.sent[0]!.at;
  t.ok(span < 1000, `drained in ${span} ms, not ~3800`);
});

t.test('the queue is bounded: the oldest are dropped and counted', async (t) => {
  const r = rig({ rateBps: 8_000 });
  r.advance(100);
  for (let i = 0; i < 2100; i++) r.pacer.send(r.sink, r.packet(100), 100, -1);
  t.ok(r.pacer.queued <= 2048);
  t.ok(r.pacer.stats.dropped >= 50, `${r.pacer.stats.dropped} dropped`);
  t.equal(r.pacer.stats.maxQueuePackets, 2048);
});

t.test('close() drops the queue and stops the timer; later sends are refused', async (t) => {
  const r = rig({ rateBps: 480_000 });
  r.advance(100);
  for (let i = 0; i < 10; i++) r.pacer.send(r.sink, r.packet(1200), 1200, 2);
  const sent = r.sent.length;
  r.pacer.close();
  t.equal(r.pacer.queued, 0);
  r.run(100);
  t.equal(r.sent.length, sent, 'nothing more left');
  t.equal(r.pacer.send(r.sink, r.packet(1200), 1200, 2), false);
  t.same(Object.keys(r.pacer.toJSON()).sort(), ['dropped', 'maxQueueMs', 'maxQueuePackets', 'paced', 'queueMs', 'queued', 'rateBps', 'sent']);
});

t.test('a sink that refuses a packet sent at once is reported', async (t) => {
  const r = rig({ rateBps: 0, refuse: true });
  t.equal(r.pacer.send(r.sink, r.packet(100), 100, -1), false);
});

t.test('the default drain: one shared timer drains every backlogged pacer; a closed one leaves it', async (t) => {
  const sent = new Map<string, number>();
  const sinkOf = (name: string) => ({
    sendRtpOwned: (): boolean => {
      sent.set(name, (sent.get(name) ?? 0) + 1);
      return true;
    },
  });
  const a = new Pacer(undefined);
  const b = new Pacer(undefined);
  const c = new Pacer(undefined);
  for (const p of [a, b, c]) p.rateBps = 960_000; // one 1200-byte packet per 10 ms
  for (let i = 0; i < 10; i++) {
    a.send(sinkOf('a'), Buffer.alloc(1200), 1200, -1);
    b.send(sinkOf('b'), Buffer.alloc(1200), 1200, -1);
    c.send(sinkOf('c'), Buffer.alloc(1200), 1200, -1);
  }
  c.close();
  const cBefore = sent.get('c') ?? 0;
  t.ok(a.queued > 5 && b.queued > 5, 'both backlogged');
  const deadline = Date.now() + 2000;
  while ((a.queued > 0 || b.queued > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(sent.get('a'), 10, 'a drained');
  t.equal(sent.get('b'), 10, 'b drained');
  t.equal(sent.get('c') ?? 0, cBefore, 'the closed pacer sent nothing more');
});
