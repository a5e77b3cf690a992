// The Janus configuration the bench writes (bench/servers/janus-config.ts):
// loopback-only ICE on the namespace's veth address, only VideoRoom and the
// HTTP/WebSocket transports loaded, APIs on the bench address.
import t from 'tap';
import { DEBIAN_JANUS_FOLDERS, foldersFromJcfg, janusConfigFiles, type JanusConfigOptions } from '../../bench/servers/janus-config.js';

const so = (names: string[]): string[] => names.flatMap((n) => [`libjanus_${n}.so`, `libjanus_${n}.so.1`, `libjanus_${n}.so.1.1.2`]);

const opts: JanusConfigOptions = {
  configsFolder: '/tmp/x/janus/conf',
  mediaIp: '127.0.0.2',
  apiIp: '127.0.0.2',
  httpPort: 18088,
  wsPort: 18188,
  rtpPortRange: [20000, 20999],
  available: {
    plugins: so(['videoroom', 'echotest', 'sip', 'streaming']),
    transports: so(['http', 'websockets', 'pfunix', 'mqtt']),
    events: so(['sampleevh', 'wsevh']),
    loggers: so(['jsonlog']),
  },
  folders: DEBIAN_JANUS_FOLDERS,
};

function setting(text: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*(.+)$`, 'm').exec(text)?.[1];
}

t.test('janus.jcfg: ICE only on the veth address, one plugin, two transports', async (t) => {
  const f = janusConfigFiles(opts);
  t.same(Object.keys(f).sort(), ['janus.jcfg', 'janus.plugin.videoroom.jcfg', 'janus.transport.http.jcfg', 'janus.transport.websockets.jcfg']);
  const j = f['janus.jcfg']!;
  t.equal(setting(j, 'interface'), '"127.0.0.2"');
  t.equal(setting(j, 'ice_enforce_list'), '"127.0.0.2"');
  t.equal(setting(j, 'configs_folder'), '"/tmp/x/janus/conf"');
  t.equal(setting(j, 'plugins_folder'), `"${DEBIAN_JANUS_FOLDERS.plugins}"`);
  t.equal(setting(j, 'rtp_port_range'), '"20000-20999"');
  t.equal(setting(j, 'debug_level'), '3');
  t.equal(setting(j, 'ipv6'), 'false');
  // Only the real .so names, never the versioned symlinks; the kept ones are absent.
  t.equal(/plugins: \{\n\tdisable = "([^"]*)"/.exec(j)?.[1], 'libjanus_echotest.so,libjanus_sip.so,libjanus_streaming.so');
  t.equal(/transports: \{\n\tdisable = "([^"]*)"/.exec(j)?.[1], 'libjanus_mqtt.so,libjanus_pfunix.so');
  t.equal(/loggers: \{\n\tdisable = "([^"]*)"/.exec(j)?.[1], 'libjanus_jsonlog.so');
  t.equal(/events: \{\n\tbroadcast = false\n\tdisable = "([^"]*)"/.exec(j)?.[1], 'libjanus_sampleevh.so,libjanus_wsevh.so');
  // Sections balanced (libconfig syntax).
  t.equal((j.match(/\{/g) ?? []).length, (j.match(/\}/g) ?? []).length);
});

t.test('transports bind the bench address and ports; no admin API', async (t) => {
  const f = janusConfigFiles({ ...opts, debugLevel: 5 });
  t.equal(setting(f['janus.jcfg']!, 'debug_level'), '5');
  const http = f['janus.transport.http.jcfg']!;
  t.equal(setting(http, 'port'), '18088');
  t.equal(setting(http, 'ip'), '"127.0.0.2"');
  t.equal(setting(http, 'admin_http'), 'false');
  const ws = f['janus.transport.websockets.jcfg']!;
  t.equal(setting(ws, 'ws_port'), '18188');
  t.equal(setting(ws, 'ws_ip'), '"127.0.0.2"');
  t.equal(setting(ws, 'admin_ws'), 'false');
  t.notMatch(f['janus.plugin.videoroom.jcfg']!, /room-/, 'no sample rooms');
});

t.test('bad input is refused, not written', async (t) => {
  t.throws(() => janusConfigFiles({ ...opts, rtpPortRange: [3000, 2000] }), /port range/);
  t.throws(() => janusConfigFiles({ ...opts, configsFolder: '/tmp/"quoted"' }), /unsafe/);
});

t.test('folders come from the packaged janus.jcfg when it names them', async (t) => {
  t.same(foldersFromJcfg(undefined), DEBIAN_JANUS_FOLDERS);
  const text = 'general: {\n\tconfigs_folder = "/etc/janus"\n\tplugins_folder = "/opt/janus/lib/janus/plugins"\t# Plugins folder\n}\n';
  t.same(foldersFromJcfg(text), { ...DEBIAN_JANUS_FOLDERS, plugins: '/opt/janus/lib/janus/plugins' });
  t.same(foldersFromJcfg('#plugins_folder = "/nope"\n'), DEBIAN_JANUS_FOLDERS, 'commented out: ignored');
});
