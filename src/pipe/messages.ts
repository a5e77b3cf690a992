/**
 * What crosses a pipe between two parts of one room (two shards today, two
 * nodes later): control messages as plain JSON-able values, and RTP packets
 * (decrypted, as the publisher sent them) packed into batches.
 *
 * Nothing here knows the transport: a MessagePort carries control messages
 * by structured clone and batches as transferred ArrayBuffers; a UDP link
 * would carry both as datagrams. `parseControl` validates what arrives, so a
 * peer that sends garbage costs a counted drop, never an exception.
 *
 * RTP batch (all integers big-endian):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |            count              |  pipe id (packet 1)           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |   encoding    |     flags     |            length             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                 RTP packet (length bytes) ...                 |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  pipe id (packet 2) ...
 */
import type { EncodingOptions, MediaKind, RouterCodec } from '../router/producer.js';

/** Per-packet header in a batch: pipe id u16, encoding u8, flags u8, length u16. */
export const PIPE_PACKET_HEADER = 6;
/** Flag: a retransmission asked for over the pipe; the far side stores it and forwards nothing. */
export const PIPE_FLAG_REPAIR = 1;
/** Every spatial layer (the `wanted` mask a sender starts with). */
export const ALL_LAYERS = 0xff;

/** What the far side needs to create a producer that consumers attach to like a local one. */
export interface PipedProducer {
  kind: MediaKind;
  streamId: string;
  trackId: string;
  mid: string;
  codecs: RouterCodec[];
  encodings: EncodingOptions[];
  extensionIds: { audioLevel?: number; transportWideCc?: number; mid?: number; rid?: number; repairedRid?: number };
  feedback: { pli?: boolean; fir?: boolean };
  /** The publisher's extension map (consumers map extension ids through it). */
  extensions: Record<string, string>;
  paused: boolean;
}

export type PipeControl =
  /** I (re)attached to the room: announce your members and tracks, send me everything until I say otherwise. */
  | { t: 'sync' }
  /** My part of the room closed: forget what I announced and send me nothing. */
  | { t: 'reset' }
  | { t: 'member'; uid: string; joined: boolean }
  | { t: 'producer'; id: number; owner: string; producer: PipedProducer }
  | { t: 'producerClosed'; id: number }
  | { t: 'paused'; id: number; paused: boolean }
  /** A sender report of an encoding (NTP seconds and fraction, RTP timestamp): consumers align simulcast layers with it. */
  | { t: 'sr'; id: number; encoding: number; ntpSec: number; ntpFrac: number; rtp: number }
  /** Upstream: a keyframe of spatial `layer` of producer `id`. */
  | { t: 'keyframe'; id: number; layer: number }
  /** Upstream: packets (16-bit seqs) of an encoding the far side could not serve from its store. */
  | { t: 'nack'; id: number; encoding: number; seqs: number[] }
  /** Upstream: the spatial layers (bit i = layer i) the far side's consumers need; 0 = none. */
  | { t: 'wanted'; id: number; layers: number }
  /** A publisher announced the simulcast layers it sends of a stream (ion-sfu `layers`). */
  | { t: 'layers'; streamId: string; layers: number[] }
  /** A member opened a fan-out data channel with this label. */
  | { t: 'fanoutLabel'; label: string }
  /** A fan-out data-channel message (text, or binary as bytes). */
  | { t: 'fanout'; label: string; data: string | Uint8Array };

const isInt = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length <= 4096;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function validProducer(p: unknown): p is PipedProducer {
  if (!isObj(p)) return false;
  if (p.kind !== 'audio' && p.kind !== 'video') return false;
  if (!isStr(p.streamId) || !isStr(p.trackId) || !isStr(p.mid) || typeof p.paused !== 'boolean') return false;
  if (!Array.isArray(p.codecs) || p.codecs.length === 0 || p.codecs.length > 64) return false;
  if (!p.codecs.every((c) => isObj(c) && isInt(c.payloadType, 127) && isStr(c.kind) && isStr(c.mimeType) && isInt(c.clockRate, 1e7))) return false;
  if (!Array.isArray(p.encodings) || p.encodings.length === 0 || p.encodings.length > 8) return false;
  if (!p.encodings.every((e) => isObj(e) && isInt(e.ssrc, 0xffffffff))) return false;
  return isObj(p.extensionIds) && isObj(p.feedback) && isObj(p.extensions);
}

