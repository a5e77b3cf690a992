// HTTP JSON-RPC 2.0 admin endpoint: every method, batches, notifications
// (204), every error code, body limit, content type, HTTP method. A real
// loopback http.Server routes `POST /rpc` to handleHttpJsonRpc with a
// test-side AdminApi (our own boundary).
import t from 'tap';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SfuError } from '../../src/errors.js';
import { RPC_PATH, handleHttpJsonRpc } from '../../src/signal/jsonrpc/http.js';
import type { AdminApi, RemovePeerOutcome, RoomDetail } from '../../src/signal/jsonrpc/types.js';

const ROOM: RoomDetail = {
  sid: 'room1',
  peers: [
    { uid: 'alice', tracks: [{ id: 'a1', kind: 'audio', streamId: 's1' }, { id: 'v1', kind: 'video', streamId: 's1' }] },
    { uid: 'bob', tracks: [] },
  ],
  stats: { ageMs: 1234, packetsIn: 10, packetsOut: 20, bytesIn: 1000, bytesOut: 2000 },
};

class TestAdmin implements AdminApi {
  rooms = new Map<string, RoomDetail>([['room1', structuredClone(ROOM)]]);
  calls: string[] = [];
  ping() {
    this.calls.push('ping');
    return { pong: true as const, version: '0.1.0', uptimeSec: 5 };
  }
  async listRooms() {
    this.calls.push('listRooms');
    return [...this.rooms.values()].map((r) => ({ sid: r.sid, peers: r.peers.length, tracks: r.peers.reduce((n, p) => n + p.tracks.length, 0) }));
  }
  getRoom(sid: string) {
    this.calls.push(`getRoom:${sid}`);
    if (sid === 'explode') throw new Error('secret internal detail');
    if (sid === 'coded') throw new SfuError('ERR_SFUD_BUSY', 'router busy');
    return this.rooms.get(sid);
  }
  closeRoom(sid: string) {
    this.calls.push(`closeRoom:${sid}`);
    return this.rooms.delete(sid);
  }
  async removePeer(sid: string, uid: string): Promise<RemovePeerOutcome> {
    this.calls.push(`removePeer:${sid}:${uid}`);
    const room = this.rooms.get(sid);
    if (!room) return 'room-not-found';
    const i = room.peers.findIndex((p) => p.uid === uid);
    if (i < 0) return 'peer-not-found';
    room.peers.splice(i, 1);
    return 'removed';
  }
  setPreferredLayers(sid: string, uid: string, streamId: string, layers: { spatial: number; temporal?: number | undefined } | 'none') {
    this.calls.push(`setPreferredLayers:${sid}:${uid}:${streamId}:${JSON.stringify(layers)}`);
    const room = this.rooms.get(sid);
    if (!room) return 'room-not-found' as const;
    if (!room.peers.some((p) => p.uid === uid)) return 'peer-not-found' as const;
    return 1;
  }
  setLastN(sid: string, uid: string, n: number | null, pinned: readonly string[] | undefined) {
    this.calls.push(`setLastN:${sid}:${uid}:${n}:${JSON.stringify(pinned)}`);
    const room = this.rooms.get(sid);
    if (!room) return 'room-not-found' as const;
    if (!room.peers.some((p) => p.uid === uid)) return 'peer-not-found' as const;
    return 'ok' as const;
  }
}

