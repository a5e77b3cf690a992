/**
 * RTCP codec: a zero-allocation walk over compound packets (`RtcpCursor`),
 * typed decode into plain objects (`parseRtcp`, `decodeRtcpAt`), and writers
 * into caller buffers (`writeRtcp`, `rtcpSize`, `encodeRtcp`). Pure: no I/O,
 * timers or logging. Layouts and RFC links are at the top of each file.
 */
export { PsfbFmt, RtcpCursor, RtcpType, RtpfbFmt } from './header.js';
export type { RtcpWalkError, RtcpWalkOptions } from './header.js';
export { decodeRtcpAt, encodeRtcp, parseRtcp, rtcpSize, writeRtcp } from './codec.js';
export { packNackPairs, rembQuantize, unpackNackPairs } from './feedback.js';
export {
  NTP_UNIX_OFFSET_MS,
  compactNtp,
  compactNtpToMs,
  msToCompactNtp,
  msToNtpFrac,
  msToNtpSec,
  ntpToMs,
  rttMs,
} from './ntp.js';
export { SdesItemType, TwccStatus } from './types.js';
export type {
  AppPacket,
  ByePacket,
  FirEntry,
  FirPacket,
  NackPacket,
  NackPair,
  PliPacket,
  ReceiverReportPacket,
  RembPacket,
  ReportBlock,
  RtcpPacket,
  SdesChunk,
  SdesItem,
  SdesPacket,
  SenderReportPacket,
  TwccPacket,
  TwccPacketStatus,
  UnknownRtcpPacket,
  XrPacket,
} from './types.js';
