/**
 * What the bench runner needs from a server under test. A `ServerSpec` says
 * whether the server can run here and starts it; the `RunningServer` it
 * returns is measured from /proc by pid and joins load-generator clients with
 * one call, whatever the server's signalling (ion-sfu JSON-RPC, Janus's
 * VideoRoom API, ...). Every client both may publish and may subscribe, and a
 * subscribing client receives every publisher of its room, including those
 * that publish later: the scenarios are written once against this contract.
 */
import type { DtlsCertificate } from '../../src/dtls/certificate.js';
import { sumOverPids } from '../loadgen/proc.js';
import type { MediaSink, MediaSinkOptions, MediaSource, MediaSourceOptions } from '../loadgen/media.js';

export interface JoinOptions {
  /** Room name (ion-sfu sid); servers with numeric rooms map it. */
  room: string;
  uid: string;
  cert: DtlsCertificate;
  /** Publish Opus + VP8 with these options. */
  publish?: MediaSourceOptions;
  /** Receive every publisher of the room into a sink with these options. */
  subscribe?: MediaSinkOptions & { recvBufferBytes?: number };
  /** ion-sfu servers: connect the (idle) publisher connection of a subscribe-only client. */
  connectPublisherPc?: boolean;
  timeoutMs?: number;
}

export interface BenchClient {
  readonly source: MediaSource | undefined;
  readonly sink: MediaSink | undefined;
  /** Local UDP ports that receive forwarded media (UDP drop and queue accounting). */
  readonly ports: readonly number[];
  /** The SRTP profile DTLS negotiated (the servers may differ: it matters for CPU). */
  readonly srtpProfile: string | null;
  /** One line of signalling state for failure notes (offers answered, feeds subscribed ...). */
  describe(): string;
  close(): void;
}

export interface RunningServer {
  readonly name: string;
  /** The process whose CPU (all threads) and RSS count as the server's. */
  readonly pid: number;
  /** Further processes that count too (mediasoup's C++ workers). */
  readonly extraPids?: readonly number[];
  /** True for a UDP port the server receives media on (queue and drop accounting). */
  isServerPort(port: number): boolean;
  join(o: JoinOptions): Promise<BenchClient>;
  /** Version and settings worth keeping next to the numbers. */
  readonly info: Record<string, unknown>;
  /**
   * The server's own account of video it chose not to send, read before and
   * after a window (sfud: from its Prometheus metrics). A subscriber whose
   * bandwidth estimate paused or lowered its video misses packets that the
   * window counts as lost; these say how much of the loss was the server's
   * choice. Absent for servers that do not expose one.
   */
  bandwidthEvents?(): Promise<BandwidthEvents>;
  /** The first lines the server printed (for failures). */
  log(): string[];
  stop(): Promise<void>;
}

export interface StartContext {
  /** Repository root (dist/ lives there). */
  root: string;
  /** Address the load generator binds to and servers should expect it on. */
  clientHost: string;
  /** True inside the bench's private network namespace (127.0.0.2 exists on a non-loopback link). */
  inNetns: boolean;
  /** Profile Node servers with --cpu-prof into this directory. */
  cpuProfDir?: string;
  /** Scratch directory for this run (configs, logs). */
  scratch: string;
}

export type Availability = { ok: true } | { ok: false; reason: string; hint?: string };

export interface ServerSpec {
  /** Name on the command line and in tables. */
  name: string;
  /** One line for the report: what this server is. */
  describe: string;
  /** Only run when named in --servers (variants, expensive setups). */
  optional?: boolean;
  available(ctx: StartContext): Availability;
  start(ctx: StartContext): Promise<RunningServer>;
}

/** Sum of `read(pid)` over the server's processes; a process that is gone counts 0. */
export function overServerPids(server: RunningServer, read: (pid: number) => number): number {
  return sumOverPids([server.pid, ...(server.extraPids ?? [])], read);
}

/** Counters are totals since the server started; the last two are the state now. */
export interface BandwidthEvents {
  /** Layers stopped at once because the allocation fell below them. */
  congestionStops: number;
  /** Packets dropped from a full subscriber pacer. */
  pacerDropped: number;
  /** Subscribers whose estimate is below what their tracks want. */
  limitedSubscribers: number;
  /** Video tracks sent without a layer now (paused by the allocation, or waiting for a keyframe). */
  videoWithoutLayer: number;
}