/** The control message in `m`, or null when it is not one (counted by the caller). */
export function parseControl(m: unknown): PipeControl | null {
  if (!isObj(m)) return null;
  switch (m.t) {
    case 'sync':
    case 'reset':
      return m as PipeControl;
    case 'member':
      return isStr(m.uid) && typeof m.joined === 'boolean' ? (m as PipeControl) : null;
    case 'producer':
      return isInt(m.id, 0xffff) && isStr(m.owner) && validProducer(m.producer) ? (m as PipeControl) : null;
    case 'producerClosed':
      return isInt(m.id, 0xffff) ? (m as PipeControl) : null;
    case 'paused':
      return isInt(m.id, 0xffff) && typeof m.paused === 'boolean' ? (m as PipeControl) : null;
    case 'keyframe':
      return isInt(m.id, 0xffff) && isInt(m.layer, 7) ? (m as PipeControl) : null;
    case 'sr':
      return isInt(m.id, 0xffff) && isInt(m.encoding, 7) && isInt(m.ntpSec, 0xffffffff) && isInt(m.ntpFrac, 0xffffffff) && isInt(m.rtp, 0xffffffff)
        ? (m as PipeControl)
        : null;
    case 'nack':
      return isInt(m.id, 0xffff) && isInt(m.encoding, 7) && Array.isArray(m.seqs) && m.seqs.length <= 1024 && m.seqs.every((s) => isInt(s, 0xffff))
        ? (m as PipeControl)
        : null;
    case 'wanted':
      return isInt(m.id, 0xffff) && isInt(m.layers, ALL_LAYERS) ? (m as PipeControl) : null;
    case 'fanoutLabel':
      return isStr(m.label) ? (m as PipeControl) : null;
    case 'layers':
      return isStr(m.streamId) && Array.isArray(m.layers) && m.layers.length <= 8 && m.layers.every((l) => isInt(l, 7)) ? (m as PipeControl) : null;
    case 'fanout':
      return isStr(m.label) && (typeof m.data === 'string' || m.data instanceof Uint8Array) ? (m as PipeControl) : null;
    default:
      return null;
  }
}

/**
 * Packs RTP packets into one buffer (STYLE.md 4). Packets are copied into a
 * reused scratch buffer; `take` copies the batch into a buffer of exactly its
 * size that the caller may transfer. bench/pipe.ts: a fresh 64 KiB buffer per
 * batch cost ~40 us a batch, which small batches (a few packets a turn, the
 * common case) pay per packet; the second copy costs a memcpy. `add`
 * returns false when the packet does not fit: the caller sends what it has
 * and starts a new batch.
 */
export class RtpBatchWriter {
  private readonly buf: Buffer;
  private used = 2;
  private n = 0;

  constructor(readonly capacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(capacity);
  }

  get count(): number {
    return this.n;
  }

  get byteLength(): number {
    return this.used;
  }

  add(pipeId: number, encoding: number, flags: number, src: Buffer, offset: number, length: number): boolean {
    if (length > 0xffff || this.n === 0xffff || this.used + PIPE_PACKET_HEADER + length > this.capacity) return false;
    const b = this.buf;
    let p = this.used;
    b.writeUInt16BE(pipeId & 0xffff, p);
    b[p + 2] = encoding & 0xff;
    b[p + 3] = flags & 0xff;
    b.writeUInt16BE(length, p + 4);
    p += PIPE_PACKET_HEADER;
    src.copy(b, p, offset, offset + length);
    this.used = p + length;
    this.n++;
    return true;
  }

  /**
   * The batch so far in a buffer of its own, of exactly its size (its
   * ArrayBuffer may be transferred), or undefined when empty; the writer
   * starts a new batch.
   */
  take(): Buffer | undefined {
    if (this.n === 0) return undefined;
    this.buf.writeUInt16BE(this.n, 0);
    const out = Buffer.from(new ArrayBuffer(this.used));
    this.buf.copy(out, 0, 0, this.used);
    this.used = 2;
    this.n = 0;
    return out;
  }
}

export type RtpBatchVisitor = (pipeId: number, encoding: number, flags: number, buf: Buffer, offset: number, length: number) => void;

/**
 * Calls `visit` for each packet of a batch (views into `buf`, no copy).
 * Returns the number of packets visited, or -1 when the batch is malformed
 * (what came before the bad entry was visited).
 */
export function readRtpBatch(buf: Buffer, offset: number, length: number, visit: RtpBatchVisitor): number {
  if (length < 2) return -1;
  const end = offset + length;
  const count = buf.readUInt16BE(offset);
  let p = offset + 2;
  for (let i = 0; i < count; i++) {
    if (p + PIPE_PACKET_HEADER > end) return -1;
    const len = buf.readUInt16BE(p + 4);
    const at = p + PIPE_PACKET_HEADER;
    if (at + len > end) return -1;
    visit(buf.readUInt16BE(p), buf[p + 2]!, buf[p + 3]!, buf, at, len);
    p = at + len;
  }
  return p === end ? count : -1;
}
