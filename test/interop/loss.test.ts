// Loss recovery end to end: a libwebrtc publisher and a libwebrtc viewer
// talk ion-sfu JSON-RPC to sfud through UDP relays that drop 5% of RTP
// (publisher -> sfud, and sfud -> viewer). sfud NACKs the publisher and
// restores its RTX; it answers the viewer's NACKs from its own store. The
// viewer keeps decoding without long freezes.
import t from 'tap';
import wrtc from '@roamhq/wrtc';
import { Sfu } from '../../src/sfu.js';
import { IonRpc } from '../helpers/ion-rpc.js';
import { isRtp, startRelay, viaRelay } from '../helpers/udp-relay.js';
import { isLoopback, waitFor } from './echo.js';

// NOTE: see test/interop/wrtc.test.ts (wrtc segfaults on a natural exit).
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

const { RTCPeerConnection, nonstandard } = wrtc;
const LOSS = 0.05;

type SessionDescription = { type: string; sdp: string };

/** A relay that drops every 20th RTP packet (5%, deterministic so runs compare) in one direction. */
async function relay(sfuPort: number, drop: 'up' | 'down') {
  const counts = { dropped: 0, rtp: 0 };
  const lose = (msg: Buffer): boolean => {
    if (!isRtp(msg)) return false;
    counts.rtp++;
    if (counts.rtp % Math.round(1 / LOSS) !== 0) return false;
    counts.dropped++;
    return true;
  };
  const r = await startRelay(sfuPort, { accept: isLoopback, ...(drop === 'up' ? { dropUp: lose } : { dropDown: lose }) });
  return { port: r.port, counts, close: () => r.close() };
}

t.test('5% RTP loss on both legs: NACK/RTX upstream, retransmission from the store downstream', async (t) => {
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const sfuPort = sfu.webRtcServer.muxes[0]!.port;
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const up = await relay(sfuPort, 'up');
  const down = await relay(sfuPort, 'down');
  t.teardown(() => (up.close(), down.close()));

  // Publisher: a moving 320x240 picture at 30 fps.
  const source = new nonstandard.RTCVideoSource();
  const width = 320;
  const height = 240;
  const frame = new Uint8ClampedArray((width * height * 3) / 2);
  let n = 0;
  const timer = setInterval(() => {
    n++;
    for (let i = 0; i < width * height; i += 3) frame[i] = (i * 7 + n * 11) & 0xff;
    source.onFrame({ width, height, data: frame });
  }, 33);
  const track = source.createTrack();
  const pubPc = new RTCPeerConnection();
  const pubRpc = await IonRpc.connect(url);
  pubPc.createDataChannel('ion-sfu');
  pubPc.addTrack(track, new wrtc.MediaStream([track]));
  await pubPc.setLocalDescription(await pubPc.createOffer());
  const pubAnswer = (await pubRpc.call('join', { sid: 'lossy', uid: 'pub', offer: { type: 'offer', sdp: pubPc.localDescription.sdp } })) as SessionDescription;
  await pubPc.setRemoteDescription({ type: 'answer', sdp: viaRelay(pubAnswer.sdp, sfuPort, up.port) });

  // Viewer: publishes nothing; its subscriber connection goes through the lossy relay.
  const viewPub = new RTCPeerConnection();
  const viewSub = new RTCPeerConnection();
  const viewRpc = await IonRpc.connect(url);
  const frameTimes: number[] = [];
  let sink: { stop(): void } | undefined;
  viewSub.ontrack = (e: { track: { kind: string } }) => {
    if (e.track.kind !== 'video') return;
    const s = new nonstandard.RTCVideoSink(e.track);
    s.onframe = () => frameTimes.push(Date.now());
    sink = s;
  };
  viewRpc.onNotification = (method, params) => {
    if (method !== 'offer' || !params) return;
    const sdp = (params as { sdp: string }).sdp;
    void (async () => {
      await viewSub.setRemoteDescription({ type: 'offer', sdp: viaRelay(sdp, sfuPort, down.port) });
      await viewSub.setLocalDescription(await viewSub.createAnswer());
      viewRpc.notify('answer', { desc: { type: 'answer', sdp: viewSub.localDescription.sdp } });
    })();
  };
  viewPub.createDataChannel('ion-sfu');
  await viewPub.setLocalDescription(await viewPub.createOffer());
  const viewAnswer = (await viewRpc.call('join', { sid: 'lossy', uid: 'viewer', offer: { type: 'offer', sdp: viewPub.localDescription.sdp } })) as SessionDescription;
  // Only the viewer's subscriber connection goes through the relay (a relay carries one client tuple).
  await viewPub.setRemoteDescription({ type: 'answer', sdp: viewAnswer.sdp });

  t.teardown(() => {
    clearInterval(timer);
    sink?.stop();
    for (const pc of [pubPc, viewPub, viewSub]) pc.close();
    track.stop();
    pubRpc.close();
    viewRpc.close();
  });

  await waitFor('first decoded frame at the viewer', () => frameTimes.length > 0, 20_000);
  const start = Date.now();
  const from = frameTimes.length;
  await new Promise((r) => setTimeout(r, 8000));
  const window = frameTimes.slice(from);
  let maxGap = 0;
  for (let i = 1; i < window.length; i++) maxGap = Math.max(maxGap, window[i]! - window[i - 1]!);
  const fps = window.length / ((Date.now() - start) / 1000);
  const room = sfu.rooms.get('lossy')!;
  const stat = (uid: string) => (room.getMember(uid) as unknown as { rtcpStats: Record<'nackedSeqs' | 'rtxReceived' | 'nacksReceived' | 'retransmitted', number> }).rtcpStats;
  const pub = stat('pub');
  const viewer = stat('viewer');
  t.comment(`relay drops: up ${up.counts.dropped}/${up.counts.rtp}, down ${down.counts.dropped}/${down.counts.rtp}`);
  t.comment(`viewer decoded ${window.length} frames in 8 s (${fps.toFixed(1)} fps), longest gap ${maxGap} ms`);
  t.comment(`sfud publisher side: ${JSON.stringify(pub)}; viewer side: ${JSON.stringify(viewer)}`);
  t.ok(up.counts.dropped > 10 && down.counts.dropped > 10, 'the relays did drop packets');
  t.ok(pub.nackedSeqs > 0, 'sfud NACKed the publisher for the packets lost upstream');
  t.ok(pub.rtxReceived > 0, 'the publisher retransmitted over RTX and sfud restored the packets');
  t.ok(viewer.nacksReceived > 0, 'the viewer NACKed what was lost downstream');
  t.ok(viewer.retransmitted > 0, 'sfud answered those NACKs from its retransmission store');
  const videoOut = (room.getMember('viewer') as unknown as { getStats(): { consumers: { kind: string; retransmitted: number; retransmittedRtx: number }[] } }).getStats().consumers.find((c) => c.kind === 'video')!;
  t.comment(`viewer's video consumer: ${videoOut.retransmitted} resent, ${videoOut.retransmittedRtx} of them over RTX`);
  t.ok(videoOut.retransmittedRtx > 0 && videoOut.retransmittedRtx === videoOut.retransmitted, 'libwebrtc accepted RTX toward it, and every resent packet went over RTX');
  t.ok(fps > 10, `the viewer kept decoding (${fps.toFixed(1)} fps)`);
  t.ok(maxGap < 1500, `no freeze over 1.5 s (longest gap ${maxGap} ms)`);
});
