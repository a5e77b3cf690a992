/**
 * Room (ion-sfu "session", keyed by `sid`): the peers in it, the tracks they
 * publish, the data-channel labels fanned out between them, and the
 * `audioLevels` observer. A room closes itself when its last peer leaves.
 *
 * The room only knows peers through `RoomMember`, so the signalling flavour
 * (ion-sfu JSON-RPC today) stays outside the router.
 */
import { EventEmitter } from 'node:events';
import type { Producer } from './producer.js';
import type { PreferredLayers } from './consumer.js';
import { AudioLevelObserver, type AudioLevelOptions } from '../speaker/audio-levels.js';
import { DominantSpeakerIdentifier } from '../speaker/dominant-speaker.js';
import { SpeakerRanking } from '../speaker/ranking.js';
import type { DownlinkSnapshot } from '../bwe/downlink.js';

/** What big rooms forward (issue: dominant speaker and last-N). */
export interface RoomPolicyOptions {
  /** Last-N: each subscriber gets video of at most this many other publishers (default 9). */
  lastN?: number;
  /** Last-N is on from this many participants (default 13); 0 turns it off for every size. */
  lastNMinParticipants?: number;
  /** Forward only the K loudest audio streams plus the dominant speaker; 0 = all (default). */
  loudestK?: number;
  /** Under last-N, the simulcast layer cap for everyone but the dominant speaker (default 1, medium). */
  othersMaxLayer?: number;
  /** Report no dominant speaker after 3 s of silence (default: keep the last one, as Jitsi does). */
  silenceDetection?: boolean;
}

/** One speaker decision, as members apply it (every 300 ms). */
export interface SpeakerDecision {
  /** Stream ids, most relevant first (dominant speaker, recent speakers, the rest in join order). */
  order: readonly string[];
  dominant: string | null;
  /** Video streams without audio (screen shares, by sfud's heuristic): never left out by last-N. */
  screens: ReadonlySet<string>;
  /** The room's last-N (undefined: off at this size). Members may override it. */
  lastN: number | undefined;
  othersMaxLayer: number;
}

export interface RoomMember {
  readonly uid: string;
  readonly producers: readonly Producer[];
  /** A producer of another member appeared: subscribe to it (unless the member opted out). */
  onProducerAdded(producer: Producer): void;
  /** The room's speaker decision (last-N order, dominant speaker), every 300 ms. */
  onSpeakerDecision(d: SpeakerDecision): void;
  /** The member's own last-N (undefined: the room's) and pinned streams. */
  setLastN(n: number | undefined, pinned?: readonly string[]): void;
  /** Another member opened a fan-out data channel with this label. */
  onFanoutLabel(label: string): void;
  /** A fan-out message from another member on `label`. */
  onFanoutMessage(label: string, data: string | Buffer): void;
  /** A JSON message for the member's `ion-sfu` channel. */
  sendApi(message: string): void;
  /**
   * Caps the video this member receives of another member's stream
   * (`'none'` pauses it); returns how many tracks it applied to.
   */
  setPreferredLayers(streamId: string, layers: PreferredLayers | 'none'): number;
  /** A publisher in the room announced the simulcast layers of `streamId` it sends (ion-sfu `layers`). */
  onPublisherLayers(streamId: string, layers: readonly number[]): void;
  /** Quiet audio outside the loudest-K dropped before decryption (metrics). */
  readonly speakerStats?: Readonly<{ decryptionsSkipped: number; decryptionsSkippedBytes: number }>;
  /** Input the member could not use, by reason (metrics: stage `peer`). */
  readonly drops?: Readonly<Record<string, number>>;
  /** RTCP counters (NACKs, retransmissions, reports) for metrics. */
  readonly rtcpStats: Readonly<Record<string, number>>;
  /** The member's downlink (estimate, allocation, pacer) for metrics; absent for members without one. */
  downlinkStats?(): DownlinkSnapshot;
  /** The shared RTCP timer (every ~20 ms): NACKs, reports, congestion feedback. */
  tick(nowMs: number): void;
  /** Packets and bytes sent to this member. */
  egressStats(): { packets: number; bytes: number };
  /** Closes the member (admin removal, room closed). */
  close(reason: string): void;
}

