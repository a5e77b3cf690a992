/**
 * DCEP (Data Channel Establishment Protocol) codec: DATA_CHANNEL_OPEN and
 * DATA_CHANNEL_ACK, plus the WebRTC SCTP payload protocol identifiers. Pure:
 * no sockets, timers or logging. Parsing never throws; malformed input
 * returns `null`.
 *
 * RFC 8832 (DCEP):             https://www.rfc-editor.org/rfc/rfc8832
 *   5.1 DATA_CHANNEL_OPEN        https://www.rfc-editor.org/rfc/rfc8832#section-5.1
 *   5.2 DATA_CHANNEL_ACK         https://www.rfc-editor.org/rfc/rfc8832#section-5.2
 *   8.2.1 message types          https://www.rfc-editor.org/rfc/rfc8832#section-8.2.1
 * RFC 8831 (data channels):     https://www.rfc-editor.org/rfc/rfc8831
 *   6.4 priority                 https://www.rfc-editor.org/rfc/rfc8831#section-6.4
 *   8   PPIDs                    https://www.rfc-editor.org/rfc/rfc8831#section-8
 *
 * DATA_CHANNEL_OPEN (RFC 8832 section 5.1), sent with PPID 50 on the stream
 * the new channel uses; all integers big-endian:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Message Type |  Channel Type |            Priority           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    Reliability Parameter                      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         Label Length          |       Protocol Length         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    \                                                               /
 *    |                             Label                             |
 *    /                                                               \
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    \                                                               /
 *    |                            Protocol                           |
 *    /                                                               \
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *    Message Type 0x03. Channel Type: 0x00 reliable, 0x01 partial reliable
 *    (retransmit limit), 0x02 partial reliable (lifetime, ms); bit 0x80 set
 *    means unordered. Reliability Parameter: the retransmit count or the
 *    lifetime in ms; ignored (sent as 0) for reliable channels. Label and
 *    Protocol are UTF-8, not padded, lengths in bytes.
 *
 * DATA_CHANNEL_ACK (RFC 8832 section 5.2), one byte:
 *
 *     0 1 2 3 4 5 6 7
 *    +-+-+-+-+-+-+-+-+
 *    |  Message Type |   0x02
 *    +-+-+-+-+-+-+-+-+
 */

import { isUtf8 } from 'node:buffer';

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/** SCTP payload protocol identifiers for WebRTC (RFC 8831 section 8). */
export const Ppid = {
  Dcep: 50,
  String: 51,
  /** Deprecated (RFC 8831 section 8); dropped on receipt, never sent. */
  BinaryPartial: 52,
  Binary: 53,
  /** Deprecated (RFC 8831 section 8); dropped on receipt, never sent. */
  StringPartial: 54,
  /** Empty string; the SCTP payload is one zero byte (SCTP forbids empty DATA). */
  StringEmpty: 56,
  /** Empty binary message; the SCTP payload is one zero byte. */
  BinaryEmpty: 57,
} as const;
export type Ppid = (typeof Ppid)[keyof typeof Ppid];

/** DCEP message types (RFC 8832 section 8.2.1). */
export const DcepMessageType = {
  Ack: 0x02,
  Open: 0x03,
} as const;
export type DcepMessageType = (typeof DcepMessageType)[keyof typeof DcepMessageType];

/** DATA_CHANNEL_OPEN channel types (RFC 8832 section 5.1). */
export const DcepChannelType = {
  Reliable: 0x00,
  ReliableUnordered: 0x80,
  PartialReliableRexmit: 0x01,
  PartialReliableRexmitUnordered: 0x81,
  PartialReliableTimed: 0x02,
  PartialReliableTimedUnordered: 0x82,
} as const;
export type DcepChannelType = (typeof DcepChannelType)[keyof typeof DcepChannelType];

/** The unordered bit of the channel type. */
export const DCEP_UNORDERED_BIT = 0x80;

/** Priorities named by RFC 8831 section 6.4; any 16-bit value is legal on the wire. */
export const DcepPriority = {
  BelowNormal: 128,
  Normal: 256,
  High: 512,
  ExtraHigh: 1024,
} as const;

