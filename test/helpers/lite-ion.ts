// A packet-level ion-sfu participant: JSON-RPC join over `ws` with an SDP we
// write (our ufrag, our certificate's fingerprint, a=setup:active), then ICE
// + DTLS + SRTP with LiteClient on both transports. The hostile-input tests
// use it to put arbitrary (encrypted) RTP and RTCP onto a live, validated
// transport, which no browser or werift peer lets a test do.
import { generateCertificate, type DtlsCertificate } from '../../src/dtls/certificate.js';
import { IonRpc, type Json } from './ion-rpc.js';
import { LiteClient, type LiteRemote } from './lite-client.js';

export interface LiteIonPeer {
  rpc: IonRpc;
  pub: LiteClient;
  /** Set with `subscribe`: the subscriber transport, answered and connected. */
  sub: LiteClient | undefined;
  /** The SSRC our publisher SDP announced for its VP8 track. */
  ssrc: number;
  /** The SSRCs sfud's subscriber offer announced (streams we receive). */
  subscribedSsrcs: number[];
  close(): void;
}

const PWD = 'hostilehostilehostile00';

function remoteOf(sdp: string): LiteRemote {
  const get = (re: RegExp): string => {
    const m = re.exec(sdp);
    if (!m?.[1]) throw new Error(`no ${String(re)} in ${sdp.slice(0, 200)}`);
    return m[1];
  };
  return {
    address: '127.0.0.1',
    port: Number(get(/^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/m)),
    ufrag: get(/^a=ice-ufrag:(\S+)/m),
    pwd: get(/^a=ice-pwd:(\S+)/m),
    fingerprints: [{ algorithm: 'sha-256', value: get(/^a=fingerprint:sha-256 (\S+)/m) }],
  };
}

function transportLines(ufrag: string, cert: DtlsCertificate): string {
  return `c=IN IP4 127.0.0.1\r\na=ice-ufrag:${ufrag}\r\na=ice-pwd:${PWD}\r\na=fingerprint:sha-256 ${cert.fingerprint}\r\na=setup:active\r\n`;
}

/** A sendonly VP8 publisher offer (mid 0, SSRC `ssrc`, MID header extension id 4). */
function publisherOffer(ufrag: string, cert: DtlsCertificate, ssrc: number, streamId: string): string {
  return (
    'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n' +
    'm=video 9 UDP/TLS/RTP/SAVPF 96\r\n' +
    transportLines(ufrag, cert) +
    'a=mid:0\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendonly\r\n' +
    `a=msid:${streamId} ${streamId}-video\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n` +
    'a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n' +
    `a=ssrc:${ssrc} cname:${streamId}\r\n`
  );
}

/** Answers sfud's subscriber offer: every section accepted, recvonly, with our transport. */
function subscriberAnswer(offer: string, ufrag: string, cert: DtlsCertificate): string {
  return offer
    .split('\r\n')
    .filter((l) => !/^a=(candidate|ice-ufrag|ice-pwd|fingerprint|setup|end-of-candidates|ssrc|ssrc-group|msid|ice-lite)/.test(l) && !l.startsWith('c='))
    .map((l) => (l === 'a=sendonly' ? 'a=recvonly' : l))
    .join('\r\n')
    .replace(/^(m=.*)$/gm, (m) => `${m}\r\n${transportLines(ufrag, cert).trimEnd()}`);
}

/**
 * Joins `sid` as `uid` with a VP8 publisher (SSRC `ssrc`), connects it, and
 * with `subscribe` answers sfud's first subscriber offer and connects that
 * transport too.
 */
export async function joinLitePeer(url: string, sid: string, uid: string, opts: { ssrc: number; subscribe?: boolean }): Promise<LiteIonPeer> {
  const cert = await generateCertificate();
  const rpc = await IonRpc.connect(url);
  let offerSeen: (sdp: string) => void = () => {};
  const subOffer = new Promise<string>((resolve) => (offerSeen = resolve));
  rpc.onNotification = (method, params) => {
    if (method === 'offer') offerSeen(String(params.sdp));
  };
  const pubUfrag = LiteClient.newUfrag();
  const answer = (await rpc.call('join', {
    sid,
    uid,
    offer: { type: 'offer', sdp: publisherOffer(pubUfrag, cert, opts.ssrc, `${uid}-stream`) },
    ...(opts.subscribe ? {} : { config: { NoSubscribe: true } }),
  })) as Json;
  const pub = await LiteClient.connectTo(remoteOf(String(answer.sdp)), cert, pubUfrag);
  let sub: LiteClient | undefined;
  const subscribedSsrcs: number[] = [];
  if (opts.subscribe) {
    const offer = await subOffer;
    for (const m of offer.matchAll(/^a=ssrc:(\d+) /gm)) if (!subscribedSsrcs.includes(Number(m[1]))) subscribedSsrcs.push(Number(m[1]));
    const subUfrag = LiteClient.newUfrag();
    rpc.notify('answer', { desc: { type: 'answer', sdp: subscriberAnswer(offer, subUfrag, cert) } });
    sub = await LiteClient.connectTo(remoteOf(offer), cert, subUfrag);
  }
  return {
    rpc,
    pub,
    sub,
    ssrc: opts.ssrc,
    subscribedSsrcs,
    close: () => {
      pub.close();
      sub?.close();
      rpc.close();
    },
  };
}
