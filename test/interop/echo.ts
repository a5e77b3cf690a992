// Shared by the transport interop tests: a minimal SDP answer built from an
// sfud WebRtcTransport's parameters (the real negotiation lives in
// src/signal), and an echo that sends every RTP packet the peer sends back to
// it under the SSRC announced in the answer.
import * as sdpTransform from 'sdp-transform';
import { RtpView } from '../../src/rtp/rtp.js';
import type { WebRtcTransport, RemoteDtlsRole } from '../../src/transport/webrtc-transport.js';
import type { DataChannel } from '../../src/sctp/index.js';

export interface EchoPlan {
  answer: string;
  /** Per m-line kind: the payload type we chose and the SSRC we send with. */
  streams: { kind: 'audio' | 'video'; mid: string; pt: number; ssrc: number }[];
}

type Media = sdpTransform.MediaDescription;

function pickCodec(m: Media, name: string): number | undefined {
  return m.rtp.find((r) => r.codec.toLowerCase() === name)?.payload;
}

/** Reads the offer, hands its DTLS/ICE/SCTP parameters to `transport.connect()`, and returns an answer. */
export function answerOffer(offerSdp: string, transport: WebRtcTransport, opts: { videoCodec?: string } = {}): EchoPlan {
  const offer = sdpTransform.parse(offerSdp);
  const first = offer.media[0]!;
  const fp = first.fingerprint ?? offer.fingerprint!;
  const setup = (first.setup ?? 'actpass') as string;
  const remoteRole: RemoteDtlsRole = setup === 'active' ? 'client' : setup === 'passive' ? 'server' : 'auto';
  const ufrag = String(first.iceUfrag ?? offer.iceUfrag);
  const sctpMedia = offer.media.find((m) => m.type === 'application');
  transport.connect({
    dtlsParameters: { role: remoteRole, fingerprints: [{ algorithm: fp.type, value: fp.hash }] },
    iceUsernameFragment: ufrag,
    sctp: sctpMedia ? { port: Number(sctpMedia.sctpPort ?? 5000), maxMessageSize: Number(sctpMedia.maxMessageSize ?? 65536) } : undefined,
  });

  const ice = transport.iceParameters;
  const ourFp = transport.dtlsParameters.fingerprints[0]!;
  const streams: EchoPlan['streams'] = [];
  let ssrc = 0x5f0000;
  const media: Media[] = offer.media.map((m) => {
    const mid = String(m.mid);
    const base = {
      type: m.type,
      port: 9,
      protocol: m.protocol,
      mid,
      iceUfrag: ice.usernameFragment,
      icePwd: ice.password,
      fingerprint: { type: ourFp.algorithm, hash: ourFp.value },
      setup: remoteRole === 'server' ? 'active' : 'passive',
      connection: { version: 4, ip: '0.0.0.0' },
      candidates: transport.iceCandidates.map((c) => ({
        foundation: c.foundation,
        component: 1,
        transport: 'udp',
        priority: c.priority,
        ip: c.address,
        port: c.port,
        type: c.type,
      })),
      endOfCandidates: 'end-of-candidates',
    };
    if (m.type === 'application') {
      return { ...base, payloads: m.payloads, sctpPort: 5000, maxMessageSize: 262144 } as Media;
    }
    const codecName = m.type === 'audio' ? 'opus' : (opts.videoCodec ?? 'vp8');
    const pt = pickCodec(m, codecName);
    if (pt === undefined) throw new Error(`offer has no ${codecName} for mid ${mid}`);
    const rtp = m.rtp.filter((r) => r.payload === pt);
    const fmtp = (m.fmtp ?? []).filter((f) => f.payload === pt);
    const rtcpFb = (m.rtcpFb ?? []).filter((f) => Number(f.payload) === pt && ['nack', 'ccm', 'goog-remb'].includes(f.type));
    ssrc++;
    streams.push({ kind: m.type as 'audio' | 'video', mid, pt, ssrc });
    return {
      ...base,
      payloads: String(pt),
      rtp,
      fmtp,
      rtcpFb,
      rtcpMux: 'rtcp-mux',
      direction: 'sendrecv',
      msid: [{ id: 'echo', appdata: `echo-${mid}` }],
      ssrcs: [
        { id: ssrc, attribute: 'cname', value: 'sfud-echo' },
        { id: ssrc, attribute: 'msid', value: `echo echo-${mid}` },
      ],
    } as Media;
  });
  const answer = sdpTransform.write({
    version: 0,
    origin: { username: '-', sessionId: '1', sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: [{ type: 'BUNDLE', mids: media.map((m) => String(m.mid)).join(' ') }],
    msidSemantic: { semantic: 'WMS', token: '*' },
    media,
  } as sdpTransform.SessionDescription);
  return { answer, streams };
}

/**
 * Echoes the peer's RTP back under our SSRCs (matched by payload type), and
 * answers the peer's PLI on our stream with a PLI on its own stream, so its
 * decoder gets a keyframe when it asks.
 */
export function startEcho(transport: WebRtcTransport, plan: EchoPlan) {
  const view = new RtpView();
  const counts = { rtpIn: 0, rtpOut: 0, rtcpIn: 0, pliOut: 0 };
  const peerSsrcByPt = new Map<number, number>();
  const ourSsrcByPt = new Map(plan.streams.map((s) => [s.pt, s.ssrc]));
  transport.onRtp = (buf, len) => {
    if (!view.reset(buf, 0, len)) return;
    counts.rtpIn++;
    const ours = ourSsrcByPt.get(view.payloadType);
    if (ours === undefined) return;
    peerSsrcByPt.set(view.payloadType, view.ssrc);
    view.ssrc = ours;
    if (transport.sendRtp(buf, 0, len)) counts.rtpOut++;
  };
  transport.onRtcp = (buf, len) => {
    counts.rtcpIn++;
    // Walk the compound for PLI (PT 206, FMT 1) or FIR (206, FMT 4) and ask the peer for a keyframe.
    for (let p = 0; p + 4 <= len; ) {
      const fmt = buf[p]! & 0x1f;
      const pt = buf[p + 1]!;
      const words = buf.readUInt16BE(p + 2);
      if (pt === 206 && (fmt === 1 || fmt === 4)) {
        for (const [, peerSsrc] of peerSsrcByPt) {
          const pli = Buffer.alloc(12);
          pli[0] = 0x81;
          pli[1] = 206;
          pli.writeUInt16BE(2, 2);
          pli.writeUInt32BE(1, 4);
          pli.writeUInt32BE(peerSsrc, 8);
          if (transport.sendRtcp(pli, 0, 12)) counts.pliOut++;
        }
        break;
      }
      p += (words + 1) * 4;
    }
  };
  return counts;
}

/** Replies "echo: <msg>" on every channel the peer opens. */
export function echoDataChannels(transport: WebRtcTransport): DataChannel[] {
  const seen: DataChannel[] = [];
  transport.on('datachannel', (ch) => {
    seen.push(ch);
    ch.on('message', (m: string | Buffer) => ch.send(typeof m === 'string' ? `echo: ${m}` : Buffer.concat([Buffer.from('echo: '), m])));
  });
  return seen;
}

/** Resolves when `check()` is true, polling every 50 ms; rejects after `ms`. */
export async function waitFor(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Tests keep every datagram on loopback: sfud answers ICE checks only from these addresses. */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}
