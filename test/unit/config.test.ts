import t from 'tap';
import { parseCli, parseHostPort, defaultConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

t.test('defaults are the ones a newcomer gets from npm start', async (t) => {
  const a = parseCli([]);
  t.equal(a.kind, 'run');
  if (a.kind !== 'run') return;
  t.same(a.config.listen, { host: '127.0.0.1', port: 7000 });
  t.equal(a.config.udpPort, 5000);
  t.equal(a.config.announcedIp, '127.0.0.1');
  t.equal(a.config.logLevel, 'info');
  t.equal(a.config.shards, defaultConfig().shards);
});

t.test('flags win over environment, environment over defaults', async (t) => {
  const env = { SFUD_LISTEN: '0.0.0.0:8000', SFUD_UDP_PORT: '6000', SFUD_LOG_LEVEL: 'debug', SFUD_ANNOUNCED_IP: '203.0.113.7' };
  const a = parseCli(['--listen', '[::1]:9000', '--log-format', 'json', '--shards', '3'], env);
  if (a.kind !== 'run') {
    t.fail('not run');
    return;
  }
  t.same(a.config.listen, { host: '::1', port: 9000 });
  t.equal(a.config.udpPort, 6000);
  t.equal(a.config.logLevel, 'debug');
  t.equal(a.config.announcedIp, '203.0.113.7');
  t.equal(a.config.logPretty, false);
  t.equal(a.config.shards, 3);
});

t.test('the announced address defaults to the media address', async (t) => {
  const a = parseCli(['--udp-host', '10.0.0.5']);
  if (a.kind !== 'run') {
    t.fail('not run');
    return;
  }
  t.equal(a.config.announcedIp, '10.0.0.5');
});

t.test('help and version', async (t) => {
  t.same(parseCli(['--help']), { kind: 'help' });
  t.same(parseCli(['-v']), { kind: 'version' });
});

t.test('bad values are ConfigErrors naming the flag', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /bogus/],
    [['--listen', 'nowhere'], /--listen/],
    [['--listen', '[nope]:1'], /IPv6/],
    [['--udp-port', '70000'], /--udp-port/],
    [['--udp-port', '65535', '--shards', '2'], /past port 65535/],
    [['--announced-ip', 'example.com'], /--announced-ip/],
    [['--log-level', 'loud'], /--log-level/],
    [['--log-format', 'xml'], /--log-format/],
    [['--shards', '-1'], /--shards/],
    [['--shards', '257'], /--shards/],
  ];
  for (const [argv, re] of cases) {
    t.throws(() => parseCli(argv), re, argv.join(' '));
    t.throws(() => parseCli(argv), ConfigError);
  }
  t.throws(() => parseCli([], { SFUD_UDP_PORT: 'x' }), /SFUD_UDP_PORT/);
  t.same(parseHostPort(':7000', 'x'), { host: '127.0.0.1', port: 7000 });
});
