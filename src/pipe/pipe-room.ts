/**
 * One room's end of one pipe link (DESIGN.md "Rooms larger than a shard").
 *
 * Out: every track published by a member in this part of the room is
 * announced over the link and tapped (ProducerTap): each packet it takes is
 * copied once into the link's batch, whatever number of subscribers the far
 * side has. Members joining and leaving, pauses and fan-out data channels
 * are announced too. Upstream feedback from the far side lands on the real
 * producer: a keyframe request goes through its throttle to the publisher;
 * a NACK is served from its retransmission store (the packet goes back over
 * the link flagged as a repair) or, when the store does not have it, asked
 * of the publisher; `wanted` stops piping a track nobody there consumes.
 *
 * In: each announced track becomes a plain `Producer` fed by the link, so
 * consumers attach to it exactly as to a local one (layer selection,
 * keyframe gating and rewriting stay in the consumer). It keeps its own
 * retransmission store, so subscribers' NACKs on this side are served here;
 * only store misses travel upstream. Its keyframe requests go upstream.
 *
 * Nothing here knows what carries the link (PipeLink).
 */
import { RtpView } from '../rtp/rtp.js';
import { Producer, type PacketContext, type ProducerTap } from '../router/producer.js';
import type { Room, RoomMember } from '../router/room.js';
import { ALL_LAYERS, PIPE_FLAG_REPAIR, type PipeControl, type PipedProducer } from './messages.js';
import type { PipeLink } from './link.js';

/** How often the far side's need for each track is re-checked (consumer changes are also sent at once). */
const WANTED_INTERVAL_MS = 250;

/** A local track piped out. */
class Outgoing implements ProducerTap {
  /** Spatial layers the far side wants (bit i = layer i). */
  wanted = ALL_LAYERS;
  skipped = 0;
  readonly unwatch: () => void;

  constructor(
    readonly id: number,
    readonly producer: Producer,
    readonly owner: string,
    private readonly link: PipeLink,
    onClose: () => void,
  ) {
    const pause = (): void => link.sendControl({ t: 'paused', id, paused: true });
    const resume = (): void => link.sendControl({ t: 'paused', id, paused: false });
    const sr = (encoding: number, ntpSec: number, ntpFrac: number, rtp: number): void => link.sendControl({ t: 'sr', id, encoding, ntpSec, ntpFrac, rtp });
    producer.on('pause', pause);
    producer.on('resume', resume);
    producer.on('senderreport', sr);
    producer.once('close', onClose);
    this.unwatch = () => {
      // A pipe room that detaches must not stay reachable from a producer that lives on.
      producer.off('close', onClose);
      producer.off('pause', pause);
      producer.off('resume', resume);
      producer.off('senderreport', sr);
      producer.removeTap(this);
    };
  }

  onPacket(ctx: PacketContext): void {
    if ((this.wanted & (1 << ctx.layer)) === 0) {
      this.skipped++;
      return;
    }
    const v = ctx.view;
    this.link.sendRtp(this.id, ctx.encoding.index, 0, v.buf, v.offset, ctx.length);
  }

  describe(): PipedProducer {
    const p = this.producer;
    const o = p.options;
    return {
      kind: p.kind,
      streamId: p.streamId,
      trackId: p.trackId,
      mid: p.mid,
      codecs: p.codecs.map((c) => ({ ...c })),
      encodings: p.encodings.map((e) => ({ ssrc: e.ssrc, rid: e.rid, rtxSsrc: e.rtxSsrc, maxWidth: e.maxWidth, maxHeight: e.maxHeight })),
      extensionIds: { ...o.extensionIds },
      feedback: { ...o.feedback },
      extensions: { ...((p.appData.extensions ?? {}) as Record<string, string>) },
      paused: p.paused,
    };
  }
}

/** A far track fed by the link. */
interface Incoming {
  id: number;
  owner: string;
  producer: Producer;
  /** The last `wanted` mask sent upstream. */
  wanted: number;
  /** Store misses to ask upstream, per encoding, sent once per turn. */
  nacks: Map<number, number[]>;
}

