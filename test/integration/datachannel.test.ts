// Data channels end to end: two DataChannelEndpoints (DTLS client and DTLS
// server roles) joined by an in-memory packet pair that stands in for DTLS,
// optionally losing packets. Also a raw werift SCTP association as a peer, to
// inject DCEP and PPIDs our own endpoint would never send.
import t from 'tap';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RTCSctpTransport } from 'werift';
import {
  type DataChannel,
  DataChannelEndpoint,
  DataChannelError,
  DataChannelErrorCode,
  Ppid,
  encodeDcepOpen,
  sctpPacketLooksValid,
  type DataChannelEndpointOptions,
} from '../../src/sctp/index.js';
import { ClosedError } from '../../src/errors.js';

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/** Deterministic PRNG (mulberry32) so a lossy run is the same every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where packets go: an endpoint, or anything with handlePacket. */
interface PacketSink {
  handlePacket(packet: Buffer): void;
}

/**
 * A pair of packet links standing in for DTLS: send() delivers to the other
 * side on a later turn of the event loop (never synchronously), unless
 * `drop` says to lose the packet.
 */
class LinkPair {
  drop: (packet: Buffer) => boolean = () => false;
  dropped = 0;
  delivered = 0;
  a: PacketSink | undefined;
  b: PacketSink | undefined;

