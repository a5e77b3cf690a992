/**
 * Probe cluster measurement: how fast the receiver got the packets of a
 * probe (padding sent above the estimate to test capacity).
 *
 * Per cluster: bytes and span on both sides. The delivery rate is
 * min(send rate, receive rate), each (bytes - one packet) / span, because a
 * span of n packets covers n - 1 gaps: the receive rate is the bottleneck's
 * service rate when the probe overshot it, and the send rate caps a
 * measurement that jitter compressed. A cluster counts once at least
 * `minPackets` (5) arrived and `minReceivedRatio` (80 %) of its reported
 * packets arrived, and never after the delay detector reported overuse
 * while it was being fed (then the queue, not the link, set the pace).
 *
 * Clusters are measured incrementally, feedback by feedback: an early
 * result is already a valid lower bound of the capacity, and nothing has
 * to guess when a cluster ended. A handful of slots (4) is recycled
 * oldest-first: clusters are spaced by seconds.
 */

export interface ProbeClustersOptions {
  minPackets?: number;
  /**
   * A cluster counts only once its reported packets span this long at the
   * sender (ms; default 0, the estimator asks for 100: two thirds of the
   * downlink's 150 ms probes). The first few packets
   * of a probe often pass a bottleneck at once: a shaper's burst allowance,
   * an empty queue's first slot. Measured alone they "prove" any rate, and
   * a probe result only ever raises the estimate.
   */
  minSendSpanMs?: number;
  /**
   * The receive rate is measured over packets sent this long (ms) after
   * the cluster's first (default 0; the estimator asks for 40). The head
   * of a probe passes a shaper's burst allowance at the sending rate; only
   * behind it do arrivals show the rate the bottleneck serves. Measured
   * with the head, a 500 kbps link with a 3 KB burst allowance reads as
   * about 630 kbps under a 150 ms probe.
   */
  skipHeadMs?: number;
  minReceivedRatio?: number;
  slots?: number;
}

class Cluster {
  id = -1;
  /** Monotone use stamp: the smallest is recycled first. */
  used = 0;
  touched = false;
  tainted = false;
  firstSend = Infinity;
  lastSend = -Infinity;
  lastSendSize = 0;
  sentBytes = 0;
  firstArrival = Infinity;
  firstArrivalSize = 0;
  lastArrival = -Infinity;
  recvBytes = 0;
  received = 0;
  /** Received packets behind the skipped head: the receive rate is theirs. */
  tailReceived = 0;
  lost = 0;

  reset(id: number): void {
    this.id = id;
    this.touched = this.tainted = false;
    this.firstSend = this.firstArrival = Infinity;
    this.lastSend = this.lastArrival = -Infinity;
    this.lastSendSize = this.firstArrivalSize = this.sentBytes = this.recvBytes = 0;
    this.received = this.tailReceived = this.lost = 0;
  }
}

export class ProbeClusters {
  private readonly minPackets: number;
  private readonly minSendSpanMs: number;
  private readonly skipHeadMs: number;
  private readonly minReceivedRatio: number;
  private readonly clusters: Cluster[];
  private stamp = 0;
  /** Results taken (a qualifying measurement), and clusters discarded for overuse. */
  results = 0;
  tainted = 0;
  /** The send and receive rates (bps) behind the last result taken: why a probe read what it did. */
  lastSendBps = 0;
  lastRecvBps = 0;

  constructor(opts: ProbeClustersOptions = {}) {
    this.minPackets = opts.minPackets ?? 5;
    this.minSendSpanMs = opts.minSendSpanMs ?? 0;
    this.skipHeadMs = opts.skipHeadMs ?? 0;
    this.minReceivedRatio = opts.minReceivedRatio ?? 0.8;
    const n = Math.max(1, opts.slots ?? 4);
    this.clusters = [];
    for (let i = 0; i < n; i++) this.clusters.push(new Cluster());
  }

  /** Start of a feedback: nothing touched yet. */
  begin(): void {
    for (const c of this.clusters) c.touched = false;
  }

  /** One reported probe packet (`arrivalMs` < 0: lost); times finite, size >= 0. */
  add(id: number, sendMs: number, size: number, arrivalMs: number): void {
    const c = this.slot(id);
    c.touched = true;
    c.sentBytes += size;
    if (sendMs < c.firstSend) c.firstSend = sendMs;
    if (sendMs >= c.lastSend) {
      c.lastSend = sendMs;
      c.lastSendSize = size;
    }
    if (arrivalMs < 0) {
      c.lost++;
      return;
    }
    c.received++;
    if (sendMs < c.firstSend + this.skipHeadMs) return;
    c.tailReceived++;
    c.recvBytes += size;
    if (arrivalMs < c.firstArrival) {
      c.firstArrival = arrivalMs;
      c.firstArrivalSize = size;
    }
    if (arrivalMs > c.lastArrival) c.lastArrival = arrivalMs;
  }

  /** The detector saw overuse during this feedback: the clusters it fed are void. */
  taintTouched(): void {
    for (const c of this.clusters) {
      if (c.touched && !c.tainted) {
        c.tainted = true;
        this.tainted++;
      }
    }
  }

  /** The best qualifying delivery rate (bps) among the clusters this feedback fed; 0 if none. */
  bestTouched(): number {
    let best = 0;
    let bestCluster: Cluster | undefined;
    for (const c of this.clusters) {
      if (!c.touched || c.tainted) continue;
      const r = this.rate(c);
      if (r > best) {
        best = r;
        bestCluster = c;
      }
    }
    if (bestCluster) {
      this.results++;
      this.lastSendBps = sendRate(bestCluster);
      this.lastRecvBps = recvRate(bestCluster);
    }
    return best;
  }

  private rate(c: Cluster): number {
    if (c.received < this.minPackets || c.received < this.minReceivedRatio * (c.received + c.lost)) return 0;
    if (c.tailReceived < 2) return 0;
    const recv = recvRate(c);
    if (!(recv > 0)) return 0;
    if (c.lastSend - c.firstSend < this.minSendSpanMs) return 0;
    const send = sendRate(c);
    const r = recv < send ? recv : send;
    return Number.isFinite(r) && r > 0 ? r : 0;
  }

  private slot(id: number): Cluster {
    let oldest = this.clusters[0]!;
    for (const c of this.clusters) {
      if (c.id === id) {
        c.used = ++this.stamp;
        return c;
      }
      if (c.used < oldest.used) oldest = c;
    }
    oldest.reset(id);
    oldest.used = ++this.stamp;
    return oldest;
  }
}

/** Bytes after the first arrival over the receive span (bps); 0 without a span. */
function recvRate(c: Cluster): number {
  const span = c.lastArrival - c.firstArrival;
  return span > 0 ? ((c.recvBytes - c.firstArrivalSize) * 8000) / span : 0;
}

/** Bytes before the last send over the send span (bps); Infinity without a span (one instant). */
function sendRate(c: Cluster): number {
  const span = c.lastSend - c.firstSend;
  return span > 0 ? ((c.sentBytes - c.lastSendSize) * 8000) / span : Infinity;
}
