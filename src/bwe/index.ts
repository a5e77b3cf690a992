/** Downlink bandwidth estimation and allocation: pure decision modules (no sockets, no timers). */
export { BandwidthEstimator } from './estimator.js';
export type { DelaySignal, EstimatorMode, EstimatorOptions, PacketResult } from './estimator.js';
export { allocate } from './allocator.js';
export type { Allocation, AllocationResult, AllocationTrack, TrackOption } from './allocator.js';
export { ProbeController } from './probe-controller.js';
export type { ProbeControllerOptions, ProbeDecision, ProbeState } from './probe-controller.js';