  readonly toB = { send: (packet: Buffer): Promise<void> => this.#deliver(packet, () => this.b) };
  readonly toA = { send: (packet: Buffer): Promise<void> => this.#deliver(packet, () => this.a) };

  #deliver(packet: Buffer, target: () => PacketSink | undefined): Promise<void> {
    if (this.drop(packet)) {
      this.dropped++;
      return Promise.resolve();
    }
    // Copy: the sender may reuse its buffer, as a DTLS record would not.
    const copy = Buffer.from(packet);
    setImmediate(() => {
      this.delivered++;
      target()?.handlePacket(copy);
    });
    return Promise.resolve();
  }
}

type EndpointOverrides = Partial<Omit<DataChannelEndpointOptions, 'role' | 'transport'>>;

/** The part of a tap test the harness needs. */
interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

function makePair(
  t: Teardown,
  client: EndpointOverrides = {},
  server: EndpointOverrides = {},
): { link: LinkPair; client: DataChannelEndpoint; server: DataChannelEndpoint } {
  const link = new LinkPair();
  const c = new DataChannelEndpoint({ role: 'client', transport: link.toB, ...client });
  const s = new DataChannelEndpoint({ role: 'server', transport: link.toA, ...server });
  link.a = c;
  link.b = s;
  t.teardown(() => {
    c.close();
    s.close();
  });
  return { link, client: c, server: s };
}

async function connect(client: DataChannelEndpoint, server: DataChannelEndpoint): Promise<void> {
  const up = Promise.all([once(client, 'connected'), once(server, 'connected')]);
  server.start();
  client.start();
  await up;
}

/** Open a channel from `from` and return both ends once both are open. */
async function openChannel(
  from: DataChannelEndpoint,
  to: DataChannelEndpoint,
  label: string,
  init: Parameters<DataChannelEndpoint['createDataChannel']>[1] = {},
): Promise<[DataChannel, DataChannel]> {
  const remote = once(to, 'datachannel') as Promise<[DataChannel]>;
  const local = from.createDataChannel(label, init);
  await once(local, 'open');
  const [peer] = await remote;
  if (peer.readyState !== 'open') await once(peer, 'open');
  return [local, peer];
}

/** Resolve with the first `n` messages a channel receives. */
function collect(channel: DataChannel, n: number): Promise<(string | Buffer)[]> {
  return new Promise((resolve) => {
    const got: (string | Buffer)[] = [];
    const onMessage = (m: string | Buffer): void => {
      got.push(m);
      if (got.length === n) {
        channel.off('message', onMessage);
        resolve(got);
      }
    };
    channel.on('message', onMessage);
  });
}

/** Reject if `p` takes longer than `ms` (the timer is cleared either way). */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

t.test('association comes up; a channel opens on both sides with label and protocol', async (t) => {
  const { client, server } = makePair(t);
  // A channel created before the association is announced once it is up.
  const early = client.createDataChannel('early');
  t.equal(early.readyState, 'connecting');
  t.throws(() => early.send('too soon'), { code: DataChannelErrorCode.InvalidState });
  await within(5000, connect(client, server), 'connect');
  t.equal(client.state, 'connected');
  t.equal(server.state, 'connected');
  await once(early, 'open');

  const [chat, peer] = await within(5000, openChannel(client, server, 'chat', { protocol: 'json-v1' }), 'open');
  t.equal(peer.label, 'chat');
  t.equal(peer.protocol, 'json-v1');
  t.equal(chat.readyState, 'open');
  t.equal(peer.readyState, 'open');
  t.equal(peer.id, chat.id);
  t.ok(peer.createdByRemote);
  t.notOk(chat.createdByRemote);
  t.equal(chat.ordered, true);
  t.equal(peer.ordered, true);
  t.equal(peer.maxRetransmits, null);
  t.equal(peer.maxPacketLifeTime, null);
  t.equal(peer.priority, 256);
  t.equal(early.id % 2, 0, 'DTLS client uses even stream ids');
  t.equal(chat.id % 2, 0);
  t.not(chat.id, early.id);

  const [fromServer, atClient] = await openChannel(server, client, 'reverse');
  t.equal(fromServer.id % 2, 1, 'DTLS server uses odd stream ids');
  t.equal(atClient.label, 'reverse');

  const cs = client.getStats();
  t.equal(cs.channels, 3);
  t.equal(cs.channelsOpened, 3);
  t.equal(cs.dcepSent, 3, 'two OPENs and one ACK');
  t.equal(cs.dcepReceived, 3);
  const dump = server.dump();
  t.equal(dump.role, 'server');
  t.equal(dump.initiator, false);
  t.equal(dump.channels.length, 3);
  t.equal(dump.sctpAssociationState, 4, 'ESTABLISHED');
});

t.test('string, binary, empty and 60 KB messages both ways, intact and in order', async (t) => {
  const { client, server } = makePair(t);
  await connect(client, server);
  const [a, b] = await openChannel(client, server, 'data');
  const big = bytes(60 * 1024, 7);
  const bigText = 'é'.repeat(30 * 1024); // 60 KB of UTF-8
  const payloads: (string | Buffer)[] = ['hello', Buffer.from([1, 2, 3]), '', Buffer.alloc(0), big, 'after big', bigText, '\u{1f600}'];

  for (const [from, to, name] of [
    [a, b, 'client -> server'],
    [b, a, 'server -> client'],
  ] as const) {
    const got = collect(to, payloads.length);
    for (const p of payloads) from.send(p);
    const messages = await within(10_000, got, name);
    t.equal(messages.length, payloads.length, name);
    for (const [i, p] of payloads.entries()) {
      const m = messages[i];
      if (typeof p === 'string') {
        t.equal(typeof m, 'string', `${name} #${i} is a string`);
        t.ok(m === p, `${name} #${i} string intact`);
      } else {
        t.ok(Buffer.isBuffer(m), `${name} #${i} is a Buffer`);
        t.ok(Buffer.isBuffer(m) && m.equals(p), `${name} #${i} bytes intact`);
      }
    }
  }
  const bytesEach = payloads.reduce((n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p) : p.length), 0);
  t.equal(a.getStats().messagesSent, payloads.length);
  t.equal(a.getStats().bytesSent, bytesEach);
  t.equal(b.getStats().messagesReceived, payloads.length);
  t.equal(b.getStats().bytesReceived, bytesEach);
  t.equal(client.getStats().messagesReceived, payloads.length);
  t.equal(server.getStats().bytesSent, bytesEach);
  await within(5000, (async () => {
    while (a.bufferedAmount > 0) await once(a, 'bufferedamountlow');
  })(), 'drain');
  t.equal(a.bufferedAmount, 0);
});

