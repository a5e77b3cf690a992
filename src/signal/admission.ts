/**
 * sfud's signalling policy, plugged into SignalWsServer as its admission:
 *  - upgrade: Origin allow-list (HTTP 403), per-address connection rate (429);
 *  - join: per-address join rate (429), SDP size (413), token (401/403),
 *    tracks per peer (413), peers per room (429);
 *  - offer/answer: SDP size, publish permission, tracks per peer;
 *  - trickle: candidates per transport (413).
 * And the admin side: `/rpc` needs a token with `admin: true` when tokens are on.
 *
 * Tokens (auth.ts) come from the `token` query parameter of the WebSocket URL
 * (what ion-sdk-js can do: `new IonSFUJSONRPCSignal('wss://host/ws?token=...')`)
 * or a `token` field in the join params; the join field wins when both are there.
 * A viewer token (`canPublish: false`) may join with an offer that sends no
 * media (ion-sdk-js's join offer carries only a data channel) or with
 * `config.NoPublish`; any offer that sends media is refused with 403.
 * `canSubscribe: false` joins with NoAutoSubscribe: no track is ever offered.
 */
import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import type { SfuConfig } from '../config.js';
import type { Clock } from '../util/clock.js';
import { TokenVerifier, type TokenGrant } from './auth.js';
import { RateLimiter, clientKey, exemptList, isExempt } from './rate-limit.js';
import { RefusalCode, SignalRefusal, type HttpRefusal, type Refusals } from './jsonrpc/refusals.js';
import type { AnswerDescription, JoinParams, OfferDescription, SignalAdmission, SignalGuard, TrickleTarget } from './jsonrpc/types.js';
import { parseSessionDescription } from './sdp/index.js';

export type AdmissionConfig = Pick<
  SfuConfig,
  | 'jwtSecret'
  | 'allowedOrigins'
  | 'maxSdpBytes'
  | 'maxTracksPerPeer'
  | 'maxCandidatesPerTransport'
  | 'maxPeersPerRoom'
  | 'ipConnectionRate'
  | 'ipConnectionBurst'
  | 'ipJoinRate'
  | 'ipJoinBurst'
  | 'rateLimitExempt'
>;

export interface AdmissionOptions {
  config: AdmissionConfig;
  /**
   * Members of room `sid` a join by `uid` would join (one with that uid, which
   * the join replaces, not counted); 0 when there is no such room. Async: with
   * shards the room lives in a worker.
   */
  occupancy: (sid: string, uid: string) => number | Promise<number>;
  refusals: Refusals;
  clock?: Clock;
}

/** Media sections the offer sends (audio/video, not rejected, sendrecv or sendonly); 0 when it does not parse (the session refuses it then). */
export function sendingSections(sdp: string): number {
  try {
    return parseSessionDescription(sdp).sections.filter(
      (s) => (s.kind === 'audio' || s.kind === 'video') && (!s.rejected || s.bundleOnly) && (s.direction === 'sendrecv' || s.direction === 'sendonly'),
    ).length;
  } catch {
    return 0;
  }
}

function tokenFromUrl(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined;
}

/** The longest a join holds its room's gate (a shard answers a join within 10 s or fails it). */
const JOIN_GATE_MS = 15_000;
const noop = (): void => {};

export class Admission implements SignalAdmission {
  private readonly tokens: TokenVerifier | undefined;
  /** Per room: the join holding it, then the ones queued (enterRoom). */
  private readonly roomGates = new Map<string, Promise<void>>();
  private readonly origins: ReadonlySet<string> | undefined;
  private readonly connections: RateLimiter;
  private readonly joins: RateLimiter;
  private readonly exempt: BlockList;

  constructor(private readonly opts: AdmissionOptions) {
    const c = opts.config;
    this.tokens = c.jwtSecret === undefined ? undefined : new TokenVerifier(c.jwtSecret);
    this.origins = c.allowedOrigins.length === 0 || c.allowedOrigins.includes('*') ? undefined : new Set(c.allowedOrigins);
    this.connections = new RateLimiter({ ratePerSec: c.ipConnectionRate, burst: c.ipConnectionBurst, clock: opts.clock });
    this.joins = new RateLimiter({ ratePerSec: c.ipJoinRate, burst: c.ipJoinBurst, clock: opts.clock });
    this.exempt = exemptList(c.rateLimitExempt);
  }

  get config(): AdmissionConfig {
    return this.opts.config;
  }

  get refusals(): Refusals {
    return this.opts.refusals;
  }

  get tokensRequired(): boolean {
    return this.tokens !== undefined;
  }

  admit(req: { remoteAddress: string | undefined; origin: string | undefined; url: string }): SignalGuard | HttpRefusal {
    if (this.origins && req.origin !== undefined && !this.origins.has(normaliseOrigin(req.origin))) {
      return { reason: 'origin', status: 403, message: 'origin not allowed' };
    }
    const address = req.remoteAddress ?? '';
    if (!this.take(this.connections, address)) {
      return { reason: 'connectionRate', status: 429, message: 'too many connections from this address', headers: { 'Retry-After': '1' } };
    }
    return new ConnectionGuard(this, address, tokenFromUrl(req.url));
  }

  /** A join from this client address may go ahead (rate limit). */
  takeJoin(address: string): boolean {
    return this.take(this.joins, address);
  }

  /** One token from `limiter` for this client address (exempt addresses always pass). */
  private take(limiter: RateLimiter, address: string): boolean {
    return isExempt(this.exempt, address) || limiter.take(clientKey(address));
  }