export interface PipeRoomStats {
  /** Packets of local tracks not piped because the far side did not want them. */
  skipped: number;
  /** Upstream requests served here: keyframes asked of publishers, NACKs resent from the store, NACKs passed to publishers. */
  keyframeRequestsIn: number;
  repairsSent: number;
  nacksToPublisher: number;
  /** Upstream requests sent: keyframes, NACKed packets. */
  keyframeRequestsOut: number;
  nacksOut: number;
}

export class PipeRoom {
  private readonly out = new Map<Producer, Outgoing>();
  private readonly outById = new Map<number, Outgoing>();
  private nextId = 1;
  private readonly in = new Map<number, Incoming>();
  /** Far members by uid, with the ids of their tracks. */
  private readonly far = new Map<string, Set<number>>();
  private readonly view = new RtpView();
  private readonly timer: NodeJS.Timeout;
  private nackFlushScheduled = false;
  private detached = false;
  readonly stats: PipeRoomStats = { skipped: 0, keyframeRequestsIn: 0, repairsSent: 0, nacksToPublisher: 0, keyframeRequestsOut: 0, nacksOut: 0 };
  private readonly listeners: { [K in 'memberjoined' | 'memberleft' | 'produceradded' | 'producerremoved' | 'fanoutlabel' | 'fanout' | 'layers']: (...a: never[]) => void };

  constructor(
    readonly room: Room,
    private readonly link: PipeLink,
  ) {
    this.listeners = {
      memberjoined: (m: RoomMember) => link.sendControl({ t: 'member', uid: m.uid, joined: true }),
      memberleft: (m: RoomMember) => link.sendControl({ t: 'member', uid: m.uid, joined: false }),
      produceradded: (m: RoomMember, p: Producer) => this.pipeOut(m.uid, p),
      producerremoved: (p: Producer) => this.unpipeOut(p),
      fanoutlabel: (label: string) => link.sendControl({ t: 'fanoutLabel', label }),
      fanout: (label: string, data: string | Buffer) => link.sendControl({ t: 'fanout', label, data: typeof data === 'string' ? data : new Uint8Array(data) }),
      layers: (streamId: string, layers: readonly number[]) => link.sendControl({ t: 'layers', streamId, layers: [...layers] }),
    };
    for (const [ev, fn] of Object.entries(this.listeners)) room.on(ev as 'close', fn as () => void);
    link.handlers = {
      rtp: (id, enc, flags, buf, off, len) => this.onRtp(id, enc, flags, buf, off, len),
      control: (m) => this.onControl(m),
    };
    this.timer = setInterval(() => this.updateWanted(), WANTED_INTERVAL_MS);
    this.timer.unref();
    // The far side may not be attached yet: then its own `sync` makes us announce again.
    link.sendControl({ t: 'sync' });
    this.announceAll();
  }

  get farMembers(): number {
    return this.far.size;
  }

  /** Tracks received over this pipe (for tests and stats). */
  get pipedIn(): Producer[] {
    return [...this.in.values()].map((x) => x.producer);
  }

  private announceAll(): void {
    for (const m of this.room.memberList) {
      this.link.sendControl({ t: 'member', uid: m.uid, joined: true });
      for (const p of m.producers) this.pipeOut(m.uid, p);
    }
    for (const label of this.room.fanoutLabelList) this.link.sendControl({ t: 'fanoutLabel', label });
  }

  // ---- out: local tracks to the far side ----

  private pipeOut(owner: string, p: Producer): void {
    if (p.closed) return;
    let o = this.out.get(p);
    if (!o) {
      o = new Outgoing(this.nextId++ & 0xffff, p, owner, this.link, () => this.unpipeOut(p));
      this.out.set(p, o);
      this.outById.set(o.id, o);
      p.addTap(o);
    }
    this.link.sendControl({ t: 'producer', id: o.id, owner, producer: o.describe() });
  }

