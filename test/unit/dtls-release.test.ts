// Regression (found by the churn soak): a DtlsTransport closed in the middle
// of its handshake must be garbage the moment it is closed. werift keeps its
// flight retransmission loop running for about 33 s after an unfinished
// handshake, and sfud's server kept its last flight for 10 s after a finished
// one; either held the transport, and through its listeners the WebRTC
// transport, the peer and every track's retransmission store, so a churning
// server retained hundreds of MB at any moment.
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DtlsTransport } from '../../src/dtls/dtls-transport.js';
import { generateCertificate, type DtlsCertificate } from '../../src/dtls/certificate.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Counts collected objects (FinalizationRegistry: WeakRef.deref would keep them alive for the current job). */
const collected = new Set<string>();
const registry = new FinalizationRegistry<string>((name) => collected.add(name));

async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * A server and a client joined by a pipe; `serverToClient` decides which of the
 * server's datagrams get through. Resolves once the server has sent `flights`
 * datagrams, then closes both; returns nothing that references them.
 */
async function handshakeThenClose(certs: [DtlsCertificate, DtlsCertificate], name: string, serverToClient: (n: number) => boolean, waitFor: 'connected' | 'server-sent'): Promise<void> {
  const [serverCert, clientCert] = certs;
  let server: DtlsTransport | undefined;
  let client: DtlsTransport | undefined;
  let sent = 0;
  let wake: () => void = () => {};
  const progressed = new Promise<void>((r) => (wake = r));
  server = new DtlsTransport({
    role: 'server',
    certificate: serverCert,
    remoteFingerprints: [{ algorithm: 'sha-256', value: clientCert.fingerprint }],
    send: (d) => {
      if (++sent >= 2 && waitFor === 'server-sent') wake();
      if (serverToClient(sent)) setImmediate(() => client?.handleDatagram(d));
    },
  });
  client = new DtlsTransport({
    role: 'client',
    certificate: clientCert,
    remoteFingerprints: [{ algorithm: 'sha-256', value: serverCert.fingerprint }],
    send: (d) => setImmediate(() => server?.handleDatagram(d)),
  });
  // Something big on the server side, as a peer's tracks are in real life.
  (server as unknown as { payload: Buffer }).payload = Buffer.alloc(1024 * 1024);
  registry.register(server, `${name}:server`);
  registry.register(client, `${name}:client`);
  if (waitFor === 'connected') server.once('connected', () => wake());
  server.start();
  client.start();
  await progressed;
  // Let the flights settle into werift's retransmission wait.
  await new Promise((r) => setTimeout(r, 100));
  server.close();
  client.close();
  server = undefined;
  client = undefined;
}

t.test('closed mid-handshake (the server flight unanswered): collectable at once', async (t) => {
  const certs: [DtlsCertificate, DtlsCertificate] = [await generateCertificate(), await generateCertificate()];
  // The client gets the HelloVerifyRequest and nothing after it: both ends sit in werift's
  // flight retransmission loops (the server's ServerHello flight, the client's second ClientHello).
  await handshakeThenClose(certs, 'lost', (n) => n <= 1, 'server-sent');
  await collect();
  t.ok(collected.has('lost:server'), 'the server transport was collected though werift is still retransmitting');
  t.ok(collected.has('lost:client'), 'and the client');
});

t.test('closed right after a completed handshake: collectable at once', async (t) => {
  const certs: [DtlsCertificate, DtlsCertificate] = [await generateCertificate(), await generateCertificate()];
  await handshakeThenClose(certs, 'done', () => true, 'connected');
  await collect();
  t.ok(collected.has('done:server'), 'the server transport was collected (its 10 s last-flight timer is cancelled at close)');
  t.ok(collected.has('done:client'), 'and the client');
});
