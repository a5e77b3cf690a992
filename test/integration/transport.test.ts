// Transport faults over real sockets: a client built from sfud's own pieces
// (test/helpers/lite-client.ts) talks to a WebRtcServer on 127.0.0.1.
import t from 'tap';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { WebRtcServer } from '../../src/transport/webrtc-server.js';
import type { WebRtcTransport } from '../../src/transport/webrtc-transport.js';
import { generateCertificate } from '../../src/dtls/certificate.js';
import { LiteClient } from '../helpers/lite-client.js';
import { waitFor } from '../interop/echo.js';

const echo = (transport: WebRtcTransport): void => {
  transport.onRtp = (buf, len) => void transport.sendRtp(buf, 0, len);
};

t.test('connects, echoes RTP, and follows the client to a new address on nomination', async (t) => {
  const server = await WebRtcServer.create({ listen: [{ ip: '127.0.0.1', port: 0 }] });
  t.teardown(() => server.close());
  const transport = server.createWebRtcTransport();
  echo(transport);
  const client = await LiteClient.connect(transport);
  t.teardown(() => client.close());
  t.equal(transport.srtpProfile, 'AEAD_AES_128_GCM');
  for (let i = 0; i < 20; i++) client.sendRtp(i);
  await waitFor('echo on the first address', () => client.rtpBySocket[0]! >= 20);

  const switched = once(transport, 'iceselectedtuplechange');
  await client.addSocket();
  client.check(false);
  await waitFor('check answered', () => client.received.stunSuccess >= 2);
  t.equal(client.rtpBySocket[1], 0);
  t.equal(transport.ice.stats.pathSwitches, 0, 'a plain check on a new pair does not move media');
  client.check(true);
  const [tuple] = await switched;
  t.not(tuple.port, undefined);
  for (let i = 20; i < 40; i++) client.sendRtp(i);
  await waitFor('echo on the new address', () => client.rtpBySocket[1]! >= 20);
  t.equal(transport.ice.stats.pathSwitches, 1);
  t.equal(client.rtpBySocket[0], 20, 'nothing more went to the old address');
});

t.test('wrong password gets a 401 and selects nothing', async (t) => {
  const server = await WebRtcServer.create({ listen: [{ ip: '127.0.0.1', port: 0 }] });
  t.teardown(() => server.close());
  const transport = server.createWebRtcTransport();
  const client = await LiteClient.connect(transport);
  t.teardown(() => client.close());
  await client.addSocket();
  client.check(true, 'not-the-password-at-all');
  await waitFor('error response', () => client.received.stunError === 1);
  t.equal(client.received.lastErrorCode, 401);
  t.equal(transport.ice.stats.pathSwitches, 0);
});

t.test('a vanished peer loses consent and the transport closes with a reason', async (t) => {
  const server = await WebRtcServer.create({ listen: [{ ip: '127.0.0.1', port: 0 }], consentTimeoutMs: 1500, tickMs: 100 });
  t.teardown(() => server.close());
  const transport = server.createWebRtcTransport();
  const client = await LiteClient.connect(transport);
  const closed = once(transport, 'close');
  const started = Date.now();
  client.close(); // no close_notify reaches sfud: the socket is gone
  const [reason] = await closed;
  t.equal(reason, 'ICE consent expired');
  t.equal(server.transportCount, 0);
  t.equal(server.muxes[0]!.tupleCount, 0, 'its tuples no longer route');
  t.comment(`closed ${Date.now() - started} ms after the peer vanished (timeout 1500 ms, tick 100 ms)`);
});

t.test('a garbage flood at the port is dropped by reason while the call keeps flowing', async (t) => {
  const server = await WebRtcServer.create({ listen: [{ ip: '127.0.0.1', port: 0 }] });
  t.teardown(() => server.close());
  const transport = server.createWebRtcTransport();
  echo(transport);
  const client = await LiteClient.connect(transport);
  t.teardown(() => client.close());
  const mux = server.muxes[0]!;
  const stranger = createSocket('udp4');
  stranger.bind(0, '127.0.0.1');
  await once(stranger, 'listening');
  t.teardown(() => stranger.close());

  const port = mux.port;
  const kinds = [
    Buffer.from([0x00, 0x01, 0x00, 0x08, 1, 2, 3]), // STUN-looking, truncated
    Buffer.concat([Buffer.from('000100002112a442', 'hex'), Buffer.alloc(12, 1)]), // valid header, no USERNAME
    Buffer.from('16fefd000000000000000000050100000100', 'hex'), // DTLS from a stranger
    Buffer.alloc(200, 0x80), // RTP-looking from a stranger
    Buffer.from('hello world'), // first byte outside every range
    Buffer.alloc(2), // too short
  ];
  let seq = 0;
  const N = 3000;
  for (let i = 0; i < N; i++) {
    stranger.send(kinds[i % kinds.length]!, port, '127.0.0.1');
    // From the client's own (known) tuple: SRTP that fails authentication, and broken DTLS.
    if (i % 10 === 0) client.sendRaw(Buffer.alloc(120, 0x90));
    if (i % 50 === 0) client.sendRaw(Buffer.from('17fefd0001000000000000000300aabbcc', 'hex'));
    if (i % 30 === 0) client.sendRtp(seq++);
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  await waitFor('every real packet echoed', () => client.received.rtp >= seq);
  const drops = mux.stats.drops;
  t.ok(drops['stun-malformed'] > 0, `stun-malformed ${drops['stun-malformed']}`);
  t.ok(drops['stun-unknown-ufrag'] > 0, `stun-unknown-ufrag ${drops['stun-unknown-ufrag']}`);
  t.ok(drops['dtls-unknown-tuple'] > 0, `dtls-unknown-tuple ${drops['dtls-unknown-tuple']}`);
  t.ok(drops['rtp-unknown-tuple'] > 0, `rtp-unknown-tuple ${drops['rtp-unknown-tuple']}`);
  t.ok(drops['unknown-first-byte'] > 0, `unknown-first-byte ${drops['unknown-first-byte']}`);
  t.ok(drops['too-short'] > 0, `too-short ${drops['too-short']}`);
  t.ok(transport.stats.drops['srtp-auth'] + transport.stats.drops['srtp-malformed'] > 0, 'bad SRTP from the known tuple counted');
  t.equal(transport.dtlsState, 'connected', 'broken DTLS records did not end the association');
  t.equal(client.received.rtp, seq, `all ${seq} real packets came back through the flood`);
});

t.test('IPv6: a server on ::1 answers and carries media', async (t) => {
  const cert = await generateCertificate();
  const server = await WebRtcServer.create({ listen: [{ ip: '::1', port: 0 }], certificate: cert });
  t.teardown(() => server.close());
  const transport = server.createWebRtcTransport();
  echo(transport);
  t.equal(transport.iceCandidates[0]!.address, '::1');
  const client = await LiteClient.connect(transport, undefined, 'udp6');
  t.teardown(() => client.close());
  for (let i = 0; i < 10; i++) client.sendRtp(i);
  await waitFor('IPv6 echo', () => client.received.rtp >= 10);
  t.equal(transport.selectedTuple?.family, 6);
});
