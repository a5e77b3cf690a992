// The load generator's pure pieces for full-ICE servers: answering binding
// requests (bench/loadgen/ice-responder.ts), ICE/DTLS roles and candidate
// choice, and the answer to a real Janus 1.1.2 subscriber offer
// (test/fixtures/sdp/janus-subscriber-offer.sdp, captured from the bench).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { answerBindingRequest } from '../../bench/loadgen/ice-responder.js';
import {
  hasLoopbackCandidate,
  parseSessionDescription,
  parseTrickledCandidate,
  publisherOffer,
  remoteTransport,
  rolesFor,
  subscriberAnswer,
} from '../../bench/loadgen/sdp.js';
import { encodeStun, parseStun, shortTermKey, StunClass, StunMethod, verifyFingerprint, verifyMessageIntegrity } from '../../src/ice/stun.js';
import { FIXTURES } from '../helpers/paths.js';

const dir = `${FIXTURES}sdp/`;
const janusOffer = readFileSync(`${dir}janus-subscriber-offer.sdp`, 'utf8');

const local = { ufrag: 'loc1', key: shortTermKey('localpassword0123456789') };
const from = { address: '127.0.0.2', port: 20018 };

function request(o: { username?: string; key?: Buffer; useCandidate?: boolean; controlling?: boolean; cls?: StunClass; fingerprint?: boolean } = {}): Buffer {
  return encodeStun({
    method: StunMethod.Binding,
    class: o.cls ?? StunClass.Request,
    transactionId: randomBytes(12),
    username: o.username ?? 'loc1:rem1',
    priority: 2015363327,
    ...(o.controlling === false ? { iceControlled: 5n } : { iceControlling: 7n }),
    useCandidate: o.useCandidate ?? false,
    integrityKey: o.key ?? local.key,
    fingerprint: o.fingerprint ?? true,
  });
}

t.test('a valid check gets a success response keyed with our password', async (t) => {
  const req = request({ useCandidate: true });
  const a = answerBindingRequest(req, from, local);
  if ('drop' in a) throw new Error(`dropped: ${a.drop}`);
  t.equal(a.useCandidate, true);
  t.equal(a.remoteControlling, true);
  const res = parseStun(a.response)!;
  t.equal(res.class, StunClass.SuccessResponse);
  t.same(res.transactionId, parseStun(req)!.transactionId, 'same transaction');
  t.same(res.xorMappedAddress, { family: 4, address: '127.0.0.2', port: 20018 });
  t.ok(verifyMessageIntegrity(res, local.key));
  t.ok(verifyFingerprint(res));
});

t.test('nomination and role are reported as sent', async (t) => {
  const a = answerBindingRequest(request({ controlling: false }), from, local);
  if ('drop' in a) throw new Error(a.drop);
  t.equal(a.useCandidate, false);
  t.equal(a.remoteControlling, false);
});

t.test('checks not for us, forged or malformed are dropped with a reason', async (t) => {
  t.same(answerBindingRequest(request({ username: 'other:rem1' }), from, local), { drop: 'wrong-username' });
  t.same(answerBindingRequest(request({ username: 'loc1' }), from, local), { drop: 'wrong-username' });
  t.same(answerBindingRequest(request({ key: shortTermKey('wrong') }), from, local), { drop: 'bad-integrity' });
  t.same(answerBindingRequest(request({ cls: StunClass.Indication }), from, local), { drop: 'not-binding-request' });
  t.same(answerBindingRequest(Buffer.from('not stun at all, just bytes'), from, local), { drop: 'not-stun' });
  const bad = request();
  bad[bad.length - 1]! ^= 0xff; // corrupt FINGERPRINT
  t.same(answerBindingRequest(bad, from, local), { drop: 'bad-fingerprint' });
  t.same(answerBindingRequest(request({ fingerprint: false }), from, local).constructor, Object, 'FINGERPRINT is optional');
});

t.test('roles: lite remotes are controlled, otherwise the offerer controls; DTLS follows a=setup', async (t) => {
  const base = { address: '127.0.0.1', port: 1, ufrag: 'u', pwd: 'p', fingerprints: [] };
  t.same(rolesFor({ ...base, iceLite: true, setup: 'passive' }, false), { iceRole: 'controlling', dtlsRole: 'client' }, 'sfud offering');
  t.same(rolesFor({ ...base, iceLite: false, setup: 'active' }, true), { iceRole: 'controlling', dtlsRole: 'server' }, 'Janus answering our offer');
  t.same(rolesFor({ ...base, iceLite: false, setup: 'actpass' }, false), { iceRole: 'controlled', dtlsRole: 'client' }, 'Janus offering');
  t.same(rolesFor({ ...base, iceLite: false, setup: 'passive' }, true), { iceRole: 'controlling', dtlsRole: 'client' });
});

