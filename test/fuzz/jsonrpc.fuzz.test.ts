// Property-based fuzzing of the ion-sfu JSON-RPC frame parser: any string,
// any bytes and any JSON value (including frame-like objects with the real
// method names and random params) never throw, and always yield a dispatchable
// call of a known method, a silent ignore, or a well-formed error reply.
import t from 'tap';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { parseFrame, type ParsedFrame } from '../../src/signal/jsonrpc/frames.js';

const NUM_RUNS = 10_000;
const CODES = new Set([-32700, -32600, -32601, -32602]);

function check(f: ParsedFrame): void {
  switch (f.kind) {
    case 'call': {
      assert.ok(['join', 'offer', 'answer', 'trickle'].includes(f.call.method));
      assert.ok(f.id === null || typeof f.id === 'string' || (Number.isSafeInteger(f.id) && f.id >= 0));
      switch (f.call.method) {
        case 'join': {
          const j = f.call.params;
          assert.ok(typeof j.sid === 'string' && j.sid.length > 0 && typeof j.uid === 'string');
          assert.equal(j.offer.type, 'offer');
          assert.ok(typeof j.offer.sdp === 'string' && j.offer.sdp.length > 0);
          for (const b of [j.config.noPublish, j.config.noSubscribe, j.config.noAutoSubscribe]) assert.equal(typeof b, 'boolean');
          break;
        }
        case 'offer':
        case 'answer':
          assert.equal(f.call.params.desc.type, f.call.method);
          break;
        case 'trickle': {
          const c = f.call.params.candidate;
          assert.ok(Number.isSafeInteger(f.call.params.target));
          assert.equal(typeof c.candidate, 'string');
          assert.ok(c.sdpMid === null || typeof c.sdpMid === 'string');
          assert.ok(c.usernameFragment === null || typeof c.usernameFragment === 'string');
          assert.ok(c.sdpMLineIndex === null || (Number.isInteger(c.sdpMLineIndex) && c.sdpMLineIndex >= 0 && c.sdpMLineIndex <= 0xffff));
          break;
        }
      }
      return;
    }
    case 'ignore':
      assert.ok(f.reason === 'response' || f.reason === 'unknown-notification');
      return;
    case 'error': {
      const v = JSON.parse(f.reply) as { id: unknown; error: { code: number; message: string; data: unknown }; jsonrpc: string };
      assert.equal(Object.keys(v).join(), 'id,error,jsonrpc');
      assert.equal(v.jsonrpc, '2.0');
      assert.ok(CODES.has(v.error.code), `code ${v.error.code}`);
      assert.equal(typeof v.error.message, 'string');
      assert.equal(v.error.data, null);
      assert.ok(v.id === null || typeof v.id === 'string' || (Number.isSafeInteger(v.id) && (v.id as number) >= 0));
      return;
    }
  }
}

function run(input: string | Buffer): void {
  let f: ParsedFrame;
  try {
    f = parseFrame(input);
  } catch (err) {
    assert.fail(`parseFrame threw on ${JSON.stringify(String(input)).slice(0, 200)}: ${String(err)}`);
  }
  check(f);
}

/** Values that look like frames: real method names, plausible and implausible params. */
const candidate = fc.record(
  { candidate: fc.oneof(fc.string(), fc.jsonValue()), sdpMid: fc.oneof(fc.string(), fc.constant(null), fc.integer()), sdpMLineIndex: fc.oneof(fc.integer(), fc.double(), fc.constant(null)), usernameFragment: fc.oneof(fc.string(), fc.constant(null)) },
  { requiredKeys: [] },
);
const desc = fc.record({ type: fc.constantFrom('offer', 'answer', 'pranswer', 'rollback', '', 'OFFER'), sdp: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] });
const params = fc.oneof(
  fc.record(
    {
      sid: fc.oneof(fc.string(), fc.jsonValue()),
      uid: fc.oneof(fc.string(), fc.jsonValue()),
      offer: fc.oneof(desc, fc.jsonValue()),
      config: fc.oneof(fc.record({ NoPublish: fc.jsonValue(), noSubscribe: fc.boolean(), NOAUTOSUBSCRIBE: fc.boolean() }, { requiredKeys: [] }), fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
  fc.record({ desc: fc.oneof(desc, fc.jsonValue()) }, { requiredKeys: [] }),
  fc.record({ target: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.jsonValue()), candidate: fc.oneof(candidate, fc.jsonValue()) }, { requiredKeys: [] }),
  fc.jsonValue(),
);
const frameLike = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue()),
    method: fc.oneof(fc.constantFrom('join', 'offer', 'answer', 'trickle', 'Join', 'leave', '__proto__', 'toString'), fc.jsonValue()),
    params,
    id: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.jsonValue()),
    result: fc.jsonValue(),
    error: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

