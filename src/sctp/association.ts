/**
 * `DataChannelEndpoint`: the WebRTC data-channel side of one DTLS transport.
 * It runs werift's SCTP association (RFC 9260, with RFC 3758 partial
 * reliability and RFC 6525 stream reset) over an abstract packet transport
 * and adds our own data-channel layer: DCEP, stream id allocation, PPIDs,
 * message size limits, drop counters.
 *
 * RFC 8831 (data channels)      https://www.rfc-editor.org/rfc/rfc8831
 *   6.1 SCTP over DTLS            https://www.rfc-editor.org/rfc/rfc8831#section-6.1
 *   6.6 user data / PPIDs         https://www.rfc-editor.org/rfc/rfc8831#section-6.6
 *   6.7 closing (stream reset)    https://www.rfc-editor.org/rfc/rfc8831#section-6.7
 * RFC 8832 (DCEP) section 6 (procedures, stream id parity)
 *                               https://www.rfc-editor.org/rfc/rfc8832#section-6
 * RFC 8841 (SDP a=sctp-port, a=max-message-size)
 *                               https://www.rfc-editor.org/rfc/rfc8841#section-6
 *
 * Wiring: the DTLS layer calls `handlePacket(buf)` with every decrypted
 * application-data record and gives us `transport.send(buf)` to send one SCTP
 * packet as one record. Call `start()` once DTLS is connected. The endpoint
 * never closes the DTLS transport; its owner does.
 *
 * SCTP roles: werift's association is not symmetric (only its "client" sends
 * INIT; its "server" ignores INIT collisions), so one side must initiate. By
 * default the DTLS client initiates. Browsers always send INIT and handle an
 * INIT from us in either state, so either choice interoperates.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RTCSctpTransport } from 'werift';
import { ClosedError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import {
  Ppid,
  dcepChannelType,
  dcepReliability,
  encodeDcepAck,
  encodeDcepOpen,
  parseDcep,
  validateDcepOpen,
  DcepPriority,
  type DcepOpen,
} from './dcep.js';
import {
  DataChannel,
  DataChannelError,
  DataChannelErrorCode,
  type DataChannelDropReason,
  type DataChannelDump,
  type DataChannelInit,
  type DataChannelOwner,
} from './channel.js';

// ---------------------------------------------------------------------------
// werift's SCTP, loaded by path and patched per instance
// ---------------------------------------------------------------------------

type WeriftSctp = RTCSctpTransport['sctp'];
type WeriftTransport = WeriftSctp['transport'];
type WeriftDataChunk = WeriftSctp['outboundQueue'][number];

interface WeriftSctpClass {
  client(transport: WeriftTransport, port?: number): WeriftSctp;
  server(transport: WeriftTransport, port?: number): WeriftSctp;
}

interface WeriftForwardTsnChunk {
  cumulativeTsn: number;
  streams: [number, number][];
}

interface WeriftInboundStream {
  reassembly: WeriftDataChunk[];
  streamSequenceNumber: number;
  popMessages(): Generator<[number, number, Buffer]>;
}

/** Private members of werift 0.24.4's SCTP that we call or replace (see `patchWeriftSctp`). */
interface WeriftSctpInternals {
  sentQueue: WeriftDataChunk[];
  lastSackedTsn: number;
  advancedPeerAckTsn: number;
  forwardTsnChunk: WeriftForwardTsnChunk | undefined;
  handleData(data: Buffer): Promise<void>;
  maybeAbandon(chunk: WeriftDataChunk): boolean;
  updateAdvancedPeerAckPoint(): void;
  getInboundStream(streamId: number): WeriftInboundStream;
}

interface WeriftSctpModule {
  sctp: WeriftSctpClass;
  ForwardTsnChunk: new (flags: number, body: undefined) => WeriftForwardTsnChunk;
}

let weriftModule: WeriftSctpModule | undefined;

// NOTE: werift 0.24.4 does not export its SCTP association from the package
// entry (only RTCSctpTransport, which needs a whole RTCDtlsTransport), and its
// `exports` map blocks deep specifiers. So resolve the package's main file and
// load the sctp modules by absolute path. werift is pinned; this is checked.
function loadWeriftSctp(): WeriftSctpModule {
  if (weriftModule !== undefined) return weriftModule;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('werift')), '..', '..', 'sctp', 'src');
  const sctpMod = require(join(dir, 'sctp.js')) as { SCTP?: Partial<WeriftSctpClass> };
  const chunkMod = require(join(dir, 'chunk.js')) as { ForwardTsnChunk?: WeriftSctpModule['ForwardTsnChunk'] };
  const cls = sctpMod.SCTP;
  if (typeof cls?.client !== 'function' || typeof cls.server !== 'function' || typeof chunkMod.ForwardTsnChunk !== 'function') {
    throw new Error('werift SCTP association not found (is werift 0.24.4 installed?)');
  }
  weriftModule = { sctp: cls as WeriftSctpClass, ForwardTsnChunk: chunkMod.ForwardTsnChunk };
  return weriftModule;
}

