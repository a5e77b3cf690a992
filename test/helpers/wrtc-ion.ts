// libwebrtc (@roamhq/wrtc) peers speaking ion-sfu JSON-RPC, for the
// simulcast and bandwidth tests: a publisher sending three rid encodings
// (q/h/f at 1/4, 1/2 and full width) of a moving picture, and viewers that
// decode what sfud sends them and talk on the ion-sfu data channel.
// A test file using these must exit explicitly (wrtc segfaults on a natural
// exit): see test/interop/wrtc.test.ts.
import wrtc from '@roamhq/wrtc';
import { IonRpc } from './ion-rpc.js';

const { RTCPeerConnection, nonstandard } = wrtc;

type SessionDescription = { type: string; sdp: string };
type Channel = { label: string; readyState: string; send(m: string): void; onmessage: ((m: { data: string }) => void) | null };
export type Layer = 'low' | 'medium' | 'high';

export interface Viewer {
  uid: string;
  frames: { at: number; width: number }[];
  /** The video tracks received, by id, with the stream they belong to. */
  videoTracks: { id: string; streamId: string | undefined }[];
  api: Channel | undefined;
  /** Every data channel sfud opened toward this viewer (the `ion-sfu` one and fanned-out ones). */
  channels: Channel[];
  activeLayers: string[];
  prefer(streamId: string, video: Layer): void;
  /** Receive-side statistics of the video tracks, or of the one track `trackId` (packets received and lost, frames decoded). */
  inbound(trackId?: string): Promise<{ packetsReceived: number; packetsLost: number; framesDecoded: number }>;
  /** Stops handing decoded frames to JavaScript (each is a copy of the picture: load on the test process). */
  stopFrames(): void;
  close(): void;
}

export interface ViewerOptions {
  /** Rewrites sfud's subscriber offer before it is applied (e.g. to send media through a relay). */
  mungeOffer?: (sdp: string) => string;
}

export async function viewer(url: string, sid: string, uid: string, opts: ViewerOptions = {}): Promise<Viewer> {
  const pub = new RTCPeerConnection();
  const sub = new RTCPeerConnection();
  const rpc = await IonRpc.connect(url);
  // One per video track: each must be stopped, or its native handle keeps the process alive.
  const sinks: { stop(): void }[] = [];
  const v: Viewer = {
    uid,
    frames: [],
    videoTracks: [],
    api: undefined,
    channels: [],
    activeLayers: [],
    prefer(streamId, video) {
      v.api!.send(JSON.stringify({ streamId, video, framerate: 'high', audio: true }));
    },
    async inbound(trackId) {
      const out = { packetsReceived: 0, packetsLost: 0, framesDecoded: 0 };
      (await sub.getStats()).forEach((x: Record<string, number | string>) => {
        if (x.type !== 'inbound-rtp' || x.kind !== 'video') return;
        if (trackId !== undefined && x.trackIdentifier !== trackId) return;
        out.packetsReceived += Number(x.packetsReceived ?? 0);
        out.packetsLost += Number(x.packetsLost ?? 0);
        out.framesDecoded += Number(x.framesDecoded ?? 0);
      });
      return out;
    },
    stopFrames() {
      for (const s of sinks.splice(0)) s.stop();
    },
    close() {
      for (const s of sinks) s.stop();
      pub.close();
      sub.close();
      rpc.close();
    },
  };
  sub.ontrack = (e: { track: { kind: string; id: string }; streams: { id: string }[] }) => {
    if (e.track.kind !== 'video') return;
    v.videoTracks.push({ id: e.track.id, streamId: e.streams[0]?.id });
    const s = new nonstandard.RTCVideoSink(e.track);
    s.onframe = ({ frame }: { frame: { width: number } }) => v.frames.push({ at: Date.now(), width: frame.width });
    sinks.push(s);
  };
  sub.ondatachannel = (e: { channel: Channel }) => {
    v.channels.push(e.channel);
    if (e.channel.label !== 'ion-sfu') return;
    v.api = e.channel;
    e.channel.onmessage = (m) => {
      const msg = JSON.parse(m.data) as { method?: string; params?: { activeLayer?: string } };
      if (msg.method === 'activeLayer' && msg.params?.activeLayer) v.activeLayers.push(msg.params.activeLayer);
    };
  };
  rpc.onNotification = (method, params) => {
    if (method !== 'offer' || !params) return;
    void (async () => {
      const sdp = (params as { sdp: string }).sdp;
      await sub.setRemoteDescription({ type: 'offer', sdp: opts.mungeOffer ? opts.mungeOffer(sdp) : sdp });
      await sub.setLocalDescription(await sub.createAnswer());
      rpc.notify('answer', { desc: { type: 'answer', sdp: sub.localDescription.sdp } });
    })();
  };
  pub.createDataChannel('ion-sfu');
  await pub.setLocalDescription(await pub.createOffer());
  const answer = (await rpc.call('join', { sid, uid, offer: { type: 'offer', sdp: pub.localDescription.sdp } })) as SessionDescription;
  await pub.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  return v;
}

