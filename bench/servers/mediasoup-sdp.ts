/**
 * SDP <-> mediasoup RtpParameters for the ion-sfu-speaking mediasoup bench
 * server (mediasoup itself has no SDP). Pure functions over sdp-transform's
 * shapes, so they are unit-tested without a worker:
 *
 *  - `answerPublisherOffer`: a client's publisher-PC offer becomes one
 *    Producer spec (RtpParameters: codec + RTX, header extensions, SSRCs or
 *    RIDs, MID, CNAME) per sending media section, and the answer (ICE-lite,
 *    recvonly, the chosen codec per section);
 *  - `subscriberOffer`: the server's offer on the subscriber PC from the
 *    Consumers' RtpParameters (mid 0 is the data channel, as in sfud);
 *  - `readSubscriberAnswer`: the client's DTLS parameters and which mids it
 *    accepted.
 */
import sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { h264Profile } from '../../src/signal/sdp/capabilities.js';
import type {
  DtlsParameters,
  IceCandidate,
  MediaKind,
  RtcpFeedback,
  RtpCapabilities,
  RtpCodecCapability,
  RtpCodecParameters,
  RtpEncodingParameters,
  RtpHeaderExtensionParameters,
  RtpParameters,
} from './mediasoup-types.js';

/** Header extensions a mediasoup 3 Producer understands (others make produce() throw). */
export const PRODUCER_EXTENSIONS: ReadonlySet<string> = new Set([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'urn:3gpp:video-orientation',
  'urn:ietf:params:rtp-hdrext:toffset',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
  'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension',
]);

/** Our side of one WebRtcTransport, as it goes into every description. */
export interface LocalTransport {
  ice: { usernameFragment: string; password: string };
  candidates: readonly IceCandidate[];
  fingerprints: readonly { algorithm: string; value: string }[];
  sctpPort?: number;
  maxMessageSize?: number;
}

/** One sending media section of a publisher offer, ready for `transport.produce()`. */
export interface PublisherTrack {
  mid: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  streamId: string;
  trackId: string;
}

export interface PublisherAnswer {
  sdp: string;
  tracks: PublisherTrack[];
  /** The client's DTLS parameters, with the role it takes (from its a=setup). */
  remoteDtls: DtlsParameters;
  /** The offer had a data channel section we accepted (the transport needs SCTP). */
  application: boolean;
  /** Mids of audio/video sections not sending (inactive, recvonly, rejected): their producers must go. */
  stopped: string[];
}

type Fmtp = Record<string, string | number>;

function fmtpOf(m: MediaDescription, pt: number): Fmtp {
  const line = m.fmtp.find((f) => f.payload === pt);
  if (!line) return {};
  const out: Fmtp = {};
  for (const part of line.config.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (!k) continue;
    const value = v.join('=');
    out[k] = /^\d+$/.test(value) && value.length < 10 ? Number(value) : value;
  }
  return out;
}

function fmtpLine(p: Fmtp | undefined): string {
  return Object.entries(p ?? {})
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    .join(';');
}

function param(p: Fmtp, key: string, fallback: string): string {
  return p[key] === undefined ? fallback : String(p[key]).toLowerCase();
}

/** Whether a codec the client offers can go into the router as `cap` (mediasoup's own matching rules, simplified). */
function codecMatches(cap: RtpCodecCapability, mimeType: string, clockRate: number, channels: number | undefined, p: Fmtp): boolean {
  if (cap.mimeType.toLowerCase() !== mimeType.toLowerCase() || cap.clockRate !== clockRate) return false;
  const c = cap.parameters ?? {};
  switch (mimeType.toLowerCase()) {
    case 'audio/opus':
      return (channels ?? 1) === (cap.channels ?? 1);
    case 'video/vp9':
      return param(p, 'profile-id', '0') === param(c, 'profile-id', '0');
    case 'video/h264': {
      const theirs = h264Profile(param(p, 'profile-level-id', '42000a'));
      return (
        theirs !== null &&
        theirs === h264Profile(param(c, 'profile-level-id', '42000a')) &&
        param(p, 'packetization-mode', '0') === param(c, 'packetization-mode', '0')
      );
    }
    default:
      return true;
  }
}

function feedbackOf(m: MediaDescription, pt: number): RtcpFeedback[] {
  return (m.rtcpFb ?? [])
    .filter((f) => Number(f.payload) === pt || f.payload === '*')
    .map((f) => (f.subtype ? { type: f.type, parameter: f.subtype } : { type: f.type }));
}

function sameFeedback(a: RtcpFeedback, b: RtcpFeedback): boolean {
  return a.type === b.type && (a.parameter ?? '') === (b.parameter ?? '');
}

