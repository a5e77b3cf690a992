/**
 * The baseline: the SFU a TypeScript developer would write with werift in an
 * afternoon, as its own process. It speaks the same ion-sfu JSON-RPC over
 * WebSocket as sfud (`join`, `offer`, `answer`, `trickle`; server `offer` and
 * `trickle` notifications), so the load generator drives both unchanged.
 *
 * One werift RTCPeerConnection per participant per direction, as ion-sfu has:
 * the publisher connection (the client offers) and the subscriber connection
 * (we offer). Each incoming track is forwarded to every other participant's
 * subscriber connection by `onReceiveRtp` -> `sender.sendRtp`, and a
 * subscriber's PLI goes back to the publisher. Adding tracks renegotiates the
 * subscriber connection (one offer outstanding at a time, as ion-sfu).
 *
 * Honest, not a straw man: no artificial work, werift's defaults otherwise.
 * Not done (the bench needs none of it): the `ion-sfu` data channel, track
 * removal on leave, simulcast, audio levels.
 *
 *   node dist/bench/servers/werift-naive.js --listen 127.0.0.1:7100 [--host 127.0.0.1]
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { RTCPeerConnection, type MediaStreamTrack, type RTCRtpReceiver, type RTCRtpSender } from 'werift';

type Json = Record<string, unknown>;

interface Published {
  owner: Peer;
  track: MediaStreamTrack;
  receiver: RTCRtpReceiver;
  /** Unsubscribe functions of the forwarders reading this track. */
  forwarders: (() => void)[];
}

interface Peer {
  ws: WebSocket;
  uid: string;
  room: Room;
  pub: RTCPeerConnection;
  sub: RTCPeerConnection;
  /** Unsubscribe functions of the forwarders feeding this peer. */
  forwarders: (() => void)[];
  awaitingAnswer: boolean;
  negotiationPending: boolean;
  negotiateScheduled: boolean;
  closed: boolean;
}

interface Room {
  sid: string;
  peers: Set<Peer>;
  tracks: Published[];
}

const { values } = parseArgs({
  options: { listen: { type: 'string', default: '127.0.0.1:7100' }, host: { type: 'string', default: '127.0.0.1' } },
});
const [listenHost, listenPort] = (() => {
  const i = values.listen.lastIndexOf(':');
  return [values.listen.slice(0, i), Number(values.listen.slice(i + 1))] as const;
})();
const iceHost = values.host;
const rooms = new Map<string, Room>();

function newPc(): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    iceUseIpv6: false,
    // Loopback only: werift skips loopback interfaces unless told, and must not pair anything else.
    iceAdditionalHostAddresses: [iceHost],
    iceFilterCandidatePair: (pair) => pair.localCandidate.host === iceHost,
    bundlePolicy: 'max-bundle',
  });
}

function send(ws: WebSocket, msg: Json): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ ...msg, jsonrpc: '2.0' }));
}

function trickle(peer: Peer, target: 0 | 1, candidate: { candidate?: string; sdpMid?: string; sdpMLineIndex?: number } | undefined): void {
  if (!candidate?.candidate || !candidate.candidate.includes(` ${iceHost} `)) return;
  send(peer.ws, {
    method: 'trickle',
    params: { target, candidate: { candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? '', sdpMLineIndex: candidate.sdpMLineIndex ?? 0, usernameFragment: null } },
  });
}

/** Sends `track` to `peer` through a new sendonly transceiver on its subscriber connection. */
function addDownTrack(peer: Peer, p: Published): void {
  const sender: RTCRtpSender = peer.sub.addTransceiver(p.track.kind, { direction: 'sendonly' }).sender;
  const { unSubscribe } = p.track.onReceiveRtp.subscribe((rtp) => {
    void sender.sendRtp(rtp);
  });
  peer.forwarders.push(unSubscribe);
  p.forwarders.push(unSubscribe);
  sender.onPictureLossIndication.subscribe(() => {
    if (p.track.ssrc) void p.receiver.sendRtcpPLI(p.track.ssrc);
  });
}

/** Coalesces the tracks added in one turn into one offer. */
function scheduleNegotiation(peer: Peer): void {
  if (peer.negotiateScheduled) return;
  peer.negotiateScheduled = true;
  setImmediate(() => {
    peer.negotiateScheduled = false;
    void negotiate(peer);
  });
}

async function negotiate(peer: Peer): Promise<void> {
  if (peer.closed) return;
  if (peer.awaitingAnswer) {
    peer.negotiationPending = true;
    return;
  }
  peer.awaitingAnswer = true;
  try {
    await peer.sub.setLocalDescription(await peer.sub.createOffer());
    send(peer.ws, { method: 'offer', params: { type: 'offer', sdp: peer.sub.localDescription!.sdp } });
  } catch (err) {
    peer.awaitingAnswer = false;
    process.stderr.write(`negotiate ${peer.uid}: ${(err as Error).message}\n`);
  }
}

