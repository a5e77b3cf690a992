/**
 * VideoLayerSelector: which spatial/temporal layer of a simulcast (or SVC)
 * producer one consumer forwards, decided per packet.
 *
 * Pure and clock-injected (STYLE.md 5): `select()` takes a packet summary and
 * `nowMs` and returns a plain decision (one reused object, no allocation); the
 * consumer applies it (sequence/timestamp/picture-id rewriting, PLI sending).
 * In the spirit of LiveKit's `VideoLayerSelector.Select`, and fixing ion-sfu's
 * behaviour (reference/ion-sfu-protocol.md §3): no freeze while waiting for a
 * keyframe that never comes, per-subscriber state only.
 *
 * Rules:
 *  1. Spatial switches (up or down) happen only at a keyframe (start of frame)
 *     of the desired layer; meanwhile the current layer keeps flowing and
 *     `needKeyframe` names the desired layer (the caller sends a throttled PLI
 *     on that layer's SSRC).
 *  2. With no current layer (start, resume, target set from none) nothing is
 *     forwarded until a keyframe of the desired layer; after `keyframeWaitMs`
 *     a keyframe of any lower layer is taken instead (then rule 1 climbs).
 *  3. If the current layer stops arriving for more than `layerTimeoutMs` (the
 *     publisher paused it), the next keyframe of any layer up to the desired
 *     one is taken.
 *  4. Temporal: packets above the current temporal layer are dropped with
 *     `dropTemporal` (the caller consumes no output sequence number). Temporal
 *     up-switch only at the start of a frame that is a switching point (VP8 Y
 *     bit: `temporalLayerSync`; Dependency Descriptor: `temporalSwitchMask`,
 *     straight to the highest layer it allows) or a keyframe; down-switch at
 *     any frame start.
 *  5. The desired spatial layer is the highest layer at most the target that is
 *     currently arriving; if none at most the target arrives, the lowest one
 *     that does (never freeze) unless it is above the ceiling a bandwidth
 *     allocation set; if nothing arrives yet, the target itself.
 *
 * SVC mode (`svc: true`, VP9/AV1 layers in one RTP stream): packets of spatial
 * layers above the current one are dropped with `dropSpatial` (again: no
 * output sequence number); up-switch at a keyframe starting a picture of
 * layer 0, down-switch at any picture start of layer 0 (lower layers never
 * depend on higher ones).
 */

/** The layer count tracked (simulcast: 3 encodings; AV1/VP9 SVC: up to 4). */
export const MAX_LAYERS = 4;
/** A layer with no packet for longer than this is gone (the publisher paused it). */
export const DEFAULT_LAYER_TIMEOUT_MS = 500;
/** How long a (re)start waits for the desired layer's keyframe before taking a lower one. */
export const DEFAULT_KEYFRAME_WAIT_MS = 1000;
/** Bitrate measurement window per layer. */
const RATE_WINDOW_MS = 1000;

export interface LayerPacket {
  /** The spatial layer / simulcast encoding the packet belongs to. */
  layer: number;
  /** Decoding can start here (with `startOfFrame`). */
  keyframe: boolean;
  startOfFrame: boolean;
  endOfFrame?: boolean | undefined;
  marker: boolean;
  temporalLayer: number;
  /** A temporal switching point (VP8 Y bit, VP9 U bit...): the frame depends only on TL0. */
  temporalLayerSync?: boolean | undefined;
  /**
   * Dependency Descriptor switch points: bit t set when forwarding temporal
   * layers 0..t may start at this frame (its DTI for that decode target is 'S').
   */
  temporalSwitchMask?: number | undefined;
  /** Bytes, for the per-layer bitrate counters. */
  size?: number | undefined;
}

export interface SelectDecision {
  forward: boolean;
  /** Dropped as a temporal layer above the current one: consume no output sequence number. */
  dropTemporal: boolean;
  /** SVC only: dropped as a spatial layer above the current one: consume no output sequence number. */
  dropSpatial: boolean;
  /** This packet starts a new spatial layer (or restarts): the caller re-derives its offsets. */
  switched: boolean;
  /** Ask for a keyframe on this layer (-1: none). */
  needKeyframe: number;
  /** Current spatial / temporal layer after this packet (-1: none). */
  spatial: number;
  temporal: number;
}

