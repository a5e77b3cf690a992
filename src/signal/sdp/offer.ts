/**
 * The subscriber side: sfud offers (JSEP RFC 8829 section 5.2), the client
 * answers. m-lines keep a stable order across renegotiations (JSEP 5.2.2): a
 * removed track's m-line stays, inactive with port 0, until the caller reuses
 * the slot (with a new mid, as JSEP 5.2.2 recycling wants).
 *
 * ion-sdk-js keys remote streams on the msid stream id, so every sending
 * section carries `a=msid:<streamId> <trackId>` and the ssrc-level cname/msid
 * lines (plus `a=ssrc-group:FID` when RTX is used), as pion writes them.
 */
import * as sdpTransform from 'sdp-transform';
import { SfuError } from '../../errors.js';
import type { DtlsParameters, RemoteDtlsRole } from '../../transport/webrtc-transport.js';
import { EXT_URI } from '../../rtp/extensions.js';
import type { CodecCapability, MediaKind, RtcpFeedback } from './capabilities.js';
import { SDP_ERROR, parseSessionDescription, sdpError } from './parse.js';
import { SFU_MAX_MESSAGE_SIZE, SFU_SCTP_PORT, type NegotiatedFeedback } from './answer.js';
import { fmtpConfig, rtcpFbLines, sessionHeader, transportLines, type LocalTransportDescription, type SdpMedia } from './write.js';
import type { Direction, Fingerprint, ParsedSection, SectionKind } from './types.js';

export interface SubscriberCodec {
  /** Router-space payload type written in the offer. */
  payloadType: number;
  capability: CodecCapability;
  rtxPayloadType?: number;
}

export interface SubscriberMediaSection {
  kind: MediaKind;
  mid: string;
  codecs: readonly SubscriberCodec[];
  /** Header extension id -> URI, as the SFU will write them. */
  extensions: Readonly<Record<number, string>>;
  ssrc: number;
  rtxSsrc?: number;
  cname: string;
  streamId: string;
  trackId: string;
  /** inactive: a removed track whose m-line is kept (port 0) for reuse. */
  direction: 'sendonly' | 'inactive';
}

/** The data channel section (always present: it carries the `ion-sfu` API channel). */
export interface SubscriberDataSection {
  kind: 'application';
  mid: string;
}

export type SubscriberSection = SubscriberMediaSection | SubscriberDataSection;

export interface SubscriberOfferInput extends LocalTransportDescription {
  /** o= session id, decimal digits, fixed for the connection. */
  sessionId: string;
  /** o= session version: must increase with every offer on the connection. */
  sessionVersion: number;
  /** All m-sections in their stable order. */
  sections: readonly SubscriberSection[];
}

const TOKEN = /^[\x21-\x7e]{1,256}$/;
const MID = /^[A-Za-z0-9_\-.]{1,16}$/;

function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new SfuError(SDP_ERROR, `subscriber offer: ${message}`);
}

function validateInput(input: SubscriberOfferInput): void {
  check(/^\d{1,19}$/.test(input.sessionId), 'sessionId must be decimal digits');
  check(Number.isSafeInteger(input.sessionVersion) && input.sessionVersion >= 0, 'sessionVersion must be a non-negative integer');
  check(input.sections.filter((s) => s.kind === 'application').length === 1, 'exactly one application section is required');
  const mids = new Set<string>();
  for (const s of input.sections) {
    check(MID.test(s.mid), `bad mid ${JSON.stringify(s.mid)}`);
    check(!mids.has(s.mid), `duplicate mid ${s.mid}`);
    mids.add(s.mid);
    if (s.kind === 'application') continue;
    check(s.direction === 'inactive' || s.codecs.length > 0, `mid ${s.mid}: a sending section needs a codec`);
    const pts = new Set<number>();
    for (const c of s.codecs) {
      for (const pt of c.rtxPayloadType === undefined ? [c.payloadType] : [c.payloadType, c.rtxPayloadType]) {
        check(Number.isInteger(pt) && pt >= 0 && pt <= 127 && !pts.has(pt), `mid ${s.mid}: bad or duplicate payload type ${pt}`);
        pts.add(pt);
      }
      check(c.capability.kind === s.kind, `mid ${s.mid}: ${c.capability.mimeType} in a ${s.kind} section`);
    }
    for (const id of Object.keys(s.extensions)) {
      const n = Number(id);
      // One-byte header extensions (RFC 8285 4.2): ids 1-14.
      check(Number.isInteger(n) && n >= 1 && n <= 14, `mid ${s.mid}: extension id ${id} outside 1-14`);
    }
    if (s.direction === 'sendonly') {
      for (const ssrc of s.rtxSsrc === undefined ? [s.ssrc] : [s.ssrc, s.rtxSsrc]) {
        check(Number.isInteger(ssrc) && ssrc >= 0 && ssrc <= 0xffffffff, `mid ${s.mid}: bad SSRC ${ssrc}`);
      }
      check(TOKEN.test(s.cname) && TOKEN.test(s.streamId) && TOKEN.test(s.trackId), `mid ${s.mid}: cname, streamId and trackId must be non-empty tokens`);
    }
  }
}

