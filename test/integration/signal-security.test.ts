// Signalling security over real sockets, in process: TLS (wss/https), join
// tokens (viewer, expired, wrong room, admin), the Origin allow-list, per-
// address rate limits, size and count limits, JoinConfig NoPublish /
// NoSubscribe, and that every refusal is counted. Joins use captured SDP
// offers; no media has to flow for any of this.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { once } from 'node:events';
import { WebSocket, type ClientOptions } from 'ws';
import { Sfu, type SfuOptions } from '../../src/sfu.js';
import { signToken } from '../../src/signal/auth.js';
import { IonRpc, upgradeStatus, type Json } from '../helpers/ion-rpc.js';
import { WeriftIonClient } from '../helpers/werift-ion.js';
import { isLoopback, waitFor } from '../interop/echo.js';
import { FIXTURES } from '../helpers/paths.js';

const sdpDir = `${FIXTURES}sdp/`;
/** ion-sdk-js's join offer: only the `ion-sfu` data channel. */
const DATA_ONLY = readFileSync(joinPath(sdpDir, 'chromium-join-datachannel.sdp'), 'utf8');
/** A publisher's offer: audio and video, sendonly. */
const CAMERA = readFileSync(joinPath(sdpDir, 'chromium-camera-mic.sdp'), 'utf8');
const SECRET = 'a-test-secret-that-is-32-bytes-long!';

async function start(t: Test, config: SfuOptions['config'] = {}, opts: Omit<SfuOptions, 'config'> = {}): Promise<{ sfu: Sfu; ws: string }> {
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0, ...config }, ...opts });
  t.teardown(() => sfu.close());
  return { sfu, ws: `${sfu.httpUrl.replace(/^http/, 'ws')}/ws` };
}

async function connect(t: Test, url: string, opts?: ClientOptions): Promise<IonRpc> {
  const rpc = await IonRpc.connect(url, opts);
  t.teardown(() => rpc.close());
  return rpc;
}

const join = (rpc: IonRpc, sid: string, uid: string, sdp = DATA_ONLY, extra: Json = {}): Promise<unknown> =>
  rpc.call('join', { sid, uid, offer: { type: 'offer', sdp }, ...extra });

