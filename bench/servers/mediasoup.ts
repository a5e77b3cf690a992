/**
 * mediasoup as a server under test: its npm package built from source with
 * Debian's libraries (bench/servers/mediasoup-setup.sh, never a dependency of
 * sfud), behind ion-sfu's JSON-RPC (mediasoup-ion.ts), so the same load
 * generator drives it. Its CPU is the Node process and its C++ worker.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnMediasoup } from '../support/servers.js';
import { joinIon } from './ion.js';
import type { RunningServer, ServerSpec, StartContext } from './types.js';

/** Where mediasoup-setup.sh builds it (gitignored). */
const BUILT = 'bench/.peers/mediasoup/node_modules/mediasoup/worker/out/Release/mediasoup-worker';

export const mediasoupServer: ServerSpec = {
  name: 'mediasoup',
  describe: 'mediasoup 3 (npm, worker built from source), one worker, behind ion-sfu JSON-RPC (bench/servers/mediasoup-ion.ts)',
  available(ctx) {
    if (!existsSync(join(ctx.root, 'dist/bench/servers/mediasoup-ion.js'))) return { ok: false, reason: 'dist/bench/servers/mediasoup-ion.js is missing', hint: 'npm run build' };
    if (!existsSync(join(ctx.root, BUILT))) return { ok: false, reason: 'mediasoup is not built', hint: 'sh bench/servers/mediasoup-setup.sh' };
    return { ok: true };
  },
  async start(ctx: StartContext): Promise<RunningServer> {
    const host = ctx.clientHost;
    const nodeArgs = ctx.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.cpuProfDir] : [];
    const { ready, stop, log } = await spawnMediasoup({ host, nodeArgs });
    const ports = new Set(ready.udpPorts);
    return {
      name: 'mediasoup',
      pid: ready.pid,
      extraPids: ready.workerPids,
      isServerPort: (p) => ports.has(p),
      join: (o) => joinIon(ready.ws, host, o),
      info: { signalling: ready.ws, workers: ready.workerPids.length, udpPorts: ready.udpPorts },
      log: () => log,
      stop,
    };
  },
};