/** The first offered codec (in the client's preference order) the router has, and its RTX payload type. */
function chooseCodec(m: MediaDescription, caps: RtpCapabilities): { codec: RtpCodecParameters; rtxPt: number | undefined } | undefined {
  const kind = m.type as MediaKind;
  const order = String(m.payloads ?? '')
    .split(' ')
    .map(Number)
    .filter((x) => Number.isInteger(x));
  for (const pt of order) {
    const rtp = m.rtp.find((r) => r.payload === pt);
    if (!rtp) continue;
    const mimeType = `${kind}/${rtp.codec}`;
    const p = fmtpOf(m, pt);
    const cap = (caps.codecs ?? []).find((c) => c.kind === kind && codecMatches(c, mimeType, rtp.rate ?? 0, rtp.encoding, p));
    if (!cap || /\/(rtx|red|ulpfec|flexfec-03|cn|telephone-event)$/i.test(mimeType)) continue;
    const supported = cap.rtcpFeedback ?? [];
    const codec: RtpCodecParameters = {
      mimeType: cap.mimeType,
      payloadType: pt,
      clockRate: cap.clockRate,
      parameters: p,
      rtcpFeedback: feedbackOf(m, pt).filter((f) => supported.some((s) => sameFeedback(s, f))),
    };
    if (cap.channels !== undefined) codec.channels = cap.channels;
    const rtx = m.rtp.find((r) => r.codec.toLowerCase() === 'rtx' && Number(fmtpOf(m, r.payload).apt) === pt);
    return { codec, rtxPt: rtx?.payload };
  }
  return undefined;
}

function ssrcAttr(m: MediaDescription, ssrc: number, attribute: string): string | undefined {
  return m.ssrcs?.find((s) => Number(s.id) === ssrc && s.attribute === attribute)?.value;
}

/** SSRCs (primary + RTX from FID groups) or RIDs (a=simulcast:send) of a sending section. */
function encodingsOf(m: MediaDescription): RtpEncodingParameters[] {
  const sendRids = (m.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id));
  if (sendRids.length > 0) return sendRids.map((rid) => ({ rid }));
  const fid = (m.ssrcGroups ?? []).filter((g) => g.semantics === 'FID').map((g) => g.ssrcs.split(' ').map(Number));
  const rtxOf = new Map(fid.map(([p, r]) => [p, r]));
  const repair = new Set(fid.map(([, r]) => r));
  const sim = (m.ssrcGroups ?? []).find((g) => g.semantics === 'SIM');
  const primaries = sim
    ? sim.ssrcs.split(' ').map(Number)
    : [...new Set((m.ssrcs ?? []).map((s) => Number(s.id)))].filter((s) => !repair.has(s)).slice(0, 1);
  return primaries.map((ssrc) => {
    const rtx = rtxOf.get(ssrc);
    return rtx === undefined ? { ssrc } : { ssrc, rtx: { ssrc: rtx } };
  });
}

function msidOf(m: MediaDescription): { streamId: string; trackId: string } | undefined {
  const a = m.msid?.[0];
  if (a?.id && a.appdata) return { streamId: a.id, trackId: a.appdata };
  const s = m.ssrcs?.find((x) => x.attribute === 'msid')?.value?.split(' ');
  if (s?.[0] && s[1]) return { streamId: s[0], trackId: s[1] };
  return undefined;
}

function remoteDtlsOf(desc: SessionDescription): DtlsParameters {
  const m = desc.media.find((x) => x.port !== 0 && (x.fingerprint ?? desc.fingerprint)) ?? desc.media[0];
  const fp = m?.fingerprint ?? desc.fingerprint;
  if (!fp) throw new Error('the description has no a=fingerprint');
  const setup = m?.setup ?? desc.setup ?? 'actpass';
  // actpass/active: the client takes the DTLS client role and we answer passive.
  return { role: setup === 'passive' ? 'server' : 'client', fingerprints: [{ algorithm: fp.type.toLowerCase(), value: fp.hash.toUpperCase() }] };
}

function transportLines(local: LocalTransport, setup: string, candidates: boolean): string[] {
  const fp = local.fingerprints.find((f) => f.algorithm === 'sha-256') ?? local.fingerprints[0];
  const out = [
    'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${local.ice.usernameFragment}`,
    `a=ice-pwd:${local.ice.password}`,
    `a=fingerprint:${fp?.algorithm ?? 'sha-256'} ${fp?.value ?? ''}`,
    `a=setup:${setup}`,
  ];
  if (candidates) {
    for (const c of local.candidates) {
      if (c.protocol !== 'udp') continue;
      out.push(`a=candidate:${c.foundation} 1 udp ${c.priority} ${c.address ?? c.ip} ${c.port} typ ${c.type}`);
    }
    out.push('a=end-of-candidates');
  }
  return out;
}

