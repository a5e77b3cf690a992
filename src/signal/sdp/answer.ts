/**
 * Answering a publisher's offer (JSEP RFC 8829 section 5.3): the client
 * sends, sfud receives over one ICE-lite + DTLS transport (BUNDLE, RFC 9143).
 *
 * For each offered m-section, in order, decide first (accept or reject, and
 * what), then write. The decision, `NegotiatedSection`, is what the router
 * needs to map the client's RTP (its payload types and extension ids) into
 * router space.
 */
import * as sdpTransform from 'sdp-transform';
import { SfuError } from '../../errors.js';
import type { DtlsParameters, RemoteDtlsRole, SctpParameters } from '../../transport/webrtc-transport.js';
import { EXT_URI } from '../../rtp/extensions.js';
import {
  ROUTER_CAPABILITIES,
  findCodecCapability,
  findExtensionCapability,
  supportsFeedback,
  type CodecCapability,
  type RouterCapabilities,
  type RtcpFeedback,
} from './capabilities.js';
import { SDP_ERROR, sdpError } from './parse.js';
import { fmtpConfig, rtcpFbLines, sessionHeader, transportLines, type LocalTransportDescription, type SdpMedia } from './write.js';
import type {
  Direction,
  Msid,
  ParsedRid,
  ParsedSection,
  ParsedSessionDescription,
  ParsedSimulcast,
  ParsedSsrc,
  ParsedSsrcGroup,
  SectionKind,
  SimulcastAlternative,
} from './types.js';

/** The SCTP parameters sfud answers with. */
export const SFU_SCTP_PORT = 5000;
export const SFU_MAX_MESSAGE_SIZE = 262144;

export interface PublisherAnswerLocal extends LocalTransportDescription {
  capabilities?: RouterCapabilities;
  /** o= session id (decimal digits); random when absent. */
  sessionId?: string;
  /** o= session version; raise it on each renegotiation (default 1). */
  sessionVersion?: number;
}

export interface NegotiatedCodec {
  /** The client's payload type. */
  payloadType: number;
  capability: CodecCapability;
  /** The client's RTX payload type for this codec, when negotiated. */
  rtxPayloadType?: number;
  /** The client's fmtp for this payload type. */
  parameters: Record<string, string>;
  /** Feedback both sides support for this payload type. */
  rtcpFeedback: RtcpFeedback[];
}

export interface NegotiatedFeedback {
  transportCc: boolean;
  remb: boolean;
  nack: boolean;
  pli: boolean;
  fir: boolean;
}

export interface NegotiatedSection {
  index: number;
  mid: string;
  kind: SectionKind;
  accepted: boolean;
  /** Why a section was answered with port 0. */
  rejectReason?: string;
  /** Our direction in the answer (recvonly for accepted media). */
  direction: Direction;
  /** Chosen codecs in the client's preference order. */
  codecs: NegotiatedCodec[];
  /** RTX payload type -> the primary payload type it repairs (client space). */
  rtx: Record<number, number>;
  /** Negotiated header extension id (client space) -> URI. */
  extensions: Record<number, string>;
  /** The client's send rids we answered as recv (simulcast layers). */
  rids: ParsedRid[];
  simulcast?: ParsedSimulcast;
  ssrcs: ParsedSsrc[];
  ssrcGroups: ParsedSsrcGroup[];
  msid?: Msid;
  feedback: NegotiatedFeedback;
  /** Application sections: the client's SCTP parameters. */
  sctp?: { port: number; maxMessageSize: number };
}

export interface RemoteTransportParameters {
  iceUsernameFragment: string;
  icePassword: string;
  dtlsParameters: DtlsParameters;
  sctp?: SctpParameters;
}

export interface PublisherAnswer {
  sdp: string;
  sections: NegotiatedSection[];
  /** What to pass to `WebRtcTransport.connect()`; absent when nothing was accepted. */
  transport?: RemoteTransportParameters;
}

const NO_FEEDBACK: NegotiatedFeedback = { transportCc: false, remb: false, nack: false, pli: false, fir: false };

