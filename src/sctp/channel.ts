/**
 * One WebRTC data channel (RFC 8831): a pair of SCTP streams with the same id,
 * with the W3C `RTCDataChannel` surface reduced to what a server needs. The
 * channel owns message semantics (PPIDs, empty messages, state checks); its
 * endpoint (`association.ts`) owns the SCTP association, stream ids and DCEP.
 *
 * RFC 8831 section 6.6 (transferring user data)  https://www.rfc-editor.org/rfc/rfc8831#section-6.6
 * RFC 8831 section 6.7 (closing a data channel)  https://www.rfc-editor.org/rfc/rfc8831#section-6.7
 * W3C WebRTC section 6.2 (RTCDataChannel)        https://www.w3.org/TR/webrtc/#rtcdatachannel
 *
 * Lifecycle: connecting -> open -> closing -> closed. A channel we announce
 * is `connecting` until the peer's DATA_CHANNEL_ACK (or its first message,
 * an implicit ACK, RFC 8832 section 6); a pre-negotiated one until the
 * association is up; one the peer announced is created `open`. `close()`
 * resets our outgoing stream (via the endpoint) and the channel becomes
 * `closed` when the reset completes or the peer resets its own; endpoint
 * close closes every channel at once.
 */
import { EventEmitter } from 'node:events';
import { SfuError } from '../errors.js';
import { Ppid } from './dcep.js';

export type DataChannelState = 'connecting' | 'open' | 'closing' | 'closed';

/** Options of `DataChannelEndpoint.createDataChannel` (W3C `RTCDataChannelInit` plus priority). */
export interface DataChannelInit {
  /** Default true. */
  ordered?: boolean;
  /** Partial reliability by retransmit count; exclusive with maxPacketLifeTime. */
  maxRetransmits?: number;
  /** Partial reliability by lifetime in ms; exclusive with maxRetransmits. */
  maxPacketLifeTime?: number;
  /** Sub-protocol name, at most 65535 UTF-8 bytes. Default ''. */
  protocol?: string;
  /** Both sides create the channel with the same id; no DCEP is sent. Requires `id`. */
  negotiated?: boolean;
  /** Stream id, 0..65534. Required with `negotiated`; otherwise picked by DTLS role parity. */
  id?: number;
  /** DCEP priority (RFC 8831 section 6.4). Default 256 (normal). */
  priority?: number;
}

/** Typed events of a `DataChannel`. */
export interface DataChannelEvents {
  open: [];
  /** A string for PPIDs 51/56, a Buffer (owned by the listener) for 53/57. */
  message: [data: string | Buffer];
  close: [];
  /** Only emitted when someone listens; never throws ERR_UNHANDLED_ERROR. */
  error: [err: Error];
  /** `bufferedAmount` fell to or below `bufferedAmountLowThreshold`. */
  bufferedamountlow: [];
}

export const DataChannelErrorCode = {
  InvalidState: 'ERR_SFUD_DC_INVALID_STATE',
  MessageTooLarge: 'ERR_SFUD_DC_MESSAGE_TOO_LARGE',
  InvalidParameters: 'ERR_SFUD_DC_INVALID_PARAMETERS',
  IdInUse: 'ERR_SFUD_DC_ID_IN_USE',
  NoStreamIds: 'ERR_SFUD_DC_NO_STREAM_IDS',
} as const;
export type DataChannelErrorCode = (typeof DataChannelErrorCode)[keyof typeof DataChannelErrorCode];

/** Control-plane errors of data channels: invalid state, oversize message, bad parameters. */
export class DataChannelError extends SfuError {
  declare readonly code: DataChannelErrorCode;
  constructor(code: DataChannelErrorCode, message: string) {
    super(code, message);
    this.name = 'DataChannelError';
  }
}

/** Why an incoming message was not delivered; counted by the endpoint. */
export type DataChannelDropReason = 'deprecatedPpid' | 'unknownPpid' | 'channelNotOpen' | 'messageTooLarge';

