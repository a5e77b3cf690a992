// Hostile media from a peer that did complete ICE and DTLS (issue 9, item
// 7): mallory joins room 'calm' over JSON-RPC and speaks sfud's own
// transport code in the client role (test/helpers/lite-ion.ts), so she can
// put anything onto her validated tuples: SRTP with broken tags, wrong keys
// and replays; RTCP with bogus lengths and absurd counts, encrypted with her
// real SRTCP keys; RTP with bogus extension, CSRC and padding lengths and
// unknown SSRCs. Each case asserts the counted drop by stage and reason,
// that nothing of it was forwarded, that the werift call next to her never
// stalls over a second, and that sfud still serves.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { SrtpSession } from '../../src/srtp/session.js';
import { calmAfter, startCalmRoom } from '../helpers/calm-room.js';
import { joinLitePeer } from '../helpers/lite-ion.js';
import type { LiteClient } from '../helpers/lite-client.js';
import { waitFor } from '../interop/echo.js';
import type { IonPeer } from '../../src/signal/ion-peer.js';

// NOTE: the calm room's libwebrtc viewer (wrtc segfaults on a natural exit, see test/interop/wrtc.test.ts).
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

interface RtpSpec {
  ssrc: number;
  seq: number;
  pt?: number;
  payload?: Buffer;
  /** Extension block (profile 0xBEDE) contents, length a multiple of 4. */
  ext?: Buffer;
  csrcs?: number;
  /** Padding count byte appended (P bit set). */
  padding?: number;
}

function rtp(s: RtpSpec): Buffer {
  const csrcs = Buffer.alloc((s.csrcs ?? 0) * 4, 0x11);
  const ext = s.ext ? Buffer.concat([Buffer.from([0xbe, 0xde, 0, s.ext.length / 4]), s.ext]) : Buffer.alloc(0);
  const pad = s.padding === undefined ? Buffer.alloc(0) : Buffer.from([s.padding]);
  const h = Buffer.alloc(12);
  h[0] = 0x80 | (s.padding !== undefined ? 0x20 : 0) | (s.ext ? 0x10 : 0) | (s.csrcs ?? 0);
  h[1] = s.pt ?? 96;
  h.writeUInt16BE(s.seq & 0xffff, 2);
  h.writeUInt32BE((s.seq * 3000) >>> 0, 4);
  h.writeUInt32BE(s.ssrc >>> 0, 8);
  return Buffer.concat([h, csrcs, ext, s.payload ?? Buffer.from([0x10, 0x01, ...Buffer.alloc(40, 0x5a)]), pad]);
}

/** An RTCP header: V=2, P, count/FMT, PT and a length field in words minus one (given, not computed: these lie). */
function rtcpHeader(count: number, pt: number, lengthWords: number, padding = false): Buffer {
  const b = Buffer.alloc(4);
  b[0] = 0x80 | (padding ? 0x20 : 0) | (count & 0x1f);
  b[1] = pt;
  b.writeUInt16BE(lengthWords, 2);
  return b;
}
const u32 = (...v: number[]): Buffer => Buffer.concat(v.map((x) => Buffer.from([x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff])));
const rr = (ssrc: number): Buffer => Buffer.concat([rtcpHeader(0, 201, 1), u32(ssrc)]);

