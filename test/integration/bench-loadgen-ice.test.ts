// The load generator's connection against a full ICE agent, without Janus:
// two bench RtcConnections on 127.0.0.1, one controlling and DTLS client (our
// side toward Janus's answer), one controlled and DTLS server (the roles a
// full agent takes there). Each must answer the other's checks; the
// controlled one is done only when nominated.
import t, { type Test } from 'tap';
import { generateCertificate, type DtlsCertificate } from '../../src/dtls/certificate.js';
import { RtcConnection } from '../../bench/loadgen/connection.js';
import type { RemoteTransport } from '../../bench/loadgen/sdp.js';

function remoteOf(c: RtcConnection, cert: DtlsCertificate, pwd = c.pwd): RemoteTransport {
  return {
    address: '127.0.0.1',
    port: c.port,
    ufrag: c.ufrag,
    pwd,
    fingerprints: [{ algorithm: 'sha-256', value: cert.fingerprint }],
    iceLite: false,
  };
}

function rtp(seq: number): Buffer {
  const b = Buffer.alloc(100, 0x33);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(1000 + seq, 4);
  b.writeUInt32BE(0xabcdef, 8);
  return b;
}

/** Two connections with their certificates, closed at the end of the test. */
async function pair(t: Test): Promise<{ a: RtcConnection; b: RtcConnection; ca: DtlsCertificate; cb: DtlsCertificate }> {
  const [ca, cb] = await Promise.all([generateCertificate(), generateCertificate()]);
  const a = await RtcConnection.open(ca);
  const b = await RtcConnection.open(cb);
  t.teardown(() => {
    a.close();
    b.close();
  });
  return { a, b, ca, cb };
}

t.test('controlling client and controlled server connect and carry SRTP both ways', async (t) => {
  const { a, b, ca, cb } = await pair(t);
  await Promise.all([
    a.connect(remoteOf(b, cb), { iceRole: 'controlling', dtlsRole: 'client', timeoutMs: 10_000 }),
    b.connect(remoteOf(a, ca), { iceRole: 'controlled', dtlsRole: 'server', timeoutMs: 10_000 }),
  ]);
  t.ok(a.connected && b.connected);
  t.equal(a.srtpProfile, b.srtpProfile);
  t.ok(b.stats.stunAnswered > 0, 'the controlled side answered the nominating check');
  t.ok(a.stats.stunAnswered > 0, 'and the controlling side answered the controlled side checks');
  t.equal(a.stats.stunDropped + b.stats.stunDropped, 0);

  const atB: number[] = [];
  const atA: number[] = [];
  b.onRtp = (buf, len) => atB.push(len === 100 ? buf.readUInt16BE(2) : -1);
  a.onRtp = (buf, len) => atA.push(len === 100 ? buf.readUInt16BE(2) : -1);
  for (let i = 1; i <= 5; i++) {
    const p = rtp(i);
    t.ok(a.sendRtp(p, p.length));
    t.ok(b.sendRtp(p, p.length));
  }
  const deadline = Date.now() + 5000;
  while ((atA.length < 5 || atB.length < 5) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same(atB, [1, 2, 3, 4, 5]);
  t.same(atA, [1, 2, 3, 4, 5]);
});

t.test('a remote with the wrong password never gets answers, and connect fails in time', async (t) => {
  const { a, b, ca, cb } = await pair(t);
  const started = Date.now();
  const results = await Promise.allSettled([
    a.connect(remoteOf(b, cb, 'not-the-password-of-b'), { iceRole: 'controlling', timeoutMs: 1500 }),
    b.connect(remoteOf(a, ca), { iceRole: 'controlled', dtlsRole: 'server', timeoutMs: 1500 }),
  ]);
  t.same(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  t.ok(Date.now() - started < 5000);
  t.ok(b.stats.stunDropped > 0, 'b dropped the checks signed with the wrong key');
  t.equal(a.stats.stunOk, 0);
});
