// sfu.toml: ion-sfu's keys mapped or warned about, sfud's [sfud] table (one
// key per flag), precedence file < env < flags, unknown keys, refused values.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseCli, OPTIONS, type SfuConfig } from '../../src/config.js';
import { parseConfigFile } from '../../src/config/file.js';
import { ConfigError } from '../../src/errors.js';
import { FIXTURES } from '../helpers/paths.js';

const fixture = `${FIXTURES}config/ion-sfu.toml`;

/** parseCli with an in-memory file system. */
function run(files: Record<string, string>, argv: string[], env: NodeJS.ProcessEnv = {}): { config: SfuConfig; warnings: string[] } {
  const a = parseCli(argv, env, (path) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
    return text;
  });
  if (a.kind !== 'run') throw new Error(`not run: ${a.kind}`);
  return a;
}

const withFile = (toml: string, argv: string[] = [], env: NodeJS.ProcessEnv = {}) => run({ 'sfu.toml': toml }, ['-c', 'sfu.toml', ...argv], env);

t.test("ion-sfu's shipped config loads, mapped where sfud has the meaning", async (t) => {
  const a = parseCli(['--config', fixture], {});
  if (a.kind !== 'run') {
    t.fail('not run');
    return;
  }
  const c = a.config;
  t.equal(a.configFile, fixture);
  t.equal(c.udpPort, 5000, 'portrange [5000, 5200] -> first port');
  t.equal(c.logLevel, 'debug', '[log] v = 1');
  t.equal(c.audioLevelIntervalMs, 1000);
  t.equal(c.audioLevelThreshold, 40);
  t.equal(c.audioLevelFilter, 20);
  t.equal(c.iceConsentTimeoutMs, 30_000, 'disconnected 5 + failed 25');
  t.equal(c.listen.host, '127.0.0.1', 'nothing in the file moves signalling off loopback');
  // Exactly the keys whose values ask for something sfud does not do warn, each naming file and key.
  const expected = ['[router] maxbandwidth', '[router] maxpackettrack', '[webrtc] mdns', '[webrtc.timeouts] keepalive'];
  t.equal(a.warnings.length, expected.length, a.warnings.join('\n'));
  for (const key of expected) t.ok(a.warnings.some((w) => w.startsWith(`${fixture}: `) && w.includes(key) && w.includes('no effect')), key);
  t.notOk(a.warnings.some((w) => w.includes('unknown key')), 'every key in the file is known');
});

t.test('precedence: defaults < file < environment < flags', async (t) => {
  const toml = '[sfud]\nlisten = "127.0.0.1:7100"\nudp-port = 6000\nshards = 2\nlog-level = "warn"\n';
  let c = withFile(toml).config;
  t.same(c.listen, { host: '127.0.0.1', port: 7100 });
  t.equal(c.udpPort, 6000);
  t.equal(c.logLevel, 'warn');
  t.equal(c.udpHost, '127.0.0.1', 'unset in the file: the default');

  c = withFile(toml, [], { SFUD_UDP_PORT: '6100', SFUD_LOG_LEVEL: 'error' }).config;
  t.equal(c.udpPort, 6100, 'env over file');
  t.equal(c.logLevel, 'error');
  t.equal(c.listen.port, 7100, 'file where env is silent');

  c = withFile(toml, ['--udp-port', '6200'], { SFUD_UDP_PORT: '6100' }).config;
  t.equal(c.udpPort, 6200, 'flag over env over file');
  t.equal(c.logLevel, 'warn');

  c = run({ 'env.toml': '[sfud]\nudp-port = 6300\n' }, [], { SFUD_CONFIG: 'env.toml' }).config;
  t.equal(c.udpPort, 6300, 'SFUD_CONFIG names the file');
});

