// createPublisherAnswer against every captured offer in test/fixtures/sdp/
// (how they were captured: see the header of test/unit/sdp-parse.test.ts),
// re-parsing each answer with sdp-transform and with our own parser; plus
// hand-written offers for codec matching (H.264 profiles, VP9 profile-id),
// rejections and DTLS roles.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import * as sdpTransform from 'sdp-transform';
import {
  ROUTER_CAPABILITIES,
  codecMatches,
  createPublisherAnswer,
  h264Profile,
  parseSessionDescription,
  type PublisherAnswerLocal,
} from '../../src/signal/sdp/index.js';
import { EXT_URI } from '../../src/rtp/extensions.js';
import { FIXTURES } from '../helpers/paths.js';

const dir = `${FIXTURES}sdp/`;
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.sdp') && !f.includes('answer'));

export const LOCAL: PublisherAnswerLocal = {
  ice: { usernameFragment: 'sfudUfrag', password: 'sfudPasswordSfudPassword' },
  candidates: [{ foundation: 'udp4', priority: 2130706431, address: '127.0.0.1', port: 5000, protocol: 'udp', type: 'host' }],
  fingerprint: { algorithm: 'sha-256', value: Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':') },
  sessionId: '4242',
  sessionVersion: 7,
};

t.test('h264Profile and codecMatches follow RFC 6184 profiles, any level', async (t) => {
  t.equal(h264Profile('42e01f'), 'constrained-baseline');
  t.equal(h264Profile('42e034'), 'constrained-baseline');
  t.equal(h264Profile('4d801f'), 'constrained-baseline', 'Main with constraint_set0');
  t.equal(h264Profile('42001f'), 'baseline');
  t.equal(h264Profile('4d001f'), 'main');
  t.equal(h264Profile('640c1f'), 'constrained-high');
  t.equal(h264Profile('640032'), 'high');
  t.equal(h264Profile('zz0000'), null);
  const cb = ROUTER_CAPABILITIES.codecs.find((c) => c.parameters['profile-level-id'] === '42e01f')!;
  const base = { name: 'H264', clockRate: 90000 };
  t.ok(codecMatches(cb, { ...base, params: { 'profile-level-id': '42e033', 'packetization-mode': '1' } }));
  t.notOk(codecMatches(cb, { ...base, params: { 'profile-level-id': '42e01f', 'packetization-mode': '0' } }), 'packetization-mode must match');
  t.notOk(codecMatches(cb, { ...base, params: { 'profile-level-id': '4d001f', 'packetization-mode': '1' } }));
  const vp9p2 = ROUTER_CAPABILITIES.codecs.find((c) => c.name === 'VP9' && c.parameters['profile-id'] === '2')!;
  t.notOk(codecMatches(vp9p2, { name: 'VP9', clockRate: 90000, params: {} }), 'VP9 profile-id defaults to 0');
  const opus = ROUTER_CAPABILITIES.codecs[0]!;
  t.ok(codecMatches(opus, { name: 'OPUS', clockRate: 48000, channels: 2, params: {} }), 'names compare case-insensitively');
  t.notOk(codecMatches(opus, { name: 'opus', clockRate: 48000, params: {} }));
});

