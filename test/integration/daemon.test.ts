// The daemon as a user runs it: built bin, real signals, real ports.
import t from 'tap';
import { spawn } from 'node:child_process';
import { SFUD_BIN as bin, startDaemon as start } from '../helpers/daemon.js';

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`starts, logs where it listens, serves /health, stops cleanly on ${sig}`, async (t) => {
    const run = start(['--listen', '127.0.0.1:0', '--udp-port', '0', '--log-format', 'json']);
    const media = await run.waitFor('media listening');
    t.match(String(media.udp), /^127\.0\.0\.1:\d+$/);
    t.match(String(media.fingerprint), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const listening = await run.waitFor('signalling and HTTP listening');
    const url = String(listening.http);
    t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await run.waitFor('sfud started');
    const res = await fetch(`${url}/health`);
    t.equal(res.status, 200);
    t.match(await res.json(), { status: 'ok' });
    run.kill(sig);
    t.equal(await run.exit, 0);
    t.ok(run.lines.some((l) => l.msg === 'closed'), 'logged its close');
  });
}

t.test('a taken port is a clear fatal error and exit code 1', async (t) => {
  const first = start(['--listen', '127.0.0.1:0', '--udp-port', '0', '--log-format', 'json']);
  const url = new URL(String((await first.waitFor('signalling and HTTP listening')).http));
  const second = start(['--listen', `127.0.0.1:${url.port}`, '--udp-port', '0', '--log-format', 'json']);
  t.equal(await second.exit, 1);
  t.ok(second.lines.some((l) => l.msg === 'sfud could not start' && l.level === 60));
  first.kill('SIGTERM');
  t.equal(await first.exit, 0);
});

t.test('a taken UDP port is a clear fatal error too', async (t) => {
  const first = start(['--listen', '127.0.0.1:0', '--udp-port', '0', '--log-format', 'json']);
  const udp = String((await first.waitFor('media listening')).udp);
  const second = start(['--listen', '127.0.0.1:0', '--udp-port', udp.split(':')[1]!, '--log-format', 'json']);
  t.equal(await second.exit, 1);
  t.ok(second.lines.some((l) => l.msg === 'sfud could not start' && JSON.stringify(l).includes('cannot bind UDP')));
  first.kill('SIGINT');
  t.equal(await first.exit, 0);
});

t.test('bad flags exit 2 with help', async (t) => {
  const child = spawn(process.execPath, [bin, '--udp-port', 'abc'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((r) => child.on('exit', r));
  t.equal(code, 2);
  t.match(err, /--udp-port/);
  t.match(err, /Usage: sfud/);
});
