/**
 * The slice of mediasoup 3's API the bench server uses, typed by hand.
 * mediasoup is a bench-only peer built into bench/.peers/ (never a package
 * dependency), so its own .d.ts files are not there at compile time; these
 * shapes follow its documented API (mediasoup.org/documentation/v3).
 */
import type { EventEmitter } from 'node:events';

export type MediaKind = 'audio' | 'video';

export interface RtcpFeedback {
  type: string;
  parameter?: string;
}

export interface RtpCodecParameters {
  mimeType: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
  parameters?: Record<string, string | number>;
  rtcpFeedback?: RtcpFeedback[];
}

export interface RtpHeaderExtensionParameters {
  uri: string;
  id: number;
  encrypt?: boolean;
}

export interface RtpEncodingParameters {
  ssrc?: number;
  rid?: string;
  rtx?: { ssrc: number };
  scalabilityMode?: string;
}

export interface RtpParameters {
  mid?: string;
  codecs: RtpCodecParameters[];
  headerExtensions?: RtpHeaderExtensionParameters[];
  encodings?: RtpEncodingParameters[];
  rtcp?: { cname?: string; reducedSize?: boolean };
}

export interface RtpCodecCapability {
  kind: MediaKind;
  mimeType: string;
  preferredPayloadType?: number;
  clockRate: number;
  channels?: number;
  parameters?: Record<string, string | number>;
  rtcpFeedback?: RtcpFeedback[];
}

export interface RtpHeaderExtensionCapability {
  kind: MediaKind;
  uri: string;
  preferredId: number;
  preferredEncrypt?: boolean;
  direction?: string;
}

export interface RtpCapabilities {
  codecs?: RtpCodecCapability[];
  headerExtensions?: RtpHeaderExtensionCapability[];
}

export interface IceCandidate {
  foundation: string;
  priority: number;
  /** mediasoup >= 3.13 calls it `address`; older versions `ip`. */
  address?: string;
  ip?: string;
  protocol: 'udp' | 'tcp';
  port: number;
  type: string;
}

export interface DtlsParameters {
  role?: 'auto' | 'client' | 'server';
  fingerprints: { algorithm: string; value: string }[];
}

export interface Producer extends EventEmitter {
  readonly id: string;
  readonly kind: MediaKind;
  readonly rtpParameters: RtpParameters;
  readonly appData: Record<string, unknown>;
  readonly closed: boolean;
  close(): void;
}

export interface Consumer extends EventEmitter {
  readonly id: string;
  readonly producerId: string;
  readonly kind: MediaKind;
  readonly rtpParameters: RtpParameters;
  readonly paused: boolean;
  readonly closed: boolean;
  resume(): Promise<void>;
  close(): void;
}

export interface DataProducer {
  readonly id: string;
  send(message: string | Buffer, ppid?: number): void;
  close(): void;
}

export interface DataConsumer {
  readonly id: string;
  readonly sctpStreamParameters?: { streamId: number };
  close(): void;
}

export interface WebRtcTransport extends EventEmitter {
  readonly id: string;
  readonly iceParameters: { usernameFragment: string; password: string; iceLite?: boolean };
  readonly iceCandidates: IceCandidate[];
  readonly dtlsParameters: DtlsParameters;
  readonly sctpParameters?: { port: number; OS: number; MIS: number; maxMessageSize: number };
  readonly dtlsState: string;
  readonly closed: boolean;
  connect(p: { dtlsParameters: DtlsParameters }): Promise<void>;
  produce(p: { kind: MediaKind; rtpParameters: RtpParameters; appData?: Record<string, unknown> }): Promise<Producer>;
  consume(p: { producerId: string; rtpCapabilities: RtpCapabilities; paused?: boolean; mid?: string; appData?: Record<string, unknown> }): Promise<Consumer>;
  consumeData(p: { dataProducerId: string }): Promise<DataConsumer>;
  close(): void;
}

export interface DirectTransport {
  produceData(p: { label?: string; protocol?: string }): Promise<DataProducer>;
  close(): void;
}

export interface WebRtcServer {
  readonly id: string;
  dump(): Promise<{ udpSockets: { ip: string; port: number }[] }>;
  close(): void;
}

export interface Router {
  readonly id: string;
  readonly rtpCapabilities: RtpCapabilities;
  createWebRtcTransport(p: {
    webRtcServer?: WebRtcServer;
    listenInfos?: { protocol: 'udp' | 'tcp'; ip: string; port?: number }[];
    enableUdp?: boolean;
    enableTcp?: boolean;
    preferUdp?: boolean;
    enableSctp?: boolean;
    numSctpStreams?: { OS: number; MIS: number };
    appData?: Record<string, unknown>;
  }): Promise<WebRtcTransport>;
  createDirectTransport(): Promise<DirectTransport>;
  close(): void;
}

export interface Worker extends EventEmitter {
  readonly pid: number;
  createWebRtcServer(p: { listenInfos: { protocol: 'udp' | 'tcp'; ip: string; port?: number }[] }): Promise<WebRtcServer>;
  createRouter(p: { mediaCodecs: RtpCodecCapability[] }): Promise<Router>;
  getResourceUsage(): Promise<Record<string, number>>;
  close(): void;
}

export interface MediasoupModule {
  readonly version: string;
  createWorker(p: { logLevel?: 'debug' | 'warn' | 'error' | 'none'; logTags?: string[] }): Promise<Worker>;
}
