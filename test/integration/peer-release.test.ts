// Regression (found by the churn soak): a peer that leaves a room where others
// stay must be garbage at once. Two chains kept departed peers alive as long as
// someone stayed: a publisher's producer kept the 'close' listener of every
// subscription to it (and so every subscriber that ever watched it), and a
// subscriber's ended subscription kept the closed producer, whose keyframe
// callback reached the publisher that left (and its retransmission stores).
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Sfu } from '../../src/sfu.js';
import { generateCertificate } from '../../src/dtls/certificate.js';
import { Publisher, Subscriber } from '../../bench/loadgen/roles.js';
import { Histogram } from '../../bench/loadgen/histogram.js';
import { isLoopback, waitFor } from '../interop/echo.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const collected = new Set<string>();
const registry = new FinalizationRegistry<string>((uid) => collected.add(uid));

async function collect(uid: string): Promise<boolean> {
  for (let i = 0; i < 20 && !collected.has(uid); i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return collected.has(uid);
}

t.test('whoever leaves a room where others stay is collectable at once', async (t) => {
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  // Register every member sfud creates; the test keeps no reference to any.
  sfu.rooms.on('room', (room) => room.on('memberjoined', (m) => registry.register(m, m.uid)));
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const cert = await generateCertificate();
  const latency = new Histogram();

  const stays = await Publisher.join({ url, sid: 'r', uid: 'stays', cert, videoKbps: 100 });
  stays.start();
  t.teardown(() => stays.close());
  const watcher = await Subscriber.join({ url, sid: 'r', uid: 'watcher', cert, latency, connectPublisherPc: true });
  await watcher.ready;
  const leaver = await Publisher.join({ url, sid: 'r', uid: 'leaver', cert, videoKbps: 100 });
  leaver.start();
  const stayingWatcher = await Subscriber.join({ url, sid: 'r', uid: 'staying-watcher', cert, latency, connectPublisherPc: true });
  t.teardown(() => stayingWatcher.close());
  await stayingWatcher.ready;
  await waitFor('the staying watcher gets both publishers', () => stayingWatcher.streams.size === 4);

  // A subscriber leaves while the publisher it watched stays.
  watcher.close();
  await waitFor('watcher gone', () => sfu.rooms.get('r')!.getMember('watcher') === undefined);
  t.ok(await collect('watcher'), 'the departed subscriber is collected though the publisher it watched stays');

  // A publisher leaves while a subscriber of its tracks stays.
  leaver.close();
  await waitFor('leaver gone', () => sfu.rooms.get('r')!.getMember('leaver') === undefined);
  t.ok(await collect('leaver'), 'the departed publisher is collected though its subscriber stays');
  t.notOk(collected.has('stays') || collected.has('staying-watcher'), 'those who stay are still there');
});
