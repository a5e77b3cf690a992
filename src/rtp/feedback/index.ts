/**
 * RTCP feature units (STYLE.md 6): small, pure, bound once per stream and
 * called synchronously per packet without allocating. Time is passed in as
 * `nowMs`/`arrivalMs`, read once per packet by the caller from its injected
 * `Clock` (src/util/clock.ts); no unit reads a clock or sets a timer itself.
 *
 * - ReceiveStatistics: RR report blocks per incoming SSRC (RFC 3550 A.3/A.8).
 * - NackGenerator: gaps to NACK toward a publisher, 3 tries then keyframe.
 * - RetransmissionStore: per-producer copies of recent packets for NACKs.
 * - writeRtx/unwrapRtx, RtxEncoder/RtxDecoder: RFC 4588 RTX framing.
 * - KeyframeRequester: PLI/FIR throttle per producer layer.
 * - SenderReportGenerator: SR sender info per outgoing SSRC.
 * - TwccRecorder: transport-wide CC feedback per transport.
 * - RembEstimator: receive-rate REMB when TWCC is not negotiated.
 */
export { ReceiveStatistics } from './receive-stats.js';
export { NackGenerator } from './nack-generator.js';
export type { NackGeneratorOptions } from './nack-generator.js';
export { RetransmissionStore } from './retransmission-store.js';
export type { RetransmissionStoreOptions } from './retransmission-store.js';
export { RtxDecoder, RtxEncoder, unwrapRtx, writeRtx } from './rtx.js';
export { KeyframeRequester } from './keyframe-requester.js';
export type { KeyframeRequestKind, KeyframeRequesterOptions } from './keyframe-requester.js';
export { SenderReportGenerator } from './sender-report.js';
export { TwccRecorder } from './twcc-recorder.js';
export type { TwccRecorderOptions } from './twcc-recorder.js';
export { RembEstimator } from './remb-estimator.js';
export type { RembEstimatorOptions } from './remb-estimator.js';
