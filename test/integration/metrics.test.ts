// Metrics and logs around a real Sfu on 127.0.0.1 (the libwebrtc call is in
// test/interop/metrics-wrtc.test.ts): the separate metrics port, per-peer
// series when asked for, JSON-RPC request accounting, drop summaries in the
// log and in Prometheus, and log lines tagged with their subsystem and ids.
import t from 'tap';
import { Writable } from 'node:stream';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import { Sfu } from '../../src/sfu.js';
import { generateCertificate } from '../../src/dtls/certificate.js';
import { Publisher, Subscriber } from '../../bench/loadgen/roles.js';
import { Histogram } from '../../bench/loadgen/histogram.js';
import { isLoopback, waitFor } from '../interop/echo.js';

function capture(level: 'debug' | 'info' | 'warn') {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) {
        if (!l) continue;
        raw.push(l);
        lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      cb();
    },
  });
  return { raw, lines, logger: pino({ level }, stream) };
}

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

const listen = { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 };

t.test('metricsListen: /metrics only on its own address', async (t) => {
  const sfu = await Sfu.create({ config: { ...listen, metricsListen: { host: '127.0.0.1', port: 0 } } });
  t.teardown(() => sfu.close());
  t.not(sfu.metricsUrl, sfu.httpUrl);
  const own = await fetch(`${sfu.metricsUrl}/metrics`);
  t.equal(own.status, 200);
  t.match(await own.text(), /^sfud_rooms 0$/m);
  t.equal((await fetch(`${sfu.httpUrl}/metrics`)).status, 404, 'not on the signalling port');
  t.equal((await fetch(`${sfu.metricsUrl}/health`)).status, 404, 'nothing else on the metrics port');
  t.equal((await fetch(`${sfu.httpUrl}/health`)).status, 200);
});

