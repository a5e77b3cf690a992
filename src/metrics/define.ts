/**
 * Metrics read at scrape time from counters kept elsewhere (STYLE.md: the
 * data plane counts on its own objects; the registry reads them). One helper
 * for both kinds, so each metric is declared by what it reads and nothing else.
 */
import { Counter, Gauge, type LabelValues, type Registry } from 'prom-client';

export type Labels = LabelValues<string>;
/** A value without labels, or one value per label set. */
export type Reading = number | Iterable<readonly [Labels, number]>;

export interface ScrapedMetric {
  type: 'counter' | 'gauge';
  name: string;
  help: string;
  labelNames?: readonly string[];
  read: () => Reading;
}

/**
 * Registers a counter or gauge whose values come from `read()` at every
 * scrape. Counters are rebuilt from the cumulative totals each time (the
 * totals themselves only grow), so a label set that is gone (a peer that
 * left, with per-peer labels) leaves the output with it.
 */
export function scraped(registry: Registry, m: ScrapedMetric): void {
  const common = { name: m.name, help: m.help, labelNames: m.labelNames ?? [], registers: [registry] };
  if (m.type === 'gauge') {
    new Gauge({
      ...common,
      collect() {
        const v = m.read();
        if (typeof v === 'number') this.set(v);
        else for (const [labels, n] of v) this.set(labels, n);
      },
    });
    return;
  }
  new Counter({
    ...common,
    collect() {
      this.reset();
      const v = m.read();
      // Guarded: prom-client throws on a negative increment, and a scrape must never throw.
      if (typeof v === 'number') this.inc(Math.max(0, v));
      else for (const [labels, n] of v) this.inc(labels, Math.max(0, n));
    },
  });
}

/** `{ok: 3, error: 1}` -> one value per key, under label `label`. */
export function byKey(o: Readonly<Record<string, number>> | undefined, label: string): [Labels, number][] {
  return Object.entries(o ?? {}).map(([k, n]) => [{ [label]: k }, n]);
}