function writeMedia(s: SubscriberMediaSection): SdpMedia {
  const twcc = Object.values(s.extensions).includes(EXT_URI.transportWideCc);
  const rtp: SdpMedia['rtp'] = [];
  const fmtp: SdpMedia['fmtp'] = [];
  const rtcpFb: NonNullable<SdpMedia['rtcpFb']> = [];
  const pts: number[] = [];
  for (const c of s.codecs) {
    const cap = c.capability;
    pts.push(c.payloadType);
    const entry: SdpMedia['rtp'][number] = { payload: c.payloadType, codec: cap.name, rate: cap.clockRate };
    if (cap.channels !== undefined) entry.encoding = cap.channels;
    rtp.push(entry);
    const config = fmtpConfig(cap.parameters);
    if (config) fmtp.push({ payload: c.payloadType, config });
    rtcpFb.push(...rtcpFbLines(c.payloadType, cap.rtcpFeedback.filter((fb) => twcc || fb.type !== 'transport-cc')));
    if (c.rtxPayloadType !== undefined) {
      pts.push(c.rtxPayloadType);
      rtp.push({ payload: c.rtxPayloadType, codec: 'rtx', rate: cap.clockRate });
      fmtp.push({ payload: c.rtxPayloadType, config: `apt=${c.payloadType}` });
    }
  }
  const m: SdpMedia = {
    type: s.kind,
    port: 9,
    protocol: 'UDP/TLS/RTP/SAVPF',
    payloads: pts.length > 0 ? pts.join(' ') : '0',
    rtp,
    fmtp,
    mid: s.mid,
  };
  if (rtcpFb.length > 0) m.rtcpFb = rtcpFb;
  const ext = Object.entries(s.extensions).map(([id, uri]) => ({ value: Number(id), uri }));
  if (ext.length > 0) m.ext = ext.sort((a, b) => a.value - b.value);
  m.rtcpMux = 'rtcp-mux';
  m.rtcpRsize = 'rtcp-rsize';
  if (s.direction === 'inactive') {
    m.port = 0;
    m.direction = 'inactive';
    return m;
  }
  m.direction = 'sendonly';
  m.msid = [{ id: s.streamId, appdata: s.trackId }];
  const msidValue = `${s.streamId} ${s.trackId}`;
  const ssrcs = [s.ssrc];
  const rtxUsed = s.rtxSsrc !== undefined && s.codecs.some((c) => c.rtxPayloadType !== undefined);
  if (rtxUsed && s.rtxSsrc !== undefined) {
    ssrcs.push(s.rtxSsrc);
    m.ssrcGroups = [{ semantics: 'FID', ssrcs: `${s.ssrc} ${s.rtxSsrc}` }];
  }
  m.ssrcs = ssrcs.flatMap((id) => [
    { id, attribute: 'cname', value: s.cname },
    { id, attribute: 'msid', value: msidValue },
  ]);
  return m;
}

/** Builds the SFU's offer for a subscriber connection. Throws `SfuError` (ERR_SFUD_SDP) on inconsistent input. */
export function createSubscriberOffer(input: SubscriberOfferInput): string {
  validateInput(input);
  const active = input.sections.filter((s) => s.kind === 'application' || s.direction === 'sendonly');
  const tagMid = active[0]?.mid;
  const media = input.sections.map((s): SdpMedia => {
    const withTransport = s.kind === 'application' || s.direction === 'sendonly';
    const m: SdpMedia =
      s.kind === 'application'
        ? {
            type: 'application',
            port: 9,
            protocol: 'UDP/DTLS/SCTP',
            payloads: 'webrtc-datachannel',
            rtp: [],
            fmtp: [],
            mid: s.mid,
            sctpPort: SFU_SCTP_PORT,
            maxMessageSize: SFU_MAX_MESSAGE_SIZE,
          }
        : writeMedia(s);
    return withTransport ? { ...m, ...transportLines(input, 'actpass', s.mid === tagMid) } : { ...m, connection: { version: 4, ip: '0.0.0.0' } };
  });
  const desc: sdpTransform.SessionDescription = {
    ...sessionHeader(input.sessionId, input.sessionVersion),
    icelite: 'ice-lite',
    groups: [{ type: 'BUNDLE', mids: active.map((s) => s.mid).join(' ') }],
    msidSemantic: { semantic: 'WMS', token: '*' },
    // Header blocks are forwarded in the form the publisher chose; a Dependency Descriptor
    // carrying its structure outgrows the one-byte form (RFC 8285 4.3, 6).
    extmapAllowMixed: 'extmap-allow-mixed',
    media,
  };
  return sdpTransform.write(desc);
}

export interface SubscriberAnswerSection {
  mid: string;
  kind: SectionKind;
  /** The client takes this section (port != 0, and for media it receives). */
  accepted: boolean;
  direction: Direction;
  /** Primary payload types the client kept, in its order (router space: ours). */
  payloadTypes: number[];
  /** RTX payload types the client kept. */
  rtxPayloadTypes: number[];
  /** Extension id -> URI the client accepted (always ours). */
  extensions: Record<number, string>;
  /** Feedback the client kept, per payload type. */
  rtcpFeedback: Record<number, RtcpFeedback[]>;
  feedback: NegotiatedFeedback;
}

