/**
 * Transport-wide congestion control feedback, receive side
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01,
 * https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01).
 * The wire layout is in `../rtcp/twcc.ts`; this unit decides what goes in it.
 *
 * Per packet, `onPacket` unwraps the 16-bit transport-wide seq and records the
 * first arrival in a ring (`window` slots, a power of two) indexed by
 * `extSeq & mask`; a slot is "received" when it holds that exact extended
 * seq. Duplicates keep the first arrival; packets older than the window are
 * ignored. Nothing allocates per packet.
 *
 * About every 100 ms the caller runs `buildFeedback`, which reports the range
 * from the first unreported seq to the highest one (libwebrtc's periodic
 * mode): a late packet below that range moves its start back, so the
 * packets after it are reported again (senders accept repeats). Per packet:
 * - reference time = floor(first received arrival / 64 ms), 24 bits;
 * - deltas in 250 us units against a cursor that advances by the quantized
 *   deltas, so rounding never accumulates (within 125 us of the truth);
 * - 0..255 units is a small delta, -32768..32767 a large one; a delta that
 *   fits neither ends the packet and the next starts at that seq with its
 *   own reference time;
 * - a packet ends before it would exceed `maxPacketBytes` (bounded by
 *   2 bytes per 7 statuses for chunks, which the chunk writer never exceeds).
 * `buildFeedback` allocates its packet objects; it runs at 10 Hz, not per packet.
 */
import { TwccStatus } from '../rtcp/types.js';
import type { TwccPacket, TwccPacketStatus } from '../rtcp/types.js';
import { Unwrapper } from '../seq.js';

export interface TwccRecorderOptions {
  /** Arrivals kept, a power of two in 64..32768 (default 8192). */
  window?: number;
  /** Upper bound on one feedback packet's size in bytes (default 1200). */
  maxPacketBytes?: number;
}

const SMALL_MAX = 0xff;
const LARGE_MIN = -0x8000;
const LARGE_MAX = 0x7fff;

export class TwccRecorder {
  readonly window: number;
  readonly maxPacketBytes: number;
  private readonly mask: number;
  private readonly unwrapper = new Unwrapper(16);
  private readonly arrivals: Float64Array;
  private readonly seqOf: Float64Array;
  /** First extended seq not yet reported, and the highest received; -1 before the first packet. */
  private start = -1;
  private maxSeq = -1;
  private pending = false;

  /** Next feedback packet count (0..255). */
  fbPktCount = 0;
  packetsReceived = 0;
  duplicates = 0;
  tooOld = 0;
  feedbackPackets = 0;

  constructor(opts: TwccRecorderOptions = {}) {
    const window = opts.window ?? 8192;
    if (!Number.isInteger(window) || window < 64 || window > 32768 || (window & (window - 1)) !== 0) {
      throw new RangeError(`TwccRecorder window must be a power of two in 64..32768, got ${window}`);
    }
    this.window = window;
    this.mask = window - 1;
    this.maxPacketBytes = opts.maxPacketBytes ?? 1200;
    this.arrivals = new Float64Array(window);
    this.seqOf = new Float64Array(window).fill(-1);
  }

  /** Records the arrival (ms, from the injected clock) of transport-wide seq `seq16`. */
  onPacket(seq16: number, arrivalMs: number): void {
    const ext = this.unwrapper.update(seq16);
    const max = this.maxSeq;
    if (max >= 0 && ext <= max - this.window) {
      this.tooOld++;
      return;
    }
    const i = ext & this.mask;
    if (this.seqOf[i] === ext) {
      this.duplicates++;
      return;
    }
    this.seqOf[i] = ext;
    this.arrivals[i] = arrivalMs;
    this.packetsReceived++;
    this.pending = true;
    if (ext > max) {
      this.maxSeq = ext;
      // Never report more than the ring remembers.
      if (this.start >= 0 && ext - this.start >= this.window) this.start = ext - this.window + 1;
    }
    if (this.start < 0 || ext < this.start) this.start = ext;
  }

  /** True when packets arrived since the last feedback. */
  get hasPending(): boolean {
    return this.pending;
  }

  /**
   * Appends feedback packets covering everything unreported to `out` and
   * returns how many were added (0 when nothing arrived since the last call).
   */
  buildFeedback(senderSsrc: number, mediaSsrc: number, out: TwccPacket[]): number {
    if (!this.pending) return 0;
    const mask = this.mask;
    const end = this.maxSeq;
    let s = this.start;
    let built = 0;
    while (s <= end) {
      // Reference time from the first received packet at or after s (end itself is received).
      let r = s;
      while (this.seqOf[r & mask] !== r) r++;
      const ref = Math.floor(this.arrivals[r & mask]! / 64);
      let cursorMs = ref * 64;
      const base = s;
      const packets: TwccPacketStatus[] = [];
      let deltaBytes = 0;
      for (; s <= end; s++) {
        const i = s & mask;
        if (this.seqOf[i] !== s) {
          if (packets.length > 0 && packetBytes(packets.length + 1, deltaBytes) > this.maxPacketBytes) break;
          packets.push({ status: TwccStatus.NotReceived, deltaUs: 0 });
          continue;
        }
        const units = Math.round((this.arrivals[i]! - cursorMs) * 4);
        const small = units >= 0 && units <= SMALL_MAX;
        // (Cannot happen on a packet's first received seq: the reference time comes from it.)
        if (!small && (units < LARGE_MIN || units > LARGE_MAX)) break;
        const add = small ? 1 : 2;
        if (packets.length > 0 && packetBytes(packets.length + 1, deltaBytes + add) > this.maxPacketBytes) break;
        packets.push({ status: small ? TwccStatus.SmallDelta : TwccStatus.LargeDelta, deltaUs: units * 250 });
        deltaBytes += add;
        cursorMs += units / 4;
      }
      out.push({
        type: 'twcc',
        senderSsrc: senderSsrc >>> 0,
        mediaSsrc: mediaSsrc >>> 0,
        baseSeq: base & 0xffff,
        referenceTime: ref & 0xffffff,
        fbPktCount: this.fbPktCount,
        packets,
      });
      this.fbPktCount = (this.fbPktCount + 1) & 0xff;
      built++;
    }
    this.start = end + 1;
    this.pending = false;
    this.feedbackPackets += built;
    return built;
  }

  toJSON(): Record<string, number> {
    return {
      packetsReceived: this.packetsReceived,
      duplicates: this.duplicates,
      tooOld: this.tooOld,
      feedbackPackets: this.feedbackPackets,
      highestSeq: this.maxSeq,
    };
  }
}

/** Upper bound of a feedback packet's size: header, chunks (each covers >= 7 statuses), deltas, padding. */
function packetBytes(statuses: number, deltaBytes: number): number {
  return 20 + 2 * Math.ceil(statuses / 7) + deltaBytes + 3;
}