// DATA chunk flags (RFC 9260 section 3.3.1).
const DATA_LAST_FRAG = 0x01;
const DATA_FIRST_FRAG = 0x02;
const DATA_UNORDERED = 0x04;

/** Serial-number comparisons (RFC 1982) for TSNs and SSNs. */
function uint32Gt(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}
function uint16Gt(a: number, b: number): boolean {
  const d = (a - b) & 0xffff;
  return d !== 0 && d < 0x8000;
}

/**
 * Replacement for werift 0.24.4's `InboundStream.popMessages`. Its version
 * does not reset its scan after delivering a message, so the next complete
 * ordered message waits for another chunk on the stream whenever TSNs of two
 * streams interleave (a tail message can wait forever), and a FORWARD TSN
 * then prunes it: silent loss on a reliable channel. Delivers every complete
 * message that ordering allows; copies the payload out of the packet buffer.
 */
function* popMessagesFixed(this: WeriftInboundStream): Generator<[number, number, Buffer]> {
  const queue = this.reassembly;
  let pos = 0;
  while (pos < queue.length) {
    const head = queue[pos]!;
    const ordered = (head.flags & DATA_UNORDERED) === 0;
    const startsMessage = (head.flags & DATA_FIRST_FRAG) !== 0;
    if (!startsMessage || (ordered && uint16Gt(head.streamSeqNum, this.streamSequenceNumber))) {
      // Ordered: the oldest chunk must start the next message. Unordered: skip it.
      if (ordered) return;
      pos++;
      continue;
    }
    let end = pos;
    let complete = (head.flags & DATA_LAST_FRAG) !== 0;
    while (!complete) {
      const next = queue[end + 1];
      if (next === undefined || next.tsn !== ((queue[end]!.tsn + 1) >>> 0)) break;
      end++;
      complete = (next.flags & DATA_LAST_FRAG) !== 0;
    }
    if (!complete) {
      if (ordered) return;
      pos = end + 1;
      continue;
    }
    const parts = queue.splice(pos, end - pos + 1);
    const data = Buffer.concat(parts.map((c) => c.userData));
    if (ordered && head.streamSeqNum === this.streamSequenceNumber) {
      this.streamSequenceNumber = (this.streamSequenceNumber + 1) & 0xffff;
    }
    yield [head.streamId, head.protocol, data];
    // The chunk after the delivered message now sits at `pos`.
  }
}

/**
 * Fix three werift 0.24.4 bugs on one association, replacing private
 * methods on the instance only (werift is pinned; `loadWeriftSctp` and the
 * checks here fail loudly on another version):
 * 1. `maybeAbandon` (PR-SCTP, RFC 3758 section 3.5) treated
 *    `maxRetransmits: 0` as "no limit", and abandoned the message at the
 *    head of the sent queue instead of the expired one (which can drop a
 *    message of a reliable channel). Ours abandons exactly the fragments of
 *    the expired message.
 * 2. A lost FORWARD TSN was never sent again (the abandoned chunks had
 *    already left the sent queue), so the peer's cumulative TSN stalled for
 *    good. RFC 3758 section 3.5 C3: resend while the peer's cumulative TSN
 *    is behind the Advanced.Peer.Ack.Point.
 * 3. `InboundStream.popMessages`, see `popMessagesFixed`.
 */
