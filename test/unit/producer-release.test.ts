// Regression (found by the churn soak): a subscriber keeps an ended
// subscription (its m-line stays, inactive) and with it the closed producer.
// A closed producer must then hold neither its retransmission store nor
// anything that reaches its publisher, or one long-lived peer in a churning
// room keeps every peer it ever saw, and their stores, alive.
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Producer } from '../../src/router/producer.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const collected = new Set<string>();
const registry = new FinalizationRegistry<string>((name) => collected.add(name));

/** A producer whose keyframe requests go to a "publisher" object only its options reach. */
function producerOfPublisher(): Producer {
  const publisher = { name: 'alice', requests: 0, buffers: Buffer.alloc(1024 * 1024) };
  registry.register(publisher, 'publisher');
  return new Producer({
    kind: 'video',
    streamId: 's',
    trackId: 't',
    mid: '1',
    codecs: [{ payloadType: 96, kind: 'vp8', mimeType: 'video/VP8', clockRate: 90000 }],
    ssrc: 1234,
    extensionIds: {},
    requestKeyframe: () => publisher.requests++,
  });
}

t.test('a closed producer lets go of its store and its publisher', async (t) => {
  const producer = producerOfPublisher();
  t.ok(producer.encodings[0]!.store, 'a video producer has a retransmission store');
  registry.register(producer.encodings[0]!.store!, 'store');
  producer.close();
  t.equal(producer.encodings[0]!.store, undefined, 'the store is released at close');
  producer.requestKeyframe();
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  t.ok(collected.has('store'), 'the store slab was collected while the producer is still referenced');
  t.ok(collected.has('publisher'), 'so was the publisher its keyframe requests went to');
  t.equal(producer.closed, true, 'the producer itself is still here (as an ended subscription would keep it)');
});
