// Interop with libwebrtc (@roamhq/wrtc): a real RTCPeerConnection offers
// audio + video + a data channel to an sfud transport; ICE-lite, DTLS and
// SRTP complete; the peer's RTP arrives decrypted at sfud; sfud echoes it back
// and the peer decodes the echoed video; data channel messages go both ways.
import t from 'tap';
import wrtc from '@roamhq/wrtc';
import { WebRtcServer } from '../../src/transport/webrtc-server.js';
import { answerOffer, echoDataChannels, isLoopback, startEcho, waitFor } from './echo.js';

const { RTCPeerConnection, nonstandard } = wrtc;

// NOTE: @roamhq/wrtc 0.10 segfaults in native teardown when a process that
// used an RTCVideoSource exits on its own; an explicit exit skips that path.
// tap has written every result (and set exitCode) by the time the loop empties.
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

/** A moving test pattern at 30 fps and a 440 Hz tone at 10 ms frames. */
function startSources() {
  const video = new nonstandard.RTCVideoSource();
  const width = 320;
  const height = 240;
  const data = new Uint8ClampedArray((width * height * 3) / 2);
  let n = 0;
  const vt = setInterval(() => {
    n++;
    for (let i = 0; i < width * height; i++) data[i] = (i + n * 4) & 0xff;
    video.onFrame({ width, height, data });
  }, 33);
  const audio = new nonstandard.RTCAudioSource();
  const samples = new Int16Array(480);
  let phase = 0;
  const at = setInterval(() => {
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((phase++ * 2 * Math.PI * 440) / 48000));
    audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  }, 10);
  return {
    videoTrack: video.createTrack(),
    audioTrack: audio.createTrack(),
    stop: () => {
      clearInterval(vt);
      clearInterval(at);
    },
  };
}

t.test('libwebrtc peer: ICE-lite + DTLS-SRTP + RTP both ways + data channel both ways', async (t) => {
  const server = await WebRtcServer.create({ listen: [{ ip: '127.0.0.1', port: 0 }], acceptRemote: isLoopback });
  t.teardown(() => server.close());
  const transport = server.createWebRtcTransport({ enableSctp: true });
  const peerChannels = echoDataChannels(transport);

  const pc = new RTCPeerConnection();
  const sources = startSources();
  const sinks: { stop(): void }[] = [];
  t.teardown(() => {
    // Order matters to libwebrtc: sinks, then the connection, then the sources.
    for (const s of sinks) s.stop();
    pc.close();
    sources.stop();
    sources.videoTrack.stop();
    sources.audioTrack.stop();
  });
  pc.addTrack(sources.audioTrack);
  pc.addTrack(sources.videoTrack);
  const chat = pc.createDataChannel('chat');
  const chatReplies: string[] = [];
  chat.onmessage = (e: { data: string }) => chatReplies.push(e.data);
  const fromSfu: string[] = [];
  pc.ondatachannel = (e: { channel: { label: string; onmessage: (m: { data: string }) => void } }) => {
    e.channel.onmessage = (m) => fromSfu.push(`${e.channel.label}:${m.data}`);
  };
  let framesDecoded = 0;
  pc.ontrack = (e: { track: { kind: string } }) => {
    if (e.track.kind !== 'video') return;
    const sink = new nonstandard.RTCVideoSink(e.track);
    sink.onframe = () => framesDecoded++;
    sinks.push(sink);
  };

  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const plan = answerOffer(pc.localDescription.sdp, transport);
  const counts = startEcho(transport, plan);
  await pc.setRemoteDescription({ type: 'answer', sdp: plan.answer });

  await waitFor('DTLS connected', () => transport.dtlsState === 'connected');
  t.ok(isLoopback(transport.selectedTuple!.address), `media path on loopback (${transport.selectedTuple!.address})`);
  t.equal(transport.ice.state, 'completed', 'the peer nominated a pair');
  t.equal(transport.srtpProfile, 'AES_CM_128_HMAC_SHA1_80', 'libwebrtc in wrtc offers only AES-CM');
  await waitFor('echoed video decoded by the peer', () => framesDecoded >= 10);
  t.ok(counts.rtpIn > 0 && counts.rtpOut > 0, `RTP in ${counts.rtpIn}, echoed ${counts.rtpOut}`);
  await waitFor('RTCP from the peer, decrypted', () => transport.stats.rtcpPacketsIn > 0);

  await waitFor('peer channel at sfud', () => peerChannels.length === 1 && chat.readyState === 'open');
  t.equal(peerChannels[0]!.label, 'chat');
  chat.send('hello sfu');
  await waitFor('echo over the data channel', () => chatReplies.includes('echo: hello sfu'));
  const mine = transport.createDataChannel('sfu');
  await new Promise<void>((r) => mine.once('open', () => r()));
  mine.send('hello peer');
  await waitFor('sfud-opened channel message at the peer', () => fromSfu.includes('sfu:hello peer'));

  t.same(
    Object.values(transport.stats.drops).reduce((a, b) => a + b, 0),
    transport.stats.drops['srtp-not-ready'],
    `no drops other than media racing the handshake (${JSON.stringify(transport.stats.drops)})`,
  );
  t.comment(`frames decoded ${framesDecoded}; transport ${JSON.stringify({ in: counts.rtpIn, out: counts.rtpOut, pli: counts.pliOut })}`);
  transport.close();
});

