// parseSessionDescription against real offers captured once into
// test/fixtures/sdp/ (by a throwaway script, not committed):
//   chromium-*.sdp  headless Debian chromium 156 driven by playwright-core
//                   (flags as in test/interop/chromium.test.ts, fake devices),
//                   page served from 127.0.0.1, offer taken after ICE
//                   gathering completed:
//     join-datachannel  only createDataChannel('ion-sfu') (ion-sdk-js join)
//     camera-mic        getUserMedia audio+video, addTransceiver(track,
//                       {streams:[stream], direction:'sendonly'}) + 'ion-sfu' DC
//     simulcast         as camera-mic, video sendEncodings rids f/h/q
//     vp9 / h264        as camera-mic, setCodecPreferences(VP9 / H264 first)
//   wrtc-audio-video-data.sdp    @roamhq/wrtc 0.10: RTCAudioSource +
//                   RTCVideoSource tracks via addTrack(track, stream) + DC
//   werift-audio-video-data.sdp  werift 0.24.4: addTransceiver('audio'|'video',
//                   sendonly) + DC, max-bundle, loopback only
// plus hand-written edge cases for every error path.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { SfuError } from '../../src/errors.js';
import { parseSessionDescription } from '../../src/signal/sdp/index.js';
import { EXT_URI } from '../../src/rtp/extensions.js';
import { FIXTURES } from '../helpers/paths.js';

const dir = `${FIXTURES}sdp/`;
export const fixture = (name: string): string => readFileSync(dir + name, 'utf8');

