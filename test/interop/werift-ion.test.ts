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
import { once } from 'node:events';
import { WebSocket } from 'ws';
import * as sdpTransform from 'sdp-transform';
import {
  MediaStream,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  type MediaStreamTrack,
  type RTCDataChannel,
  type RTCIceCandidate,
  type RTCRtpTransceiver,
} from 'werift';
import { Sfu } from '../../src/sfu.js';
import { isLoopback, waitFor } from './echo.js';

type Json = Record<string, unknown>;
type RpcId = string | number;

/** A tiny ion-sfu JSON-RPC client: `{method, params, id}` frames, replies matched by id. */
class IonRpc {
  private nextId = 1;
  private readonly pending = new Map<RpcId, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Error frames that answered no call of ours (`answer`/`trickle` failures come with id 0). */
  readonly strayErrors: Json[] = [];
  onNotification: (method: string, params: Json) => void = () => {};

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.onFrame(String(data)));
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('socket closed'));
      this.pending.clear();
    });
  }

  static async connect(url: string): Promise<IonRpc> {
    const ws = new WebSocket(url);
    ws.on('error', () => {});
    await once(ws, 'open');
    return new IonRpc(ws);
  }

  private onFrame(text: string): void {
    const msg = JSON.parse(text) as Json;
    if (typeof msg.method === 'string') {
      this.onNotification(msg.method, msg.params as Json);
      return;
    }
    const id = msg.id as RpcId;
    const p = this.pending.get(id);
    if (!p) {
      if (msg.error !== undefined) this.strayErrors.push(msg);
      return;
    }
    this.pending.delete(id);
    if (msg.error !== undefined) p.reject(new Error(`rpc error: ${JSON.stringify(msg.error)}`));
    else p.resolve(msg.result);
  }

  call(method: string, params: Json, timeoutMs = 10_000): Promise<unknown> {
    // String ids, as ion-sdk-js sends (uuid v4 there).
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ method, params, id }));
    });
  }

  notify(method: string, params: Json): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ method, params }));
  }

  close(): void {
    this.ws.close();
  }
}

function newPc(): RTCPeerConnection {
  return new RTCPeerConnection({
    // Loopback only (see werift.test.ts).
    iceServers: [],
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceFilterCandidatePair: (pair) => pair.localCandidate.host === '127.0.0.1',
    bundlePolicy: 'max-bundle',
  });
}

/** A werift client behaving like ion-sdk-js: publisher PC (target 0) + subscriber PC (target 1). */
class WeriftIonClient {
  readonly pub = newPc();
  readonly sub = newPc();
  /** RTP packets received on the subscriber PC, per remote track. */
  readonly tracks: { track: MediaStreamTrack; packets: number }[] = [];
  readonly subChannels: RTCDataChannel[] = [];
  /** Every subscriber offer sfud sent, in order. */
  readonly subOffers: string[] = [];
  private negotiation: Promise<void> = Promise.resolve();
  readonly failures: string[] = [];
  private video: RTCRtpTransceiver | undefined;
  private timer: NodeJS.Timeout | undefined;
  sent = 0;

  private constructor(readonly rpc: IonRpc) {
    rpc.onNotification = (method, params) => {
      if (method === 'offer') this.negotiation = this.negotiation.then(() => this.onSubscriberOffer(params));
      else if (method === 'trickle') this.onRemoteTrickle(params);
    };
    this.sub.onTrack.subscribe((track) => {
      const entry = { track, packets: 0 };
      this.tracks.push(entry);
      track.onReceiveRtp.subscribe(() => entry.packets++);
    });
    this.sub.onDataChannel.subscribe((ch) => this.subChannels.push(ch));
    this.pub.onIceCandidate.subscribe((c) => this.trickle(0, c));
    this.sub.onIceCandidate.subscribe((c) => this.trickle(1, c));
  }

  static async connect(url: string): Promise<WeriftIonClient> {
    return new WeriftIonClient(await IonRpc.connect(url));
  }

  private trickle(target: 0 | 1, c: RTCIceCandidate | undefined): void {
    if (!c?.candidate) return;
    const j = c.toJSON();
    this.rpc.notify('trickle', {
      target,
      candidate: { candidate: j.candidate, sdpMid: j.sdpMid ?? null, sdpMLineIndex: j.sdpMLineIndex ?? null, usernameFragment: j.usernameFragment ?? null },
    });
  }

  private onRemoteTrickle(params: Json): void {
    const pc = params.target === 1 ? this.sub : this.pub;
    pc.addIceCandidate(params.candidate as never).catch((e: Error) => this.failures.push(`addIceCandidate: ${e.message}`));
  }

  private async onSubscriberOffer(params: Json): Promise<void> {
    try {
      const sdp = String(params.sdp);
      this.subOffers.push(sdp);
      await this.sub.setRemoteDescription({ type: 'offer', sdp });
      const answer = await this.sub.createAnswer();
      await this.sub.setLocalDescription(answer);
      // ion-sdk-js sends `answer` as a notification (no id).
      this.rpc.notify('answer', { desc: { type: 'answer', sdp: this.sub.localDescription!.sdp } });
    } catch (e) {
      this.failures.push(`subscriber offer: ${(e as Error).message}`);
    }
  }

  /** join: the publisher offer carries only the `ion-sfu` data channel, as ion-sdk-js's does. */
  async join(sid: string, uid: string): Promise<void> {
    this.pub.createDataChannel('ion-sfu');
    await this.pub.setLocalDescription(await this.pub.createOffer());
    const answer = (await this.rpc.call('join', { sid, uid, offer: { type: 'offer', sdp: this.pub.localDescription!.sdp } })) as Json;
    if (answer.type !== 'answer' || typeof answer.sdp !== 'string') throw new Error(`bad join result ${JSON.stringify(answer)}`);
    await this.pub.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /** Adds a sendonly VP8 transceiver in stream `streamId` and renegotiates with `offer`. */
  async publishVideo(streamId: string): Promise<void> {
    this.video = this.pub.addTransceiver('video', { direction: 'sendonly', streams: [new MediaStream({ id: streamId })] });
    await this.pub.setLocalDescription(await this.pub.createOffer());
    const answer = (await this.rpc.call('offer', { desc: { type: 'offer', sdp: this.pub.localDescription!.sdp } })) as Json;
    await this.pub.setRemoteDescription({ type: 'answer', sdp: String(answer.sdp) });
  }

  /** Synthetic VP8 at 50 packets/s, one packet per frame, a keyframe every 25. */
  startSending(): void {
    const sender = this.video!.sender;
    let seq = 100;
    let ts = 9000;
    this.timer = setInterval(() => {
      const n = this.sent++;
      const header = new RtpHeader({ sequenceNumber: seq++ & 0xffff, timestamp: (ts += 1800) >>> 0, marker: true });
      void sender.sendRtp(new RtpPacket(header, vp8Payload(n % 25 === 0)));
    }, 20);
  }

  close(): void {
    clearInterval(this.timer);
    this.rpc.close();
    void this.pub.close();
    void this.sub.close();
  }
}

/** A VP8 payload descriptor (S=1, PID 0) and a 160x120 key frame header, or a delta frame. */
function vp8Payload(key: boolean): Buffer {
  const frame = Buffer.alloc(200, 0x5a);
  if (key) {
    // Frame tag with P=0 (key frame), start code, 160x120.
    Buffer.from([0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0xa0, 0x00, 0x78, 0x00]).copy(frame);
  } else {
    frame[0] = 0x01; // P=1: interframe
  }
  return Buffer.concat([Buffer.from([0x10]), frame]);
}

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