export interface RoomEvents {
  close: [];
  /** The dominant speaker changed (a publisher's msid stream id; null: nobody, with silence detection). */
  dominantspeaker: [streamId: string | null];
  memberjoined: [member: RoomMember];
  /** A member left, or was closed with the room. */
  memberleft: [member: RoomMember];
  /** A member published a track (metrics and webhooks follow producers through these). */
  produceradded: [member: RoomMember, producer: Producer];
  /** A track of a member went away (unpublished, or its member left). */
  producerremoved: [producer: Producer];
  /** A track of a member in another part of the room arrived over a pipe (metrics follow its consumers). */
  pipedproducer: [producer: Producer];
  /** A local member opened a fan-out data channel label / sent a fan-out message (pipes carry them on). */
  fanoutlabel: [label: string];
  fanout: [label: string, data: string | Buffer];
  /** A local publisher announced the simulcast layers of a stream (pipes carry it on). */
  layers: [streamId: string, layers: readonly number[]];
}

export class Room extends EventEmitter<RoomEvents> {
  readonly sid: string;
  private readonly members = new Map<string, RoomMember>();
  /** Tracks of members in other parts of the room (other shards), fed by pipes. */
  private piped: Producer[] = [];
  /**
   * Members in other parts of the room (kept by the pipes): they count for
   * the room's size (last-N), not for `memberCount`, which is this part's.
   */
  remoteMembers = 0;
  private readonly fanoutLabels = new Set<string>();
  /** The last audioLevels message, so a newcomer learns who speaks without waiting for a change. */
  private lastSpeakers: string | undefined;
  readonly audioLevels: AudioLevelObserver;
  readonly dominantSpeaker: DominantSpeakerIdentifier;
  private lastDominant: string | undefined;
  /** The current dominant speaker's stream id (null: nobody yet, or silence). */
  dominantSpeakerStreamId: string | null = null;
  private readonly levelTimer: NodeJS.Timeout;
  readonly ranking: SpeakerRanking;
  private readonly policy: Required<RoomPolicyOptions>;
  private lastDecisionMs = -Infinity;
  readonly speakerStats = { speakerChanges: 0, decisions: 0 };
  private _closed = false;
  readonly createdAt = Date.now();

  constructor(sid: string, audio: AudioLevelOptions = {}, policy: RoomPolicyOptions = {}) {
    super();
    this.sid = sid;
    this.policy = {
      lastN: policy.lastN ?? 9,
      lastNMinParticipants: policy.lastNMinParticipants ?? 13,
      loudestK: policy.loudestK ?? 0,
      othersMaxLayer: policy.othersMaxLayer ?? 1,
      silenceDetection: policy.silenceDetection ?? false,
    };
    this.ranking = new SpeakerRanking({ loudestK: this.policy.loudestK });
    this.audioLevels = new AudioLevelObserver(audio);
    this.dominantSpeaker = new DominantSpeakerIdentifier({ startMs: performance.now(), silenceDetection: this.policy.silenceDetection });
    this.levelTimer = setInterval(() => this.tickAudioLevels(), this.audioLevels.intervalMs);
    this.levelTimer.unref();
  }

  get closed(): boolean {
    return this._closed;
  }

  get memberCount(): number {
    return this.members.size;
  }

  getMember(uid: string): RoomMember | undefined {
    return this.members.get(uid);
  }

  get memberList(): RoomMember[] {
    return [...this.members.values()];
  }

  /** Packet and byte counters over the room's producers (ingress) and their consumers (egress). */
  trafficStats(): { packetsIn: number; bytesIn: number; packetsOut: number; bytesOut: number } {
    let packetsIn = 0;
    let bytesIn = 0;
    for (const p of this.producers) {
      packetsIn += p.stats.packets;
      bytesIn += p.stats.bytes;
    }
    let packetsOut = 0;
    let bytesOut = 0;
    for (const m of this.members.values()) {
      const t = m.egressStats();
      packetsOut += t.packets;
      bytesOut += t.bytes;
    }
    return { packetsIn, bytesIn, packetsOut, bytesOut };
  }

  /** Every producer of every member. */
  get producers(): Producer[] {
    const out: Producer[] = [];
    for (const m of this.members.values()) out.push(...m.producers);
    return out;
  }

