// ion-sdk-js 1.8.2 in Node: libwebrtc globals from @roamhq/wrtc and a `ws`
// WebSocket, then `join()`, a participant that joins a room through ion-sdk-js's
// Client and JSON-RPC signal, optionally publishes a synthetic camera (moving
// pixels) and microphone (a tone at `level`), and counts what it decodes per
// remote stream id. A test using it must also exit on 'beforeExit' (wrtc
// segfaults in native teardown; see test/interop/wrtc.test.ts).
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';

const g = globalThis as Record<string, unknown>;
g.MediaStream ??= wrtc.MediaStream;
g.RTCPeerConnection ??= wrtc.RTCPeerConnection;
g.RTCRtpSender ??= wrtc.RTCRtpSender;
g.WebSocket ??= WebSocket;
const { Client, LocalStream } = await import('ion-sdk-js');
const { IonSFUJSONRPCSignal } = await import('ion-sdk-js/lib/signal/json-rpc-impl.js');
const { nonstandard } = wrtc;

export interface Participant {
  name: string;
  client: InstanceType<typeof Client>;
  signal: InstanceType<typeof IonSFUJSONRPCSignal>;
  streamId?: string;
  /** Frames decoded per remote stream id. */
  frames: Map<string, number>;
  /** Last decoded frame size per remote stream id. */
  sizes: Map<string, string>;
  /** Audio samples received per remote stream id. */
  audio: Map<string, number>;
  speakers: string[][];
  messages: string[];
  stop(): void;
}

function source(width: number, height: number, level: number) {
  const video = new nonstandard.RTCVideoSource();
  const data = new Uint8ClampedArray((width * height * 3) / 2);
  let n = 0;
  const vt = setInterval(() => {
    n++;
    for (let i = 0; i < width * height; i += 7) data[i] = (i + n * 5) & 0xff;
    video.onFrame({ width, height, data });
  }, 33);
  const audio = new nonstandard.RTCAudioSource();
  const samples = new Int16Array(480);
  let phase = 0;
  const at = setInterval(() => {
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(level * Math.sin((phase++ * 2 * Math.PI * 300) / 48000));
    audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  }, 10);
  const tracks = [audio.createTrack(), video.createTrack()];
  return {
    tracks,
    stop: () => {
      clearInterval(vt);
      clearInterval(at);
      for (const tr of tracks) tr.stop();
    },
  };
}

export async function join(url: string, room: string, name: string, publish?: { width: number; height: number; level: number }): Promise<Participant> {
  const signal = new IonSFUJSONRPCSignal(url);
  const client = new Client(signal, { codec: 'vp8', iceServers: [] } as never);
  const p: Participant = { name, client, signal, frames: new Map(), sizes: new Map(), audio: new Map(), speakers: [], messages: [], stop: () => {} };
  const sinks: { stop(): void }[] = [];
  client.ontrack = (track: { kind: string }, stream: { id: string }) => {
    if (track.kind === 'video') {
      const sink = new nonstandard.RTCVideoSink(track);
      sink.onframe = (e: { frame: { width: number; height: number } }) => {
        p.frames.set(stream.id, (p.frames.get(stream.id) ?? 0) + 1);
        p.sizes.set(stream.id, `${e.frame.width}x${e.frame.height}`);
      };
      sinks.push(sink);
    } else {
      const sink = new nonstandard.RTCAudioSink(track);
      sink.ondata = (d: { samples: Int16Array }) => p.audio.set(stream.id, (p.audio.get(stream.id) ?? 0) + d.samples.length);
      sinks.push(sink);
    }
  };
  client.onspeaker = (ids: string[]) => p.speakers.push(ids);
  client.ondatachannel = (ev: RTCDataChannelEvent) => {
    ev.channel.onmessage = (m) => p.messages.push(String(m.data));
  };
  await new Promise<void>((resolve) => (signal.onopen = () => resolve()));
  await client.join(room, name);
  let src: ReturnType<typeof source> | undefined;
  if (publish) {
    src = source(publish.width, publish.height, publish.level);
    const ms = new wrtc.MediaStream(src.tracks);
    const local = new LocalStream(ms, { resolution: 'vga', codec: 'vp8', audio: true, video: true, simulcast: false } as never);
    // LocalStream is a new MediaStream (a new id) around the tracks; its id is what others see.
    p.streamId = (local as unknown as { id: string }).id;
    client.publish(local);
  }
  p.stop = () => {
    for (const s of sinks) s.stop();
    src?.stop();
    client.close();
  };
  return p;
}
