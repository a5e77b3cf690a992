/**
 * Per-shard metrics, labelled `shard` (bounded: one value per worker): the
 * state, restarts and the load each shard reports with its heartbeat. The
 * event-loop utilization of each shard is `sfud_event_loop_utilization`
 * from the shard's own registry, merged into `/metrics` by the main thread.
 */
import type { Registry } from 'prom-client';
import type { ShardLoad } from '../shard/host.js';
import { scraped, type Labels } from './define.js';

/** One shard as the main thread sees it. */
export interface ShardStatus {
  index: number;
  /** starting: first start; up: answering heartbeats; restarting: failed, a new worker is on its way; stopped: closed. */
  state: 'starting' | 'up' | 'restarting' | 'stopped';
  /** The media port (kept across restarts). */
  port: number;
  restarts: number;
  /** The last heartbeat's report. */
  load: ShardLoad;
}

export function registerShardMetrics(registry: Registry, shards: () => readonly ShardStatus[]): void {
  const each = (read: (s: ShardStatus) => number) => (): [Labels, number][] => shards().map((s) => [{ shard: String(s.index) }, read(s)]);
  const gauge = (name: string, help: string, read: (s: ShardStatus) => number): void =>
    scraped(registry, { type: 'gauge', name, help, labelNames: ['shard'], read: each(read) });
  gauge('sfud_shard_up', 'Data-plane shard answering its heartbeat (1) or down or restarting (0)', (s) => (s.state === 'up' ? 1 : 0));
  scraped(registry, {
    type: 'counter',
    name: 'sfud_shard_restarts_total',
    help: 'Data-plane shards restarted after they exited, threw or missed their heartbeat for 2 s (their peers were disconnected)',
    labelNames: ['shard'],
    read: each((s) => s.restarts),
  });
  gauge('sfud_shard_packets_per_second', 'Datagrams a shard sent per second over its last heartbeat period (forwarded RTP, mostly); placement reads it', (s) => s.load.pps);
  gauge('sfud_shard_consumers', 'Outgoing tracks on a shard (placement reads it)', (s) => s.load.consumers);
  gauge('sfud_shard_rooms', 'Rooms placed on a shard', (s) => s.load.rooms);
  gauge('sfud_shard_peers', 'Peers on a shard', (s) => s.load.peers);
}