/** Frames decoded after `from` ms, with the longest gap between two of them. */
export function framesSince(v: Viewer, from: number) {
  const frames = v.frames.filter((f) => f.at >= from);
  let maxGap = frames.length > 0 ? frames[0]!.at - from : Infinity;
  for (let i = 1; i < frames.length; i++) maxGap = Math.max(maxGap, frames[i]!.at - frames[i - 1]!.at);
  return { frames, maxGap };
}

export interface SimulcastPublisher {
  streamId: string;
  offerSdp: string;
  answerSdp: string;
  close(): void;
}

/**
 * Publishes a `width` x `height` moving picture at `fps` as three rid
 * encodings (q, h, f). `picture`: 'noise' (default) changes every 7th pixel
 * to a new value each frame: hard to encode, so each layer runs near its
 * maximum bitrate (what a bandwidth test needs), but libvpx then skips
 * frames of a layer for a second or more after each keyframe. 'pan' slides
 * a gradient across the picture: every pixel moves, motion compensation
 * finds it, and the encoder keeps its frame rate through keyframes (what a
 * freeze test needs).
 */
export async function simulcastPublisher(url: string, sid: string, o: { width: number; height: number; fps: number; picture?: 'noise' | 'pan' }): Promise<SimulcastPublisher> {
  const { width, height, fps } = o;
  const source = new nonstandard.RTCVideoSource();
  const data = new Uint8ClampedArray((width * height * 3) / 2);
  let n = 0;
  const timer = setInterval(() => {
    n++;
    if (o.picture === 'pan') {
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = (x + y + n * 4) & 0xff;
    } else {
      for (let i = 0; i < width * height; i += 7) data[i] = (i * 13 + n * 17) & 0xff;
    }
    source.onFrame({ width, height, data });
  }, 1000 / fps);
  const track = source.createTrack();
  const stream = new wrtc.MediaStream([track]);
  const pubPc = new RTCPeerConnection();
  const pubRpc = await IonRpc.connect(url);
  pubPc.createDataChannel('ion-sfu');
  // The rid names ion-sdk-js uses.
  pubPc.addTransceiver(track, {
    direction: 'sendonly',
    streams: [stream],
    sendEncodings: [
      { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { rid: 'f', maxBitrate: 1_500_000 },
    ],
  });
  await pubPc.setLocalDescription(await pubPc.createOffer());
  const pubAnswer = (await pubRpc.call('join', { sid, uid: 'pub', offer: { type: 'offer', sdp: pubPc.localDescription.sdp } })) as SessionDescription;
  await pubPc.setRemoteDescription({ type: 'answer', sdp: pubAnswer.sdp });

  const offerSdp = pubPc.localDescription.sdp as string;
  return {
    streamId: stream.id,
    offerSdp,
    answerSdp: pubAnswer.sdp,
    close() {
      clearInterval(timer);
      pubPc.close();
      track.stop();
      pubRpc.close();
    },
  };
}