function remoteRole(setup: string | undefined): RemoteDtlsRole {
  return setup === 'active' ? 'client' : setup === 'passive' ? 'server' : 'auto';
}

/** The remote transport parameters of a parsed description (its BUNDLE-tagged, or first usable, section). */
export function remoteTransportParameters(desc: ParsedSessionDescription): RemoteTransportParameters | undefined {
  const usable = desc.sections.filter((s) => !s.rejected && (desc.bundle === null || desc.bundle.includes(s.mid)));
  const tag = usable[0];
  if (!tag?.ice) return undefined;
  const out: RemoteTransportParameters = {
    iceUsernameFragment: tag.ice.usernameFragment,
    icePassword: tag.ice.password,
    dtlsParameters: { role: remoteRole(tag.setup), fingerprints: tag.fingerprints.map((f) => ({ ...f })) },
  };
  const app = usable.find((s) => s.kind === 'application');
  if (app) out.sctp = { port: app.sctpPort ?? 5000, maxMessageSize: app.maxMessageSize ?? 65536 };
  return out;
}

function rejected(s: ParsedSection, reason: string): NegotiatedSection {
  return {
    index: s.index,
    mid: s.mid,
    kind: s.kind,
    accepted: false,
    rejectReason: reason,
    direction: 'inactive',
    codecs: [],
    rtx: {},
    extensions: {},
    rids: [],
    ssrcs: [],
    ssrcGroups: [],
    feedback: NO_FEEDBACK,
  };
}

function hasFb(codecs: readonly NegotiatedCodec[], type: string, parameter?: string): boolean {
  return codecs.some((c) => c.rtcpFeedback.some((f) => f.type === type && (f.parameter ?? '') === (parameter ?? '')));
}

/** Decides one audio/video section. */
function negotiateMedia(s: ParsedSection, caps: RouterCapabilities): NegotiatedSection {
  const kind = s.kind;
  if (kind !== 'audio' && kind !== 'video') return rejected(s, `unsupported media type ${s.media}`);
  if (!/^(UDP\/TLS\/)?RTP\/SAVPF?$/.test(s.protocol)) return rejected(s, `unsupported protocol ${s.protocol}`);
  if (s.direction !== 'sendonly' && s.direction !== 'sendrecv') return rejected(s, `the client does not send (${s.direction})`);

  const extensions: Record<number, string> = {};
  for (const e of s.extensions) {
    if (e.direction === 'recvonly' || e.direction === 'inactive') continue;
    if (findExtensionCapability(caps, kind, e.uri)) extensions[e.id] = e.uri;
  }
  const twcc = Object.values(extensions).includes(EXT_URI.transportWideCc);

  const codecs: NegotiatedCodec[] = [];
  for (const c of s.codecs) {
    if (c.apt !== undefined) continue;
    const cap = findCodecCapability(caps, kind, c);
    if (!cap) continue;
    const rtcpFeedback = c.rtcpFeedback
      .filter((fb) => supportsFeedback(cap, fb) && (twcc || fb.type !== 'transport-cc'))
      .filter((fb, i, all) => all.findIndex((x) => x.type === fb.type && x.parameter === fb.parameter) === i);
    const nc: NegotiatedCodec = { payloadType: c.payloadType, capability: cap, parameters: { ...c.params }, rtcpFeedback };
    if (kind === 'video' && c.rtxPayloadType !== undefined && cap.rtxPayloadType !== undefined) nc.rtxPayloadType = c.rtxPayloadType;
    codecs.push(nc);
  }
  if (codecs.length === 0) return rejected(s, 'no codec in common');

  const rtx: Record<number, number> = {};
  for (const c of codecs) if (c.rtxPayloadType !== undefined) rtx[c.rtxPayloadType] = c.payloadType;

  const out: NegotiatedSection = {
    index: s.index,
    mid: s.mid,
    kind,
    accepted: true,
    direction: 'recvonly',
    codecs,
    rtx,
    extensions,
    rids: s.rids.filter((r) => r.direction === 'send'),
    ssrcs: s.ssrcs,
    ssrcGroups: s.ssrcGroups,
    feedback: {
      transportCc: twcc && hasFb(codecs, 'transport-cc'),
      remb: hasFb(codecs, 'goog-remb'),
      nack: hasFb(codecs, 'nack'),
      pli: hasFb(codecs, 'nack', 'pli'),
      fir: hasFb(codecs, 'ccm', 'fir'),
    },
  };
  if (s.simulcast && s.simulcast.send.length > 0) {
    // Only the rids the client declared with a=rid ... send may appear in our recv list (RFC 8853 5.3).
    const known = new Set(out.rids.map((r) => r.id));
    const send = s.simulcast.send
      .map((alts) => alts.filter((a) => known.has(a.rid)))
      .filter((alts) => alts.length > 0);
    if (send.length > 0) out.simulcast = { send: [], recv: send };
  }
  if (s.msid) out.msid = s.msid;
  return out;
}

