// Hostile signalling must not disturb other peers. A well-behaved werift
// publisher + subscriber pair (ion-sfu JSON-RPC over `ws`,
// test/helpers/werift-ion.ts) and a libwebrtc viewer that decodes the
// publisher's VP8 (test/helpers/calm-room.ts) keep a call going in room 'calm' while raw
// sockets send a bounded barrage: undecodable and oversized frames, wrong
// types in every param, garbage and nonsense SDPs, ordering violations, and a
// peer joined to 'calm' that answers and re-offers with garbage. Every frame
// with an id gets a JSON-RPC error (ws-server.ts documents the exceptions:
// silence for unknown notifications and responses, `result:null` for
// buffered early trickles, a 1009 close for frames over 1 MiB); neither the
// subscriber's packets nor the viewer's decoded frames stall for more than a
// second; sfud keeps serving.
import t from 'tap';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { Sfu } from '../../src/sfu.js';
import { isLoopback, waitFor } from '../interop/echo.js';
import type { Json, RpcId } from '../helpers/ion-rpc.js';
import { WeriftIonClient, loopbackPc } from '../helpers/werift-ion.js';
import { MAX_GAP_MS, decodingViewer, largestGap } from '../helpers/calm-room.js';

// NOTE: the libwebrtc viewer (wrtc segfaults on a natural exit, see test/interop/wrtc.test.ts).
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

// ---------------------------------------------------------------------------
// The hostile side: raw sockets and the barrage.
// ---------------------------------------------------------------------------

/** A raw `ws` socket: replies (frames without `method`) in arrival order, notifications apart. */
class RawSocket {
  private readonly replies: unknown[] = [];
  private waiter: (() => void) | undefined;
  readonly notifications: Json[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeInfo: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = String(data);
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch {
        msg = { unparseableReply: text.slice(0, 200) };
      }
      if (typeof msg === 'object' && msg !== null && typeof (msg as Json).method === 'string') this.notifications.push(msg as Json);
      else this.replies.push(msg);
      this.waiter?.();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.waiter?.();
        resolve(this.closeInfo);
      }),
    );
  }

  static async open(url: string): Promise<RawSocket> {
    const ws = new WebSocket(url);
    ws.on('error', () => {});
    await once(ws, 'open');
    return new RawSocket(ws);
  }

  send(frame: string | Buffer): void {
    this.ws.send(frame);
  }

  /** The next reply, or undefined after `ms` (or when the socket closed). */
  async nextReply(ms = 3000): Promise<unknown> {
    const deadline = Date.now() + ms;
    while (this.replies.length === 0) {
      if (this.closeInfo || Date.now() > deadline) return undefined;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiter = () => {
          clearTimeout(timer);
          r();
        };
      });
      this.waiter = undefined;
    }
    return this.replies.shift();
  }

  /** Waits for a notification matching `pred`. */
  async notification(pred: (n: Json) => boolean, ms = 5000): Promise<Json> {
    let found: Json | undefined;
    await waitFor('a notification', () => (found = this.notifications.find(pred)) !== undefined, ms);
    return found!;
  }
}

/**
 * One hostile frame and what the protocol documents for it:
 *  - `error`: a JSON-RPC error reply; `id` is the id it must carry (null or 0
 *    when the frame had no usable id);
 *  - `result`: a `result` reply (sfud's documented leniency for early trickles);
 *  - `error-or-rejected`: an error, or an answer rejecting every m-line
 *    (port 0), which is how JSEP declines unusable sections of a
 *    renegotiation offer while keeping the transport from `join`;
 *  - `silence`: no reply at all.
 */
interface Case {
  name: string;
  frame: string | Buffer;
  expect: 'error' | 'result' | 'silence' | 'error-or-rejected';
  id?: RpcId | null;
}

interface Outcome {
  replies: number;
  /** Names of `error-or-rejected` cases answered with an all-rejected answer. */
  rejected: string[];
  codes: Map<number, number>;
  failures: string[];
}

let sentinelSeq = 0;