  /**
   * Adds a member. A uid already present is replaced: the old member is
   * closed first (ion-sfu leaves it running, which leaks; issue #544/#495).
   */
  join(member: RoomMember): void {
    const old = this.members.get(member.uid);
    if (old && old !== member) old.close('replaced by a new join with the same uid');
    this.members.set(member.uid, member);
    for (const label of this.fanoutLabels) member.onFanoutLabel(label);
    // ion-sfu sends audioLevels only on change, so a late joiner waits for the next change; sfud tells it now.
    if (this.lastSpeakers) member.sendApi(this.lastSpeakers);
    if (this.lastDominant) member.sendApi(this.lastDominant);
    this.emit('memberjoined', member);
  }

  /** Existing producers of the other members (here and piped from elsewhere), for a new subscriber. */
  producersFor(member: RoomMember): Producer[] {
    const out: Producer[] = [];
    for (const m of this.members.values()) if (m !== member) out.push(...m.producers);
    out.push(...this.piped);
    return out;
  }

  get pipedProducers(): readonly Producer[] {
    return this.piped;
  }

  /** A track from another part of the room arrived over a pipe: every member here gets it. */
  addPipedProducer(producer: Producer): void {
    this.piped = [...this.piped, producer];
    this.observeAudio(producer);
    for (const m of this.members.values()) m.onProducerAdded(producer);
    this.emit('pipedproducer', producer);
  }

  /** A piped track went away (its owner closed it, left, or the pipe closed); the caller closes it. */
  removePipedProducer(producer: Producer): void {
    const before = this.piped.length;
    this.piped = this.piped.filter((p) => p !== producer);
    if (this.piped.length !== before) this.forgetAudio(producer);
  }

  /** A member published a track: every other member gets it. */
  producerAdded(from: RoomMember, producer: Producer): void {
    this.observeAudio(producer);
    for (const m of this.members.values()) if (m !== from) m.onProducerAdded(producer);
    this.emit('produceradded', from, producer);
  }

  private observeAudio(producer: Producer): void {
    if (producer.kind === 'audio') {
      const observer = this.audioLevels;
      const handle = observer.addStream(producer.streamId);
      const dominant = this.dominantSpeaker;
      const speaker = dominant.addSpeaker(producer.streamId, performance.now());
      const ranking = this.ranking;
      const id = producer.streamId;
      ranking.addStream(id);
      producer.audioLevelSink = (level) => {
        const now = performance.now();
        observer.observe(handle, level);
        dominant.levelReceived(speaker, level, now);
        ranking.level(id, level, now);
      };
    }
  }

  producerRemoved(producer: Producer): void {
    this.emit('producerremoved', producer);
    this.forgetAudio(producer);
  }

  private forgetAudio(producer: Producer): void {
    if (producer.kind !== 'audio') return;
    const same = (p: Producer): boolean => p !== producer && p.kind === 'audio' && p.streamId === producer.streamId;
    const stillThere = this.producers.some(same) || this.piped.some(same);
    if (!stillThere) {
      this.audioLevels.removeStream(producer.streamId);
      this.dominantSpeaker.removeSpeaker(producer.streamId);
      this.ranking.removeStream(producer.streamId);
    }
  }

  /** A member (undefined: one elsewhere, over a pipe) opened a data channel with a label other than `ion-sfu`: fan it out. */
  addFanoutLabel(from: RoomMember | undefined, label: string): void {
    if (this.fanoutLabels.has(label)) return;
    this.fanoutLabels.add(label);
    for (const m of this.members.values()) if (m !== from) m.onFanoutLabel(label);
    this.emit('fanoutlabel', label);
  }

  get fanoutLabelList(): string[] {
    return [...this.fanoutLabels];
  }

  /** Copies a message to every other member's channel with that label (text stays text). */
  /** A member announced which simulcast layers of its stream it sends: every other member adapts. */
  announceLayers(from: RoomMember | undefined, streamId: string, layers: readonly number[]): void {
    for (const m of this.members.values()) if (m !== from) m.onPublisherLayers(streamId, layers);
    // From a pipe (`from` undefined) it stops here: every part of the room hears its publishers itself.
    if (from) this.emit('layers', streamId, layers);
  }

  fanout(from: RoomMember, label: string, data: string | Buffer): void {
    for (const m of this.members.values()) if (m !== from) m.onFanoutMessage(label, data);
    this.emit('fanout', label, data);
  }

  /** A fan-out message from a member elsewhere (a pipe): every member here gets it, no pipe does again. */
  fanoutFromPipe(label: string, data: string | Buffer): void {
    for (const m of this.members.values()) m.onFanoutMessage(label, data);
  }

