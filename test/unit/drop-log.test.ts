// Rate-limited drop summaries: one line per reason per interval with the
// count since the previous line, never a line per packet; expected reasons at
// debug. (test/integration/metrics.test.ts feeds a real Sfu garbage.)
import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { DropLog } from '../../src/metrics/drop-log.js';
import { waitFor } from '../interop/echo.js';

function capture(level: 'debug' | 'warn' = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: pino({ level }, stream) };
}

t.test('one line per reason per check, with the count since the last one', async (t) => {
  const { lines, logger } = capture();
  const totals = new Map<string, number>();
  const log = new DropLog({ logger, totals: () => totals, intervalMs: 0 });
  t.equal(log.check(), 0, 'nothing dropped, nothing logged');
  // 10,000 drops of one reason and 3 of another between two checks.
  for (let i = 0; i < 10_000; i++) totals.set('transport:srtp-auth', (totals.get('transport:srtp-auth') ?? 0) + 1);
  totals.set('mux:unknown-first-byte', 3);
  totals.set('consumer:paused', 50);
  t.equal(log.check(), 3, 'three reasons moved: three lines, not 10,053');
  const byReason = (r: string) => lines.filter((l) => l.reason === r);
  t.match(byReason('srtp-auth'), [{ level: 40, count: 10_000, stage: 'transport', sub: 'srtp', msg: 'packets dropped' }]);
  t.match(byReason('unknown-first-byte'), [{ level: 40, count: 3, stage: 'mux', sub: 'udp' }]);
  t.match(byReason('paused'), [{ level: 20, count: 50, stage: 'consumer', sub: 'rtp' }], 'a paused consumer is normal: debug');
  lines.length = 0;
  t.equal(log.check(), 0, 'no new drops: no line');
  totals.set('transport:srtp-auth', 10_007);
  t.equal(log.check(), 1);
  t.match(lines, [{ reason: 'srtp-auth', count: 7 }], 'the count since the previous line');
  log.close();
});

t.test('the timer: at most one line per reason per interval', async (t) => {
  const { lines, logger } = capture();
  let n = 0;
  const log = new DropLog({ logger, totals: () => new Map([['producer:malformed-payload', n]]), intervalMs: 50 });
  t.teardown(() => log.close());
  const started = Date.now();
  // Drops keep coming much faster than the interval.
  const timer = setInterval(() => (n += 100), 1);
  await waitFor('three summaries', () => lines.length >= 3, 5000);
  clearInterval(timer);
  const elapsed = Date.now() - started;
  t.ok(lines.length <= Math.ceil(elapsed / 50) + 1, `${lines.length} lines in ${elapsed} ms, not one per drop`);
  t.ok(lines.every((l) => (l.count as number) >= 100 && l.windowSec === 0.05));
});
