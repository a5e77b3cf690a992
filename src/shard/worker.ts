/**
 * A shard's entry point (a worker thread): one `ShardHost` driven by the
 * main thread over the protocol in protocol.ts. Its logger writes pino lines
 * to the main thread, its webhooks are forwarded there, and its metrics
 * registry is serialised on request; nothing else leaves the thread.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { pino } from 'pino';
import { ShardHost } from './host.js';
import { MessagePortLink } from '../pipe/link.js';
import { SfuMetrics } from '../metrics/metrics.js';
import { DropLog } from '../metrics/drop-log.js';
import { forwardRoomEvents } from '../webhooks/room-events.js';
import type { IonPeer } from '../signal/ion-peer.js';
import type { SignalNotifier } from '../signal/jsonrpc/types.js';
import type { FromShard, SessionNote, ShardInit, ShardOps, ToShard } from './protocol.js';

if (!parentPort) throw new Error('the shard entry runs in a worker thread');
const port: MessagePort = parentPort;
const init = workerData as ShardInit;
const post = (m: FromShard): void => port.postMessage(m);

const logger = pino({ level: init.logLevel, base: { shard: init.index } }, { write: (line: string) => post({ t: 'log', line }) });
const host = new ShardHost({ config: init.config, logger, roomPolicy: init.roomPolicy });
const unused = (): never => {
  throw new Error('no signalling in a shard');
};
const metrics = new SfuMetrics(
  { media: () => host.server, rooms: host.rooms, signal: unused },
  { shard: String(init.index), perPeerLabels: init.perPeerLabels, controlPlane: false },
);
const dropLog = new DropLog({ logger, totals: () => metrics.dropTotals() });
if (init.webhooks) forwardRoomEvents(host.rooms, { send: (event, body) => post({ t: 'webhook', event, body }) });

const sessions = new Map<number, IonPeer>();

function notifier(session: number): SignalNotifier {
  const note = (n: SessionNote): void => post({ t: 'note', session, note: n });
  return {
    offer: (desc) => note({ kind: 'offer', desc }),
    trickle: (target, candidate) => note({ kind: 'trickle', target, candidate }),
    close: (reason) => note({ kind: 'close', reason }),
    event: (method, params) => note({ kind: 'event', method, params }),
  };
}

function session(id: number): IonPeer {
  const s = sessions.get(id);
  if (!s) throw new Error('no rtc transport exists for this Peer');
  return s;
}

type Handlers = { [K in keyof ShardOps]: (args: ShardOps[K][0]) => ShardOps[K][1] | Promise<ShardOps[K][1]> };

const handlers: Handlers = {
  async join({ session: id, params }) {
    // A session is one join attempt: the main thread numbers a retry afresh.
    const peer = host.createSession(notifier(id), { quality: metrics.linkQuality, onRefusal: (reason) => post({ t: 'refusal', reason }) });
    sessions.set(id, peer);
    try {
      return await peer.join(params);
    } catch (err) {
      sessions.delete(id);
      peer.close();
      throw err;
    }
  },
  offer: ({ session: id, desc }) => session(id).offer(desc),
  answer: async ({ session: id, desc }) => {
    await session(id).answer(desc);
    return null;
  },
  trickle: async ({ session: id, target, candidate }) => {
    await session(id).trickle(target, candidate);
    return null;
  },
  listRooms: () => host.listRooms(),
  getRoom: ({ sid }) => host.getRoom(sid) ?? null,
  closeRoom: ({ sid }) => host.closeRoom(sid),
  removePeer: ({ sid, uid }) => host.removePeer(sid, uid),
  setPreferredLayers: ({ sid, uid, streamId, layers }) => host.setPreferredLayers(sid, uid, streamId, layers),
  setLastN: ({ sid, uid, n, pinned }) => host.setLastN(sid, uid, n ?? undefined, pinned),
  occupancy: ({ sid, uid }) => host.occupancy(sid, uid),
  metrics: () => metrics.json(),
  heartbeat: () => host.load(),
  crash: ({ mode }) => {
    if (!init.testHooks) throw new Error('test hooks are off');
    // Deferred, so the reply goes out and the failure looks like one from the data plane.
    setTimeout(() => {
      switch (mode) {
        case 'exit':
          process.exit(1);
          break;
        case 'throw':
          throw new Error('shard test hook: thrown');
        case 'spin':
          for (;;);
      }
    }, 10);
    return null;
  },
};

async function onRequest(id: number, op: keyof ShardOps, args: unknown): Promise<void> {
  try {
    const handler = handlers[op] as (a: unknown) => unknown;
    post({ t: 'res', id, value: await handler(args) });
  } catch (err) {
    const e = err as { message?: unknown; code?: unknown };
    post({ t: 'err', id, message: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined });
  }
}

async function stop(): Promise<void> {
  for (const s of sessions.values()) s.close();
  sessions.clear();
  dropLog.close();
  metrics.close();
  await host.close();
  post({ t: 'stopped' });
  port.close();
}

port.on('message', (m: ToShard) => {
  switch (m.t) {
    case 'req':
      void onRequest(m.id, m.op, m.args);
      return;
    case 'closeSession': {
      const s = sessions.get(m.session);
      sessions.delete(m.session);
      s?.close();
      return;
    }
    case 'pipe':
      host.pipes.open(m.sid, m.peer, new MessagePortLink(m.port));
      return;
    case 'unpipe':
      host.pipes.close(m.sid, m.peer);
      return;
    case 'stop':
      void stop();
      return;
  }
});

await host.listen(init.port, init.certificate);
metrics.attach();
logger.info({ udp: `${init.config.udpHost}:${host.port}` }, 'shard media listening');
post({ t: 'ready', port: host.port });