t.test('messages over the max message size are refused at send and dropped on receipt', async (t) => {
  const { client, server } = makePair(t, { remoteMaxMessageSize: 0 }, { maxMessageSize: 1000 });
  await connect(client, server);
  const [a, b] = await openChannel(client, server, 'limits');
  // The server honours the default remote limit of 65536 (RFC 8841).
  t.throws(() => b.send(Buffer.alloc(65_537)), { code: DataChannelErrorCode.MessageTooLarge });
  t.throws(() => b.send('x'.repeat(65_537)), DataChannelError);
  t.doesNotThrow(() => b.send(Buffer.alloc(65_536)));
  server.setRemoteMaxMessageSize(10);
  t.throws(() => b.send('eleven char'), { code: DataChannelErrorCode.MessageTooLarge });
  t.equal(b.getStats().messagesSent, 1, 'refused messages are not counted as sent');

  // The client was told "no limit"; the server (limit 1000) drops the big one.
  const got = collect(b, 2);
  a.send(Buffer.alloc(2000));
  a.send('small');
  a.send('last');
  const messages = await within(5000, got, 'receive');
  t.strictSame(messages, ['small', 'last']);
  t.equal(server.getStats().drops.messageTooLarge, 1);
});

t.test('unordered, maxRetransmits: 0 and maxPacketLifeTime channels', async (t) => {
  const { client, server } = makePair(t);
  await connect(client, server);
  const [u, peerU] = await openChannel(client, server, 'unreliable', { ordered: false, maxRetransmits: 0 });
  t.equal(peerU.ordered, false);
  t.equal(peerU.maxRetransmits, 0);
  t.equal(peerU.maxPacketLifeTime, null);
  const n = 50;
  const got = collect(peerU, n);
  for (let i = 0; i < n; i++) u.send(`u${i}`);
  const messages = await within(5000, got, 'unordered');
  t.strictSame(
    [...messages].sort(),
    Array.from({ length: n }, (_, i) => `u${i}`).sort(),
    'every message arrives once (no loss on this link)',
  );

  const [timed, peerT] = await openChannel(server, client, 'timed', { maxPacketLifeTime: 500, protocol: 'p' });
  t.equal(peerT.maxPacketLifeTime, 500);
  t.equal(peerT.ordered, true);
  t.equal(peerT.protocol, 'p');
  const got2 = collect(peerT, 3);
  timed.send('a');
  timed.send(Buffer.from('b'));
  timed.send('c');
  const m2 = await within(5000, got2, 'timed');
  t.equal(m2[0], 'a');
  t.ok(Buffer.isBuffer(m2[1]));
  t.equal(m2[2], 'c');
});

t.test('pre-negotiated channels open without DCEP', async (t) => {
  const { client, server } = makePair(t);
  const before = client.createDataChannel('neg', { negotiated: true, id: 7 });
  await connect(client, server);
  const other = server.createDataChannel('neg', { negotiated: true, id: 7 });
  t.equal(other.readyState, 'connecting', 'opens on a later turn, so listeners can attach');
  await Promise.all([before.readyState === 'open' ? Promise.resolve() : once(before, 'open'), once(other, 'open')]);
  t.equal(client.getStats().dcepSent, 0);
  t.equal(server.getStats().dcepSent, 0);
  const got = collect(other, 1);
  before.send('over negotiated');
  t.strictSame(await within(5000, got, 'negotiated'), ['over negotiated']);
  t.equal(before.negotiated, true);

  t.throws(() => client.createDataChannel('dup', { negotiated: true, id: 7 }), { code: DataChannelErrorCode.IdInUse });
  t.throws(() => client.createDataChannel('noid', { negotiated: true }), { code: DataChannelErrorCode.InvalidParameters });
  t.throws(() => client.createDataChannel('both', { maxRetransmits: 1, maxPacketLifeTime: 1 }), {
    code: DataChannelErrorCode.InvalidParameters,
  });
  t.throws(() => client.createDataChannel('big', { id: 65535, negotiated: true }), { code: DataChannelErrorCode.InvalidParameters });
  t.throws(() => client.createDataChannel('x', { maxRetransmits: -1 }), { code: DataChannelErrorCode.InvalidParameters });
  t.throws(() => client.createDataChannel('x'.repeat(65536)), { code: DataChannelErrorCode.InvalidParameters });
});