t.test('chromium join offer: only the data channel', async (t) => {
  const d = parseSessionDescription(fixture('chromium-join-datachannel.sdp'));
  t.equal(d.sections.length, 1);
  const s = d.sections[0]!;
  t.equal(s.kind, 'application');
  t.equal(s.mid, '0');
  t.equal(s.sctpPort, 5000);
  t.equal(s.maxMessageSize, 262144);
  t.same(d.bundle, ['0']);
  t.equal(s.setup, 'actpass');
  t.equal(s.fingerprints.length, 1);
  t.equal(s.fingerprints[0]!.algorithm, 'sha-256');
  t.match(s.fingerprints[0]!.value, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  t.ok(s.ice && s.ice.usernameFragment.length >= 4 && s.ice.password.length >= 22);
  t.same(s.ice!.options, ['trickle']);
  t.ok(s.candidates.length > 0, 'gathered candidates are kept');
  t.ok(s.candidates.every((c) => c.component === 1 && c.port >= 0));
});

t.test('chromium camera+mic offer', async (t) => {
  const d = parseSessionDescription(fixture('chromium-camera-mic.sdp'));
  t.same(
    d.sections.map((s) => [s.kind, s.direction]),
    [
      ['audio', 'sendonly'],
      ['video', 'sendonly'],
      ['application', 'sendrecv'],
    ],
    'Chromium orders the data channel section last',
  );
  const audio = d.sections[0]!;
  const opus = audio.codecs[0]!;
  t.same([opus.name, opus.clockRate, opus.channels], ['opus', 48000, 2]);
  t.same({ ...opus.params }, { minptime: '10', useinbandfec: '1' });
  t.same(opus.rtcpFeedback, [{ type: 'transport-cc' }]);
  t.ok(audio.extensions.some((e) => e.uri === EXT_URI.audioLevel));
  t.ok(audio.msid?.streamId && audio.msid.trackId, 'a=msid stream and track');
  t.equal(audio.ssrcs.length, 1);
  t.equal(audio.ssrcs[0]!.msid?.streamId, audio.msid!.streamId, 'ssrc msid agrees with a=msid');
  t.ok(audio.ssrcs[0]!.cname);
  const video = d.sections[1]!;
  t.equal(video.msid?.streamId, audio.msid!.streamId, 'one stream for both tracks');
  const vp8 = video.codecs.find((c) => c.name === 'VP8')!;
  t.ok(vp8.rtxPayloadType !== undefined, 'VP8 has an RTX pair');
  const rtx = video.codecs.find((c) => c.payloadType === vp8.rtxPayloadType)!;
  t.equal(rtx.name, 'rtx');
  t.equal(rtx.apt, vp8.payloadType);
  t.same(
    vp8.rtcpFeedback.map((f) => (f.parameter ? `${f.type} ${f.parameter}` : f.type)),
    ['goog-remb', 'transport-cc', 'ccm fir', 'nack', 'nack pli'],
  );
  t.equal(video.ssrcs.length, 2, 'primary + rtx SSRC');
  t.same(video.ssrcGroups.map((g) => g.semantics), ['FID']);
  t.same(video.ssrcGroups[0]!.ssrcs, video.ssrcs.map((s) => s.ssrc));
  t.ok(video.rtcpMux && video.rtcpRsize);
  t.ok(d.extmapAllowMixed);
});

t.test('chromium simulcast offer: rids and a=simulcast', async (t) => {
  const d = parseSessionDescription(fixture('chromium-simulcast.sdp'));
  const video = d.sections.find((s) => s.kind === 'video')!;
  t.same(
    video.rids.map((r) => [r.id, r.direction]),
    [
      ['f', 'send'],
      ['h', 'send'],
      ['q', 'send'],
    ],
  );
  t.same(video.simulcast, {
    send: [[{ rid: 'f', paused: false }], [{ rid: 'h', paused: false }], [{ rid: 'q', paused: false }]],
    recv: [],
  });
  t.ok(video.extensions.some((e) => e.uri === EXT_URI.rid));
  t.ok(video.extensions.some((e) => e.uri === EXT_URI.repairedRid));
});

t.test('VP9 and H264 preferred offers keep the preference order', async (t) => {
  const vp9 = parseSessionDescription(fixture('chromium-vp9.sdp')).sections.find((s) => s.kind === 'video')!;
  t.equal(vp9.codecs[0]!.name, 'VP9');
  t.equal(vp9.codecs[0]!.params['profile-id'], '0');
  const h264 = parseSessionDescription(fixture('chromium-h264.sdp')).sections.find((s) => s.kind === 'video')!;
  t.equal(h264.codecs[0]!.name, 'H264');
  t.ok(h264.codecs.some((c) => c.params['profile-level-id'] === '42e01f' && c.params['packetization-mode'] === '1'));
});

t.test('wrtc and werift offers', async (t) => {
  const w = parseSessionDescription(fixture('wrtc-audio-video-data.sdp'));
  t.same(w.sections.map((s) => s.kind).sort(), ['application', 'audio', 'video']);
  t.ok(w.sections.filter((s) => s.kind !== 'application').every((s) => s.msid?.streamId));
  const r = parseSessionDescription(fixture('werift-audio-video-data.sdp'));
  t.same(
    r.sections.map((s) => [s.kind, s.direction]),
    [
      ['audio', 'sendonly'],
      ['video', 'sendonly'],
      ['application', 'sendrecv'],
    ],
  );
  t.equal(r.sections[0]!.codecs[0]!.name, 'OPUS', 'encoding name kept as written');
  t.ok(r.sections.every((s) => s.endOfCandidates));
  t.equal(r.sections[2]!.maxMessageSize, 65536);
});

// A minimal valid offer to mutate in the error cases.
const ICE = 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n';
const FP = 'a=fingerprint:sha-256 ' + Array.from({ length: 32 }, () => 'AB').join(':') + '\r\n';
const base = (media: string, session = 'a=group:BUNDLE 0\r\n') =>
  `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n${session}${media}`;
const video = (extra = '', mid = 'a=mid:0\r\n') =>
  `m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\n${ICE}${FP}a=setup:actpass\r\n${mid}a=sendonly\r\n` +
  `a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n${extra}`;

t.test('a minimal offer parses', async (t) => {
  const d = parseSessionDescription(base(video()));
  t.equal(d.sections[0]!.codecs[0]!.rtxPayloadType, 97);
  t.same(d.origin, { sessionId: '1', sessionVersion: 2 });
});

t.test('session-level ICE/fingerprint apply to sections, multiple fingerprints kept', async (t) => {
  const fp2 = 'a=fingerprint:sha-1 ' + Array.from({ length: 20 }, () => '0f').join(':') + '\r\n';
  const sdp = base(
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\na=sctp-port:5000\r\n',
    `a=group:BUNDLE 0\r\n${ICE}${FP}${fp2}a=setup:passive\r\n`,
  );
  const d = parseSessionDescription(sdp);
  t.equal(d.fingerprints.length, 2);
  t.same(d.sections[0]!.fingerprints.map((f) => f.algorithm), ['sha-256', 'sha-1']);
  t.equal(d.sections[0]!.fingerprints[1]!.value.slice(0, 2), '0F', 'upper-cased');
  t.equal(d.sections[0]!.setup, 'passive');
  t.equal(d.sections[0]!.ice?.usernameFragment, 'abcd');
});

t.test('rtcp-fb wildcard, paused simulcast alternatives, rid params, msid fallbacks', async (t) => {
  const extra =
    'a=rtcp-fb:* nack\r\na=rid:hi send max-width=1280;max-height=720\r\na=rid:lo send\r\na=rid:x recv\r\n' +
    'a=simulcast:send hi;~lo recv x\r\na=msid:{abc-1} {def-2}\r\n';
  const s = parseSessionDescription(base(video(extra))).sections[0]!;
  t.same(s.codecs.map((c) => c.rtcpFeedback), [[{ type: 'nack' }], [{ type: 'nack' }]]);
  t.same(s.simulcast, { send: [[{ rid: 'hi', paused: false }], [{ rid: 'lo', paused: true }]], recv: [[{ rid: 'x', paused: false }]] });
  t.same({ ...s.rids[0]!.params }, { 'max-width': '1280', 'max-height': '720' });
  t.same(s.msid, { streamId: '{abc-1}', trackId: '{def-2}' }, 'Firefox-style ids');
  const ssrcOnly = parseSessionDescription(base(video('a=ssrc:5 cname:c\r\na=ssrc:5 msid:st tr\r\n'))).sections[0]!;
  t.same(ssrcOnly.msid, { streamId: 'st', trackId: 'tr' }, 'msid from the ssrc line');
});

t.test('errors are SfuError ERR_SFUD_SDP naming the problem', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['empty', '', /no m= line/],
    ['no m-lines', base(''), /no m= line/],
    ['no ICE', base(video().replace(ICE, '')), /ice-ufrag/],
    ['short pwd', base(video().replace('abcdefghijklmnopqrstuvwx', 'short')), /ice-pwd/],
    ['no fingerprint', base(video().replace(FP, '')), /fingerprint/],
    ['bad fingerprint', base(video().replace(/sha-256 \S+/, 'sha-256 zz')), /fingerprint/],
    ['no mid while bundling', base(video('', '')), /a=mid is missing/],
    ['bundle names unknown mid', base(video(), 'a=group:BUNDLE 0 7\r\n'), /unknown mid 7/],
    ['duplicate mid', base(video() + video(), 'a=group:BUNDLE 0\r\n'), /duplicate a=mid/],
    ['bad port', base(video().replace('m=video 9', 'm=video 99999')), /port/],
    ['bad pt', base(video('a=rtpmap:300 VP9/90000\r\n')), /payload type/],
    ['bad clock', base(video().replace('VP8/90000', 'VP8/abc')), /clock rate/],
    ['bad apt', base(video().replace('apt=96', 'apt=x')), /apt/],
    ['extmap id 0', base(video(`a=extmap:0 ${EXT_URI.mid}\r\n`)), /extmap id/],
    ['extmap id reused', base(video(`a=extmap:1 ${EXT_URI.mid}\r\na=extmap:1 ${EXT_URI.rid}\r\n`)), /two URIs/],
    ['bad ssrc', base(video('a=ssrc:99999999999 cname:x\r\n')), /a=ssrc/],
    ['bad setup', base(video().replace('setup:actpass', 'setup:bogus')), /a=setup/],
    ['bad rid direction', base(video('a=rid:f sideways\r\n')), /a=rid:f/],
    ['no o= line', base(video()).replace(/o=.*\r\n/, ''), /o= line/],
    ['too large', base(video('a=x-pad:' + 'x'.repeat(130 * 1024) + '\r\n')), /larger than/],
  ];
  for (const [name, sdp, msg] of cases) {
    t.throws(() => parseSessionDescription(sdp), { name: 'SfuError', code: 'ERR_SFUD_SDP', message: msg }, name);
  }
  t.throws(() => parseSessionDescription(42 as unknown as string), SfuError, 'non-string');
});

t.test('a rejected section needs no transport lines; no BUNDLE means mids are optional', async (t) => {
  const sdp = base(`m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n` + video('', 'a=mid:v\r\n'), 'a=group:BUNDLE v\r\n').replace(
    'm=audio 0 UDP/TLS/RTP/SAVPF 0\r\n',
    'm=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:a\r\n',
  );
  const d = parseSessionDescription(sdp);
  t.ok(d.sections[0]!.rejected);
  const noBundle = parseSessionDescription(base(video('', ''), ''));
  t.equal(noBundle.bundle, null);
  t.equal(noBundle.sections[0]!.mid, '');
});
