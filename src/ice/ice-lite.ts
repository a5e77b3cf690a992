/**
 * ICE-lite agent, controlled role (RFC 8445 section 2.5 and 7.3; consent
 * freshness RFC 7675). Pure: it reads parsed STUN requests and writes
 * responses into the caller's buffer; it owns no socket and no timer (the
 * transport's shared tick calls `checkConsent`).
 *
 * A lite agent never sends checks. It answers binding requests that carry
 * our short-term credentials, learns candidate pairs from where they come
 * from, and selects the pair the controlling agent nominates with
 * USE-CANDIDATE. A new nomination (the client moved to another network)
 * moves the media path at once.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  StunClass,
  StunErrorCode,
  StunMethod,
  shortTermKey,
  stunErrorReason,
  verifyFingerprint,
  verifyMessageIntegrity,
  writeStun,
  type StunMessage,
} from './stun.js';

export interface IceTuple {
  address: string;
  port: number;
  family: 4 | 6;
}

export interface IceParameters {
  usernameFragment: string;
  password: string;
  iceLite: true;
}

export type IceState = 'new' | 'connected' | 'completed' | 'disconnected' | 'closed';

/** What happened to one binding request: the transport counts and acts on it. */
export const IceResult = {
  /** Valid request answered with success; the tuple is a working pair. */
  Success: 0,
  /** Dropped without an answer (RFC 8489 requires silence for a bad FINGERPRINT). */
  DropBadFingerprint: 1,
  DropNotRequest: 2,
  /** Answered with an error response. */
  ErrorBadRequest: 3,
  ErrorUnauthorized: 4,
  ErrorUnknownAttribute: 5,
  ErrorRoleConflict: 6,
} as const;
export type IceResult = (typeof IceResult)[keyof typeof IceResult];

export interface IceLiteEvents {
  /** The media path changed: the first valid pair, or a new nomination. */
  selected: [tuple: IceTuple];
  statechange: [state: IceState];
}

export interface IceLiteOptions {
  usernameFragment?: string;
  password?: string;
  /** RFC 7675: no valid request on the selected pair for this long ends consent. */
  consentTimeoutMs?: number;
}

interface Pair {
  tuple: IceTuple;
  lastRequestAt: number;
  nominated: boolean;
}

/** ICE ufrag/pwd alphabet (RFC 8839 5.4: ice-char = ALPHA / DIGIT / "+" / "/"). */
function iceString(bytes: number): string {
  return randomBytes(bytes).toString('base64').replace(/=+$/, '');
}

export function tupleKey(t: IceTuple): string {
  return `${t.address}|${t.port}`;
}

function sameTuple(a: IceTuple | undefined, b: IceTuple): boolean {
  return a !== undefined && a.port === b.port && a.address === b.address;
}

export class IceLiteAgent extends EventEmitter<IceLiteEvents> {
  private ufrag: string;
  private pwd: string;
  private key: Buffer;
  /** Credentials from before an ICE restart, valid until the client uses the new ones. */
  private previous: { ufrag: string; key: Buffer } | undefined;
  private readonly consentTimeoutMs: number;
  private readonly pairs = new Map<string, Pair>();
  private selected: Pair | undefined;
  private _state: IceState = 'new';
  /** Remote ufrag from the SDP, when known; requests must then name it. */
  private remoteUfrag: string | undefined;
  readonly stats = { requests: 0, successes: 0, errors: 0, drops: 0, nominations: 0, pathSwitches: 0 };

  constructor(opts: IceLiteOptions = {}) {
    super();
    // RFC 8445 5.3: at least 24 bits of ufrag and 128 bits of password.
    this.ufrag = opts.usernameFragment ?? iceString(6);
    this.pwd = opts.password ?? iceString(18);
    this.key = shortTermKey(this.pwd);
    this.consentTimeoutMs = opts.consentTimeoutMs ?? 30_000;
  }

  get localParameters(): IceParameters {
    return { usernameFragment: this.ufrag, password: this.pwd, iceLite: true };
  }

  /** Usernames fragments the mux should route to this agent (two during an ICE restart). */
  get usernameFragments(): string[] {
    return this.previous ? [this.ufrag, this.previous.ufrag] : [this.ufrag];
  }

  get state(): IceState {
    return this._state;
  }

  get selectedTuple(): IceTuple | undefined {
    return this.selected?.tuple;
  }

  setRemoteParameters(p: { usernameFragment: string }): void {
    this.remoteUfrag = p.usernameFragment;
  }

  /**
   * ICE restart (RFC 8445 9): new local credentials. The old ones keep working
   * until the client's first check with the new ones, so media does not stop
   * while the offer/answer is in flight.
   */
  restart(): IceParameters {
    this.previous = { ufrag: this.ufrag, key: this.key };
    this.ufrag = iceString(6);
    this.pwd = iceString(18);
    this.key = shortTermKey(this.pwd);
    this.remoteUfrag = undefined;
    return this.localParameters;
  }

  /**
   * Handles one STUN message from `from`. Writes the response (if any) into
   * `out` and stores its length in `responseLength` (0: send nothing).
   */
  responseLength = 0;

