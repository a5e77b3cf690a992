/**
 * A pipe link: one ordered, bidirectional channel between two parts of a
 * room (DESIGN.md "Rooms larger than a shard"). The room side (PipeRoom)
 * sees only this interface, so a link between worker threads (a
 * MessagePort, below) and a later one between nodes (UDP) are
 * interchangeable.
 *
 * RTP is batched per event-loop turn: `sendRtp` copies the packet into the
 * current batch and the batch leaves once the turn's I/O is done (one
 * `setImmediate` per batch, not per packet), or earlier when it is full.
 * bench/pipe.ts measures this against per-packet messages and a
 * SharedArrayBuffer ring (2 vCPU, Node 20, 1200-byte packets, a busy
 * machine): at 32 packets a turn batches cost 1.9 us to send and 1.0 us to
 * receive per packet, per-packet messages 3.2 and 5.9 (0.4x the rate); the
 * ring 1.9 and 0.9 (1.05x the rate). At 4 packets a turn the ring
 * receives for 0.4x the CPU of a batch (1.8 vs 4.2 us) and runs 1.8x
 * faster. Both are small next to the ~11 us each subscriber copy costs,
 * and a ring needs its own wake-up, sizing and overflow policy per shard
 * pair and has no cross-machine sibling: MessagePort batches for now.
 */
import type { MessagePort } from 'node:worker_threads';
import { parseControl, readRtpBatch, RtpBatchWriter, type PipeControl, type RtpBatchVisitor } from './messages.js';

export interface PipeCounters {
  packetsOut: number;
  bytesOut: number;
  batchesOut: number;
  packetsIn: number;
  bytesIn: number;
  batchesIn: number;
  controlOut: number;
  controlIn: number;
}

/** Why something that crossed (or was to cross) a pipe was not used. */
export interface PipeDrops {
  /** A packet larger than a batch can hold. */
  tooLarge: number;
  /** Sent after the link closed. */
  closed: number;
  /** A batch or control message that does not parse. */
  malformed: number;
  /** Arrived while this side had no room to give it to. */
  noRoom: number;
  /** RTP or upstream feedback for a pipe id that is not (or no longer) announced. */
  unknownProducer: number;
}

export function emptyCounters(): PipeCounters {
  return { packetsOut: 0, bytesOut: 0, batchesOut: 0, packetsIn: 0, bytesIn: 0, batchesIn: 0, controlOut: 0, controlIn: 0 };
}

export function emptyDrops(): PipeDrops {
  return { tooLarge: 0, closed: 0, malformed: 0, noRoom: 0, unknownProducer: 0 };
}

export interface PipeLinkHandlers {
  rtp: RtpBatchVisitor;
  control(m: PipeControl): void;
}

export interface PipeLink {
  /** Queues one RTP packet (copied now, sent with this turn's batch). False: dropped and counted. */
  sendRtp(pipeId: number, encoding: number, flags: number, buf: Buffer, offset: number, length: number): boolean;
  sendControl(m: PipeControl): void;
  /** Where incoming traffic goes (replaced when the room side attaches or detaches). */
  handlers: PipeLinkHandlers;
  /** Called once when the link closes (by either side, or the far side died). */
  onClose: ((reason: string) => void) | undefined;
  readonly closed: boolean;
  readonly counters: PipeCounters;
  readonly drops: PipeDrops;
  close(): void;
}

/** Traffic nobody takes: counted as `noRoom`. */
export function unattachedHandlers(drops: PipeDrops): PipeLinkHandlers {
  return {
    rtp: () => drops.noRoom++,
    control: () => drops.noRoom++,
  };
}

/** What travels on the port: a batch of RTP (its ArrayBuffer transferred) or one control message. */
type PortMessage = { t: 'rtp'; b: ArrayBuffer; o: number; n: number } | PipeControl;

/** A pipe link between two worker threads over an entangled MessagePort pair. */
export class MessagePortLink implements PipeLink {
  readonly counters = emptyCounters();
  readonly drops = emptyDrops();
  handlers: PipeLinkHandlers;
  onClose: ((reason: string) => void) | undefined;
  private writer = new RtpBatchWriter();
  private flushScheduled = false;
  private _closed = false;
  private readonly flushNow = (): void => this.flush();

  constructor(private readonly port: MessagePort) {
    this.handlers = unattachedHandlers(this.drops);
    port.on('message', (m: PortMessage) => this.onMessage(m));
    port.on('close', () => this.closed_('the other side closed the pipe'));
  }

  get closed(): boolean {
    return this._closed;
  }

  sendRtp(pipeId: number, encoding: number, flags: number, buf: Buffer, offset: number, length: number): boolean {
    if (this._closed) {
      this.drops.closed++;
      return false;
    }
    if (!this.writer.add(pipeId, encoding, flags, buf, offset, length)) {
      if (this.writer.count === 0) {
        this.drops.tooLarge++;
        return false;
      }
      this.flush();
      if (!this.writer.add(pipeId, encoding, flags, buf, offset, length)) {
        this.drops.tooLarge++;
        return false;
      }
    }
    this.counters.packetsOut++;
    this.counters.bytesOut += length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
    return true;
  }

  /** Sends the current batch now (control messages keep their order relative to RTP). */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.writer.take();
    if (!batch || this._closed) return;
    this.counters.batchesOut++;
    const ab = batch.buffer as ArrayBuffer;
    this.port.postMessage({ t: 'rtp', b: ab, o: batch.byteOffset, n: batch.length } satisfies PortMessage, [ab]);
  }

  sendControl(m: PipeControl): void {
    if (this._closed) {
      this.drops.closed++;
      return;
    }
    // Packets queued before this message go first (a producer's last packets before its close).
    this.flush();
    this.counters.controlOut++;
    this.port.postMessage(m);
  }

  private onMessage(m: PortMessage): void {
    if (this._closed) return;
    if (typeof m === 'object' && m !== null && m.t === 'rtp') {
      if (!(m.b instanceof ArrayBuffer) || typeof m.o !== 'number' || typeof m.n !== 'number' || m.o + m.n > m.b.byteLength) {
        this.drops.malformed++;
        return;
      }
      this.counters.batchesIn++;
      const buf = Buffer.from(m.b, m.o, m.n);
      const c = this.counters;
      const rtp = this.handlers.rtp;
      const n = readRtpBatch(buf, 0, buf.length, (id, enc, flags, b, off, len) => {
        c.packetsIn++;
        c.bytesIn += len;
        rtp(id, enc, flags, b, off, len);
      });
      if (n < 0) this.drops.malformed++;
      return;
    }
    const msg = parseControl(m);
    if (!msg) {
      this.drops.malformed++;
      return;
    }
    this.counters.controlIn++;
    this.handlers.control(msg);
  }

  private closed_(reason: string): void {
    if (this._closed) return;
    this._closed = true;
    this.port.close();
    this.onClose?.(reason);
  }

  close(): void {
    this.flush();
    this.closed_('closed');
  }
}
