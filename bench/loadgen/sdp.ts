/**
 * Hand-written minimal SDP for the load generator: the publisher's offer
 * (Opus audio + VP8 video, BUNDLE, rtcp-mux, one host candidate) and the
 * answer to sfud's subscriber offers (every sendonly section accepted
 * recvonly with the offered payload types and extension ids; the data channel
 * section accepted without ever starting SCTP, which is fine for load).
 * Offers from sfud are read with sfud's own parser.
 */
import { randomBytes } from 'node:crypto';
import { parseSessionDescription } from '../../src/signal/sdp/parse.js';
import type { ParsedSection, ParsedSessionDescription } from '../../src/signal/sdp/types.js';

export const EXT = {
  audioLevel: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  transportCc: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  mid: 'urn:ietf:params:rtp-hdrext:sdes:mid',
} as const;

/** Extension ids the publisher uses (Chromium's defaults). */
export const PUB_EXT_ID = { audioLevel: 1, transportCc: 3, mid: 4 } as const;
export const OPUS_PT = 111;
export const VP8_PT = 96;

export interface LocalIce {
  ufrag: string;
  pwd: string;
  fingerprint: string;
  port: number;
  /** Address of the host candidate (default 127.0.0.1). */
  host?: string;
}

export function newIceCredentials(): { ufrag: string; pwd: string } {
  return { ufrag: randomBytes(4).toString('hex'), pwd: randomBytes(16).toString('hex') };
}

