/**
 * Issue 7, part 3: which transport for the pipe between two shards? One
 * sender thread and one receiver thread move N RTP packets (1200 bytes)
 * three ways, in one invocation:
 *
 *  - port-batched: what src/pipe/link.ts does. Each "turn" of the sender
 *    (a burst of packets, as one poll phase of a shard's socket reads)
 *    copies its packets into one buffer (RtpBatchWriter) and posts it with
 *    the ArrayBuffer transferred; the receiver walks it (readRtpBatch).
 *  - port-per-packet: one postMessage per packet (structured-clone copy),
 *    the naive baseline.
 *  - sab-ring: a SharedArrayBuffer byte ring; the sender copies records in
 *    and bumps a counter, the receiver is woken by `Atomics.waitAsync` (a
 *    shard cannot block its loop in `Atomics.wait`) and reads the packets in
 *    place.
 *
 * Flow control is the same for all three: at most --window packets in
 * flight, the sender waits (Atomics.waitAsync, no spinning) on the
 * receiver's count. CPU per packet on each side is event-loop active time
 * (performance.eventLoopUtilization) over N; max packets/s is N over the
 * wall time. Ratios are against port-batched, within this run.
 *
 *   npm run bench:pipe -- --packets 200000 --burst 32 --runs 3
 */