t.test('the answer to a Janus subscriber offer', async (t) => {
  const offer = parseSessionDescription(janusOffer);
  const me = { ufrag: 'abcd', pwd: 'p'.repeat(22), fingerprint: Array.from({ length: 32 }, () => 'AB').join(':'), port: 40000, host: '127.0.0.2' };
  const answer = parseSessionDescription(subscriberAnswer(offer, me));
  t.same(answer.bundle, ['0', '1']);
  t.equal(answer.sections.length, 2);
  for (const [i, s] of answer.sections.entries()) {
    const o = offer.sections[i]!;
    t.equal(s.mid, o.mid);
    t.equal(s.direction, 'recvonly');
    t.equal(s.setup, 'active', 'we take the DTLS client role to an actpass offer');
    t.same(
      s.codecs.map((c) => `${c.payloadType} ${c.name}`),
      o.codecs.map((c) => `${c.payloadType} ${c.name}`),
      'every offered codec (VP8 and its RTX) is accepted',
    );
    t.same(s.candidates.map((c) => `${c.address}:${c.port}`), ['127.0.0.2:40000']);
    t.equal(s.ice?.usernameFragment, 'abcd');
  }
  const remote = remoteTransport(offer, ['127.0.0.2']);
  t.match(remote, { address: '127.0.0.2', port: 20018, ufrag: '4VTq', iceLite: false, setup: 'actpass' });
  t.same(rolesFor(remote, false), { iceRole: 'controlled', dtlsRole: 'client' });
});

t.test('candidate choice: loopback only, preferred address first, trickled ones count', async (t) => {
  const sdp = janusOffer
    .replace(/a=candidate:1 1 udp 2015363327 127\.0\.0\.2 20018 typ host\r\n/g, 'a=candidate:1 1 udp 1 192.0.2.2 5000 typ host\r\na=candidate:2 1 udp 2 127.0.0.1 6000 typ host\r\na=candidate:3 1 udp 3 127.0.0.2 7000 typ host\r\n');
  const d = parseSessionDescription(sdp);
  t.equal(remoteTransport(d, ['127.0.0.2']).port, 7000);
  t.equal(remoteTransport(d, ['10.0.0.1']).port, 6000, 'no preferred one: the first loopback candidate, never 192.0.2.2');
  const none = parseSessionDescription(janusOffer.replace(/a=candidate:.*\r\n/g, ''));
  t.notOk(hasLoopbackCandidate(none));
  t.throws(() => remoteTransport(none));
  t.equal(remoteTransport(none, [], [{ address: '127.0.0.1', port: 9 }]).port, 9);
  t.same(parseTrickledCandidate('candidate:3 1 udp 2130706431 127.0.0.1 51000 typ host generation 0'), { address: '127.0.0.1', port: 51000 });
  t.same(parseTrickledCandidate('a=candidate:3 1 UDP 2130706431 127.0.0.2 51000 typ host'), { address: '127.0.0.2', port: 51000 });
  t.equal(parseTrickledCandidate('candidate:3 1 udp 2130706431 192.0.2.2 51000 typ host'), null, 'not loopback');
  t.equal(parseTrickledCandidate('candidate:3 2 udp 2130706431 127.0.0.1 51000 typ host'), null, 'RTCP component');
  t.equal(parseTrickledCandidate('candidate:3 1 tcp 2130706431 127.0.0.1 51000 typ host'), null, 'TCP');
  t.equal(parseTrickledCandidate('garbage'), null);
});

t.test('a simulcast publisher offer groups its layers low first, as sfud and Janus read SSRC simulcast', async (t) => {
  const local = { ufrag: 'u', pwd: 'p'.repeat(24), fingerprint: 'sha-256 00', port: 5000 };
  const sdp = publisherOffer(local, { streamId: 's', video: { ssrc: 30, trackId: 'v', simulcast: [10, 20, 30] } });
  t.match(sdp, /a=ssrc-group:SIM 10 20 30\r\n/);
  for (const ssrc of [10, 20, 30]) t.match(sdp, new RegExp(`a=ssrc:${ssrc} msid:s v\\r\\n`));
  const single = publisherOffer(local, { streamId: 's', video: { ssrc: 30, trackId: 'v', simulcast: [30] } });
  t.notMatch(single, /ssrc-group/);
  t.match(single, /a=ssrc:30 cname:/);
});