/**
 * What a channel needs from its endpoint.
 * @internal
 */
export interface DataChannelOwner {
  /** Largest message the peer accepts (its a=max-message-size); 0 means no limit. */
  readonly remoteMaxMessageSize: number;
  sendUserMessage(channel: DataChannel, ppid: number, payload: Buffer, size: number): void;
  closeChannel(channel: DataChannel): void;
}

export interface DataChannelStats {
  id: number;
  label: string;
  protocol: string;
  state: DataChannelState;
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  bufferedAmount: number;
}

export interface DataChannelDump extends DataChannelStats {
  ordered: boolean;
  maxRetransmits: number | null;
  maxPacketLifeTime: number | null;
  negotiated: boolean;
  priority: number;
  createdByRemote: boolean;
}

// One zero byte stands in for an empty message (RFC 8831 section 6.6).
const EMPTY_PAYLOAD = Buffer.from([0]);

export class DataChannel extends EventEmitter<DataChannelEvents> {
  readonly id: number;
  readonly label: string;
  readonly protocol: string;
  readonly ordered: boolean;
  readonly maxRetransmits: number | null;
  readonly maxPacketLifeTime: number | null;
  readonly negotiated: boolean;
  readonly priority: number;
  /** True when the peer announced this channel with DATA_CHANNEL_OPEN. */
  readonly createdByRemote: boolean;
  /** `bufferedamountlow` fires when `bufferedAmount` drops to this or below. */
  bufferedAmountLowThreshold = 0;

  #state: DataChannelState;
  #owner: DataChannelOwner;
  #bufferedAmount = 0;
  #messagesSent = 0;
  #bytesSent = 0;
  #messagesReceived = 0;
  #bytesReceived = 0;

  /** @internal Channels are made by `DataChannelEndpoint`; parameters are validated there. */
  constructor(
    owner: DataChannelOwner,
    params: {
      id: number;
      label: string;
      protocol: string;
      ordered: boolean;
      maxRetransmits: number | null;
      maxPacketLifeTime: number | null;
      negotiated: boolean;
      priority: number;
      createdByRemote: boolean;
      state: DataChannelState;
    },
  ) {
    super();
    this.#owner = owner;
    this.id = params.id;
    this.label = params.label;
    this.protocol = params.protocol;
    this.ordered = params.ordered;
    this.maxRetransmits = params.maxRetransmits;
    this.maxPacketLifeTime = params.maxPacketLifeTime;
    this.negotiated = params.negotiated;
    this.priority = params.priority;
    this.createdByRemote = params.createdByRemote;
    this.#state = params.state;
  }

  get readyState(): DataChannelState {
    return this.#state;
  }

  /** Bytes handed to SCTP that it has not yet put on the wire. */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /**
   * Send one message: a string goes as UTF-8 (PPID 51), bytes as binary
   * (PPID 53); empty ones as PPID 56/57. Bytes are copied, because SCTP keeps
   * the payload for retransmission. Throws DataChannelError when the channel
   * is not open or the message exceeds the peer's max message size.
   */
  send(data: string | Uint8Array): void {
    if (this.#state !== 'open') {
      throw new DataChannelError(DataChannelErrorCode.InvalidState, `data channel ${this.id} is ${this.#state}`);
    }
    let payload: Buffer;
    let ppid: number;
    if (typeof data === 'string') {
      payload = Buffer.from(data, 'utf8');
      ppid = Ppid.String;
    } else {
      payload = Buffer.from(data);
      ppid = Ppid.Binary;
    }
    const size = payload.length;
    const max = this.#owner.remoteMaxMessageSize;
    if (max > 0 && size > max) {
      throw new DataChannelError(
        DataChannelErrorCode.MessageTooLarge,
        `message of ${size} bytes exceeds the peer's max message size ${max}`,
      );
    }
    if (size === 0) {
      payload = EMPTY_PAYLOAD;
      ppid = ppid === Ppid.String ? Ppid.StringEmpty : Ppid.BinaryEmpty;
    }
    this.#messagesSent++;
    this.#bytesSent += size;
    this.#bufferedAmount += size;
    this.#owner.sendUserMessage(this, ppid, payload, size);
  }