function patchWeriftSctp(internals: WeriftSctpInternals, ForwardTsnChunk: WeriftSctpModule['ForwardTsnChunk']): void {
  if (
    typeof internals.maybeAbandon !== 'function' ||
    typeof internals.updateAdvancedPeerAckPoint !== 'function' ||
    typeof internals.getInboundStream !== 'function' ||
    typeof internals.handleData !== 'function' ||
    !Array.isArray(internals.sentQueue)
  ) {
    throw new Error('werift SCTP internals changed (is werift 0.24.4 installed?)');
  }

  internals.maybeAbandon = (chunk: WeriftDataChunk): boolean => {
    if (chunk.abandoned) return true;
    const rexmitsExhausted = chunk.maxRetransmits !== undefined && chunk.maxRetransmits < chunk.sentCount;
    const expired = chunk.expiry !== undefined && chunk.expiry < Date.now() / 1000;
    if (!rexmitsExhausted && !expired) return false;
    const queue = internals.sentQueue;
    const pos = queue.indexOf(chunk);
    if (pos < 0) {
      chunk.abandoned = true;
      chunk.retransmit = false;
      return true;
    }
    // Back to the first fragment, forward to the last: a message goes whole.
    for (let i = pos; i >= 0; i--) {
      const c = queue[i]!;
      c.abandoned = true;
      c.retransmit = false;
      if ((c.flags & DATA_FIRST_FRAG) !== 0) break;
    }
    if ((chunk.flags & DATA_LAST_FRAG) === 0) {
      for (let i = pos + 1; i < queue.length; i++) {
        const c = queue[i]!;
        c.abandoned = true;
        c.retransmit = false;
        if ((c.flags & DATA_LAST_FRAG) !== 0) break;
      }
    }
    return true;
  };

  // Ordered streams skipped by FORWARD TSNs the peer has not acknowledged.
  const skipped = new Map<number, number>();
  const updateAdvancedPeerAckPoint = internals.updateAdvancedPeerAckPoint.bind(internals);
  internals.updateAdvancedPeerAckPoint = (): void => {
    updateAdvancedPeerAckPoint();
    const fresh = internals.forwardTsnChunk;
    if (fresh !== undefined) for (const [sid, ssn] of fresh.streams) skipped.set(sid, ssn);
    if (!uint32Gt(internals.advancedPeerAckTsn, internals.lastSackedTsn)) {
      skipped.clear();
      return;
    }
    const fwd = fresh ?? new ForwardTsnChunk(0, undefined);
    fwd.cumulativeTsn = internals.advancedPeerAckTsn;
    fwd.streams = [...skipped];
    internals.forwardTsnChunk = fwd;
  };

  const getInboundStream = internals.getInboundStream.bind(internals);
  internals.getInboundStream = (streamId: number): WeriftInboundStream => {
    const stream = getInboundStream(streamId);
    if (stream.popMessages !== popMessagesFixed) stream.popMessages = popMessagesFixed;
    return stream;
  };
}

/**
 * Cheap structural check before werift parses a packet: werift loops forever
 * on a chunk length of 0 and reads past the end on short chunks. Common
 * header (12 bytes), then chunks of length >= 4 inside the packet.
 * RFC 9260 section 3.
 */