import { Worker, isMainThread, parentPort, workerData, MessageChannel, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { readRtpBatch, RtpBatchWriter } from '../src/pipe/messages.js';

type Mode = 'port-batched' | 'port-per-packet' | 'sab-ring';
const MODES: Mode[] = ['port-batched', 'port-per-packet', 'sab-ring'];
const PACKET_BYTES = 1200;
const RING_BYTES = 8 * 1024 * 1024;

interface Job {
  role: 'send' | 'recv';
  mode: Mode;
  packets: number;
  burst: number;
  window: number;
  port: MessagePort;
  /** [0] received packets, [1] ring write offset (total bytes), [2] ring read offset, [3] ring publish counter. */
  ctl: SharedArrayBuffer;
  ring: SharedArrayBuffer;
}

interface Result {
  activeMs: number;
  wallMs: number;
  checksum: number;
}

/** ES2024 `Atomics.waitAsync` (in Node since 16; not in the TypeScript lib this project targets). */
type WaitAsync = (a: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync.bind(Atomics);

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function send(job: Job): Promise<Result> {
  const ctl = new Int32Array(job.ctl);
  const ring = Buffer.from(job.ring);
  const pkt = Buffer.alloc(PACKET_BYTES, 0x5a);
  pkt[0] = 0x80;
  pkt[1] = 96;
  let writer = new RtpBatchWriter(64 * 1024);
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let sent = 0;
  let write = 0;
  while (sent < job.packets) {
    const received = Atomics.load(ctl, 0);
    if (sent - received >= job.window) {
      const w = waitAsync(ctl, 0, received);
      if (w.async) await w.value;
      continue;
    }
    const n = Math.min(job.burst, job.packets - sent, job.window - (sent - received));
    for (let i = 0; i < n; i++) {
      pkt.writeUInt16BE((sent + i) & 0xffff, 2);
      switch (job.mode) {
        case 'port-batched':
          if (!writer.add(1, 0, 0, pkt, 0, PACKET_BYTES)) {
            postBatch(job.port, writer);
            writer = new RtpBatchWriter(64 * 1024);
            writer.add(1, 0, 0, pkt, 0, PACKET_BYTES);
          }
          break;
        case 'port-per-packet':
          job.port.postMessage(pkt);
          break;
        case 'sab-ring': {
          // Records are [u16 length][bytes]; one that would cross the end starts at 0 (length 0xffff marks the skip).
          let at = write % RING_BYTES;
          if (at + 2 + PACKET_BYTES > RING_BYTES) {
            ring.writeUInt16BE(0xffff, at);
            write += RING_BYTES - at;
            at = 0;
          }
          ring.writeUInt16BE(PACKET_BYTES, at);
          pkt.copy(ring, at + 2);
          write += 2 + PACKET_BYTES;
          break;
        }
      }
    }
    sent += n;
    if (job.mode === 'port-batched') postBatch(job.port, writer);
    if (job.mode === 'sab-ring') {
      Atomics.store(ctl, 1, write);
      Atomics.add(ctl, 3, 1);
      Atomics.notify(ctl, 3);
    }
    // The end of a turn, as in a shard: the batch leaves, other work may run.
    await turn();
  }
  const elu = performance.eventLoopUtilization(elu0);
  return { activeMs: elu.active, wallMs: performance.now() - t0, checksum: 0 };
}

function postBatch(port: MessagePort, writer: RtpBatchWriter): void {
  const b = writer.take();
  if (!b) return;
  const ab = b.buffer as ArrayBuffer;
  port.postMessage({ b: ab, o: b.byteOffset, n: b.length }, [ab]);
}

function recv(job: Job): Promise<Result> {
  const ctl = new Int32Array(job.ctl);
  const ring = Buffer.from(job.ring);
  let got = 0;
  let checksum = 0;
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  // What a shard does per packet at least: look at the header (the producer parses it in place).
  const touch = (buf: Buffer, off: number): void => {
    checksum = (checksum + buf[off + 3]!) | 0;
  };
  return new Promise((resolve) => {
    const done = (): void => {
      const elu = performance.eventLoopUtilization(elu0);
      job.port.close();
      resolve({ activeMs: elu.active, wallMs: performance.now() - t0, checksum });
    };
    const ack = (n: number): void => {
      got += n;
      Atomics.add(ctl, 0, n);
      Atomics.notify(ctl, 0);
      if (got >= job.packets) done();
    };
    switch (job.mode) {
      case 'port-batched':
        job.port.on('message', (m: { b: ArrayBuffer; o: number; n: number }) => {
          const buf = Buffer.from(m.b, m.o, m.n);
          ack(readRtpBatch(buf, 0, buf.length, (_id, _e, _f, b, off) => touch(b, off)));
        });
        return;
      case 'port-per-packet':
        job.port.on('message', (m: Uint8Array) => {
          touch(Buffer.from(m.buffer, m.byteOffset, m.byteLength), 0);
          ack(1);
        });
        return;
      case 'sab-ring': {
        let read = 0;
        const drain = (): void => {
          const seen = Atomics.load(ctl, 3);
          const write = Atomics.load(ctl, 1);
          let n = 0;
          while (read < write) {
            let at = read % RING_BYTES;
            let len = ring.readUInt16BE(at);
            if (len === 0xffff) {
              read += RING_BYTES - at;
              at = 0;
              len = ring.readUInt16BE(0);
            }
            touch(ring, at + 2);
            read += 2 + len;
            n++;
          }
          Atomics.store(ctl, 2, read);
          if (n > 0) ack(n);
          if (got >= job.packets) return;
          const w = waitAsync(ctl, 3, seen);
          if (w.async) void (w.value as Promise<string>).then(drain);
          else setImmediate(drain);
        };
        drain();
        return;
      }
    }
  });
}

if (!isMainThread) {
  const job = workerData as Job;
  // A pending Atomics.waitAsync does not keep a thread alive: this does, until the job is done.
  const keepAlive = setInterval(() => undefined, 1000);
  const result = await (job.role === 'send' ? send(job) : recv(job));
  clearInterval(keepAlive);
  parentPort!.postMessage(result);
} else {
  const args = process.argv.slice(2);
  const opt = (name: string, def: number): number => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const packets = opt('packets', 200_000);
  const burst = opt('burst', 32);
  const window = opt('window', 2048);
  const runs = opt('runs', 3);

  const once = async (mode: Mode): Promise<{ send: Result; recv: Result }> => {
    const { port1, port2 } = new MessageChannel();
    const ctl = new SharedArrayBuffer(16);
    const ring = new SharedArrayBuffer(RING_BYTES);
    const start = (role: 'send' | 'recv', port: MessagePort): Promise<Result> =>
      new Promise((resolve, reject) => {
        const w = new Worker(new URL(import.meta.url), { workerData: { role, mode, packets, burst, window, port, ctl, ring } satisfies Job, transferList: [port] });
        w.once('message', (r: Result) => {
          resolve(r);
          void w.terminate();
        });
        w.once('error', reject);
      });
    const r = start('recv', port2);
    const s = start('send', port1);
    return { send: await s, recv: await r };
  };

  console.log(`pipe transports: ${packets} packets of ${PACKET_BYTES} bytes, bursts of ${burst}, window ${window}, best of ${runs} runs (Node ${process.version})`);
  const best = new Map<Mode, { pps: number; sendUs: number; recvUs: number }>();
  for (let r = 0; r < runs; r++) {
    for (const mode of MODES) {
      const { send: s, recv: v } = await once(mode);
      const row = { pps: packets / (Math.max(s.wallMs, v.wallMs) / 1000), sendUs: (s.activeMs * 1000) / packets, recvUs: (v.activeMs * 1000) / packets };
      const prev = best.get(mode);
      if (!prev || row.pps > prev.pps) best.set(mode, row);
    }
  }
  const base = best.get('port-batched')!;
  console.log('| transport | packets/s | sender us/packet | receiver us/packet | packets/s vs port-batched | sender CPU vs | receiver CPU vs |');
  console.log('|---|---|---|---|---|---|---|');
  for (const mode of MODES) {
    const b = best.get(mode)!;
    console.log(
      `| ${mode} | ${Math.round(b.pps)} | ${b.sendUs.toFixed(2)} | ${b.recvUs.toFixed(2)} | ${(b.pps / base.pps).toFixed(2)} | ${(b.sendUs / base.sendUs).toFixed(2)} | ${(b.recvUs / base.recvUs).toFixed(2)} |`,
    );
  }
}