t.test('every option has a [sfud] (or ion-sfu) key that sets it', async (t) => {
  // A valid TOML value per option, and the field it must land in.
  const samples: Record<string, [string, (c: SfuConfig) => unknown, unknown]> = {
    listen: ['"[::1]:7001"', (c) => c.listen, { host: '::1', port: 7001 }],
    'udp-port': ['6001', (c) => c.udpPort, 6001],
    'udp-host': ['"127.0.0.2"', (c) => c.udpHost, '127.0.0.2'],
    'announced-ip': ['"203.0.113.9"', (c) => c.announcedIp, '203.0.113.9'],
    shards: ['3', (c) => c.shards, 3],
    'room-shard-fanout': ['50', (c) => c.roomShardFanout, 50],
    'log-level': ['"trace"', (c) => c.logLevel, 'trace'],
    'log-format': ['"json"', (c) => c.logPretty, false],
    'tls-cert': ['"/etc/sfud/cert.pem"', (c) => c.tlsCert, '/etc/sfud/cert.pem'],
    'tls-key': ['"/etc/sfud/key.pem"', (c) => c.tlsKey, '/etc/sfud/key.pem'],
    'metrics-listen': ['":8100"', (c) => c.metricsListen, { host: '127.0.0.1', port: 8100 }],
    'jwt-secret': ['"0123456789abcdef0123456789abcdef"', (c) => c.jwtSecret, '0123456789abcdef0123456789abcdef'],
    'allowed-origins': ['["https://app.example.com", "HTTPS://B.example.com:8443/"]', (c) => c.allowedOrigins, ['https://app.example.com', 'https://b.example.com:8443']],
    'max-message-bytes': ['65536', (c) => c.maxMessageBytes, 65536],
    'max-sdp-bytes': ['32768', (c) => c.maxSdpBytes, 32768],
    'max-tracks-per-peer': ['4', (c) => c.maxTracksPerPeer, 4],
    'max-data-channels-per-peer': ['5', (c) => c.maxDataChannelsPerPeer, 5],
    'max-candidates-per-transport': ['6', (c) => c.maxCandidatesPerTransport, 6],
    'max-peers-per-room': ['7', (c) => c.maxPeersPerRoom, 7],
    'ip-connection-rate': ['2.5', (c) => c.ipConnectionRate, 2.5],
    'ip-connection-burst': ['8', (c) => c.ipConnectionBurst, 8],
    'ip-join-rate': ['0', (c) => c.ipJoinRate, 0],
    'ip-join-burst': ['9', (c) => c.ipJoinBurst, 9],
    'rate-limit-exempt': ['["10.0.0.0/8"]', (c) => c.rateLimitExempt, ['10.0.0.0/8']],
    'drain-timeout': ['12.5', (c) => c.drainTimeoutMs, 12_500],
    'webhook-url': ['"https://backend.example.com/hook"', (c) => c.webhookUrl, 'https://backend.example.com/hook'],
    'webhook-secret': ['"s3cret"', (c) => c.webhookSecret, 's3cret'],
    'ice-consent-timeout': ['20', (c) => c.iceConsentTimeoutMs, 20_000],
    'audio-level-interval': ['500', (c) => c.audioLevelIntervalMs, 500],
    'audio-level-threshold': ['50', (c) => c.audioLevelThreshold, 50],
    'audio-level-filter': ['30', (c) => c.audioLevelFilter, 30],
    'last-n': ['4', (c) => c.lastN, 4],
    'last-n-min-participants': ['20', (c) => c.lastNMinParticipants, 20],
    'loudest-k': ['3', (c) => c.loudestK, 3],
  };
  t.same(Object.keys(samples).sort(), OPTIONS.map((o) => o.name).sort(), 'a sample for every option (add one with a new option)');
  for (const o of OPTIONS) {
    const [value, field, want] = samples[o.name]!;
    const dot = o.toml.lastIndexOf('.');
    const { config, warnings } = withFile(`[${o.toml.slice(0, dot)}]\n${o.toml.slice(dot + 1)} = ${value}\n`, o.name.startsWith('tls-') ? [`--tls-${o.name === 'tls-cert' ? 'key' : 'cert'}`, 'x.pem'] : []);
    t.same(field(config), want, o.toml);
    t.notOk(warnings.some((w) => w.includes('unknown')), `${o.toml} is known`);
  }
});