export interface SubscriberAnswer {
  /** The client's a=setup: active (it is the DTLS client) or passive. */
  setup: 'active' | 'passive';
  dtlsParameters: DtlsParameters;
  fingerprints: Fingerprint[];
  ice: { usernameFragment: string; password: string };
  sctp?: { port: number; maxMessageSize: number };
  sections: SubscriberAnswerSection[];
}

function answerSection(a: ParsedSection, o: SubscriberSection): SubscriberAnswerSection {
  const where = `subscriber answer m-section ${a.index} (mid ${o.mid})`;
  if (a.mid !== o.mid) throw sdpError(`${where}: answer has mid ${a.mid || '(none)'}`);
  if (a.kind !== o.kind) throw sdpError(`${where}: answer kind ${a.media} for a ${o.kind} offer`);
  const out: SubscriberAnswerSection = {
    mid: o.mid,
    kind: a.kind,
    accepted: !a.rejected,
    direction: a.direction,
    payloadTypes: [],
    rtxPayloadTypes: [],
    extensions: {},
    rtcpFeedback: {},
    feedback: { transportCc: false, remb: false, nack: false, pli: false, fir: false },
  };
  if (o.kind === 'application' || a.rejected) return out;
  if (o.direction === 'inactive') {
    out.accepted = false;
    return out;
  }
  if (a.direction === 'sendonly' || a.direction === 'inactive') out.accepted = false;
  for (const c of a.codecs) {
    const primary = o.codecs.find((x) => x.payloadType === c.payloadType);
    const rtxOf = o.codecs.find((x) => x.rtxPayloadType === c.payloadType);
    if (primary) {
      if (c.name.toLowerCase() !== primary.capability.name.toLowerCase()) throw sdpError(`${where}: payload type ${c.payloadType} changed to ${c.name}`);
      out.payloadTypes.push(c.payloadType);
      out.rtcpFeedback[c.payloadType] = c.rtcpFeedback;
    } else if (rtxOf) {
      out.rtxPayloadTypes.push(c.payloadType);
    } else {
      throw sdpError(`${where}: answer uses payload type ${c.payloadType} that was not offered`);
    }
  }
  if (out.accepted && out.payloadTypes.length === 0) throw sdpError(`${where}: accepted without a codec`);
  for (const e of a.extensions) {
    const ours = o.extensions[e.id];
    if (ours !== e.uri) throw sdpError(`${where}: a=extmap:${e.id} ${e.uri} does not match the offer`);
    out.extensions[e.id] = e.uri;
  }
  const fbs = Object.values(out.rtcpFeedback).flat();
  const has = (type: string, parameter?: string) => fbs.some((f) => f.type === type && (f.parameter ?? '') === (parameter ?? ''));
  out.feedback = {
    transportCc: has('transport-cc') && Object.values(out.extensions).includes(EXT_URI.transportWideCc),
    remb: has('goog-remb'),
    nack: has('nack'),
    pli: has('nack', 'pli'),
    fir: has('ccm', 'fir'),
  };
  return out;
}

/**
 * Reads the client's answer to `offered` (the input of `createSubscriberOffer`):
 * what it accepted per section, and its transport parameters. Throws only
 * `SfuError` (ERR_SFUD_SDP) when the answer does not fit the offer.
 */
export function parseSubscriberAnswer(answer: string, offered: SubscriberOfferInput): SubscriberAnswer {
  const desc = parseSessionDescription(answer);
  try {
    if (desc.sections.length !== offered.sections.length) {
      throw sdpError(`subscriber answer has ${desc.sections.length} m-sections for ${offered.sections.length} offered`);
    }
    const sections = desc.sections.map((a, i) => answerSection(a, offered.sections[i]!));
    const tag = desc.sections.find((s) => !s.rejected && (desc.bundle === null || desc.bundle.includes(s.mid)));
    if (!tag?.ice) throw sdpError('subscriber answer accepts no section');
    if (tag.setup !== 'active' && tag.setup !== 'passive') {
      throw sdpError(`subscriber answer a=setup must be active or passive, not ${tag.setup ?? '(missing)'}`);
    }
    const role: RemoteDtlsRole = tag.setup === 'active' ? 'client' : 'server';
    const out: SubscriberAnswer = {
      setup: tag.setup,
      dtlsParameters: { role, fingerprints: tag.fingerprints.map((f) => ({ ...f })) },
      fingerprints: tag.fingerprints,
      ice: { usernameFragment: tag.ice.usernameFragment, password: tag.ice.password },
      sections,
    };
    const app = desc.sections.find((s) => s.kind === 'application' && !s.rejected);
    if (app) out.sctp = { port: app.sctpPort ?? 5000, maxMessageSize: app.maxMessageSize ?? 65536 };
    return out;
  } catch (err) {
    if (err instanceof SfuError) throw err;
    throw sdpError(`cannot read the subscriber answer: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}