/**
 * Sends the cases pipelined in windows (sfud queues at most 64 frames / 4 MiB
 * per socket, so a window stays under 32 frames and 2 MiB) and matches
 * replies positionally (one socket is handled strictly in order). Each
 * window ends with a sentinel (an unknown method with an id, -32601) so a
 * reply to a `silence` frame cannot go unnoticed.
 */
async function barrage(sock: RawSocket, cases: readonly Case[], out: Outcome): Promise<void> {
  let i = 0;
  while (i < cases.length) {
    const window: Case[] = [];
    let bytes = 0;
    while (i < cases.length && window.length < 31) {
      const c = cases[i]!;
      const len = typeof c.frame === 'string' ? Buffer.byteLength(c.frame) : c.frame.length;
      if (window.length > 0 && bytes + len > 2 * 1024 * 1024) break;
      window.push(c);
      bytes += len;
      i++;
    }
    const sentinelId = `sentinel-${++sentinelSeq}`;
    for (const c of window) sock.send(c.frame);
    sock.send(JSON.stringify({ method: 'no.such.method', id: sentinelId }));
    for (const c of [...window, { name: 'sentinel', frame: '', expect: 'error', id: sentinelId } satisfies Case]) {
      if (c.expect === 'silence') continue;
      const reply = (await sock.nextReply()) as Json | undefined;
      if (reply === undefined) {
        out.failures.push(`${c.name}: no reply (socket ${sock.closeInfo ? `closed ${sock.closeInfo.code}` : 'open'})`);
        return;
      }
      out.replies++;
      const error = reply.error as { code?: unknown; message?: unknown } | undefined;
      if (c.expect === 'error-or-rejected' && error === undefined) {
        const sdp = String((reply.result as Json | null | undefined)?.sdp ?? '');
        const ports = [...sdp.matchAll(/^m=\S+ (\d+)/gm)].map((m) => m[1]);
        if (reply.id !== c.id || ports.length === 0 || ports.some((p) => p !== '0')) {
          out.failures.push(`${c.name}: expected an error or an all-rejected answer, got ${JSON.stringify(reply).slice(0, 300)}`);
        } else out.rejected.push(c.name);
        continue;
      }
      if (c.expect === 'error' || c.expect === 'error-or-rejected') {
        if (typeof error !== 'object' || error === null || typeof error.code !== 'number' || typeof error.message !== 'string') {
          out.failures.push(`${c.name}: expected an error reply, got ${JSON.stringify(reply).slice(0, 200)}`);
          continue;
        }
        out.codes.set(error.code, (out.codes.get(error.code) ?? 0) + 1);
        if (error.message.length > 1024) out.failures.push(`${c.name}: error message of ${error.message.length} chars echoes the input`);
        const idOk = c.id === undefined ? reply.id === null || reply.id === 0 : reply.id === c.id;
        if (!idOk) out.failures.push(`${c.name}: reply id ${JSON.stringify(reply.id)}, expected ${JSON.stringify(c.id ?? 'null/0')}`);
      } else if (!('result' in reply) || error !== undefined || reply.id !== c.id) {
        out.failures.push(`${c.name}: expected {"id":${JSON.stringify(c.id)},"result":...}, got ${JSON.stringify(reply).slice(0, 200)}`);
      }
    }
  }
}

const frame = (o: unknown): string => JSON.stringify(o);
const SDP_HEAD = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
const TRANSPORT =
  'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n' +
  'a=fingerprint:sha-256 ' +
  Array.from({ length: 32 }, () => 'AB').join(':') +
  '\r\na=setup:actpass\r\n';

