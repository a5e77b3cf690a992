// README's Metrics table is generated from the registry: this fails when the
// README is stale. `npm run readme:metrics` (UPDATE_README=1) rewrites it.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { documentedMetrics, metricsMarkdown } from '../../src/metrics/catalog.js';
import { fromRoot } from '../helpers/paths.js';

const README = fromRoot('README.md');
const BEGIN = '<!-- metrics:begin -->';
const END = '<!-- metrics:end -->';

t.test('README lists every metric, as the registry describes it', async (t) => {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  t.ok(start >= 0 && end > start, 'the README has the metrics markers');
  const want = `${BEGIN}\n${metricsMarkdown()}\n${END}`;
  const have = readme.slice(start, end + END.length);
  if (process.env.UPDATE_README === '1' && have !== want) {
    writeFileSync(README, readme.slice(0, start) + want + readme.slice(end + END.length));
    t.comment('README metrics section rewritten');
    return;
  }
  t.equal(have, want, 'README metrics section is current (npm run readme:metrics rewrites it)');
});

t.test('the catalog: bounded labels, help everywhere, the families the operations issue needs', async (t) => {
  const docs = documentedMetrics();
  const names = new Set(docs.map((d) => d.name));
  t.same(docs.filter((d) => d.help.length < 12).map((d) => d.name), [], 'every metric has a help text');
  t.same(docs.filter((d) => !d.name.startsWith('sfud_')).map((d) => d.name), [], 'every metric has the sfud_ prefix');
  t.same(
    docs.filter((d) => d.labels.some((l) => l === 'sid' || l === 'uid')).map((d) => d.name),
    ['sfud_peer_bytes_total', 'sfud_peer_downlink_bps', 'sfud_peer_packets_total'],
    'only the opt-in per-peer series are labelled by room or peer',
  );
  const missing = [
    'sfud_rooms',
    'sfud_peers',
    'sfud_transports',
    'sfud_producers',
    'sfud_consumers',
    'sfud_ice_state_changes_total',
    'sfud_dtls_state_changes_total',
    'sfud_packets_total',
    'sfud_bytes_total',
    'sfud_drops_total',
    'sfud_rtcp_feedback_total',
    'sfud_fraction_lost',
    'sfud_jitter_seconds',
    'sfud_rtt_seconds',
    'sfud_rpc_requests_total',
    'sfud_rpc_duration_seconds',
    'sfud_ws_connections',
    'sfud_ws_messages_total',
    'sfud_event_loop_lag_seconds',
    'sfud_event_loop_utilization',
    'sfud_process_cpu_seconds_total',
    'sfud_process_resident_memory_bytes',
    'sfud_nodejs_heap_size_used_bytes',
    // The simulcast issue: layers, estimates and allocations in metrics too.
    'sfud_layer_changes_total',
    'sfud_consumer_layers',
    'sfud_downlink_bps',
    'sfud_downlink_subscribers',
    'sfud_pacer_packets_total',
  ].filter((n) => !names.has(n));
  t.same(missing, [], 'the families the operations and simulcast issues ask for are there');
});
