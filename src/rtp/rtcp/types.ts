/**
 * Plain-object shapes of decoded RTCP packets (control plane and stats; a
 * decode allocates). The hot path walks compounds with `RtcpCursor` instead.
 *
 * Conventions shared by every shape:
 * - SSRCs, NTP halves and 32-bit counters are unsigned numbers (0..2^32-1).
 * - RFC 3550 padding is stripped on decode and never written, except for the
 *   pass-through types (`app`, `xr`, `unknown`), which keep their bytes
 *   verbatim (padding included, flagged by `padding: true`) so a re-write is
 *   byte-exact.
 * - Byte payloads are copies: the receive buffer they came from is reused.
 */

/** One reception report block (RFC 3550 6.4.1), carried by SR and RR. */
export interface ReportBlock {
  ssrc: number;
  /** Fraction lost since the previous report, as a fixed-point x/256 (0..255). */
  fractionLost: number;
  /** Cumulative number of packets lost: a signed 24-bit value (duplicates can make it negative). */
  totalLost: number;
  /** Extended highest sequence number received (cycles << 16 | seq). */
  highestSeq: number;
  /** Interarrival jitter in RTP timestamp units. */
  jitter: number;
  /** Last SR timestamp: the middle 32 bits of the NTP time of the last SR received (0 if none). */
  lsr: number;
  /** Delay since that SR, in 1/65536 s units. */
  dlsr: number;
}

/** RFC 3550 6.4.1 sender report (PT 200). Profile-specific extensions are ignored. */
export interface SenderReportPacket {
  type: 'sr';
  ssrc: number;
  /** NTP timestamp, seconds since 1900 (the high 32 bits). */
  ntpSec: number;
  /** NTP timestamp, fraction of a second in 1/2^32 units (the low 32 bits). */
  ntpFrac: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
  reports: ReportBlock[];
}

/** RFC 3550 6.4.2 receiver report (PT 201). Profile-specific extensions are ignored. */
export interface ReceiverReportPacket {
  type: 'rr';
  ssrc: number;
  reports: ReportBlock[];
}

/** SDES item types (RFC 3550 6.5). 0 is END and never appears as an item. */
export const SdesItemType = {
  CNAME: 1,
  NAME: 2,
  EMAIL: 3,
  PHONE: 4,
  LOC: 5,
  TOOL: 6,
  NOTE: 7,
  PRIV: 8,
} as const;

export interface SdesItem {
  /** 1..255; see `SdesItemType`. */
  type: number;
  /** UTF-8 text, at most 255 bytes once encoded. PRIV items keep their prefix inside the text. */
  text: string;
}

export interface SdesChunk {
  ssrc: number;
  items: SdesItem[];
}

/** RFC 3550 6.5 source description (PT 202). */
export interface SdesPacket {
  type: 'sdes';
  chunks: SdesChunk[];
}

/** RFC 3550 6.6 goodbye (PT 203). */
export interface ByePacket {
  type: 'bye';
  ssrcs: number[];
  /** UTF-8 reason, at most 255 bytes once encoded; absent when the packet carries none. */
  reason?: string;
}

/** RFC 3550 6.7 application-defined packet (PT 204), passed through. */
export interface AppPacket {
  type: 'app';
  /** The 5-bit subtype field (0..31). */
  subtype: number;
  ssrc: number;
  /** Four ASCII characters (decoded as latin1 so any bytes round-trip). */
  name: string;
  /** Application data, a multiple of 4 bytes (padding bytes included when `padding`). */
  data: Buffer;
  /** The P bit was set: the last byte of `data` is the padding count. */
  padding?: true;
}

/** One FCI entry of a generic NACK: a packet id and a bitmask of the 16 following losses. */
export interface NackPair {
  pid: number;
  blp: number;
}

/** RFC 4585 6.2.1 generic NACK (RTPFB, FMT 1). */
export interface NackPacket {
  type: 'nack';
  senderSsrc: number;
  mediaSsrc: number;
  /**
   * Lost sequence numbers expanded from the pairs, in wire order. The writer
   * packs these (see `packNackPairs`), so give them ascending (wrap-aware).
   */
  lost: number[];
  /** The PID/BLP pairs exactly as they were on the wire. Set by decode; ignored by the writer. */
  pairs?: NackPair[];
}

/** RFC 4585 6.3.1 picture loss indication (PSFB, FMT 1). */
export interface PliPacket {
  type: 'pli';
  senderSsrc: number;
  mediaSsrc: number;
}

export interface FirEntry {
  ssrc: number;
  /** Command sequence number, 0..255. */
  seqNr: number;
}

/** RFC 5104 4.3.1 full intra request (PSFB, FMT 4). */
export interface FirPacket {
  type: 'fir';
  senderSsrc: number;
  /** Unused by FIR (RFC 5104 says 0) but kept for byte-exact rewrites. */
  mediaSsrc: number;
  entries: FirEntry[];
}

/** draft-alvestrand-rmcat-remb-03 receiver estimated maximum bitrate (PSFB, FMT 15, "REMB"). */
export interface RembPacket {
  type: 'remb';
  senderSsrc: number;
  /** Bits per second, mantissa * 2^exp. The writer rounds down to the nearest representable value. */
  bitrate: number;
  /** The media SSRCs the estimate applies to (at most 255). */
  ssrcs: number[];
}

/** Transport-wide CC packet status symbols; the values are the 2-bit wire symbols. */
export const TwccStatus = {
  NotReceived: 0,
  SmallDelta: 1,
  LargeDelta: 2,
} as const;
export type TwccStatus = (typeof TwccStatus)[keyof typeof TwccStatus];

export interface TwccPacketStatus {
  status: TwccStatus;
  /**
   * Receive delta in microseconds (a multiple of 250 on decode; the writer
   * rounds to the nearest 250). SmallDelta: 0..63750; LargeDelta:
   * -8192000..8191750; NotReceived: 0.
   */
  deltaUs: number;
}

/**
 * draft-holmer-rmcat-transport-wide-cc-extensions-01 section 3.1 feedback
 * (RTPFB, FMT 15). `packets[i]` describes transport sequence number
 * `(baseSeq + i) & 0xffff`: the index is the seq delta, and the packet status
 * count is `packets.length`.
 */
export interface TwccPacket {
  type: 'twcc';
  senderSsrc: number;
  mediaSsrc: number;
  baseSeq: number;
  /** Signed 24-bit reference time in 64 ms units (the writer also accepts 0..2^24-1 and masks). */
  referenceTime: number;
  /** Feedback packet count, 0..255. */
  fbPktCount: number;
  packets: TwccPacketStatus[];
}

/** RFC 3611 extended report (PT 207), passed through. */
export interface XrPacket {
  type: 'xr';
  senderSsrc: number;
  /** The report blocks, verbatim (a multiple of 4 bytes; padding bytes included when `padding`). */
  data: Buffer;
  padding?: true;
}

/** Any other packet type or feedback format, passed through. */
export interface UnknownRtcpPacket {
  type: 'unknown';
  /** Packet type, 0..255. */
  pt: number;
  /** The 5-bit count/FMT field, 0..31. */
  fmt: number;
  /** Everything after the 4-byte common header, verbatim (a multiple of 4 bytes). */
  data: Buffer;
  padding?: true;
}

export type RtcpPacket =
  | SenderReportPacket
  | ReceiverReportPacket
  | SdesPacket
  | ByePacket
  | AppPacket
  | NackPacket
  | PliPacket
  | FirPacket
  | RembPacket
  | TwccPacket
  | XrPacket
  | UnknownRtcpPacket;