function sessionLines(bundle: readonly string[], streamId?: string): string[] {
  const id = BigInt(`0x${randomBytes(7).toString('hex')}`).toString();
  const l = ['v=0', `o=- ${id} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0'];
  if (bundle.length > 0) l.push(`a=group:BUNDLE ${bundle.join(' ')}`);
  if (streamId) l.push(`a=msid-semantic: WMS ${streamId}`);
  return l;
}

function transport(local: LocalIce, setup: 'actpass' | 'active'): string[] {
  const host = local.host ?? '127.0.0.1';
  return [
    `c=IN IP4 ${host}`,
    `a=candidate:1 1 udp 2130706431 ${host} ${local.port} typ host generation 0`,
    // Every candidate is here (half trickle): full agents need not wait for more.
    'a=end-of-candidates',
    `a=ice-ufrag:${local.ufrag}`,
    `a=ice-pwd:${local.pwd}`,
    `a=fingerprint:sha-256 ${local.fingerprint}`,
    `a=setup:${setup}`,
  ];
}

export interface PublisherTracks {
  streamId: string;
  audio?: { ssrc: number; trackId: string };
  /** With more than one SSRC: SSRC-based simulcast (`a=ssrc-group:SIM`, low layer first). */
  video?: { ssrc: number; trackId: string; simulcast?: readonly number[] };
}

/** The publisher's join offer: sendonly Opus and/or VP8, mid 0 and 1. */
export function publisherOffer(local: LocalIce, tracks: PublisherTracks): string {
  const mids: string[] = [];
  const body: string[] = [];
  const cname = `bench-${tracks.streamId}`;
  if (tracks.audio) {
    const { ssrc, trackId } = tracks.audio;
    const mid = String(mids.length);
    mids.push(mid);
    body.push(
      `m=audio 9 UDP/TLS/RTP/SAVPF ${OPUS_PT}`,
      ...transport(local, 'actpass'),
      `a=mid:${mid}`,
      `a=extmap:${PUB_EXT_ID.audioLevel} ${EXT.audioLevel}`,
      `a=extmap:${PUB_EXT_ID.transportCc} ${EXT.transportCc}`,
      `a=extmap:${PUB_EXT_ID.mid} ${EXT.mid}`,
      'a=sendonly',
      `a=msid:${tracks.streamId} ${trackId}`,
      'a=rtcp-mux',
      `a=rtpmap:${OPUS_PT} opus/48000/2`,
      `a=rtcp-fb:${OPUS_PT} transport-cc`,
      `a=fmtp:${OPUS_PT} minptime=10;useinbandfec=1`,
      `a=ssrc:${ssrc} cname:${cname}`,
      `a=ssrc:${ssrc} msid:${tracks.streamId} ${trackId}`,
    );
  }
  if (tracks.video) {
    const { ssrc, trackId } = tracks.video;
    const mid = String(mids.length);
    mids.push(mid);
    body.push(
      `m=video 9 UDP/TLS/RTP/SAVPF ${VP8_PT}`,
      ...transport(local, 'actpass'),
      `a=mid:${mid}`,
      `a=extmap:${PUB_EXT_ID.transportCc} ${EXT.transportCc}`,
      `a=extmap:${PUB_EXT_ID.mid} ${EXT.mid}`,
      'a=sendonly',
      `a=msid:${tracks.streamId} ${trackId}`,
      'a=rtcp-mux',
      'a=rtcp-rsize',
      `a=rtpmap:${VP8_PT} VP8/90000`,
      `a=rtcp-fb:${VP8_PT} transport-cc`,
      `a=rtcp-fb:${VP8_PT} ccm fir`,
      `a=rtcp-fb:${VP8_PT} nack`,
      `a=rtcp-fb:${VP8_PT} nack pli`,
    );
    const ssrcs = tracks.video.simulcast && tracks.video.simulcast.length > 1 ? tracks.video.simulcast : [ssrc];
    if (ssrcs.length > 1) body.push(`a=ssrc-group:SIM ${ssrcs.join(' ')}`);
    for (const s of ssrcs) body.push(`a=ssrc:${s} cname:${cname}`, `a=ssrc:${s} msid:${tracks.streamId} ${trackId}`);
  }
  return [...sessionLines(mids, tracks.streamId), ...body, ''].join('\r\n');
}

/** A join offer that only carries a data channel section (what a subscribe-only ion-sdk-js client sends). */
export function dataOnlyOffer(local: LocalIce): string {
  return [
    ...sessionLines(['0']),
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    ...transport(local, 'actpass'),
    'a=mid:0',
    'a=sctp-port:5000',
    'a=max-message-size:262144',
    '',
  ].join('\r\n');
}

export interface RemoteTransport {
  address: string;
  port: number;
  ufrag: string;
  pwd: string;
  fingerprints: { algorithm: string; value: string }[];
  /** The remote is an ICE-lite agent (sfud): we must control. */
  iceLite: boolean;
  /** The remote's a=setup in its first bundled section. */
  setup?: 'actpass' | 'active' | 'passive' | 'holdconn';
}

/** Loopback only: the bench never sends anywhere else. */
function isLoopback(address: string): boolean {
  return address.startsWith('127.');
}

/**
 * ICE/DTLS parameters and one UDP host candidate of a remote description:
 * IPv4 loopback only, the first of `prefer` that is offered, else the first
 * loopback one (sfud: one host candidate; werift and Janus may list more).
 * `trickled` adds candidates that came outside the description.
 */
export function remoteTransport(
  desc: ParsedSessionDescription,
  prefer: readonly string[] = ['127.0.0.1'],
  trickled: readonly { address: string; port: number }[] = [],
): RemoteTransport {
  const s = desc.sections.find((x) => !x.rejected && x.ice && (desc.bundle === null || desc.bundle.includes(x.mid)));
  // sfud writes its candidates in the BUNDLE-tag section only; look everywhere.
  const cands: { address: string; port: number }[] = desc.sections
    .flatMap((x) => x.candidates)
    .filter((c) => c.protocol === 'udp' && c.component === 1 && isLoopback(c.address));
  cands.push(...trickled);
  let cand = cands[0];
  for (const p of prefer) {
    const c = cands.find((x) => x.address === p);
    if (c) {
      cand = c;
      break;
    }
  }
  if (!s?.ice || !cand) throw new Error('remote description has no usable IPv4 loopback UDP candidate');
  return {
    address: cand.address,
    port: cand.port,
    ufrag: s.ice.usernameFragment,
    pwd: s.ice.password,
    fingerprints: s.fingerprints.map((f) => ({ algorithm: f.algorithm, value: f.value })),
    iceLite: desc.iceLite,
    setup: s.setup,
  };
}

/** A remote description offered a candidate in SDP or not yet (it may trickle them). */
export function hasLoopbackCandidate(desc: ParsedSessionDescription): boolean {
  return desc.sections.some((x) => x.candidates.some((c) => c.protocol === 'udp' && c.component === 1 && isLoopback(c.address)));
}

/**
 * Our ICE and DTLS roles toward `remote` (RFC 8445 6.1.1, RFC 5763 5): an
 * ICE-lite remote is always controlled; otherwise the offerer controls. DTLS:
 * we are the server only when the remote said it is the client (a=setup:active);
 * to an actpass offer we answered active.
 */
export function rolesFor(remote: RemoteTransport, weOffered: boolean): { iceRole: 'controlling' | 'controlled'; dtlsRole: 'client' | 'server' } {
  const iceRole = remote.iceLite || weOffered ? 'controlling' : 'controlled';
  const dtlsRole = remote.setup === 'active' ? 'server' : 'client';
  return { iceRole, dtlsRole };
}

export { parseSessionDescription };
export type { ParsedSessionDescription };

function answerMedia(s: ParsedSection, local: LocalIce): string[] {
  const pts = s.codecs.map((c) => c.payloadType);
  const l = [`m=${s.media} 9 ${s.protocol} ${pts.join(' ')}`, ...transport(local, 'active'), `a=mid:${s.mid}`];
  for (const e of s.extensions) l.push(`a=extmap:${e.id} ${e.uri}`);
  l.push('a=recvonly', 'a=rtcp-mux');
  if (s.rtcpRsize) l.push('a=rtcp-rsize');
  for (const c of s.codecs) {
    l.push(`a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${c.channels !== undefined ? `/${c.channels}` : ''}`);
    for (const fb of c.rtcpFeedback) l.push(`a=rtcp-fb:${c.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
    const fmtp = Object.entries(c.params)
      .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
      .join(';');
    if (fmtp) l.push(`a=fmtp:${c.payloadType} ${fmtp}`);
  }
  return l;
}

/**
 * Answers one of sfud's subscriber offers: every sendonly media section
 * recvonly with all its payload types and extension ids, the data channel
 * section accepted (sctp-port 5000), everything else port 0.
 */
export function subscriberAnswer(offer: ParsedSessionDescription, local: LocalIce): string {
  const accepted: string[] = [];
  const body: string[] = [];
  for (const s of offer.sections) {
    const inBundle = offer.bundle === null || offer.bundle.includes(s.mid);
    if (!s.rejected && inBundle && s.kind === 'application') {
      accepted.push(s.mid);
      body.push(
        `m=application 9 ${s.protocol} ${s.formats.join(' ')}`,
        ...transport(local, 'active'),
        `a=mid:${s.mid}`,
        'a=sctp-port:5000',
        'a=max-message-size:262144',
      );
    } else if (!s.rejected && inBundle && (s.kind === 'audio' || s.kind === 'video') && s.direction === 'sendonly' && s.codecs.length > 0) {
      accepted.push(s.mid);
      body.push(...answerMedia(s, local));
    } else {
      body.push(`m=${s.media} 0 ${s.protocol} ${s.formats.join(' ')}`, 'c=IN IP4 0.0.0.0', `a=mid:${s.mid}`);
      if (s.kind === 'audio' || s.kind === 'video') body.push('a=inactive');
    }
  }
  return [...sessionLines(accepted), ...body, ''].join('\r\n');
}

/**
 * The transport parts of a trickled `candidate:...` string (RFC 8839 5.1),
 * or null when it is not a UDP IPv4 loopback host candidate we can use.
 */
export function parseTrickledCandidate(candidate: string): { address: string; port: number } | null {
  const f = candidate.replace(/^a=/, '').replace(/^candidate:/, '').trim().split(/\s+/);
  // foundation component transport priority address port "typ" type
  if (f.length < 8 || f[1] !== '1' || f[2]?.toLowerCase() !== 'udp') return null;
  const address = f[4]!;
  const port = Number(f[5]);
  if (!isLoopback(address) || !Number.isInteger(port) || port <= 0 || port > 65535) return null;
  return { address, port };
}
