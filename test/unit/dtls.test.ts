// DTLS transport back to back: both ends are sfud's DtlsTransport (werift's
// handshake underneath), joined by an in-memory datagram pipe that can lose
// chosen datagrams. Interop with real browsers is in test/interop.
import t from 'tap';
import { DtlsTransport, type DtlsRole, type SrtpKeys, type SrtpProfileName } from '../../src/dtls/dtls-transport.js';
import { generateCertificate, fingerprintOf, matchesFingerprint, type DtlsCertificate } from '../../src/dtls/certificate.js';
import { X509Certificate } from 'node:crypto';

const certs: DtlsCertificate[] = [];
t.before(async () => {
  certs.push(await generateCertificate(), await generateCertificate());
});

interface PairOptions {
  /** Return true to lose the n-th datagram sent by `from`. */
  lose?: (from: DtlsRole, n: number) => boolean;
  serverProfiles?: SrtpProfileName[];
  clientProfiles?: SrtpProfileName[];
  clientFingerprint?: string;
}

function pair(opts: PairOptions = {}) {
  const [serverCert, clientCert] = certs as [DtlsCertificate, DtlsCertificate];
  const sent = { server: 0, client: 0 };
  // eslint-disable-next-line prefer-const
  let server: DtlsTransport, client: DtlsTransport;
  const deliver = (from: DtlsRole, d: Buffer): void => {
    const n = sent[from]++;
    if (opts.lose?.(from, n)) return;
    const to = from === 'server' ? client : server;
    setImmediate(() => to.handleDatagram(d));
  };
  server = new DtlsTransport({
    role: 'server',
    certificate: serverCert,
    remoteFingerprints: [{ algorithm: 'sha-256', value: opts.clientFingerprint ?? clientCert.fingerprint }],
    srtpProfiles: opts.serverProfiles,
    send: (d) => deliver('server', d),
  });
  client = new DtlsTransport({
    role: 'client',
    certificate: clientCert,
    remoteFingerprints: [{ algorithm: 'sha-256', value: serverCert.fingerprint }],
    srtpProfiles: opts.clientProfiles,
    send: (d) => deliver('client', d),
  });
  const result = (d: DtlsTransport) =>
    new Promise<{ ok: true; keys: SrtpKeys | null } | { ok: false; reason: string }>((resolve) => {
      d.once('connected', (keys) => resolve({ ok: true, keys }));
      d.once('failed', (reason) => resolve({ ok: false, reason }));
    });
  const done = Promise.all([result(server), result(client)]);
  server.start();
  client.start();
  return { server, client, done };
}

