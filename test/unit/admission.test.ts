// The pieces behind signalling admission: token buckets (bounded memory,
// IPv6 by /64, exemptions), token claims, and counting sending media sections.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { ManualClock } from '../../src/util/clock.js';
import { RateLimiter, clientKey, exemptList, isExempt } from '../../src/signal/rate-limit.js';
import { TokenVerifier, signToken } from '../../src/signal/auth.js';
import { sendingSections } from '../../src/signal/admission.js';
import { SignalRefusal } from '../../src/signal/jsonrpc/refusals.js';
import { FIXTURES } from '../helpers/paths.js';

t.test('token bucket: burst, then the rate', async (t) => {
  const clock = new ManualClock();
  const l = new RateLimiter({ ratePerSec: 2, burst: 3, clock });
  t.same([l.take('a'), l.take('a'), l.take('a'), l.take('a')], [true, true, true, false]);
  t.ok(l.take('b'), 'another key has its own bucket');
  clock.advance(499);
  t.notOk(l.take('a'), 'not yet a whole token');
  clock.advance(1);
  t.ok(l.take('a'), 'one token after 500 ms at 2/s');
  t.notOk(l.take('a'));
  clock.advance(60_000);
  t.same([l.take('a'), l.take('a'), l.take('a'), l.take('a')], [true, true, true, false], 'refills to the burst, no more');
  const off = new RateLimiter({ ratePerSec: 0, burst: 1, clock });
  for (let i = 0; i < 100; i++) t.ok(off.take('a'), 'rate 0: no limit');
});

t.test('memory is bounded: least recently used buckets are evicted', async (t) => {
  const clock = new ManualClock();
  const l = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 3, clock });
  l.take('a');
  l.take('b');
  l.take('c');
  t.notOk(l.take('a'), 'a is empty (and now the most recent)');
  l.take('d');
  t.equal(l.size, 3);
  t.equal(l.evicted, 1);
  t.notOk(l.take('a'), 'a survived: b, the least recent, went');
  t.ok(l.take('b'), 'b starts over');
  for (let i = 0; i < 10_000; i++) l.take(`k${i}`);
  t.equal(l.size, 3, 'never more than maxKeys');
});

t.test('client keys: IPv4-mapped is IPv4, IPv6 by /64', async (t) => {
  t.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
  t.equal(clientKey('192.0.2.7'), '192.0.2.7');
  t.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.equal(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  t.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(clientKey('::1'), '0:0:0:0::/64');
  t.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  const list = exemptList(['127.0.0.0/8', '::1', '10.1.0.0/16']);
  t.ok(isExempt(list, '127.0.0.5'));
  t.ok(isExempt(list, '::ffff:127.0.0.1'));
  t.ok(isExempt(list, '::1'));
  t.ok(isExempt(list, '10.1.200.3'));
  t.notOk(isExempt(list, '10.2.0.1'));
  t.notOk(isExempt(list, ''));
});

t.test('token claims: defaults, aliases, types, exp required, HS256 only', async (t) => {
  const secret = 'unit-test-secret-of-at-least-32-bytes';
  const v = new TokenVerifier(secret);
  t.same(await v.verify(await signToken({ room: 'r' }, secret, 60)), { room: 'r', uid: undefined, canPublish: true, canSubscribe: true, admin: false });
  const aliases = await new SignJWT({ sid: 'r2', sub: 'u2', canPublish: false }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode(secret));
  t.match(await v.verify(aliases), { room: 'r2', uid: 'u2', canPublish: false });
  const refusal = async (token: string, reason: string, message: RegExp): Promise<void> => {
    const err = await v.verify(token).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof SignalRefusal && err.reason === reason && message.test(err.message), `${reason}: ${String(err)}`);
  };
  await refusal(await signToken({ room: 1 as unknown as string }, secret, 60), 'tokenInvalid', /claim room must be a string/);
  await refusal(await signToken({ room: 'r', canPublish: 'no' as unknown as boolean }, secret, 60), 'tokenInvalid', /canPublish must be a boolean/);
  const noExp = await new SignJWT({ room: 'r' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
  await refusal(noExp, 'tokenInvalid', /"exp"/);
  const hs512 = await new SignJWT({ room: 'r' }).setProtectedHeader({ alg: 'HS512' }).setExpirationTime('1m').sign(new TextEncoder().encode(secret));
  await refusal(hs512, 'tokenInvalid', /alg/);
  await refusal('not.a.jwt', 'tokenInvalid', /invalid token/);
  await refusal('', 'tokenMissing', /required/);
  await refusal('x'.repeat(5000), 'tokenInvalid', /too long/);
});

t.test('sending media sections of an offer', async (t) => {
  const sdp = (name: string): string => readFileSync(`${FIXTURES}sdp/${name}`, 'utf8');
  t.equal(sendingSections(sdp('chromium-camera-mic.sdp')), 2);
  t.equal(sendingSections(sdp('chromium-join-datachannel.sdp')), 0);
  t.equal(sendingSections(sdp('wrtc-audio-video-data.sdp')), 2, 'sendrecv counts');
  t.equal(sendingSections(sdp('chromium-camera-mic.sdp').replace(/a=sendonly/g, 'a=recvonly')), 0, 'recvonly does not');
  t.equal(sendingSections(sdp('chromium-camera-mic.sdp').replace('m=audio 58742', 'm=audio 0')), 1, 'a rejected section does not');
  t.equal(sendingSections('garbage'), 0, 'unparseable: the session refuses it');
});