t.test('closing a channel on one side closes it on the other (stream reset)', async (t) => {
  const { client, server } = makePair(t);
  await connect(client, server);
  const [a, b] = await openChannel(client, server, 'to-close');
  const [keep, keepPeer] = await openChannel(client, server, 'stays-open');

  // Data sent just before close() still arrives: the reset waits for it.
  const got = collect(b, 20);
  for (let i = 0; i < 20; i++) a.send(bytes(3000, i));
  const remoteClosed = once(b, 'close');
  const localClosed = once(a, 'close');
  a.close();
  t.equal(a.readyState, 'closing');
  t.throws(() => a.send('after close'), { code: DataChannelErrorCode.InvalidState });
  const messages = await within(5000, got, 'data before close');
  t.equal(messages.length, 20);
  t.ok(messages.every((m, i) => Buffer.isBuffer(m) && m.equals(bytes(3000, i))), 'all intact');
  await within(5000, Promise.all([remoteClosed, localClosed]), 'close');
  t.equal(a.readyState, 'closed');
  t.equal(b.readyState, 'closed');
  a.close(); // idempotent

  // The other channel is untouched; the server can close its own too.
  t.equal(keep.readyState, 'open');
  const got2 = collect(keepPeer, 1);
  keep.send('still here');
  t.strictSame(await within(5000, got2, 'other channel'), ['still here']);
  const bothClosed = Promise.all([once(keep, 'close'), once(keepPeer, 'close')]);
  keepPeer.close();
  await within(5000, bothClosed, 'server-initiated close');
  t.equal(keep.readyState, 'closed');
  t.equal(keepPeer.readyState, 'closed');

  t.equal(client.getStats().channels, 0);
  t.equal(server.getStats().channelsClosed, 2);
  t.equal(client.getStats().channelsClosed, 2);

  // A fresh channel after the closes gets a new id and works.
  const [fresh, freshPeer] = await openChannel(client, server, 'fresh');
  t.not(fresh.id, a.id);
  const got3 = collect(freshPeer, 1);
  fresh.send('new');
  t.strictSame(await within(5000, got3, 'fresh'), ['new']);
});

t.test('closing the endpoint closes every channel on both sides, leaving no timers', async (t) => {
  const { client, server } = makePair(t);
  await connect(client, server);
  const [a, b] = await openChannel(client, server, 'one');
  const [c, d] = await openChannel(server, client, 'two');
  // events.once() rejects on 'error', so wait for 'close' by hand.
  const closed = (e: DataChannel | DataChannelEndpoint): Promise<void> =>
    new Promise((resolve) => e.once('close', () => resolve()));
  const errors = new Map<DataChannel, Error[]>();
  for (const ch of [a, b, c, d]) {
    const list: Error[] = [];
    errors.set(ch, list);
    ch.on('error', (e) => list.push(e));
  }
  const localClosed = Promise.all([closed(a), closed(d), closed(client)]);
  const peerClosed = Promise.all([closed(b), closed(c), closed(server)]);
  client.close();
  await localClosed;
  t.equal(a.readyState, 'closed');
  t.equal(d.readyState, 'closed');
  t.equal(client.state, 'closed');
  t.equal(errors.get(a)?.length, 0, 'closing our own endpoint is not an error');
  await within(5000, peerClosed, 'peer sees ABORT');
  t.equal(errors.get(b)?.length, 1, "the peer's channels hear why");
  t.match(errors.get(c)?.[0]?.message, /association closed/);
  t.equal(server.state, 'closed');
  t.equal(b.readyState, 'closed');
  t.throws(() => client.createDataChannel('late'), ClosedError);
  const afterClose = client.getStats().drops.afterClose;
  client.handlePacket(Buffer.alloc(20));
  t.equal(client.getStats().drops.afterClose, afterClose + 1);
  // Let werift's stop() finish its ABORT send, then count timers.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.equal(timers(), 0, 'no SCTP timers left running');
});

