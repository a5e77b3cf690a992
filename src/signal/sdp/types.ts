/**
 * The typed, plain-object view of a session description that the rest of
 * sfud reads (RFC 8866 grammar, JSEP (RFC 8829) semantics). Produced by
 * `parseSessionDescription()`; every number in it has been range-checked.
 */
import type { RtcpFeedback } from './capabilities.js';

export type SectionKind = 'audio' | 'video' | 'application' | 'unknown';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export type SetupRole = 'actpass' | 'active' | 'passive' | 'holdconn';

export interface Fingerprint {
  /** Hash function name, lower case (sha-256). */
  algorithm: string;
  /** Colon-separated upper-case hex. */
  value: string;
}

export interface IceCredentials {
  usernameFragment: string;
  password: string;
  /** a=ice-options tokens (trickle, renomination, ice2). */
  options: string[];
}

export interface ParsedCodec {
  payloadType: number;
  /** Encoding name as written (VP8, opus, rtx, red ...). */
  name: string;
  clockRate: number;
  channels?: number;
  /** a=fmtp as key/value pairs; a bare token (red's `111/111`) maps to ''. */
  params: Record<string, string>;
  rtcpFeedback: RtcpFeedback[];
  /** For an rtx codec: the payload type it repairs (fmtp apt). */
  apt?: number;
  /** For a primary codec: the rtx payload type that repairs it, when one is offered. */
  rtxPayloadType?: number;
}

export interface ParsedExtension {
  id: number;
  uri: string;
  direction?: Direction;
}

export interface ParsedSsrc {
  ssrc: number;
  cname?: string;
  msid?: Msid;
  /** Every a=ssrc attribute in order (including cname and msid). */
  attributes: { name: string; value?: string }[];
}

export interface ParsedSsrcGroup {
  /** FID (RTX), SIM (legacy simulcast), FEC-FR ... */
  semantics: string;
  ssrcs: number[];
}

export interface Msid {
  streamId: string;
  /** Absent when the msid has no appdata. */
  trackId?: string;
}

export interface ParsedRid {
  id: string;
  direction: 'send' | 'recv';
  params: Record<string, string>;
}

export interface SimulcastAlternative {
  rid: string;
  paused: boolean;
}

/** a=simulcast (RFC 8853): each list is streams, each stream a list of alternatives. */
export interface ParsedSimulcast {
  send: SimulcastAlternative[][];
  recv: SimulcastAlternative[][];
}

export interface ParsedCandidate {
  foundation: string;
  component: number;
  /** udp or tcp, lower case. */
  protocol: string;
  priority: number;
  address: string;
  port: number;
  type: string;
  relatedAddress?: string;
  relatedPort?: number;
  tcpType?: string;
}

export interface ParsedSection {
  /** Position of the m-line (0-based). */
  index: number;
  kind: SectionKind;
  /** The m-line media type as written (audio, video, application, text ...). */
  media: string;
  /** a=mid; '' only when the description does not bundle and the section has none. */
  mid: string;
  port: number;
  /** Port 0: the section is rejected or disabled. */
  rejected: boolean;
  protocol: string;
  /** The m-line format list as written. */
  formats: string[];
  direction: Direction;
  /** Effective ICE credentials: the section's own, else the session's. */
  ice?: IceCredentials;
  /** Effective fingerprints: the section's own, else the session's. */
  fingerprints: Fingerprint[];
  /** Effective a=setup. */
  setup?: SetupRole;
  bundleOnly: boolean;
  rtcpMux: boolean;
  rtcpRsize: boolean;
  codecs: ParsedCodec[];
  extensions: ParsedExtension[];
  ssrcs: ParsedSsrc[];
  ssrcGroups: ParsedSsrcGroup[];
  /** From a=msid, else from the first ssrc-level msid. */
  msid?: Msid;
  rids: ParsedRid[];
  simulcast?: ParsedSimulcast;
  candidates: ParsedCandidate[];
  endOfCandidates: boolean;
  /** Application sections. */
  sctpPort?: number;
  maxMessageSize?: number;
}

export interface ParsedSessionDescription {
  origin: { sessionId: string; sessionVersion: number };
  iceLite: boolean;
  /** Session-level ICE credentials, when written there. */
  ice?: IceCredentials;
  /** Session-level fingerprints. */
  fingerprints: Fingerprint[];
  setup?: SetupRole;
  /** The mids of the first a=group:BUNDLE, or null when the description does not bundle. */
  bundle: string[] | null;
  extmapAllowMixed: boolean;
  msidSemantic?: { semantic: string; token: string };
  sections: ParsedSection[];
}