function negotiateApplication(s: ParsedSection): NegotiatedSection {
  // Only the RFC 8841 syntax (UDP/DTLS/SCTP webrtc-datachannel, a=sctp-port).
  if (!/^(UDP|TCP)\/DTLS\/SCTP$/.test(s.protocol)) return rejected(s, `unsupported protocol ${s.protocol}`);
  const { rejectReason: _unused, ...base } = rejected(s, '');
  return {
    ...base,
    accepted: true,
    direction: 'sendrecv',
    sctp: { port: s.sctpPort ?? 5000, maxMessageSize: s.maxMessageSize ?? 65536 },
  };
}

function simulcastList(streams: readonly SimulcastAlternative[][]): string {
  return streams.map((alts) => alts.map((a) => (a.paused ? `~${a.rid}` : a.rid)).join(',')).join(';');
}

function negotiate(offer: ParsedSessionDescription, caps: RouterCapabilities): NegotiatedSection[] {
  return offer.sections.map((s) => {
    if (s.rejected) return rejected(s, 'rejected in the offer');
    // One transport: a section outside the BUNDLE group would need its own.
    if (offer.bundle !== null && !offer.bundle.includes(s.mid)) return rejected(s, 'not in the BUNDLE group');
    switch (s.kind) {
      case 'audio':
      case 'video':
        return negotiateMedia(s, caps);
      case 'application':
        return negotiateApplication(s);
      case 'unknown':
        return rejected(s, `unsupported media type ${s.media}`);
    }
  });
}

function writeSection(
  s: ParsedSection,
  n: NegotiatedSection,
  local: LocalTransportDescription,
  setup: 'active' | 'passive',
  first: boolean,
): SdpMedia {
  if (!n.accepted) {
    const fmt = s.kind === 'application' ? (s.formats[0] ?? 'webrtc-datachannel') : (s.formats.find((f) => /^\d+$/.test(f)) ?? '0');
    const m: SdpMedia = { type: s.media, port: 0, protocol: s.protocol, payloads: fmt, rtp: [], fmtp: [] };
    m.connection = { version: 4, ip: '0.0.0.0' };
    if (s.mid) m.mid = s.mid;
    if (s.kind === 'audio' || s.kind === 'video') m.direction = 'inactive';
    return m;
  }
  const base: Partial<SdpMedia> = { ...transportLines(local, setup, first) };
  // Without BUNDLE an offer may omit mids; never write an empty a=mid.
  if (s.mid) base.mid = s.mid;
  if (n.kind === 'application') {
    return {
      ...base,
      type: s.media,
      port: 9,
      protocol: s.protocol,
      payloads: 'webrtc-datachannel',
      rtp: [],
      fmtp: [],
      sctpPort: SFU_SCTP_PORT,
      maxMessageSize: SFU_MAX_MESSAGE_SIZE,
    } as SdpMedia;
  }
  const rtp: SdpMedia['rtp'] = [];
  const fmtp: SdpMedia['fmtp'] = [];
  const rtcpFb: NonNullable<SdpMedia['rtcpFb']> = [];
  const pts: number[] = [];
  for (const c of n.codecs) {
    const offered = s.codecs.find((x) => x.payloadType === c.payloadType);
    pts.push(c.payloadType);
    const entry: SdpMedia['rtp'][number] = { payload: c.payloadType, codec: offered?.name ?? c.capability.name, rate: c.capability.clockRate };
    if (c.capability.channels !== undefined) entry.encoding = c.capability.channels;
    rtp.push(entry);
    const config = fmtpConfig(c.parameters);
    if (config) fmtp.push({ payload: c.payloadType, config });
    rtcpFb.push(...rtcpFbLines(c.payloadType, c.rtcpFeedback));
    if (c.rtxPayloadType !== undefined) {
      pts.push(c.rtxPayloadType);
      rtp.push({ payload: c.rtxPayloadType, codec: 'rtx', rate: c.capability.clockRate });
      fmtp.push({ payload: c.rtxPayloadType, config: `apt=${c.payloadType}` });
    }
  }
  const m: SdpMedia = {
    ...base,
    type: s.media,
    port: 9,
    protocol: s.protocol,
    payloads: pts.join(' '),
    rtp,
    fmtp,
    direction: 'recvonly',
    rtcpMux: 'rtcp-mux',
  };
  if (rtcpFb.length > 0) m.rtcpFb = rtcpFb;
  if (s.rtcpRsize) m.rtcpRsize = 'rtcp-rsize';
  const ext = Object.entries(n.extensions).map(([id, uri]) => ({ value: Number(id), uri }));
  if (ext.length > 0) m.ext = ext.sort((a, b) => a.value - b.value);
  if (n.rids.length > 0) m.rids = n.rids.map((r) => ({ id: r.id, direction: 'recv' }));
  if (n.simulcast) m.simulcast = { dir1: 'recv', list1: simulcastList(n.simulcast.recv) };
  return m;
}

