/**
 * The data plane in N worker shards (DESIGN.md "Planes and threads").
 *
 * Placement (placement.ts): a new room goes to the least-loaded shard that is
 * up, by the load each reports with its heartbeat. Peers of a room go to the
 * room's shard until it holds `roomShardFanout` of them; later ones go to
 * another shard (the least loaded), and the main thread gives each pair of
 * the room's shards a pipe (a MessageChannel, one port to each): every
 * publisher's packets cross it once per shard, feedback comes back (see
 * src/pipe/). The room -> shards entry counts the sessions of the room on
 * each shard (joined or joining), so a room closing on a shard while a join
 * for it is on its way cannot lose its place; a shard whose count drops to
 * zero leaves the room and its pipes close.
 *
 * Supervision: a shard that exits, throws or misses heartbeats for 2 s
 * (shard-worker.ts) is terminated; its peers' sockets are closed with the
 * reason (clients rejoin and are placed afresh), its rooms forgotten, and it
 * is restarted on the same media port. The other shards are not touched.
 */
import { pino } from 'pino';
import type { Logger } from '../logger.js';
import { SfuError } from '../errors.js';
import type { PreferredLayers } from '../router/consumer.js';
import type { ShardStatus } from '../metrics/shards.js';
import type {
  AnswerDescription,
  IceCandidateInit,
  JoinParams,
  MemberOutcome,
  OfferDescription,
  RemovePeerOutcome,
  RoomDetail,
  RoomSummary,
  SignalNotifier,
  SignalSession,
  TrickleTarget,
} from '../signal/jsonrpc/types.js';
import type { WebhookEventName, WebhookNotifier } from '../webhooks/notifier.js';
import { formatAddress, type DataPlane } from './data-plane.js';
import type { ShardLoad } from './host.js';
import type { DtlsCertificate } from '../dtls/certificate.js';
import type { CrashMode, SessionNote, ShardInit, ShardOp, ShardOps } from './protocol.js';
import { ShardWorker } from './shard-worker.js';
import { pickRoomShard, pickShard } from './placement.js';
import { MessageChannel } from 'node:worker_threads';

export interface ShardPoolOptions {
  count: number;
  /** Media port of shard 0; shard i uses basePort + i (0: each picks a free port, kept across restarts). */
  basePort: number;
  /** What every shard gets (index, port and certificate are filled in at start). */
  init: Omit<ShardInit, 'index' | 'port' | 'certificate'>;
  logger: Logger;
  webhooks?: Pick<WebhookNotifier, 'send'>;
  onRefusal?: (reason: 'tooManyDataChannels') => void;
  /** Members of a room on one shard before new ones go to another (0: never). */
  roomShardFanout?: number;
}

const RESTART_BACKOFF_MS = [0, 500, 1000, 2000, 5000];

/** How long a join waits for a shard while none is up (starting, or all restarting). */
const JOIN_WAIT_FOR_SHARD_MS = 10_000;
const NO_LOAD: ShardLoad = { elu: 0, pps: 0, consumers: 0, rooms: 0, peers: 0, transports: 0 };

interface Slot {
  index: number;
  port: number;
  state: ShardStatus['state'];
  restarts: number;
  load: ShardLoad;
  /** Rooms placed here since the last load report. */
  placedSinceReport: number;
  worker: ShardWorker | undefined;
}

interface RoomEntry {
  /** The room's shards in the order they were added (the first is its home), with its sessions there (joined or joining). */
  slots: Map<Slot, number>;
}

export class ShardPool implements DataPlane {
  readonly mode = 'shards';
  private readonly slots: Slot[];
  /** Joins waiting for any shard to come up. */
  private readonly upWaiters: (() => void)[] = [];
  private readonly rooms = new Map<string, RoomEntry>();
  private readonly sessions = new Map<number, ShardedSession>();
  private nextSession = 1;
  private closed = false;
  private readonly log: Logger;
  private certificate: DtlsCertificate | undefined;

  constructor(private readonly opts: ShardPoolOptions) {
    this.log = opts.logger.child({ sub: 'shards' });
    this.slots = Array.from({ length: opts.count }, (_, index) => ({
      index,
      port: opts.basePort === 0 ? 0 : opts.basePort + index,
      state: 'starting' as const,
      restarts: 0,
      load: NO_LOAD,
      placedSinceReport: 0,
      worker: undefined,
    }));
  }

