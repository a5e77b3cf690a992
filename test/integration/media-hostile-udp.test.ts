// Hostile datagrams at the media port (issue 9, item 7; the signalling half
// is signal-hostile.test.ts): garbage and truncated datagrams of every RFC
// 7983 first-byte class, malformed and forged STUN, and DTLS ClientHello
// floods from strangers (many ports, other 127.0.0.x addresses) and from a
// validated peer's own tuple. A werift call in room 'calm' keeps flowing
// through every case (test/helpers/calm-room.ts); each case asserts the drop
// counter it should move, by stage and reason, that bob never stalls over a
// second, and that sfud still serves.
import t from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { encodeStun, shortTermKey, StunClass, StunMethod } from '../../src/ice/stun.js';
import { calmAfter, startCalmRoom } from '../helpers/calm-room.js';
import { joinLitePeer } from '../helpers/lite-ion.js';
import { waitFor } from '../interop/echo.js';

// NOTE: the calm room's libwebrtc viewer (wrtc segfaults on a natural exit, see test/interop/wrtc.test.ts).
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

async function bindSockets(n: number, address = '127.0.0.1'): Promise<Socket[]> {
  const out: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = createSocket('udp4');
    s.on('error', () => {});
    s.bind(0, address);
    await once(s, 'listening');
    out.push(s);
  }
  return out;
}