  handleStun(msg: StunMessage, from: IceTuple, now: number, out: Buffer): IceResult {
    this.responseLength = 0;
    if (this._state === 'closed') return this.drop(IceResult.DropNotRequest);
    if (msg.method !== StunMethod.Binding || msg.class !== StunClass.Request) {
      // Binding indications are keepalives (RFC 8445 11); nothing to answer.
      return this.drop(IceResult.DropNotRequest);
    }
    this.stats.requests++;
    if (!msg.hasFingerprint || !verifyFingerprint(msg)) return this.drop(IceResult.DropBadFingerprint);
    const username = msg.username;
    if (username === undefined || !msg.hasMessageIntegrity) {
      return this.error(msg, out, StunErrorCode.BadRequest, IceResult.ErrorBadRequest, undefined);
    }
    const colon = username.indexOf(':');
    const localPart = colon < 0 ? username : username.slice(0, colon);
    let key: Buffer | undefined;
    let usedPrevious = false;
    if (localPart === this.ufrag) key = this.key;
    else if (this.previous && localPart === this.previous.ufrag) {
      key = this.previous.key;
      usedPrevious = true;
    }
    if (!key || !verifyMessageIntegrity(msg, key)) {
      // RFC 8489 9.1.3: a 401 to a request that failed integrity carries no MESSAGE-INTEGRITY.
      return this.error(msg, out, StunErrorCode.Unauthorized, IceResult.ErrorUnauthorized, undefined);
    }
    if (!usedPrevious && this.remoteUfrag !== undefined && colon >= 0 && username.slice(colon + 1) !== this.remoteUfrag) {
      return this.error(msg, out, StunErrorCode.Unauthorized, IceResult.ErrorUnauthorized, undefined);
    }
    if (msg.unknownAttributes.length > 0) {
      return this.error(msg, out, StunErrorCode.UnknownAttribute, IceResult.ErrorUnknownAttribute, key, msg.unknownAttributes);
    }
    if (msg.iceControlled !== undefined) {
      // Both sides think they are controlled; a lite agent cannot take the
      // controlling role, so the peer must switch (RFC 8445 7.3.1.1).
      return this.error(msg, out, StunErrorCode.RoleConflict, IceResult.ErrorRoleConflict, key);
    }
    if (!usedPrevious && this.previous) this.previous = undefined; // restart complete

    const k = tupleKey(from);
    let pair = this.pairs.get(k);
    if (!pair) {
      pair = { tuple: { ...from }, lastRequestAt: now, nominated: false };
      this.pairs.set(k, pair);
    }
    pair.lastRequestAt = now;
    if (msg.useCandidate) {
      this.stats.nominations++;
      pair.nominated = true;
      this.select(pair, 'completed');
    } else if (!this.selected || this._state === 'disconnected') {
      // Media may flow before nomination (a DTLS ClientHello often does):
      // the first working pair carries it until the client nominates one.
      this.select(pair, 'connected');
    }

    this.stats.successes++;
    this.responseLength = writeStun(
      {
        method: StunMethod.Binding,
        class: StunClass.SuccessResponse,
        transactionId: msg.transactionId,
        xorMappedAddress: { family: from.family, address: from.address, port: from.port },
        integrityKey: key,
        fingerprint: true,
      },
      out,
      0,
    );
    return IceResult.Success;
  }

  private select(pair: Pair, state: 'connected' | 'completed'): void {
    const changed = !sameTuple(this.selected?.tuple, pair.tuple);
    if (changed && this.selected) this.stats.pathSwitches++;
    this.selected = pair;
    // A nominated path is never downgraded to "connected" by a later plain check.
    const next = state === 'completed' || pair.nominated ? 'completed' : 'connected';
    if (changed) this.emit('selected', pair.tuple);
    this.setState(next);
  }

  private setState(s: IceState): void {
    if (s === this._state) return;
    this._state = s;
    this.emit('statechange', s);
  }

  private drop(r: IceResult): IceResult {
    this.stats.drops++;
    return r;
  }

  private error(
    msg: StunMessage,
    out: Buffer,
    code: number,
    result: IceResult,
    key: Buffer | undefined,
    unknownAttributes?: readonly number[],
  ): IceResult {
    this.stats.errors++;
    this.responseLength = writeStun(
      {
        method: StunMethod.Binding,
        class: StunClass.ErrorResponse,
        transactionId: msg.transactionId,
        errorCode: { code, reason: stunErrorReason(code) },
        ...(unknownAttributes ? { unknownAttributes } : {}),
        ...(key ? { integrityKey: key } : {}),
        fingerprint: true,
      },
      out,
      0,
    );
    return result;
  }

  /** True if `from` has sent a valid request (DTLS and media are accepted only from such tuples). */
  isKnownTuple(from: IceTuple): boolean {
    return this.pairs.has(tupleKey(from));
  }

  /**
   * Consent freshness (RFC 7675 5.1, from the lite side): the selected pair
   * must keep receiving valid requests. Returns false once consent is lost;
   * the agent is then 'disconnected' and the owner closes the transport.
   * Pairs that went quiet are forgotten.
   */
  checkConsent(now: number): boolean {
    if (this._state === 'closed') return false;
    for (const [k, p] of this.pairs) {
      if (p !== this.selected && now - p.lastRequestAt > this.consentTimeoutMs) this.pairs.delete(k);
    }
    if (!this.selected) return true;
    if (now - this.selected.lastRequestAt > this.consentTimeoutMs) {
      this.setState('disconnected');
      return false;
    }
    return true;
  }

  close(): void {
    this.pairs.clear();
    this.selected = undefined;
    this.setState('closed');
  }

  dump(): Record<string, unknown> {
    return {
      state: this._state,
      usernameFragment: this.ufrag,
      selectedTuple: this.selected?.tuple,
      pairs: [...this.pairs.values()].map((p) => ({ ...p.tuple, nominated: p.nominated, lastRequestAt: p.lastRequestAt })),
      ...this.stats,
    };
  }
}
