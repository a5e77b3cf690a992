/**
 * Event-loop health of one thread, labelled by shard (`main` for the main
 * thread today; each data-plane worker will run its own monitor with its
 * own name).
 *
 *  - lag: a 100 ms interval timer measures how late it fires; each lateness
 *    is one histogram observation, so `histogram_quantile` works over any
 *    range and several scrapers do not disturb each other;
 *  - utilization (`performance.eventLoopUtilization`): active and idle time
 *    as counters (rate them for any window) plus a gauge of the last second.
 *
 * Ten observations a second, whatever the load: nothing per packet.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Histogram, type Registry } from 'prom-client';
import { scraped, type ScrapedMetric } from './define.js';

export interface EventLoopMetricsOptions {
  registry: Registry;
  /** Label value for `shard`. */
  shard: string;
  /** Lag sampling period (default 100 ms). */
  sampleMs?: number;
}

export class EventLoopMetrics {
  private readonly timer: NodeJS.Timeout;
  private readonly lag: Histogram<'shard'>;
  private readonly labels: { shard: string };
  private last = performance.now();
  private windowStart: EventLoopUtilization = performance.eventLoopUtilization();
  private lastUtilization = 0;
  private ticks = 0;

  constructor(opts: EventLoopMetricsOptions) {
    const sampleMs = opts.sampleMs ?? 100;
    const labels = { shard: opts.shard };
    this.labels = labels;
    const registers = [opts.registry];
    this.lag = new Histogram({
      name: 'sfud_event_loop_lag_seconds',
      help: `How late a ${sampleMs} ms timer fires on the thread's event loop (a blocked loop delays every packet)`,
      labelNames: ['shard'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const def = (m: ScrapedMetric): void => scraped(opts.registry, m);
    def({
      type: 'gauge',
      name: 'sfud_event_loop_utilization',
      help: 'Share of the last second the event loop was busy (0..1), performance.eventLoopUtilization',
      labelNames: ['shard'],
      read: () => [[labels, this.lastUtilization]],
    });
    def({
      type: 'counter',
      name: 'sfud_event_loop_active_seconds_total',
      help: 'Time the event loop spent running callbacks (rate() of it over rate() of active + idle is the utilization)',
      labelNames: ['shard'],
      read: () => [[labels, performance.eventLoopUtilization().active / 1000]],
    });
    def({
      type: 'counter',
      name: 'sfud_event_loop_idle_seconds_total',
      help: 'Time the event loop spent waiting for I/O',
      labelNames: ['shard'],
      read: () => [[labels, performance.eventLoopUtilization().idle / 1000]],
    });
    this.timer = setInterval(() => this.tick(sampleMs), sampleMs);
    this.timer.unref();
  }

  private tick(sampleMs: number): void {
    const now = performance.now();
    this.lag.observe(this.labels, Math.max(0, now - this.last - sampleMs) / 1000);
    this.last = now;
    if (++this.ticks * sampleMs >= 1000) {
      this.ticks = 0;
      const end = performance.eventLoopUtilization();
      this.lastUtilization = performance.eventLoopUtilization(end, this.windowStart).utilization;
      this.windowStart = end;
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
