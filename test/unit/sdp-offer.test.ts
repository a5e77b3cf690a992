// createSubscriberOffer / parseSubscriberAnswer. The answer fixture
// test/fixtures/sdp/chromium-subscriber-answer.sdp is Chromium 156's answer
// (headless Debian chromium via playwright-core, the flags in
// test/helpers/chromium.ts) to createSubscriberOffer(subscriberInput(1)) of
// test/helpers/sdp-input.ts, captured once from the page of
// test/integration/sdp-chromium.test.ts; the round trip itself is re-run live
// there.
import t from 'tap';
import { readFileSync } from 'node:fs';
import * as sdpTransform from 'sdp-transform';
import { createSubscriberOffer, parseSessionDescription, parseSubscriberAnswer, type SubscriberOfferInput } from '../../src/signal/sdp/index.js';
import { EXT_URI } from '../../src/rtp/extensions.js';
import { subscriberInput } from '../helpers/sdp-input.js';
import { FIXTURES } from '../helpers/paths.js';

const dir = `${FIXTURES}sdp/`;

t.test('the offer: order, transport, msid/ssrc lines, FID, inactive slot', async (t) => {
  const sdp = createSubscriberOffer(subscriberInput(3));
  const d = parseSessionDescription(sdp);
  t.same(d.origin, { sessionId: '123456789', sessionVersion: 3 });
  t.ok(d.iceLite);
  t.same(d.bundle, ['0', '1', '2'], 'the inactive slot is not bundled');
  t.same(d.sections.map((s) => [s.mid, s.kind, s.port, s.direction]), [
    ['0', 'application', 9, 'sendrecv'],
    ['1', 'audio', 9, 'sendonly'],
    ['2', 'video', 9, 'sendonly'],
    ['3', 'video', 0, 'inactive'],
  ]);
  const [app, audio, video, gone] = d.sections as [typeof d.sections[0], typeof d.sections[0], typeof d.sections[0], typeof d.sections[0]];
  t.equal(app.sctpPort, 5000);
  t.equal(app.setup, 'actpass');
  t.equal(app.candidates.length, 1, 'candidates in the first bundled section');
  t.ok(app.endOfCandidates);
  t.same(audio.msid, { streamId: 'stream-a', trackId: 'audio-a' });
  t.same(audio.ssrcs.map((s) => [s.ssrc, s.cname, s.msid]), [[1001, 'stream-a', { streamId: 'stream-a', trackId: 'audio-a' }]]);
  t.same(audio.codecs[0]!.rtcpFeedback, [{ type: 'transport-cc' }]);
  t.same({ ...audio.codecs[0]!.params }, { minptime: '10', useinbandfec: '1' });
  t.same(video.codecs.map((c) => [c.payloadType, c.name, c.apt]), [
    [96, 'VP8', undefined],
    [97, 'rtx', 96],
    [98, 'VP9', undefined],
    [99, 'rtx', 98],
    [102, 'H264', undefined],
    [103, 'rtx', 102],
  ]);
  t.same(video.ssrcGroups, [{ semantics: 'FID', ssrcs: [2001, 2002] }]);
  t.same(video.ssrcs.map((s) => s.msid?.trackId), ['video-a', 'video-a']);
  t.same(video.extensions.map((e) => e.id), [2, 3, 4]);
  t.equal(gone.ssrcs.length, 0);
  t.notOk(gone.msid);
  t.equal(sdpTransform.parse(sdp).media.length, 4);
});

t.test('transport-cc feedback only with the transport-wide-cc extension', async (t) => {
  const input = subscriberInput(1);
  const audio = input.sections[1]!;
  if (audio.kind !== 'audio') throw new Error('fixture layout');
  const sdp = createSubscriberOffer({ ...input, sections: [input.sections[0]!, { ...audio, extensions: { 1: EXT_URI.audioLevel } }] });
  t.same(parseSessionDescription(sdp).sections[1]!.codecs[0]!.rtcpFeedback, []);
});

t.test('bad input is an SfuError', async (t) => {
  const input = subscriberInput(1);
  const cases: [string, SubscriberOfferInput][] = [
    ['no data channel', { ...input, sections: input.sections.slice(1) }],
    ['duplicate mid', { ...input, sections: [...input.sections, input.sections[1]!] }],
    ['bad version', { ...input, sessionVersion: -1 }],
    ['bad session id', { ...input, sessionId: 'abc' }],
    [
      'extension id 15',
      { ...input, sections: input.sections.map((s) => (s.kind === 'audio' ? { ...s, extensions: { 15: EXT_URI.mid } } : s)) },
    ],
    ['bad ssrc', { ...input, sections: input.sections.map((s) => (s.kind === 'audio' ? { ...s, ssrc: 2 ** 32 } : s)) }],
    ['space in stream id', { ...input, sections: input.sections.map((s) => (s.kind === 'audio' ? { ...s, streamId: 'a b' } : s)) }],
  ];
  for (const [name, bad] of cases) t.throws(() => createSubscriberOffer(bad), { name: 'SfuError', code: 'ERR_SFUD_SDP' }, name);
});

t.test("Chromium's captured answer", async (t) => {
  const answer = readFileSync(dir + 'chromium-subscriber-answer.sdp', 'utf8');
  const r = parseSubscriberAnswer(answer, subscriberInput(1));
  t.equal(r.setup, 'active', 'Chromium takes the DTLS client role against our actpass');
  t.equal(r.dtlsParameters.role, 'client');
  t.equal(r.fingerprints[0]!.algorithm, 'sha-256');
  t.ok(r.ice.usernameFragment.length >= 4);
  t.same(r.sctp, { port: 5000, maxMessageSize: 262144 });
  t.same(r.sections.map((s) => [s.mid, s.accepted]), [
    ['0', true],
    ['1', true],
    ['2', true],
    ['3', false],
  ]);
  const audio = r.sections[1]!;
  t.same(audio.payloadTypes, [111]);
  t.same(audio.extensions, { 1: EXT_URI.audioLevel, 3: EXT_URI.transportWideCc, 4: EXT_URI.mid });
  t.equal(audio.feedback.transportCc, true);
  const video = r.sections[2]!;
  t.same(video.payloadTypes, [96, 98, 102]);
  t.same(video.rtxPayloadTypes, [97, 99, 103]);
  t.same(video.feedback, { transportCc: true, remb: true, nack: true, pli: true, fir: true });
  t.equal(video.direction, 'recvonly');
});

t.test('answers that do not fit the offer are refused', async (t) => {
  const input = subscriberInput(1);
  const answer = readFileSync(dir + 'chromium-subscriber-answer.sdp', 'utf8');
  const cases: [string, string, RegExp][] = [
    ['foreign payload type', answer.replace(/a=rtpmap:96 VP8\/90000/, 'a=rtpmap:96 VP8/90000\r\na=rtpmap:120 VP8/90000').replace(/(m=video 9 \S+ 96)/, '$1 120'), /not offered/],
    ['changed extmap id', answer.replace(/a=extmap:1 /, 'a=extmap:9 '), /does not match/],
    ['actpass answer', answer.replace(/a=setup:active/g, 'a=setup:actpass'), /active or passive/],
    ['missing section', answer.slice(0, answer.lastIndexOf('m=video')), /m-sections/],
  ];
  for (const [name, sdp, message] of cases) {
    t.throws(() => parseSubscriberAnswer(sdp, input), { code: 'ERR_SFUD_SDP', message }, name);
  }
});
