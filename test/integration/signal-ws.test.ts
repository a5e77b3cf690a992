// The ion-sfu signalling endpoint over real sockets: a real http.Server on
// 127.0.0.1 with `/ws`, and a test-side SignalSessionFactory (our own
// boundary, recording calls). Then ion-sdk-js 1.8.2's IonSFUJSONRPCSignal in
// Node (libwebrtc from @roamhq/wrtc) against the same endpoint.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';
import { SfuError } from '../../src/errors.js';
import { ManualClock } from '../../src/util/clock.js';
import { SignalWsServer, type SignalWsServerOptions } from '../../src/signal/jsonrpc/ws-server.js';
import { MAX_FRAME_BYTES } from '../../src/signal/jsonrpc/frames.js';
import type {
  AnswerDescription,
  IceCandidateInit,
  JoinParams,
  OfferDescription,
  SignalNotifier,
  SignalSession,
  SignalSessionFactory,
  TrickleTarget,
} from '../../src/signal/jsonrpc/types.js';

// NOTE: @roamhq/wrtc 0.10 can crash in native teardown at exit; exit explicitly
// once tap has written every result (see test/interop/wrtc.test.ts).
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

const ANSWER: AnswerDescription = { type: 'answer', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const OFFER_FRAME = (id: string | number | null, sid = 'room1', uid = 'alice'): string =>
  JSON.stringify({ method: 'join', params: { sid, uid, offer: { type: 'offer', sdp: 'v=0 offer' } }, ...(id === null ? {} : { id }) });
const TRICKLE_FRAME = (target: number, cand: string): string =>
  JSON.stringify({ method: 'trickle', params: { target, candidate: { candidate: cand, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' } } });

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The test side of the boundary: records calls, answers after a delay. */
class TestSession implements SignalSession {
  readonly calls: string[] = [];
  readonly closed = deferred();
  readonly joinStarted = deferred();
  readonly gate = deferred();
  closeCount = 0;
  constructor(
    readonly notify: SignalNotifier,
    private readonly joinDelayMs: number,
  ) {}
  async join(p: JoinParams): Promise<AnswerDescription> {
    this.calls.push(`join:${p.sid}:${p.uid}:start`);
    this.joinStarted.resolve();
    if (p.sid === 'hang') await new Promise(() => {});
    if (p.sid === 'gate') await this.gate.promise;
    if (this.joinDelayMs > 0) await new Promise((r) => setTimeout(r, this.joinDelayMs));
    this.calls.push(`join:${p.sid}:${p.uid}:end`);
    if (p.sid === 'fail') throw new SfuError('ERR_TEST', 'room is full');
    if (p.sid === 'throw-string') throw 'not an error';
    return ANSWER;
  }
  async offer(desc: OfferDescription): Promise<AnswerDescription> {
    this.calls.push(`offer:${desc.sdp}`);
    if (desc.sdp === 'unstable') throw new Error('offered ignored');
    return ANSWER;
  }
  async answer(desc: AnswerDescription): Promise<void> {
    this.calls.push(`answer:${desc.sdp}`);
  }
  async trickle(target: TrickleTarget, c: IceCandidateInit): Promise<void> {
    this.calls.push(`trickle:${target}:${c.candidate}`);
    if (c.candidate === 'bad') throw new Error('setting ice candidate: bad');
  }
  close(): void {
    this.closeCount++;
    this.calls.push('close');
    this.closed.resolve();
  }
}

class TestFactory implements SignalSessionFactory {
  readonly sessions: TestSession[] = [];
  private waiters: ((s: TestSession) => void)[] = [];
  constructor(private readonly joinDelayMs = 0) {}
  create(notify: SignalNotifier): SignalSession {
    const s = new TestSession(notify, this.joinDelayMs);
    this.sessions.push(s);
    for (const w of this.waiters.splice(0)) w(s);
    return s;
  }
  /** The n-th session (0-based), once created. */
  async session(n: number): Promise<TestSession> {
    for (;;) {
      const s = this.sessions[n];
      if (s) return s;
      await new Promise<TestSession>((r) => this.waiters.push(r));
    }
  }
}

interface Client {
  ws: WebSocket;
  /** The next text frame, parsed (fails after 5 s). */
  next(): Promise<Record<string, unknown>>;
  nextRaw(): Promise<string>;
  send(s: string | Buffer): void;
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(url: string, opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<Client> {
  const ws = new WebSocket(url, opts);
  const inbox: string[] = [];
  const waiting: ((s: string) => void)[] = [];
  ws.on('message', (d) => {
    const s = (d as Buffer).toString('utf8');
    const w = waiting.shift();
    if (w) w(s);
    else inbox.push(s);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => {});
  await once(ws, 'open');
  const nextRaw = (): Promise<string> => {
    const s = inbox.shift();
    if (s !== undefined) return Promise.resolve(s);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame within 5 s')), 5000);
      waiting.push((v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  };
  return {
    ws,
    nextRaw,
    next: async () => JSON.parse(await nextRaw()) as Record<string, unknown>,
    send: (s) => ws.send(s),
    closed,
  };
}

async function startServer(
  t: Test,
  factory: SignalSessionFactory,
  opts: Partial<SignalWsServerOptions> = {},
): Promise<{ http: Server; sig: SignalWsServer; url: string; port: number }> {
  const http = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  const sig = new SignalWsServer({ factory, ...opts });
  sig.attach(http);
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  t.teardown(async () => {
    sig.close();
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  return { http, sig, url: `ws://127.0.0.1:${port}/ws`, port };
}

const errOf = (m: Record<string, unknown>): { code: number; message: string } => m.error as { code: number; message: string };

t.test('requests on one socket are handled strictly in order', async (t) => {
  const factory = new TestFactory(150);
  const { url } = await startServer(t, factory);
  const c = await connect(url);
  const s = await factory.session(0);
  const sentAt = Date.now();
  c.send(OFFER_FRAME('j1'));
  c.send(JSON.stringify({ method: 'offer', params: { desc: { type: 'offer', sdp: 'reneg' } }, id: 'o1' }));
  t.equal(await c.nextRaw(), `{"id":"j1","result":${JSON.stringify(ANSWER)},"jsonrpc":"2.0"}`);
  t.ok(Date.now() - sentAt >= 140, 'the join took its time');
  t.same(await c.next(), { id: 'o1', result: ANSWER, jsonrpc: '2.0' });
  t.same(s.calls, ['join:room1:alice:start', 'join:room1:alice:end', 'offer:reneg'], 'the offer waited for the slow join');
});

t.test('trickles before join are buffered and delivered after it, in order', async (t) => {
  const factory = new TestFactory(20);
  const { url, sig } = await startServer(t, factory);
  const c = await connect(url);
  const s = await factory.session(0);
  c.send(TRICKLE_FRAME(0, 'a'));
  c.send(TRICKLE_FRAME(1, 'b'));
  c.send(TRICKLE_FRAME(9, 'ignored-target'));
  c.send(OFFER_FRAME('j'));
  c.send(JSON.stringify({ method: 'offer', params: { desc: { type: 'offer', sdp: 'after' } }, id: 'o' }));
  t.match(await c.next(), { id: 'j', result: ANSWER });
  t.match(await c.next(), { id: 'o', result: ANSWER });
  t.same(s.calls, ['join:room1:alice:start', 'join:room1:alice:end', 'trickle:0:a', 'trickle:1:b', 'offer:after']);
  t.match(sig.getStats().earlyTrickles, { buffered: 2, delivered: 2, rejected: 0 });
  t.equal(sig.getStats().ignored.badTarget, 1);
});

t.test('more than 32 early trickles: the rest get ion-sfu\'s error with id 0', async (t) => {
  const factory = new TestFactory(0);
  const { url, sig } = await startServer(t, factory);
  const c = await connect(url);
  const s = await factory.session(0);
  for (let i = 0; i < 33; i++) c.send(TRICKLE_FRAME(0, `c${i}`));
  t.equal(await c.nextRaw(), '{"id":0,"error":{"code":500,"message":"no rtc transport exists for this Peer","data":null},"jsonrpc":"2.0"}');
  c.send(OFFER_FRAME('j'));
  t.match(await c.next(), { id: 'j', result: ANSWER });
  c.send(JSON.stringify({ method: 'trickle', params: { target: 1, candidate: { candidate: 'late' } }, id: 't' }));
  t.same(await c.next(), { id: 't', result: null, jsonrpc: '2.0' }, 'a trickle sent with an id gets result null');
  t.equal(s.calls.filter((x) => x.startsWith('trickle:0:')).length, 32);
  t.equal(s.calls.at(-1), 'trickle:1:late');
  t.match(sig.getStats().earlyTrickles, { buffered: 32, delivered: 32, rejected: 1 });
});

t.test('ordering errors, session errors, retry after a failed join', async (t) => {
  const factory = new TestFactory(0);
  const { url, sig } = await startServer(t, factory);
  const c = await connect(url);
  const s = await factory.session(0);
  c.send(JSON.stringify({ method: 'offer', params: { desc: { type: 'offer', sdp: 'x' } }, id: 'early' }));
  t.equal(await c.nextRaw(), '{"id":"early","error":{"code":500,"message":"no rtc transport exists for this Peer","data":null},"jsonrpc":"2.0"}');
  c.send(JSON.stringify({ method: 'answer', params: { desc: { type: 'answer', sdp: 'x' } } }));
  t.same(await c.next(), { id: 0, error: { code: 500, message: 'no rtc transport exists for this Peer', data: null }, jsonrpc: '2.0' });

  c.send(OFFER_FRAME(1, 'fail'));
  t.equal(await c.nextRaw(), '{"id":1,"error":{"code":500,"message":"room is full","data":null},"jsonrpc":"2.0"}', 'SfuError message, no stack');
  c.send(OFFER_FRAME(2, 'throw-string'));
  t.same(errOf(await c.next()), { code: 500, message: 'internal error', data: null });
  c.send(OFFER_FRAME(3));
  t.match(await c.next(), { id: 3, result: ANSWER }, 'a failed join can be retried');
  c.send(OFFER_FRAME(4));
  t.equal(await c.nextRaw(), '{"id":4,"error":{"code":500,"message":"rtc transport already exists for this connection","data":null},"jsonrpc":"2.0"}');
  c.send(JSON.stringify({ method: 'offer', params: { desc: { type: 'offer', sdp: 'unstable' } }, id: 5 }));
  t.same(await c.next(), { id: 5, error: { code: 500, message: 'offered ignored', data: null }, jsonrpc: '2.0' });
  c.send(JSON.stringify({ method: 'trickle', params: { target: 0, candidate: { candidate: 'bad' } } }));
  t.same(await c.next(), { id: 0, error: { code: 500, message: 'setting ice candidate: bad', data: null }, jsonrpc: '2.0' });
  c.send(JSON.stringify({ method: 'answer', params: { desc: { type: 'answer', sdp: 'sub' } } }));
  c.send(JSON.stringify({ method: 'trickle', params: { target: 5, candidate: { candidate: 'x' } } }));
  c.send('{"method":"join"'); // anything to flush: the next reply must be this parse error
  t.equal(errOf(await c.next()).code, -32700, 'answer and trickle notifications got no reply on success');
  t.ok(s.calls.includes('answer:sub'));
  t.notOk(s.calls.includes('trickle:5:x'), 'other targets are silently ignored');
  t.match(sig.getStats().errors, { ordering: 3, session: 4, parse: 1 });
});

t.test('unknown methods: -32601 with an id, silence without', async (t) => {
  const factory = new TestFactory(0);
  const { url, sig } = await startServer(t, factory);
  const c = await connect(url);
  c.send('{"method":"leave","params":{}}');
  c.send('{"method":"leave","params":{},"id":"L"}');
  t.equal(await c.nextRaw(), '{"id":"L","error":{"code":-32601,"message":"method not found: \\"leave\\"","data":null},"jsonrpc":"2.0"}');
  t.match(sig.getStats(), { ignored: { unknownNotification: 1 }, errors: { methodNotFound: 1 } });
});

t.test('hostile frames on one socket never disturb another', async (t) => {
  const factory = new TestFactory(30);
  const { url, sig } = await startServer(t, factory);
  const bad = await connect(url);
  const good = await connect(url);
  const goodSession = await factory.session(1);
  const hostile = [
    '{"method":"join",',
    '',
    '[]',
    'null',
    '{"method":"join","params":{},"id":1.5}',
    '{"method":"join","params":{},"id":-1}',
    '{"method":"join","id":"np"}',
    '{"id":"x"}',
    '{"method":7,"id":"m"}',
    '{"method":"trickle","params":{"target":0,"candidate":"candidate:1 1 udp"}}',
    Buffer.from([0x7b, 0xff, 0xfe]),
    '{"result":{},"id":"resp"}',
    `{"method":"join","params":{"sid":"${'x'.repeat(100_000)}"},"id":"big"}`,
  ];
  for (const h of hostile) bad.send(h);
  good.send(OFFER_FRAME('g1', 'room2', 'bob'));
  good.send(JSON.stringify({ method: 'offer', params: { desc: { type: 'offer', sdp: 'g' } }, id: 'g2' }));
  t.match(await good.next(), { id: 'g1', result: ANSWER });
  t.match(await good.next(), { id: 'g2', result: ANSWER });
  const codes: number[] = [];
  for (let i = 0; i < hostile.length - 1; i++) codes.push(errOf(await bad.next()).code); // the response frame is ignored
  t.same(codes, [-32700, -32700, -32600, -32600, -32600, -32600, -32602, -32600, -32600, -32602, -32700, -32602]);
  t.equal(bad.ws.readyState, WebSocket.OPEN, 'the hostile socket stays open');
  bad.send(OFFER_FRAME('recovered'));
  t.match(await bad.next(), { id: 'recovered', result: ANSWER }, 'and can still join');
  t.same(goodSession.calls, ['join:room2:bob:start', 'join:room2:bob:end', 'offer:g']);
  t.equal(sig.getStats().ignored.response, 1);
});

t.test('a frame over 1 MiB closes only that socket, with 1009', async (t) => {
  const factory = new TestFactory(0);
  const { url, sig } = await startServer(t, factory);
  const big = await connect(url);
  const other = await connect(url);
  big.send(Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20));
  t.equal((await big.closed).code, 1009);
  const s = await factory.session(0);
  await s.closed.promise;
  t.equal(s.calls.length, 1, 'nothing was dispatched');
  other.send(OFFER_FRAME('ok'));
  t.match(await other.next(), { id: 'ok', result: ANSWER });
  t.equal(sig.getStats().closed.oversize, 1);
  // Exactly 1 MiB is still accepted (and parsed).
  const edge = await connect(url);
  const pad = MAX_FRAME_BYTES - Buffer.byteLength('{"id":"e","method":"x","p":""}');
  edge.send(`{"id":"e","method":"x","p":"${' '.repeat(pad)}"}`);
  t.equal(errOf(await edge.next()).code, -32601);
});

t.test('queue overflow closes the socket with 1008 and is counted', async (t) => {
  const factory = new TestFactory(0);
  const { url, sig } = await startServer(t, factory);
  const c = await connect(url);
  const s = await factory.session(0);
  c.send(OFFER_FRAME('h', 'hang')); // never resolves: everything behind it queues
  for (let i = 0; i < 65; i++) c.send(TRICKLE_FRAME(0, `q${i}`));
  const closed = await c.closed;
  t.equal(closed.code, 1008);
  t.equal(closed.reason, 'queue overflow');
  await s.closed.promise;
  t.equal(s.closeCount, 1);
  t.equal(sig.getStats().closed.queueOverflow, 1);
  t.equal(sig.getStats().socketsOpen, 0);
});

t.test('notifications pushed by the session have the exact shape', async (t) => {
  const factory = new TestFactory(50);
  const { url } = await startServer(t, factory);
  const c = await connect(url);
  const s = await factory.session(0);
  c.send(OFFER_FRAME('j'));
  // A publisher candidate before the join result, as ion-sfu sends it.
  s.notify.trickle(0, { candidate: 'candidate:1 1 udp 1 10.0.0.1 5000 typ host', sdpMid: '', sdpMLineIndex: 0, usernameFragment: null });
  t.equal(
    await c.nextRaw(),
    '{"method":"trickle","params":{"target":0,"candidate":{"candidate":"candidate:1 1 udp 1 10.0.0.1 5000 typ host","sdpMid":"","sdpMLineIndex":0,"usernameFragment":null}},"jsonrpc":"2.0"}',
  );
  t.match(await c.next(), { id: 'j', result: ANSWER });
  s.notify.offer({ type: 'offer', sdp: 'v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n' });
  t.equal(await c.nextRaw(), '{"method":"offer","params":{"type":"offer","sdp":"v=0\\r\\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\\r\\n"},"jsonrpc":"2.0"}');
  s.notify.trickle(1, { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abc' });
  t.same(await c.next(), { method: 'trickle', params: { target: 1, candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abc' } }, jsonrpc: '2.0' });
  // The session can close its socket (an admin kick); close() still follows once.
  s.notify.close('removed by admin');
  t.same(await c.closed, { code: 1000, reason: 'removed by admin' });
  await s.closed.promise;
  s.notify.offer({ type: 'offer', sdp: 'late' }); // ignored after close
  t.equal(s.closeCount, 1);
});

t.test('socket close calls session.close() once; stats track sockets and frames', async (t) => {
  const factory = new TestFactory(0);
  const { url, sig } = await startServer(t, factory);
  const a = await connect(url);
  const b = await connect(url);
  t.equal(sig.getStats().socketsOpen, 2);
  a.send(OFFER_FRAME(1));
  await a.next();
  a.ws.close();
  b.ws.terminate();
  const [sa, sb] = [await factory.session(0), await factory.session(1)];
  await Promise.all([sa.closed.promise, sb.closed.promise]);
  t.same([sa.closeCount, sb.closeCount], [1, 1]);
  t.equal(sa.calls.at(-1), 'close');
  const st = sig.getStats();
  t.match(st, { socketsOpen: 0, socketsTotal: 2, framesIn: 1, framesOut: 1 });
  t.ok(st.bytesIn > 0);
});

t.test('session.close() runs even while a join is pending; its late result is dropped', async (t) => {
  const factory = new TestFactory(0);
  const { url, sig } = await startServer(t, factory);
  const c = await connect(url);
  const s = await factory.session(0);
  c.send(OFFER_FRAME('j', 'gate'));
  await s.joinStarted.promise;
  c.ws.close();
  await s.closed.promise;
  t.same(s.calls, ['join:gate:alice:start', 'close']);
  s.gate.resolve();
  await new Promise((r) => setImmediate(r));
  t.same(s.calls, ['join:gate:alice:start', 'close', 'join:gate:alice:end']);
  t.equal(sig.getStats().framesOut, 0, 'the late join result was not sent');
});

t.test('only /ws upgrades; other paths get 404', async (t) => {
  const factory = new TestFactory(0);
  const { port } = await startServer(t, factory);
  for (const path of ['/', '/ws/', '/other', '/wss']) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    const [err] = (await once(ws, 'error')) as [Error];
    t.equal(err.message, 'Unexpected server response: 404', path);
  }
  const q = await connect(`ws://127.0.0.1:${port}/ws?access_token=x`);
  t.equal(q.ws.readyState, WebSocket.OPEN, 'a query string is fine');
  t.equal(factory.sessions.length, 1);
});

t.test('a session factory that throws closes the socket with 1011', async (t) => {
  const { url, sig } = await startServer(t, {
    create: () => {
      throw new Error('no capacity');
    },
  });
  const c = await connect(url);
  t.equal((await c.closed).code, 1011);
  t.equal(sig.getStats().closed.factory, 1);
});

t.test('keepalive: a socket that stops answering pings is terminated', async (t) => {
  const clock = new ManualClock();
  const factory = new TestFactory(0);
  const { url, sig } = await startServer(t, factory, { clock, pingIntervalMs: 30_000 });
  const dead = await connect(url, { autoPong: false });
  const live = await connect(url);
  const pinged = once(live.ws, 'ping');
  clock.advance(30_000); // first sweep: both pinged
  await pinged;
  // A round trip on each socket: the live one's pong was sent before this frame, so it has arrived.
  live.send('{"method":"x","id":1}');
  await live.next();
  dead.send('{"method":"x","id":1}'); // any frame counts as life too...
  await dead.next();
  clock.advance(30_000); // ...so the second sweep just pings again
  t.equal(dead.ws.readyState, WebSocket.OPEN);
  const pinged2 = once(live.ws, 'ping');
  await pinged2;
  live.send('{"method":"x","id":2}');
  await live.next();
  clock.advance(30_000); // third sweep: the dead one never ponged since the last ping
  t.equal((await dead.closed).code, 1006);
  t.equal(live.ws.readyState, WebSocket.OPEN, 'the live one survives');
  t.equal(sig.getStats().closed.dead, 1);
  const s0 = await factory.session(0);
  await s0.closed.promise;
  t.equal(s0.closeCount, 1);
});

t.test('ion-sdk-js 1.8.2 (IonSFUJSONRPCSignal) in Node against /ws', async (t) => {
  const g = globalThis as Record<string, unknown>;
  g.MediaStream ??= wrtc.MediaStream;
  g.RTCPeerConnection ??= wrtc.RTCPeerConnection;
  g.RTCRtpSender ??= wrtc.RTCRtpSender;
  g.WebSocket ??= WebSocket;
  const { IonSFUJSONRPCSignal } = await import('ion-sdk-js/lib/signal/json-rpc-impl.js');

  // Test session: a libwebrtc PC answers the client's join offer; after join a
  // second PC offers (with a data channel, like ion-sfu's subscriber PC).
  const pcs: { close(): void }[] = [];
  t.teardown(() => {
    for (const pc of pcs) pc.close();
  });
  const joined = deferred<JoinParams>();
  const answered = deferred<AnswerDescription>();
  const trickled = deferred<IceCandidateInit>();
  const factory: SignalSessionFactory = {
    create(notify) {
      return {
        async join(p) {
          const sfuPub = new wrtc.RTCPeerConnection();
          pcs.push(sfuPub);
          await sfuPub.setRemoteDescription(p.offer);
          const answer = (await sfuPub.createAnswer()) as AnswerDescription;
          joined.resolve(p);
          // Push a subscriber offer a little after the join result, as ion-sfu does.
          const sfuSub = new wrtc.RTCPeerConnection();
          pcs.push(sfuSub);
          sfuSub.createDataChannel('ion-sfu');
          const offer = (await sfuSub.createOffer()) as OfferDescription;
          setTimeout(() => notify.offer({ type: 'offer', sdp: offer.sdp }), 50);
          return { type: 'answer', sdp: answer.sdp };
        },
        async offer() {
          throw new Error('offered ignored');
        },
        async answer(desc) {
          answered.resolve(desc);
        },
        async trickle(_target, c) {
          trickled.resolve(c);
        },
        close() {},
      };
    },
  };
  const { url } = await startServer(t, factory);

  const signal = new IonSFUJSONRPCSignal(url);
  t.teardown(() => signal.close());
  await new Promise<void>((resolve) => (signal.onopen = resolve));

  const pub = new wrtc.RTCPeerConnection();
  pcs.push(pub);
  pub.createDataChannel('ion-sfu');
  pub.onicecandidate = (ev: { candidate: { toJSON(): RTCIceCandidateInit } | null }) => {
    if (ev.candidate) signal.trickle({ target: 0, candidate: ev.candidate.toJSON() as RTCIceCandidateInit });
  };
  const negotiated = new Promise<RTCSessionDescriptionInit>((resolve) => (signal.onnegotiate = resolve));
  const offer = await pub.createOffer();
  await pub.setLocalDescription(offer);
  const answer = await signal.join('room1', 'alice', offer);
  t.equal(answer.type, 'answer');
  t.match(answer.sdp, /^v=0\r\n/);
  await pub.setRemoteDescription(answer);
  t.match(await joined.promise, { sid: 'room1', uid: 'alice', offer: { type: 'offer' }, config: { noPublish: false } });

  const subOffer = await negotiated;
  t.equal(subOffer.type, 'offer');
  t.match(subOffer.sdp, /m=application/);
  // The client side of the subscriber PC answers through signal.answer (a notification).
  const sub = new wrtc.RTCPeerConnection();
  pcs.push(sub);
  await sub.setRemoteDescription(subOffer);
  const subAnswer = await sub.createAnswer();
  signal.answer(subAnswer);
  t.equal((await answered.promise).type, 'answer');

  const cand = await trickled.promise;
  t.match(cand.candidate, /^candidate:/, 'a libwebrtc candidate passed validation (buffered if it came before join)');

  // An offer rejected by the session rejects the client's call with ion-sfu's error object.
  await t.rejects(signal.offer(offer), { code: 500, message: 'offered ignored' });
});