t.test('TLS: wss join and https /ready with a self-signed certificate', async (t) => {
  const dir = mkdtempSync(joinPath(tmpdir(), 'sfud-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = joinPath(dir, 'cert.pem');
  const key = joinPath(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const { sfu, ws } = await start(t, { tlsCert: cert, tlsKey: key });
  t.match(sfu.httpUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.match(ws, /^wss:/);
  const ca = readFileSync(cert);
  const rpc = await connect(t, ws, { ca });
  const answer = (await join(rpc, 'tls', 'alice', CAMERA)) as Json;
  t.equal(answer.type, 'answer');
  t.match(String(answer.sdp), /m=audio/);

  const status = await new Promise<number>((resolve, reject) => {
    request(`${sfu.httpUrl}/ready`, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
  t.equal(status, 200);
  // A client that does not trust the certificate never gets a socket.
  const untrusted = new WebSocket(ws);
  const [err] = (await once(untrusted, 'error')) as [Error & { code?: string }];
  t.match(err.code, /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
});

t.test('metrics on a separate port (ion-sfu -m)', async (t) => {
  const { sfu } = await start(t, { metricsListen: { host: '127.0.0.1', port: 0 } });
  const url = sfu.metricsUrl;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(url, sfu.httpUrl);
  const res = await fetch(`${url}/metrics`);
  t.equal(res.status, 200);
  t.match(await res.text(), /^sfud_rooms /m);
  t.equal((await fetch(`${url}/rpc`, { method: 'POST' })).status, 404, 'nothing else is served there');
  t.equal((await fetch(`${sfu.httpUrl}/metrics`)).status, 404, 'and only there, as ion-sfu -m does');
});

t.test('tokens: missing, bad, expired, wrong room, wrong uid', async (t) => {
  const { sfu, ws } = await start(t, { jwtSecret: SECRET });
  const rpc = await connect(t, ws);
  await t.rejects(join(rpc, 'r1', 'alice'), /"code":401,"message":"a token is required/);
  const other = await signToken({ room: 'r1' }, 'another-secret-that-is-32-bytes-long', 60);
  await t.rejects(join(rpc, 'r1', 'alice', DATA_ONLY, { token: other }), /"code":401,"message":"invalid token: signature verification failed"/);
  const expired = await signToken({ room: 'r1' }, SECRET, -60);
  await t.rejects(join(rpc, 'r1', 'alice', DATA_ONLY, { token: expired }), /"code":401,"message":"token expired"/);
  const r2 = await signToken({ room: 'r2' }, SECRET, 60);
  await t.rejects(join(rpc, 'r1', 'alice', DATA_ONLY, { token: r2 }), /"code":403,"message":"the token is not for this room"/);
  const bob = await signToken({ room: 'r1', uid: 'bob' }, SECRET, 60);
  await t.rejects(join(rpc, 'r1', 'alice', DATA_ONLY, { token: bob }), /"code":403,"message":"the token is not for this uid"/);
  t.equal(sfu.rooms.list.length, 0, 'no refused join got into a room');

  // The same socket joins once a good token comes (a refused join leaves it un-joined).
  const good = await signToken({ room: 'r1', uid: 'alice' }, SECRET, 60);
  t.match(await join(rpc, 'r1', 'alice', DATA_ONLY, { token: good }), { type: 'answer' });
  const r = sfu.refusals.snapshot();
  t.match(r, { tokenMissing: 1, tokenInvalid: 1, tokenExpired: 1, wrongRoom: 1, wrongUid: 1 });

  // The token can come in the URL (what ion-sdk-js can do); a join param wins over it.
  const url = await connect(t, `${ws}?token=${await signToken({ room: 'r3' }, SECRET, 60)}`);
  t.match(await join(url, 'r3', 'carol'), { type: 'answer' });
  const both = await connect(t, `${ws}?token=${await signToken({ room: 'r3' }, SECRET, 60)}`);
  await t.rejects(join(both, 'r3', 'dave', DATA_ONLY, { token: r2 }), /"code":403/);
});

t.test('a viewer token cannot publish; canSubscribe false is offered no tracks', async (t) => {
  const { sfu, ws } = await start(t, { jwtSecret: SECRET });
  const viewerToken = await signToken({ room: 'show', canPublish: false }, SECRET, 60);
  const viewer = await connect(t, `${ws}?token=${viewerToken}`);
  await t.rejects(join(viewer, 'show', 'v1', CAMERA), /"code":403,"message":"the token does not allow publishing"/);
  // ion-sdk-js's join offer sends nothing: a viewer joins with it ...
  t.match(await join(viewer, 'show', 'v1', DATA_ONLY), { type: 'answer' });
  // ... and is refused when it tries to publish.
  await t.rejects(viewer.call('offer', { desc: { type: 'offer', sdp: CAMERA } }), /"code":403,"message":"the token does not allow publishing"/);
  const v2 = await connect(t, `${ws}?token=${viewerToken}`);
  t.equal(await join(v2, 'show', 'v2', 'v=0', { config: { NoPublish: true } }), null, 'NoPublish: no publisher, result null');
  t.equal(sfu.refusals.get('publishForbidden'), 2);

  // A publisher in the room; a canSubscribe:false peer gets a subscriber offer without its tracks.
  const pub = await connect(t, `${ws}?token=${await signToken({ room: 'show' }, SECRET, 60)}`);
  await join(pub, 'show', 'host', CAMERA);
  const offers = async (token: string, uid: string): Promise<string> => {
    const rpc = await connect(t, `${ws}?token=${token}`);
    const first = new Promise<string>((resolve) => (rpc.onNotification = (m, p) => m === 'offer' && resolve(String(p.sdp))));
    await join(rpc, 'show', uid);
    return first;
  };
  const blind = await offers(await signToken({ room: 'show', canSubscribe: false }, SECRET, 60), 'blind');
  const seeing = await offers(await signToken({ room: 'show' }, SECRET, 60), 'seeing');
  t.notMatch(blind, /m=(audio|video)/, 'canSubscribe false: only the data channel');
  t.match(seeing, /m=audio[\s\S]*m=video/, 'a normal token gets the publisher\'s tracks');
});

t.test('HTTP JSON-RPC needs an admin token when tokens are on', async (t) => {
  const { sfu } = await start(t, { jwtSecret: SECRET });
  const ping = (auth?: string): Promise<Response> =>
    fetch(`${sfu.httpUrl}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
  let res = await ping();
  t.equal(res.status, 401);
  t.equal(res.headers.get('www-authenticate'), 'Bearer');
  t.match(await res.json(), { error: { message: /admin token is required/ } });
  res = await ping(`Bearer ${await signToken({ room: 'x' }, SECRET, 60)}`);
  t.equal(res.status, 403);
  t.match(await res.json(), { error: { message: 'the token has no admin claim' } });
  res = await ping(`Bearer ${await signToken({ admin: true }, SECRET, -60)}`);
  t.equal(res.status, 401, 'expired');
  res = await ping(`Bearer ${await signToken({ admin: true }, SECRET, 60)}`);
  t.equal(res.status, 200);
  t.match(await res.json(), { result: { pong: true } });
  t.equal(sfu.refusals.get('adminToken'), 3);
});

t.test('Origin allow-list: others get 403, clients without Origin pass', async (t) => {
  const { sfu, ws } = await start(t, { allowedOrigins: ['https://app.example.com'] });
  t.equal(await upgradeStatus(ws, { headers: { Origin: 'https://evil.example.com' } }), 403);
  t.equal(await upgradeStatus(ws, { headers: { Origin: 'https://app.example.com' } }), 101);
  t.equal(await upgradeStatus(ws), 101);
  t.equal(sfu.refusals.get('origin'), 1);
});

t.test('per-address rate limits on connections and joins', async (t) => {
  const { sfu, ws } = await start(t, { rateLimitExempt: [], ipJoinRate: 0.01, ipJoinBurst: 2, ipConnectionRate: 0.01, ipConnectionBurst: 4 });
  const sockets = [await connect(t, ws), await connect(t, ws), await connect(t, ws)];
  t.match(await join(sockets[0]!, 'rl', 'a'), { type: 'answer' });
  t.match(await join(sockets[1]!, 'rl', 'b'), { type: 'answer' });
  await t.rejects(join(sockets[2]!, 'rl', 'c'), /"code":429,"message":"too many joins from this address/);
  t.equal(await upgradeStatus(ws), 101, 'the 4th connection is in the burst');
  t.equal(await upgradeStatus(ws), 429, 'the 5th is not');
  t.match(sfu.refusals.snapshot(), { joinRate: 1, connectionRate: 1 });
  // Loopback is exempt by default: many joins from 127.0.0.1 pass.
  const { ws: ws2 } = await start(t, { ipJoinRate: 0.01, ipJoinBurst: 1 });
  for (const uid of ['a', 'b', 'c']) t.match(await join(await connect(t, ws2), 'ex', uid), { type: 'answer' });
});

t.test('size and count limits', async (t) => {
  const { sfu, ws } = await start(t, { maxSdpBytes: 4096, maxTracksPerPeer: 1, maxCandidatesPerTransport: 2, maxPeersPerRoom: 2 });
  const a = await connect(t, ws);
  await t.rejects(join(a, 'lim', 'a', CAMERA), /"code":413,"message":"SDP larger than 4096 bytes"/);
  const { ws: ws2 } = await start(t, { maxTracksPerPeer: 1 });
  await t.rejects(join(await connect(t, ws2), 'lim', 'a', CAMERA), /"code":413,"message":"too many tracks: 2 sending media sections, at most 1"/);

  t.match(await join(a, 'lim', 'a'), { type: 'answer' });
  const candidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null };
  t.equal(await a.call('trickle', { target: 0, candidate }), null);
  t.equal(await a.call('trickle', { target: 0, candidate }), null);
  await t.rejects(a.call('trickle', { target: 0, candidate }), /"code":413,"message":"too many candidates: at most 2 per transport"/);
  t.equal(await a.call('trickle', { target: 1, candidate }), null, 'the other transport has its own count');

  t.match(await join(await connect(t, ws), 'lim', 'b'), { type: 'answer' });
  await t.rejects(join(await connect(t, ws), 'lim', 'c'), /"code":429,"message":"the room is full \(2 peers\)"/);
  t.match(await join(await connect(t, ws), 'lim', 'b'), { type: 'answer' }, 'a uid already in the room may rejoin (it replaces itself)');
  t.match(sfu.refusals.snapshot(), { sdpTooLarge: 1, tooManyCandidates: 1, roomFull: 1 });
});

t.test('peers per room holds under concurrent joins', async (t) => {
  // In worker shards occupancy is a message round trip: the case where checks run side by side.
  const { sfu, ws } = await start(t, { maxPeersPerRoom: 3, shards: 1 });
  const sockets = await Promise.all(Array.from({ length: 8 }, () => connect(t, ws)));
  // All eight at once: each check awaits the room's occupancy, so without a per-room gate they all saw it empty.
  const outcomes = await Promise.allSettled(sockets.map((s, i) => join(s, 'burst', `u${i}`)));
  const joined = outcomes.filter((o) => o.status === 'fulfilled').length;
  t.equal(joined, 3, `exactly 3 of 8 concurrent joins got in (${joined})`);
  t.ok(
    outcomes.every((o) => o.status === 'fulfilled' || /the room is full \(3 peers\)/.test(String(o.reason))),
    'the others were told the room is full',
  );
  t.equal((await sfu.getRoom('burst'))?.peers.length, 3, 'and the room holds 3');
  t.match(sfu.refusals.snapshot(), { roomFull: 5 });
});

t.test('data channels over the per-peer limit are closed at once and counted', async (t) => {
  const { sfu, ws } = await start(t, { maxDataChannelsPerPeer: 1 }, { acceptRemote: isLoopback });
  const client = await WeriftIonClient.connect(ws);
  t.teardown(() => client.close());
  await client.join('dc', 'alice');
  await waitFor('publisher connected', () => client.pub.connectionState === 'connected', 10_000);
  const channels = ['one', 'two', 'three'].map((label) => client.pub.createDataChannel(label));
  await waitFor('two refusals', () => sfu.refusals.get('tooManyDataChannels') === 2, 10_000);
  await waitFor('the refused channels closed', () => channels[1]!.readyState === 'closed' && channels[2]!.readyState === 'closed', 10_000);
  t.equal(channels[0]!.readyState, 'open', 'the first, within the limit, stays open');
  // NOTE: a werift DTLS client closed mid-handshake retransmits forever and keeps
  // this process alive: let the subscriber connection finish connecting first.
  await waitFor('subscriber connected', () => client.sub.connectionState === 'connected', 10_000);
});

t.test('JoinConfig NoPublish and NoSubscribe are honoured', async (t) => {
  const { sfu, ws } = await start(t);
  const np = await connect(t, ws);
  const npOffer = new Promise<string>((resolve) => (np.onNotification = (m, p) => m === 'offer' && resolve(String(p.sdp))));
  t.equal(await join(np, 'cfg', 'np', 'v=0', { config: { NoPublish: true } }), null, 'no publisher: result null, the offer is not even parsed');
  t.match(await npOffer, /m=application/, 'the subscriber side still works');
  await t.rejects(np.call('offer', { desc: { type: 'offer', sdp: CAMERA } }), /no rtc transport exists for this Peer/);
  const candidate = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null };
  await t.rejects(np.call('trickle', { target: 0, candidate }), /no rtc transport exists for this Peer/);

  const ns = await connect(t, ws);
  let offered = false;
  ns.onNotification = (m) => (offered ||= m === 'offer');
  t.match(await join(ns, 'cfg', 'ns', CAMERA, { config: { NoSubscribe: true } }), { type: 'answer' });
  await t.rejects(ns.call('answer', { desc: { type: 'answer', sdp: 'v=0' } }), /no rtc transport exists for this Peer/);
  await t.rejects(ns.call('trickle', { target: 1, candidate }), /no rtc transport exists for this Peer/);
  await new Promise((r) => setTimeout(r, 600));
  t.notOk(offered, 'NoSubscribe: no subscriber offer, though a publisher is in the room');
  t.equal(sfu.rooms.get('cfg')?.memberCount, 2);
  t.equal(sfu.webRtcServer.transportCount, 2, 'one transport each');
});

t.test('drain: notification, joins refused, ends when the last call leaves', async (t) => {
  const { sfu, ws } = await start(t);
  const joined = await connect(t, ws);
  await join(joined, 'd', 'stay');
  const idle = await connect(t, ws);
  const notices: Json[] = [];
  joined.onNotification = (m, p) => m === 'draining' && notices.push(p);
  const before = Date.now();
  const drained = sfu.drain(10_000);
  await t.rejects(join(idle, 'd', 'late'), /"code":503,"message":"server is draining/);
  t.equal(await upgradeStatus(ws), 503, 'new sockets get 503');
  const ready = await fetch(`${sfu.httpUrl}/ready`);
  t.equal(ready.status, 503);
  t.match(await ready.json(), { ready: false, draining: true });
  t.equal((await fetch(`${sfu.httpUrl}/health`)).status, 200, 'still alive');
  t.equal(notices.length, 1);
  t.ok(Number(notices[0]!.deadline) >= before + 10_000 && notices[0]!.timeoutMs === 10_000, JSON.stringify(notices[0]));
  joined.close();
  t.same(await drained, { peersLeft: 0, timedOut: false });
  t.match(sfu.refusals.snapshot(), { draining: 2 });
});

t.test('drain: the timeout closes calls that stay', async (t) => {
  const { sfu, ws } = await start(t);
  const rpc = await connect(t, ws);
  await join(rpc, 'd', 'stay');
  const closed = once(rpc.ws, 'close');
  t.same(await sfu.drain(300), { peersLeft: 1, timedOut: true });
  const [code] = (await closed) as [number];
  t.equal(code, 1001);
  t.equal(sfu.readiness().closed, true);
});