async function pace(n: number, send: (i: number) => void): Promise<void> {
  for (let i = 0; i < n; i++) {
    send(i);
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
}

t.test('hostile SRTP, RTCP and RTP from a validated peer', async (t) => {
  const room = await startCalmRoom(t);
  const { sfu } = room;
  const MSSRC = 0x0bad0001;
  const mallory = await joinLitePeer(room.url, 'calm', 'mallory', { ssrc: MSSRC, subscribe: true });
  t.teardown(() => mallory.close());
  const pub: LiteClient = mallory.pub;
  const sub: LiteClient = mallory.sub!;
  const peer = sfu.rooms.get('calm')!.getMember('mallory') as IonPeer;
  const producer = () => peer.producers[0]!;
  const transportOf = (role: string) => sfu.webRtcServer.transports.find((x) => x.appData.uid === 'mallory' && x.appData.role === role)!;
  let seq = 1;
  const valid = (): Buffer => pub.protectRtp(rtp({ ssrc: MSSRC, seq: seq++ }))!;
  pub.sendRaw(valid());
  await waitFor("mallory's producer takes her RTP", () => (producer()?.stats.packets ?? 0) >= 1, 10_000);
  await waitFor('mallory receives alice through sfud', () => sub.received.rtp >= 10, 10_000);
  t.ok(mallory.subscribedSsrcs.length > 0, `sfud offered mallory ${mallory.subscribedSsrcs.length} stream(s)`);

  t.test('SRTP and SRTCP that fail authentication or replay', async (t) => {
    const w = room.mark();
    const keys = ['transport:srtp-auth', 'transport:srtp-replay', 'transport:srtp-malformed'];
    const before = Object.fromEntries(keys.map((k) => [k, room.drops(k)]));
    const packetsBefore = producer().stats.packets;
    const N = 200;
    const wrongKeys = new SrtpSession('AEAD_AES_128_GCM', randomBytes(16), randomBytes(12));
    const sealWrong = (p: Buffer): Buffer => {
      const out = Buffer.alloc(p.length + SrtpSession.MAX_TRAILER);
      return out.subarray(0, wrongKeys.protectRtp(p, 0, p.length, out, 0));
    };
    const replayed = valid();
    pub.sendRaw(replayed); // the original: accepted
    const replayedRtcp = pub.protectRtcp(rr(MSSRC))!;
    pub.sendRaw(replayedRtcp);
    await pace(N, () => {
      const good = valid();
      good[good.length - 1]! ^= 0x01; // a flipped tag bit
      pub.sendRaw(good);
      const body = valid();
      body[20]! ^= 0x80; // a flipped ciphertext bit
      pub.sendRaw(body);
      // Fresh sequence numbers: an index the replay window already passed is counted as a replay before any tag check.
      pub.sendRaw(sealWrong(rtp({ ssrc: MSSRC, seq: seq++ }))); // another key
      pub.sendRaw(Buffer.concat([rtp({ ssrc: MSSRC, seq: seq++ }), randomBytes(16)])); // a random tag
      const rtcp = pub.protectRtcp(rr(MSSRC))!;
      // NOTE: with GCM the E||index word ends the packet (RFC 7714 9.1): flip a tag byte, before it.
      rtcp[rtcp.length - 5]! ^= 0x01;
      pub.sendRaw(rtcp); // SRTCP with a flipped tag bit
      pub.sendRaw(replayed); // replays
      pub.sendRaw(replayedRtcp);
    });
    const moved = (k: string): number => room.drops(k) - before[k]!;
    await waitFor('all counted', () => moved('transport:srtp-auth') >= 5 * N && moved('transport:srtp-replay') >= 2 * N, 10_000).catch(() => {});
    t.equal(moved('transport:srtp-auth'), 5 * N, `${5 * N} forged packets counted as srtp-auth`);
    t.equal(moved('transport:srtp-replay'), 2 * N, `${2 * N} replays (SRTP and SRTCP) counted as srtp-replay`);
    t.equal(moved('transport:srtp-malformed'), 0, 'nothing counted as malformed');
    t.equal(producer().stats.packets - packetsBefore, 1, 'only the one genuine packet reached her producer');
    t.equal(transportOf('publisher').dtlsState, 'connected', 'her transport is still up');
    await calmAfter(t, room, w);
  });

  t.test('RTCP with bogus lengths and absurd counts, through SRTCP', async (t) => {
    const w = room.mark();
    const target = mallory.subscribedSsrcs[0]!;
    const stats = peer.rtcpStats;
    const malformedBefore = room.drops('peer:rtcp-malformed');
    const rtcpInBefore = transportOf('subscriber').stats.rtcpPacketsIn + transportOf('publisher').stats.rtcpPacketsIn;
    const retransmittedBefore = stats.retransmitted;
    const nacksBefore = stats.nacksReceived;
    // Compounds whose walk stops early (each counts once as peer:rtcp-malformed).
    const broken: [string, Buffer][] = [
      ['length past the end', Buffer.concat([rtcpHeader(0, 201, 200), u32(MSSRC)])],
      ['zero length, then a truncated tail', Buffer.concat([rtcpHeader(0, 201, 0), u32(MSSRC), Buffer.from([0x80, 0xc9])])],
      ['a good RR, then 3 stray bytes', Buffer.concat([rr(MSSRC), Buffer.from([0x80, 0xc9, 0])])],
      ['a good RR, then version 0', Buffer.concat([rr(MSSRC), Buffer.from([0x00, 0xc9, 0, 1]), u32(1)])],
      ['padding count 0', Buffer.concat([rtcpHeader(0, 201, 1, true), Buffer.from([0, 0, 0, 0])])],
      ['padding count past the packet', Buffer.concat([rtcpHeader(0, 201, 1, true), Buffer.from([0, 0, 0, 200])])],
      ['an RR claiming 31 blocks with none, then one past the end', Buffer.concat([rtcpHeader(31, 201, 1), u32(MSSRC), rtcpHeader(31, 201, 300), u32(MSSRC)])],
    ];
    // Well-framed packets whose bodies lie (absurd counts, short FCI): no walk error, but nothing may crash or amplify.
    const nackFci = Buffer.alloc(4 * 300);
    for (let i = 0; i < 300; i++) {
      nackFci.writeUInt16BE((i * 17) & 0xffff, i * 4);
      nackFci.writeUInt16BE(0xffff, i * 4 + 2);
    }
    // 40 bytes that decode to 65535 statuses (8 run-length chunks of 8191 "not received" and one of 7).
    const chunks = Buffer.alloc(20);
    for (let i = 0; i < 8; i++) chunks.writeUInt16BE(0x1fff, i * 2);
    chunks.writeUInt16BE(0x0007, 16);
    const twccHuge = Buffer.concat([rtcpHeader(15, 205, 9), u32(MSSRC, target), Buffer.from([0, 0, 0xff, 0xff, 0, 0, 0, 1]), chunks]);
    const lying: [string, Buffer][] = [
      ['NACK with 300 entries, every BLP bit', Buffer.concat([rtcpHeader(1, 205, 2 + 300), u32(MSSRC, target), nackFci])],
      ['NACK with no FCI', Buffer.concat([rtcpHeader(1, 205, 2), u32(MSSRC, target)])],
      ['TWCC claiming 65535 packets', twccHuge],
      ['TWCC cut short', Buffer.concat([rtcpHeader(15, 205, 3), u32(MSSRC, target), Buffer.from([0, 0, 0xff, 0xff])])],
      ['REMB claiming 255 SSRCs', Buffer.concat([rtcpHeader(15, 206, 4), u32(MSSRC, 0), Buffer.from('REMB'), Buffer.from([255, 0xff, 0xff, 0xff])])],
      ['REMB without the identifier', Buffer.concat([rtcpHeader(15, 206, 3), u32(MSSRC, 0, 0x01020304)])],
      ['SR claiming 31 report blocks', Buffer.concat([rtcpHeader(31, 200, 6), u32(MSSRC, 1, 2, 3, 4, 5)])],
      ['RR claiming 31 report blocks', Buffer.concat([rtcpHeader(31, 201, 2), u32(MSSRC, target)])],
      ['FIR without an entry', Buffer.concat([rtcpHeader(4, 206, 2), u32(MSSRC, 0)])],
      ['PLI for her stream', Buffer.concat([rtcpHeader(1, 206, 2), u32(MSSRC, target)])],
      ['SDES with a chunk running past its end', Buffer.concat([rtcpHeader(1, 202, 2), u32(MSSRC), Buffer.from([1, 200, 0x41, 0x41])])],
      ['BYE claiming 31 sources', Buffer.concat([rtcpHeader(31, 203, 1), u32(MSSRC)])],
      ['APP and XR with junk', Buffer.concat([rtcpHeader(0, 204, 2), u32(MSSRC), Buffer.from('junk'), rtcpHeader(0, 207, 2), u32(MSSRC, 0xffffffff)])],
      ['unknown packet type 199', Buffer.concat([rtcpHeader(0, 199, 1), u32(MSSRC)])],
    ];
    const tooLargeBefore = room.drops('peer:twcc-too-large');
    const rounds = 20;
    const heapBefore = process.memoryUsage().heapUsed;
    await pace(rounds, () => {
      for (const c of [pub, sub]) {
        for (const [, p] of broken) c.sendRaw(c.protectRtcp(p)!);
        for (const [, p] of lying) c.sendRaw(c.protectRtcp(p)!);
      }
    });
    const sent = rounds * 2 * (broken.length + lying.length);
    await waitFor('every compound decrypted', () => transportOf('subscriber').stats.rtcpPacketsIn + transportOf('publisher').stats.rtcpPacketsIn - rtcpInBefore >= sent, 10_000).catch(() => {});
    t.ok(
      transportOf('subscriber').stats.rtcpPacketsIn + transportOf('publisher').stats.rtcpPacketsIn - rtcpInBefore >= sent,
      `all ${sent} compounds authenticated and reached the RTCP handlers`,
    );
    t.equal(room.drops('peer:rtcp-malformed') - malformedBefore, rounds * 2 * broken.length, `each of the ${rounds * 2 * broken.length} broken compounds counted as peer:rtcp-malformed`);
    t.equal(
      room.drops('peer:twcc-too-large') - tooLargeBefore,
      rounds * 2,
      `the ${rounds * 2} subscriber TWCC packets claiming 65535 statuses (decodable or cut short) were refused undecoded (peer:twcc-too-large)`,
    );
    const nacks = stats.nacksReceived - nacksBefore;
    const resent = stats.retransmitted - retransmittedBefore;
    t.ok(nacks >= rounds * 2, `NACKs handled (${nacks})`);
    t.ok(resent <= 2000, `retransmissions stay bounded: ${resent} for ${nacks} NACKs asking up to ${300 * 17} packets each`);
    t.comment(`heap ${(heapBefore / 1e6).toFixed(1)} -> ${(process.memoryUsage().heapUsed / 1e6).toFixed(1)} MB`);
    t.equal(transportOf('subscriber').dtlsState, 'connected');

    // A burst of small, valid TWCC feedback: past a few per tick, refused undecoded.
    const limitedBefore = room.drops('peer:twcc-rate-limited');
    const small = Buffer.concat([rtcpHeader(15, 205, 5), u32(MSSRC, target), Buffer.from([0, 0, 0, 1, 0, 0, 0, 1]), Buffer.from([0x20, 0x01, 0x04, 0])]);
    const inBefore = transportOf('subscriber').stats.rtcpPacketsIn;
    await pace(500, () => sub.sendRaw(sub.protectRtcp(small)!));
    await waitFor('the burst received', () => transportOf('subscriber').stats.rtcpPacketsIn - inBefore >= 500, 5000).catch(() => {});
    t.ok(room.drops('peer:twcc-rate-limited') - limitedBefore >= 250, `of 500 TWCC packets in one burst, ${room.drops('peer:twcc-rate-limited') - limitedBefore} were refused (peer:twcc-rate-limited)`);
    await calmAfter(t, room, w);
  });

  t.test('RTP with bogus extension, CSRC and padding lengths, unknown SSRCs and payload types, through SRTP', async (t) => {
    const w = room.mark();
    const keys = ['transport:srtp-malformed', 'transport:srtp-auth', 'peer:rtp-malformed', 'peer:unknown-ssrc', 'producer:unknown-payload-type'];
    const before = Object.fromEntries(keys.map((k) => [k, room.drops(k)]));
    const moved = (k: string): number => room.drops(k) - before[k]!;
    const packetsBefore = producer().stats.packets;
    const N = 100;
    // Header lengths SRTP itself cannot frame: the clear header runs past the datagram.
    const extPastEnd = (): Buffer => {
      const p = valid();
      p[0] = p[0]! | 0x10;
      p.writeUInt16BE(0xbede, 12);
      p.writeUInt16BE(0xffff, 14);
      return p;
    };
    const csrcPastEnd = (): Buffer => {
      const p = Buffer.concat([rtp({ ssrc: MSSRC, seq: seq++ }).subarray(0, 12), randomBytes(20)]);
      p[0] = 0x8f;
      return p;
    };
    // Lengths changed in the clear header after sealing: still framed, so the tag check catches them.
    const extLengthBumped = (): Buffer => {
      const p = pub.protectRtp(rtp({ ssrc: MSSRC, seq: seq++, ext: Buffer.from([0x40, 0x30, 0, 0]) }))!;
      p.writeUInt16BE(2, 14);
      return p;
    };
    await pace(N, (i) => {
      pub.sendRaw(extPastEnd());
      pub.sendRaw(csrcPastEnd());
      pub.sendRaw(extLengthBumped());
      // Sealed with valid keys: decrypt fine, then fail in sfud's RTP parser or routing.
      pub.sendRaw(pub.protectRtp(rtp({ ssrc: MSSRC, seq: seq++, padding: 255 }))!); // padding longer than the packet
      pub.sendRaw(pub.protectRtp(rtp({ ssrc: MSSRC, seq: seq++, padding: 0 }))!); // padding count 0
      // Unknown SSRCs whose MID extension element claims 16 bytes in a 4-byte block.
      pub.sendRaw(pub.protectRtp(rtp({ ssrc: 0x7000_0000 + i, seq: i, ext: Buffer.from([0x4f, 0x30, 0, 0]) }))!);
      pub.sendRaw(pub.protectRtp(rtp({ ssrc: 0x7100_0000 + i, seq: i, csrcs: 15 }))!); // 15 CSRCs, unknown SSRC
      pub.sendRaw(pub.protectRtp(rtp({ ssrc: MSSRC, seq: seq++, pt: 111 }))!); // a payload type she never negotiated
    });
    await waitFor('all counted', () => moved('producer:unknown-payload-type') >= N && moved('peer:unknown-ssrc') >= 2 * N, 10_000).catch(() => {});
    t.equal(moved('transport:srtp-malformed'), 2 * N, `${2 * N} with an extension or CSRC list past the end: srtp-malformed`);
    t.equal(moved('transport:srtp-auth'), N, `${N} with a length changed after sealing: srtp-auth`);
    t.equal(moved('peer:rtp-malformed'), 2 * N, `${2 * N} with impossible padding: peer:rtp-malformed`);
    t.equal(moved('peer:unknown-ssrc'), 2 * N, `${2 * N} of unknown SSRCs (bogus MID element, 15 CSRCs): peer:unknown-ssrc`);
    t.equal(moved('producer:unknown-payload-type'), N, `${N} with an unnegotiated payload type: producer:unknown-payload-type`);
    t.equal(producer().stats.packets, packetsBefore, 'none of it reached her producer');
    t.equal(peer.producers.length, 1, 'no producer was made for the unknown SSRCs');
    // Still a working publisher afterwards.
    for (let i = 0; i < 10; i++) pub.sendRaw(valid());
    await waitFor('her next genuine packets arrive', () => producer().stats.packets >= packetsBefore + 10, 5000).catch(() => {});
    t.equal(producer().stats.packets, packetsBefore + 10, 'genuine packets after the barrage reach her producer');
    await calmAfter(t, room, w);
  });
});