/** SDP strings that are not offers sfud can use. */
function garbageSdps(validOffer: string): [string, string][] {
  const swap = (re: RegExp, to: string): string => validOffer.replace(re, to);
  return [
    ['words', 'hello world'],
    ['v=0 only', 'v=0'],
    ['no m-lines', SDP_HEAD],
    ['binary noise', Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 131 + 7) & 0xff)).toString('latin1')],
    ['NUL bytes', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\u0000\u0000\u0000`],
    ['only CRs', '\r\r\r\r\n\n\n'],
    ['m-line garbage type', `${SDP_HEAD}m=??? 9 UDP/TLS/RTP/SAVPF 96\r\n${TRANSPORT}a=mid:0\r\n`],
    ['m-line port out of range', `${SDP_HEAD}m=video 99999999 UDP/TLS/RTP/SAVPF 96\r\n${TRANSPORT}a=mid:0\r\na=rtpmap:96 VP8/90000\r\n`],
    ['m-line negative port', `${SDP_HEAD}m=audio -1 UDP/TLS/RTP/SAVPF 111\r\n${TRANSPORT}a=mid:0\r\n`],
    ['m-line no transport', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n`],
    ['m-line payload types not numbers', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF abc -5 99999\r\n${TRANSPORT}a=mid:0\r\na=rtpmap:abc VP8/90000\r\n`],
    ['m-line rtpmap without name', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n${TRANSPORT}a=mid:0\r\na=rtpmap:96 \r\n`],
    ['duplicate rtpmap', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n${TRANSPORT}a=mid:0\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:96 H264/90000\r\n`],
    ['duplicate mids', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n${TRANSPORT}a=mid:0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n${TRANSPORT}a=mid:0\r\n`],
    ['BUNDLE names unknown mid', `${SDP_HEAD}a=group:BUNDLE 0 7 9\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n${TRANSPORT}a=mid:0\r\n`],
    ['bad fingerprint', `${SDP_HEAD}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 ZZ\r\na=mid:0\r\n`],
    ['ssrc not a number', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n${TRANSPORT}a=mid:0\r\na=rtpmap:96 VP8/90000\r\na=ssrc:-7 cname:x\r\na=ssrc:99999999999 cname:y\r\n`],
    ['rtx without apt', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n${TRANSPORT}a=mid:0\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n`],
    ['extmap id reused', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n${TRANSPORT}a=mid:0\r\na=rtpmap:96 VP8/90000\r\na=extmap:3 urn:a\r\na=extmap:3 urn:b\r\n`],
    ['unknown a=setup', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n${TRANSPORT.replace('actpass', 'sideways')}a=mid:0\r\na=rtpmap:96 VP8/90000\r\n`],
    ['empty a=mid', `${SDP_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n${TRANSPORT}a=mid:\r\na=rtpmap:96 VP8/90000\r\n`],
    ['valid transport, protocol mangled', swap(/UDP\/DTLS\/SCTP webrtc-datachannel/g, 'FOO/BAR 1 2 3')],
    ['valid transport, ice-pwd too short', swap(/a=ice-pwd:.*\r\n/g, 'a=ice-pwd:x\r\n')],
    ['valid transport, sctp-port 0', swap(/a=sctp-port:\d+/g, 'a=sctp-port:0')],
    ['valid transport, 128 KiB + 1', validOffer + 'a=x-pad:' + 'p'.repeat(128 * 1024) + '\r\n'],
  ];
}