export function sctpPacketLooksValid(buf: Buffer): boolean {
  if (buf.length < 16) return false;
  let pos = 12;
  while (pos + 4 <= buf.length) {
    const len = (buf[pos + 2]! << 8) | buf[pos + 3]!;
    if (len < 4 || pos + len > buf.length) return false;
    pos += (len + 3) & ~3;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/** Our DTLS role (same values as the dtls module's DtlsRole). */
export type SctpDtlsRole = 'client' | 'server';
export type DataChannelEndpointState = 'new' | 'connecting' | 'connected' | 'closed';

/** The packet path below SCTP, normally the DTLS transport. */
export interface SctpPacketTransport {
  /** Send one SCTP packet (as one DTLS application-data record). Errors are counted, not thrown. */
  send(packet: Buffer): void | Promise<void>;
}

export const SCTP_DEFAULT_PORT = 5000;
/** What we accept and advertise in a=max-message-size when not told otherwise (as Chrome does). */
export const DEFAULT_MAX_MESSAGE_SIZE = 262_144;
/** The peer's limit when its SDP has no a=max-message-size (RFC 8841 section 6.1). */
export const DEFAULT_REMOTE_MAX_MESSAGE_SIZE = 65_536;
/** Highest usable stream id; 65535 is reserved (W3C WebRTC 6.2). */
export const MAX_STREAM_ID = 65_534;

export interface DataChannelEndpointOptions {
  /** Our DTLS role: the client uses even stream ids, the server odd ones (RFC 8832 section 6). */
  role: SctpDtlsRole;
  transport: SctpPacketTransport;
  /** Our SCTP port (our a=sctp-port). Default 5000. */
  localPort?: number;
  /** The peer's a=sctp-port. Default 5000. */
  remotePort?: number;
  /** Largest message we accept (our a=max-message-size); 0 means no limit. Default 262144. */
  maxMessageSize?: number;
  /** The peer's a=max-message-size; 0 means no limit. Default 65536. */
  remoteMaxMessageSize?: number;
  /** Send the SCTP INIT. Default: true for the DTLS client. Exactly one side must. */
  initiate?: boolean;
  logger?: Logger;
}

export interface DataChannelEndpointEvents {
  /** The SCTP association is up; pending channels are being announced. */
  connected: [];
  /** The peer announced a channel (DATA_CHANNEL_OPEN); it is already `open`. */
  datachannel: [channel: DataChannel];
  /** Closed by `close()`, by the peer (ABORT) or by SCTP giving up. Every channel is closed. */
  close: [];
}

export type DataChannelEndpointDropReason =
  | DataChannelDropReason
  /** PPID 50 payload that does not parse. */
  | 'dcepMalformed'
  /** DATA_CHANNEL_ACK for no channel, or for one not waiting for it. */
  | 'dcepUnexpectedAck'
  /** DATA_CHANNEL_OPEN on a stream id a channel of ours uses, or on 65535. */
  | 'dcepStreamInUse'
  /** A user message on a stream with no channel. */
  | 'unknownStream'
  /** Packet failing `sctpPacketLooksValid`. */
  | 'malformedPacket'
  /** werift rejected a packet (bad checksum, unknown chunk, ...) or failed internally. */
  | 'sctpError'
  /** The lower transport failed to send a packet. */
  | 'sendError'
  /** A packet after `close()`. */
  | 'afterClose';

const DROP_REASONS: readonly DataChannelEndpointDropReason[] = [
  'deprecatedPpid',
  'unknownPpid',
  'channelNotOpen',
  'messageTooLarge',
  'dcepMalformed',
  'dcepUnexpectedAck',
  'dcepStreamInUse',
  'unknownStream',
  'malformedPacket',
  'sctpError',
  'sendError',
  'afterClose',
];

export interface DataChannelEndpointStats {
  state: DataChannelEndpointState;
  role: SctpDtlsRole;
  /** Channels currently in the endpoint (any state but closed). */
  channels: number;
  channelsOpened: number;
  channelsClosed: number;
  packetsSent: number;
  packetsReceived: number;
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  dcepSent: number;
  dcepReceived: number;
  drops: Record<DataChannelEndpointDropReason, number>;
}

export interface DataChannelEndpointDump {
  role: SctpDtlsRole;
  state: DataChannelEndpointState;
  initiator: boolean;
  localPort: number;
  remotePort: number;
  maxMessageSize: number;
  remoteMaxMessageSize: number;
  /** werift's SCTP_STATE number (4 = ESTABLISHED). */
  sctpAssociationState: number;
  /** DATA chunks sent and not yet cumulatively acknowledged. */
  sctpOutstandingChunks: number;
  /** DATA chunks waiting for the congestion window. */
  sctpQueuedChunks: number;
  /** A FORWARD TSN (RFC 3758) the peer has not acknowledged yet. */
  sctpForwardTsnPending: boolean;
  /** Stream ids waiting for their data to drain before we reset them. */
  pendingResets: number[];
  channels: DataChannelDump[];
  stats: DataChannelEndpointStats;
}

const RECONFIG_CHUNK_TYPE = 130;

// ---------------------------------------------------------------------------
// Endpoint
// ---------------------------------------------------------------------------

export class DataChannelEndpoint extends EventEmitter<DataChannelEndpointEvents> implements DataChannelOwner {
  readonly role: SctpDtlsRole;
  readonly initiator: boolean;
  readonly localPort: number;
  readonly maxMessageSize: number;

  #remotePort: number;
  #remoteMaxMessageSize: number;
  #state: DataChannelEndpointState = 'new';
  #started = false;
  readonly #transport: SctpPacketTransport;
  readonly #log: Logger;
  readonly #sctp: WeriftSctp;
  readonly #internals: WeriftSctpInternals;
  readonly #unsubscribe: (() => void)[] = [];
  // Control-plane map: one lookup per received message, never iterated per packet.
  readonly #channels = new Map<number, DataChannel>();
  /** Local channels whose DATA_CHANNEL_OPEN waits for the association. */
  readonly #pendingOpen: DataChannel[] = [];
  /** Stream ids to reset once their outgoing data is acknowledged. */
  readonly #pendingResets = new Set<number>();
  #nextId: number;

  #channelsOpened = 0;
  #channelsClosed = 0;
  #packetsSent = 0;
  #packetsReceived = 0;
  #messagesSent = 0;
  #bytesSent = 0;
  #messagesReceived = 0;
  #bytesReceived = 0;
  #dcepSent = 0;
  #dcepReceived = 0;
  readonly #drops: Record<DataChannelEndpointDropReason, number>;

  constructor(opts: DataChannelEndpointOptions) {
    super();
    this.role = opts.role;
    this.initiator = opts.initiate ?? opts.role === 'client';
    this.localPort = opts.localPort ?? SCTP_DEFAULT_PORT;
    this.#remotePort = opts.remotePort ?? SCTP_DEFAULT_PORT;
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#remoteMaxMessageSize = opts.remoteMaxMessageSize ?? DEFAULT_REMOTE_MAX_MESSAGE_SIZE;
    this.#transport = opts.transport;
    this.#log = (opts.logger ?? silentLogger()).child({ tag: 'sctp', role: opts.role });
    this.#nextId = opts.role === 'client' ? 0 : 1;
    this.#drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DataChannelEndpointDropReason, number>;

    const inner: WeriftTransport = {
      // werift installs onData; we bypass it (handlePacket calls handleData
      // directly) so a rejected packet is counted instead of unhandled.
      onData: undefined,
      send: (packet: Buffer) => this.#sendPacket(packet),
      close: () => {},
    };
    const werift = loadWeriftSctp();
    this.#sctp = this.initiator ? werift.sctp.client(inner, this.localPort) : werift.sctp.server(inner, this.localPort);
    this.#sctp.setRemotePort(this.#remotePort);
    this.#internals = this.#sctp as unknown as WeriftSctpInternals;
    patchWeriftSctp(this.#internals, werift.ForwardTsnChunk);

    this.#unsubscribe.push(
      this.#sctp.stateChanged.connected.subscribe(() => this.#onConnected()).unSubscribe,
      this.#sctp.stateChanged.closed.subscribe(() => this.#onSctpClosed()).unSubscribe,
      this.#sctp.onReceive.subscribe((streamId, ppid, data) => this.#onMessage(streamId, ppid, data)).unSubscribe,
      this.#sctp.onReconfigStreams.subscribe((ids) => this.#onStreamsReset(ids)).unSubscribe,
    );
    // Called by werift after every SACK: the moment outgoing data may have drained.
    this.#sctp.onSackReceived = () => {
      if (this.#pendingResets.size > 0) this.#flushPendingResets();
      return Promise.resolve();
    };
  }

  get state(): DataChannelEndpointState {
    return this.#state;
  }

  get remotePort(): number {
    return this.#remotePort;
  }

  /** The peer's a=max-message-size; 0 means no limit. */
  get remoteMaxMessageSize(): number {
    return this.#remoteMaxMessageSize;
  }

  /** Channels not yet closed, in creation order. */
  get channels(): DataChannel[] {
    return [...this.#channels.values()];
  }

  /** Set the peer's a=sctp-port; only before `start()`. */
  setRemotePort(port: number): void {
    if (this.#started) throw new DataChannelError(DataChannelErrorCode.InvalidState, 'remote SCTP port set after start');
    this.#remotePort = port;
    this.#sctp.setRemotePort(port);
  }

  /** Set the peer's a=max-message-size (0: no limit); applies to later sends. */
  setRemoteMaxMessageSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw invalid('max message size must be a non-negative integer');
    this.#remoteMaxMessageSize = size;
  }

  /** Begin the association (the initiator sends INIT). Call once DTLS is connected. Idempotent. */
  start(): void {
    if (this.#started || this.#state === 'closed') return;
    this.#started = true;
    // A non-initiator may already be up: handlePacket accepts the peer's INIT before start().
    if (this.#state === 'connected') return;
    this.#state = 'connecting';
    this.#log.debug({ initiator: this.initiator, remotePort: this.#remotePort }, 'sctp starting');
    this.#sctp.start(this.#remotePort).catch(() => {
      this.#drops.sctpError++;
    });
  }

  /**
   * One SCTP packet from the DTLS layer. Never throws: malformed packets are
   * counted. Packets before `start()` are processed too, so a peer's INIT
   * that races our start is not lost.
   */
  handlePacket(packet: Buffer): void {
    if (this.#state === 'closed') {
      this.#drops.afterClose++;
      return;
    }
    this.#packetsReceived++;
    if (!sctpPacketLooksValid(packet)) {
      this.#drops.malformedPacket++;
      return;
    }
    this.#internals.handleData(packet).catch(() => {
      this.#drops.sctpError++;
    });
  }

  /**
   * Create a channel. Unless `negotiated`, it is announced with
   * DATA_CHANNEL_OPEN (now, or when the association comes up) and opens on the
   * peer's ACK. A negotiated channel opens when the association is up.
   */
  createDataChannel(label: string, init: DataChannelInit = {}): DataChannel {
    if (this.#state === 'closed') throw new ClosedError('data channel endpoint');
    const ordered = init.ordered ?? true;
    const protocol = init.protocol ?? '';
    const negotiated = init.negotiated ?? false;
    const priority = init.priority ?? DcepPriority.Normal;
    const { maxRetransmits, maxPacketLifeTime } = init;
    if (maxRetransmits !== undefined && maxPacketLifeTime !== undefined) {
      throw invalid('maxRetransmits and maxPacketLifeTime are exclusive');
    }
    if (maxRetransmits !== undefined && !isUint16(maxRetransmits)) throw invalid('maxRetransmits must be 0..65535');
    if (maxPacketLifeTime !== undefined && !isUint16(maxPacketLifeTime)) {
      throw invalid('maxPacketLifeTime must be 0..65535 ms');
    }
    const { channelType, reliability } = dcepChannelType({ ordered, maxRetransmits, maxPacketLifeTime });
    const problem = validateDcepOpen({ channelType, priority, reliability, label, protocol });
    if (problem !== null) throw invalid(problem);

    let id: number;
    if (init.id !== undefined) {
      if (!Number.isInteger(init.id) || init.id < 0 || init.id > MAX_STREAM_ID) throw invalid('id must be 0..65534');
      if (this.#channels.has(init.id) || this.#pendingResets.has(init.id)) {
        throw new DataChannelError(DataChannelErrorCode.IdInUse, `stream id ${init.id} is in use`);
      }
      id = init.id;
    } else if (negotiated) {
      throw invalid('a negotiated data channel needs an id');
    } else {
      id = this.#allocateId();
    }

    const channel = new DataChannel(this, {
      id,
      label,
      protocol,
      ordered,
      maxRetransmits: maxRetransmits ?? null,
      maxPacketLifeTime: maxPacketLifeTime ?? null,
      negotiated,
      priority,
      createdByRemote: false,
      state: 'connecting',
    });
    this.#channels.set(id, channel);
    this.#log.debug({ id, label, negotiated }, 'data channel created');
    if (this.#state === 'connected') {
      // Let the caller attach listeners before `open` can fire.
      if (negotiated) queueMicrotask(() => this.#markOpen(channel));
      else this.#sendOpen(channel);
    } else if (!negotiated) {
      this.#pendingOpen.push(channel);
    }
    return channel;
  }

  /** Close every channel and the association (sends ABORT); stops all SCTP timers. Idempotent. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#shutdown(null);
    this.#sctp.stop().catch(() => {
      this.#drops.sctpError++;
    });
  }

  /** Drops by reason, live (read by metrics at scrape time; not to be changed). */
  get drops(): Readonly<Record<DataChannelEndpointDropReason, number>> {
    return this.#drops;
  }

  getStats(): DataChannelEndpointStats {
    return {
      state: this.#state,
      role: this.role,
      channels: this.#channels.size,
      channelsOpened: this.#channelsOpened,
      channelsClosed: this.#channelsClosed,
      packetsSent: this.#packetsSent,
      packetsReceived: this.#packetsReceived,
      messagesSent: this.#messagesSent,
      bytesSent: this.#bytesSent,
      messagesReceived: this.#messagesReceived,
      bytesReceived: this.#bytesReceived,
      dcepSent: this.#dcepSent,
      dcepReceived: this.#dcepReceived,
      drops: { ...this.#drops },
    };
  }

  dump(): DataChannelEndpointDump {
    return {
      role: this.role,
      state: this.#state,
      initiator: this.initiator,
      localPort: this.localPort,
      remotePort: this.#remotePort,
      maxMessageSize: this.maxMessageSize,
      remoteMaxMessageSize: this.#remoteMaxMessageSize,
      sctpAssociationState: this.#sctp.associationState,
      sctpOutstandingChunks: this.#internals.sentQueue.length,
      sctpQueuedChunks: this.#sctp.outboundQueue.length,
      sctpForwardTsnPending: uint32Gt(this.#internals.advancedPeerAckTsn, this.#internals.lastSackedTsn),
      pendingResets: [...this.#pendingResets],
      channels: this.channels.map((c) => c.dump()),
      stats: this.getStats(),
    };
  }

  // -------------------------------------------------------------------------
  // DataChannelOwner (called by channels)
  // -------------------------------------------------------------------------

  /** @internal */
  sendUserMessage(channel: DataChannel, ppid: number, payload: Buffer, size: number): void {
    this.#messagesSent++;
    this.#bytesSent += size;
    const expiry =
      channel.maxPacketLifeTime === null ? undefined : (Date.now() + channel.maxPacketLifeTime) / 1000; // werift: seconds
    this.#sctp
      .send(channel.id, ppid, payload, {
        ordered: channel.ordered,
        maxRetransmits: channel.maxRetransmits ?? undefined,
        expiry,
      })
      .then(
        // werift resolves once its whole outbound queue is on the wire.
        () => channel._drained(size),
        () => {
          this.#drops.sctpError++;
        },
      );
  }

  /** @internal `channel.close()`: reset our outgoing stream once its data is acknowledged. */
  closeChannel(channel: DataChannel): void {
    const pending = this.#pendingOpen.indexOf(channel);
    if (pending >= 0) {
      // Never announced: nothing to reset.
      this.#pendingOpen.splice(pending, 1);
      this.#finishClose(channel);
      return;
    }
    if (this.#state !== 'connected' || !this.#sctp.remoteExtensions.includes(RECONFIG_CHUNK_TYPE)) {
      this.#finishClose(channel);
      return;
    }
    this.#pendingResets.add(channel.id);
    this.#flushPendingResets();
  }

  // -------------------------------------------------------------------------
  // SCTP events
  // -------------------------------------------------------------------------

  #onConnected(): void {
    // NOTE: werift fires `connected` again on a retransmitted COOKIE ECHO.
    if (this.#state !== 'connecting' && this.#state !== 'new') return;
    this.#state = 'connected';
    this.#log.debug({ streams: this.#sctp.maxChannels }, 'sctp connected');
    this.#emitSafe('connected');
    for (const channel of this.#pendingOpen.splice(0)) this.#sendOpen(channel);
    for (const channel of this.#channels.values()) {
      if (channel.negotiated) this.#markOpen(channel);
    }
  }

  #onSctpClosed(): void {
    if (this.#state === 'closed') return;
    this.#log.debug('sctp association closed by peer or timeout');
    this.#shutdown('SCTP association closed by the peer or by retransmission limits');
  }

  #onMessage(streamId: number, ppid: number, data: Buffer): void {
    if (this.#state === 'closed') return;
    if (ppid === Ppid.Dcep) {
      this.#onDcep(streamId, data);
      return;
    }
    const channel = this.#channels.get(streamId);
    if (channel === undefined) {
      this.#drops.unknownStream++;
      return;
    }
    // Data before DATA_CHANNEL_ACK is an implicit ACK (RFC 8832 section 6).
    if (!channel.negotiated && !channel.createdByRemote) this.#markOpen(channel);
    const drop = channel._receive(ppid, data, this.maxMessageSize);
    if (drop !== null) {
      this.#drops[drop]++;
      return;
    }
    this.#messagesReceived++;
    this.#bytesReceived += ppid === Ppid.StringEmpty || ppid === Ppid.BinaryEmpty ? 0 : data.length;
  }

  #onDcep(streamId: number, data: Buffer): void {
    const msg = parseDcep(data);
    if (msg === null) {
      this.#drops.dcepMalformed++;
      return;
    }
    this.#dcepReceived++;
    switch (msg.type) {
      case 'ack': {
        const channel = this.#channels.get(streamId);
        if (
          channel === undefined ||
          channel.readyState !== 'connecting' ||
          channel.negotiated ||
          channel.createdByRemote
        ) {
          this.#drops.dcepUnexpectedAck++;
          return;
        }
        this.#markOpen(channel);
        return;
      }
      case 'open':
        this.#onDcepOpen(streamId, msg);
        return;
    }
  }

  #onDcepOpen(streamId: number, open: DcepOpen): void {
    const existing = this.#channels.get(streamId);
    if (existing !== undefined) {
      // A retransmitted OPEN of a channel the peer announced: ACK it again.
      if (existing.createdByRemote) this.#sendDcep(streamId, encodeDcepAck());
      else this.#drops.dcepStreamInUse++;
      return;
    }
    if (streamId > MAX_STREAM_ID || this.#pendingResets.has(streamId)) {
      this.#drops.dcepStreamInUse++;
      return;
    }
    const r = dcepReliability(open);
    const channel = new DataChannel(this, {
      id: streamId,
      label: open.label,
      protocol: open.protocol,
      ordered: r.ordered,
      maxRetransmits: r.maxRetransmits ?? null,
      maxPacketLifeTime: r.maxPacketLifeTime ?? null,
      negotiated: false,
      priority: open.priority,
      createdByRemote: true,
      // W3C 6.2: open before `datachannel`, so its handler may send at once.
      state: 'open',
    });
    this.#channels.set(streamId, channel);
    this.#channelsOpened++;
    // ACK before anything the application sends on the channel.
    this.#sendDcep(streamId, encodeDcepAck());
    this.#log.debug({ id: streamId, label: open.label }, 'data channel opened by peer');
    this.#emitSafe('datachannel', channel);
    channel._announceOpen();
  }

  #onStreamsReset(ids: number[]): void {
    // werift reports both "the peer reset its outgoing stream" and "our reset
    // completed" here; either way the channel is done. When the peer started
    // it, reset our side too (RFC 8831 section 6.7).
    for (const id of ids) {
      const channel = this.#channels.get(id);
      if (channel === undefined) continue;
      if (channel.readyState !== 'closing') {
        channel._setClosing();
        if (!this.#resetQueued(id)) this.#pendingResets.add(id);
      }
      this.#finishClose(channel);
    }
    if (this.#pendingResets.size > 0) this.#flushPendingResets();
  }

  // -------------------------------------------------------------------------
  // Helpers
  // -------------------------------------------------------------------------

  #markOpen(channel: DataChannel): void {
    if (channel.readyState !== 'connecting') return;
    this.#channelsOpened++;
    this.#log.debug({ id: channel.id, label: channel.label }, 'data channel open');
    channel._setOpen();
  }

  #sendOpen(channel: DataChannel): void {
    const { channelType, reliability } = dcepChannelType({
      ordered: channel.ordered,
      maxRetransmits: channel.maxRetransmits ?? undefined,
      maxPacketLifeTime: channel.maxPacketLifeTime ?? undefined,
    });
    this.#sendDcep(
      channel.id,
      encodeDcepOpen({ channelType, priority: channel.priority, reliability, label: channel.label, protocol: channel.protocol }),
    );
  }

  // DCEP goes reliable and ordered (RFC 8832 section 6).
  #sendDcep(streamId: number, msg: Buffer): void {
    this.#dcepSent++;
    this.#sctp.send(streamId, Ppid.Dcep, msg, { ordered: true }).catch(() => {
      this.#drops.sctpError++;
    });
  }

  #sendPacket(packet: Buffer): Promise<void> {
    this.#packetsSent++;
    try {
      const r = this.#transport.send(packet);
      if (r instanceof Promise) {
        return r.catch(() => {
          this.#drops.sendError++;
        });
      }
    } catch {
      this.#drops.sendError++;
    }
    return Promise.resolve();
  }

  #resetQueued(id: number): boolean {
    return (
      this.#pendingResets.has(id) ||
      this.#sctp.reconfigQueue.includes(id) ||
      (this.#sctp.reconfigRequest?.streams.includes(id) ?? false)
    );
  }

  /**
   * Reset the outgoing streams whose data is all acknowledged. Resetting
   * earlier would let the RECONFIG overtake queued or retransmitted DATA,
   * and werift's receiver resets at once (it ignores the request's last TSN).
   */
  #flushPendingResets(): void {
    if (this.#state !== 'connected') return;
    let queued = false;
    for (const id of this.#pendingResets) {
      if (hasChunkFor(this.#sctp.outboundQueue, id) || hasChunkFor(this.#internals.sentQueue, id)) continue;
      this.#pendingResets.delete(id);
      if (!this.#sctp.reconfigQueue.includes(id)) this.#sctp.reconfigQueue.push(id);
      queued = true;
    }
    if (queued) {
      this.#sctp.transmitReconfigRequest().catch(() => {
        this.#drops.sctpError++;
      });
    }
  }

  #allocateId(): number {
    const first = this.role === 'client' ? 0 : 1;
    const limit = Math.min(MAX_STREAM_ID, (this.#sctp.maxChannels ?? MAX_STREAM_ID + 1) - 1);
    // Round-robin rather than lowest-free, so a just-closed id is not reused
    // while a late reset for it may still be in flight.
    for (let tries = 0; tries <= (MAX_STREAM_ID >> 1) + 1; tries++) {
      const id = this.#nextId;
      this.#nextId = id + 2 > limit ? first : id + 2;
      if (id <= limit && !this.#channels.has(id) && !this.#pendingResets.has(id)) return id;
    }
    throw new DataChannelError(DataChannelErrorCode.NoStreamIds, 'no free SCTP stream id');
  }

  #finishClose(channel: DataChannel, error?: Error): void {
    if (this.#channels.get(channel.id) === channel) this.#channels.delete(channel.id);
    if (channel.readyState === 'closed') return;
    this.#channelsClosed++;
    this.#log.debug({ id: channel.id, label: channel.label }, 'data channel closed');
    channel._setClosed(error);
  }

  /** `reason` null: closed by us, quietly; otherwise channels' error listeners hear it. */
  #shutdown(reason: string | null): void {
    this.#state = 'closed';
    for (const dispose of this.#unsubscribe.splice(0)) dispose();
    this.#sctp.onSackReceived = () => Promise.resolve();
    this.#pendingOpen.length = 0;
    this.#pendingResets.clear();
    const error = reason === null ? undefined : new DataChannelError(DataChannelErrorCode.InvalidState, reason);
    for (const channel of [...this.#channels.values()]) this.#finishClose(channel, error);
    this.#emitSafe('close');
  }

  // See DataChannel: listener exceptions must not unwind into werift.
  #emitSafe<K extends keyof DataChannelEndpointEvents>(event: K, ...args: DataChannelEndpointEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: DataChannelEndpointEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

function hasChunkFor(queue: readonly WeriftDataChunk[], streamId: number): boolean {
  for (const c of queue) if (c.streamId === streamId && !c.abandoned) return true;
  return false;
}

function isUint16(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

function invalid(message: string): DataChannelError {
  return new DataChannelError(DataChannelErrorCode.InvalidParameters, message);
}
