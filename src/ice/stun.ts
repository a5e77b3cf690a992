/**
 * STUN message codec: a zero-copy view for parsing, a writer into caller
 * buffers, and MESSAGE-INTEGRITY / FINGERPRINT checks. Pure: no sockets,
 * timers or logging.
 *
 * RFC 8489 (STUN):           https://www.rfc-editor.org/rfc/rfc8489
 *   5.   Message header        https://www.rfc-editor.org/rfc/rfc8489#section-5
 *   14.  Attributes            https://www.rfc-editor.org/rfc/rfc8489#section-14
 *   14.5 MESSAGE-INTEGRITY     https://www.rfc-editor.org/rfc/rfc8489#section-14.5
 *   14.7 FINGERPRINT           https://www.rfc-editor.org/rfc/rfc8489#section-14.7
 *   14.2 XOR-MAPPED-ADDRESS    https://www.rfc-editor.org/rfc/rfc8489#section-14.2
 *   14.8 ERROR-CODE            https://www.rfc-editor.org/rfc/rfc8489#section-14.8
 * RFC 8445 (ICE) section 16.1 (PRIORITY, USE-CANDIDATE, ICE-CONTROLLED/-CONTROLLING)
 *                            https://www.rfc-editor.org/rfc/rfc8445#section-16.1
 * RFC 7983 section 7 (demultiplexing by first byte)
 *                            https://www.rfc-editor.org/rfc/rfc7983#section-7
 * RFC 5769 (test vectors)    https://www.rfc-editor.org/rfc/rfc5769
 *
 * Message header (RFC 8489 section 5):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |0 0|     STUN Message Type     |         Message Length        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         Magic Cookie                          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                                                               |
 *    |                     Transaction ID (96 bits)                  |
 *    |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Message type: method bits M0-M11 interleaved with class bits C0-C1:
 *
 *      0                 1
 *      2  3  4 5 6 7 8 9 0 1 2 3 4 5
 *     +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |M |M |M|M|M|C|M|M|M|C|M|M|M|M|
 *     |11|10|9|8|7|1|6|5|4|0|3|2|1|0|
 *     +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Attributes follow the header as TLVs, each value padded to 4 bytes
 * (padding is not counted in Length, but is counted in Message Length):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         Type                  |            Length             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         Value (variable)                ....
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { crc32 } from './crc32.js';

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

export const STUN_HEADER_SIZE = 20;
export const STUN_MAGIC_COOKIE = 0x2112a442;
/** XORed into the CRC-32 so FINGERPRINT differs from other protocols' CRCs (RFC 8489 14.7). */
export const STUN_FINGERPRINT_XOR = 0x5354554e;

/** STUN methods (12 bits). ICE only uses Binding; the others belong to TURN. */
export const StunMethod = {
  Binding: 0x001,
} as const;
export type StunMethod = (typeof StunMethod)[keyof typeof StunMethod];

/** The two class bits of the message type (RFC 8489 section 5). */
export const StunClass = {
  Request: 0b00,
  Indication: 0b01,
  SuccessResponse: 0b10,
  ErrorResponse: 0b11,
} as const;
export type StunClass = (typeof StunClass)[keyof typeof StunClass];

/**
 * Attribute types. 0x0000-0x7FFF are comprehension-required (an unknown one
 * in a request earns a 420), 0x8000-0xFFFF comprehension-optional.
 */
export const StunAttr = {
  MappedAddress: 0x0001,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  Realm: 0x0014,
  Nonce: 0x0015,
  MessageIntegritySha256: 0x001c,
  PasswordAlgorithm: 0x001d,
  Userhash: 0x001e,
  XorMappedAddress: 0x0020,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  PasswordAlgorithms: 0x8002,
  AlternateDomain: 0x8003,
  Software: 0x8022,
  AlternateServer: 0x8023,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
  /** Chrome's network id/cost, comprehension-optional; we skip it. */
  GoogNetworkInfo: 0xc057,
} as const;
export type StunAttr = (typeof StunAttr)[keyof typeof StunAttr];

/** ERROR-CODE values an ICE agent sends or reacts to (RFC 8489 14.8, RFC 8445 7.3.1.1). */
export const StunErrorCode = {
  TryAlternate: 300,
  BadRequest: 400,
  Unauthorized: 401,
  UnknownAttribute: 420,
  StaleNonce: 438,
  RoleConflict: 487,
  ServerError: 500,
} as const;
export type StunErrorCode = (typeof StunErrorCode)[keyof typeof StunErrorCode];

