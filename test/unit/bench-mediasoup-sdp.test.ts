// SDP <-> mediasoup RtpParameters for the bench's mediasoup server
// (bench/servers/mediasoup-sdp.ts): Chromium offers become Producer
// parameters (codec + RTX, SSRCs or RIDs, extensions, MID, CNAME, msid) and
// an ICE-lite recvonly answer; Consumer parameters become a subscriber offer
// that sfud's own parser reads back; subscriber answers give DTLS and mids.
import t from 'tap';
import { readFileSync } from 'node:fs';
import sdpTransform from 'sdp-transform';
import { answerPublisherOffer, readSubscriberAnswer, subscriberOffer, type LocalTransport } from '../../bench/servers/mediasoup-sdp.js';
import type { RtpCapabilities } from '../../bench/servers/mediasoup-types.js';
import { parseSessionDescription } from '../../src/signal/sdp/parse.js';
import { FIXTURES } from '../helpers/paths.js';

const fixture = (name: string): string => readFileSync(`${FIXTURES}sdp/${name}`, 'utf8');

const VIDEO_FB = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }];
/** The shape of a mediasoup router's rtpCapabilities for Opus + VP8 + H264. */
const CAPS: RtpCapabilities = {
  codecs: [
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 111, rtcpFeedback: [{ type: 'nack' }, { type: 'transport-cc' }] },
    { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 96, rtcpFeedback: VIDEO_FB },
    { kind: 'video', mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 97, parameters: { apt: 96 } },
    { kind: 'video', mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: 102, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' }, rtcpFeedback: VIDEO_FB },
  ],
};