/** Fixed part of DATA_CHANNEL_OPEN before label and protocol. */
export const DCEP_OPEN_HEADER_SIZE = 12;
export const DCEP_ACK_SIZE = 1;
/** Label and protocol lengths are 16-bit fields. */
export const DCEP_MAX_STRING_BYTES = 0xffff;

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

export interface DcepOpen {
  readonly type: 'open';
  readonly channelType: DcepChannelType;
  /** 16-bit priority (RFC 8831 section 6.4); 256 is "normal". */
  readonly priority: number;
  /** Retransmit count or lifetime in ms, per channelType; 0 for reliable channels. */
  readonly reliability: number;
  readonly label: string;
  readonly protocol: string;
}

export interface DcepAck {
  readonly type: 'ack';
}

export type DcepMessage = DcepOpen | DcepAck;

/** How a data channel delivers: the W3C `RTCDataChannelInit` reliability fields. */
export interface DataChannelReliability {
  readonly ordered: boolean;
  /** Set for partial reliability by retransmit count. */
  readonly maxRetransmits?: number | undefined;
  /** Set for partial reliability by lifetime, in ms. */
  readonly maxPacketLifeTime?: number | undefined;
}

// ---------------------------------------------------------------------------
// Parse
// ---------------------------------------------------------------------------

function isChannelType(v: number): v is DcepChannelType {
  switch (v) {
    case 0x00:
    case 0x01:
    case 0x02:
    case 0x80:
    case 0x81:
    case 0x82:
      return true;
    default:
      return false;
  }
}

/**
 * Parse a DCEP message (the user data of a PPID 50 SCTP message). Returns null
 * for anything malformed: empty, unknown message type, unknown channel type,
 * label/protocol running past the end, or label/protocol that is not UTF-8.
 * Bytes after the protocol are ignored (as libwebrtc does). An ACK longer than
 * one byte is accepted for the same reason.
 */
export function parseDcep(buf: Uint8Array, offset = 0, length = buf.length - offset): DcepMessage | null {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 1) return null;
  if (offset + length > buf.length) return null;
  const msgType = buf[offset];
  if (msgType === DcepMessageType.Ack) return ACK;
  if (msgType !== DcepMessageType.Open || length < DCEP_OPEN_HEADER_SIZE) return null;

  const b = buf;
  const o = offset;
  const channelType = b[o + 1]!;
  if (!isChannelType(channelType)) return null;
  const priority = (b[o + 2]! << 8) | b[o + 3]!;
  const reliability = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
  const labelLength = (b[o + 8]! << 8) | b[o + 9]!;
  const protocolLength = (b[o + 10]! << 8) | b[o + 11]!;
  if (DCEP_OPEN_HEADER_SIZE + labelLength + protocolLength > length) return null;

  const labelStart = o + DCEP_OPEN_HEADER_SIZE;
  const protocolStart = labelStart + labelLength;
  const labelBytes = b.subarray(labelStart, protocolStart);
  const protocolBytes = b.subarray(protocolStart, protocolStart + protocolLength);
  if (!isUtf8(labelBytes) || !isUtf8(protocolBytes)) return null;

  return {
    type: 'open',
    channelType,
    priority,
    reliability,
    label: Buffer.from(labelBytes.buffer, labelBytes.byteOffset, labelBytes.length).toString('utf8'),
    protocol: Buffer.from(protocolBytes.buffer, protocolBytes.byteOffset, protocolBytes.length).toString('utf8'),
  };
}

const ACK: DcepAck = Object.freeze({ type: 'ack' });

// ---------------------------------------------------------------------------
// Write
// ---------------------------------------------------------------------------

/** Bytes `writeDcepOpen` needs for this message. */
export function dcepOpenSize(open: Pick<DcepOpen, 'label' | 'protocol'>): number {
  return DCEP_OPEN_HEADER_SIZE + Buffer.byteLength(open.label, 'utf8') + Buffer.byteLength(open.protocol, 'utf8');
}

/**
 * Write DATA_CHANNEL_OPEN at `offset`; returns bytes written. Preconditions
 * (checked by `validateDcepOpen`, which `encodeDcepOpen` calls): label and
 * protocol fit 16-bit lengths, priority is 16-bit, reliability 32-bit, and
 * `buf` has `dcepOpenSize(open)` bytes from `offset`.
 */