t.test('JSON-RPC requests counted by transport, method and outcome', async (t) => {
  const sfu = await Sfu.create({ config: listen });
  t.teardown(() => sfu.close());
  const post = (body: string) => fetch(`${sfu.httpUrl}/rpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await post('{"jsonrpc":"2.0","id":1,"method":"ping"}');
  await post('{"jsonrpc":"2.0","id":2,"method":"listRooms"}');
  await post('{"jsonrpc":"2.0","id":3,"method":"getRoom","params":{"sid":"nope"}}');
  await post('{"jsonrpc":"2.0","id":4,"method":"rm -rf"}');
  await post('{not json');
  const ws = new WebSocket(`${sfu.httpUrl.replace('http', 'ws')}/ws`);
  const replies: string[] = [];
  ws.on('message', (d) => replies.push(String(d)));
  await once(ws, 'open');
  ws.send('{"method":"trickle","params":{"target":0,"candidate":{"candidate":"x"}},"id":"t1"}');
  ws.send('nonsense');
  await waitFor('two replies', () => replies.length === 2);
  ws.close();
  const text = await (await fetch(`${sfu.metricsUrl}/metrics`)).text();
  t.equal(value(text, 'sfud_rpc_requests_total{transport="http",method="ping",outcome="ok"}'), 1);
  t.equal(value(text, 'sfud_rpc_requests_total{transport="http",method="listRooms",outcome="ok"}'), 1);
  t.equal(value(text, 'sfud_rpc_requests_total{transport="http",method="getRoom",outcome="error"}'), 1, 'room not found is an error outcome');
  t.equal(value(text, 'sfud_rpc_requests_total{transport="http",method="other",outcome="error"}'), 2, 'unknown method and bad JSON: one bounded label');
  t.notMatch(text, /rm -rf/, 'a client cannot mint label values');
  t.equal(value(text, 'sfud_rpc_requests_total{transport="ws",method="trickle",outcome="ok"}'), 1, 'an early trickle is buffered: ok');
  t.equal(value(text, 'sfud_rpc_requests_total{transport="ws",method="other",outcome="error"}'), 1);
  t.equal(value(text, 'sfud_rpc_duration_seconds_count{transport="http",method="ping"}'), 1, 'latency histogram');
  t.equal(value(text, 'sfud_ws_connections_total'), 1);
  t.equal(value(text, 'sfud_ws_messages_total{direction="in"}'), 2);
  t.equal(value(text, 'sfud_ws_errors_total{cause="parse"}'), 1);
});

t.test('garbage datagrams: one warn summary per interval, and the same count in Prometheus', async (t) => {
  const { lines, logger } = capture('warn');
  const sfu = await Sfu.create({ config: listen, logger, dropLogIntervalMs: 500 });
  t.teardown(() => sfu.close());
  const port = sfu.webRtcServer.muxes[0]!.port;
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  // First byte 0xff is none of STUN, DTLS or RTP (RFC 7983): counted and dropped.
  const junk = Buffer.alloc(20, 0xff);
  for (let i = 0; i < 200; i++) sock.send(junk, port, '127.0.0.1');
  const summaries = () => lines.filter((l) => l.reason === 'unknown-first-byte');
  await waitFor('the drops summarised', () => summaries().reduce((a, l) => a + (l.count as number), 0) === 200, 10_000);
  t.ok(summaries().length <= 2, `200 drops in ${summaries().length} line(s), not 200 (a burst may straddle two intervals)`);
  t.match(summaries()[0], { level: 40, stage: 'mux', sub: 'udp', msg: 'packets dropped' });
  const text = await (await fetch(`${sfu.metricsUrl}/metrics`)).text();
  t.equal(value(text, 'sfud_drops_total{stage="mux",reason="unknown-first-byte"}'), 200, 'the same count in Prometheus');
  t.equal(value(text, 'sfud_udp_datagrams_total{direction="in"}'), 200);
});

t.test('a call through the load generator: per-peer series, ids and subsystems in the logs', async (t) => {
  const { raw, lines, logger } = capture('debug');
  const sfu = await Sfu.create({ config: listen, acceptRemote: isLoopback, logger, metrics: { perPeerLabels: true }, dropLogIntervalMs: 0 });
  let closed = false;
  t.teardown(async () => {
    if (!closed) await sfu.close();
  });
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const cert = await generateCertificate();
  const pub = await Publisher.join({ url, sid: 'm', uid: 'alice', cert, videoKbps: 200 });
  pub.start();
  const sub = await Subscriber.join({ url, sid: 'm', uid: 'bob', cert, latency: new Histogram(), connectPublisherPc: true });
  t.teardown(() => {
    pub.close();
    sub.close();
  });
  await sub.ready;
  await waitFor('bob got 100 packets', () => sub.packets >= 100);
  let text = await (await fetch(`${sfu.metricsUrl}/metrics`)).text();
  t.ok(value(text, 'sfud_peer_packets_total{sid="m",uid="alice",direction="in"}') > 0, 'alice publishes');
  t.ok(value(text, 'sfud_peer_packets_total{sid="m",uid="bob",direction="out"}') > 0, 'bob receives');
  t.equal(value(text, 'sfud_peer_packets_total{sid="m",uid="bob",direction="in"}'), 0);
  t.ok(value(text, 'sfud_peer_bytes_total{sid="m",uid="bob",direction="out"}') > value(text, 'sfud_peer_packets_total{sid="m",uid="bob",direction="out"}'));
  t.equal(value(text, 'sfud_consumers{kind="video"}'), 1);
  t.equal(value(text, 'sfud_consumers{kind="audio"}'), 1);
  pub.close();
  sub.close();
  await waitFor('room closed', () => sfu.rooms.list.length === 0);
  text = await (await fetch(`${sfu.metricsUrl}/metrics`)).text();
  t.notMatch(text, /sfud_peer_packets_total\{/, 'per-peer series go with their peer');
  t.equal(value(text, 'sfud_consumers{kind="video"}'), 0);
  t.equal(value(text, 'sfud_producers{kind="video"}'), 0);
  closed = true;
  await sfu.close();

  // Logs: ids bound once per child, a subsystem tag, never a key twice in a line.
  const find = (msg: string, extra: Record<string, unknown> = {}) => lines.find((l) => l.msg === msg && Object.entries(extra).every(([k, v]) => l[k] === v));
  t.match(find('room opened'), { sub: 'room', sid: 'm' });
  t.match(find('room closed'), { sub: 'room', sid: 'm' });
  t.match(find('joined', { uid: 'alice' }), { sub: 'peer', sid: 'm', uid: 'alice' });
  t.match(find('left', { uid: 'bob' }), { sub: 'peer', sid: 'm' });
  t.match(find('DTLS connected', { uid: 'bob' }), { sub: 'dtls', sid: 'm', transport: String });
  t.match(find('ICE state', { uid: 'alice' }), { sub: 'ice', sid: 'm', transport: String, state: String });
  t.match(find('signalling and HTTP listening'), {});
  const dup = raw.find((l) => (l.match(/"sub":/g) ?? []).length > 1);
  t.equal(dup, undefined, 'no line carries two subsystem tags');
  t.notOk(
    lines.some((l) => /rtp packet|packet received|forwarded/i.test(String(l.msg))),
    'nothing per packet',
  );
  t.ok(lines.length < 200, `${lines.length} log lines at debug for a whole call`);
});