t.test('certificate: P-256, SHA-256 fingerprint as SDP writes it', async (t) => {
  const c = certs[0]!;
  t.match(c.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  const x = new X509Certificate(c.certPem);
  t.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.equal(fingerprintOf(x.raw, 'SHA-256'), c.fingerprint);
  t.ok(matchesFingerprint(x.raw, [{ algorithm: 'sha-1', value: 'AA' }, { algorithm: 'sha-256', value: c.fingerprint.toLowerCase() }]));
  t.notOk(matchesFingerprint(x.raw, [{ algorithm: 'md5', value: c.fingerprint }]), 'unknown hash never matches');
  t.notOk(matchesFingerprint(x.raw, [{ algorithm: 'sha-256', value: certs[1]!.fingerprint }]));
});

t.test('handshake, GCM preferred, mirrored SRTP keys, data both ways, close_notify', async (t) => {
  const { server, client, done } = pair();
  const [s, c] = await done;
  t.ok(s.ok && c.ok, 'both connected');
  if (!s.ok || !c.ok) return;
  t.equal(s.keys?.profile, 'AEAD_AES_128_GCM');
  t.equal(c.keys?.profile, 'AEAD_AES_128_GCM');
  t.same(s.keys?.localKey, c.keys?.remoteKey);
  t.same(s.keys?.localSalt, c.keys?.remoteSalt);
  t.same(c.keys?.localKey, s.keys?.remoteKey);
  t.equal(s.keys?.localSalt.length, 12);
  const got = new Promise<Buffer>((r) => server.once('data', r));
  client.send(Buffer.from('over dtls'));
  t.equal((await got).toString(), 'over dtls');
  const back = new Promise<Buffer>((r) => client.once('data', r));
  server.send(Buffer.from('and back'));
  t.equal((await back).toString(), 'and back');
  const closed = new Promise<void>((r) => server.once('closed', () => r()));
  client.close();
  await closed;
  t.equal(server.state, 'closed');
  t.equal(client.state, 'closed');
});

t.test('AES_CM_128_HMAC_SHA1_80 when the client offers only that', async (t) => {
  const { server, client, done } = pair({ clientProfiles: ['AES_CM_128_HMAC_SHA1_80'] });
  const [s, c] = await done;
  t.ok(s.ok && c.ok);
  if (s.ok) t.equal(s.keys?.profile, 'AES_CM_128_HMAC_SHA1_80');
  if (s.ok) t.equal(s.keys?.localSalt.length, 14);
  server.close();
  client.close();
});

t.test('a certificate that does not match the SDP fingerprint fails the handshake', async (t) => {
  const wrong = certs[0]!.fingerprint; // the server's own, not the client's
  const { server, client, done } = pair({ clientFingerprint: wrong });
  const [s] = await done;
  t.equal(s.ok, false);
  if (!s.ok) t.match(s.reason, /fingerprint/);
  t.equal(server.state, 'failed');
  client.close();
});

t.test('lost flights are resent by our timer, not werift\'s 0.5 s backoff', async (t) => {
  // Lose the server's first flight (HelloVerifyRequest) and the client's first copy of flight 5.
  const started = Date.now();
  let clientSends = 0;
  const { server, client, done } = pair({
    lose: (from, n) => (from === 'server' && n === 0) || (from === 'client' && n === 2 && ++clientSends > 0),
  });
  const [s, c] = await done;
  const ms = Date.now() - started;
  t.ok(s.ok && c.ok, 'connected despite the losses');
  t.ok(server.stats.retransmittedDatagrams + client.stats.retransmittedDatagrams > 0, 'we retransmitted');
  t.comment(`handshake with two lost flights took ${ms} ms; retransmitted: server ${server.stats.retransmittedDatagrams}, client ${client.stats.retransmittedDatagrams}`);
  server.close();
  client.close();
});

t.test('garbage datagrams during and after the handshake do not break it', async (t) => {
  const { server, client, done } = pair();
  server.handleDatagram(Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]));
  server.handleDatagram(Buffer.alloc(0));
  client.handleDatagram(Buffer.from('17fefd0001', 'hex'));
  const [s, c] = await done;
  t.ok(s.ok && c.ok);
  server.handleDatagram(Buffer.from([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3]));
  const got = new Promise<Buffer>((r) => server.once('data', r));
  client.send(Buffer.from('still fine'));
  t.equal((await got).toString(), 'still fine');
  server.close();
  client.close();
});

t.test('after the handshake, a spoofed epoch-1 alert or unknown record type cannot close the association', async (t) => {
  const { server, client, done } = pair();
  const [s, c] = await done;
  t.ok(s.ok && c.ok);
  // werift reads an encrypted alert's first two bytes as clear: 01 00 is "warning, close_notify".
  const forgedAlert = Buffer.from('15fefd0001000000000007001a0100' + '00'.repeat(24), 'hex');
  const unknownType = Buffer.from('18fefd000100000000000800020000', 'hex');
  const dataThenAlert = Buffer.concat([Buffer.from('17fefd000100000000000900020000', 'hex'), forgedAlert]);
  for (const [what, d] of [['a forged alert', forgedAlert], ['an unknown record type', unknownType], ['an alert behind application data', dataThenAlert]] as const) {
    t.equal(server.handleDatagram(d), false, `${what}: dropped`);
    t.equal(server.dropReason, 'unauthenticated', `${what}: as unauthenticated`);
    t.equal(client.handleDatagram(d), false, `${what}: dropped by a client too`);
  }
  t.equal(server.state, 'connected');
  t.equal(client.state, 'connected');
  const got = new Promise<Buffer>((r) => server.once('data', r));
  client.send(Buffer.from('still fine'));
  t.equal((await got).toString(), 'still fine', 'application data still flows');
  server.close();
  client.close();
});

t.test('issue 9: after the handshake, records in epoch 0 (a new ClientHello, a plaintext alert) are dropped unread', async (t) => {
  const { server, client, done } = pair();
  const [s, c] = await done;
  t.ok(s.ok && c.ok);
  const hello = Buffer.from('16fefd00000000000000000005010000010000', 'hex');
  const alert = Buffer.from('15fefd000000000000000000020102', 'hex'); // fatal close_notify, in clear
  t.equal(server.handleDatagram(hello), false, 'a ClientHello on a connected server is dropped');
  t.equal(server.handleDatagram(alert), false, 'a plaintext alert on a connected server is dropped');
  t.equal(client.handleDatagram(alert), false, 'and on a connected client');
  t.equal(server.state, 'connected');
  t.equal(client.state, 'connected');
  const got = new Promise<Buffer>((r) => server.once('data', r));
  client.send(Buffer.from('still fine'));
  t.equal((await got).toString(), 'still fine');
  server.close();
  client.close();
});