function publish(owner: Peer, track: MediaStreamTrack, receiver: RTCRtpReceiver): void {
  const p: Published = { owner, track, receiver, forwarders: [] };
  owner.room.tracks.push(p);
  for (const peer of owner.room.peers) {
    if (peer === owner || peer.closed) continue;
    addDownTrack(peer, p);
    scheduleNegotiation(peer);
  }
}

async function join(ws: WebSocket, params: Json): Promise<Json> {
  const sid = String(params.sid ?? '');
  const uid = String(params.uid ?? '');
  const offer = params.offer as { sdp?: unknown } | undefined;
  if (!sid || typeof offer?.sdp !== 'string') throw new Error('join needs sid and offer');
  let room = rooms.get(sid);
  if (!room) {
    room = { sid, peers: new Set(), tracks: [] };
    rooms.set(sid, room);
  }
  const peer: Peer = {
    ws,
    uid,
    room,
    pub: newPc(),
    sub: newPc(),
    forwarders: [],
    awaitingAnswer: false,
    negotiationPending: false,
    negotiateScheduled: false,
    closed: false,
  };
  peers.set(ws, peer);
  peer.pub.onIceCandidate.subscribe((c) => trickle(peer, 0, c?.toJSON()));
  peer.sub.onIceCandidate.subscribe((c) => trickle(peer, 1, c?.toJSON()));
  peer.pub.ontrack = (ev) => publish(peer, ev.track, ev.receiver);
  await peer.pub.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
  await peer.pub.setLocalDescription(await peer.pub.createAnswer());
  room.peers.add(peer);
  for (const p of room.tracks) if (p.owner !== peer) addDownTrack(peer, p);
  if (peer.forwarders.length > 0) scheduleNegotiation(peer);
  return { type: 'answer', sdp: peer.pub.localDescription!.sdp };
}

const peers = new Map<WebSocket, Peer>();

async function handle(ws: WebSocket, msg: Json): Promise<Json | undefined> {
  const params = (msg.params ?? {}) as Json;
  const peer = peers.get(ws);
  switch (msg.method) {
    case 'join':
      if (peer) throw new Error('rtc transport already exists for this connection');
      return join(ws, params);
    case 'offer': {
      if (!peer) throw new Error('no rtc transport exists for this Peer');
      const desc = params.desc as { sdp: string };
      await peer.pub.setRemoteDescription({ type: 'offer', sdp: desc.sdp });
      await peer.pub.setLocalDescription(await peer.pub.createAnswer());
      return { type: 'answer', sdp: peer.pub.localDescription!.sdp };
    }
    case 'answer': {
      if (!peer) throw new Error('no rtc transport exists for this Peer');
      const desc = params.desc as { sdp: string };
      await peer.sub.setRemoteDescription({ type: 'answer', sdp: desc.sdp });
      peer.awaitingAnswer = false;
      if (peer.negotiationPending) {
        peer.negotiationPending = false;
        void negotiate(peer);
      }
      return undefined;
    }
    case 'trickle': {
      if (!peer) throw new Error('no rtc transport exists for this Peer');
      const pc = params.target === 1 ? peer.sub : peer.pub;
      await pc.addIceCandidate(params.candidate as never);
      return undefined;
    }
    default:
      return undefined;
  }
}

function leave(ws: WebSocket): void {
  const peer = peers.get(ws);
  if (!peer) return;
  peers.delete(ws);
  peer.closed = true;
  peer.room.peers.delete(peer);
  // Stop feeding others from this peer's tracks (no renegotiation: the bench never needs it).
  for (const p of peer.room.tracks) if (p.owner === peer) for (const off of p.forwarders) off();
  peer.room.tracks = peer.room.tracks.filter((p) => p.owner !== peer);
  for (const off of peer.forwarders) off();
  if (peer.room.peers.size === 0) rooms.delete(peer.room.sid);
  void peer.pub.close();
  void peer.sub.close();
}

const http = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/health' ? 'ok\n' : '');
});
const wss = new WebSocketServer({ server: http, path: '/ws' });
wss.on('connection', (ws) => {
  // ion-sfu handles one socket's requests strictly in order.
  let chain = Promise.resolve();
  ws.on('message', (data) => {
    let msg: Json;
    try {
      msg = JSON.parse(String(data)) as Json;
    } catch {
      ws.close();
      return;
    }
    chain = chain.then(async () => {
      try {
        const result = await handle(ws, msg);
        if (msg.id !== undefined && result !== undefined) send(ws, { id: msg.id, result });
      } catch (err) {
        send(ws, { id: msg.id ?? 0, error: { code: 500, message: (err as Error).message, data: null } });
      }
    });
  });
  ws.on('close', () => leave(ws));
});
http.listen(listenPort, listenHost, () => process.stderr.write(`werift-naive listening on ${listenHost}:${listenPort}\n`));
const stop = (): void => {
  for (const ws of peers.keys()) leave(ws);
  wss.close();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
