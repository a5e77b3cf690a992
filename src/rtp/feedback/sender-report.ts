/**
 * Sender report state for one outgoing SSRC, RFC 3550 6.4.1
 * (https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1).
 *
 * The SR pairs a wall-clock NTP time with the RTP timestamp "that corresponds
 * to the same time", so receivers can sync audio and video. An SFU does not
 * sample media; it extrapolates from the newest timestamp it sent:
 *
 *   rtp = lastTs + (now - timeLastTsWasFirstSent) * clockRate / 1000   (mod 2^32)
 *
 * Only a newer timestamp moves the anchor (32-bit serial comparison), so a
 * retransmission or a later packet of the same frame does not skew it.
 * Packet count counts every RTP packet sent; octet count is payload octets
 * only (no header, no padding), both mod 2^32 as the fields wrap.
 */
import { msToNtpFrac, msToNtpSec } from '../rtcp/ntp.js';
import type { SenderReportPacket } from '../rtcp/types.js';

const TWO_32 = 2 ** 32;

export class SenderReportGenerator {
  readonly ssrc: number;
  readonly clockRate: number;
  packetCount = 0;
  octetCount = 0;
  private lastTs = 0;
  private lastTsMs = -1;

  constructor(ssrc: number, clockRate: number) {
    this.ssrc = ssrc >>> 0;
    this.clockRate = clockRate;
  }

  /** Accounts one RTP packet sent: its timestamp, its payload size, and when. */
  onPacketSent(rtpTimestamp: number, payloadBytes: number, nowMs: number): void {
    this.packetCount = (this.packetCount + 1) % TWO_32;
    this.octetCount = (this.octetCount + payloadBytes) % TWO_32;
    if (this.lastTsMs < 0 || ((rtpTimestamp - this.lastTs) | 0) > 0) {
      this.lastTs = rtpTimestamp >>> 0;
      this.lastTsMs = nowMs;
    }
  }

  /** True once a packet was sent (RFC 3550: only active senders send SRs). */
  get active(): boolean {
    return this.lastTsMs >= 0;
  }

  /** The RTP timestamp for monotonic time `nowMs`, extrapolated from the newest one sent. */
  rtpTimestampAt(nowMs: number): number {
    const elapsed = nowMs - this.lastTsMs;
    return (this.lastTs + Math.round((elapsed * this.clockRate) / 1000)) >>> 0;
  }

  /**
   * Fills the sender info of `out` (SSRC, NTP time, RTP time, counts) for
   * monotonic time `nowMs`, whose wall-clock reading on the NTP time line is
   * `ntpNowMs` (ms since 1900: Unix ms + NTP_UNIX_OFFSET_MS). `out.reports`
   * is left to the caller. Returns false, leaving `out` untouched, before the
   * first packet.
   */
  write(nowMs: number, ntpNowMs: number, out: SenderReportPacket): boolean {
    if (this.lastTsMs < 0) return false;
    out.ssrc = this.ssrc;
    out.ntpSec = msToNtpSec(ntpNowMs);
    out.ntpFrac = msToNtpFrac(ntpNowMs);
    out.rtpTimestamp = this.rtpTimestampAt(nowMs);
    out.packetCount = this.packetCount;
    out.octetCount = this.octetCount;
    return true;
  }

  toJSON(): Record<string, number> {
    return { ssrc: this.ssrc, clockRate: this.clockRate, packetCount: this.packetCount, octetCount: this.octetCount };
  }
}