  private unpipeOut(p: Producer): void {
    const o = this.out.get(p);
    if (!o) return;
    this.out.delete(p);
    this.outById.delete(o.id);
    this.stats.skipped += o.skipped;
    o.unwatch();
    if (!this.detached) this.link.sendControl({ t: 'producerClosed', id: o.id });
  }

  /** Upstream feedback about one of our tracks. */
  private onUpstream(m: Extract<PipeControl, { t: 'keyframe' | 'nack' | 'wanted' }>): void {
    const o = this.outById.get(m.id);
    if (!o) {
      this.link.drops.unknownProducer++;
      return;
    }
    switch (m.t) {
      case 'keyframe':
        this.stats.keyframeRequestsIn++;
        o.producer.requestKeyframe(m.layer);
        return;
      case 'wanted':
        o.wanted = m.layers;
        return;
      case 'nack': {
        const enc = o.producer.encodings[m.encoding];
        const store = enc?.store;
        const now = performance.now();
        const missing: number[] = [];
        for (const seq of m.seqs) {
          const slot = store ? store.get(seq, now) : -1;
          if (!store || slot < 0) {
            missing.push(seq);
            continue;
          }
          if (this.link.sendRtp(o.id, m.encoding, PIPE_FLAG_REPAIR, store.slab, store.offsetOf(slot), store.lengthOf(slot))) this.stats.repairsSent++;
        }
        this.stats.nacksToPublisher += missing.length;
        o.producer.requestRetransmission(m.encoding, missing);
        return;
      }
    }
  }

  // ---- in: far tracks as local producers ----

