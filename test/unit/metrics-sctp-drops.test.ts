// SCTP endpoints' refusals reach sfud_drops_total under stage "sctp", live and
// after their transport closed (retired totals), like every other stage.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { SfuMetrics } from '../../src/metrics/metrics.js';
import { RoomRegistry } from '../../src/router/room.js';
import type { WebRtcServer } from '../../src/transport/webrtc-server.js';

t.test('SCTP drops by reason, live and retired', async (t) => {
  const transport = {
    stats: { rtcpPacketsIn: 0, rtcpBytesIn: 0, rtcpPacketsOut: 0, rtcpBytesOut: 0, drops: {} },
    sctpDrops: { messageTooLarge: 3, unknownPpid: 0, channelNotOpen: 2 },
  };
  const server = Object.assign(new EventEmitter(), { transports: [transport], muxes: [] });
  const metrics = new SfuMetrics(
    { media: () => server as unknown as WebRtcServer, rooms: new RoomRegistry(), signal: () => ({}) as never },
    { controlPlane: false },
  );
  t.teardown(() => metrics.close());
  const live = metrics.dropTotals();
  t.equal(live.get('sctp:message-too-large'), 3);
  t.equal(live.get('sctp:channel-not-open'), 2);
  t.notOk(live.has('sctp:unknown-ppid'), 'zero counts are left out');
  // The transport closes: its counts stay in the totals.
  server.transports.length = 0;
  server.emit('transportclose', transport, 'closed');
  t.equal(metrics.dropTotals().get('sctp:message-too-large'), 3, 'retired with its transport');
  const text = (await metrics.text()).body;
  t.match(text, /sfud_drops_total\{stage="sctp",reason="message-too-large"\} 3/);
});
