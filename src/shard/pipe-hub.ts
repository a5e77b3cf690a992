/**
 * A shard's pipe links, by (room, other shard): the main thread opens one
 * when a room first spans two shards and closes it when one of them no
 * longer holds members of the room (or died: then the link closes by
 * itself). A link outlives the room object on this shard (the room closes
 * when its last member here leaves and a new one is made on the next join):
 * whenever the room `sid` exists here, a `PipeRoom` joins it to the link.
 */
import type { Logger } from '../logger.js';
import type { Room, RoomRegistry } from '../router/room.js';
import { PipeRoom } from '../pipe/pipe-room.js';
import { emptyCounters, emptyDrops, unattachedHandlers, type PipeCounters, type PipeDrops, type PipeLink } from '../pipe/link.js';

interface Entry {
  link: PipeLink;
  room: PipeRoom | undefined;
}

/** Pipe totals of a shard (cumulative since it started). */
export interface PipeTotals extends PipeCounters {
  links: number;
  drops: PipeDrops;
  keyframeRequestsIn: number;
  keyframeRequestsOut: number;
  repairsSent: number;
  nacksOut: number;
  nacksToPublisher: number;
}

export class PipeHub {
  /** sid -> other shard's index -> link. */
  private readonly links = new Map<string, Map<number, Entry>>();
  /** Totals of links and pipe rooms that are gone. */
  private readonly retired = { counters: emptyCounters(), drops: emptyDrops(), room: { keyframeRequestsIn: 0, keyframeRequestsOut: 0, repairsSent: 0, nacksOut: 0, nacksToPublisher: 0 } };

  constructor(
    private readonly rooms: RoomRegistry,
    private readonly log: Logger,
  ) {
    rooms.on('room', (room) => {
      for (const e of this.links.get(room.sid)?.values() ?? []) this.attach(e, room);
    });
  }

  /** A link for room `sid` to shard `peer` (replacing an older one to the same shard). */
  open(sid: string, peer: number, link: PipeLink): void {
    this.close(sid, peer);
    let bySid = this.links.get(sid);
    if (!bySid) this.links.set(sid, (bySid = new Map()));
    const e: Entry = { link, room: undefined };
    bySid.set(peer, e);
    link.onClose = (reason) => {
      this.log.debug({ sid, peer, reason }, 'pipe closed');
      this.detach(e, false);
      this.retire(e);
      const m = this.links.get(sid);
      if (m?.get(peer) === e) m.delete(peer);
      if (m?.size === 0) this.links.delete(sid);
    };
    const room = this.rooms.get(sid);
    if (room && !room.closed) this.attach(e, room);
    this.log.debug({ sid, peer }, 'pipe opened');
  }

  close(sid: string, peer: number): void {
    this.links.get(sid)?.get(peer)?.link.close();
  }

  closeAll(): void {
    for (const bySid of [...this.links.values()]) for (const e of [...bySid.values()]) e.link.close();
  }

  private attach(e: Entry, room: Room): void {
    this.detach(e, false);
    const pr = new PipeRoom(room, e.link);
    e.room = pr;
    room.once('close', () => {
      if (e.room === pr) this.detach(e, true);
    });
  }

  private detach(e: Entry, tellFar: boolean): void {
    const pr = e.room;
    if (!pr) return;
    e.room = undefined;
    pr.detach(tellFar);
    this.retireRoom(pr);
    e.link.handlers = unattachedHandlers(e.link.drops);
  }

  private retireRoom(pr: PipeRoom): void {
    const r = this.retired.room;
    for (const k of Object.keys(r) as (keyof typeof r)[]) r[k] += pr.stats[k];
  }

  private retire(e: Entry): void {
    addInto(this.retired.counters, e.link.counters);
    addInto(this.retired.drops, e.link.drops);
  }

  /** Links open now (for tests): room -> other shards. */
  linksOf(sid: string): number[] {
    return [...(this.links.get(sid)?.keys() ?? [])];
  }

  totals(): PipeTotals {
    const counters = { ...this.retired.counters };
    const drops = { ...this.retired.drops };
    const room = { ...this.retired.room };
    let links = 0;
    for (const bySid of this.links.values()) {
      for (const e of bySid.values()) {
        links++;
        addInto(counters, e.link.counters);
        addInto(drops, e.link.drops);
        if (e.room) for (const k of Object.keys(room) as (keyof typeof room)[]) room[k] += e.room.stats[k];
      }
    }
    return { links, ...counters, drops, ...room };
  }
}

function addInto<T extends object>(into: T, from: T): void {
  const a = into as Record<string, number>;
  for (const [k, v] of Object.entries(from as Record<string, number>)) a[k] = (a[k] ?? 0) + v;
}