  private onControl(m: PipeControl): void {
    if (this.detached) return;
    switch (m.t) {
      case 'sync':
        this.resetFar();
        for (const o of this.out.values()) o.wanted = ALL_LAYERS;
        this.announceAll();
        return;
      case 'reset':
        this.resetFar();
        // Nobody there: pipe nothing until it syncs again.
        for (const o of this.out.values()) o.wanted = 0;
        return;
      case 'member':
        if (m.joined) this.farMember(m.uid);
        else this.farMemberLeft(m.uid);
        return;
      case 'producer':
        this.onFarProducer(m.id, m.owner, m.producer);
        return;
      case 'producerClosed':
        this.closeIncoming(m.id);
        return;
      case 'paused': {
        const x = this.in.get(m.id);
        if (!x) this.link.drops.unknownProducer++;
        else if (m.paused) x.producer.pause();
        else x.producer.resume();
        return;
      }
      case 'sr': {
        const x = this.in.get(m.id);
        if (!x) this.link.drops.unknownProducer++;
        else x.producer.onSenderReport(m.encoding, m.ntpSec, m.ntpFrac, m.rtp, performance.now());
        return;
      }
      case 'keyframe':
      case 'nack':
      case 'wanted':
        this.onUpstream(m);
        return;
      case 'fanoutLabel':
        this.room.addFanoutLabel(undefined, m.label);
        return;
      case 'layers':
        this.room.announceLayers(undefined, m.streamId, m.layers);
        return;
      case 'fanout':
        this.room.fanoutFromPipe(m.label, typeof m.data === 'string' ? m.data : Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
        return;
    }
  }

  private farMember(uid: string): Set<number> {
    let ids = this.far.get(uid);
    if (!ids) {
      ids = new Set();
      this.far.set(uid, ids);
      this.room.remoteMembers++;
    }
    return ids;
  }

  private farMemberLeft(uid: string): void {
    const ids = this.far.get(uid);
    if (!ids) return;
    this.far.delete(uid);
    this.room.remoteMembers--;
    for (const id of ids) this.closeIncoming(id);
  }

  private onFarProducer(id: number, owner: string, d: PipedProducer): void {
    // Announced again (the far side re-synced): keep the one consumers already read.
    if (this.in.has(id)) return;
    let producer: Producer;
    try {
      producer = new Producer({
        kind: d.kind,
        streamId: d.streamId,
        trackId: d.trackId,
        mid: d.mid,
        codecs: d.codecs,
        encodings: d.encodings,
        extensionIds: d.extensionIds,
        feedback: d.feedback,
        appData: { extensions: d.extensions, piped: true },
        requestKeyframe: (_p, enc) => {
          this.stats.keyframeRequestsOut++;
          this.link.sendControl({ t: 'keyframe', id, layer: enc.layer });
        },
        retransmitMiss: (_p, enc, seq) => this.queueNack(id, enc.index, seq),
      });
    } catch {
      this.link.drops.malformed++;
      return;
    }
    if (d.paused) producer.pause();
    const x: Incoming = { id, owner, producer, wanted: ALL_LAYERS, nacks: new Map() };
    this.in.set(id, x);
    this.farMember(owner).add(id);
    producer.on('consumer', () => this.sendWanted(x));
    producer.on('consumerclose', () => this.sendWanted(x));
    this.room.addPipedProducer(producer);
    this.sendWanted(x);
  }

  private closeIncoming(id: number): void {
    const x = this.in.get(id);
    if (!x) return;
    this.in.delete(id);
    this.far.get(x.owner)?.delete(id);
    this.room.removePipedProducer(x.producer);
    x.producer.close();
  }

  private resetFar(): void {
    for (const uid of [...this.far.keys()]) this.farMemberLeft(uid);
    for (const id of [...this.in.keys()]) this.closeIncoming(id);
  }

  private onRtp(id: number, encoding: number, flags: number, buf: Buffer, off: number, len: number): void {
    const x = this.in.get(id);
    if (!x) {
      this.link.drops.unknownProducer++;
      return;
    }
    const view = this.view;
    if (!view.reset(buf, off, len)) {
      this.link.drops.malformed++;
      return;
    }
    const now = performance.now();
    if ((flags & PIPE_FLAG_REPAIR) !== 0) x.producer.receiveRepair(view, len, now, encoding);
    else x.producer.receive(view, len, now, encoding);
  }

  /** Which layers this side needs of a far track: all of them while anyone here consumes it, else none. */
  private sendWanted(x: Incoming): void {
    const layers = x.producer.consumerCount > 0 ? ALL_LAYERS : 0;
    if (layers === x.wanted || this.detached) return;
    x.wanted = layers;
    this.link.sendControl({ t: 'wanted', id: x.id, layers });
  }

  private updateWanted(): void {
    for (const x of this.in.values()) this.sendWanted(x);
  }

  private queueNack(id: number, encoding: number, seq: number): void {
    const x = this.in.get(id);
    if (!x) return;
    let list = x.nacks.get(encoding);
    if (!list) x.nacks.set(encoding, (list = []));
    if (list.length < 1024 && !list.includes(seq)) list.push(seq);
    if (this.nackFlushScheduled) return;
    this.nackFlushScheduled = true;
    // One NACK message per track and turn: a subscriber NACK names up to 17 packets at once.
    setImmediate(() => this.flushNacks());
  }

  private flushNacks(): void {
    this.nackFlushScheduled = false;
    if (this.detached) return;
    for (const x of this.in.values()) {
      for (const [encoding, seqs] of x.nacks) {
        if (seqs.length === 0) continue;
        this.stats.nacksOut += seqs.length;
        this.link.sendControl({ t: 'nack', id: x.id, encoding, seqs: [...seqs] });
        seqs.length = 0;
      }
    }
  }

  /**
   * This side stops: far tracks close (their consumers with them), local
   * ones stop being piped. `tellFar`: the link stays and the far side is told
   * to forget us (our room closed); otherwise the link itself is gone.
   */
  detach(tellFar: boolean): void {
    if (this.detached) return;
    clearInterval(this.timer);
    for (const [ev, fn] of Object.entries(this.listeners)) this.room.off(ev as 'close', fn as () => void);
    this.resetFar();
    this.detached = true;
    for (const p of [...this.out.keys()]) this.unpipeOut(p);
    if (tellFar && !this.link.closed) this.link.sendControl({ t: 'reset' });
  }
}