export interface LayerSelectorOptions {
  svc?: boolean;
  layerTimeoutMs?: number;
  keyframeWaitMs?: number;
  /** Initial target; default 2/2 (ion-sfu's maxima). */
  targetSpatial?: number;
  targetTemporal?: number;
}

export interface LayerStats {
  lastSeenMs: number;
  lastKeyframeMs: number;
  packets: number;
  bytes: number;
  /** Bits per second: the higher of the last two complete windows (a dip is not a price), 0 before one. */
  bitrate: number;
  /**
   * The same window by temporal layer, cumulative: [i] is what forwarding
   * temporal layers 0..i costs. One entry per temporal layer the window saw
   * (one for a stream without temporal layers); empty before a window.
   */
  temporalBitrates: number[];
}

/** Temporal layers tracked per spatial layer (VP8 TID and VP9 TID have 2 and 3 bits; browsers send up to 3). */
const TEMPORAL_LAYERS = 4;

export class VideoLayerSelector {
  private readonly svc: boolean;
  private readonly layerTimeoutMs: number;
  private readonly keyframeWaitMs: number;
  private current = -1;
  private currentTemporal = -1;
  private target: number;
  private ceiling = MAX_LAYERS - 1;
  private targetTemporal: number;
  private paused = false;
  /** Since when a layer-less (re)start waits for a keyframe; -1: set by the next packet. */
  private waitStartMs = -1;
  private readonly lastSeen: number[] = new Array<number>(MAX_LAYERS).fill(-Infinity);
  private readonly lastKeyframe: number[] = new Array<number>(MAX_LAYERS).fill(-Infinity);
  private readonly packets: number[] = new Array<number>(MAX_LAYERS).fill(0);
  private readonly bytes: number[] = new Array<number>(MAX_LAYERS).fill(0);
  private readonly windowStart: number[] = new Array<number>(MAX_LAYERS).fill(-1);
  private readonly windowBytes: number[] = new Array<number>(MAX_LAYERS).fill(0);
  private readonly bitrate: number[] = new Array<number>(MAX_LAYERS).fill(0);
  /**
   * The previous window's own rates: a layer is priced at the higher of its
   * last two windows, so an encoder's momentary dip (a static scene, its own
   * rate control) does not sell the layer cheap to an allocation that then
   * meets its next keyframe at full size.
   */
  private readonly lastRaw: number[] = new Array<number>(MAX_LAYERS).fill(0);
  private readonly lastRawT: number[] = new Array<number>(MAX_LAYERS * TEMPORAL_LAYERS).fill(0);
  /** Per spatial layer x temporal layer (index layer * TEMPORAL_LAYERS + tid): bytes in the window, and rates of the last one. */
  private readonly windowBytesT: number[] = new Array<number>(MAX_LAYERS * TEMPORAL_LAYERS).fill(0);
  private readonly bitrateT: number[] = new Array<number>(MAX_LAYERS * TEMPORAL_LAYERS).fill(0);
  /** Highest temporal layer in the current window / in the last complete one, per spatial layer (-1: none). */
  private readonly windowMaxT: number[] = new Array<number>(MAX_LAYERS).fill(-1);
  private readonly maxT: number[] = new Array<number>(MAX_LAYERS).fill(-1);
  private readonly result: SelectDecision = {
    forward: false,
    dropTemporal: false,
    dropSpatial: false,
    switched: false,
    needKeyframe: -1,
    spatial: -1,
    temporal: -1,
  };
  /** Spatial switches made (including starts). */
  switches = 0;
  /** Packets that arrived while a switch waited for a keyframe (freezes avoided by keeping the old layer). */
  keyframeWaits = 0;

  constructor(options: LayerSelectorOptions = {}) {
    this.svc = options.svc ?? false;
    this.layerTimeoutMs = options.layerTimeoutMs ?? DEFAULT_LAYER_TIMEOUT_MS;
    this.keyframeWaitMs = options.keyframeWaitMs ?? DEFAULT_KEYFRAME_WAIT_MS;
    this.target = options.targetSpatial ?? 2;
    this.targetTemporal = options.targetTemporal ?? 2;
  }