/** Every param of every method with each wrong JSON type. */
function wrongTypeCases(validOffer: string, nextId: () => number): Case[] {
  const wrong: unknown[] = [42, -1.5, true, 'str', [], [1, 2], { x: 1 }];
  const cases: Case[] = [];
  const garbageOffer = { type: 'offer', sdp: 'not sdp' };
  const joinBase = { sid: 'calm', uid: 'mallory', offer: garbageOffer };
  const add = (name: string, method: string, params: unknown): void => {
    const id = nextId();
    cases.push({ name: `${method} ${name}`, frame: frame({ method, params, id }), expect: 'error', id });
  };
  for (const v of [...wrong, null]) add(`params=${JSON.stringify(v)}`, 'join', v);
  for (const key of ['sid', 'uid', 'offer', 'config'] as const) {
    for (const v of wrong) {
      // A wrong type anywhere, the rest as valid as possible (the offer must still fail on its own).
      add(`${key}=${JSON.stringify(v)}`, 'join', { ...joinBase, offer: key === 'offer' ? v : { type: 'offer', sdp: validOffer.replace(/a=ice-ufrag:.*\r\n/g, '') }, [key]: v });
    }
  }
  for (const v of [...wrong, null, 'answer', '']) add(`offer.type=${JSON.stringify(v)}`, 'join', { ...joinBase, offer: { type: v, sdp: validOffer.replace(/a=fingerprint:.*\r\n/g, '') } });
  for (const v of [...wrong, null, '']) add(`offer.sdp=${JSON.stringify(v)}`, 'join', { ...joinBase, offer: { type: 'offer', sdp: v } });
  // `true` is no wrong type: NoPublish joins without a publisher and never reads the offer.
  for (const v of wrong.filter((x) => x !== true)) add(`config.NoPublish=${JSON.stringify(v)}`, 'join', { ...joinBase, config: { NoPublish: v } });
  for (const method of ['offer', 'answer']) {
    for (const v of [...wrong, null]) add(`params=${JSON.stringify(v)}`, method, v);
    for (const v of [...wrong, null]) add(`desc=${JSON.stringify(v)}`, method, { desc: v });
    for (const v of wrong) add(`desc.sdp=${JSON.stringify(v)}`, method, { desc: { type: method, sdp: v } });
    for (const v of wrong) add(`desc.type=${JSON.stringify(v)}`, method, { desc: { type: v, sdp: 'x' } });
  }
  const cand = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abcd' };
  for (const v of [...wrong, null]) add(`params=${JSON.stringify(v)}`, 'trickle', v);
  for (const v of [-1.5, 'str', true, [], { x: 1 }, 1e300]) add(`target=${JSON.stringify(v)}`, 'trickle', { target: v, candidate: cand });
  for (const v of [...wrong, null]) add(`candidate=${JSON.stringify(v)}`, 'trickle', { target: 0, candidate: v });
  for (const key of ['candidate', 'sdpMid', 'usernameFragment'] as const) {
    for (const v of [42, true, [], { x: 1 }]) add(`candidate.${key}=${JSON.stringify(v)}`, 'trickle', { target: 0, candidate: { ...cand, [key]: v } });
  }
  for (const v of [-1, 1.5, 70000, 'str', true, []]) add(`candidate.sdpMLineIndex=${JSON.stringify(v)}`, 'trickle', { target: 1, candidate: { ...cand, sdpMLineIndex: v } });
  return cases;
}

function deeplyNested(depth: number, open: string, close: string): string {
  return open.repeat(depth) + close.repeat(depth);
}