/** Sends `count` datagrams made by `make(i)` round-robin over `sockets`, yielding every 100 so the call is not starved. */
async function flood(sockets: readonly Socket[], port: number, count: number, make: (i: number) => Buffer): Promise<void> {
  for (let i = 0; i < count; i++) {
    sockets[i % sockets.length]!.send(make(i), port, '127.0.0.1');
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
}

/** A DTLS 1.2 ClientHello record (epoch 0, message_seq 0) with a random client random and cookie-less. */
function clientHello(): Buffer {
  const body = Buffer.concat([
    Buffer.from([0xfe, 0xfd]), // client_version
    randomBytes(32), // random
    Buffer.from([0]), // session id
    Buffer.from([0]), // cookie
    Buffer.from([0, 2, 0xc0, 0x2b]), // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    Buffer.from([1, 0]), // compression: null
    Buffer.from([0, 10, 0, 0x0e, 0, 6, 0, 4, 0, 7, 0, 1, 0]), // use_srtp
  ]);
  const hs = Buffer.alloc(12);
  hs[0] = 1; // client_hello
  hs.writeUIntBE(body.length, 1, 3);
  hs.writeUInt16BE(0, 4);
  hs.writeUIntBE(0, 6, 3);
  hs.writeUIntBE(body.length, 9, 3);
  const rec = Buffer.alloc(13);
  rec[0] = 22; // handshake
  rec.writeUInt16BE(0xfeff, 1);
  rec.writeUInt16BE(0, 3); // epoch 0
  rec.writeUIntBE(randomBytes(2).readUInt16BE(), 5, 6);
  rec.writeUInt16BE(hs.length + body.length, 11);
  return Buffer.concat([rec, hs, body]);
}

t.test('hostile datagrams at the media port', async (t) => {
  const room = await startCalmRoom(t);
  const { sfu, mediaPort: port } = room;
  const mux = sfu.webRtcServer.muxes[0]!;
  const strangers = await bindSockets(16);
  t.teardown(() => strangers.forEach((s) => s.close()));

  t.test('garbage and truncated datagrams of every first-byte class, from unknown addresses', async (t) => {
    const w = room.mark();
    const tuples = mux.tupleCount;
    const transports = sfu.webRtcServer.transportCount;
    const keys = ['mux:too-short', 'mux:stun-malformed', 'mux:dtls-unknown-tuple', 'mux:rtp-unknown-tuple', 'mux:unknown-first-byte'];
    const before = Object.fromEntries(keys.map((k) => [k, room.drops(k)]));
    const expected: Record<string, number> = Object.fromEntries(keys.map((k) => [k, 0]));
    const sent: Buffer[] = [];
    // Every first byte value, at lengths 0..3 (too short for any class) and 4, 20, 200 and 1400 (the rest).
    for (let b = 0; b < 256; b++) {
      for (const len of [1, 2, 3, 4, 20, 200, 1400]) {
        const d = randomBytes(len);
        d[0] = b;
        sent.push(d);
        const reason =
          len < 4 ? 'mux:too-short' : b < 4 ? 'mux:stun-malformed' : b >= 20 && b <= 63 ? 'mux:dtls-unknown-tuple' : b >= 128 && b <= 191 ? 'mux:rtp-unknown-tuple' : 'mux:unknown-first-byte';
        expected[reason]!++;
      }
    }
    for (let k = 0; k < 20; k++) sent.push(Buffer.alloc(0));
    expected['mux:too-short']! += 20;
    await flood(strangers, port, sent.length, (i) => sent[i]!);
    const moved = (): Record<string, number> => Object.fromEntries(keys.map((k) => [k, room.drops(k) - before[k]!]));
    await waitFor('every datagram counted', () => keys.every((k) => moved()[k]! >= expected[k]!), 10_000).catch(() => {});
    t.same(moved(), expected, `${sent.length} datagrams, each counted under its reason`);
    t.equal(mux.tupleCount, tuples, 'no tuple was learned');
    t.equal(sfu.webRtcServer.transportCount, transports, 'no transport was made or closed');
    await calmAfter(t, room, w);
  });

  t.test('malformed and forged STUN from many source ports', async (t) => {
    const w = room.mark();
    const tuples = mux.tupleCount;
    // Alice's publisher transport: its ufrag routes the forged checks to it.
    const target = sfu.webRtcServer.transports.find((x) => x.appData.uid === 'alice' && x.appData.role === 'publisher')!;
    const ufrag = target.iceParameters.usernameFragment;
    const req = (o: Partial<Parameters<typeof encodeStun>[0]>): Buffer =>
      encodeStun({
        method: StunMethod.Binding,
        class: StunClass.Request,
        transactionId: randomBytes(12),
        username: `${ufrag}:evil`,
        priority: 1,
        iceControlling: 1n,
        useCandidate: true,
        integrityKey: shortTermKey('not-the-password-at-all'),
        fingerprint: true,
        ...o,
      });
    const badFingerprint = (): Buffer => {
      const d = req({});
      d[d.length - 1]! ^= 0xff;
      return d;
    };
    const hugeAttribute = (): Buffer => {
      const d = req({});
      d.writeUInt16BE(0xfff0, 20 + 2); // the first attribute claims 65520 bytes
      return d;
    };
    const truncated = (): Buffer => req({}).subarray(0, 30);
    const lengthPastEnd = (): Buffer => {
      const d = req({});
      d.writeUInt16BE(d.readUInt16BE(2) + 64, 2);
      return d;
    };
    const noCookie = (): Buffer => {
      const d = req({});
      d.writeUInt32BE(0xdeadbeef, 4);
      return d;
    };
    const cases: [string, () => Buffer, string][] = [
      ['bad MESSAGE-INTEGRITY', () => req({}), 'transport:ice-unauthorized'],
      ['bad FINGERPRINT', badFingerprint, 'transport:ice-bad-fingerprint'],
      ['no MESSAGE-INTEGRITY', () => req({ integrityKey: undefined }), 'transport:ice-bad-request'],
      ['a binding indication', () => req({ class: StunClass.Indication }), 'transport:ice-not-request'],
      ['a success response', () => req({ class: StunClass.SuccessResponse }), 'transport:ice-not-request'],
      ['unknown ufrag', () => req({ username: 'nobody:evil' }), 'mux:stun-unknown-ufrag'],
      ['no USERNAME', () => req({ username: undefined }), 'mux:stun-unknown-ufrag'],
      ['huge attribute length', hugeAttribute, 'mux:stun-malformed'],
      ['message length past the end', lengthPastEnd, 'mux:stun-malformed'],
      ['truncated', truncated, 'mux:stun-malformed'],
      ['no magic cookie', noCookie, 'mux:stun-malformed'],
    ];
    const per = 100;
    for (const [name, make, key] of cases) {
      const before = room.drops(key);
      const stunErrorsBefore = target.ice.stats.errors;
      await flood(strangers, port, per, make);
      await waitFor(`${name} counted`, () => room.drops(key) - before >= per, 5000).catch(() => {});
      t.ok(room.drops(key) - before >= per, `${name}: ${per} sent, ${key} +${room.drops(key) - before}`);
      if (key === 'transport:ice-unauthorized' || key === 'transport:ice-bad-request') {
        t.equal(target.ice.stats.errors - stunErrorsBefore, per, `${name}: answered with ${per} error responses`);
      }
    }
    t.equal(mux.tupleCount, tuples, 'no forged check made a tuple known');
    t.equal(target.dtlsState, 'connected', "alice's publisher is still connected");
    t.equal(target.ice.stats.pathSwitches, 0, "alice's media path never moved");
    await calmAfter(t, room, w);
  });

  t.test('a DTLS ClientHello flood from spoofed source ports and addresses allocates nothing', async (t) => {
    const w = room.mark();
    const tuples = mux.tupleCount;
    const transports = sfu.webRtcServer.transportCount;
    // Other loopback addresses, where this machine lets us bind them (Linux routes all of 127/8 to lo).
    const spoofed: Socket[] = [];
    for (const a of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) {
      try {
        spoofed.push(...(await bindSockets(2, a)));
      } catch {
        t.comment(`cannot bind ${a}: skipped`);
      }
    }
    t.teardown(() => spoofed.forEach((s) => s.close()));
    const sources = [...strangers, ...spoofed];
    const before = room.drops('mux:dtls-unknown-tuple');
    const heapBefore = process.memoryUsage().heapUsed;
    const N = 3000;
    await flood(sources, port, N, () => clientHello());
    await waitFor('every ClientHello counted', () => room.drops('mux:dtls-unknown-tuple') - before >= N, 10_000).catch(() => {});
    t.equal(room.drops('mux:dtls-unknown-tuple') - before, N, `${N} ClientHellos from ${sources.length} sockets (${spoofed.length} on other 127.0.0.x addresses), all dropped as dtls-unknown-tuple`);
    t.equal(mux.tupleCount, tuples, 'no tuple was learned');
    t.equal(sfu.webRtcServer.transportCount, transports, 'no DTLS state was made');
    t.comment(`heap ${(heapBefore / 1e6).toFixed(1)} -> ${(process.memoryUsage().heapUsed / 1e6).toFixed(1)} MB`);
    await calmAfter(t, room, w);
  });

  t.test("a ClientHello and alert flood from a validated peer's own tuple leaves its DTLS and SRTP working", async (t) => {
    // Carol publishes over sfud's own transport code in the client role, so the test can send from her tuple.
    const carol = await joinLitePeer(room.url, 'calm', 'carol', { ssrc: 0xc0c0 });
    t.teardown(() => carol.close());
    const transport = sfu.webRtcServer.transports.find((x) => x.appData.uid === 'carol' && x.appData.role === 'publisher')!;
    const producer = () => sfu.rooms.get('calm')?.getMember('carol')?.producers[0];
    let seq = 0;
    const send = (n: number): void => {
      for (let i = 0; i < n; i++) carol.pub.sendRtp(seq++, 0xc0c0);
    };
    send(20);
    await waitFor('carol reaches her producer', () => (producer()?.stats.packets ?? 0) >= 20, 5000);
    const w = room.mark();
    const dtlsIn = () => (transport.getStats().dtls as { datagramsIn: number }).datagramsIn;
    const inBefore = dtlsIn();
    const dropsBefore = room.drops('transport:dtls-plaintext-after-handshake');
    const forgedBefore = room.drops('transport:dtls-unauthenticated-after-handshake');
    // A plaintext fatal alert (epoch 0), and a forged one in epoch 1 that cannot decrypt.
    const alert0 = Buffer.from('15fefd000000000000000000020102', 'hex');
    const alert1 = (): Buffer => Buffer.concat([Buffer.from('15fefd0001', 'hex'), randomBytes(6), Buffer.from([0, 26]), randomBytes(26)]);
    const N = 600;
    for (let i = 0; i < N; i++) {
      carol.pub.sendRaw(i % 3 === 0 ? clientHello() : i % 3 === 1 ? alert0 : alert1());
      if (i % 50 === 49) {
        send(1);
        await new Promise((r) => setImmediate(r));
      }
    }
    await waitFor('the flood reached her DTLS transport', () => dtlsIn() - inBefore >= N, 5000).catch(() => {});
    t.equal(dtlsIn() - inBefore, N, `her DTLS transport took all ${N} datagrams`);
    // Each distinct epoch-0 record is dropped unread; a byte-identical repeat within 10 s of the
    // handshake reads as a retransmission (our last flight is resent, rate-limited) and is not counted.
    const plain = room.drops('transport:dtls-plaintext-after-handshake') - dropsBefore;
    t.ok(plain >= N / 3 && plain <= (N / 3) * 2, `the ${N / 3} ClientHellos and the plaintext alerts not taken for retransmissions were dropped unread (${plain})`);
    t.equal(room.drops('transport:dtls-unauthenticated-after-handshake') - forgedBefore, N / 3, `the ${N / 3} forged epoch-1 alerts were dropped before werift could act on them`);
    const packets = producer()!.stats.packets;
    send(50);
    await waitFor('carol still reaches her producer', () => producer()!.stats.packets >= packets + 50, 5000).catch(() => {});
    t.equal(transport.dtlsState, 'connected', 'her DTLS association is still up');
    t.ok(producer()!.stats.packets >= packets + 50, `SRTP with the old keys still decrypts (${packets} -> ${producer()!.stats.packets})`);
    t.notOk(transport.closed, 'her transport is open');
    await calmAfter(t, room, w);
  });
});