for (const name of fixtures) {
  t.test(`answer to ${name}`, async (t) => {
    const offer = parseSessionDescription(readFileSync(dir + name, 'utf8'));
    const { sdp, sections, transport } = createPublisherAnswer(offer, LOCAL);
    // sdp-transform round trip, and our own parser accepts our answer.
    const raw = sdpTransform.parse(sdp);
    t.equal(raw.media.length, offer.sections.length, 'one m-section per offered section');
    t.equal(raw.icelite, 'ice-lite');
    const answer = parseSessionDescription(sdp);
    t.ok(answer.iceLite);
    t.equal(answer.msidSemantic?.token, '*');
    const accepted = sections.filter((n) => n.accepted);
    t.same(answer.bundle, accepted.map((n) => n.mid), 'BUNDLE lists the accepted mids');
    t.ok(transport, 'remote transport parameters');
    t.same(transport!.dtlsParameters.role, 'auto', 'the offer is actpass');
    t.equal(transport!.iceUsernameFragment, offer.sections[0]!.ice!.usernameFragment);
    for (const [i, a] of answer.sections.entries()) {
      const o = offer.sections[i]!;
      const n = sections[i]!;
      t.equal(a.mid, o.mid, `mid ${o.mid} kept`);
      t.equal(a.rejected, !n.accepted);
      if (!n.accepted) continue;
      t.equal(a.setup, 'passive');
      t.same(a.fingerprints, [LOCAL.fingerprint]);
      t.equal(a.ice?.usernameFragment, LOCAL.ice.usernameFragment);
      t.equal(a.candidates.length, i === accepted[0]!.index ? 1 : 0, 'candidates only in the first bundled section');
      if (a.kind === 'application') {
        t.equal(a.sctpPort, 5000);
        t.equal(a.maxMessageSize, 262144);
        t.ok(n.sctp);
        continue;
      }
      t.equal(a.direction, 'recvonly');
      t.ok(a.rtcpMux);
      t.equal(a.rtcpRsize, o.rtcpRsize);
      // Codecs: a subset of the offer, same payload types and order, plus their RTX.
      const offeredPts = o.codecs.map((c) => c.payloadType);
      const primaries = a.codecs.filter((c) => c.apt === undefined).map((c) => c.payloadType);
      t.same(primaries, n.codecs.map((c) => c.payloadType));
      t.same(primaries, offeredPts.filter((pt) => primaries.includes(pt)), 'offer order kept');
      for (const c of a.codecs) {
        const oc = o.codecs.find((x) => x.payloadType === c.payloadType)!;
        t.ok(oc, `pt ${c.payloadType} was offered`);
        if (c.apt !== undefined) t.ok(primaries.includes(c.apt), `rtx ${c.payloadType} repairs a chosen codec`);
        for (const fb of c.rtcpFeedback) t.ok(oc.rtcpFeedback.some((x) => x.type === fb.type && x.parameter === fb.parameter), 'fb was offered');
      }
      t.notOk(a.codecs.some((c) => /^(red|ulpfec|CN|telephone-event|PCMU|PCMA|G722)$/.test(c.name)), 'nothing the router does not forward');
      // Extensions keep the client's ids and are ones we know.
      for (const e of a.extensions) {
        t.ok(o.extensions.some((x) => x.id === e.id && x.uri === e.uri), `extmap ${e.id} as offered`);
        t.ok(ROUTER_CAPABILITIES.headerExtensions.some((h) => h.uri === e.uri));
      }
      t.same(Object.keys(n.extensions).map(Number).sort(), a.extensions.map((e) => e.id).sort());
      t.ok(a.ssrcs.length === 0 && !a.msid, 'a recvonly answer announces no sending stream');
      t.same(n.ssrcs, o.ssrcs, 'the negotiated section carries the client SSRCs');
      t.same(n.msid, o.msid);
    }
  });
}

t.test('negotiated details for the Chromium camera+mic offer', async (t) => {
  const offer = parseSessionDescription(readFileSync(dir + 'chromium-camera-mic.sdp', 'utf8'));
  const { sections } = createPublisherAnswer(offer, LOCAL);
  const audio = sections.find((s) => s.kind === 'audio')!;
  t.same(audio.codecs.map((c) => c.capability.mimeType), ['audio/opus']);
  t.same(audio.feedback, { transportCc: true, remb: false, nack: false, pli: false, fir: false });
  t.ok(Object.values(audio.extensions).includes(EXT_URI.audioLevel));
  const video = sections.find((s) => s.kind === 'video')!;
  t.equal(video.codecs[0]!.capability.mimeType, 'video/VP8', "Chromium's first choice");
  t.same(
    [...new Set(video.codecs.map((c) => c.capability.mimeType))].sort(),
    ['video/AV1', 'video/H264', 'video/VP8', 'video/VP9'],
  );
  t.equal(video.codecs.filter((c) => c.capability.name === 'H264').length, 1, 'only constrained baseline with packetization-mode=1');
  for (const c of video.codecs) t.equal(video.rtx[c.rtxPayloadType!], c.payloadType, 'rtx mapping');
  t.same(video.feedback, { transportCc: true, remb: true, nack: true, pli: true, fir: true });
  t.notOk(Object.values(video.extensions).includes('urn:ietf:params:rtp-hdrext:toffset'), 'unknown extensions dropped');
  t.equal(video.ssrcGroups[0]!.semantics, 'FID');
});

t.test('simulcast offer: rids and simulcast answered as recv', async (t) => {
  const offer = parseSessionDescription(readFileSync(dir + 'chromium-simulcast.sdp', 'utf8'));
  const { sdp, sections } = createPublisherAnswer(offer, LOCAL);
  const video = sections.find((s) => s.kind === 'video')!;
  t.same(video.rids.map((r) => r.id), ['f', 'h', 'q']);
  t.same(video.simulcast?.recv.map((alts) => alts[0]!.rid), ['f', 'h', 'q']);
  const a = parseSessionDescription(sdp).sections.find((s) => s.kind === 'video')!;
  t.same(a.rids.map((r) => [r.id, r.direction]), [
    ['f', 'recv'],
    ['h', 'recv'],
    ['q', 'recv'],
  ]);
  t.same(a.simulcast?.recv.map((alts) => alts[0]!.rid), ['f', 'h', 'q']);
  t.same(a.simulcast?.send, []);
});

t.test('VP9 and H264 preferred offers choose them first', async (t) => {
  for (const [file, mime] of [
    ['chromium-vp9.sdp', 'video/VP9'],
    ['chromium-h264.sdp', 'video/H264'],
  ] as const) {
    const { sections } = createPublisherAnswer(parseSessionDescription(readFileSync(dir + file, 'utf8')), LOCAL);
    const video = sections.find((s) => s.kind === 'video')!;
    t.equal(video.codecs[0]!.capability.mimeType, mime, file);
    if (mime === 'video/H264') t.equal(video.codecs[0]!.parameters['profile-level-id'], '42e01f');
  }
});

