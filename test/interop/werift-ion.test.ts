// werift RTCPeerConnections speaking ion-sfu JSON-RPC directly over a `ws`
// WebSocket (no ion-sdk-js): the same two-PeerConnection dance ion-sdk-js
// does (shared/reference/ion-sfu-protocol.md 1.2-1.5, 2.1). The publisher
// joins with an `ion-sfu` data channel (so the offer has m=application), then
// adds a sendonly VP8 transceiver and renegotiates with `offer`; it sends
// synthetic VP8 RTP. A second client in the same room must get that RTP on
// its subscriber PeerConnection under the publisher's msid stream id, and
// the `ion-sfu` data channel sfud opens there.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import * as sdpTransform from 'sdp-transform';
import { Sfu } from '../../src/sfu.js';
import { WeriftIonClient } from '../helpers/werift-ion.js';
import { isLoopback, waitFor } from './echo.js';

function msidsOf(sdp: string, kind: string): { streamId: string; trackId: string }[] {
  const out: { streamId: string; trackId: string }[] = [];
  for (const m of sdpTransform.parse(sdp).media) {
    if (m.type !== kind) continue;
    // sdp-transform 3 parses `a=msid:<stream> <track>` as [{id, appdata}].
    for (const x of m.msid ?? []) out.push({ streamId: String(x.id), trackId: String(x.appdata ?? '') });
  }
  return out;
}

t.test('werift clients over raw ion-sfu JSON-RPC: publish VP8, subscribe, ion-sfu data channel', async (t) => {
  const started = Date.now();
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const clients: WeriftIonClient[] = [];
  t.teardown(() => {
    for (const c of clients) c.close();
  });

  const alice = await WeriftIonClient.connect(url);
  clients.push(alice);
  await alice.join('werift', 'alice');
  t.match(alice.pub.localDescription!.sdp, /m=application /, 'the join offer has m=application');
  const streamId = `werift-${randomUUID()}`;
  await alice.publishVideo(streamId);
  await waitFor('alice publisher connected', () => alice.pub.connectionState === 'connected');
  alice.startSending();
  await waitFor('sfud has the producer', () => (sfu.rooms.get('werift')?.producers.length ?? 0) === 1);
  t.equal(sfu.rooms.get('werift')!.producers[0]!.streamId, streamId, 'sfud took the msid stream id from the offer');

  const bob = await WeriftIonClient.connect(url);
  clients.push(bob);
  await bob.join('werift', 'bob');
  await waitFor('bob receives >= 50 video RTP packets', () => bob.tracks.some((x) => x.track.kind === 'video' && x.packets >= 50), 20_000);
  const video = bob.tracks.find((x) => x.track.kind === 'video')!;
  t.ok(video.packets >= 50, `bob received ${video.packets} RTP packets (alice sent ${alice.sent})`);
  t.equal(video.track.codec?.mimeType.toLowerCase(), 'video/vp8', 'the forwarded track is VP8');

  const offered = bob.subOffers.flatMap((sdp) => msidsOf(sdp, 'video'));
  t.ok(offered.length > 0, 'the subscriber offer has a video m-line with a=msid');
  t.ok(
    offered.every((m) => m.streamId === streamId),
    `a=msid stream id preserved on the subscriber side (${offered.map((m) => m.streamId).join(',')})`,
  );
  // werift keeps a remote track's stream id on its receiver (from a=msid).
  const receiver = bob.sub.getTransceivers().find((x) => x.receiver.track === video.track)?.receiver;
  t.equal(receiver?.remoteStreamId, streamId, "the subscriber track's stream id is the publisher's");
  t.ok(bob.tracks.every((x) => x.track.kind === 'video'), 'bob gets nothing but alice video');

  await waitFor('ion-sfu data channel on bob subscriber PC', () => bob.subChannels.some((c) => c.label === 'ion-sfu'));
  await waitFor('ion-sfu data channel on alice subscriber PC', () => alice.subChannels.some((c) => c.label === 'ion-sfu'));
  await waitFor('the ion-sfu channel opens at bob', () => bob.subChannels.some((c) => c.label === 'ion-sfu' && c.readyState === 'open'));
  t.pass('the SFU-created ion-sfu data channel reached both subscriber PCs and opened');
  t.same(sfu.rooms.get('werift')!.memberCount, 2, 'both in room werift');
  t.same([...alice.failures, ...bob.failures], [], 'no client-side negotiation failures');
  t.same([...alice.rpc.strayErrors, ...bob.rpc.strayErrors], [], 'no error replies to answer/trickle notifications');
  t.comment(`elapsed ${Date.now() - started} ms`);
});