  /** Starts every shard with the SFU's one certificate; rejects (and stops those that started) if one cannot. */
  async start(certificate: DtlsCertificate): Promise<void> {
    this.certificate = certificate;
    const results = await Promise.allSettled(this.slots.map((s) => this.spawn(s)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.close();
      throw failed.reason;
    }
  }

  private async spawn(slot: Slot): Promise<void> {
    const w = await ShardWorker.start(
      { ...this.opts.init, index: slot.index, port: slot.port, certificate: this.certificate! },
      {
        note: (session, note) => this.onNote(slot, session, note),
        log: (line) => this.relayLog(line),
        webhook: (event, body) => this.onWebhook(slot, event, body),
        refusal: (reason) => this.opts.onRefusal?.(reason),
        load: (load) => {
          slot.load = load;
          slot.placedSinceReport = 0;
        },
        down: (reason) => this.onDown(slot, reason),
      },
    );
    if (this.closed) {
      await w.stop();
      return;
    }
    slot.worker = w;
    // Port 0 asked for any port: keep the one it got, so a restart comes back on it.
    slot.port = w.port;
    slot.state = 'up';
    for (const wake of this.upWaiters.splice(0)) wake();
  }

  /** Resolves once a shard is up, or after `timeoutMs` (the caller then gets placement's own error). */
  anyShardUp(timeoutMs: number): Promise<void> {
    if (this.closed || this.slots.some((s) => s.state === 'up')) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const i = this.upWaiters.indexOf(done);
        if (i >= 0) this.upWaiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.upWaiters.push(done);
    });
  }

  private onDown(slot: Slot, reason: string): void {
    slot.worker = undefined;
    if (this.closed) return;
    slot.state = 'restarting';
    slot.load = NO_LOAD;
    const affected = [...this.sessions.values()].filter((s) => s.slot === slot);
    this.log.error({ shard: slot.index, reason, peers: affected.length }, 'shard failed: disconnecting its peers and restarting it');
    for (const [sid, entry] of this.rooms) if (entry.slots.has(slot)) this.leaveRoom(sid, entry, slot);
    for (const s of affected) s.detach(`media shard ${slot.index} failed (${reason}): join again`);
    void this.restart(slot);
  }

  private async restart(slot: Slot): Promise<void> {
    slot.restarts++;
    for (let attempt = 0; !this.closed; attempt++) {
      const wait = RESTART_BACKOFF_MS[Math.min(attempt, RESTART_BACKOFF_MS.length - 1)]!;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait).unref());
      if (this.closed) return;
      try {
        await this.spawn(slot);
        this.log.info({ shard: slot.index, port: slot.port, restarts: slot.restarts }, 'shard restarted');
        return;
      } catch (err) {
        this.log.error({ shard: slot.index, err: (err as Error).message, attempt }, 'shard restart failed');
      }
    }
  }

  /**
   * A shard's room event, to the webhook. A room spanning shards starts and
   * finishes on each of them: the room starts with its home shard and
   * finishes with the last shard it leaves, so the others' are left out.
   */
  private onWebhook(slot: Slot, event: string, body: unknown): void {
    const sid = (body as { room?: { sid?: unknown } } | undefined)?.room?.sid;
    const entry = typeof sid === 'string' ? this.rooms.get(sid) : undefined;
    if (entry && event === 'room_started' && entry.slots.keys().next().value !== slot) return;
    if (entry && event === 'room_finished' && [...entry.slots.keys()].some((s) => s !== slot)) return;
    this.opts.webhooks?.send(event as WebhookEventName, body as Parameters<WebhookNotifier['send']>[1]);
  }

  /** A shard's pino line, through this thread's logger (its level already applied in the shard). */
  private relayLog(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, time: _time, pid: _pid, hostname: _host, ...rest } = rec;
    const name = pino.levels.labels[Number(level)] as 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | undefined;
    if (!name) return;
    this.opts.logger[name](rest, typeof msg === 'string' ? msg : '');
  }

  private onNote(slot: Slot, id: number, note: SessionNote): void {
    const s = this.sessions.get(id);
    if (s?.slot === slot) s.deliver(note);
  }

  // ---- sessions ----

  createSession(notify: SignalNotifier): SignalSession {
    return new ShardedSession(this, notify);
  }

  /** Places a joining session: a shard of its room with room to spare, another shard, or the least-loaded one for a new room. */
  attach(session: ShardedSession, sid: string): { slot: Slot; id: number } {
    let entry = this.rooms.get(sid);
    let slot: Slot;
    if (!entry) {
      slot = this.leastLoaded();
      slot.placedSinceReport++;
      entry = { slots: new Map([[slot, 0]]) };
      this.rooms.set(sid, entry);
      this.log.debug({ sid, shard: slot.index }, 'room placed');
    } else {
      const members = this.slots.map((s) => entry!.slots.get(s));
      const order = [...entry.slots.keys()].map((s) => s.index);
      const i = pickRoomShard(this.candidates(), members, order, this.opts.roomShardFanout ?? 0);
      const picked = this.slots[i];
      if (!picked) throw new SfuError('ERR_SFUD_SHARD', 'no media shard is available: try again');
      slot = picked;
      if (!entry.slots.has(slot)) this.spill(sid, entry, slot);
    }
    entry.slots.set(slot, (entry.slots.get(slot) ?? 0) + 1);
    const id = this.nextSession++;
    this.sessions.set(id, session);
    return { slot, id };
  }

  /**
   * Room `sid` grows onto `slot`: a pipe to each of its shards. Posted before
   * the join that follows on the same port, so the shard has it when the
   * member arrives.
   */
  private spill(sid: string, entry: RoomEntry, slot: Slot): void {
    slot.placedSinceReport++;
    for (const other of entry.slots.keys()) {
      const { port1, port2 } = new MessageChannel();
      if (!slot.worker || !other.worker) {
        port1.close();
        port2.close();
        continue;
      }
      slot.worker.pipe(sid, other.index, port1);
      other.worker.pipe(sid, slot.index, port2);
    }
    entry.slots.set(slot, 0);
    this.log.debug({ sid, shard: slot.index, shards: [...entry.slots.keys()].map((s) => s.index) }, 'room spans another shard');
  }

  /** `slot` no longer holds members of room `sid` (they left, or the shard failed): its pipes close. */
  private leaveRoom(sid: string, entry: RoomEntry, slot: Slot): void {
    entry.slots.delete(slot);
    for (const other of entry.slots.keys()) {
      other.worker?.unpipe(sid, slot.index);
      slot.worker?.unpipe(sid, other.index);
    }
    if (entry.slots.size === 0) this.rooms.delete(sid);
  }

  /** The session left (its socket closed, or its join failed). */
  detachSession(id: number, slot: Slot, sid: string): void {
    this.sessions.delete(id);
    slot.worker?.closeSession(id);
    const entry = this.rooms.get(sid);
    const n = entry?.slots.get(slot);
    if (!entry || n === undefined) return;
    if (n <= 1) this.leaveRoom(sid, entry, slot);
    else entry.slots.set(slot, n - 1);
  }

  private candidates(): { up: boolean; load: ShardLoad; placedSinceReport: number }[] {
    return this.slots.map((s) => ({ up: s.state === 'up', load: s.load, placedSinceReport: s.placedSinceReport }));
  }

  private leastLoaded(): Slot {
    const i = pickShard(this.candidates());
    const slot = this.slots[i];
    if (!slot) throw new SfuError('ERR_SFUD_SHARD', 'no media shard is available: try again');
    return slot;
  }

  request<K extends ShardOp>(slot: Slot, op: K, args: ShardOps[K][0], timeoutMs?: number): Promise<ShardOps[K][1]> {
    const w = slot.worker;
    if (!w) return Promise.reject(new SfuError('ERR_SFUD_SHARD', `media shard ${slot.index} is restarting`));
    return w.call(op, args, timeoutMs);
  }

  // ---- the admin API: the room's shards (each answers for its own members), or every shard that is up ----

  private owners(sid: string): Slot[] {
    const entry = this.rooms.get(sid);
    return entry ? [...entry.slots.keys()] : this.slots.filter((s) => s.state === 'up');
  }

  /**
   * Asks the owners until one finds the member: a shard holding part of the
   * room answers `peer-not-found` for members on another, so that answer
   * only stands when no shard had better.
   */
  private async first<K extends ShardOp>(sid: string, op: K, args: ShardOps[K][0], none: ShardOps[K][1]): Promise<ShardOps[K][1]> {
    let result = none;
    for (const slot of this.owners(sid)) {
      const r = await this.request(slot, op, args);
      if (r !== 'room-not-found' && r !== 'peer-not-found') return r;
      if (r === 'peer-not-found') result = r;
    }
    return result;
  }

  /** One op on each of the room's shards (failures left out). */
  private async each<K extends ShardOp>(sid: string, op: K, args: ShardOps[K][0]): Promise<{ slot: Slot; value: ShardOps[K][1] }[]> {
    const slots = this.owners(sid);
    const all = await Promise.allSettled(slots.map((s) => this.request(s, op, args)));
    return all.flatMap((r, i) => (r.status === 'fulfilled' ? [{ slot: slots[i]!, value: r.value }] : []));
  }

  /** Members of the whole room (every shard it spans; maxPeersPerRoom counts these). */
  async occupancy(sid: string, uid: string): Promise<number> {
    if (!this.rooms.has(sid)) return 0;
    return (await this.each(sid, 'occupancy', { sid, uid })).reduce((n, r) => n + r.value, 0);
  }

  /** Every room once, its peers and tracks summed over the shards it spans. */
  async listRooms(): Promise<RoomSummary[]> {
    const all = await Promise.allSettled(this.slots.filter((s) => s.state === 'up').map((s) => this.request(s, 'listRooms', null)));
    const bySid = new Map<string, RoomSummary>();
    for (const r of all) {
      if (r.status !== 'fulfilled') continue;
      for (const room of r.value) {
        const seen = bySid.get(room.sid);
        if (!seen) bySid.set(room.sid, { ...room });
        else {
          seen.peers += room.peers;
          seen.tracks += room.tracks;
        }
      }
    }
    return [...bySid.values()];
  }

  /** The room over all its shards: each peer tagged with its shard, counters summed. */
  async getRoom(sid: string): Promise<RoomDetail | undefined> {
    let out: RoomDetail | undefined;
    for (const { slot, value } of await this.each(sid, 'getRoom', { sid })) {
      if (!value) continue;
      const peers = value.peers.map((p) => ({ ...p, shard: slot.index }));
      if (!out) {
        out = { ...value, peers, stats: { ...value.stats } };
        continue;
      }
      out.peers.push(...peers);
      const st = out.stats as unknown as Record<string, number>;
      for (const [k, v] of Object.entries(value.stats)) st[k] = k === 'ageMs' ? Math.max(st[k] ?? 0, v) : (st[k] ?? 0) + v;
    }
    return out;
  }

  /** Closes the room on every shard it spans. */
  async closeRoom(sid: string): Promise<boolean> {
    return (await this.each(sid, 'closeRoom', { sid })).some((r) => r.value);
  }

  removePeer(sid: string, uid: string): Promise<RemovePeerOutcome> {
    return this.first(sid, 'removePeer', { sid, uid }, 'room-not-found');
  }

  setPreferredLayers(sid: string, uid: string, streamId: string, layers: PreferredLayers | 'none'): Promise<number | 'room-not-found' | 'peer-not-found'> {
    return this.first(sid, 'setPreferredLayers', { sid, uid, streamId, layers }, 'room-not-found');
  }

  setLastN(sid: string, uid: string, n: number | undefined, pinned?: readonly string[]): Promise<MemberOutcome> {
    return this.first(sid, 'setLastN', { sid, uid, n: n ?? null, pinned }, 'room-not-found');
  }

  // ---- state ----

  media(): { address: string }[] {
    return this.slots.filter((s) => s.state === 'up').map((s) => ({ address: formatAddress(this.opts.init.config.udpHost, s.port) }));
  }

  shards(): ShardStatus[] {
    return this.slots.map((s) => ({ index: s.index, state: s.state, port: s.port, restarts: s.restarts, load: s.load }));
  }

  /** Which shard is room `sid`'s home (undefined: no session of it here). */
  shardOf(sid: string): number | undefined {
    const first = this.rooms.get(sid)?.slots.keys().next();
    return first && !first.done ? first.value.index : undefined;
  }

  /** The shards room `sid` spans, home first, with its sessions on each. */
  shardsOf(sid: string): { shard: number; sessions: number }[] {
    return [...(this.rooms.get(sid)?.slots ?? [])].map(([s, n]) => ({ shard: s.index, sessions: n }));
  }

  async remoteMetrics(): Promise<unknown[][]> {
    const all = await Promise.allSettled(this.slots.filter((s) => s.state === 'up').map((s) => this.request(s, 'metrics', null, 2000)));
    return all.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  getStats(): Record<string, unknown> {
    const spanning: Record<string, { shard: number; sessions: number }[]> = {};
    for (const [sid, e] of this.rooms) if (e.slots.size > 1) spanning[sid] = this.shardsOf(sid);
    return { shards: this.shards(), spanningRooms: spanning };
  }

  /** Test hook: makes shard `index` fail (only with test hooks on; refused otherwise). */
  crash(index: number, mode: CrashMode): Promise<null> {
    const slot = this.slots[index];
    if (!slot) return Promise.reject(new SfuError('ERR_SFUD_SHARD', `no shard ${index}`));
    return this.request(slot, 'crash', { mode });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const wake of this.upWaiters.splice(0)) wake();
    for (const s of this.sessions.values()) s.detach(undefined);
    await Promise.all(
      this.slots.map(async (s) => {
        s.state = 'stopped';
        const w = s.worker;
        s.worker = undefined;
        await w?.stop();
      }),
    );
  }
}