/** Recommended reason phrases (RFC 8489 14.8, RFC 8445 19.2). */
export function stunErrorReason(code: number): string {
  switch (code) {
    case StunErrorCode.TryAlternate:
      return 'Try Alternate';
    case StunErrorCode.BadRequest:
      return 'Bad Request';
    case StunErrorCode.Unauthorized:
      return 'Unauthorized';
    case StunErrorCode.UnknownAttribute:
      return 'Unknown Attribute';
    case StunErrorCode.StaleNonce:
      return 'Stale Nonce';
    case StunErrorCode.RoleConflict:
      return 'Role Conflict';
    case StunErrorCode.ServerError:
      return 'Server Error';
    default:
      return '';
  }
}

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

export interface StunAddress {
  family: 4 | 6;
  /** Dotted IPv4, or IPv6 formatted the way Node formats socket addresses. */
  address: string;
  port: number;
}

export interface StunErrorValue {
  code: number;
  reason: string;
}

/** An attribute the writer copies verbatim (e.g. GOOG-NETWORK-INFO in tests). */
export interface StunRawAttribute {
  type: number;
  value: Buffer;
}

/**
 * A parsed STUN message: a view over the caller's buffer. Attribute values are
 * decoded on access, so the view is only valid while the buffer is unchanged.
 */
export interface StunMessage {
  readonly buf: Buffer;
  /** Offset of the header in `buf`. */
  readonly offset: number;
  /** Header plus attributes: 20 + Message Length. */
  readonly length: number;
  readonly method: number;
  readonly class: StunClass;
  /** Offset of the 12-byte transaction id in `buf`. */
  readonly transactionIdOffset: number;
  /** The transaction id as a view into `buf` (no copy; allocates a view object). */
  readonly transactionId: Buffer;
  /**
   * Comprehension-required attribute types we did not understand, in order of
   * appearance; empty for almost every message. A request carrying any must be
   * answered with 420 and UNKNOWN-ATTRIBUTES (RFC 8489 section 6.3.1.1).
   */
  readonly unknownAttributes: readonly number[];

  readonly username: string | undefined;
  readonly priority: number | undefined;
  readonly useCandidate: boolean;
  readonly iceControlling: bigint | undefined;
  readonly iceControlled: bigint | undefined;
  readonly xorMappedAddress: StunAddress | undefined;
  readonly errorCode: StunErrorValue | undefined;
  readonly software: string | undefined;
  readonly hasMessageIntegrity: boolean;
  readonly hasMessageIntegritySha256: boolean;
  readonly hasFingerprint: boolean;

  /** Offset in `buf` of the MESSAGE-INTEGRITY attribute header, or -1. */
  readonly integrityOffset: number;
  /** Offset in `buf` of the FINGERPRINT attribute header, or -1. */
  readonly fingerprintOffset: number;
}

