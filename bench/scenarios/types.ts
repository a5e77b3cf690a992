/**
 * Scenario contract and result shapes. A scenario drives one running server
 * (servers/types.ts) through its steps (N subscribers, M participants ...)
 * and returns one `StepResult` per measured window; the runner puts the
 * servers side by side (report/).
 */
import type { DtlsCertificate } from '../../src/dtls/certificate.js';
import type { BandwidthEvents, RunningServer } from '../servers/types.js';

export interface ScenarioOptions {
  /** The sweep: subscribers (fan-out) or participants (meeting) per step, ascending. */
  steps: number[];
  /** Measured window per step. */
  seconds: number;
  /** Seconds after a step's joins before measuring. */
  warmup: number;
  videoKbps: number;
  fps: number;
  keyframeInterval: number;
  joinConcurrency: number;
  /** Stop the sweep above this loss (%). */
  maxLoss: number;
  /** Before each window, wait up to this long for other processes to go quiet. */
  waitQuiet: number;
  /** Measure a window again (up to this many times) when other processes were busy during it. */
  retries: number;
  /** Subscriber SO_RCVBUF (0: default). */
  recvBuf: number;
  /** Only every K-th sink decrypts (the rest count RTP sequence numbers). */
  decryptEvery: number;
  /** ion-sfu servers: connect subscribers' idle publisher connections. */
  pubPc: boolean;
  /** Per-client join timeout. */
  joinTimeoutMs: number;
  cert: DtlsCertificate;
  /** performance.now() after which no new step starts. */
  deadline: number;
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

export interface LatencyMs {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface StepResult {
  /** Subscribers (fan-out) or participants (meeting). */
  n: number;
  seconds: number;
  publishedPps: number;
  forwardedPps: number;
  forwardedMbps: number;
  /** Sequence gaps over the window, % of expected. */
  lossPct: number;
  /**
   * 1 - forwarded / (published x copies each should get) over the window:
   * packets that did not arrive in time, lost or still queued. Catches a
   * server that falls behind with big socket buffers and so loses nothing
   * while latency grows.
   */
  deficitPct: number;
  serverCpuPct: number;
  /** Server CPU (all threads) per forwarded packet, microseconds. */
  serverUsPerPacket: number;
  latencyMs: LatencyMs;
  serverRssMB: number;
  /** Server RSS growth since before the clients joined, per client. */
  rssPerClientKB: number;
  joinMs: {
    firstPacketP50: number;
    firstPacketP99: number;
    firstVideoP50: number;
    firstVideoP99: number;
    /** To the first key frame start (decodable video), decrypting sinks only. */
    firstKeyframeP50: number;
    firstKeyframeP99: number;
    /** To video from every publisher it should receive. */
    allVideoP50: number;
    allVideoP99: number;
    joined: number;
    failed: number;
  };
  loadgenCpuPct: number;
  /** Host CPU busy outside the server and the load generator (other processes, interrupts), in % of one core. */
  otherCpuPct: number;
  udpDrops: { server: number; loadgen: number };
  sinksWithoutMedia: number;
  /** The load generator's own event-loop delay during the window (a late reader inflates latency). */
  loadgenEventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Receive-queue depth sampled every 250 ms: where packets wait (the server's sockets or the clients'). */
  udpRxQueueKB: { serverMean: number; serverMax: number; loadgenMean: number; loadgenMax: number };
  srtpProfile: string | null;
  /**
   * The server's bandwidth decisions over the window (counters: the
   * window's increase; subscriber and track states: at its end), when the
   * server reports them (see RunningServer.bandwidthEvents).
   */
  bandwidthEvents?: BandwidthEvents;
  /** Windows measured for this step (more than 1: earlier ones were disturbed; the least disturbed is kept). */
  windows: number;
}

export interface ScenarioRun {
  steps: StepResult[];
  notes: string[];
}

export interface ScenarioSpec {
  name: string;
  /** The heading of its table. */
  title: string;
  /** What a step's n counts. */
  unit: 'subscribers' | 'participants';
  /** Another scenario whose steps this one is priced against, per server and n (e.g. simulcast against plain fan-out). */
  baseline?: string;
  /**
   * Default sweeps for `npm run bench` (quick, under 5 minutes with every
   * server) and `npm run bench:full`, with overrides for servers that saturate
   * early, and the servers the quick run includes (all when absent).
   */
  defaults: {
    quick: number[];
    full: number[];
    perServer?: Record<string, { quick?: number[]; full?: number[] }>;
    quickServers?: readonly string[];
  };
  run(server: RunningServer, o: ScenarioOptions): Promise<ScenarioRun>;
}