/** A signalling session whose peer lives in a shard: every call is forwarded to the room's shard. */
class ShardedSession implements SignalSession {
  slot: Slot | undefined;
  private id = 0;
  private sid = '';
  private closed = false;

  constructor(
    private readonly pool: ShardPool,
    private readonly notify: SignalNotifier,
  ) {}

  async join(params: JoinParams): Promise<AnswerDescription | null> {
    if (this.closed) throw new SfuError('ERR_SFUD_CLOSED', 'peer closed');
    // A join that arrives while the shards still load (or all restart) waits for one, briefly.
    await this.pool.anyShardUp(JOIN_WAIT_FOR_SHARD_MS);
    if (this.closed) throw new SfuError('ERR_SFUD_CLOSED', 'peer closed');
    const { slot, id } = this.pool.attach(this, params.sid);
    this.slot = slot;
    this.id = id;
    this.sid = params.sid;
    try {
      return await this.pool.request(slot, 'join', { session: id, params });
    } catch (err) {
      this.leave();
      throw err;
    }
  }

  offer(desc: OfferDescription): Promise<AnswerDescription> {
    return this.forward('offer', { session: this.id, desc });
  }

  async answer(desc: AnswerDescription): Promise<void> {
    await this.forward('answer', { session: this.id, desc });
  }

