/**
 * The list of every metric sfud exports, read from a real registry (so it
 * cannot drift from the code): README's "Metrics" section is this list,
 * rendered by `metricsMarkdown()`, and test/unit/metrics-readme.test.ts
 * fails when the README is stale (`npm run readme:metrics` rewrites it).
 */
import type { Registry } from 'prom-client';
import { RoomRegistry } from '../router/room.js';
import { SfuMetrics } from './metrics.js';

export interface MetricDoc {
  name: string;
  type: string;
  labels: string[];
  help: string;
}

/** Name, type, labels and help of every metric of a registry, sorted by name. */
export function metricsCatalog(registry: Registry): MetricDoc[] {
  return registry
    .getMetricsAsArray()
    .map((m) => ({ name: m.name, type: String(m.type), labels: [...((m as { labelNames?: readonly string[] }).labelNames ?? [])], help: m.help }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Every metric an Sfu can export, per-peer series included. */
export function documentedMetrics(): MetricDoc[] {
  const rooms = new RoomRegistry();
  const unused = (): never => {
    throw new Error('not scraped');
  };
  const metrics = new SfuMetrics({ media: () => undefined, rooms, signal: unused, shards: () => [] }, { perPeerLabels: true });
  try {
    return metricsCatalog(metrics.registry);
  } finally {
    metrics.close();
    rooms.closeAll();
  }
}

/** The README table. */
export function metricsMarkdown(docs: readonly MetricDoc[] = documentedMetrics()): string {
  const rows = docs.map((d) => `| \`${d.name}\` | ${d.type} | ${d.labels.map((l) => `\`${l}\``).join(', ')} | ${d.help.replace(/\|/g, '\\|')} |`);
  return ['| metric | type | labels | help |', '|---|---|---|---|', ...rows].join('\n');
}
