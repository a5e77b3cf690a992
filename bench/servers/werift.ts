/**
 * The naive werift SFU baseline (werift-naive.ts) as a server under test: its
 * own Node process speaking ion-sfu JSON-RPC, driven exactly like sfud.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freeTcpPort, spawnLogged, stopChild, waitForHttp } from './process.js';
import { joinIon } from './ion.js';
import type { RunningServer, ServerSpec, StartContext } from './types.js';

const PROGRAM = 'dist/bench/servers/werift-naive.js';

export const weriftServer: ServerSpec = {
  name: 'werift-naive',
  describe: 'a naive werift 0.24.4 SFU (one RTCPeerConnection per direction, onReceiveRtp -> sendRtp), ion-sfu JSON-RPC',
  available(ctx) {
    return existsSync(join(ctx.root, PROGRAM)) ? { ok: true } : { ok: false, reason: `${PROGRAM} is missing`, hint: 'npm run build' };
  },
  async start(ctx: StartContext): Promise<RunningServer> {
    const host = ctx.clientHost;
    const port = await freeTcpPort(host);
    const nodeArgs = ctx.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.cpuProfDir] : [];
    const c = spawnLogged(process.execPath, [...nodeArgs, join(ctx.root, PROGRAM), '--listen', `${host}:${port}`, '--host', host]);
    await waitForHttp(c, `http://${host}:${port}/health`, 'werift-naive');
    const url = `ws://${host}:${port}/ws`;
    return {
      name: 'werift-naive',
      pid: c.pid,
      // werift binds one ephemeral UDP port per connection: any port that is not a client's.
      isServerPort: () => false,
      join: (o) => joinIon(url, host, o),
      info: { signalling: url, werift: '0.24.4' },
      log: () => c.log,
      stop: () => stopChild(c),
    };
  },
};
