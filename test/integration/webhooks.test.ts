// Webhooks against a local HTTP receiver on 127.0.0.1: signed bodies that
// verify, retries on 500, no retry on 4xx, bounded queue with counted drops,
// and a receiver that hangs never delays a join.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { WebhookNotifier, verifyWebhookSignature, signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER, type WebhookEvent } from '../../src/webhooks/index.js';
import { Sfu } from '../../src/sfu.js';
import { generateCertificate } from '../../src/dtls/certificate.js';
import { Publisher } from '../../bench/loadgen/roles.js';
import { isLoopback, waitFor } from '../interop/echo.js';

const SECRET = 'test-secret';

interface Received {
  body: string;
  event: WebhookEvent;
  timestamp: string | undefined;
  signature: string | undefined;
  verified: boolean;
}

/** A receiver whose answer to each request is chosen by `respond` (return null to never answer). */
async function receiver(respond: (n: number, req: IncomingMessage) => number | null) {
  const got: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const timestamp = req.headers[TIMESTAMP_HEADER] as string | undefined;
      const signature = req.headers[SIGNATURE_HEADER] as string | undefined;
      got.push({ body, event: JSON.parse(body) as WebhookEvent, timestamp, signature, verified: verifyWebhookSignature(SECRET, body, timestamp, signature) });
      const status = respond(got.length, req);
      if (status === null) hanging.push(res);
      else res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  return {
    url,
    got,
    hanging,
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

t.test('signature: HMAC-SHA256 over "<timestamp>.<body>", checked in constant time, stale timestamps refused', async (t) => {
  const body = '{"event":"room_started"}';
  const sig = signWebhook(SECRET, 1_700_000_000, body);
  t.match(sig, /^sha256=[0-9a-f]{64}$/);
  t.ok(verifyWebhookSignature(SECRET, body, '1700000000', sig, { nowSec: 1_700_000_010 }));
  t.notOk(verifyWebhookSignature(SECRET, `${body} `, '1700000000', sig, { nowSec: 1_700_000_010 }), 'another body');
  t.notOk(verifyWebhookSignature('other', body, '1700000000', sig, { nowSec: 1_700_000_010 }), 'another secret');
  t.notOk(verifyWebhookSignature(SECRET, body, '1700000001', sig, { nowSec: 1_700_000_010 }), 'the timestamp is signed too');
  t.notOk(verifyWebhookSignature(SECRET, body, '1700000000', sig, { nowSec: 1_700_000_000 + 301 }), 'a replay after 5 minutes');
  t.notOk(verifyWebhookSignature(SECRET, body, undefined, sig), 'no timestamp');
  t.notOk(verifyWebhookSignature(SECRET, body, '1700000000', 'sha256=00'), 'short signature');
  t.throws(() => new WebhookNotifier({ url: 'ftp://x', secret: SECRET }), /http or https/);
  t.throws(() => new WebhookNotifier({ url: 'http://127.0.0.1/', secret: '' }), /secret/);
});

t.test('events arrive in order, signed; 500 is retried with the same id, 4xx is not', async (t) => {
  // 1st request: 500, 2nd: 500, then 200 for everything except the event of the 5th request: 400.
  const r = await receiver((n) => (n <= 2 ? 500 : n === 5 ? 400 : 200));
  t.teardown(r.close);
  const hooks = new WebhookNotifier({ url: r.url, secret: SECRET, retryBaseMs: 20, maxAttempts: 5 });
  t.teardown(() => hooks.close());
  hooks.send('room_started', { room: { sid: 'a' } });
  hooks.send('participant_joined', { room: { sid: 'a' }, participant: { uid: 'u1' } });
  hooks.send('participant_left', { room: { sid: 'a' }, participant: { uid: 'u1' } });
  hooks.send('room_finished', { room: { sid: 'a' } });
  await waitFor('everything answered', () => hooks.getStats().queued === 0, 10_000);
  t.same(
    r.got.map((g) => g.event.event),
    ['room_started', 'room_started', 'room_started', 'participant_joined', 'participant_left', 'room_finished'],
    'the first event three times (two 500s), the others once each, in order; the 400 is not retried',
  );
  t.ok(r.got.every((g) => g.verified), 'every request verifies');
  t.equal(new Set(r.got.slice(0, 3).map((g) => g.event.id)).size, 1, 'retries keep the event id');
  t.equal(new Set(r.got.map((g) => g.event.id)).size, 4, 'one id per event');
  const first = r.got[0]!.event;
  t.match(first, { event: 'room_started', room: { sid: 'a' } });
  t.ok(Math.abs(first.createdAt - Date.now()) < 60_000, 'createdAt is Unix milliseconds');
  t.match(r.got[3]!.event, { participant: { uid: 'u1' } });
  const s = hooks.getStats();
  t.same(s.attempts, { ok: 3, error: 3, timeout: 0 });
  t.equal(s.delivered, 3);
  t.same(s.dropped, { queueFull: 0, attemptsExhausted: 0, rejected: 1, closed: 0 });
});

t.test('a receiver that is always down: bounded attempts, then the event is dropped and counted', async (t) => {
  const r = await receiver(() => 503);
  t.teardown(r.close);
  const hooks = new WebhookNotifier({ url: r.url, secret: SECRET, retryBaseMs: 5, maxAttempts: 3 });
  t.teardown(() => hooks.close());
  hooks.send('room_started', { room: { sid: 'b' } });
  await waitFor('given up', () => hooks.getStats().dropped.attemptsExhausted === 1, 10_000);
  t.equal(r.got.length, 3, 'exactly maxAttempts requests');
  t.equal(hooks.getStats().queued, 0);
});

t.test('a receiver that hangs: attempts time out, the queue is bounded, send() never waits', async (t) => {
  const r = await receiver(() => null);
  t.teardown(r.close);
  const hooks = new WebhookNotifier({ url: r.url, secret: SECRET, timeoutMs: 60_000, maxQueue: 3 });
  for (let i = 0; i < 10; i++) hooks.send('participant_joined', { room: { sid: 'c' }, participant: { uid: `u${i}` } });
  t.same(hooks.getStats().dropped.queueFull, 7, 'the queue holds 3 (the one in flight included); 7 dropped');
  t.equal(hooks.getStats().queued, 3);
  await waitFor('the first request reached the receiver', () => r.got.length === 1, 10_000);
  await hooks.close();
  const s = hooks.getStats();
  t.equal(s.dropped.closed, 3, 'close() drops (and counts) what is still queued');
  t.equal(s.attempts.error, 1, 'the hanging attempt was aborted');
  hooks.send('room_finished', { room: { sid: 'c' } });
  t.equal(hooks.getStats().dropped.closed, 4, 'sends after close are dropped too');

  const short = new WebhookNotifier({ url: r.url, secret: SECRET, timeoutMs: 100, maxAttempts: 2, retryBaseMs: 5 });
  short.send('room_started', { room: { sid: 'd' } });
  await waitFor('both attempts timed out', () => short.getStats().dropped.attemptsExhausted === 1, 10_000);
  t.equal(short.getStats().attempts.timeout, 2, 'each attempt is bounded by timeoutMs');
  await short.close();
});

t.test('close(drainMs) lets queued events go out first', async (t) => {
  const r = await receiver(() => 200);
  t.teardown(r.close);
  const hooks = new WebhookNotifier({ url: r.url, secret: SECRET });
  for (let i = 0; i < 5; i++) hooks.send('track_published', { room: { sid: 'e' } });
  await hooks.close(10_000);
  t.equal(r.got.length, 5);
  t.equal(hooks.getStats().dropped.closed, 0);
});

t.test('sfud: lifecycle events of a real peer, and a hanging receiver does not delay its join', async (t) => {
  // The first request hangs forever; later ones are answered.
  const r = await receiver((n) => (n === 1 ? null : 200));
  t.teardown(r.close);
  const sfu = await Sfu.create({
    config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 },
    acceptRemote: isLoopback,
    webhooks: { url: r.url, secret: SECRET, timeoutMs: 60_000 },
  });
  let closed = false;
  t.teardown(async () => {
    if (!closed) await sfu.close();
  });
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const cert = await generateCertificate();
  // Publisher.join resolves after the join answer, ICE and DTLS: with the receiver never answering.
  const pub = await Publisher.join({ url, sid: 'hooked', uid: 'alice', cert });
  await waitFor('room_started at the receiver', () => r.got.length >= 1);
  t.equal(r.got[0]!.event.event, 'room_started');
  t.equal(r.hanging.length, 1, 'it was never answered: the join did not wait for it');
  t.equal(r.got.length, 1, 'the other events wait behind it, in order');
  pub.start();
  await waitFor('both tracks published', () => (sfu.rooms.get('hooked')?.producers.length ?? 0) === 2);
  pub.close();
  await waitFor('room gone', () => sfu.rooms.get('hooked') === undefined);
  // Release the hanging request so the queue drains.
  r.hanging.splice(0).forEach((res) => res.writeHead(200).end());
  await waitFor('the queue drained', () => r.got.filter((g) => g.event.event === 'room_finished').length === 1, 20_000);
  const events = r.got.map((g) => g.event.event);
  t.same(
    events,
    ['room_started', 'participant_joined', 'track_published', 'track_published', 'track_unpublished', 'track_unpublished', 'participant_left', 'room_finished'],
    'every lifecycle event, in order',
  );
  t.ok(r.got.every((g) => g.verified), 'all signed');
  t.ok(r.got.every((g) => g.event.room.sid === 'hooked'));
  const tracks = r.got.filter((g) => g.event.event === 'track_published').map((g) => g.event.track!);
  t.same(tracks.map((x) => x.kind).sort(), ['audio', 'video']);
  t.ok(tracks.every((x) => x.streamId === pub.streamId && typeof x.id === 'string' && typeof x.mid === 'string'));
  t.ok(
    r.got.filter((g) => g.event.event.startsWith('track_') || g.event.event.startsWith('participant_')).every((g) => g.event.participant?.uid === 'alice'),
    'participant uid on participant and track events',
  );
  let text = '';
  for (let i = 0; i < 100 && !/^sfud_webhook_delivered_total 8$/m.test(text); i++) {
    text = await (await fetch(`${sfu.metricsUrl}/metrics`)).text();
    await new Promise((res) => setTimeout(res, 50));
  }
  t.match(text, /^sfud_webhook_delivered_total 8$/m);
  t.match(text, /^sfud_webhook_events_total\{event="track_published"\} 2$/m);
  closed = true;
  await sfu.close();
});

t.test('sfud: webhooks from the daemon config, and dump() does not show the secret', async (t) => {
  const r = await receiver(() => 200);
  t.teardown(r.close);
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0, webhookUrl: r.url, webhookSecret: SECRET } });
  t.teardown(() => sfu.close());
  t.equal(sfu.dump().config.webhookSecret, '<redacted>');
  t.notMatch(JSON.stringify(sfu.dump()), SECRET);
  sfu.rooms.getOrCreate('from-config').close();
  await waitFor('both events delivered', () => r.got.length === 2);
  t.same(
    r.got.map((g) => [g.event.event, g.verified]),
    [
      ['room_started', true],
      ['room_finished', true],
    ],
  );
});