function codecLines(codecs: readonly RtpCodecParameters[]): string[] {
  const out: string[] = [];
  for (const c of codecs) {
    const name = c.mimeType.split('/')[1];
    out.push(`a=rtpmap:${c.payloadType} ${name}/${c.clockRate}${c.channels && c.channels > 1 ? `/${c.channels}` : ''}`);
    for (const fb of c.rtcpFeedback ?? []) out.push(`a=rtcp-fb:${c.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
    const fmtp = fmtpLine(c.parameters);
    if (fmtp) out.push(`a=fmtp:${c.payloadType} ${fmtp}`);
  }
  return out;
}

function sessionLines(sessionId: string, version: number, bundle: readonly string[]): string[] {
  const l = ['v=0', `o=- ${sessionId} ${version} IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=ice-lite'];
  if (bundle.length > 0) l.push(`a=group:BUNDLE ${bundle.join(' ')}`);
  l.push('a=msid-semantic: WMS *');
  return l;
}

function rejected(m: MediaDescription): string[] {
  const l = [`m=${m.type} 0 ${m.protocol} ${m.payloads ?? ''}`.trimEnd(), 'c=IN IP4 0.0.0.0'];
  if (m.mid !== undefined) l.push(`a=mid:${m.mid}`);
  if (m.type === 'audio' || m.type === 'video') l.push('a=inactive');
  return l;
}

/**
 * Answers a publisher-PC offer (join or renegotiation). Sections the router
 * cannot take are rejected (port 0); the data channel section is accepted
 * when `local.sctpPort` is set. Throws on an offer with no DTLS fingerprint.
 */
export function answerPublisherOffer(offerSdp: string, local: LocalTransport, caps: RtpCapabilities, sessionId: string, version: number): PublisherAnswer {
  const offer = sdpTransform.parse(offerSdp);
  const remoteDtls = remoteDtlsOf(offer);
  const ourSetup = remoteDtls.role === 'server' ? 'active' : 'passive';
  const offeredBundle = String(offer.groups?.find((g) => g.type === 'BUNDLE')?.mids ?? '').split(' ').filter(Boolean);
  const tracks: PublisherTrack[] = [];
  const stopped: string[] = [];
  const accepted: string[] = [];
  const body: string[] = [];
  let application = false;
  for (const m of offer.media) {
    // A section without a mid cannot be bundled: it is rejected like anything else we cannot take.
    const mid = m.mid === undefined ? '' : String(m.mid);
    const bundled = mid !== '' && (offeredBundle.length === 0 || offeredBundle.includes(mid));
    if (m.type === 'application') {
      if (m.port !== 0 && bundled && local.sctpPort !== undefined && m.protocol.includes('SCTP') && m.sctpPort !== undefined) {
        accepted.push(mid);
        application = true;
        body.push(
          `m=application 9 ${m.protocol} ${m.payloads ?? 'webrtc-datachannel'}`,
          ...transportLines(local, ourSetup, true),
          `a=mid:${mid}`,
          `a=sctp-port:${local.sctpPort}`,
          `a=max-message-size:${local.maxMessageSize ?? 262144}`,
        );
      } else body.push(...rejected(m));
      continue;
    }
    if (m.type !== 'audio' && m.type !== 'video') {
      body.push(...rejected(m));
      continue;
    }
    const sending = m.port !== 0 && bundled && (m.direction === 'sendonly' || m.direction === 'sendrecv' || m.direction === undefined);
    const chosen = sending ? chooseCodec(m, caps) : undefined;
    const encodings = chosen ? encodingsOf(m) : [];
    if (!chosen || encodings.length === 0) {
      if (mid !== '') stopped.push(mid);
      body.push(...rejected(m));
      continue;
    }
    const kind = m.type;
    const extensions: RtpHeaderExtensionParameters[] = (m.ext ?? [])
      .filter((e) => PRODUCER_EXTENSIONS.has(e.uri) && !e['encrypt-uri'])
      .map((e) => ({ uri: e.uri, id: e.value }));
    const codecs = [chosen.codec];
    if (chosen.rtxPt !== undefined) {
      codecs.push({ mimeType: `${kind}/rtx`, payloadType: chosen.rtxPt, clockRate: chosen.codec.clockRate, parameters: { apt: chosen.codec.payloadType }, rtcpFeedback: [] });
    }
    const firstSsrc = encodings[0]?.ssrc;
    const cname = (firstSsrc !== undefined ? ssrcAttr(m, firstSsrc, 'cname') : undefined) ?? m.ssrcs?.find((s) => s.attribute === 'cname')?.value;
    const rtpParameters: RtpParameters = {
      mid,
      codecs,
      headerExtensions: extensions,
      encodings,
      rtcp: { cname: cname ?? `cname-${mid}`, reducedSize: true },
    };
    const ids = msidOf(m) ?? { streamId: `stream-${sessionId}`, trackId: `${kind}-${mid}` };
    tracks.push({ mid, kind, rtpParameters, ...ids });
    accepted.push(mid);
    const l = [
      `m=${kind} 9 ${m.protocol} ${codecs.map((c) => c.payloadType).join(' ')}`,
      ...transportLines(local, ourSetup, true),
      `a=mid:${mid}`,
      ...extensions.map((e) => `a=extmap:${e.id} ${e.uri}`),
      'a=recvonly',
      'a=rtcp-mux',
    ];
    if (m.rtcpRsize) l.push('a=rtcp-rsize');
    l.push(...codecLines(codecs));
    const rids = encodings.filter((e) => e.rid !== undefined).map((e) => e.rid!);
    if (rids.length > 0) {
      for (const rid of rids) l.push(`a=rid:${rid} recv`);
      l.push(`a=simulcast:recv ${m.simulcast?.dir1 === 'send' ? m.simulcast.list1 : rids.join(';')}`);
    }
    body.push(...l);
  }
  const sdp = [...sessionLines(sessionId, version, accepted), ...body, ''].join('\r\n');
  return { sdp, tracks, remoteDtls, application, stopped };
}

/** One m-section of the subscriber PC, in mid order (mids are never reused). */
export type SubscriberSection =
  | { kind: 'application'; mid: string }
  | { kind: MediaKind; mid: string; consumer: { rtpParameters: RtpParameters; streamId: string; trackId: string } | undefined };

/** The server's offer on the subscriber PC; a section without a consumer is offered rejected (port 0). */
export function subscriberOffer(local: LocalTransport, sections: readonly SubscriberSection[], sessionId: string, version: number): string {
  const bundle: string[] = [];
  const body: string[] = [];
  for (const s of sections) {
    if (s.kind === 'application') {
      bundle.push(s.mid);
      body.push(
        'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
        ...transportLines(local, 'actpass', true),
        `a=mid:${s.mid}`,
        `a=sctp-port:${local.sctpPort ?? 5000}`,
        `a=max-message-size:${local.maxMessageSize ?? 262144}`,
      );
      continue;
    }
    const c = s.consumer;
    if (!c) {
      body.push(`m=${s.kind} 0 UDP/TLS/RTP/SAVPF ${s.kind === 'audio' ? 111 : 96}`, 'c=IN IP4 0.0.0.0', `a=mid:${s.mid}`, 'a=inactive');
      continue;
    }
    bundle.push(s.mid);
    const p = c.rtpParameters;
    const l = [
      `m=${s.kind} 9 UDP/TLS/RTP/SAVPF ${p.codecs.map((x) => x.payloadType).join(' ')}`,
      ...transportLines(local, 'actpass', true),
      `a=mid:${s.mid}`,
      ...(p.headerExtensions ?? []).map((e) => `a=extmap:${e.id} ${e.uri}`),
      'a=sendonly',
      `a=msid:${c.streamId} ${c.trackId}`,
      'a=rtcp-mux',
      'a=rtcp-rsize',
      ...codecLines(p.codecs),
    ];
    const cname = p.rtcp?.cname ?? c.streamId;
    for (const e of p.encodings ?? []) {
      if (e.ssrc === undefined) continue;
      if (e.rtx) l.push(`a=ssrc-group:FID ${e.ssrc} ${e.rtx.ssrc}`);
      for (const ssrc of e.rtx ? [e.ssrc, e.rtx.ssrc] : [e.ssrc]) {
        l.push(`a=ssrc:${ssrc} cname:${cname}`, `a=ssrc:${ssrc} msid:${c.streamId} ${c.trackId}`);
      }
    }
    body.push(...l);
  }
  return [...sessionLines(sessionId, version, bundle), ...body, ''].join('\r\n');
}

export interface SubscriberAnswer {
  remoteDtls: DtlsParameters;
  /** Mids the client accepted (port != 0 and not inactive). */
  accepted: Set<string>;
}

export function readSubscriberAnswer(sdp: string): SubscriberAnswer {
  const desc = sdpTransform.parse(sdp);
  const remoteDtls = remoteDtlsOf(desc);
  const setup = desc.media.find((m) => m.port !== 0)?.setup ?? desc.setup;
  if (setup !== 'active' && setup !== 'passive') throw new Error(`answer a=setup must be active or passive, not ${setup ?? '(missing)'}`);
  const accepted = new Set<string>();
  for (const m of desc.media) {
    if (m.port !== 0 && m.mid !== undefined && m.direction !== 'inactive') accepted.add(String(m.mid));
  }
  return { remoteDtls, accepted };
}
