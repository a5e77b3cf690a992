/**
 * Control-plane metrics: JSON-RPC requests (WebSocket signalling and the HTTP
 * admin API), signalling sockets, and webhook delivery. All read plain stats
 * objects at scrape time, except requests, which are counted once each as
 * they are answered (control-plane rate, never per packet).
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { RpcRequestObserver } from '../signal/jsonrpc/types.js';
import type { SignalWsStats } from '../signal/jsonrpc/ws-server.js';
import type { WebhookStats } from '../webhooks/notifier.js';
import { byKey, scraped, type ScrapedMetric } from './define.js';

export type RpcTransport = 'ws' | 'http';

const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Registers the signalling metrics; returns the request-observer factory for the two JSON-RPC endpoints. */
export function registerSignalMetrics(registry: Registry, stats: () => SignalWsStats): (transport: RpcTransport) => RpcRequestObserver {
  const registers = [registry];
  const requests = new Counter({
    name: 'sfud_rpc_requests_total',
    help: 'JSON-RPC requests by transport (ws: ion-sfu signalling, http: admin API), method (other: unknown or undecodable) and outcome (ok, error)',
    labelNames: ['transport', 'method', 'outcome'],
    registers,
  });
  const duration = new Histogram({
    name: 'sfud_rpc_duration_seconds',
    help: 'JSON-RPC request handling time, from the request to its reply, by transport and method',
    labelNames: ['transport', 'method'],
    buckets: RPC_BUCKETS,
    registers,
  });
  const def = (m: ScrapedMetric): void => scraped(registry, m);
  def({ type: 'gauge', name: 'sfud_ws_connections', help: 'Signalling WebSockets open', read: () => stats().socketsOpen });
  def({ type: 'counter', name: 'sfud_ws_connections_total', help: 'Signalling WebSockets accepted', read: () => stats().socketsTotal });
  def({
    type: 'counter',
    name: 'sfud_ws_messages_total',
    help: 'Signalling WebSocket messages received (in) and sent (out)',
    labelNames: ['direction'],
    read: () => {
      const s = stats();
      return [
        [{ direction: 'in' }, s.framesIn],
        [{ direction: 'out' }, s.framesOut],
      ];
    },
  });
  def({
    type: 'counter',
    name: 'sfud_ws_errors_total',
    help: 'JSON-RPC error replies on the signalling socket, by cause (parse, invalidRequest, methodNotFound, invalidParams, ordering, session)',
    labelNames: ['cause'],
    read: () => byKey({ ...stats().errors }, 'cause'),
  });
  def({
    type: 'counter',
    name: 'sfud_ws_closed_total',
    help: 'Signalling WebSockets sfud closed, by reason (oversize, queueOverflow, dead, protocol, factory, byApp)',
    labelNames: ['reason'],
    read: () => byKey({ ...stats().closed }, 'reason'),
  });
  return (transport) => (method, outcome, seconds) => {
    requests.inc({ transport, method, outcome });
    duration.observe({ transport, method }, seconds);
  };
}

/** Registers the webhook metrics (zeros while webhooks are off). */
export function registerWebhookMetrics(registry: Registry, stats: () => WebhookStats | undefined): void {
  const def = (m: ScrapedMetric): void => scraped(registry, m);
  def({ type: 'gauge', name: 'sfud_webhook_queue_length', help: 'Webhook events waiting for delivery (the one in flight included)', read: () => stats()?.queued ?? 0 });
  def({ type: 'counter', name: 'sfud_webhook_events_total', help: 'Webhook events queued, by event', labelNames: ['event'], read: () => byKey(stats()?.events, 'event') });
  def({
    type: 'counter',
    name: 'sfud_webhook_attempts_total',
    help: 'Webhook POST attempts by outcome (ok: 2xx, error: other status or network error, timeout)',
    labelNames: ['outcome'],
    read: () => byKey(stats()?.attempts, 'outcome'),
  });
  def({ type: 'counter', name: 'sfud_webhook_delivered_total', help: 'Webhook events delivered', read: () => stats()?.delivered ?? 0 });
  def({
    type: 'counter',
    name: 'sfud_webhook_dropped_total',
    help: 'Webhook events given up, by reason (queueFull, attemptsExhausted, rejected: a 4xx reply, closed: still queued at shutdown)',
    labelNames: ['reason'],
    read: () => byKey(stats()?.dropped, 'reason'),
  });
}
