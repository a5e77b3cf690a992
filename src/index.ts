/**
 * sfud's public API. Everything a library user imports comes from here. The
 * wire codecs are exported too (as namespaces where their names would clash)
 * so tools and tests can build and read packets.
 */
export { Sfu, type SfuOptions, type DrainResult } from './sfu.js';
export { defaultConfig, parseCli, OPTIONS, type SfuConfig, type ConfigOption } from './config.js';
export { signToken, TokenVerifier, type TokenClaims, type TokenGrant } from './signal/auth.js';
export { Refusals, REFUSAL_REASONS, RefusalCode, type RefusalReason } from './signal/jsonrpc/refusals.js';
export { SfuError, ConfigError, ClosedError } from './errors.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export { VERSION } from './version.js';
export { systemClock, ManualClock, type Clock, type Timer } from './util/clock.js';
export { SfuMetrics, type MetricsOptions } from './metrics/metrics.js';
export { metricsCatalog, metricsMarkdown, type MetricDoc } from './metrics/catalog.js';
export {
  WebhookNotifier,
  signWebhook,
  verifyWebhookSignature,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  WEBHOOK_EVENTS,
  type WebhookEvent,
  type WebhookEventName,
  type WebhookOptions,
  type WebhookStats,
} from './webhooks/index.js';

// Transport: the WebRTC stack.
export { WebRtcServer, type WebRtcServerOptions, type ListenInfo, type CreateTransportOptions } from './transport/webrtc-server.js';
export {
  WebRtcTransport,
  TransportDrop,
  type IceCandidate,
  type DtlsParameters,
  type RemoteDtlsRole,
  type SctpParameters,
  type WebRtcTransportEvents,
} from './transport/webrtc-transport.js';
export { UdpMux, DropReason, type MuxTarget } from './transport/udp-mux.js';
export { IceLiteAgent, IceResult, type IceTuple, type IceParameters, type IceState } from './ice/ice-lite.js';
export { DtlsTransport, type DtlsRole, type DtlsState, type SrtpKeys, type SrtpProfileName } from './dtls/dtls-transport.js';
export { generateCertificate, loadCertificate, fingerprintOf, matchesFingerprint, type DtlsCertificate, type DtlsFingerprint } from './dtls/certificate.js';
export { SrtpSession } from './srtp/session.js';
export { DataChannel, DataChannelEndpoint, type DataChannelInit } from './sctp/index.js';

// Wire codecs.
export * from './rtp/rtp.js';
export * from './rtp/extensions.js';
export * from './rtp/seq.js';
export * as rtcp from './rtp/rtcp/index.js';
export * as codecs from './rtp/codecs/index.js';
export * as stun from './ice/stun.js';
export * as srtp from './srtp/index.js';
export * as dcep from './sctp/dcep.js';