  async trickle(target: TrickleTarget, candidate: IceCandidateInit): Promise<void> {
    await this.forward('trickle', { session: this.id, target, candidate });
  }

  private forward<K extends 'offer' | 'answer' | 'trickle'>(op: K, args: ShardOps[K][0]): Promise<ShardOps[K][1]> {
    const slot = this.slot;
    if (!slot) return Promise.reject(new SfuError('ERR_SFUD_STATE', 'no rtc transport exists for this Peer'));
    return this.pool.request(slot, op, args);
  }

  /** A notification from the shard for this session. */
  deliver(n: SessionNote): void {
    switch (n.kind) {
      case 'offer':
        this.notify.offer(n.desc);
        return;
      case 'trickle':
        this.notify.trickle(n.target, n.candidate);
        return;
      case 'close':
        this.notify.close(n.reason);
        return;
      case 'event':
        this.notify.event(n.method, n.params);
        return;
    }
  }

  /** The shard is gone (or the pool closes): forget it and, with a reason, close the client's socket. */
  detach(reason: string | undefined): void {
    this.leave();
    if (reason !== undefined) this.notify.close(reason);
  }

  private leave(): void {
    const slot = this.slot;
    if (!slot) return;
    this.slot = undefined;
    this.pool.detachSession(this.id, slot, this.sid);
  }

  close(): void {
    this.closed = true;
    this.leave();
  }
}
