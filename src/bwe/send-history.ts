/**
 * Transport-wide sequence numbers on egress, and what was sent under each
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01): one per subscriber
 * transport. Every RTP packet sfud sends on the transport gets the next
 * number in its transport-cc header extension; the subscriber's feedback
 * (RTPFB FMT 15) names those numbers with arrival times, and `toResults`
 * pairs them with send times and sizes for the bandwidth estimator.
 *
 * A ring of typed arrays (no allocation per packet): 8192 entries is ~8 s of
 * history at 1000 packets/s, far more than feedback ever lags.
 */
import { writeTransportWideSeq } from '../rtp/extensions.js';
import type { TwccPacket } from '../rtp/rtcp/index.js';
import { TwccStatus } from '../rtp/rtcp/index.js';
import type { PacketResult } from './estimator.js';

const SIZE = 8192;
const MASK = SIZE - 1;

export class SendHistory {
  /** Next transport-wide sequence number, extended (never wraps here). */
  private next = 1;
  private readonly seq = new Int32Array(SIZE).fill(-1);
  private readonly sentMs = new Float64Array(SIZE);
  private readonly size = new Uint16Array(SIZE);
  private readonly probe = new Int16Array(SIZE);
  private readonly resent = new Uint8Array(SIZE);
  /**
   * The probe cluster running now (-1: none): every packet sent meanwhile,
   * media and padding, belongs to it, since the estimator measures a
   * cluster's rate from all of its packets.
   */
  activeCluster = -1;
  /** Highest extended sequence number any feedback reported (to unwrap the 16-bit base). */
  private lastFeedbackSeq = 0;
  packetsStamped = 0;
  /** Bytes of every packet stamped so far (a probe counts what went out during it). */
  bytesStamped = 0;
  feedbackPackets = 0;
  /** Reported numbers we have no send record for (too old, or never sent). */
  unknownReports = 0;

  /**
   * Writes the next number into the transport-cc extension value at `at`
   * (2 bytes) and records the packet (`retransmission`: a NACKed packet
   * sent again). Returns the 16-bit number written.
   */
  stamp(buf: Buffer, at: number, bytes: number, nowMs: number, probeCluster = this.activeCluster, retransmission = false): number {
    const ext = this.next++;
    const i = ext & MASK;
    this.seq[i] = ext;
    this.sentMs[i] = nowMs;
    this.size[i] = bytes > 0xffff ? 0xffff : bytes;
    this.probe[i] = probeCluster;
    this.resent[i] = retransmission ? 1 : 0;
    this.packetsStamped++;
    this.bytesStamped += bytes;
    writeTransportWideSeq(ext & 0xffff, buf, at);
    return ext & 0xffff;
  }

  /**
   * One feedback message as results in sequence order (arrival -1 for
   * packets reported lost); entries we never sent or no longer remember are
   * skipped. Arrival times are the receiver's clock in ms.
   */
  toResults(fb: TwccPacket, out: PacketResult[]): PacketResult[] {
    out.length = 0;
    this.feedbackPackets++;
    // Unwrap the 16-bit base against what we sent: the closest extended number.
    const sentMax = this.next - 1;
    let base = (sentMax & ~0xffff) | fb.baseSeq;
    if (base > sentMax + 0x8000) base -= 0x10000;
    else if (base < sentMax - 0x8000) base += 0x10000;
    let arrivalUs = fb.referenceTime * 64_000;
    for (let k = 0; k < fb.packets.length; k++) {
      const p = fb.packets[k]!;
      const ext = base + k;
      let arrivalMs = -1;
      if (p.status !== TwccStatus.NotReceived) {
        arrivalUs += p.deltaUs;
        arrivalMs = arrivalUs / 1000;
      }
      const i = ext & MASK;
      if (ext <= 0 || this.seq[i] !== ext) {
        this.unknownReports++;
        continue;
      }
      out.push({ sendMs: this.sentMs[i]!, size: this.size[i]!, arrivalMs, probeCluster: this.probe[i]!, retransmission: this.resent[i] === 1 });
    }
    if (base + fb.packets.length - 1 > this.lastFeedbackSeq) this.lastFeedbackSeq = base + fb.packets.length - 1;
    return out;
  }

  toJSON(): Record<string, number> {
    return { packetsStamped: this.packetsStamped, feedbackPackets: this.feedbackPackets, unknownReports: this.unknownReports };
  }
}