t.test('10% packet loss: the reliable channel still delivers everything in order', async (t) => {
  const { link, client, server } = makePair(t);
  await connect(client, server);
  const [a, b] = await openChannel(client, server, 'lossy');
  const [c, d] = await openChannel(server, client, 'lossy-back');
  const random = prng(20240607);
  link.drop = () => random() < 0.1;

  const n = 300;
  const big = bytes(60 * 1024, 99);
  const started = Date.now();
  const got = collect(b, n + 1);
  const gotBack = collect(c, 50);
  for (let i = 0; i < n; i++) a.send(`m${i}`);
  a.send(big);
  for (let i = 0; i < 50; i++) d.send(`r${i}`);
  const [messages, back] = await within(20_000, Promise.all([got, gotBack]), 'lossy delivery');
  const elapsed = Date.now() - started;
  t.strictSame(messages.slice(0, n), Array.from({ length: n }, (_, i) => `m${i}`), 'all strings, in order');
  const last = messages[n];
  t.ok(Buffer.isBuffer(last) && last.equals(big), '60 KB message intact');
  t.strictSame(back, Array.from({ length: 50 }, (_, i) => `r${i}`), 'reverse direction in order');
  t.ok(link.dropped > 20, `the link lost packets (${link.dropped} of ${link.dropped + link.delivered})`);
  t.ok(elapsed < 15_000, `delivered in ${elapsed} ms`);
  const drops = server.getStats().drops;
  t.equal(drops.unknownStream + drops.dcepMalformed + drops.malformedPacket, 0, 'loss is not misread as bad input');
  link.drop = () => false;
});

t.test('10% loss with reliable and partially reliable channels side by side', async (t) => {
  const { link, client, server } = makePair(t);
  await connect(client, server);
  const [rel, relPeer] = await openChannel(client, server, 'reliable');
  const [rex, rexPeer] = await openChannel(client, server, 'rexmit0', { ordered: false, maxRetransmits: 0 });
  const [timed, timedPeer] = await openChannel(client, server, 'timed', { ordered: false, maxPacketLifeTime: 0 });
  const random = prng(7);
  link.drop = () => random() < 0.1;

  const n = 200;
  const unreliable: string[] = [];
  rexPeer.on('message', (m) => unreliable.push(String(m)));
  timedPeer.on('message', (m) => unreliable.push(String(m)));
  const got = collect(relPeer, n);
  for (let i = 0; i < n; i++) {
    rel.send(`r${i}`);
    rex.send(`x${i}`);
    timed.send(`t${i}`);
  }
  // NOTE: werift 0.24.4 abandoned the wrong message (the oldest in flight,
  // whatever its channel) when a partially reliable one expired; our patch
  // must keep the reliable channel whole.
  const messages = await within(20_000, got, 'reliable beside unreliable');
  t.strictSame(messages, Array.from({ length: n }, (_, i) => `r${i}`), 'reliable channel complete and in order');
  t.ok(unreliable.length > 0, `unreliable channels delivered ${unreliable.length} of ${2 * n}`);
  t.ok(new Set(unreliable).size === unreliable.length, 'no duplicates on unreliable channels');
  link.drop = () => false;
  // The association still works afterwards, in both directions.
  const after = collect(rexPeer, 1);
  rex.send('after');
  t.strictSame(await within(5000, after, 'after loss'), ['after']);
  t.equal(server.getStats().drops.sctpError, 0);
});

