// A UDP relay in front of sfud's media port, for link-condition tests: the
// client talks to the relay's front socket, the relay forwards to sfud from
// its back socket (so sfud sees one client tuple). Either direction can drop
// RTP by a rule, and the sfud -> client direction can be shaped: a FIFO
// drained at `rateBps` with a bounded queue (a bottleneck link: delay builds
// up, then packets drop), which is what a congestion controller must detect.
import { createSocket, type Socket } from 'node:dgram';
import { udpDropsByPort } from '../../bench/loadgen/proc.js';
import { once } from 'node:events';

export interface RelayOptions {
  /** Drop this client -> sfud datagram (RTP and RTCP both pass through here). */
  dropUp?: (msg: Buffer) => boolean;
  /** Drop this sfud -> client datagram before shaping. */
  dropDown?: (msg: Buffer) => boolean;
  /** Queue limit of the shaped direction, in ms of the current rate (default 200). */
  queueMs?: number;
  /** Only datagrams from these addresses are relayed (keeps every test datagram on loopback). */
  accept: (address: string) => boolean;
}

export interface Relay {
  port: number;
  /** Down-leg rate limit in bits per second; 0 = unlimited. */
  rateBps: number;
  readonly counts: { up: number; down: number; shapedDrops: number; queuedBytes: number };
  /**
   * Datagrams the kernel dropped at the relay's own sockets (receive buffer
   * full while this process was busy): real loss on the link that the
   * relay's shaping did not decide.
   */
  kernelDrops(): number;
  close(): void;
}

/** True for an RTP datagram (not RTCP: payload types 64-95 after masking the marker are RTCP's 192-223). */
export function isRtp(msg: Buffer): boolean {
  const b = msg[0]!;
  const pt = msg[1]! & 0x7f;
  return msg.length >= 12 && b >= 128 && b <= 191 && !(pt >= 64 && pt <= 95);
}

export async function startRelay(sfuPort: number, opts: RelayOptions): Promise<Relay> {
  const front: Socket = createSocket('udp4');
  const back: Socket = createSocket('udp4');
  front.bind(0, '127.0.0.1');
  back.bind(0, '127.0.0.1');
  await Promise.all([once(front, 'listening'), once(back, 'listening')]);
  // A stalled test process must not turn into loss the link did not decide: 2 MiB is seconds of media.
  back.setRecvBufferSize(2 * 1024 * 1024);
  front.setRecvBufferSize(2 * 1024 * 1024);
  const ports = [front.address().port, back.address().port];
  let client: { address: string; port: number } | undefined;
  const queue: Buffer[] = [];
  let head = 0;
  let credit = 0;
  let last = performance.now();
  const relay: Relay = {
    port: front.address().port,
    rateBps: 0,
    counts: { up: 0, down: 0, shapedDrops: 0, queuedBytes: 0 },
    kernelDrops: () => {
      const drops = udpDropsByPort();
      return ports.reduce((n, p) => n + (drops.get(p) ?? 0), 0);
    },
    close: () => {
      clearInterval(drain);
      front.close();
      back.close();
    },
  };
  const deliver = (msg: Buffer) => {
    if (!client) return;
    relay.counts.down++;
    front.send(msg, client.port, client.address);
  };
  // Every 2 ms the link gets rate x elapsed bits of credit to send queued datagrams.
  const drain = setInterval(() => {
    const now = performance.now();
    const elapsed = now - last;
    last = now;
    if (relay.rateBps <= 0) {
      while (head < queue.length) deliver(queue[head++]!);
    } else {
      credit = Math.min(credit + (relay.rateBps / 8) * (elapsed / 1000), 3000);
      while (head < queue.length && credit >= queue[head]!.length) {
        const m = queue[head++]!;
        credit -= m.length;
        relay.counts.queuedBytes -= m.length;
        deliver(m);
      }
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
      relay.counts.queuedBytes = 0;
    }
  }, 2);
  front.on('message', (msg, rinfo) => {
    if (!opts.accept(rinfo.address)) return;
    client = { address: rinfo.address, port: rinfo.port };
    if (opts.dropUp?.(msg)) return;
    relay.counts.up++;
    back.send(msg, sfuPort, '127.0.0.1');
  });
  back.on('message', (msg) => {
    if (!client || opts.dropDown?.(msg)) return;
    if (relay.rateBps <= 0 && queue.length === head) {
      deliver(msg);
      return;
    }
    const limit = ((relay.rateBps || 1e9) / 8) * ((opts.queueMs ?? 200) / 1000);
    if (relay.counts.queuedBytes + msg.length > limit) {
      relay.counts.shapedDrops++;
      return;
    }
    queue.push(msg);
    relay.counts.queuedBytes += msg.length;
  });
  return relay;
}

/** Points every sfud candidate in an SDP at the relay instead. */
export function viaRelay(sdp: string, sfuPort: number, relayPort: number): string {
  return sdp.replace(new RegExp(` ${sfuPort} typ host`, 'g'), ` ${relayPort} typ host`);
}
