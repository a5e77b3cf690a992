/**
 * sfud itself: the built daemon (`dist/bin/sfud.js`) in its own process, so
 * its CPU (all threads, /proc) is measured apart from the load generator's.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freeTcpPort, freeUdpPort, spawnLogged, stopChild, waitForHttp } from './process.js';
import { joinIon } from './ion.js';
import type { BandwidthEvents, RunningServer, ServerSpec, StartContext } from './types.js';

export const sfudServer: ServerSpec = {
  name: 'sfud',
  describe: 'sfud daemon (dist/bin/sfud.js), ion-sfu JSON-RPC, ICE-lite',
  available(ctx) {
    return existsSync(join(ctx.root, 'dist/bin/sfud.js')) ? { ok: true } : { ok: false, reason: 'dist/bin/sfud.js is missing', hint: 'npm run build' };
  },
  async start(ctx: StartContext): Promise<RunningServer> {
    const host = ctx.clientHost;
    const httpPort = await freeTcpPort(host);
    const udpPort = await freeUdpPort(host);
    const nodeArgs = ctx.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.cpuProfDir] : [];
    const c = spawnLogged(process.execPath, [
      ...nodeArgs,
      join(ctx.root, 'dist/bin/sfud.js'),
      '--listen',
      `${host}:${httpPort}`,
      '--udp-host',
      host,
      '--udp-port',
      String(udpPort),
      '--log-level',
      'warn',
      // Every scenario here is one room, which lives on one shard: one shard keeps the media port
      // accounting exact and the idle worker out of the figures (bench:shards measures shards).
      '--shards',
      '1',
    ]);
    // /ready, not /health: joins need the media shard up.
    await waitForHttp(c, `http://${host}:${httpPort}/ready`, 'sfud');
    const url = `ws://${host}:${httpPort}/ws`;
    return {
      name: 'sfud',
      pid: c.pid,
      isServerPort: (p) => p === udpPort,
      join: (o) => joinIon(url, host, o),
      info: { signalling: url, udpPort },
      bandwidthEvents: async () => parseBandwidthEvents(await (await fetch(`http://${host}:${httpPort}/metrics`)).text()),
      log: () => c.log,
      stop: () => stopChild(c),
    };
  },
};

/** The sample of one exact series (`name{labels}`) in Prometheus text; 0 when absent. */
function sample(text: string, series: string): number {
  const at = text.indexOf(`\n${series} `);
  if (at < 0) return 0;
  // parseFloat stops at the end of the number (the line's end).
  const v = Number.parseFloat(text.slice(at + series.length + 2));
  return Number.isFinite(v) ? v : 0;
}

/** sfud's bandwidth decisions, from its /metrics text. */
export function parseBandwidthEvents(text: string): BandwidthEvents {
  const t = `\n${text}`;
  return {
    congestionStops: sample(t, 'sfud_layer_changes_total{event="congestion_stop"}'),
    pacerDropped: sample(t, 'sfud_pacer_packets_total{what="dropped"}'),
    limitedSubscribers: sample(t, 'sfud_downlink_subscribers{state="limited"}'),
    videoWithoutLayer: sample(t, 'sfud_consumer_layers{layer="none"}'),
  };
}