t.test('a lost FORWARD TSN is sent again (RFC 3758 section 3.5 C3)', async (t) => {
  const { link, client, server } = makePair(t);
  await connect(client, server);
  const [rel, relPeer] = await openChannel(client, server, 'reliable');
  const [rex, rexPeer] = await openChannel(client, server, 'unreliable', { ordered: false, maxRetransmits: 0 });
  const FORWARD_TSN = 192;
  let forwardTsnsDropped = 0;
  link.drop = (packet) => {
    // Lose every copy of one unreliable message, and the first FORWARD TSN.
    if (packet.includes('LOSE-ME')) return true;
    if (packet[12] === FORWARD_TSN && forwardTsnsDropped === 0) {
      forwardTsnsDropped++;
      return true;
    }
    return false;
  };
  const unreliable: string[] = [];
  rexPeer.on('message', (m) => unreliable.push(String(m)));
  const got = collect(relPeer, 20);
  rex.send('LOSE-ME');
  for (let i = 0; i < 20; i++) {
    rel.send(`r${i}`);
    rex.send(`u${i}`);
  }
  t.strictSame(await within(5000, got, 'reliable'), Array.from({ length: 20 }, (_, i) => `r${i}`));
  // Keep a trickle of traffic so SACKs flow, until the peer has caught up.
  const settled = async (): Promise<void> => {
    for (let i = 0; ; i++) {
      const d = client.dump();
      if (forwardTsnsDropped > 0 && !d.sctpForwardTsnPending && d.sctpOutstandingChunks === 0) return;
      rel.send(`tick${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await within(8000, settled(), 'cumulative TSN past the abandoned message');
  t.equal(forwardTsnsDropped, 1, 'the first FORWARD TSN was lost');
  t.notOk(unreliable.includes('LOSE-ME'));
  t.equal(unreliable.length, 20, 'the other unreliable messages arrived');
});

// ---------------------------------------------------------------------------
// Bad input, through a raw werift association as the peer
// ---------------------------------------------------------------------------

type RawSctp = RTCSctpTransport['sctp'];

function rawWeriftClient(transport: { send(b: Buffer): Promise<void> }): RawSctp & PacketSink {
  const require = createRequire(import.meta.url);
  const mod = require(join(dirname(require.resolve('werift')), '..', '..', 'sctp', 'src', 'index.js')) as {
    SCTP: { client(t: RawSctp['transport'], port?: number): RawSctp };
  };
  const inner: RawSctp['transport'] = { send: (b) => transport.send(b), close: () => {} };
  const sctp = mod.SCTP.client(inner, 5000);
  return Object.assign(sctp, {
    handlePacket: (b: Buffer) => {
      inner.onData?.(b);
    },
  });
}

t.test('bad input is counted and dropped, never thrown', async (t) => {
  const link = new LinkPair();
  const server = new DataChannelEndpoint({ role: 'server', transport: link.toA });
  const raw = rawWeriftClient(link.toB);
  link.a = raw;
  link.b = server;
  t.teardown(async () => {
    server.close();
    await raw.stop();
  });
  const connected = once(server, 'connected');
  server.start();
  await raw.start(5000);
  await within(5000, connected, 'raw connect');

  const received: [number, number, Buffer][] = [];
  raw.onReceive.subscribe((sid, ppid, data) => {
    received.push([sid, ppid, data]);
  });
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };

  // Malformed DCEP: short OPEN, unknown type, empty-ish, ACK for nothing.
  await raw.send(1, Ppid.Dcep, Buffer.from([0x03, 0x00, 0x01]));
  await raw.send(3, Ppid.Dcep, Buffer.from([0x09]));
  await raw.send(5, Ppid.Dcep, Buffer.from([0x02]));
  // A user message on a stream with no channel.
  await raw.send(9, Ppid.String, Buffer.from('nobody'));
  await settle();
  let drops = server.getStats().drops;
  t.equal(drops.dcepMalformed, 2);
  t.equal(drops.dcepUnexpectedAck, 1);
  t.equal(drops.unknownStream, 1);
  t.equal(server.channels.length, 0);

  // A proper OPEN from the raw peer: the endpoint announces it and ACKs.
  const announced = once(server, 'datachannel') as Promise<[DataChannel]>;
  const open = encodeDcepOpen({ channelType: 0x00, priority: 256, reliability: 0, label: 'raw', protocol: '' });
  await raw.send(11, Ppid.Dcep, open);
  const [channel] = await within(5000, announced, 'datachannel');
  t.equal(channel.id, 11);
  t.equal(channel.label, 'raw');
  await settle();
  t.ok(received.some(([sid, ppid, data]) => sid === 11 && ppid === Ppid.Dcep && data.equals(Buffer.from([0x02]))), 'ACK sent');

  // A retransmitted OPEN is ACKed again, not a second channel.
  await raw.send(11, Ppid.Dcep, open);
  await settle();
  t.equal(server.channels.length, 1);
  t.equal(received.filter(([sid, ppid]) => sid === 11 && ppid === Ppid.Dcep).length, 2);

  // PPIDs: deprecated partial ones and unknown ones are dropped; empties decode.
  const got = collect(channel, 3);
  await raw.send(11, Ppid.StringPartial, Buffer.from('part'));
  await raw.send(11, Ppid.BinaryPartial, Buffer.from('part'));
  await raw.send(11, 99, Buffer.from('?'));
  await raw.send(11, Ppid.StringEmpty, Buffer.from([0]));
  await raw.send(11, Ppid.BinaryEmpty, Buffer.from([0]));
  await raw.send(11, Ppid.String, Buffer.from('ok'));
  const messages = await within(5000, got, 'ppids');
  t.equal(messages[0], '');
  t.ok(Buffer.isBuffer(messages[1]) && messages[1].length === 0);
  t.equal(messages[2], 'ok');
  drops = server.getStats().drops;
  t.equal(drops.deprecatedPpid, 2);
  t.equal(drops.unknownPpid, 1);
  t.equal(channel.getStats().bytesReceived, 2);

  // Our channel answers on the wire with the right PPIDs.
  channel.send('');
  channel.send(Buffer.alloc(0));
  channel.send(Buffer.from([5]));
  await settle();
  const user = received.filter(([sid, ppid]) => sid === 11 && ppid !== Ppid.Dcep).map(([, ppid, data]) => [ppid, data.toString('hex')]);
  t.strictSame(user, [
    [Ppid.StringEmpty, '00'],
    [Ppid.BinaryEmpty, '00'],
    [Ppid.Binary, '05'],
  ]);

  // Broken packets: too short, zero chunk length (werift would spin), bad checksum.
  const zeroChunk = Buffer.alloc(16);
  zeroChunk.writeUInt16BE(0, 14);
  t.notOk(sctpPacketLooksValid(zeroChunk));
  t.notOk(sctpPacketLooksValid(Buffer.alloc(8)));
  server.handlePacket(Buffer.alloc(8));
  server.handlePacket(zeroChunk);
  const badCrc = Buffer.alloc(32, 0x11);
  badCrc.writeUInt16BE(20, 14);
  t.ok(sctpPacketLooksValid(badCrc));
  server.handlePacket(badCrc);
  await settle();
  drops = server.getStats().drops;
  t.equal(drops.malformedPacket, 2);
  t.equal(drops.sctpError, 1, 'werift rejects the checksum; counted, not thrown');
  t.equal(server.state, 'connected', 'the association survives');

  // An OPEN on a stream our channel already uses is refused.
  const mine = server.createDataChannel('mine', { negotiated: true, id: 13 });
  await once(mine, 'open');
  await raw.send(13, Ppid.Dcep, open);
  await settle();
  t.equal(server.getStats().drops.dcepStreamInUse, 1);
  t.equal(mine.label, 'mine');
});

t.test('a throwing listener does not break the association', async (t) => {
  const { client, server } = makePair(t);
  await connect(client, server);
  const [a, b] = await openChannel(client, server, 'throwy');
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err);
  };
  // tap installs its own handler; take it over for this test only.
  const previous = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  t.teardown(() => {
    process.off('uncaughtException', onUncaught);
    for (const l of previous) process.on('uncaughtException', l);
  });
  const got = collect(b, 2);
  let calls = 0;
  b.on('message', () => {
    calls++;
    if (calls === 1) throw new Error('listener bug');
  });
  a.send('first');
  a.send('second');
  t.strictSame(await within(5000, got, 'after throw'), ['first', 'second']);
  await new Promise((r) => setImmediate(r));
  t.equal(uncaught.length, 1, 'the error still surfaces');
  t.equal(server.getStats().drops.sctpError, 0);
});