  get currentSpatialLayer(): number {
    return this.current;
  }
  get currentTemporalLayer(): number {
    return this.currentTemporal;
  }
  get targetSpatialLayer(): number {
    return this.target;
  }
  get targetTemporalLayer(): number {
    return this.targetTemporal;
  }
  get isPaused(): boolean {
    return this.paused;
  }
  /** A spatial switch (or a start) waits for a keyframe. */
  switchPending(nowMs: number): boolean {
    if (this.paused || this.target < 0) return false;
    return this.current < 0 || this.current !== this.desiredLayer(nowMs);
  }

  /** Max spatial/temporal layer (preferences and bandwidth); spatial -1 forwards nothing. */
  /**
   * `ceiling`: the highest layer that may ever be forwarded, even when
   * nothing at most the target arrives (rule 5's fallback). A bandwidth
   * allocation sets it: forwarding a layer the link cannot carry is loss for
   * every stream on it, worse than holding the picture until a layer that
   * fits returns or the allocation changes.
   */
  setTarget(spatial: number, temporal: number, ceiling: number = MAX_LAYERS - 1): void {
    this.ceiling = ceiling;
    if (spatial < 0) {
      this.current = -1;
      this.currentTemporal = -1;
    } else if (this.target < 0) {
      this.waitStartMs = -1;
    }
    this.target = spatial;
    this.targetTemporal = temporal;
  }

  pause(): void {
    this.paused = true;
    this.current = -1;
    this.currentTemporal = -1;
  }

  /** Restarts at the next keyframe; the keyframe wait (rule 2) counts from `nowMs`. */
  resume(nowMs: number): void {
    this.paused = false;
    this.current = -1;
    this.currentTemporal = -1;
    this.waitStartMs = nowMs;
  }

  /** Layers with a packet within the layer timeout, ascending (for ion-sfu's `activeLayer`). */
  availableLayers(nowMs: number): number[] {
    const out: number[] = [];
    for (let l = 0; l < MAX_LAYERS; l++) if (this.isAlive(l, nowMs)) out.push(l);
    return out;
  }

  layerStats(layer: number): LayerStats | undefined {
    if (layer < 0 || layer >= MAX_LAYERS) return undefined;
    return {
      lastSeenMs: this.lastSeen[layer] ?? -Infinity,
      lastKeyframeMs: this.lastKeyframe[layer] ?? -Infinity,
      packets: this.packets[layer] ?? 0,
      bytes: this.bytes[layer] ?? 0,
      bitrate: this.bitrate[layer] ?? 0,
      temporalBitrates: this.temporalBitrates(layer),
    };
  }

  private temporalBitrates(layer: number): number[] {
    const out: number[] = [];
    let sum = 0;
    for (let t = 0; t <= (this.maxT[layer] ?? -1); t++) {
      sum += this.bitrateT[layer * TEMPORAL_LAYERS + t] ?? 0;
      out.push(sum);
    }
    return out;
  }

  /** Rule 5: the layer the consumer should be on now. */
  desiredLayer(nowMs: number): number {
    let best = -1;
    let lowest = -1;
    for (let l = 0; l <= this.ceiling && l < MAX_LAYERS; l++) {
      if (!this.isAlive(l, nowMs)) continue;
      if (lowest < 0) lowest = l;
      if (l <= this.target) best = l;
    }
    if (best >= 0) return best;
    if (lowest >= 0) return lowest;
    return this.target;
  }

  select(p: LayerPacket, nowMs: number): SelectDecision {
    const r = this.result;
    r.forward = false;
    r.dropTemporal = false;
    r.dropSpatial = false;
    r.switched = false;
    r.needKeyframe = -1;
    const layer = p.layer;
    if (layer >= 0 && layer < MAX_LAYERS) this.observe(p, layer, nowMs);
    if (this.paused || this.target < 0 || layer < 0 || layer >= MAX_LAYERS) return this.finish();
    if (this.svc) this.selectSvc(p, nowMs);
    else this.selectSimulcast(p, nowMs);
    return this.finish();
  }

