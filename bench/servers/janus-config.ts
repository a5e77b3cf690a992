/**
 * Janus configuration for the bench, pure: the files a scratch configs folder
 * needs so that Janus 1.1.x runs loopback-only with the VideoRoom plugin and
 * the HTTP and WebSocket transports, and nothing else.
 *
 * Janus never gathers ICE candidates on IFF_LOOPBACK interfaces, so it runs in
 * the bench's private network namespace where 127.0.0.2 sits on a veth link
 * (see bench/netns.ts): `interface` and `ice_enforce_list` name that address.
 * Every other setting is Janus's default (one event loop thread per handle,
 * full ICE, TWCC feedback), so the numbers describe Janus as shipped.
 */

export interface JanusConfigOptions {
  /** The scratch folder these files are written to (Janus's configs_folder). */
  configsFolder: string;
  /** Address Janus gathers candidates on (non-loopback link: 127.0.0.2 in the bench netns). */
  mediaIp: string;
  /** Address the HTTP and WebSocket APIs bind to. */
  apiIp: string;
  httpPort: number;
  wsPort: number;
  rtpPortRange: [number, number];
  /** File names in Janus's plugin, transport, event and logger folders (to disable all we do not use). */
  available: { plugins: readonly string[]; transports: readonly string[]; events: readonly string[]; loggers: readonly string[] };
  folders: { plugins: string; transports: string; events: string; loggers: string };
  /** 0-7; 3 is warnings and errors. */
  debugLevel?: number;
  /**
   * A fixed number of event-loop threads shared by all handles; absent: Janus's
   * default, one event loop and thread per handle.
   */
  eventLoops?: number;
}

export const JANUS_KEEP = { plugin: 'libjanus_videoroom.so', transports: ['libjanus_http.so', 'libjanus_websockets.so'] } as const;

/** Debian's layout, used when /etc/janus/janus.jcfg does not say otherwise. */
export const DEBIAN_JANUS_FOLDERS = {
  plugins: '/usr/lib/x86_64-linux-gnu/janus/plugins',
  transports: '/usr/lib/x86_64-linux-gnu/janus/transports',
  events: '/usr/lib/x86_64-linux-gnu/janus/events',
  loggers: '/usr/lib/x86_64-linux-gnu/janus/loggers',
} as const;

/** The *_folder settings of an existing janus.jcfg (the packaged one), else Debian's. */
export function foldersFromJcfg(text: string | undefined): JanusConfigOptions['folders'] {
  const pick = (key: string, fallback: string): string => {
    const m = text ? new RegExp(`^\\s*${key}_folder\\s*=\\s*"([^"]+)"`, 'm').exec(text) : null;
    return m?.[1] ?? fallback;
  };
  return {
    plugins: pick('plugins', DEBIAN_JANUS_FOLDERS.plugins),
    transports: pick('transports', DEBIAN_JANUS_FOLDERS.transports),
    events: pick('events', DEBIAN_JANUS_FOLDERS.events),
    loggers: pick('loggers', DEBIAN_JANUS_FOLDERS.loggers),
  };
}

/** Shared objects (real files, not the versioned symlinks) other than `keep`. */
function disableList(names: readonly string[], keep: readonly string[]): string {
  return names
    .filter((n) => n.endsWith('.so') && !keep.includes(n))
    .sort()
    .join(',');
}

function quote(s: string): string {
  if (/["\\\n]/.test(s)) throw new Error(`unsafe value for a Janus config: ${s}`);
  return `"${s}"`;
}

/** A libconfig group of `key = value` lines (values already quoted where they are strings). */
function section(name: string, entries: Record<string, string>): string[] {
  return [`${name}: {`, ...Object.entries(entries).map(([k, v]) => `\t${k} = ${v}`), '}'];
}

/** File name -> content for the configs folder. */
export function janusConfigFiles(o: JanusConfigOptions): Record<string, string> {
  const [lo, hi] = o.rtpPortRange;
  if (!(lo > 0 && hi >= lo && hi < 65536)) throw new Error(`bad RTP port range ${lo}-${hi}`);
  const jcfg = [
    'general: {',
    `\tconfigs_folder = ${quote(o.configsFolder)}`,
    `\tplugins_folder = ${quote(o.folders.plugins)}`,
    `\ttransports_folder = ${quote(o.folders.transports)}`,
    `\tevents_folder = ${quote(o.folders.events)}`,
    `\tloggers_folder = ${quote(o.folders.loggers)}`,
    `\tdebug_level = ${o.debugLevel ?? 3}`,
    `\tinterface = ${quote(o.mediaIp)}`,
    '\tserver_name = "sfud-bench"',
    '\tsession_timeout = 60',
    ...(o.eventLoops !== undefined ? [`\tevent_loops = ${Math.max(1, Math.floor(o.eventLoops))}`] : []),
    '}',
    'certificates: {',
    '}',
    'media: {',
    '\tipv6 = false',
    `\trtp_port_range = "${lo}-${hi}"`,
    '}',
    'nat: {',
    '\tnice_debug = false',
    `\tice_enforce_list = ${quote(o.mediaIp)}`,
    '\tignore_mdns = true',
    '}',
    'plugins: {',
    `\tdisable = ${quote(disableList(o.available.plugins, [JANUS_KEEP.plugin]))}`,
    '}',
    'transports: {',
    `\tdisable = ${quote(disableList(o.available.transports, JANUS_KEEP.transports))}`,
    '}',
    'loggers: {',
    `\tdisable = ${quote(disableList(o.available.loggers, []))}`,
    '}',
    'events: {',
    '\tbroadcast = false',
    `\tdisable = ${quote(disableList(o.available.events, []))}`,
    '}',
    '',
  ].join('\n');
  // The two API transports: plain only, no admin API, on the bench address.
  const http = [
    ...section('general', { json: '"compact"', base_path: '"/janus"', http: 'true', port: String(o.httpPort), ip: quote(o.apiIp), https: 'false' }),
    ...section('admin', { admin_http: 'false', admin_https: 'false' }),
    ...section('cors', {}),
    '',
  ].join('\n');
  const ws = [
    ...section('general', { json: '"compact"', ws: 'true', ws_port: String(o.wsPort), ws_ip: quote(o.apiIp), wss: 'false' }),
    ...section('admin', { admin_ws: 'false', admin_wss: 'false' }),
    ...section('cors', {}),
    '',
  ].join('\n');
  // No rooms from config: the bench creates its own through the API.
  const videoroom = ['general: {', '}', ''].join('\n');
  return {
    'janus.jcfg': jcfg,
    'janus.transport.http.jcfg': http,
    'janus.transport.websockets.jcfg': ws,
    'janus.plugin.videoroom.jcfg': videoroom,
  };
}