/** What `writeStun` encodes. Attributes appear in the order of this interface. */
export interface StunMessageInit {
  method: number;
  class: StunClass;
  /** Exactly 12 bytes. */
  transactionId: Buffer;
  username?: string;
  errorCode?: { code: number; reason?: string };
  unknownAttributes?: readonly number[];
  xorMappedAddress?: StunAddress;
  priority?: number;
  useCandidate?: boolean;
  iceControlled?: bigint;
  iceControlling?: bigint;
  software?: string;
  /** Written verbatim after the attributes above, before MESSAGE-INTEGRITY. */
  rawAttributes?: readonly StunRawAttribute[];
  /** Appends MESSAGE-INTEGRITY (HMAC-SHA1) keyed with this; see `shortTermKey`. */
  integrityKey?: Buffer;
  /** Appends FINGERPRINT as the last attribute. */
  fingerprint?: boolean;
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

const EMPTY: readonly number[] = Object.freeze([]);

/** Big-endian uint16 at `i`; callers have bounds-checked `i + 1`. */
function u16(buf: Buffer, i: number): number {
  return ((buf[i] as number) << 8) | (buf[i + 1] as number);
}

/** Big-endian uint32 at `i`; callers have bounds-checked `i + 3`. */
function u32(buf: Buffer, i: number): number {
  return (
    (((buf[i] as number) << 24) | ((buf[i + 1] as number) << 16) | ((buf[i + 2] as number) << 8) | (buf[i + 3] as number)) >>>
    0
  );
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Message type from method and class (RFC 8489 section 5, the diagram above). */
export function stunMessageType(method: number, cls: StunClass): number {
  return ((method & 0xf80) << 2) | ((method & 0x070) << 1) | (method & 0x00f) | ((cls & 2) << 7) | ((cls & 1) << 4);
}

/**
 * Fast demux check (RFC 7983): first byte 0-3 and the magic cookie. Cheaper
 * than `parseStun` and enough to route a datagram to the ICE agent.
 */
export function isStun(buf: Buffer, offset = 0, length = buf.length - offset): boolean {
  if (offset >>> 0 !== offset || length >>> 0 !== length || length < STUN_HEADER_SIZE || offset + length > buf.length) {
    return false;
  }
  return (buf[offset] as number) < 4 && u32(buf, offset + 4) === STUN_MAGIC_COOKIE;
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/**
 * The view behind `StunMessage`. Fields are mutable only while `parseStun`
 * fills them; the exported interface is read-only. Every field is initialised
 * in the constructor so all instances share one hidden class.
 */
class StunMessageView implements StunMessage {
  readonly buf: Buffer;
  readonly offset: number;
  readonly length: number;
  readonly method: number;
  readonly class: StunClass;
  usernameAt = -1;
  usernameLen = 0;
  priorityAt = -1;
  useCandidate = false;
  controllingAt = -1;
  controlledAt = -1;
  xorMappedAt = -1;
  errorCodeAt = -1;
  errorCodeLen = 0;
  softwareAt = -1;
  softwareLen = 0;
  integrityOffset = -1;
  integritySha256At = -1;
  fingerprintOffset = -1;
  unknown: number[] | null = null;

  constructor(buf: Buffer, offset: number, length: number, method: number, cls: StunClass) {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.method = method;
    this.class = cls;
  }

  get transactionIdOffset(): number {
    return this.offset + 8;
  }

  get transactionId(): Buffer {
    return this.buf.subarray(this.offset + 8, this.offset + STUN_HEADER_SIZE);
  }

  get unknownAttributes(): readonly number[] {
    return this.unknown ?? EMPTY;
  }

  get username(): string | undefined {
    return this.usernameAt < 0 ? undefined : this.buf.toString('utf8', this.usernameAt, this.usernameAt + this.usernameLen);
  }

  get priority(): number | undefined {
    return this.priorityAt < 0 ? undefined : u32(this.buf, this.priorityAt);
  }

  get iceControlling(): bigint | undefined {
    return this.controllingAt < 0 ? undefined : this.buf.readBigUInt64BE(this.controllingAt);
  }

  get iceControlled(): bigint | undefined {
    return this.controlledAt < 0 ? undefined : this.buf.readBigUInt64BE(this.controlledAt);
  }

  get xorMappedAddress(): StunAddress | undefined {
    return this.xorMappedAt < 0 ? undefined : readXorAddress(this.buf, this.xorMappedAt, this.offset + 8);
  }

  get errorCode(): StunErrorValue | undefined {
    const at = this.errorCodeAt;
    if (at < 0) return undefined;
    const code = ((this.buf[at + 2] as number) & 7) * 100 + (this.buf[at + 3] as number);
    return { code, reason: this.buf.toString('utf8', at + 4, at + this.errorCodeLen) };
  }

  get software(): string | undefined {
    return this.softwareAt < 0 ? undefined : this.buf.toString('utf8', this.softwareAt, this.softwareAt + this.softwareLen);
  }

  get hasMessageIntegrity(): boolean {
    return this.integrityOffset >= 0;
  }

  get hasMessageIntegritySha256(): boolean {
    return this.integritySha256At >= 0;
  }

  get hasFingerprint(): boolean {
    return this.fingerprintOffset >= 0;
  }
}

// Where the walk stands relative to the trailing integrity/fingerprint attributes.
const SEALED_NONE = 0;
const SEALED_MI = 1;
const SEALED_MI256 = 2;
const SEALED_FP = 3;

/**
 * Parses the STUN message at `buf[offset, offset + length)`. Returns null on
 * anything malformed and never throws. Bytes after the message's own length
 * are ignored (a datagram carries one message; over TCP the caller frames).
 *
 * Known attributes are validated here (lengths, address family, error class)
 * so the getters can read without checks. Duplicates: the first one wins.
 */
export function parseStun(buf: Buffer, offset = 0, length = buf.length - offset): StunMessage | null {
  if (offset >>> 0 !== offset || length >>> 0 !== length || length < STUN_HEADER_SIZE || offset + length > buf.length) {
    return null;
  }
  const type = u16(buf, offset);
  const msgLen = u16(buf, offset + 2);
  // Top two bits zero, 4-byte aligned body, cookie present, body inside the input.
  if (type & 0xc000 || msgLen & 3 || u32(buf, offset + 4) !== STUN_MAGIC_COOKIE || msgLen + STUN_HEADER_SIZE > length) {
    return null;
  }
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const cls = (((type & 0x0100) >> 7) | ((type & 0x0010) >> 4)) as StunClass;
  const msg = new StunMessageView(buf, offset, msgLen + STUN_HEADER_SIZE, method, cls);

  const end = offset + STUN_HEADER_SIZE + msgLen;
  let sealed = SEALED_NONE;
  let pos = offset + STUN_HEADER_SIZE;
  while (pos < end) {
    // `pos` and `end` are both 4-aligned relative to `offset`, so the TLV header fits.
    const attrType = u16(buf, pos);
    const attrLen = u16(buf, pos + 2);
    const at = pos + 4;
    if (at + attrLen > end) return null;
    const next = at + pad4(attrLen);

    // RFC 8489 14.5/14.6/14.7: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256
    // and FINGERPRINT count; after FINGERPRINT nothing may follow.
    if (sealed !== SEALED_NONE) {
      if (sealed === SEALED_FP) return null;
      if (attrType === StunAttr.Fingerprint) {
        if (attrLen !== 4) return null;
        msg.fingerprintOffset = pos;
        sealed = SEALED_FP;
      } else if (attrType === StunAttr.MessageIntegritySha256 && sealed === SEALED_MI) {
        if (attrLen < 16 || attrLen > 32 || attrLen & 3) return null;
        msg.integritySha256At = pos;
        sealed = SEALED_MI256;
      }
      pos = next;
      continue;
    }

    switch (attrType) {
      case StunAttr.Username:
        if (msg.usernameAt < 0) {
          msg.usernameAt = at;
          msg.usernameLen = attrLen;
        }
        break;
      case StunAttr.Priority:
        if (attrLen !== 4) return null;
        if (msg.priorityAt < 0) msg.priorityAt = at;
        break;
      case StunAttr.UseCandidate:
        if (attrLen !== 0) return null;
        msg.useCandidate = true;
        break;
      case StunAttr.IceControlling:
        if (attrLen !== 8) return null;
        if (msg.controllingAt < 0) msg.controllingAt = at;
        break;
      case StunAttr.IceControlled:
        if (attrLen !== 8) return null;
        if (msg.controlledAt < 0) msg.controlledAt = at;
        break;
      case StunAttr.XorMappedAddress: {
        // Family 0x01 carries 4 address bytes, 0x02 carries 16 (RFC 8489 14.1).
        const family = attrLen >= 2 ? buf[at + 1] : 0;
        if ((family !== 1 || attrLen !== 8) && (family !== 2 || attrLen !== 20)) return null;
        if (msg.xorMappedAt < 0) msg.xorMappedAt = at;
        break;
      }
      case StunAttr.ErrorCode: {
        if (attrLen < 4) return null;
        // Class 3-6 and number 0-99 (RFC 8489 14.8).
        const errClass = (buf[at + 2] as number) & 7;
        if (errClass < 3 || errClass > 6 || (buf[at + 3] as number) > 99) return null;
        if (msg.errorCodeAt < 0) {
          msg.errorCodeAt = at;
          msg.errorCodeLen = attrLen;
        }
        break;
      }
      case StunAttr.Software:
        if (msg.softwareAt < 0) {
          msg.softwareAt = at;
          msg.softwareLen = attrLen;
        }
        break;
      case StunAttr.MessageIntegrity:
        if (attrLen !== 20) return null;
        msg.integrityOffset = pos;
        sealed = SEALED_MI;
        break;
      case StunAttr.MessageIntegritySha256:
        // Without a preceding MESSAGE-INTEGRITY, SHA256 seals the message itself.
        if (attrLen < 16 || attrLen > 32 || attrLen & 3) return null;
        msg.integritySha256At = pos;
        sealed = SEALED_MI256;
        break;
      case StunAttr.Fingerprint:
        if (attrLen !== 4) return null;
        msg.fingerprintOffset = pos;
        sealed = SEALED_FP;
        break;
      // Understood (RFC 8489 core) but not needed by ICE: read on demand with findStunAttribute.
      case StunAttr.MappedAddress:
      case StunAttr.UnknownAttributes:
      case StunAttr.Realm:
      case StunAttr.Nonce:
      case StunAttr.PasswordAlgorithm:
      case StunAttr.Userhash:
        break;
      default:
        if (attrType < 0x8000) (msg.unknown ??= []).push(attrType);
        break;
    }
    pos = next;
  }
  return msg;
}

/**
 * Value of the first attribute of `type` as a view into the message buffer,
 * for attributes without a getter (REALM, NONCE, GOOG-NETWORK-INFO, ...).
 * Scans the (already validated) attribute list.
 */
export function findStunAttribute(msg: StunMessage, type: number): Buffer | undefined {
  const buf = msg.buf;
  const trailer =
    type === StunAttr.MessageIntegrity || type === StunAttr.MessageIntegritySha256 || type === StunAttr.Fingerprint;
  // Attributes after MESSAGE-INTEGRITY are ignored (RFC 8489 14.5), except the trailer ones.
  const end = msg.integrityOffset >= 0 && !trailer ? msg.integrityOffset : msg.offset + msg.length;
  for (let pos = msg.offset + STUN_HEADER_SIZE; pos + 4 <= end; ) {
    const len = u16(buf, pos + 2);
    if (u16(buf, pos) === type) return buf.subarray(pos + 4, Math.min(pos + 4 + len, end));
    pos += 4 + pad4(len);
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Integrity and fingerprint
// ---------------------------------------------------------------------------

/** Short-term credential key (RFC 8489 9.1.1): the password's bytes; ICE passwords are ASCII, so no SASLprep. */
export function shortTermKey(password: string): Buffer {
  return Buffer.from(password, 'utf8');
}

/** Long-term credential key (RFC 8489 9.2.2, MD5 variant): MD5(username ":" realm ":" password), inputs already SASLprep'd. */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest();
}

// Scratch header for HMAC input; safe to share because verification is synchronous.
const headerScratch = Buffer.alloc(STUN_HEADER_SIZE);

/**
 * Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 14.5). The HMAC covers the
 * message up to the attribute, with the header length set as if
 * MESSAGE-INTEGRITY were the last attribute; we hash a patched copy of the
 * 20-byte header and then the attributes, leaving the caller's buffer alone.
 * False when the attribute is absent.
 */
export function verifyMessageIntegrity(msg: StunMessage, key: Buffer): boolean {
  const at = msg.integrityOffset;
  if (at < 0) return false;
  const buf = msg.buf;
  const start = msg.offset;
  buf.copy(headerScratch, 0, start, start + STUN_HEADER_SIZE);
  headerScratch.writeUInt16BE(at + 24 - start - STUN_HEADER_SIZE, 2);
  const digest = createHmac('sha1', key)
    .update(headerScratch)
    .update(buf.subarray(start + STUN_HEADER_SIZE, at))
    .digest();
  // Constant time, so a forger learns nothing from how fast we reject.
  return timingSafeEqual(digest, buf.subarray(at + 4, at + 24));
}

/**
 * Checks FINGERPRINT (RFC 8489 14.7): CRC-32 of everything before it, XOR
 * 0x5354554e. False when absent or not the last attribute.
 */
export function verifyFingerprint(msg: StunMessage): boolean {
  const at = msg.fingerprintOffset;
  if (at < 0 || at + 8 !== msg.offset + msg.length) return false;
  // FINGERPRINT is last, so the header length already counts it: no patching needed.
  return ((crc32(msg.buf, msg.offset, at) ^ STUN_FINGERPRINT_XOR) >>> 0) === u32(msg.buf, at + 4);
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/** Bytes `writeStun(init, ...)` will write. Throws RangeError on an unencodable init. */
export function stunSize(init: StunMessageInit): number {
  let n = STUN_HEADER_SIZE;
  if (init.username !== undefined) n += 4 + pad4(Buffer.byteLength(init.username, 'utf8'));
  if (init.errorCode !== undefined) n += 4 + pad4(4 + Buffer.byteLength(errorReason(init.errorCode), 'utf8'));
  if (init.unknownAttributes !== undefined) n += 4 + pad4(2 * init.unknownAttributes.length);
  if (init.xorMappedAddress !== undefined) n += init.xorMappedAddress.family === 4 ? 12 : 24;
  if (init.priority !== undefined) n += 8;
  if (init.useCandidate === true) n += 4;
  if (init.iceControlled !== undefined) n += 12;
  if (init.iceControlling !== undefined) n += 12;
  if (init.software !== undefined) n += 4 + pad4(Buffer.byteLength(init.software, 'utf8'));
  if (init.rawAttributes !== undefined) for (const a of init.rawAttributes) n += 4 + pad4(a.value.length);
  if (init.integrityKey !== undefined) n += 24;
  if (init.fingerprint === true) n += 8;
  if (n - STUN_HEADER_SIZE > 0xfffc) throw new RangeError(`STUN message too long: ${n} bytes`);
  return n;
}

function errorReason(e: { code: number; reason?: string }): string {
  return e.reason ?? stunErrorReason(e.code);
}

/** Writes a TLV header and zeroes the value's padding; returns the value offset. */
function attrHeader(buf: Buffer, pos: number, type: number, len: number): number {
  buf.writeUInt16BE(type, pos);
  buf.writeUInt16BE(len, pos + 2);
  const padded = pad4(len);
  if (padded !== len) buf.fill(0, pos + 4 + len, pos + 4 + padded);
  return pos + 4;
}

/**
 * Encodes `init` into `buf` at `offset` and returns the bytes written
 * (`stunSize(init)`). MESSAGE-INTEGRITY and FINGERPRINT are computed in
 * place. Throws RangeError if the buffer is too small or the init is invalid
 * (bad transaction id, address, error code, out-of-range numbers): those are
 * caller bugs, not network input.
 */
export function writeStun(init: StunMessageInit, buf: Buffer, offset = 0): number {
  const size = stunSize(init);
  if (offset >>> 0 !== offset || offset + size > buf.length) {
    throw new RangeError(`STUN buffer too small: need ${size} bytes at offset ${offset}, have ${buf.length}`);
  }
  if (init.transactionId.length !== 12) throw new RangeError('STUN transaction id must be 12 bytes');
  if (init.method >>> 0 !== init.method || init.method > 0xfff) throw new RangeError(`invalid STUN method ${init.method}`);

  buf.writeUInt16BE(stunMessageType(init.method, init.class), offset);
  buf.writeUInt16BE(0, offset + 2); // patched below, before any MAC
  buf.writeUInt32BE(STUN_MAGIC_COOKIE, offset + 4);
  init.transactionId.copy(buf, offset + 8);
  let pos = offset + STUN_HEADER_SIZE;

  if (init.username !== undefined) {
    const len = Buffer.byteLength(init.username, 'utf8');
    buf.write(init.username, attrHeader(buf, pos, StunAttr.Username, len), len, 'utf8');
    pos += 4 + pad4(len);
  }
  if (init.errorCode !== undefined) {
    const code = init.errorCode.code;
    if (!Number.isInteger(code) || code < 300 || code > 699) throw new RangeError(`invalid STUN error code ${code}`);
    const reason = errorReason(init.errorCode);
    const len = 4 + Buffer.byteLength(reason, 'utf8');
    const at = attrHeader(buf, pos, StunAttr.ErrorCode, len);
    buf.writeUInt16BE(0, at);
    buf[at + 2] = Math.floor(code / 100);
    buf[at + 3] = code % 100;
    buf.write(reason, at + 4, len - 4, 'utf8');
    pos += 4 + pad4(len);
  }
  if (init.unknownAttributes !== undefined) {
    const list = init.unknownAttributes;
    const at = attrHeader(buf, pos, StunAttr.UnknownAttributes, 2 * list.length);
    for (let i = 0; i < list.length; i++) buf.writeUInt16BE(list[i] as number, at + 2 * i);
    pos += 4 + pad4(2 * list.length);
  }
  if (init.xorMappedAddress !== undefined) {
    pos = writeXorAddress(buf, pos, StunAttr.XorMappedAddress, init.xorMappedAddress, offset + 8);
  }
  if (init.priority !== undefined) {
    buf.writeUInt32BE(init.priority, attrHeader(buf, pos, StunAttr.Priority, 4));
    pos += 8;
  }
  if (init.useCandidate === true) {
    attrHeader(buf, pos, StunAttr.UseCandidate, 0);
    pos += 4;
  }
  if (init.iceControlled !== undefined) {
    buf.writeBigUInt64BE(init.iceControlled, attrHeader(buf, pos, StunAttr.IceControlled, 8));
    pos += 12;
  }
  if (init.iceControlling !== undefined) {
    buf.writeBigUInt64BE(init.iceControlling, attrHeader(buf, pos, StunAttr.IceControlling, 8));
    pos += 12;
  }
  if (init.software !== undefined) {
    const len = Buffer.byteLength(init.software, 'utf8');
    buf.write(init.software, attrHeader(buf, pos, StunAttr.Software, len), len, 'utf8');
    pos += 4 + pad4(len);
  }
  if (init.rawAttributes !== undefined) {
    for (const a of init.rawAttributes) {
      a.value.copy(buf, attrHeader(buf, pos, a.type, a.value.length));
      pos += 4 + pad4(a.value.length);
    }
  }
  if (init.integrityKey !== undefined) {
    // The MAC covers a header whose length already includes MESSAGE-INTEGRITY (RFC 8489 14.5).
    buf.writeUInt16BE(pos + 24 - offset - STUN_HEADER_SIZE, offset + 2);
    const digest = createHmac('sha1', init.integrityKey).update(buf.subarray(offset, pos)).digest();
    digest.copy(buf, attrHeader(buf, pos, StunAttr.MessageIntegrity, 20));
    pos += 24;
  }
  if (init.fingerprint === true) {
    buf.writeUInt16BE(pos + 8 - offset - STUN_HEADER_SIZE, offset + 2);
    const crc = (crc32(buf, offset, pos) ^ STUN_FINGERPRINT_XOR) >>> 0;
    buf.writeUInt32BE(crc, attrHeader(buf, pos, StunAttr.Fingerprint, 4));
    pos += 8;
  }
  buf.writeUInt16BE(pos - offset - STUN_HEADER_SIZE, offset + 2);
  return pos - offset;
}

/** Convenience for control-plane code and tests: allocates and encodes. */
export function encodeStun(init: StunMessageInit): Buffer {
  const buf = Buffer.allocUnsafe(stunSize(init));
  writeStun(init, buf, 0);
  return buf;
}

// ---------------------------------------------------------------------------
// XOR-MAPPED-ADDRESS (RFC 8489 14.2)
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |0 0 0 0 0 0 0 0|    Family     |         X-Port                |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                X-Address (Variable)
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Port is XORed with the cookie's top 16 bits; IPv4 with the cookie; IPv6
// with the cookie followed by the transaction id.
// ---------------------------------------------------------------------------

/** Byte `i` (0-15) of the XOR mask: cookie then transaction id. */
function maskByte(buf: Buffer, txAt: number, i: number): number {
  return i < 4 ? (STUN_MAGIC_COOKIE >>> (24 - 8 * i)) & 0xff : (buf[txAt + i - 4] as number);
}

// Reused by the address writer and formatter; both run to completion synchronously.
const addrScratch = Buffer.alloc(16);

function readXorAddress(buf: Buffer, at: number, txAt: number): StunAddress {
  const port = u16(buf, at + 2) ^ 0x2112;
  if (buf[at + 1] === 1) {
    const a = (buf[at + 4] as number) ^ 0x21;
    const b = (buf[at + 5] as number) ^ 0x12;
    const c = (buf[at + 6] as number) ^ 0xa4;
    const d = (buf[at + 7] as number) ^ 0x42;
    return { family: 4, address: `${a}.${b}.${c}.${d}`, port };
  }
  for (let i = 0; i < 16; i++) addrScratch[i] = (buf[at + 4 + i] as number) ^ maskByte(buf, txAt, i);
  return { family: 6, address: formatIpv6(addrScratch), port };
}

function writeXorAddress(buf: Buffer, pos: number, type: number, addr: StunAddress, txAt: number): number {
  const v4 = addr.family === 4;
  const n = v4 ? 4 : 16;
  const ok = v4 ? parseIpv4(addr.address, 0, addr.address.length, addrScratch, 0) : parseIpv6(addr.address, addrScratch);
  if (!ok) throw new RangeError(`invalid IPv${addr.family} address: ${addr.address}`);
  if (addr.port >>> 0 !== addr.port || addr.port > 0xffff) throw new RangeError(`invalid port ${addr.port}`);
  const at = attrHeader(buf, pos, type, 4 + n);
  buf[at] = 0;
  buf[at + 1] = v4 ? 1 : 2;
  buf.writeUInt16BE(addr.port ^ 0x2112, at + 2);
  for (let i = 0; i < n; i++) buf[at + 4 + i] = (addrScratch[i] as number) ^ maskByte(buf, txAt, i);
  return at + 4 + n;
}

/**
 * Formats 16 bytes as Node formats socket addresses (libuv's inet_ntop, so a
 * mapped address compares equal to `rinfo.address`): RFC 5952 lowercase with
 * the longest run (>= 2) of zero groups compressed, and a dotted IPv4 tail
 * for `::a.b.c.d` and `::ffff:a.b.c.d`.
 */
function formatIpv6(b: Buffer): string {
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  for (let i = 0; i < 8; i++) {
    if (b[2 * i] === 0 && b[2 * i + 1] === 0) {
      if (curBase < 0) curBase = i;
      if (i - curBase + 1 > bestLen) {
        bestBase = curBase;
        bestLen = i - curBase + 1;
      }
    } else {
      curBase = -1;
    }
  }
  if (bestLen < 2) bestBase = -1;
  if (bestBase === 0 && (bestLen === 6 || (bestLen === 5 && b[10] === 0xff && b[11] === 0xff))) {
    return `${bestLen === 6 ? '::' : '::ffff:'}${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestBase) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += u16(b, 2 * i).toString(16);
  }
  return s;
}

/** Strict dotted-quad `s[start, end)` into `out[pos, pos + 4)`; no leading zeros, like inet_pton. */
function parseIpv4(s: string, start: number, end: number, out: Buffer, pos: number): boolean {
  let octets = 0;
  let val = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const ch = i < end ? s.charCodeAt(i) : 0x2e; // a virtual '.' closes the last octet
    if (ch >= 0x30 && ch <= 0x39) {
      if (digits > 0 && val === 0) return false;
      val = val * 10 + (ch - 0x30);
      if (val > 255) return false;
      digits++;
    } else if (ch === 0x2e) {
      if (digits === 0 || octets === 4) return false;
      out[pos + octets++] = val;
      val = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return octets === 4;
}

function hexValue(ch: number): number {
  if (ch >= 0x30 && ch <= 0x39) return ch - 0x30;
  if (ch >= 0x61 && ch <= 0x66) return ch - 0x57;
  if (ch >= 0x41 && ch <= 0x46) return ch - 0x37;
  return -1;
}

/** Textual IPv6 (RFC 4291 2.2, with `::` and an optional IPv4 tail) into `out[0, 16)`. Follows inet_pton6. */
function parseIpv6(s: string, out: Buffer): boolean {
  const len = s.length;
  let i = 0;
  if (len > 0 && s.charCodeAt(0) === 0x3a) {
    if (len < 2 || s.charCodeAt(1) !== 0x3a) return false;
    i = 1;
  }
  let tp = 0;
  let colonAt = -1;
  let tokenStart = i;
  let sawDigit = false;
  let digits = 0;
  let val = 0;
  let dotted = false;
  while (i < len) {
    const ch = s.charCodeAt(i++);
    const h = hexValue(ch);
    if (h >= 0) {
      if (++digits > 4) return false;
      val = (val << 4) | h;
      sawDigit = true;
      continue;
    }
    if (ch === 0x3a) {
      tokenStart = i;
      if (!sawDigit) {
        if (colonAt >= 0) return false;
        colonAt = tp;
        continue;
      }
      if (i === len || tp + 2 > 16) return false;
      out[tp++] = val >> 8;
      out[tp++] = val & 0xff;
      sawDigit = false;
      digits = 0;
      val = 0;
      continue;
    }
    if (ch === 0x2e && tp + 4 <= 16) {
      if (!parseIpv4(s, tokenStart, len, out, tp)) return false;
      tp += 4;
      dotted = true;
      break;
    }
    return false;
  }
  if (sawDigit && !dotted) {
    if (tp + 2 > 16) return false;
    out[tp++] = val >> 8;
    out[tp++] = val & 0xff;
  }
  if (colonAt >= 0) {
    if (tp === 16) return false;
    // Slide the groups after '::' to the end and zero the gap.
    const tail = tp - colonAt;
    out.copy(out, 16 - tail, colonAt, tp);
    out.fill(0, colonAt, 16 - tail);
    tp = 16;
  }
  return tp === 16;
}