  private selectSimulcast(p: LayerPacket, nowMs: number): void {
    const r = this.result;
    const desired = this.desiredLayer(nowMs);
    const keyStart = p.keyframe && p.startOfFrame;
    if (this.current < 0) {
      // Rule 2: (re)start.
      if (this.waitStartMs < 0) this.waitStartMs = nowMs;
      const waitedOut = nowMs - this.waitStartMs >= this.keyframeWaitMs;
      if (keyStart && (p.layer === desired || (waitedOut && p.layer < desired))) {
        this.switchTo(p.layer);
        this.filterTemporal(p);
        return;
      }
      r.needKeyframe = desired;
      return;
    }
    if (!this.isAlive(this.current, nowMs)) {
      // Rule 3: the current layer stopped; take the next keyframe of any layer up to the desired one.
      if (keyStart && p.layer <= desired) {
        this.switchTo(p.layer);
        this.filterTemporal(p);
        return;
      }
      r.needKeyframe = desired;
      return;
    }
    if (desired !== this.current) {
      // Rule 1: switch only at the desired layer's keyframe; keep the current layer meanwhile.
      if (p.layer === desired && keyStart) {
        this.switchTo(p.layer);
        this.filterTemporal(p);
        return;
      }
      r.needKeyframe = desired;
      this.keyframeWaits++;
    }
    if (p.layer === this.current) this.filterTemporal(p);
  }

  private selectSvc(p: LayerPacket, nowMs: number): void {
    const r = this.result;
    const desired = this.desiredLayer(nowMs);
    const pictureStart = p.layer === 0 && p.startOfFrame;
    if (this.current < 0) {
      if (pictureStart && p.keyframe) {
        this.switchTo(desired);
      } else {
        r.needKeyframe = 0;
        return;
      }
    } else if (desired !== this.current) {
      if (desired < this.current && pictureStart) {
        this.current = desired;
        this.switches++;
      } else if (desired > this.current && pictureStart && p.keyframe) {
        this.switchTo(desired);
      } else if (desired > this.current) {
        r.needKeyframe = 0;
        this.keyframeWaits++;
      }
    }
    if (p.layer > this.current) {
      r.dropSpatial = true;
      return;
    }
    this.filterTemporal(p);
  }

  private switchTo(layer: number): void {
    this.current = layer;
    this.currentTemporal = this.targetTemporal;
    this.result.switched = true;
    this.switches++;
  }

  /** Rule 4, for a packet of the current layer. */
  private filterTemporal(p: LayerPacket): void {
    const r = this.result;
    if (p.startOfFrame) {
      if (this.currentTemporal > this.targetTemporal || (p.keyframe && this.currentTemporal < this.targetTemporal)) {
        // Down at any frame start; up to the full target at a keyframe (everything may follow it).
        this.currentTemporal = this.targetTemporal;
      } else if (this.currentTemporal < this.targetTemporal && (p.temporalSwitchMask ?? 0) !== 0) {
        // Switch points above the current layer and up to the target: take the highest.
        const m = p.temporalSwitchMask! & ((2 << this.targetTemporal) - 1) & ~((2 << this.currentTemporal) - 1);
        if (m !== 0) this.currentTemporal = 31 - Math.clz32(m);
      } else if (
        p.temporalLayer > this.currentTemporal &&
        p.temporalLayer <= this.targetTemporal &&
        (p.temporalLayerSync === true || p.keyframe)
      ) {
        this.currentTemporal = p.temporalLayer;
      }
    }
    if (p.temporalLayer > this.currentTemporal) {
      r.dropTemporal = true;
      return;
    }
    r.forward = true;
  }

  private finish(): SelectDecision {
    this.result.spatial = this.current;
    this.result.temporal = this.currentTemporal;
    return this.result;
  }

  private isAlive(layer: number, nowMs: number): boolean {
    return nowMs - (this.lastSeen[layer] ?? -Infinity) <= this.layerTimeoutMs;
  }