const LOCAL: LocalTransport = {
  ice: { usernameFragment: 'ufragufragufrag1', password: 'passwordpasswordpassword' },
  candidates: [{ foundation: 'udpcandidate', priority: 1076302079, address: '127.0.0.1', protocol: 'udp', port: 40000, type: 'host' }],
  fingerprints: [{ algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') }],
  sctpPort: 5000,
  maxMessageSize: 262144,
};

t.test('a Chromium camera + mic + data channel offer', async (t) => {
  const offer = fixture('chromium-camera-mic.sdp');
  const a = answerPublisherOffer(offer, LOCAL, CAPS, '123', 1);
  t.equal(a.remoteDtls.role, 'client', 'actpass: the client is the DTLS client');
  t.equal(a.remoteDtls.fingerprints[0]?.algorithm, 'sha-256');
  t.ok(a.application, 'the data channel section is accepted');
  t.same(
    a.tracks.map((x) => [x.mid, x.kind]),
    [
      ['0', 'audio'],
      ['1', 'video'],
    ],
  );
  const audio = a.tracks[0]!.rtpParameters;
  t.same(audio.codecs.map((c) => [c.mimeType, c.payloadType, c.channels]), [['audio/opus', 111, 2]], 'Opus only, no RTX for audio');
  t.same(audio.codecs[0]!.rtcpFeedback, [{ type: 'transport-cc' }], 'only feedback the router supports');
  t.ok(audio.headerExtensions?.some((e) => e.uri === 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'), 'audio level extension kept');
  const video = a.tracks[1]!.rtpParameters;
  t.same(
    video.codecs.map((c) => [c.mimeType, c.payloadType]),
    [
      ['video/VP8', 96],
      ['video/rtx', 97],
    ],
  );
  t.same(video.encodings, [{ ssrc: 3213639402, rtx: { ssrc: 41818038 } }], 'primary and RTX SSRC from the FID group');
  t.equal(video.mid, '1');
  t.ok(video.rtcp?.cname, 'CNAME from a=ssrc');
  t.equal(a.tracks[1]!.streamId, 'be845c60-b528-4b27-8044-44ebdf1117d2', 'msid stream id');
  t.equal(a.tracks[1]!.trackId, 'd2bf920a-49c4-4130-a08f-491f3b092afb', 'msid track id');
  t.notOk(
    video.headerExtensions?.some((e) => !e.uri.startsWith('urn:') && !e.uri.startsWith('http')),
    'only extensions a Producer knows',
  );

  // The answer, read back by sfud's own parser (a strict one).
  const parsed = parseSessionDescription(a.sdp);
  t.equal(parsed.sections.length, 3, 'one answer section per offer section');
  t.same(
    parsed.sections.map((s) => [s.mid, s.kind, s.direction, s.codecs.map((c) => c.payloadType)]),
    [
      ['0', 'audio', 'recvonly', [111]],
      ['1', 'video', 'recvonly', [96, 97]],
      ['2', 'application', 'sendrecv', []],
    ],
  );
  const raw = sdpTransform.parse(a.sdp);
  t.equal(raw.icelite, 'ice-lite');
  t.equal(raw.media[0]?.setup, 'passive');
  t.equal(raw.media[0]?.candidates?.[0]?.port, 40000);
});

t.test('a simulcast offer gives RID encodings and a=simulcast:recv', async (t) => {
  const a = answerPublisherOffer(fixture('chromium-simulcast.sdp'), LOCAL, CAPS, '123', 1);
  const video = a.tracks.find((x) => x.kind === 'video')!;
  t.same(video.rtpParameters.encodings, [{ rid: 'f' }, { rid: 'h' }, { rid: 'q' }]);
  t.match(a.sdp, /a=rid:f recv\r\na=rid:h recv\r\na=rid:q recv\r\na=simulcast:recv f;h;q/);
  t.ok(video.rtpParameters.headerExtensions?.some((e) => e.uri === 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'), 'rid extension kept');
});

t.test('sections the router cannot take are rejected; a removed track is reported stopped', async (t) => {
  const offer = fixture('chromium-camera-mic.sdp').replace(/(m=video \d+ \S+) .*/, '$1 35').replace(/a=rtpmap:96 VP8\/90000/, 'a=rtpmap:35 AV2/90000');
  const a = answerPublisherOffer(offer, LOCAL, CAPS, '123', 2);
  t.same(a.tracks.map((x) => x.kind), ['audio']);
  t.same(a.stopped, ['1']);
  t.match(a.sdp, /m=video 0 /);
  t.notMatch(/a=group:BUNDLE (.*)/.exec(a.sdp)?.[1] ?? '', /\b1\b/, 'the rejected mid leaves BUNDLE');
  t.throws(() => answerPublisherOffer(offer.replace(/a=fingerprint:.*\r\n/g, ''), LOCAL, CAPS, '1', 1), /fingerprint/);
});

t.test('subscriber offer from consumer parameters, and the answer to it', async (t) => {
  const sdp = subscriberOffer(
    LOCAL,
    [
      { kind: 'application', mid: '0' },
      {
        kind: 'video',
        mid: '1',
        consumer: {
          streamId: 'stream-a',
          trackId: 'track-v',
          rtpParameters: {
            mid: '1',
            codecs: [
              { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] },
              { mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 } },
            ],
            headerExtensions: [{ uri: 'urn:3gpp:video-orientation', id: 13 }],
            encodings: [{ ssrc: 1111, rtx: { ssrc: 2222 } }],
            rtcp: { cname: 'cn' },
          },
        },
      },
      { kind: 'audio', mid: '2', consumer: undefined },
    ],
    '77',
    3,
  );
  const parsed = parseSessionDescription(sdp);
  t.same(parsed.bundle, ['0', '1'], 'the ended section is outside BUNDLE');
  const v = parsed.sections[1]!;
  t.equal(v.direction, 'sendonly');
  t.same(v.msid, { streamId: 'stream-a', trackId: 'track-v' });
  t.same(
    v.ssrcs.map((s) => s.ssrc),
    [1111, 2222],
  );
  t.same(v.ssrcGroups, [{ semantics: 'FID', ssrcs: [1111, 2222] }]);
  t.ok(parsed.sections[2]!.rejected, 'a section without consumer is offered with port 0');
  t.match(sdp, /a=setup:actpass/);

  const answer = fixture('chromium-subscriber-answer.sdp');
  const r = readSubscriberAnswer(answer);
  t.equal(r.remoteDtls.role, 'client', 'a=setup:active: the client is the DTLS client');
  t.ok(r.accepted.has('0') && r.accepted.has('1'));
  t.throws(() => readSubscriberAnswer(answer.replace(/a=setup:active/g, 'a=setup:actpass')), /setup/);
});