t.test('hostile signalling does not disturb a calm room', async (t) => {
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const clients: WeriftIonClient[] = [];
  const raws: RawSocket[] = [];
  t.teardown(() => {
    for (const c of clients) c.close();
    for (const r of raws) r.ws.terminate();
  });

  // ---- the calm pair ----
  // transport-cc: dana's downlink estimate comes from TWCC (see calm-room.ts).
  const alice = await WeriftIonClient.connect(url, { transportCc: true });
  clients.push(alice);
  await alice.join('calm', 'alice');
  const aliceStream = `calm-${randomUUID()}`;
  await alice.publishVideo(aliceStream);
  await waitFor('alice publisher connected', () => alice.pub.connectionState === 'connected');
  alice.startSending();
  const bob = await WeriftIonClient.connect(url);
  clients.push(bob);
  await bob.join('calm', 'bob');
  await waitFor('bob receives alice', () => bob.videoPackets >= 25, 20_000);
  const dana = await decodingViewer(url, 'calm', 'dana', aliceStream);
  t.teardown(() => dana.close());
  await waitFor('dana decodes alice', () => dana.frames >= 25, 20_000);

  // Sample bob's count and dana's decoded frames every 100 ms from here to the end.
  const samples: { at: number; packets: number; frames: number }[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  t.teardown(() => loopDelay.disable());
  const sampler = setInterval(() => samples.push({ at: Date.now(), packets: bob.videoPackets, frames: dana.frames }), 100);
  t.teardown(() => clearInterval(sampler));
  await new Promise((r) => setTimeout(r, 500));

  // A syntactically valid offer (what werift would join with), for the cases that need a usable transport.
  const scratch = loopbackPc();
  scratch.createDataChannel('ion-sfu');
  await scratch.setLocalDescription(await scratch.createOffer());
  const validOffer = scratch.localDescription!.sdp;
  await scratch.close();

  let idSeq = 1000;
  const nextId = (): number => idSeq++;

  // ---- socket 1: never joins ----
  const cases: Case[] = [];
  const bad = (name: string, f: string | Buffer, id?: RpcId | null): void => {
    cases.push({ name, frame: f, expect: 'error', id });
  };
  const quiet = (name: string, f: string | Buffer): void => {
    cases.push({ name, frame: f, expect: 'silence' });
  };
  // Trickle before join: sfud buffers 32 (documented: `result:null` when sent with an id), then rejects.
  const cand = { candidate: 'candidate:1 1 udp 2122063615 127.0.0.1 40000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abcd' };
  for (let k = 0; k < 32; k++) {
    const id = nextId();
    cases.push({ name: `early trickle ${k}`, frame: frame({ method: 'trickle', params: { target: k % 2, candidate: cand }, id }), expect: 'result', id });
  }
  for (let k = 0; k < 4; k++) {
    const id = nextId();
    bad(`early trickle ${32 + k} (buffer full)`, frame({ method: 'trickle', params: { target: 0, candidate: cand }, id }), id);
  }
  bad('early trickle (buffer full) without id', frame({ method: 'trickle', params: { target: 1, candidate: cand } }), 0);
  {
    const id = nextId();
    bad('early trickle (buffer full), 900 KiB candidate', frame({ method: 'trickle', params: { target: 0, candidate: { candidate: 'c'.repeat(900 * 1024) } }, id }), id);
  }
  // Undecodable frames.
  for (const [name, f] of [
    ['empty frame', ''],
    ['invalid JSON', '{"method":"join",'],
    ['trailing garbage', '{"method":"join","id":1}}}'],
    ['single quotes', "{'method':'join'}"],
    ['NaN', '{"id":NaN}'],
    ['invalid UTF-8 binary', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d])],
    ['binary noise', Buffer.from(Array.from({ length: 4096 }, (_, k) => (k * 97 + 13) & 0xff))],
    ['top-level null', 'null'],
    ['top-level number', '123'],
    ['top-level string', '"join"'],
    ['top-level true', 'true'],
    ['empty array batch', '[]'],
    ['array batch', frame([{ method: 'join', params: { sid: 'calm', uid: 'x', offer: { type: 'offer', sdp: validOffer } }, id: 1 }, { method: 'offer', id: 2 }])],
    ['deeply nested array', deeplyNested(100_000, '[', ']')],
    ['deeply nested object', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`],
  ] as [string, string | Buffer][]) {
    bad(name, f, null);
  }
  // Bad ids: the reply cannot echo them (JSON-RPC: id null).
  for (const id of [1.5, -1, -0.5, 1e300, 2 ** 53, true, { a: 1 }, [1]]) {
    bad(`id=${JSON.stringify(id)}`, frame({ method: 'join', params: { sid: 'calm', uid: 'x', offer: { type: 'offer', sdp: validOffer } }, id }), null);
  }
  // Method / envelope shape.
  for (const [name, o] of [
    ['method is a number', { method: 7 }],
    ['method is an object', { method: { join: true } }],
    ['method and result', { method: 'join', result: {} }],
    ['neither method nor result', { params: {} }],
  ] as [string, Json][]) {
    const id = nextId();
    bad(name, frame({ ...o, id }), id);
  }
  for (const m of ['nope', 'Join', 'JOIN', '__proto__', 'constructor', 'rpc.discover', '', 'x'.repeat(200_000)]) {
    const id = nextId();
    bad(`unknown method ${m.slice(0, 20)} with id`, frame({ method: m, params: {}, id }), id);
    quiet(`unknown method ${m.slice(0, 20)} without id`, frame({ method: m, params: { sid: 'calm' } }));
  }
  quiet('a response frame (result)', frame({ id: 5, result: { type: 'answer', sdp: 'x' } }));
  quiet('a response frame (error)', frame({ id: 6, error: { code: 1, message: 'x' } }));
  // Missing params (ion-sfu crashes on these).
  for (const method of ['join', 'offer', 'answer', 'trickle']) {
    const id = nextId();
    bad(`${method} without params`, frame({ method, id }), id);
    bad(`${method} without params, without id`, frame({ method }), 0);
  }
  // Ordering: offer/answer before join.
  for (const method of ['offer', 'answer'] as const) {
    const id = nextId();
    bad(`${method} before join`, frame({ method, params: { desc: { type: method, sdp: validOffer } }, id }), id);
  }
  // Huge (< 1 MiB) strings.
  const huge = 'x'.repeat(900 * 1024);
  for (const [name, params] of [
    ['huge sid', { sid: huge, uid: 'u', offer: { type: 'offer', sdp: 'v=0' } }],
    ['huge uid', { sid: 'calm', uid: huge, offer: { type: 'offer', sdp: 'v=0' } }],
    ['huge sdp', { sid: 'calm', uid: 'u', offer: { type: 'offer', sdp: `${validOffer}a=x:${huge}\r\n` } }],
    ['huge unknown key', { sid: 'calm', uid: 'u', offer: { type: 'offer', sdp: 'v=0' }, [huge]: 1 }],
  ] as [string, Json][]) {
    const id = nextId();
    bad(`join ${name}`, frame({ method: 'join', params, id }), id);
  }
  // Wrong types in every param.
  for (const c of wrongTypeCases(validOffer, nextId)) cases.push(c);
  // join with garbage SDPs and nonsense m-lines (in room 'calm').
  for (const [name, sdp] of garbageSdps(validOffer)) {
    const id = nextId();
    bad(`join with SDP: ${name}`, frame({ method: 'join', params: { sid: 'calm', uid: 'mallory', offer: { type: 'offer', sdp } }, id }), id);
  }

  // ---- socket 2: joins 'calm' properly, then garbage answers and offers ----
  const s2Cases = (): Case[] => {
    const out: Case[] = [];
    for (const [name, sdp] of garbageSdps(validOffer)) {
      let id = nextId();
      out.push({ name: `answer with SDP: ${name}`, frame: frame({ method: 'answer', params: { desc: { type: 'answer', sdp } }, id }), expect: 'error', id });
      out.push({ name: `answer with SDP without id: ${name}`, frame: frame({ method: 'answer', params: { desc: { type: 'answer', sdp } } }), expect: 'error', id: 0 });
      id = nextId();
      out.push({ name: `offer with SDP: ${name}`, frame: frame({ method: 'offer', params: { desc: { type: 'offer', sdp } }, id }), expect: 'error-or-rejected', id });
    }
    // A second join on a joined socket.
    const id = nextId();
    out.push({ name: 'second join', frame: frame({ method: 'join', params: { sid: 'calm', uid: 'intruder2', offer: { type: 'offer', sdp: validOffer } }, id }), expect: 'error', id });
    return out;
  };

  const s1 = await RawSocket.open(url);
  raws.push(s1);
  const s2 = await RawSocket.open(url);
  raws.push(s2);
  const out1: Outcome = { replies: 0, rejected: [], codes: new Map(), failures: [] };
  const out2: Outcome = { replies: 0, rejected: [], codes: new Map(), failures: [] };
  const cases2 = s2Cases();

  const barrageStart = Date.now();
  const packetsAtStart = bob.videoPackets;
  const framesAtStart = dana.frames;
  const s2Run = (async () => {
    const id = 'join-intruder';
    s2.send(frame({ method: 'join', params: { sid: 'calm', uid: 'intruder', offer: { type: 'offer', sdp: validOffer } }, id }));
    const reply = (await s2.nextReply()) as Json | undefined;
    if (reply?.id !== id || (reply.result as Json | undefined)?.type !== 'answer') {
      out2.failures.push(`intruder join: ${JSON.stringify(reply).slice(0, 200)}`);
      return;
    }
    // Wait for its subscriber offer so that garbage answers meet an outstanding offer.
    await s2.notification((n) => n.method === 'offer');
    await barrage(s2, cases2, out2);
  })();
  await barrage(s1, cases, out1);
  await s2Run;
  const barrageEnd = Date.now();
  const packetsAtBarrageEnd = bob.videoPackets;
  const framesAtBarrageEnd = dana.frames;

  // The 2 MiB frame: closes socket 1 only (1009), socket 2 keeps answering.
  s1.send(Buffer.alloc(2 * 1024 * 1024, 0x20));
  const closeInfo = await Promise.race([s1.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
  t.equal(closeInfo?.code, 1009, 'a 2 MiB frame closes that socket with 1009');
  await barrage(s2, [{ name: 'unknown method after the 2 MiB close', frame: frame({ method: 'still.there', id: 'after' }), expect: 'error', id: 'after' }], out2);
  t.equal(s2.ws.readyState, s2.ws.OPEN, 'the other hostile socket is still open');

  const frames1 = cases.length + 1;
  const frames2 = cases2.length + 3;
  t.ok(barrageEnd - barrageStart < 5000, `barrage of ${frames1 + frames2} frames took ${barrageEnd - barrageStart} ms (< 5 s)`);
  t.same(out1.failures, [], `socket 1: ${cases.length} hostile frames, ${out1.replies} replies as documented (codes ${JSON.stringify([...out1.codes])})`);
  t.same(out2.failures, [], `socket 2 (joined): ${out2.replies} replies as documented (codes ${JSON.stringify([...out2.codes])})`);
  t.comment(`offers answered by rejecting every m-line: ${out2.rejected.join('; ') || 'none'}`);
  t.comment(`event loop delay during the run: max ${(loopDelay.max / 1e6).toFixed(0)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms`);

  // After: keep sampling for 2 s, then judge bob's flow.
  await new Promise((r) => setTimeout(r, 2000));
  clearInterval(sampler);
  const end = samples[samples.length - 1]!;
  t.ok(packetsAtBarrageEnd > packetsAtStart, `bob's count rose during the barrage (${packetsAtStart} -> ${packetsAtBarrageEnd})`);
  t.ok(end.packets > packetsAtBarrageEnd + 50, `and after it (${packetsAtBarrageEnd} -> ${end.packets})`);
  t.ok(framesAtBarrageEnd > framesAtStart, `dana's decoded frames rose during the barrage (${framesAtStart} -> ${framesAtBarrageEnd})`);
  t.ok(end.frames > framesAtBarrageEnd + 50, `and after it (${framesAtBarrageEnd} -> ${end.frames})`);
  const first = samples[0]!;
  const packetGap = largestGap(samples.map((s) => ({ at: s.at, n: s.packets })), first.at, first.packets, end.at);
  t.ok(packetGap <= MAX_GAP_MS, `no gap in bob's packets over ${MAX_GAP_MS} ms (largest ${packetGap} ms over ${samples.length} samples)`);
  const frameGap = largestGap(samples.map((s) => ({ at: s.at, n: s.frames })), first.at, first.frames, end.at);
  t.ok(frameGap <= MAX_GAP_MS, `no gap in dana's decoded frames over ${MAX_GAP_MS} ms (largest ${frameGap} ms)`);

  // sfud still serves.
  const health = await fetch(`${sfu.httpUrl}/health`);
  t.equal(health.status, 200, 'GET /health is 200');
  await health.body?.cancel();
  const room = sfu.rooms.get('calm');
  t.ok(room?.getMember('alice') && room.getMember('bob') && room.getMember('dana'), `room calm still has alice, bob and dana (${room?.memberList.map((m) => m.uid).join(',')})`);
  t.ok(room?.producers.some((p) => p.streamId === aliceStream), "alice's producer is still in calm");
  const carol = await WeriftIonClient.connect(url);
  clients.push(carol);
  await carol.join('calm', 'carol');
  await waitFor('a fresh client joins and receives alice', () => carol.videoPackets >= 20, 15_000);
  t.pass(`carol joined after the barrage and got ${carol.videoPackets} packets`);
  t.same([...alice.failures, ...bob.failures, ...carol.failures], [], 'no negotiation failures at the calm clients');
  t.same([...alice.rpc.strayErrors, ...bob.rpc.strayErrors], [], 'no error replies to the calm clients');
});
