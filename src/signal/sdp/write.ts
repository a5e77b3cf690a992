/**
 * Building blocks shared by the publisher answer and the subscriber offer:
 * the transport lines every sfud m-section carries (ICE-lite credentials,
 * our DTLS fingerprint and role, host candidates) in sdp-transform's shapes.
 */
import type * as sdpTransform from 'sdp-transform';
import type { IceCandidate } from '../../transport/webrtc-transport.js';
import type { Fingerprint } from './types.js';
import type { RtcpFeedback } from './capabilities.js';

export type SdpMedia = sdpTransform.MediaDescription;

/** Our side of the transport, as every sfud description states it. */
export interface LocalTransportDescription {
  ice: { usernameFragment: string; password: string };
  candidates: readonly IceCandidate[];
  fingerprint: Fingerprint;
}

export function transportLines(
  local: LocalTransportDescription,
  setup: 'actpass' | 'active' | 'passive',
  withCandidates: boolean,
): Partial<SdpMedia> {
  const out: Partial<SdpMedia> = {
    connection: { version: 4, ip: '0.0.0.0' },
    iceUfrag: local.ice.usernameFragment,
    icePwd: local.ice.password,
    fingerprint: { type: local.fingerprint.algorithm, hash: local.fingerprint.value },
    setup,
  };
  if (withCandidates) {
    out.candidates = local.candidates.map((c) => ({
      foundation: c.foundation,
      component: 1,
      transport: c.protocol,
      priority: c.priority,
      ip: c.address,
      port: c.port,
      type: c.type,
    }));
    out.endOfCandidates = 'end-of-candidates';
  }
  return out;
}

export function fmtpConfig(params: Readonly<Record<string, string>>): string {
  return Object.keys(params)
    .map((k) => (params[k] === '' ? k : `${k}=${params[k]}`))
    .join(';');
}

export function rtcpFbLines(pt: number, fbs: readonly RtcpFeedback[]): NonNullable<SdpMedia['rtcpFb']> {
  return fbs.map((fb) => (fb.parameter ? { payload: pt, type: fb.type, subtype: fb.parameter } : { payload: pt, type: fb.type }));
}

export function sessionHeader(sessionId: string, sessionVersion: number): Pick<
  sdpTransform.SessionDescription,
  'version' | 'origin' | 'name' | 'timing'
> {
  return {
    version: 0,
    origin: { username: '-', sessionId, sessionVersion, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
  };
}