t.test('unknown keys warn, naming the key and the file', async (t) => {
  const { warnings } = withFile('top = 1\n[sfud]\nbogus = 1\n[router]\nmaxbandwith = 3\n[nosuch]\na = 1\n[webrtc.timeouts]\nfailed = 25\nsoon = 1\n');
  for (const key of ['top', '[sfud] bogus', '[router] maxbandwith', '[nosuch]', '[webrtc.timeouts] soon']) {
    t.ok(warnings.some((w) => w === `sfu.toml: unknown key ${key}, ignored`), key);
  }
  t.equal(warnings.length, 5, warnings.join('\n'));
});

t.test('keys match case-insensitively, as ion-sfu reads them', async (t) => {
  const { config, warnings } = withFile('[Router]\nAudioLevelInterval = 500\n[SFUD]\nUDP-Port = 6400\n[Log]\nV = 2\n');
  t.equal(config.audioLevelIntervalMs, 500);
  t.equal(config.udpPort, 6400);
  t.equal(config.logLevel, 'trace');
  t.same(warnings, []);
});

t.test('invalid values are refused naming file, key, value and expected type', async (t) => {
  const cases: [string, RegExp][] = [
    ['[sfud]\nudp-port = "5000"', /^sfu\.toml: \[sfud\] udp-port = "5000": expected a port number/],
    ['[sfud]\nudp-port = 70000', /\[sfud\] udp-port = 70000: expected a port number/],
    ['[sfud]\nlisten = 7000', /\[sfud\] listen = 7000: expected HOST:PORT/],
    ['[sfud]\nlog-level = "loud"', /\[sfud\] log-level = "loud": expected one of fatal, error/],
    ['[sfud]\nallowed-origins = ["https://a.example.com/path"]', /\[sfud\] allowed-origins .*expected a list of origins.*nothing after/],
    ['[sfud]\njwt-secret = "short"', /\[sfud\] jwt-secret = "short": expected a string of at least 32 bytes/],
    ['[sfud]\nshards = 1.5', /\[sfud\] shards = 1\.5: expected an integer from 0 to 256/],
    ['[sfud]\nwebhook-url = "ftp://x"', /webhook-url = "ftp:\/\/x": expected an http/],
    ['[webrtc]\nportrange = [5200, 5000]', /\[webrtc\] portrange = \[5200,5000\]: expected two port numbers/],
    ['[webrtc]\nsingleport = "5000"', /\[webrtc\] singleport = "5000": expected a port number/],
    ['[webrtc]\nsdpsemantics = "plan-c"', /\[webrtc\] sdpsemantics = "plan-c": expected one of unified-plan/],
    ['[webrtc.candidates]\nnat1to1 = ["not-an-ip"]', /\[webrtc.candidates\] nat1to1 = \["not-an-ip"\]: expected a list of IP addresses/],
    ['[webrtc.timeouts]\nfailed = "25"', /\[webrtc.timeouts\] failed = "25": expected a number of seconds/],
    ['[router]\naudiolevelfilter = 101', /\[router\] audiolevelfilter = 101: expected an integer from 0 to 100/],
    ['[log]\nv = "debug"', /\[log\] v = "debug": expected an integer/],
    ['[sfu]\nballast = -1', /\[sfu\] ballast = -1: expected a non-negative integer/],
    ['[sfud\nx = 1', /sfu\.toml: not valid TOML \(line 1/],
  ];
  for (const [toml, re] of cases) {
    const err = t.throws(() => withFile(toml), re, toml);
    t.ok(err instanceof ConfigError, 'a ConfigError');
  }
  t.throws(() => run({}, ['-c', 'missing.toml']), /cannot read config file missing\.toml: ENOENT/);
});

t.test('ion-sfu key mapping details', async (t) => {
  let r = withFile('[webrtc]\nsingleport = 5100\nportrange = [5000, 5200]\n');
  t.equal(r.config.udpPort, 5100, 'singleport wins over portrange, in either order');
  r = withFile('[sfud]\nudp-port = 5300\n[webrtc]\nsingleport = 5100\n');
  t.equal(r.config.udpPort, 5300, '[sfud] udp-port wins over ion-sfu keys');
  r = withFile('[webrtc.candidates]\nnat1to1 = ["203.0.113.1", "203.0.113.2"]\nicelite = true\n');
  t.equal(r.config.announcedIp, '203.0.113.1');
  t.equal(r.warnings.length, 1);
  t.match(r.warnings[0], /nat1to1: sfud announces one address; 203\.0\.113\.2 ignored/);
  t.equal(withFile('[webrtc.candidates]\nnat1to1 = ["203.0.113.1"]\n', ['--announced-ip', '198.51.100.1']).config.announcedIp, '198.51.100.1');
  t.throws(() => withFile('[webrtc]\nportrange = [5000, 5001]\n', ['--shards', '4']), /portrange = \[5000, 5001\] has 2 ports, but 4 shards need ports 5000-5003/);
  t.equal(withFile('[webrtc]\nportrange = [5000, 5001]\n', ['--shards', '2']).config.udpPort, 5000);

  const warn = (toml: string): string[] => withFile(toml).warnings;
  t.same(warn('[turn]\nenabled = false\nrealm = "ion"\n'), [], 'a disabled TURN section is quiet');
  t.match(warn('[turn]\nenabled = true\n')[0], /\[turn\] enabled = true: sfud has no embedded TURN server/);
  t.match(warn('[[webrtc.iceserver]]\nurls = ["stun:stun.example.org"]\n')[0], /\[\[webrtc.iceserver\]\] has no effect/);
  t.match(warn('[webrtc]\nsdpsemantics = "plan-b"\n')[0], /sdpsemantics has no effect in sfud: sfud speaks unified plan only/);
  t.same(warn('[webrtc]\nsdpsemantics = "unified-plan"\nmdns = false\n[webrtc.candidates]\nicelite = true\n'), [], 'what sfud does anyway is quiet');
  t.match(warn('[webrtc.candidates]\nicelite = false\n')[0], /always ICE-lite/);
  t.match(warn('[router.simulcast]\nbestqualityfirst = false\n')[0], /bestqualityfirst has no effect/);
  t.match(warn('[sfu]\nballast = 1024\n')[0], /\[sfu\] ballast has no effect/);
  t.match(warn('[grpc]\nport = "50051"\n')[0], /no gRPC signalling/);
  t.equal(withFile('[webrtc.timeouts]\ndisconnected = 0\nfailed = 0\nkeepalive = 0\n').config.iceConsentTimeoutMs, 30_000, 'all zero: the default');
  t.equal(withFile('[webrtc.timeouts]\nfailed = 10\n').config.iceConsentTimeoutMs, 10_000);
  t.equal(withFile('[log]\nv = -1\n').config.logLevel, 'info');
});

t.test('cross-setting rules', async (t) => {
  t.throws(() => withFile('[sfud]\ntls-cert = "c.pem"\n'), /sfu\.toml: \[sfud\] tls-cert is set but --tls-key is not/);
  t.throws(() => run({}, ['--tls-key', 'k.pem']), /--tls-key is set but --tls-cert is not/);
  t.match(withFile('[sfud]\nwebhook-secret = "x"\n').warnings[0], /webhook-secret is set without --webhook-url/);
  t.match(run({}, ['--listen', '0.0.0.0:7000']).warnings[0], /without TLS or tokens/);
});

t.test('parseConfigFile is pure and reports its source per setting', async (t) => {
  const f = parseConfigFile(readFileSync(fixture, 'utf8'), 'x.toml');
  t.equal(f.settings.get('udp-port')?.source, 'x.toml: [webrtc] portrange');
  t.equal(f.settings.get('log-level')?.source, 'x.toml: [log] v');
});
