// Interop with werift's RTCPeerConnection (a full ICE agent, werift DTLS and
// SRTP): RTP both ways through sfud's echo and data channel messages both
// ways.
import t from 'tap';
import { RtpHeader, RtpPacket, type RTCDataChannel, type MediaStreamTrack } from 'werift';
import { WebRtcServer } from '../../src/transport/webrtc-server.js';
import { loopbackPc } from '../helpers/werift-ion.js';
import { answerOffer, echoDataChannels, isLoopback, startEcho, waitFor } from './echo.js';

t.test('werift peer: ICE-lite + DTLS-SRTP + RTP both ways + data channel both ways', async (t) => {
  const server = await WebRtcServer.create({ listen: [{ ip: '127.0.0.1', port: 0 }], acceptRemote: isLoopback });
  t.teardown(() => server.close());
  const transport = server.createWebRtcTransport({ enableSctp: true });
  const peerChannels = echoDataChannels(transport);

  const pc = loopbackPc();
  t.teardown(async () => pc.close());
  const video = pc.addTransceiver('video', { direction: 'sendrecv' });
  const received = { video: 0 };
  pc.onTrack.subscribe((track: MediaStreamTrack) => {
    track.onReceiveRtp.subscribe(() => {
      if (track.kind === 'video') received.video++;
    });
  });
  const chat: RTCDataChannel = pc.createDataChannel('chat');
  const replies: string[] = [];
  chat.onMessage.subscribe((m) => replies.push(m.toString()));
  const fromSfu: string[] = [];
  pc.onDataChannel.subscribe((ch) => ch.onMessage.subscribe((m) => fromSfu.push(`${ch.label}:${m.toString()}`)));

  await pc.setLocalDescription(await pc.createOffer());
  const plan = answerOffer(pc.localDescription!.sdp, transport);
  const counts = startEcho(transport, plan);
  await pc.setRemoteDescription({ type: 'answer', sdp: plan.answer });

  await waitFor('DTLS connected', () => transport.dtlsState === 'connected');
  t.ok(isLoopback(transport.selectedTuple!.address), `media path on loopback (${transport.selectedTuple!.address})`);
  t.equal(transport.srtpProfile, 'AEAD_AES_128_GCM', 'werift offers GCM first');
  const pt = plan.streams.find((s) => s.kind === 'video')!.pt;
  // werift's sender stamps its own SSRC and keeps sequence numbers as given.
  let seq = 1000;
  const timer = setInterval(() => {
    const header = new RtpHeader({ payloadType: pt, sequenceNumber: seq++ & 0xffff, timestamp: seq * 3000, marker: true });
    video.sender.sendRtp(new RtpPacket(header, Buffer.alloc(800, seq & 0xff)));
  }, 10);
  t.teardown(() => clearInterval(timer));
  await waitFor('echoed RTP at the werift peer', () => received.video >= 50);
  t.ok(counts.rtpIn >= 50, `sfud decrypted ${counts.rtpIn} RTP packets from werift`);

  await waitFor('chat at sfud', () => peerChannels.length === 1 && chat.readyState === 'open');
  chat.send('hello sfu');
  await waitFor('data channel echo', () => replies.includes('echo: hello sfu'));
  const mine = transport.createDataChannel('sfu');
  await new Promise<void>((r) => mine.once('open', () => r()));
  mine.send('hello werift');
  await waitFor('sfud-opened channel at werift', () => fromSfu.includes('sfu:hello werift'));
  transport.close();
});