  /** Start closing (RFC 8831 section 6.7). Idempotent; `close` fires once the streams are reset. */
  close(): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    this.#owner.closeChannel(this);
  }

  getStats(): DataChannelStats {
    return {
      id: this.id,
      label: this.label,
      protocol: this.protocol,
      state: this.#state,
      messagesSent: this.#messagesSent,
      bytesSent: this.#bytesSent,
      messagesReceived: this.#messagesReceived,
      bytesReceived: this.#bytesReceived,
      bufferedAmount: this.#bufferedAmount,
    };
  }

  dump(): DataChannelDump {
    return {
      ...this.getStats(),
      ordered: this.ordered,
      maxRetransmits: this.maxRetransmits,
      maxPacketLifeTime: this.maxPacketLifeTime,
      negotiated: this.negotiated,
      priority: this.priority,
      createdByRemote: this.createdByRemote,
    };
  }

  // -------------------------------------------------------------------------
  // Driven by the endpoint
  // -------------------------------------------------------------------------

  /** @internal connecting -> open; emits `open`. */
  _setOpen(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'open';
    this.#emitSafe('open');
  }

  /** @internal A peer-announced channel is created open; emits `open` after `datachannel`. */
  _announceOpen(): void {
    if (this.#state === 'open') this.#emitSafe('open');
  }

  /**
   * @internal Deliver one SCTP message; returns why it was dropped, or null.
   * `maxSize` is our own max message size (0: no limit).
   */
  _receive(ppid: number, data: Buffer, maxSize: number): DataChannelDropReason | null {
    // NOTE: `closing` still delivers: the peer may send until it resets its stream.
    if (this.#state !== 'open' && this.#state !== 'closing') return 'channelNotOpen';
    if (maxSize > 0 && data.length > maxSize) return 'messageTooLarge';
    let message: string | Buffer;
    let size = data.length;
    switch (ppid) {
      case Ppid.String:
        message = data.toString('utf8');
        break;
      case Ppid.Binary:
        message = data;
        break;
      case Ppid.StringEmpty:
        message = '';
        size = 0;
        break;
      case Ppid.BinaryEmpty:
        message = Buffer.alloc(0);
        size = 0;
        break;
      case Ppid.StringPartial:
      case Ppid.BinaryPartial:
        // Deprecated fragmented delivery (RFC 8831 section 8); no current
        // browser sends it and reassembling it would need unbounded buffers.
        return 'deprecatedPpid';
      default:
        return 'unknownPpid';
    }
    this.#messagesReceived++;
    this.#bytesReceived += size;
    this.#emitSafe('message', message);
    return null;
  }

  /** @internal SCTP has put `size` bytes of this channel on the wire. */
  _drained(size: number): void {
    if (size === 0 || this.#state === 'closed') return;
    const before = this.#bufferedAmount;
    this.#bufferedAmount = Math.max(0, before - size);
    if (before > this.bufferedAmountLowThreshold && this.#bufferedAmount <= this.bufferedAmountLowThreshold) {
      this.#emitSafe('bufferedamountlow');
    }
  }

  /** @internal The peer started closing: we are now resetting our side too. */
  _setClosing(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closing';
  }

  /** @internal Streams reset or endpoint gone: closed; emits `close` once. */
  _setClosed(error?: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#bufferedAmount = 0;
    if (error !== undefined && this.listenerCount('error') > 0) this.#emitSafe('error', error);
    this.#emitSafe('close');
  }

  // A throwing listener must not unwind into the SCTP receive path (it would
  // abort processing of the rest of the packet); rethrow it on its own tick
  // so it still surfaces as an uncaught exception, as with any emitter.
  #emitSafe<K extends keyof DataChannelEvents>(event: K, ...args: DataChannelEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: DataChannelEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
