/**
 * Per-shard metrics, labelled `shard` (bounded: one value per worker): the
 * state, restarts and the load each shard reports with its heartbeat. The
 * event-loop utilization of each shard is `sfud_event_loop_utilization`
 * from the shard's own registry, merged into `/metrics` by the main thread.
 */
import type { Registry } from 'prom-client';
import type { ShardLoad } from '../shard/host.js';
import type { PipeTotals } from '../shard/pipe-hub.js';
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
  registerPipeMetrics(registry, shards);
}

/** Pipes between shards for rooms that span several (src/pipe/), as each shard last reported them. */
function registerPipeMetrics(registry: Registry, shards: () => readonly ShardStatus[]): void {
  scraped(registry, {
    type: 'gauge',
    name: 'sfud_pipe_links',
    help: 'Pipes a shard has open to other shards (one per room and shard pair)',
    labelNames: ['shard'],
    read: () => shards().map((s): [Labels, number] => [{ shard: String(s.index) }, s.load.pipe?.links ?? 0]),
  });
  /** One counter per shard and key of what `read` returns, under `label`. */
  const counter = (name: string, help: string, label: string, read: (p: PipeTotals) => Record<string, number>): void =>
    scraped(registry, {
      type: 'counter',
      name,
      help,
      labelNames: ['shard', label],
      read: () => shards().flatMap((s) => (s.load.pipe ? Object.entries(read(s.load.pipe)).map(([k, n]): [Labels, number] => [{ shard: String(s.index), [label]: k }, n]) : [])),
    });
  counter('sfud_pipe_packets_total', 'RTP packets a shard piped to (out) or received from (in) other shards holding members of the same room', 'direction', (p) => ({
    in: p.packetsIn,
    out: p.packetsOut,
  }));
  counter('sfud_pipe_bytes_total', 'RTP bytes piped between shards (direction in/out)', 'direction', (p) => ({ in: p.bytesIn, out: p.bytesOut }));
  counter('sfud_pipe_drops_total', 'What a pipe could not carry or use, by reason (too_large, closed, malformed, no_room, unknown_producer)', 'reason', (p) => ({
    too_large: p.drops.tooLarge,
    closed: p.drops.closed,
    malformed: p.drops.malformed,
    no_room: p.drops.noRoom,
    unknown_producer: p.drops.unknownProducer,
  }));
  counter(
    'sfud_pipe_feedback_total',
    'Feedback over pipes: keyframe requests sent upstream and served, NACKed packets sent upstream, resent from the store, or passed to the publisher',
    'kind',
    (p) => ({
      keyframe_out: p.keyframeRequestsOut,
      keyframe_in: p.keyframeRequestsIn,
      nack_out: p.nacksOut,
      repair_sent: p.repairsSent,
      nack_to_publisher: p.nacksToPublisher,
    }),
  );
}