const ICE = 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n';
const FP = 'a=fingerprint:sha-256 ' + Array.from({ length: 32 }, () => 'AB').join(':') + '\r\n';
const section = (kind: string, mid: string, dir: string, rtp: string, setup = 'actpass', port = 9) =>
  `m=${kind} ${port} UDP/TLS/RTP/SAVPF ${rtp.match(/rtpmap:(\d+)/g)!.map((x) => x.slice(7)).join(' ')}\r\n` +
  `${ICE}${FP}a=setup:${setup}\r\na=mid:${mid}\r\na=${dir}\r\na=rtcp-mux\r\n${rtp}`;
const offerOf = (mids: string, ...sections: string[]) =>
  `v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE ${mids}\r\n${sections.join('')}`;

t.test('rejections keep the mid and use port 0', async (t) => {
  const sdp = offerOf(
    'a v r i x t',
    section('audio', 'a', 'sendonly', 'a=rtpmap:0 PCMU/8000\r\n'),
    section('video', 'v', 'sendrecv', 'a=rtpmap:96 VP8/90000\r\n'),
    section('video', 'r', 'recvonly', 'a=rtpmap:96 VP8/90000\r\n'),
    section('video', 'i', 'inactive', 'a=rtpmap:96 VP8/90000\r\n'),
    section('video', 'x', 'sendonly', 'a=rtpmap:96 VP8/90000\r\n', 'actpass', 0),
    `m=text 9 RTP/AVP 100\r\na=mid:t\r\na=rtpmap:100 t140/1000\r\n`,
    section('video', 'n', 'sendonly', 'a=rtpmap:96 VP8/90000\r\n'),
  );
  const { sdp: answer, sections } = createPublisherAnswer(parseSessionDescription(sdp), LOCAL);
  t.same(
    sections.map((s) => [s.mid, s.accepted]),
    [
      ['a', false],
      ['v', true],
      ['r', false],
      ['i', false],
      ['x', false],
      ['t', false],
      ['n', false],
    ],
  );
  t.match(sections[0]!.rejectReason, /no codec in common/);
  t.match(sections[2]!.rejectReason, /does not send/);
  t.match(sections[6]!.rejectReason, /BUNDLE/);
  const a = parseSessionDescription(answer);
  t.same(a.bundle, ['v']);
  t.same(a.sections.map((s) => s.port), [0, 9, 0, 0, 0, 0, 0]);
  t.same(a.sections.map((s) => s.mid), ['a', 'v', 'r', 'i', 'x', 't', 'n']);
  t.equal(a.sections[1]!.candidates.length, 1, 'candidates go to the first accepted section');
});

t.test('DTLS role: passive offer makes us active; holdconn and ice-lite offers are refused', async (t) => {
  const vp8 = 'a=rtpmap:96 VP8/90000\r\n';
  const passive = createPublisherAnswer(parseSessionDescription(offerOf('0', section('video', '0', 'sendonly', vp8, 'passive'))), LOCAL);
  t.equal(parseSessionDescription(passive.sdp).sections[0]!.setup, 'active');
  t.equal(passive.transport?.dtlsParameters.role, 'server');
  const active = createPublisherAnswer(parseSessionDescription(offerOf('0', section('video', '0', 'sendonly', vp8, 'active'))), LOCAL);
  t.equal(parseSessionDescription(active.sdp).sections[0]!.setup, 'passive');
  t.equal(active.transport?.dtlsParameters.role, 'client');
  t.throws(
    () => createPublisherAnswer(parseSessionDescription(offerOf('0', section('video', '0', 'sendonly', vp8, 'holdconn'))), LOCAL),
    { code: 'ERR_SFUD_SDP' },
  );
  const lite = offerOf('0', section('video', '0', 'sendonly', vp8)).replace('t=0 0\r\n', 't=0 0\r\na=ice-lite\r\n');
  t.throws(() => createPublisherAnswer(parseSessionDescription(lite), LOCAL), { code: 'ERR_SFUD_SDP', message: /ICE-lite/ });
});

t.test('transport-cc feedback is only negotiated with the transport-wide-cc extension', async (t) => {
  const rtp = 'a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 transport-cc\r\na=rtcp-fb:96 nack\r\n';
  const without = createPublisherAnswer(parseSessionDescription(offerOf('0', section('video', '0', 'sendonly', rtp))), LOCAL);
  t.same(without.sections[0]!.codecs[0]!.rtcpFeedback, [{ type: 'nack' }]);
  t.equal(without.sections[0]!.feedback.transportCc, false);
  const withExt = createPublisherAnswer(
    parseSessionDescription(offerOf('0', section('video', '0', 'sendonly', `${rtp}a=extmap:7 ${EXT_URI.transportWideCc}\r\n`))),
    LOCAL,
  );
  t.equal(withExt.sections[0]!.feedback.transportCc, true);
  t.same(withExt.sections[0]!.extensions, { 7: EXT_URI.transportWideCc });
});