  leave(member: RoomMember): void {
    if (this.members.get(member.uid) !== member) return;
    this.members.delete(member.uid);
    this.emit('memberleft', member);
    if (this.members.size === 0) this.close();
  }

  /**
   * Driven by the registry's shared timer: each member's RTCP runs, then the
   * dominant speaker decides on its own 300 ms grid; a change goes to every member's ion-sfu channel as
   * `{"method":"dominantSpeaker","params":{"streamId":...}}` (sfud's addition
   * next to ion-sfu's audioLevels) and out as a room event.
   */
  tick(nowMs: number): void {
    for (const m of this.members.values()) m.tick(nowMs);
    const change = this.dominantSpeaker.tick(nowMs);
    if (change) {
      const msg = JSON.stringify({ method: 'dominantSpeaker', params: { streamId: change.dominant } });
      this.lastDominant = msg;
      this.dominantSpeakerStreamId = change.dominant;
      this.speakerStats.speakerChanges++;
      for (const m of this.members.values()) m.sendApi(msg);
      this.emit('dominantspeaker', change.dominant);
    }
    if (change || nowMs - this.lastDecisionMs >= SPEAKER_DECISION_MS) this.decideSpeakers(nowMs);
  }

  /** Loudest-K gates and the last-N order, on the speaker grid (and at once on a speaker change). */
  private decideSpeakers(nowMs: number): void {
    this.lastDecisionMs = nowMs;
    this.speakerStats.decisions++;
    const d = this.ranking.decide(nowMs, this.dominantSpeakerStreamId);
    const loud = d.loudest;
    const order = [...d.order];
    const voiced = new Set(order);
    const screens = new Set<string>();
    for (const m of this.members.values()) {
      for (const p of m.producers) {
        if (p.kind === 'audio') p.audioSelected = !loud || loud.has(p.streamId);
        else if (!voiced.has(p.streamId)) screens.add(p.streamId);
      }
    }
    const min = this.policy.lastNMinParticipants;
    const decision: SpeakerDecision = {
      order,
      dominant: this.dominantSpeakerStreamId,
      screens,
      lastN: min > 0 && this.members.size + this.remoteMembers >= min ? this.policy.lastN : undefined,
      othersMaxLayer: this.policy.othersMaxLayer,
    };
    for (const m of this.members.values()) m.onSpeakerDecision(decision);
  }

  private tickAudioLevels(): void {
    const speakers = this.audioLevels.tick();
    if (!speakers) return;
    const msg = JSON.stringify({ method: 'audioLevels', params: speakers });
    this.lastSpeakers = msg;
    for (const m of this.members.values()) m.sendApi(msg);
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    clearInterval(this.levelTimer);
    const members = [...this.members.values()];
    this.members.clear();
    for (const m of members) {
      m.close('room closed');
      // The member can no longer find itself in the room to leave it: say it here.
      this.emit('memberleft', m);
    }
    this.emit('close');
  }
}

/** The dominant-speaker algorithm decides on a 300 ms grid (reference/anchors.md 5); so does the policy. */
const SPEAKER_DECISION_MS = 300;

export interface RoomRegistryEvents {
  /** A room was created (metrics watch its members leave). */
  room: [room: Room];
}

/** The rooms of one SFU, by sid. */
export class RoomRegistry extends EventEmitter<RoomRegistryEvents> {
  private readonly rooms = new Map<string, Room>();
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly audio: AudioLevelOptions = {},
    private readonly policy: RoomPolicyOptions = {},
  ) {
    super();
    // One coarse timer for every member's RTCP (STYLE.md 9), not one per stream.
    this.timer = setInterval(() => this.tick(), 20);
    this.timer.unref();
  }

  private tick(): void {
    const now = performance.now();
    for (const room of this.rooms.values()) {
      room.tick(now);
    }
  }

  getOrCreate(sid: string): Room {
    let room = this.rooms.get(sid);
    if (!room || room.closed) {
      const r = new Room(sid, this.audio, this.policy);
      r.once('close', () => {
        if (this.rooms.get(sid) === r) this.rooms.delete(sid);
      });
      this.rooms.set(sid, r);
      room = r;
      this.emit('room', r);
    }
    return room;
  }

  get(sid: string): Room | undefined {
    return this.rooms.get(sid);
  }

  get list(): Room[] {
    return [...this.rooms.values()];
  }

  closeAll(): void {
    clearInterval(this.timer);
    for (const r of [...this.rooms.values()]) r.close();
  }
}
