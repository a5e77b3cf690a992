// The daemon with an ion-sfu command line and config file, its config errors,
// and graceful shutdown: SIGTERM drains (notification, joins refused, exit 0
// when the calls end or the drain timeout passes), SIGINT drains briefly, a
// second signal exits at once.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { startDaemon, type DaemonRun } from '../helpers/daemon.js';
import { IonRpc, upgradeStatus, type Json } from '../helpers/ion-rpc.js';
import { FIXTURES } from '../helpers/paths.js';

const fixture = `${FIXTURES}config/ion-sfu.toml`;
const DATA_ONLY = readFileSync(`${FIXTURES}sdp/chromium-join-datachannel.sdp`, 'utf8');
const BASE = ['--listen', '127.0.0.1:0', '--udp-port', '0', '--log-format', 'json'];

async function up(run: DaemonRun): Promise<{ http: string; ws: string }> {
  const http = String((await run.waitFor('signalling and HTTP listening')).http);
  await run.waitFor('sfud started');
  return { http, ws: `${http.replace(/^http/, 'ws')}/ws` };
}

async function joined(t: Test, ws: string, uid: string): Promise<{ rpc: IonRpc; notices: Json[] }> {
  const rpc = await IonRpc.connect(ws);
  t.teardown(() => rpc.close());
  const notices: Json[] = [];
  rpc.onNotification = (method, params) => method === 'draining' && notices.push(params);
  await rpc.call('join', { sid: 'room', uid, offer: { type: 'offer', sdp: DATA_ONLY } });
  return { rpc, notices };
}

t.test("ion-sfu's docker-compose command line with its sfu.toml; SIGTERM ends when the last call leaves", async (t) => {
  const run = startDaemon(['-c', fixture, '-a', '127.0.0.1:0', '--udp-port', '0', '--log-format', 'json']);
  const { http, ws } = await up(run);
  t.match(await run.waitFor('config file read'), { file: fixture });
  const warnings = run.lines.filter((l) => l.level === 40).map((l) => String(l.msg));
  for (const key of ['[router] maxbandwidth', '[router] maxpackettrack', '[webrtc] mdns', '[webrtc.timeouts] keepalive']) {
    t.ok(warnings.some((w) => w.startsWith(fixture) && w.includes(key)), `warned about ${key}`);
  }
  t.match(await run.waitFor('sfud started'), { logLevel: 'debug' }, '[log] v = 1');
  const ready = await fetch(`${http}/ready`);
  t.equal(ready.status, 200);
  t.match(await ready.json(), { ready: true, draining: false, media: [{ address: /^127\.0\.0\.1:\d+$/ }] });
  // The fixture's drain timeout is the default 30 s: the drain ends when the last call leaves.
  const { rpc, notices } = await joined(t, ws, 'leaver');
  run.kill('SIGTERM');
  await run.waitFor('draining');
  await new Promise<void>((resolve) => (notices.length > 0 ? resolve() : (rpc.onNotification = () => resolve())));
  rpc.close();
  t.equal(await run.exit, 0);
  t.match(run.lines.find((l) => l.msg === 'drained'), { timedOut: false, peersLeft: 0 });
});

t.test('config errors exit 2 with a message naming what is wrong', async (t) => {
  const dir = `${FIXTURES}config/`;
  // Both at once: a missing config file (refused while parsing) and an unreadable TLS file (refused at start).
  const file = startDaemon(BASE, { SFUD_CONFIG: `${dir}no-such.toml` });
  const tls = startDaemon([...BASE, '--tls-cert', `${dir}missing-cert.pem`, '--tls-key', `${dir}missing-key.pem`]);
  t.equal(await file.exit, 2);
  t.match(file.stderr(), /cannot read config file .*no-such\.toml: ENOENT/);
  t.equal(await tls.exit, 2, 'an unreadable TLS file is a config error');
  t.match(tls.stderr(), /cannot read the TLS certificate .*missing-cert\.pem/);
});

t.test('SIGTERM drains: clients are told, joins refused, exit 0 at the timeout', async (t) => {
  const run = startDaemon([...BASE, '--drain-timeout', '1.5']);
  const { ws, http } = await up(run);
  const { rpc, notices } = await joined(t, ws, 'stay');
  const idle = await IonRpc.connect(ws);
  t.teardown(() => idle.close());
  const closed = once(rpc.ws, 'close');
  run.kill('SIGTERM');
  await run.waitFor('draining');
  await t.rejects(idle.call('join', { sid: 'room', uid: 'late', offer: { type: 'offer', sdp: DATA_ONLY } }), /"code":503/);
  t.equal(await upgradeStatus(ws), 503);
  t.equal((await fetch(`${http}/ready`)).status, 503);
  t.equal(notices.length, 1, 'the joined client got the draining notification');
  t.equal(notices[0]!.timeoutMs, 1500);
  t.equal(await run.exit, 0);
  t.match(run.lines.find((l) => l.msg === 'drained'), { timedOut: true, peersLeft: 1 });
  const [code] = (await closed) as [number];
  t.equal(code, 1001, 'the call was closed at the deadline');
});

t.test('SIGINT drains for at most 2 s; a second signal exits at once', async (t) => {
  // Two daemons side by side: one gets SIGINT, the other SIGTERM twice.
  const int = startDaemon([...BASE, '--drain-timeout', '60']);
  const twice = startDaemon([...BASE, '--drain-timeout', '60']);
  const [a, b] = await Promise.all([up(int), up(twice)]);
  await Promise.all([joined(t, a.ws, 'a'), joined(t, b.ws, 'b')]);

  int.kill('SIGINT');
  twice.kill('SIGTERM');
  await twice.waitFor('draining');
  twice.kill('SIGTERM');
  t.equal(await twice.exit, 1);
  t.ok(twice.lines.some((l) => l.msg === 'second signal: exiting now'));
  t.notOk(twice.lines.some((l) => l.msg === 'drained'), 'it did not wait for the drain');

  t.match(await int.waitFor('stopping'), { signal: 'SIGINT', timeoutMs: 2000 });
  t.equal(await int.exit, 0);
  t.match(int.lines.find((l) => l.msg === 'drained'), { timedOut: true });
});