  private observe(p: LayerPacket, layer: number, nowMs: number): void {
    if (nowMs - (this.lastSeen[layer] ?? -Infinity) > this.layerTimeoutMs && (this.windowStart[layer] ?? -1) >= 0) {
      // The layer was gone (the publisher paused it) and is back. Its open window would spread a
      // second of bytes over the whole absence and price the layer far below what it costs (an
      // allocation bought a top layer at 495 kbps that way), so it is dropped. And an encoder
      // resumes a layer below its rate and ramps up, so the first fresh window alone is no price
      // either (a step up bought at 139 kbps a layer that cost 400 overflowed a 500 kbps link).
      // The layer keeps its last price, which also floors the first fresh window's.
      this.windowStart[layer] = -1;
      this.lastRaw[layer] = this.bitrate[layer] ?? 0;
      this.windowMaxT[layer] = -1;
      for (let t = 0; t < TEMPORAL_LAYERS; t++) {
        const k = layer * TEMPORAL_LAYERS + t;
        this.windowBytesT[k] = 0;
        this.lastRawT[k] = this.bitrateT[k] ?? 0;
      }
    }
    this.lastSeen[layer] = nowMs;
    if (p.keyframe && p.startOfFrame) this.lastKeyframe[layer] = nowMs;
    const size = p.size ?? 0;
    this.packets[layer] = (this.packets[layer] ?? 0) + 1;
    this.bytes[layer] = (this.bytes[layer] ?? 0) + size;
    const tid = p.temporalLayer > 0 ? Math.min(p.temporalLayer, TEMPORAL_LAYERS - 1) : 0;
    const start = this.windowStart[layer] ?? -1;
    if (start >= 0 && nowMs - start >= RATE_WINDOW_MS) this.closeWindow(layer, nowMs - start);
    if (start < 0 || nowMs - start >= RATE_WINDOW_MS) {
      this.windowStart[layer] = nowMs;
      this.windowBytes[layer] = 0;
    }
    this.windowBytes[layer] = (this.windowBytes[layer] ?? 0) + size;
    const k = layer * TEMPORAL_LAYERS + tid;
    this.windowBytesT[k] = (this.windowBytesT[k] ?? 0) + size;
    if (tid > (this.windowMaxT[layer] ?? -1)) this.windowMaxT[layer] = tid;
  }

  private closeWindow(layer: number, ms: number): void {
    const rate = (bytes: number): number => Math.round((bytes * 8 * 1000) / ms);
    const raw = rate(this.windowBytes[layer] ?? 0);
    this.bitrate[layer] = Math.max(raw, this.lastRaw[layer] ?? 0);
    this.lastRaw[layer] = raw;
    for (let t = 0; t < TEMPORAL_LAYERS; t++) {
      const k = layer * TEMPORAL_LAYERS + t;
      const rawT = rate(this.windowBytesT[k] ?? 0);
      this.bitrateT[k] = Math.max(rawT, this.lastRawT[k] ?? 0);
      this.lastRawT[k] = rawT;
      this.windowBytesT[k] = 0;
    }
    this.maxT[layer] = this.windowMaxT[layer] ?? -1;
    this.windowMaxT[layer] = -1;
  }
}

/** ion-sfu's data-channel layer names (§2.2): 0 low, 1 medium, 2 high. */
export function layerName(layer: number): 'low' | 'medium' | 'high' {
  return layer >= 2 ? 'high' : layer === 1 ? 'medium' : 'low';
}

export interface RidInfo {
  rid: string;
  width?: number | undefined;
  height?: number | undefined;
  bitrate?: number | undefined;
}

const ION_RIDS: Readonly<Record<string, number>> = { q: 0, h: 1, f: 2 };

/**
 * Rid → spatial layer. When every rid is one of ion-sfu's `q`/`h`/`f` they map
 * to 0/1/2 (even when one is missing, as ion-sfu does). Otherwise all rids are
 * ranked by observed resolution (width × height), then bitrate, then the
 * order given, and numbered 0.. upward from the smallest.
 */
export function orderRids(rids: readonly RidInfo[]): Map<string, number> {
  const out = new Map<string, number>();
  if (rids.length > 0 && rids.every((r) => Object.hasOwn(ION_RIDS, r.rid))) {
    for (const r of rids) out.set(r.rid, ION_RIDS[r.rid] ?? 0);
    return out;
  }
  const indexed = rids.map((r, i) => ({ r, i }));
  indexed.sort((a, b) => {
    const aa = a.r.width !== undefined && a.r.height !== undefined ? a.r.width * a.r.height : undefined;
    const ba = b.r.width !== undefined && b.r.height !== undefined ? b.r.width * b.r.height : undefined;
    if (aa !== undefined && ba !== undefined && aa !== ba) return aa - ba;
    if (a.r.bitrate !== undefined && b.r.bitrate !== undefined && a.r.bitrate !== b.r.bitrate) {
      return a.r.bitrate - b.r.bitrate;
    }
    return a.i - b.i;
  });
  indexed.forEach((e, layer) => out.set(e.r.rid, layer));
  return out;
}
