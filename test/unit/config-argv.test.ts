// ion-sfu's command line (Go flags) works as sfud's: `sfud -c /configs/sfu.toml -a :7000`.
import t from 'tap';
import { parseCli, type SfuConfig } from '../../src/config.js';
import { rewriteIonArgv } from '../../src/config/argv.js';

function run(argv: string[]): SfuConfig {
  const a = parseCli(argv, {}, (path) => {
    if (path === '/configs/sfu.toml') return '[webrtc]\nsingleport = 5555\n';
    throw new Error(`ENOENT ${path}`);
  });
  if (a.kind !== 'run') throw new Error(a.kind);
  return a.config;
}

t.test("ion-sfu's docker-compose command line", async (t) => {
  const c = run(['-c', '/configs/sfu.toml', '-a', ':7000']);
  t.same(c.listen, { host: '0.0.0.0', port: 7000 }, 'Go ":7000" is every interface');
  t.equal(c.udpPort, 5555, 'the file was read');
});

t.test('every ion-sfu flag, with one or two dashes and with =', async (t) => {
  const c = run(['--a=127.0.0.1:7001', '-cert', 'c.pem', '--key=k.pem', '-m', ':8100', '-v', '2']);
  t.same(c.listen, { host: '127.0.0.1', port: 7001 });
  t.equal(c.tlsCert, 'c.pem');
  t.equal(c.tlsKey, 'k.pem');
  t.same(c.metricsListen, { host: '0.0.0.0', port: 8100 });
  t.equal(c.logLevel, 'trace');
  t.equal(run(['-v=1']).logLevel, 'debug');
  t.equal(run(['-v', '0']).logLevel, 'info');
  t.equal(run(['-v', '-1']).logLevel, 'info', "ion-sfu's default -1");
  t.same(run(['-a', '[::1]:7002']).listen, { host: '::1', port: 7002 });
});

t.test("sfud's own flags keep their meaning", async (t) => {
  t.same(run(['--listen', ':7000']).listen, { host: '127.0.0.1', port: 7000 }, '--listen :PORT stays on loopback');
  t.same(parseCli(['-v']), { kind: 'version' }, '-v alone is the version');
  t.same(parseCli(['-h']), { kind: 'help' });
  const secret = '-a-secret-that-starts-with-a-dash-and-is-long';
  t.equal(run(['--jwt-secret', secret]).jwtSecret, secret, 'a flag value is never rewritten');
  t.same(rewriteIonArgv(['--webhook-secret', '-m', '-a', ':1'], new Set(['--webhook-secret'])), ['--webhook-secret=-m', '--listen=0.0.0.0:1']);
  t.same(rewriteIonArgv(['--', '-a', 'x'], new Set()), ['--', '-a', 'x'], 'nothing after --');
  t.throws(() => parseCli(['-a']), /--listen/, 'a missing value is still an error naming the flag');
  t.throws(() => parseCli(['-x']), /Unknown option '-x'/);
});