export function writeDcepOpen(open: Omit<DcepOpen, 'type'>, buf: Buffer, offset = 0): number {
  const labelLength = buf.write(open.label, offset + DCEP_OPEN_HEADER_SIZE, 'utf8');
  const protocolLength = buf.write(open.protocol, offset + DCEP_OPEN_HEADER_SIZE + labelLength, 'utf8');
  buf[offset] = DcepMessageType.Open;
  buf[offset + 1] = open.channelType;
  buf.writeUInt16BE(open.priority, offset + 2);
  buf.writeUInt32BE(open.reliability, offset + 4);
  buf.writeUInt16BE(labelLength, offset + 8);
  buf.writeUInt16BE(protocolLength, offset + 10);
  return DCEP_OPEN_HEADER_SIZE + labelLength + protocolLength;
}

/** Why an OPEN cannot be encoded, or null when it can. */
export function validateDcepOpen(open: Omit<DcepOpen, 'type'>): string | null {
  if (!isChannelType(open.channelType)) return `invalid channel type ${open.channelType}`;
  if (!Number.isInteger(open.priority) || open.priority < 0 || open.priority > 0xffff) {
    return `priority ${open.priority} is not a 16-bit integer`;
  }
  if (!Number.isInteger(open.reliability) || open.reliability < 0 || open.reliability > 0xffffffff) {
    return `reliability parameter ${open.reliability} is not a 32-bit integer`;
  }
  if (Buffer.byteLength(open.label, 'utf8') > DCEP_MAX_STRING_BYTES) return 'label longer than 65535 bytes';
  if (Buffer.byteLength(open.protocol, 'utf8') > DCEP_MAX_STRING_BYTES) return 'protocol longer than 65535 bytes';
  return null;
}

/** A new buffer holding DATA_CHANNEL_OPEN. Throws RangeError for values `validateDcepOpen` rejects. */
export function encodeDcepOpen(open: Omit<DcepOpen, 'type'>): Buffer {
  const problem = validateDcepOpen(open);
  if (problem !== null) throw new RangeError(problem);
  const buf = Buffer.allocUnsafe(dcepOpenSize(open));
  writeDcepOpen(open, buf, 0);
  return buf;
}

/** Write DATA_CHANNEL_ACK at `offset`; returns 1. */
export function writeDcepAck(buf: Buffer, offset = 0): number {
  buf[offset] = DcepMessageType.Ack;
  return DCEP_ACK_SIZE;
}

/** A new buffer holding DATA_CHANNEL_ACK. */
export function encodeDcepAck(): Buffer {
  return Buffer.from([DcepMessageType.Ack]);
}

// ---------------------------------------------------------------------------
// Channel type <-> W3C reliability fields
// ---------------------------------------------------------------------------

/**
 * Channel type and reliability parameter for a channel's settings. Setting
 * both maxRetransmits and maxPacketLifeTime is invalid (W3C WebRTC 6.2) and
 * is checked by the caller; here maxRetransmits wins.
 */
export function dcepChannelType(r: DataChannelReliability): { channelType: DcepChannelType; reliability: number } {
  const unordered = r.ordered ? 0 : DCEP_UNORDERED_BIT;
  if (r.maxRetransmits !== undefined) {
    return { channelType: (DcepChannelType.PartialReliableRexmit | unordered) as DcepChannelType, reliability: r.maxRetransmits };
  }
  if (r.maxPacketLifeTime !== undefined) {
    return { channelType: (DcepChannelType.PartialReliableTimed | unordered) as DcepChannelType, reliability: r.maxPacketLifeTime };
  }
  return { channelType: (DcepChannelType.Reliable | unordered) as DcepChannelType, reliability: 0 };
}

/** The reliability fields an OPEN asks for. */
export function dcepReliability(open: Pick<DcepOpen, 'channelType' | 'reliability'>): DataChannelReliability {
  const ordered = (open.channelType & DCEP_UNORDERED_BIT) === 0;
  switch (open.channelType & ~DCEP_UNORDERED_BIT) {
    case DcepChannelType.PartialReliableRexmit:
      return { ordered, maxRetransmits: open.reliability };
    case DcepChannelType.PartialReliableTimed:
      return { ordered, maxPacketLifeTime: open.reliability };
    default:
      return { ordered };
  }
}
