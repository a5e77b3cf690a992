import t from 'tap';
import { IceLiteAgent, IceResult, type IceTuple } from '../../src/ice/ice-lite.js';
import { encodeStun, parseStun, shortTermKey, StunClass, StunMethod, verifyFingerprint, verifyMessageIntegrity } from '../../src/ice/stun.js';
import { randomBytes } from 'node:crypto';

const A: IceTuple = { address: '127.0.0.1', port: 40000, family: 4 };
const B: IceTuple = { address: '::1', port: 40001, family: 6 };

interface ReqOpts {
  username?: string;
  password?: string;
  useCandidate?: boolean;
  controlled?: boolean;
  noIntegrity?: boolean;
  noFingerprint?: boolean;
  unknown?: boolean;
  cls?: number;
}

function request(agent: IceLiteAgent, o: ReqOpts = {}) {
  const p = agent.localParameters;
  const buf = encodeStun({
    method: StunMethod.Binding,
    class: (o.cls ?? StunClass.Request) as 0,
    transactionId: randomBytes(12),
    username: o.username ?? `${p.usernameFragment}:remote`,
    priority: 1853817087,
    ...(o.controlled ? { iceControlled: 7n } : { iceControlling: 9n }),
    useCandidate: o.useCandidate ?? false,
    ...(o.unknown ? { rawAttributes: [{ type: 0x7777, value: Buffer.from([1, 2, 3, 4]) }] } : {}),
    ...(o.noIntegrity ? {} : { integrityKey: shortTermKey(o.password ?? p.password) }),
    fingerprint: !o.noFingerprint,
  });
  return parseStun(buf)!;
}

function answer(agent: IceLiteAgent, o: ReqOpts, from: IceTuple, now = 0) {
  const out = Buffer.alloc(512);
  const result = agent.handleStun(request(agent, o), from, now, out);
  const res = agent.responseLength > 0 ? parseStun(out.subarray(0, agent.responseLength)) : null;
  return { result, res };
}

t.test('answers a valid check with XOR-MAPPED-ADDRESS, integrity and fingerprint', async (t) => {
  const agent = new IceLiteAgent();
  const { result, res } = answer(agent, {}, A);
  t.equal(result, IceResult.Success);
  t.ok(res);
  t.equal(res!.class, StunClass.SuccessResponse);
  t.same(res!.xorMappedAddress, { family: 4, address: '127.0.0.1', port: 40000 });
  t.ok(verifyMessageIntegrity(res!, shortTermKey(agent.localParameters.password)));
  t.ok(verifyFingerprint(res!));
  t.equal(agent.state, 'connected', 'first working pair carries media before nomination');
  t.same(agent.selectedTuple, A);
  t.ok(agent.isKnownTuple(A));
  t.notOk(agent.isKnownTuple(B));
});

t.test('IPv6 tuple mapped back', async (t) => {
  const agent = new IceLiteAgent();
  const { res } = answer(agent, { useCandidate: true }, B);
  t.same(res!.xorMappedAddress, { family: 6, address: '::1', port: 40001 });
  t.equal(agent.state, 'completed');
});

t.test('rejects bad credentials with the right error code', async (t) => {
  const agent = new IceLiteAgent();
  let r = answer(agent, { password: 'wrong-password-wrong-password' }, A);
  t.equal(r.result, IceResult.ErrorUnauthorized);
  t.equal(r.res!.errorCode?.code, 401);
  t.notOk(r.res!.hasMessageIntegrity, 'no integrity on a 401 to a failed check');
  r = answer(agent, { username: 'nobody:remote' }, A);
  t.equal(r.res!.errorCode?.code, 401);
  r = answer(agent, { noIntegrity: true }, A);
  t.equal(r.result, IceResult.ErrorBadRequest);
  t.equal(r.res!.errorCode?.code, 400);
  r = answer(agent, { unknown: true }, A);
  t.equal(r.result, IceResult.ErrorUnknownAttribute);
  t.equal(r.res!.errorCode?.code, 420);
  t.same([...r.res!.unknownAttributes], [], 'the response itself parses');
  r = answer(agent, { controlled: true }, A);
  t.equal(r.result, IceResult.ErrorRoleConflict);
  t.equal(r.res!.errorCode?.code, 487);
  r = answer(agent, { noFingerprint: true }, A);
  t.equal(r.result, IceResult.DropBadFingerprint);
  t.equal(r.res, null, 'silently dropped');
  r = answer(agent, { cls: StunClass.Indication }, A);
  t.equal(r.result, IceResult.DropNotRequest);
  t.equal(agent.state, 'new', 'no failed check selects a pair');
  t.notOk(agent.isKnownTuple(A));
});

t.test('the remote ufrag from SDP is enforced once known', async (t) => {
  const agent = new IceLiteAgent();
  agent.setRemoteParameters({ usernameFragment: 'abcd' });
  t.equal(answer(agent, { username: `${agent.localParameters.usernameFragment}:zzzz` }, A).res!.errorCode?.code, 401);
  t.equal(answer(agent, { username: `${agent.localParameters.usernameFragment}:abcd` }, A).result, IceResult.Success);
});

t.test('nomination selects, and a new nomination switches the path', async (t) => {
  const agent = new IceLiteAgent();
  const selected: IceTuple[] = [];
  agent.on('selected', (tu) => selected.push(tu));
  answer(agent, {}, A);
  answer(agent, { useCandidate: true }, A);
  t.equal(agent.state, 'completed');
  answer(agent, {}, B);
  t.same(agent.selectedTuple, A, 'a plain check on another pair does not move media');
  answer(agent, { useCandidate: true }, B);
  t.same(agent.selectedTuple, B, 'network change: the client nominated a new pair');
  t.same(selected, [A, B]);
  t.equal(agent.stats.pathSwitches, 1);
});

t.test('consent freshness: 30 s without a valid check disconnects', async (t) => {
  const agent = new IceLiteAgent({ consentTimeoutMs: 30_000 });
  answer(agent, { useCandidate: true }, A, 0);
  t.ok(agent.checkConsent(29_000));
  answer(agent, {}, A, 29_000);
  t.ok(agent.checkConsent(58_000), 'refreshed by the check at 29 s');
  // Failed checks do not refresh consent.
  answer(agent, { password: 'bad-bad-bad-bad-bad-bad' }, A, 50_000);
  t.notOk(agent.checkConsent(59_001));
  t.equal(agent.state, 'disconnected');
});

t.test('ICE restart: old credentials work until the new ones are used', async (t) => {
  const agent = new IceLiteAgent();
  const old = agent.localParameters;
  answer(agent, { useCandidate: true }, A);
  const fresh = agent.restart();
  t.not(fresh.usernameFragment, old.usernameFragment);
  t.not(fresh.password, old.password);
  t.same(agent.usernameFragments, [fresh.usernameFragment, old.usernameFragment]);
  t.equal(answer(agent, { username: `${old.usernameFragment}:r`, password: old.password }, A).result, IceResult.Success);
  t.equal(answer(agent, { useCandidate: true }, B).result, IceResult.Success);
  t.same(agent.usernameFragments, [fresh.usernameFragment]);
  t.equal(answer(agent, { username: `${old.usernameFragment}:r`, password: old.password }, A).result, IceResult.ErrorUnauthorized);
  t.same(agent.selectedTuple, B);
});

t.test('closed agent answers nothing', async (t) => {
  const agent = new IceLiteAgent();
  agent.close();
  t.equal(answer(agent, {}, A).res, null);
  t.equal(agent.state, 'closed');
});
