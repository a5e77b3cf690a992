// ion-sfu JSON-RPC frames: the section 1.5 exchange of
// shared/reference/ion-sfu-protocol.md parses and serializes byte-for-byte,
// lenient inputs are accepted as Go's decoder accepts them, and every hostile
// input class becomes the right JSON-RPC error reply.
import t from 'tap';
import {
  IonSfuMessage,
  MAX_FRAME_BYTES,
  answerResultFrame,
  errorFrame,
  offerNotification,
  parseFrame,
  resultFrame,
  trickleNotification,
  type ParsedFrame,
  type SignalCall,
} from '../../src/signal/jsonrpc/frames.js';

const OFFER_SDP = 'v=0…m=application 9 UDP/DTLS/SCTP webrtc-datachannel…';

function call(f: ParsedFrame): { id: string | number | null; call: SignalCall } {
  if (f.kind !== 'call') throw new Error(`expected a call, got ${JSON.stringify(f)}`);
  return f;
}

function err(f: ParsedFrame): { id: unknown; code: number; message: string; raw: string; kind: string } {
  if (f.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(f)}`);
  const v = JSON.parse(f.reply) as { id: unknown; error: { code: number; message: string; data: null }; jsonrpc: string };
  if (Object.keys(v).join() !== 'id,error,jsonrpc' || Object.keys(v.error).join() !== 'code,message,data' || v.jsonrpc !== '2.0' || v.error.data !== null) {
    throw new Error(`bad error shape ${f.reply}`);
  }
  return { id: v.id, code: v.error.code, message: v.error.message, raw: f.reply, kind: f.error };
}

t.test('section 1.5 exchange: client frames parse', async (t) => {
  const join = call(parseFrame(`{"method":"join","params":{"sid":"room1","uid":"alice","offer":{"type":"offer","sdp":"${OFFER_SDP}"}},"id":"8b0c…"}`));
  t.same(join, {
    kind: 'call',
    id: '8b0c…',
    call: {
      method: 'join',
      params: { sid: 'room1', uid: 'alice', offer: { type: 'offer', sdp: OFFER_SDP }, config: { noPublish: false, noSubscribe: false, noAutoSubscribe: false } },
    },
  });

  const trickle = call(
    parseFrame(
      '{"method":"trickle","params":{"target":0,"candidate":{"candidate":"candidate:1 1 udp 2122063615 127.0.0.1 38496 typ host generation 0 ufrag DR7V","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"DR7V"}}}',
    ),
  );
  t.same(trickle, {
    kind: 'call',
    id: null,
    call: {
      method: 'trickle',
      params: {
        target: 0,
        candidate: { candidate: 'candidate:1 1 udp 2122063615 127.0.0.1 38496 typ host generation 0 ufrag DR7V', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'DR7V' },
      },
    },
  });

  t.same(call(parseFrame('{"method":"answer","params":{"desc":{"type":"answer","sdp":"…"}}}')), {
    kind: 'call',
    id: null,
    call: { method: 'answer', params: { desc: { type: 'answer', sdp: '…' } } },
  });
  t.same(call(parseFrame('{"method":"trickle","params":{"target":1,"candidate":{"candidate":"c","sdpMid":null,"sdpMLineIndex":null,"usernameFragment":null}}}')).call, {
    method: 'trickle',
    params: { target: 1, candidate: { candidate: 'c', sdpMid: null, sdpMLineIndex: null, usernameFragment: null } },
  });
  t.same(call(parseFrame('{"method":"offer","params":{"desc":{"type":"offer","sdp":"…m=video… a=simulcast:send f;h;q…"}},"id":"b8fc…"}')), {
    kind: 'call',
    id: 'b8fc…',
    call: { method: 'offer', params: { desc: { type: 'offer', sdp: '…m=video… a=simulcast:send f;h;q…' } } },
  });
});

t.test('section 1.5 exchange: server frames serialize byte-for-byte', async (t) => {
  t.equal(
    trickleNotification(0, { candidate: 'candidate:…', sdpMid: '', sdpMLineIndex: 0, usernameFragment: null }),
    '{"method":"trickle","params":{"target":0,"candidate":{"candidate":"candidate:…","sdpMid":"","sdpMLineIndex":0,"usernameFragment":null}},"jsonrpc":"2.0"}',
  );
  t.equal(answerResultFrame('8b0c…', { type: 'answer', sdp: '…' }), '{"id":"8b0c…","result":{"type":"answer","sdp":"…"},"jsonrpc":"2.0"}');
  t.equal(offerNotification({ type: 'offer', sdp: '…m=application… (ion-sfu DC) …' }), '{"method":"offer","params":{"type":"offer","sdp":"…m=application… (ion-sfu DC) …"},"jsonrpc":"2.0"}');
  t.equal(answerResultFrame('b8fc…', { type: 'answer', sdp: '…' }), '{"id":"b8fc…","result":{"type":"answer","sdp":"…"},"jsonrpc":"2.0"}');
  t.equal(
    errorFrame('x', 500, IonSfuMessage.TransportExists),
    '{"id":"x","error":{"code":500,"message":"rtc transport already exists for this connection","data":null},"jsonrpc":"2.0"}',
  );
  t.equal(errorFrame(0, 500, IonSfuMessage.NoTransport), '{"id":0,"error":{"code":500,"message":"no rtc transport exists for this Peer","data":null},"jsonrpc":"2.0"}');
  // Numeric ids stay numbers; extra keys of a session's description never leak.
  t.equal(resultFrame(7, null), '{"id":7,"result":null,"jsonrpc":"2.0"}');
  t.equal(answerResultFrame(18, { type: 'answer', sdp: 's', extra: 1 } as never), '{"id":18,"result":{"type":"answer","sdp":"s"},"jsonrpc":"2.0"}');
  // SDP line breaks and quotes are escaped as JSON requires.
  t.equal(offerNotification({ type: 'offer', sdp: 'v=0\r\na="x"\r\n' }), '{"method":"offer","params":{"type":"offer","sdp":"v=0\\r\\na=\\"x\\"\\r\\n"},"jsonrpc":"2.0"}');
});

t.test('lenient inputs, as ion-sfu (jsonrpc2 + Go encoding/json) takes them', async (t) => {
  const sdp = '{"type":"offer","sdp":"v=0"}';
  // jsonrpc key optional, and ignored whatever it holds.
  t.equal(call(parseFrame(`{"jsonrpc":"2.0","method":"join","params":{"sid":"r","uid":"u","offer":${sdp}},"id":1}`)).id, 1);
  t.equal(call(parseFrame(`{"jsonrpc":"1.0","method":"join","params":{"sid":"r","uid":"u","offer":${sdp}},"id":"1"}`)).id, '1');
  // Integer ids stay numbers, 0 included; null id means a notification.
  t.equal(call(parseFrame(`{"method":"join","params":{"sid":"r","uid":"u","offer":${sdp}},"id":0}`)).id, 0);
  t.equal(call(parseFrame(`{"method":"join","params":{"sid":"r","uid":"u","offer":${sdp}},"id":null}`)).id, null);
  t.equal(call(parseFrame(`{"method":"join","params":{"sid":"r","uid":"u","offer":${sdp}},"id":9007199254740991}`)).id, 9007199254740991);
  // Keys match case-insensitively, everywhere Go decodes a struct.
  const folded = call(parseFrame(`{"METHOD":"join","Params":{"SID":"r","Uid":"u","OFFER":{"Type":"offer","SDP":"v=0"},"config":{"nopublish":true,"NOSUBSCRIBE":true,"NoAutoSubscribe":false}},"Id":"a"}`));
  t.same(folded, {
    kind: 'call',
    id: 'a',
    call: { method: 'join', params: { sid: 'r', uid: 'u', offer: { type: 'offer', sdp: 'v=0' }, config: { noPublish: true, noSubscribe: true, noAutoSubscribe: false } } },
  });
  // Go's fold also maps the long s to s.
  t.equal((call(parseFrame(`{"method":"join","params":{"ſid":"long-s","offer":${sdp}}}`)).call.params as { sid: string }).sid, 'long-s');
  // Last of two differently-cased keys wins, as the later assignment does in Go.
  t.equal((call(parseFrame(`{"method":"join","params":{"sid":"a","SID":"b","offer":${sdp}}}`)).call.params as { sid: string }).sid, 'b');
  // Missing uid is empty (ion-sfu then generates one); config null/absent is all false; null booleans are false.
  const noUid = call(parseFrame(`{"method":"join","params":{"sid":"r","offer":${sdp},"config":{"NoPublish":null}}}`)).call;
  t.same(noUid.params, { sid: 'r', uid: '', offer: { type: 'offer', sdp: 'v=0' }, config: { noPublish: false, noSubscribe: false, noAutoSubscribe: false } });
  t.same((call(parseFrame(`{"method":"join","params":{"sid":"r","uid":null,"offer":${sdp},"config":null}}`)).call.params as { uid: string }).uid, '');
  // Unknown keys are ignored.
  t.ok(call(parseFrame(`{"method":"join","params":{"sid":"r","offer":${sdp},"token":"x","config":{"Other":1}},"meta":{}}`)));
  // Candidate: optional fields absent → null; other targets are valid calls (dropped later).
  t.same(call(parseFrame('{"method":"trickle","params":{"target":1,"candidate":{"candidate":""}}}')).call.params, {
    target: 1,
    candidate: { candidate: '', sdpMid: null, sdpMLineIndex: null, usernameFragment: null },
  });
  t.equal((call(parseFrame('{"method":"trickle","params":{"target":7,"candidate":{"candidate":"c"}}}')).call.params as { target: number }).target, 7);
  // Binary frames are read too (gorilla's ReadJSON takes either).
  t.equal(call(parseFrame(Buffer.from(`{"method":"offer","params":{"desc":{"type":"offer","sdp":"x"}},"id":"b"}`))).id, 'b');
  // Responses from the client are dropped as jsonrpc2 drops unknown ids; so are unknown notifications.
  t.same(parseFrame('{"id":"x","result":{}}'), { kind: 'ignore', reason: 'response' });
  t.same(parseFrame('{"id":"x","result":null}'), { kind: 'ignore', reason: 'response' });
  t.same(parseFrame('{"id":1,"error":{"code":1}}'), { kind: 'ignore', reason: 'response' });
  t.same(parseFrame('{"method":"leave","params":{}}'), { kind: 'ignore', reason: 'unknown-notification' });
  t.same(parseFrame('{"method":"Join","params":{}}'), { kind: 'ignore', reason: 'unknown-notification' }, 'method names are case-sensitive (a Go switch)');
});

t.test('hostile frames: protocol-level errors (ion-sfu closes the socket)', async (t) => {
  let e = err(parseFrame('{"method":"join",'));
  t.same([e.id, e.code, e.message, e.kind], [null, -32700, 'parse error', 'parse']);
  t.equal(e.raw, '{"id":null,"error":{"code":-32700,"message":"parse error","data":null},"jsonrpc":"2.0"}');
  t.equal(err(parseFrame('')).code, -32700);
  t.equal(err(parseFrame('\uFEFF{}')).code, -32700, 'a BOM is not JSON');
  t.equal(err(parseFrame(Buffer.from([0xff, 0xfe, 0x00]))).code, -32700);
  for (const top of ['[]', '[{"method":"join"}]', '1', '"join"', 'null', 'true']) {
    e = err(parseFrame(top));
    t.same([e.id, e.code, e.kind], [null, -32600, 'invalid-request'], top);
  }
  for (const id of ['1.5', '-1', 'true', '{}', '[]', '9007199254740992', '1e300']) {
    e = err(parseFrame(`{"method":"join","params":{},"id":${id}}`));
    t.same([e.id, e.code], [null, -32600], `id ${id}`);
    t.match(e.message, /id must be a string or a non-negative integer/);
  }
  e = err(parseFrame('{"id":"q"}'));
  t.same([e.id, e.code], ['q', -32600], 'neither method nor result: the valid id is echoed');
  e = err(parseFrame('{"id":"q","method":null}'));
  t.equal(e.code, -32600, 'null method is no method');
  e = err(parseFrame('{"id":"q","method":"join","result":1}'));
  t.same([e.id, e.code], ['q', -32600], 'both method and result');
  e = err(parseFrame('{"id":3,"method":5,"params":{}}'));
  t.same([e.id, e.code, e.message], [3, -32600, 'invalid request: method must be a string']);
});

t.test('hostile frames: unknown methods', async (t) => {
  const e = err(parseFrame('{"method":"leave","params":{},"id":"z"}'));
  t.same([e.id, e.code, e.message, e.kind], ['z', -32601, 'method not found: "leave"', 'method-not-found']);
  const long = err(parseFrame(`{"method":"${'m'.repeat(5000)}","id":1}`));
  t.ok(long.message.length < 100, 'a long method name is not echoed in full');
  t.equal(err(parseFrame('{"method":"__proto__","id":1}')).code, -32601);
});

t.test('hostile frames: invalid params name the field; id echoed, 0 for notifications', async (t) => {
  const sdp = '{"type":"offer","sdp":"v=0"}';
  const cases: [string, string | number, string][] = [
    ['{"method":"join","id":"a"}', 'a', 'params is required'],
    ['{"method":"join","params":null,"id":"a"}', 'a', 'params is required'],
    ['{"method":"trickle"}', 0, 'params is required'],
    ['{"method":"answer","params":[]}', 0, 'params must be an object'],
    ['{"method":"join","params":"x","id":2}', 2, 'params must be an object'],
    [`{"method":"join","params":{"offer":${sdp}},"id":1}`, 1, 'params.sid is required'],
    [`{"method":"join","params":{"sid":"","offer":${sdp}},"id":1}`, 1, 'params.sid must not be empty'],
    [`{"method":"join","params":{"sid":5,"offer":${sdp}},"id":1}`, 1, 'params.sid must be a string'],
    [`{"method":"join","params":{"sid":"r","uid":5,"offer":${sdp}},"id":1}`, 1, 'params.uid must be a string'],
    ['{"method":"join","params":{"sid":"r"},"id":1}', 1, 'params.offer is required'],
    ['{"method":"join","params":{"sid":"r","offer":"v=0"},"id":1}', 1, 'params.offer must be an object'],
    ['{"method":"join","params":{"sid":"r","offer":{"type":"answer","sdp":"v=0"}},"id":1}', 1, 'params.offer.type must be "offer"'],
    ['{"method":"join","params":{"sid":"r","offer":{"type":"OFFER","sdp":"v=0"}},"id":1}', 1, 'params.offer.type must be "offer"'],
    ['{"method":"join","params":{"sid":"r","offer":{"type":"offer"}},"id":1}', 1, 'params.offer.sdp is required'],
    ['{"method":"join","params":{"sid":"r","offer":{"type":"offer","sdp":""}},"id":1}', 1, 'params.offer.sdp must not be empty'],
    ['{"method":"join","params":{"sid":"r","offer":{"type":"offer","sdp":1}},"id":1}', 1, 'params.offer.sdp must be a string'],
    [`{"method":"join","params":{"sid":"r","offer":${sdp},"config":[]},"id":1}`, 1, 'params.config must be an object'],
    [`{"method":"join","params":{"sid":"r","offer":${sdp},"config":{"NoPublish":"yes"}},"id":1}`, 1, 'params.config.NoPublish must be a boolean'],
    [`{"method":"join","params":{"sid":"r","offer":${sdp},"config":{"nosubscribe":1}},"id":1}`, 1, 'params.config.NoSubscribe must be a boolean'],
    [`{"method":"join","params":{"sid":"r","offer":${sdp},"config":{"NoAutoSubscribe":"true"}},"id":1}`, 1, 'params.config.NoAutoSubscribe must be a boolean'],
    ['{"method":"offer","params":{},"id":"o"}', 'o', 'params.desc is required'],
    ['{"method":"offer","params":{"desc":{"type":"answer","sdp":"x"}},"id":"o"}', 'o', 'params.desc.type must be "offer"'],
    ['{"method":"answer","params":{"desc":{"type":"offer","sdp":"x"}}}', 0, 'params.desc.type must be "answer"'],
    ['{"method":"answer","params":{"desc":{"type":"answer"}}}', 0, 'params.desc.sdp is required'],
    ['{"method":"trickle","params":{"candidate":{"candidate":"c"}}}', 0, 'params.target is required'],
    ['{"method":"trickle","params":{"target":"0","candidate":{"candidate":"c"}}}', 0, 'params.target must be an integer'],
    ['{"method":"trickle","params":{"target":0.5,"candidate":{"candidate":"c"}}}', 0, 'params.target must be an integer'],
    ['{"method":"trickle","params":{"target":0}}', 0, 'params.candidate is required'],
    ['{"method":"trickle","params":{"target":0,"candidate":"candidate:1 1 udp ..."}}', 0, 'params.candidate must be an object'],
    ['{"method":"trickle","params":{"target":0,"candidate":{}}}', 0, 'params.candidate.candidate is required'],
    ['{"method":"trickle","params":{"target":0,"candidate":{"candidate":1}}}', 0, 'params.candidate.candidate must be a string'],
    ['{"method":"trickle","params":{"target":0,"candidate":{"candidate":"c","sdpMid":0}}}', 0, 'params.candidate.sdpMid must be a string'],
    ['{"method":"trickle","params":{"target":0,"candidate":{"candidate":"c","usernameFragment":[]}}}', 0, 'params.candidate.usernameFragment must be a string'],
    ['{"method":"trickle","params":{"target":0,"candidate":{"candidate":"c","sdpMLineIndex":-1}}}', 0, 'params.candidate.sdpMLineIndex must be an integer in 0..65535'],
    ['{"method":"trickle","params":{"target":0,"candidate":{"candidate":"c","sdpMLineIndex":1.5}}}', 0, 'params.candidate.sdpMLineIndex must be an integer in 0..65535'],
    ['{"method":"trickle","params":{"target":0,"candidate":{"candidate":"c","sdpMLineIndex":65536}}}', 0, 'params.candidate.sdpMLineIndex must be an integer in 0..65535'],
    ['{"method":"trickle","params":{"target":0,"candidate":{"candidate":"c","sdpMLineIndex":"0"}}}', 0, 'params.candidate.sdpMLineIndex must be an integer in 0..65535'],
  ];
  for (const [frame, id, message] of cases) {
    const e = err(parseFrame(frame));
    t.same([e.id, e.code, e.message, e.kind], [id, -32602, `invalid params: ${message}`, 'invalid-params'], frame);
  }
});

t.test('frames over the limit are refused before parsing', async (t) => {
  const big = `{"method":"join","params":{"sid":"${'x'.repeat(MAX_FRAME_BYTES)}"}}`;
  const e = err(parseFrame(big));
  t.same([e.id, e.code, e.kind], [null, -32600, 'too-large']);
  t.equal(err(parseFrame('{"a":1}', 4)).kind, 'too-large');
  // The limit counts bytes, not UTF-16 units.
  t.equal(err(parseFrame('"éé"', 5)).kind, 'too-large');
  t.equal(err(parseFrame('"éé"', 6)).kind, 'invalid-request');
});

t.test('oversized trickle candidates are refused, so early trickles cannot hoard memory', async (t) => {
  const { parseFrame, MAX_CANDIDATE_CHARS } = await import('../../src/signal/jsonrpc/frames.js');
  const frame = (candidate: string) =>
    JSON.stringify({ method: 'trickle', params: { target: 0, candidate: { candidate, sdpMid: '0', sdpMLineIndex: 0 } }, id: 'x' });
  t.equal(parseFrame(frame('candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host')).kind, 'call');
  const big = parseFrame(frame('c'.repeat(MAX_CANDIDATE_CHARS + 1)));
  t.equal(big.kind, 'error');
  if (big.kind === 'error') t.match(big.reply, /-32602/);
});