t.test('arbitrary strings never throw', async (t) => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => run(s)), { numRuns: NUM_RUNS });
  t.pass();
});

t.test('arbitrary bytes never throw', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => run(Buffer.from(b))), { numRuns: NUM_RUNS });
  t.pass();
});

t.test('arbitrary JSON values never throw', async (t) => {
  fc.assert(fc.property(fc.jsonValue(), (v) => run(JSON.stringify(v))), { numRuns: NUM_RUNS });
  t.pass();
});

t.test('frame-like objects never throw and validate exactly', async (t) => {
  fc.assert(fc.property(frameLike, (v) => run(JSON.stringify(v))), { numRuns: NUM_RUNS });
  t.pass();
});

t.test('truncated and mutated valid frames never throw', async (t) => {
  const valid =
    '{"method":"trickle","params":{"target":0,"candidate":{"candidate":"candidate:1 1 udp 2122063615 127.0.0.1 38496 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"DR7V"}},"id":"8b0c"}';
  fc.assert(
    fc.property(fc.nat({ max: valid.length }), fc.nat({ max: valid.length }), fc.string({ maxLength: 3 }), (at, cut, ins) => {
      run(valid.slice(0, at) + ins + valid.slice(at + (cut % 4)));
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

t.test('near-valid frames (one field perturbed) validate exactly', async (t) => {
  const sdp = fc.string({ minLength: 1 });
  const id = fc.oneof(fc.string(), fc.nat());
  const joinParams = fc.record(
    {
      sid: fc.string({ minLength: 1 }),
      uid: fc.string(),
      offer: fc.record({ type: fc.constant('offer'), sdp }),
      config: fc.record({ NoPublish: fc.boolean(), NoSubscribe: fc.boolean(), NoAutoSubscribe: fc.boolean() }, { requiredKeys: [] }),
    },
    { requiredKeys: ['sid', 'offer'] },
  );
  const descParams = fc.record({ desc: fc.record({ type: fc.constantFrom('offer', 'answer'), sdp }) });
  const trickleParams = fc.record({
    target: fc.integer({ min: -1, max: 2 }),
    candidate: fc.record(
      { candidate: fc.string(), sdpMid: fc.option(fc.string()), sdpMLineIndex: fc.option(fc.integer({ min: -1, max: 70000 })), usernameFragment: fc.option(fc.string()) },
      { requiredKeys: ['candidate'] },
    ),
  });
  const valid = fc.oneof(
    fc.record({ method: fc.constant('join'), params: joinParams, id }, { requiredKeys: ['method', 'params'] }),
    fc.record({ method: fc.constantFrom('offer', 'answer'), params: descParams, id }, { requiredKeys: ['method', 'params'] }),
    fc.record({ method: fc.constant('trickle'), params: trickleParams }),
  );
  let calls = 0;
  fc.assert(
    fc.property(valid, fc.option(fc.tuple(fc.constantFrom('sid', 'uid', 'offer', 'desc', 'target', 'candidate', 'config'), fc.jsonValue())), (frame, perturb) => {
      const v = structuredClone(frame) as { params: Record<string, unknown> };
      if (perturb) v.params[perturb[0]] = perturb[1];
      const f = parseFrame(JSON.stringify(v));
      if (f.kind === 'call') calls++;
      check(f);
    }),
    { numRuns: NUM_RUNS },
  );
  t.ok(calls > NUM_RUNS / 10, `a good share were dispatchable calls (${calls})`);
});