function randomSessionId(): string {
  // 62 random bits as decimal digits: positive and below 2^63 as RFC 8866 wants.
  const hi = Math.floor(Math.random() * 0x40000000);
  const lo = Math.floor(Math.random() * 0x100000000);
  return (BigInt(hi) * 0x100000000n + BigInt(lo) + 1n).toString();
}

/**
 * Answers a publisher offer. Accepted audio/video sections become recvonly
 * with the codecs, feedback and extensions both sides support; everything
 * else is answered with port 0. Throws only `SfuError`.
 */
export function createPublisherAnswer(offer: ParsedSessionDescription, local: PublisherAnswerLocal): PublisherAnswer {
  try {
    return answer(offer, local);
  } catch (err) {
    if (err instanceof SfuError) throw err;
    throw sdpError(`cannot answer the offer: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

function answer(offer: ParsedSessionDescription, local: PublisherAnswerLocal): PublisherAnswer {
  if (offer.iceLite) throw sdpError('the offer is ICE-lite too: one side must be a full ICE agent');
  const caps = local.capabilities ?? ROUTER_CAPABILITIES;
  const sections = negotiate(offer, caps);
  const accepted = sections.filter((n) => n.accepted);
  const tag = offer.sections[accepted[0]?.index ?? -1];
  if (tag?.setup === 'holdconn') throw new SfuError(SDP_ERROR, `m-section ${tag.index}: a=setup:holdconn is not supported`);
  // RFC 8842 5.3: we are passive unless the offerer insists on being passive itself.
  const setup = tag?.setup === 'passive' ? 'active' : 'passive';

  const media = offer.sections.map((s, i) => writeSection(s, sections[i]!, local, setup, s.index === tag?.index));
  const desc: sdpTransform.SessionDescription = {
    ...sessionHeader(local.sessionId ?? randomSessionId(), local.sessionVersion ?? 1),
    icelite: 'ice-lite',
    msidSemantic: { semantic: 'WMS', token: '*' },
    media,
  };
  if (offer.bundle !== null && accepted.length > 0) desc.groups = [{ type: 'BUNDLE', mids: accepted.map((n) => n.mid).join(' ') }];
  if (offer.extmapAllowMixed) desc.extmapAllowMixed = 'extmap-allow-mixed';
  const out: PublisherAnswer = { sdp: sdpTransform.write(desc), sections };
  const transport = remoteTransportParameters({ ...offer, sections: offer.sections.filter((s) => sections[s.index]?.accepted) });
  if (transport) out.transport = transport;
  return out;
}