  async verify(token: string | undefined): Promise<TokenGrant | undefined> {
    if (!this.tokens) return undefined;
    if (token === undefined || token.length === 0) {
      throw new SignalRefusal('tokenMissing', RefusalCode.Unauthorized, 'a token is required: put it in the URL (?token=) or in the join params');
    }
    return this.tokens.verify(token);
  }

  /**
   * Takes a place in `sid` for one join (a uid already there replaces
   * itself and needs none). The check and the join run one at a time per
   * room: occupancy is asked asynchronously (of every shard holding the
   * room), so joins checked side by side would all see the last free place.
   * Returns the release to call once the join has settled (it also comes by
   * itself after JOIN_GATE_MS, so a join that never settles cannot close the
   * room), or 'full'.
   */
  async enterRoom(sid: string, uid: string): Promise<(() => void) | 'full'> {
    const max = this.opts.config.maxPeersPerRoom;
    if (max <= 0) return noop;
    const before = this.roomGates.get(sid) ?? Promise.resolve();
    let open!: () => void;
    const mine = new Promise<void>((r) => (open = r));
    const gate = before.then(() => mine);
    this.roomGates.set(sid, gate);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      open();
      if (this.roomGates.get(sid) === gate) this.roomGates.delete(sid);
    };
    const timer = setTimeout(release, JOIN_GATE_MS);
    timer.unref();
    await before;
    let occupancy: number;
    try {
      occupancy = await this.opts.occupancy(sid, uid);
    } catch (err) {
      release();
      throw err;
    }
    if (occupancy >= max) {
      release();
      return 'full';
    }
    return release;
  }

  /**
   * `/rpc` with tokens on: `Authorization: Bearer <token with admin: true>`.
   * Undefined: go ahead; otherwise the HTTP refusal (401 no or bad token, 403 not admin).
   */
  async authorizeAdmin(req: IncomingMessage): Promise<HttpRefusal | undefined> {
    if (!this.tokens) return undefined;
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const challenge = { 'WWW-Authenticate': 'Bearer' };
    if (!m) return { reason: 'adminToken', status: 401, message: 'an admin token is required (Authorization: Bearer ...)', headers: challenge };
    let grant: TokenGrant;
    try {
      grant = await this.tokens.verify(m[1]!);
    } catch (err) {
      if (!(err instanceof SignalRefusal)) throw err;
      return { reason: 'adminToken', status: 401, message: err.message, headers: challenge };
    }
    if (!grant.admin) return { reason: 'adminToken', status: 403, message: 'the token has no admin claim' };
    return undefined;
  }
}

function normaliseOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin;
  }
}

/** The policy of one signalling connection. */
class ConnectionGuard implements SignalGuard {
  private grant: TokenGrant | undefined;
  /** Lets the next join into the room go ahead (Admission.enterRoom). */
  private leaveGate: (() => void) | undefined;
  private readonly candidates = [0, 0];

  constructor(
    private readonly admission: Admission,
    private readonly address: string,
    private readonly urlToken: string | undefined,
  ) {}

  async join(p: JoinParams): Promise<JoinParams> {
    const c = this.admission.config;
    if (!this.admission.takeJoin(this.address)) throw new SignalRefusal('joinRate', RefusalCode.TooMany, 'too many joins from this address: try again later');
    if (!p.config.noPublish) this.checkSize(p.offer.sdp);
    const grant = await this.admission.verify(p.token ?? this.urlToken);
    let params = p;
    if (grant) {
      if (grant.room === undefined || grant.room !== p.sid) throw new SignalRefusal('wrongRoom', RefusalCode.Forbidden, 'the token is not for this room');
      if (grant.uid !== undefined && p.uid !== grant.uid) throw new SignalRefusal('wrongUid', RefusalCode.Forbidden, 'the token is not for this uid');
      if (!grant.canSubscribe && !p.config.noAutoSubscribe) params = { ...p, config: { ...p.config, noAutoSubscribe: true } };
    }
    if (!p.config.noPublish) this.checkPublish(p.offer.sdp, grant);
    const place = await this.admission.enterRoom(p.sid, p.uid);
    if (place === 'full') throw new SignalRefusal('roomFull', RefusalCode.TooMany, `the room is full (${c.maxPeersPerRoom} peers)`);
    this.leaveGate = place;
    this.grant = grant;
    return params;
  }

  joinSettled(): void {
    const release = this.leaveGate;
    this.leaveGate = undefined;
    release?.();
  }

  offer(desc: OfferDescription): void {
    this.checkSize(desc.sdp);
    this.checkPublish(desc.sdp, this.grant);
  }

  answer(desc: AnswerDescription): void {
    this.checkSize(desc.sdp);
  }

  trickle(target: TrickleTarget): void {
    const max = this.admission.config.maxCandidatesPerTransport;
    if (++this.candidates[target]! > max) {
      throw new SignalRefusal('tooManyCandidates', RefusalCode.TooLarge, `too many candidates: at most ${max} per transport`);
    }
  }

  private checkSize(sdp: string): void {
    const max = this.admission.config.maxSdpBytes;
    if (sdp.length > max || Buffer.byteLength(sdp) > max) throw new SignalRefusal('sdpTooLarge', RefusalCode.TooLarge, `SDP larger than ${max} bytes`);
  }

  private checkPublish(sdp: string, grant: TokenGrant | undefined): void {
    const sending = sendingSections(sdp);
    if (sending === 0) return;
    if (grant && !grant.canPublish) throw new SignalRefusal('publishForbidden', RefusalCode.Forbidden, 'the token does not allow publishing');
    const max = this.admission.config.maxTracksPerPeer;
    if (sending > max) throw new SignalRefusal('tooManyTracks', RefusalCode.TooLarge, `too many tracks: ${sending} sending media sections, at most ${max}`);
  }
}