const admin = new TestAdmin();
const server = createServer((req, res) => {
  if ((req.url ?? '').split('?')[0] === RPC_PATH) void handleHttpJsonRpc(req, res, admin);
  else {
    res.writeHead(404);
    res.end();
  }
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${RPC_PATH}`;
t.teardown(() => {
  server.closeAllConnections();
  server.close();
});

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

async function post(body: string, contentType = 'application/json'): Promise<Reply> {
  const res = await fetch(base, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function rpc(v: unknown): Promise<unknown> {
  const r = await post(JSON.stringify(v));
  if (r.status !== 200) throw new Error(`status ${r.status}`);
  return JSON.parse(r.text);
}

t.beforeEach(() => {
  admin.rooms = new Map([['room1', structuredClone(ROOM)]]);
  admin.calls = [];
});

t.test('each method, by name and by position', async (t) => {
  const r = await post('{"jsonrpc":"2.0","method":"ping","id":1}');
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type'), /^application\/json/);
  t.equal(r.text, '{"jsonrpc":"2.0","id":1,"result":{"pong":true,"version":"0.1.0","uptimeSec":5}}');
  t.same(await rpc({ jsonrpc: '2.0', method: 'listRooms', id: 'l' }), { jsonrpc: '2.0', id: 'l', result: [{ sid: 'room1', peers: 2, tracks: 2 }] });
  t.same(await rpc({ jsonrpc: '2.0', method: 'getRoom', params: { sid: 'room1' }, id: 2 }), { jsonrpc: '2.0', id: 2, result: ROOM });
  t.same(await rpc({ jsonrpc: '2.0', method: 'getRoom', params: ['room1'], id: 3 }), { jsonrpc: '2.0', id: 3, result: ROOM });
  t.same(await rpc({ jsonrpc: '2.0', method: 'removePeer', params: { sid: 'room1', uid: 'bob' }, id: 4 }), {
    jsonrpc: '2.0',
    id: 4,
    result: { sid: 'room1', uid: 'bob', removed: true },
  });
  t.same(await rpc({ jsonrpc: '2.0', method: 'closeRoom', params: ['room1'], id: 5 }), { jsonrpc: '2.0', id: 5, result: { sid: 'room1', closed: true } });
  t.same(admin.calls, ['ping', 'listRooms', 'getRoom:room1', 'getRoom:room1', 'removePeer:room1:bob', 'closeRoom:room1']);
  // params: null and {} are "no params"; id null is a request (it gets a reply).
  t.same(await rpc({ jsonrpc: '2.0', method: 'ping', params: null, id: null }), { jsonrpc: '2.0', id: null, result: { pong: true, version: '0.1.0', uptimeSec: 5 } });
  t.match(await rpc({ jsonrpc: '2.0', method: 'listRooms', params: {}, id: 6 }), { result: [] });
  t.match(await post('{"jsonrpc":"2.0","method":"ping","id":1}', 'application/json; charset=utf-8'), { status: 200 });
  t.match(await post('{"jsonrpc":"2.0","method":"ping","id":1}', 'Application/JSON'), { status: 200 });
});

t.test('application errors: room and peer not found', async (t) => {
  t.same(await rpc({ jsonrpc: '2.0', method: 'getRoom', params: { sid: 'nope' }, id: 1 }), {
    jsonrpc: '2.0',
    id: 1,
    error: { code: -32004, message: 'room not found', data: { sid: 'nope' } },
  });
  t.match(await rpc({ jsonrpc: '2.0', method: 'closeRoom', params: { sid: 'nope' }, id: 2 }), { error: { code: -32004 } });
  t.match(await rpc({ jsonrpc: '2.0', method: 'removePeer', params: { sid: 'nope', uid: 'a' }, id: 3 }), { error: { code: -32004 } });
  t.same(await rpc({ jsonrpc: '2.0', method: 'removePeer', params: { sid: 'room1', uid: 'carol' }, id: 4 }), {
    jsonrpc: '2.0',
    id: 4,
    error: { code: -32005, message: 'peer not found', data: { sid: 'room1', uid: 'carol' } },
  });
});

t.test('JSON-RPC errors', async (t) => {
  let r = await post('{"jsonrpc":"2.0","method":');
  t.equal(r.status, 200);
  t.equal(r.text, '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}');
  const inv = (v: unknown): Promise<unknown> => rpc(v);
  t.match(await inv({ method: 'ping', id: 1 }), { id: 1, error: { code: -32600, message: 'invalid request: jsonrpc must be "2.0"' } });
  t.match(await inv({ jsonrpc: '1.0', method: 'ping', id: 1 }), { error: { code: -32600 } });
  t.match(await inv({ jsonrpc: '2.0', id: 1 }), { id: 1, error: { code: -32600, message: 'invalid request: method must be a string' } });
  t.match(await inv({ jsonrpc: '2.0', method: 'ping', id: {} }), { id: null, error: { code: -32600 } });
  t.match(await inv(5), { id: null, error: { code: -32600 } });
  t.match(await inv({ foo: 'bar' }), { id: null, error: { code: -32600 } }, 'invalid request without id still gets a reply');
  t.match(await inv({ jsonrpc: '2.0', method: 'leave', id: 1 }), { error: { code: -32601, message: 'method not found' } });
  t.match(await inv({ jsonrpc: '2.0', method: 'toString', id: 1 }), { error: { code: -32601 } }, 'no prototype methods');
  t.match(await inv({ jsonrpc: '2.0', method: '__proto__', id: 1 }), { error: { code: -32601 } });
  t.match(await inv({ jsonrpc: '2.0', method: 'getRoom', id: 1 }), { error: { code: -32602, message: 'invalid params: sid is required' } });
  t.match(await inv({ jsonrpc: '2.0', method: 'getRoom', params: { sid: 5 }, id: 1 }), { error: { code: -32602, message: 'invalid params: sid must be a non-empty string' } });
  t.match(await inv({ jsonrpc: '2.0', method: 'getRoom', params: { sid: '' }, id: 1 }), { error: { code: -32602 } });
  t.match(await inv({ jsonrpc: '2.0', method: 'removePeer', params: { sid: 'room1' }, id: 1 }), { error: { code: -32602, message: 'invalid params: uid is required' } });
  t.match(await inv({ jsonrpc: '2.0', method: 'getRoom', params: ['a', 'b'], id: 1 }), { error: { code: -32602, message: 'invalid params: expected at most 1' } });
  t.match(await inv({ jsonrpc: '2.0', method: 'getRoom', params: 'room1', id: 1 }), { error: { code: -32602 } });
  t.match(await inv({ jsonrpc: '2.0', method: 'ping', params: [1], id: 1 }), { error: { code: -32602 } });
  // Internal errors: a plain Error's message stays inside; an SfuError's message and code are shown.
  r = await post(JSON.stringify({ jsonrpc: '2.0', method: 'getRoom', params: { sid: 'explode' }, id: 1 }));
  t.equal(r.text, '{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"internal error"}}');
  t.notMatch(r.text, /secret|at /);
  t.same(await inv({ jsonrpc: '2.0', method: 'getRoom', params: { sid: 'coded' }, id: 2 }), {
    jsonrpc: '2.0',
    id: 2,
    error: { code: -32603, message: 'router busy', data: { code: 'ERR_SFUD_BUSY' } },
  });
});

t.test('batches and notifications', async (t) => {
  const r = await rpc([
    { jsonrpc: '2.0', method: 'ping', id: 1 },
    { jsonrpc: '2.0', method: 'removePeer', params: ['room1', 'bob'] },
    { jsonrpc: '2.0', method: 'getRoom', params: ['room1'], id: 'g' },
    { jsonrpc: '2.0', method: 'nope', id: 3 },
    { jsonrpc: '2.0', method: 'nope' },
    7,
  ]);
  t.match(r, [{ id: 1, result: { pong: true } }, { id: 'g', result: { peers: [{ uid: 'alice' }] } }, { id: 3, error: { code: -32601 } }, { id: null, error: { code: -32600 } }]);
  t.equal((r as { result: RoomDetail }[])[1]?.result.peers.length, 1, 'the batch ran in order: the notification removed bob first');
  // A lone notification, and a batch of only notifications: 204, but they ran.
  let n = await post('{"jsonrpc":"2.0","method":"closeRoom","params":{"sid":"room1"}}');
  t.same([n.status, n.text], [204, '']);
  t.equal(admin.rooms.size, 0);
  n = await post('[{"jsonrpc":"2.0","method":"ping"},{"jsonrpc":"2.0","method":"getRoom","params":{"sid":"x"}}]');
  t.same([n.status, n.text], [204, ''], 'even failing notifications get no response');
  t.match(await rpc([]), { id: null, error: { code: -32600, message: 'invalid request: empty batch' } });
  t.match(await rpc(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', method: 'ping', id: i }))), { error: { code: -32600 } });
  t.equal(((await rpc(Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', method: 'ping', id: i })))) as unknown[]).length, 100);
});

t.test('HTTP level: method, content type, body limit', async (t) => {
  let res = await fetch(base);
  t.equal(res.status, 405);
  t.equal(res.headers.get('allow'), 'POST');
  t.match(JSON.parse(await res.text()), { jsonrpc: '2.0', id: null, error: { code: -32600 } });
  res = await fetch(base, { method: 'PUT', body: '{}' });
  t.equal(res.status, 405);
  t.equal((await post('{"jsonrpc":"2.0","method":"ping","id":1}', 'text/plain')).status, 415);
  t.equal((await post('{"jsonrpc":"2.0","method":"ping","id":1}', 'application/jsonx')).status, 415);
  // Over 1 MiB with a Content-Length: refused before reading.
  const big = JSON.stringify({ jsonrpc: '2.0', method: 'ping', id: 1, pad: 'x'.repeat(1024 * 1024) });
  const r = await post(big);
  t.equal(r.status, 413);
  t.match(JSON.parse(r.text), { error: { code: -32600, message: 'request body exceeds 1048576 bytes' } });
  // Chunked (no Content-Length): refused while reading.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(base, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let i = 0; i < 17; i++) req.write(Buffer.alloc(64 * 1024, 0x20));
    req.end();
  });
  t.equal(status, 413);
  // Exactly at the limit is fine.
  const pad = 1024 * 1024 - Buffer.byteLength('{"jsonrpc":"2.0","method":"ping","id":1,"p":""}');
  t.equal((await post(`{"jsonrpc":"2.0","method":"ping","id":1,"p":"${'x'.repeat(pad)}"}`)).status, 200);
  t.equal(admin.calls.length, 1);
});

t.test('setPreferredLayers: layer names or numbers, "none", and clear errors', async (t) => {
  admin.calls.length = 0;
  t.same(await rpc({ jsonrpc: '2.0', method: 'setPreferredLayers', params: { sid: 'room1', uid: 'alice', streamId: 's9', spatial: 'low', temporal: 1 }, id: 1 }), {
    jsonrpc: '2.0',
    id: 1,
    result: { sid: 'room1', uid: 'alice', streamId: 's9', tracks: 1 },
  });
  await rpc({ jsonrpc: '2.0', method: 'setPreferredLayers', params: { sid: 'room1', uid: 'alice', streamId: 's9', spatial: 'none' }, id: 2 });
  t.same(admin.calls, ['setPreferredLayers:room1:alice:s9:{"spatial":0,"temporal":1}', 'setPreferredLayers:room1:alice:s9:"none"']);
  t.match(await rpc({ jsonrpc: '2.0', method: 'setPreferredLayers', params: { sid: 'room1', uid: 'alice', streamId: 's9', spatial: 3 }, id: 3 }), {
    error: { code: -32602, message: /spatial must be/ },
  });
  t.match(await rpc({ jsonrpc: '2.0', method: 'setPreferredLayers', params: { sid: 'room1', uid: 'zed', streamId: 's9', spatial: 1 }, id: 4 }), { error: { code: -32005 } });
  t.match(await rpc({ jsonrpc: '2.0', method: 'setPreferredLayers', params: ['room1'], id: 5 }), { error: { code: -32602 } });
});

t.test('setLastN: a number or null, optional pinned streams', async (t) => {
  admin.calls.length = 0;
  t.same(await rpc({ jsonrpc: '2.0', method: 'setLastN', params: { sid: 'room1', uid: 'alice', n: 3, pinned: ['s1'] }, id: 1 }), {
    jsonrpc: '2.0',
    id: 1,
    result: { sid: 'room1', uid: 'alice', n: 3, pinned: ['s1'] },
  });
  await rpc({ jsonrpc: '2.0', method: 'setLastN', params: { sid: 'room1', uid: 'alice', n: null }, id: 2 });
  t.same(admin.calls, ['setLastN:room1:alice:3:["s1"]', 'setLastN:room1:alice:null:undefined']);
  t.match(await rpc({ jsonrpc: '2.0', method: 'setLastN', params: { sid: 'room1', uid: 'alice', n: -1 }, id: 3 }), { error: { code: -32602 } });
  t.match(await rpc({ jsonrpc: '2.0', method: 'setLastN', params: { sid: 'room1', uid: 'alice', n: 1, pinned: [1] }, id: 4 }), { error: { code: -32602 } });
  t.match(await rpc({ jsonrpc: '2.0', method: 'setLastN', params: { sid: 'nope', uid: 'alice', n: 1 }, id: 5 }), { error: { code: -32004 } });
});
