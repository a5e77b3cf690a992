/**
 * RTCP feature units on the publisher's packet path. Question answered: what
 * do ReceiveStatistics.onPacket + NackGenerator.onPacket +
 * RetransmissionStore.store + TwccRecorder.onPacket cost together per
 * 1200-byte packet, next to a naive version of the same work (a
 * `Buffer.from` copy per packet into a ring of Buffers, a Map-based NACK
 * tracker, a Map of TWCC arrivals), measured in the same run? Also each unit
 * alone, and the units under 1 % loss with a NACK collect every 20 packets.
 */
import { NackGenerator, ReceiveStatistics, RetransmissionStore, TwccRecorder } from '../../src/rtp/feedback/index.js';
import type { TwccPacket } from '../../src/rtp/rtcp/index.js';
import { encodeRtp } from '../../src/rtp/rtp.js';
import { bench, consume, report } from './harness.js';

const PACKET = encodeRtp(
  { payloadType: 96, sequenceNumber: 0, timestamp: 0, ssrc: 0x1234, extensions: [{ id: 3, value: Buffer.from([0, 1]) }] },
  Buffer.alloc(1200 - 20, 0xab),
);

/** The obvious implementation: allocate and key by Map, as a first draft would. */
class NaivePath {
  private readonly ring: (Buffer | undefined)[] = new Array<Buffer | undefined>(512);
  private readonly missing = new Map<number, { tries: number; sentAt: number }>();
  private readonly twcc = new Map<number, number>();
  private highest = -1;
  private received = 0;
  private jitter = 0;
  private lastArrival = 0;
  private lastTs = 0;

  onPacket(buf: Buffer, extSeq: number, ts: number, nowMs: number): void {
    // Stats.
    this.received++;
    const d = (nowMs - this.lastArrival) * 90 - (ts - this.lastTs);
    this.jitter += (Math.abs(d) - this.jitter) / 16;
    this.lastArrival = nowMs;
    this.lastTs = ts;
    // NACK tracker.
    if (this.highest >= 0 && extSeq > this.highest + 1) {
      for (let s = this.highest + 1; s < extSeq; s++) this.missing.set(s, { tries: 0, sentAt: 0 });
    } else if (extSeq <= this.highest) this.missing.delete(extSeq);
    if (extSeq > this.highest) this.highest = extSeq;
    // Store: a fresh copy per packet.
    this.ring[extSeq & 511] = Buffer.from(buf);
    // TWCC arrivals, pruned by age.
    this.twcc.set(extSeq & 0xffff, nowMs);
    this.twcc.delete((extSeq - 8192) & 0xffff);
  }
}

export function run(): void {
  const stats = new ReceiveStatistics(0x1234);
  const nack = new NackGenerator();
  const store = new RetransmissionStore();
  const twcc = new TwccRecorder();
  const naive = new NaivePath();
  const len = PACKET.length;
  let n = 0;
  let m = 0;
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;

  const rows = [
    bench('naive: Buffer.from copy + Map NACK + Map TWCC', () => {
      const seq = m++;
      naive.onPacket(PACKET, seq, seq * 3000, seq * 0.1);
      return seq;
    }),
    bench('sfud: stats + nack + store + twcc (in order)', () => {
      const seq = n++;
      const now = seq * 0.1;
      stats.onPacket(seq, (seq * 3000) >>> 0, now, 90000);
      nack.onPacket(seq, now);
      store.store(PACKET, 0, len, seq, now);
      twcc.onPacket(seq & 0xffff, now);
      return seq;
    }),
  ];
  report(`RTCP units per received 1200-byte packet (${len} bytes)`, rows);

  // Under loss: 1 packet in 100 never arrives, NACK collect every 20 packets, TWCC feedback every 1000.
  const lossStats = new ReceiveStatistics(1);
  const lossNack = new NackGenerator();
  const lossStore = new RetransmissionStore();
  const lossTwcc = new TwccRecorder();
  const nackOut: number[] = [];
  const fb: TwccPacket[] = [];
  let k = 0;
  const naiveLoss = new NaivePath();
  let kn = 0;
  report('RTCP units with 1 % loss (NACK collect / 20 pkts, TWCC feedback / 1000 pkts)', [
    bench('naive: Buffer.from copy + Map NACK + Map TWCC', () => {
      const i = kn++;
      const seq = i + Math.floor(i / 99);
      naiveLoss.onPacket(PACKET, seq, seq * 3000, i * 0.1);
      return seq;
    }),
    bench('sfud: stats + nack + store + twcc + collect', () => {
      const i = k++;
      const seq = i + Math.floor(i / 99);
      const now = i * 0.1;
      lossStats.onPacket(seq, (seq * 3000) >>> 0, now, 90000);
      lossNack.onPacket(seq, now);
      lossStore.store(PACKET, 0, len, seq, now);
      lossTwcc.onPacket(seq & 0xffff, now);
      if (i % 20 === 0) lossNack.collect(now, 50, nackOut);
      if (i % 1000 === 0) {
        fb.length = 0;
        lossTwcc.buildFeedback(1, 2, fb);
      }
      return seq;
    }),
  ]);

  const s1 = new ReceiveStatistics(1);
  const n1 = new NackGenerator();
  const r1 = new RetransmissionStore();
  const t1 = new TwccRecorder();
  report('Each unit alone', [
    bench('ReceiveStatistics.onPacket', () => {
      const seq = a++;
      s1.onPacket(seq, (seq * 3000) >>> 0, seq * 0.1, 90000);
      return seq;
    }),
    bench('NackGenerator.onPacket', () => {
      const seq = b++;
      n1.onPacket(seq, seq * 0.1);
      return seq;
    }),
    bench('RetransmissionStore.store (1200 B copy)', () => {
      const seq = c++;
      return r1.store(PACKET, 0, len, seq, seq * 0.1);
    }),
    bench('TwccRecorder.onPacket', () => {
      const seq = d++;
      t1.onPacket(seq & 0xffff, seq * 0.1);
      return seq;
    }),
  ]);
  consume([stats, nack, store, twcc, naive, s1, n1, r1, t1, lossNack.toJSON(), fb.length]);
}
