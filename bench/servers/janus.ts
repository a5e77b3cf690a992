/**
 * Janus (the Debian package, 1.1.x) with its VideoRoom plugin as a server
 * under test. The bench writes a loopback-only configuration to its scratch
 * folder (janus-config.ts), starts `janus` in the foreground, waits for
 * `GET /janus/info`, creates rooms through the API and stops Janus with
 * SIGTERM. Clients use the WebSocket API (loadgen/janus.ts).
 *
 * Janus must run inside the bench's network namespace (netns.ts): it never
 * gathers candidates on loopback interfaces, and there 127.0.0.2 sits on a
 * veth link. Not installed: `available()` says how to install it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createVideoRoom, JanusClient, JanusSession } from '../loadgen/janus.js';
import { NETNS_HOST } from '../netns.js';
import { foldersFromJcfg, janusConfigFiles } from './janus-config.js';
import { freeTcpPort, spawnLogged, stopChild, waitForHttp } from './process.js';
import type { BenchClient, JoinOptions, RunningServer, ServerSpec, StartContext } from './types.js';

export const JANUS_INSTALL = 'apt-get update && apt-get install -y janus';
/** Where Janus gathers candidates inside the bench netns (a veth address, not IFF_LOOPBACK). */
export const JANUS_MEDIA_IP = NETNS_HOST;
const RTP_PORTS: [number, number] = [20000, 20999];

/** The installed Janus's version, or undefined when `janus` is not on PATH. */
export function janusVersion(): string | undefined {
  // Janus 1.1 has no --version; --help prints "Janus version: 1102 (1.1.2)" first.
  const r = spawnSync('janus', ['--help'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return undefined;
  return /Janus version:\s*\d+\s*\(([^)]+)\)/.exec(`${r.stdout}${r.stderr}`)?.[1];
}

function listSo(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.endsWith('.so'));
  } catch {
    return [];
  }
}

interface RoomState {
  id: number;
  feeds: number[];
  subscribers: Set<JanusClient>;
}

/**
 * Janus as a server under test. `eventLoops` replaces Janus's default (a
 * thread per handle) with that many shared event-loop threads: a tuning a
 * Janus operator would try on few cores, benched as a separate server.
 */
export function janusSpec(name: string, eventLoops?: number): ServerSpec {
  return {
    name,
    describe:
      'Janus WebRTC Server (Debian package) with the VideoRoom plugin, WebSocket API, full ICE (libnice), ' +
      (eventLoops === undefined ? 'default threading (one event loop per handle)' : `event_loops = ${eventLoops}`),
    available(ctx) {
      if (janusVersion() === undefined) return { ok: false, reason: 'janus is not installed', hint: JANUS_INSTALL };
      if (!ctx.inNetns) {
        return {
          ok: false,
          reason: 'Janus needs the bench network namespace (it never gathers ICE candidates on loopback interfaces)',
          hint: 'run as root, or where `unshare -rn` works, without --no-netns',
        };
      }
      return { ok: true };
    },
    async start(ctx: StartContext): Promise<RunningServer> {
      const version = janusVersion() ?? '?';
      const dir = join(ctx.scratch, 'janus');
      const conf = join(dir, 'conf');
      mkdirSync(conf, { recursive: true });
      let packaged: string | undefined;
      try {
        packaged = readFileSync('/etc/janus/janus.jcfg', 'utf8');
      } catch {
        packaged = undefined;
      }
      const folders = foldersFromJcfg(packaged);
      const apiIp = ctx.clientHost;
      const httpPort = await freeTcpPort(apiIp);
      const wsPort = await freeTcpPort(apiIp);
      const files = janusConfigFiles({
        configsFolder: conf,
        mediaIp: JANUS_MEDIA_IP,
        apiIp,
        httpPort,
        wsPort,
        rtpPortRange: RTP_PORTS,
        available: { plugins: listSo(folders.plugins), transports: listSo(folders.transports), events: listSo(folders.events), loggers: listSo(folders.loggers) },
        folders,
        // Janus's own log verbosity (0-7) when debugging the bench itself.
        debugLevel: Number(process.env.SFUD_BENCH_JANUS_DEBUG ?? 3),
        eventLoops,
      });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(conf, name), text);
      const c = spawnLogged('janus', ['-C', join(conf, 'janus.jcfg'), '-F', conf, '-o']);
      await waitForHttp(c, `http://${apiIp}:${httpPort}/janus/info`, 'janus');
      const wsUrl = `ws://${apiIp}:${wsPort}/`;

      const control = await JanusSession.create(wsUrl);
      const controlHandle = await control.attach();
      const rooms = new Map<string, Promise<RoomState>>();
      let nextRoom = 1000;
      const room = (name: string): Promise<RoomState> => {
        let r = rooms.get(name);
        if (!r) {
          const id = nextRoom++;
          // audiolevel_event: Janus then tracks who talks, as sfud's audioLevels observer always does.
          r = createVideoRoom(control, controlHandle, id, { audiolevel_event: true }).then(() => ({ id, feeds: [], subscribers: new Set<JanusClient>() }));
          rooms.set(name, r);
        }
        return r;
      };

      const joinJanus = async (o: JoinOptions): Promise<BenchClient> => {
        const r = await room(o.room);
        const client = await JanusClient.create({
          url: wsUrl,
          room: r.id,
          uid: o.uid,
          cert: o.cert,
          host: ctx.clientHost,
          prefer: [JANUS_MEDIA_IP],
          publish: o.publish,
          subscribe: o.subscribe,
          timeoutMs: o.timeoutMs,
        });
        try {
          if (client.feedId !== undefined) {
            r.feeds.push(client.feedId);
            // Those already in the room receive the new feed: Janus renegotiates their subscriptions.
            for (const s of r.subscribers) void s.addFeeds([client.feedId]).catch(() => {});
          }
          if (o.subscribe) {
            r.subscribers.add(client);
            await client.addFeeds(r.feeds);
          }
        } catch (err) {
          r.subscribers.delete(client);
          client.close();
          throw err;
        }
        return {
          get source() {
            return client.source;
          },
          get sink() {
            return client.sink;
          },
          get ports() {
            return client.ports;
          },
          get srtpProfile() {
            return client.srtpProfile;
          },
          describe: () => `${client.describe()}${client.feedId !== undefined ? ` (publishes ${String(client.feedId).slice(-4)})` : ''}`,
          close() {
            r.subscribers.delete(client);
            if (client.feedId !== undefined) r.feeds = r.feeds.filter((f) => f !== client.feedId);
            client.close();
          },
        };
      };

      return {
        name,
        pid: c.pid,
        isServerPort: (p) => p >= RTP_PORTS[0] && p <= RTP_PORTS[1],
        join: joinJanus,
        info: {
          version,
          websocket: wsUrl,
          mediaIp: JANUS_MEDIA_IP,
          rtpPorts: RTP_PORTS.join('-'),
          eventLoops: eventLoops ?? 'one per handle (default)',
          config: 'defaults plus loopback-only ICE (bench/servers/janus-config.ts)',
        },
        log: () => c.log,
        async stop() {
          control.close();
          await stopChild(c);
        },
      };
    },
  };
}

export const janusServer = janusSpec('janus');
/**
 * Janus with two shared event loops (as many as the bench machine's cores): how
 * an operator would tune it for a small box. Benched next to the default so
 * that sfud is compared with Janus at its best too.
 */
export const janusLoopsServer = janusSpec('janus-2loops', 2);
