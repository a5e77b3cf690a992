// DCEP codec (RFC 8832 section 5) against hand-built vectors, round trips
// through our writer, the channel-type mapping, and malformed input. The
// vectors are laid out field by field from the section 5.1 diagram, so a bug
// shared by parser and writer still shows up here.
import t from 'tap';
import {
  DCEP_OPEN_HEADER_SIZE,
  DcepChannelType,
  DcepMessageType,
  DcepPriority,
  Ppid,
  dcepChannelType,
  dcepOpenSize,
  dcepReliability,
  encodeDcepAck,
  encodeDcepOpen,
  parseDcep,
  validateDcepOpen,
  writeDcepAck,
  writeDcepOpen,
  type DcepOpen,
} from '../../src/sctp/dcep.js';

/** One row per array element: "xx xx ..". */
function hex(rows: readonly string[]): Buffer {
  return Buffer.from(rows.join('').replace(/\s+/g, ''), 'hex');
}

function mustOpen(buf: Uint8Array, offset?: number, length?: number): DcepOpen {
  const msg = parseDcep(buf, offset, length);
  if (msg === null || msg.type !== 'open') throw new Error('expected DATA_CHANNEL_OPEN');
  return msg;
}

// Label "ion-sfu", reliable, ordered, normal priority, no protocol.
const OPEN_ION_SFU = hex([
  '03', //          Message Type: DATA_CHANNEL_OPEN
  '00', //          Channel Type: DATA_CHANNEL_RELIABLE (ordered)
  '01 00', //       Priority: 256 (normal)
  '00 00 00 00', // Reliability Parameter: 0 (ignored for reliable)
  '00 07', //       Label Length: 7
  '00 00', //       Protocol Length: 0
  '69 6f 6e 2d', // Label: "ion-"
  '73 66 75', //    Label: "sfu"
]);

// Label "chat", protocol "json", unordered, at most 3 retransmits, high priority.
const OPEN_REXMIT_UNORDERED = hex([
  '03', //          DATA_CHANNEL_OPEN
  '81', //          DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED
  '02 00', //       Priority: 512 (high)
  '00 00 00 03', // Reliability Parameter: 3 retransmits
  '00 04', //       Label Length: 4
  '00 04', //       Protocol Length: 4
  '63 68 61 74', // Label: "chat"
  '6a 73 6f 6e', // Protocol: "json"
]);

// Empty label, protocol "x", ordered, 3000 ms lifetime, below-normal priority.
const OPEN_TIMED = hex([
  '03', //          DATA_CHANNEL_OPEN
  '02', //          DATA_CHANNEL_PARTIAL_RELIABLE_TIMED (ordered)
  '00 80', //       Priority: 128 (below normal)
  '00 00 0b b8', // Reliability Parameter: 3000 ms
  '00 00', //       Label Length: 0
  '00 01', //       Protocol Length: 1
  '78', //          Protocol: "x"
]);

// Label "é" (2 UTF-8 bytes), reliable unordered, priority 1024.
const OPEN_UTF8 = hex([
  '03', //          DATA_CHANNEL_OPEN
  '80', //          DATA_CHANNEL_RELIABLE_UNORDERED
  '04 00', //       Priority: 1024 (extra high)
  '00 00 00 00', // Reliability Parameter: 0
  '00 02', //       Label Length: 2 bytes (one code point)
  '00 00', //       Protocol Length: 0
  'c3 a9', //       Label: "é"
]);

const ACK = hex([
  '02', // Message Type: DATA_CHANNEL_ACK
]);

t.test('constants match RFC 8831 section 8 and RFC 8832 section 8.2', async (t) => {
  t.equal(Ppid.Dcep, 50);
  t.equal(Ppid.String, 51);
  t.equal(Ppid.BinaryPartial, 52);
  t.equal(Ppid.Binary, 53);
  t.equal(Ppid.StringPartial, 54);
  t.equal(Ppid.StringEmpty, 56);
  t.equal(Ppid.BinaryEmpty, 57);
  t.equal(DcepMessageType.Open, 0x03);
  t.equal(DcepMessageType.Ack, 0x02);
  t.equal(DCEP_OPEN_HEADER_SIZE, 12);
});

t.test('parses the vectors', async (t) => {
  t.strictSame(mustOpen(OPEN_ION_SFU), {
    type: 'open',
    channelType: DcepChannelType.Reliable,
    priority: 256,
    reliability: 0,
    label: 'ion-sfu',
    protocol: '',
  });
  t.strictSame(mustOpen(OPEN_REXMIT_UNORDERED), {
    type: 'open',
    channelType: DcepChannelType.PartialReliableRexmitUnordered,
    priority: DcepPriority.High,
    reliability: 3,
    label: 'chat',
    protocol: 'json',
  });
  t.strictSame(mustOpen(OPEN_TIMED), {
    type: 'open',
    channelType: DcepChannelType.PartialReliableTimed,
    priority: DcepPriority.BelowNormal,
    reliability: 3000,
    label: '',
    protocol: 'x',
  });
  t.equal(mustOpen(OPEN_UTF8).label, 'é');
  t.strictSame(parseDcep(ACK), { type: 'ack' });
});

t.test('writes the vectors byte for byte', async (t) => {
  for (const vector of [OPEN_ION_SFU, OPEN_REXMIT_UNORDERED, OPEN_TIMED, OPEN_UTF8]) {
    const open = mustOpen(vector);
    t.equal(dcepOpenSize(open), vector.length);
    t.equal(encodeDcepOpen(open).toString('hex'), vector.toString('hex'));
    const buf = Buffer.alloc(vector.length + 5, 0xee);
    t.equal(writeDcepOpen(open, buf, 3), vector.length);
    t.equal(buf.subarray(3, 3 + vector.length).toString('hex'), vector.toString('hex'));
    t.equal(buf[2], 0xee, 'nothing written before offset');
    t.equal(buf[3 + vector.length], 0xee, 'nothing written after the message');
  }
  t.equal(encodeDcepAck().toString('hex'), '02');
  const buf = Buffer.alloc(3);
  t.equal(writeDcepAck(buf, 1), 1);
  t.equal(buf.toString('hex'), '000200');
});

t.test('parses at an offset inside a larger buffer', async (t) => {
  const buf = Buffer.concat([Buffer.from([0xaa, 0xbb]), OPEN_REXMIT_UNORDERED, Buffer.from([0xcc])]);
  t.equal(mustOpen(buf, 2, OPEN_REXMIT_UNORDERED.length).protocol, 'json');
  t.equal(mustOpen(buf.subarray(2)).label, 'chat', 'subarray views work too');
  t.strictSame(parseDcep(Buffer.from([0xff, 0x02, 0xff]), 1, 1), { type: 'ack' });
});

t.test('tolerates bytes after the protocol, as libwebrtc does', async (t) => {
  const open = mustOpen(Buffer.concat([OPEN_ION_SFU, Buffer.from([1, 2, 3])]));
  t.equal(open.label, 'ion-sfu');
  t.strictSame(parseDcep(Buffer.from([0x02, 0x00])), { type: 'ack' });
});

t.test('malformed input returns null', async (t) => {
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['unknown message type 0x01', Buffer.from([0x01])],
    ['unknown message type 0x00', Buffer.from([0x00, 0x00])],
    ['OPEN with only the type byte', Buffer.from([0x03])],
    ['OPEN header one byte short', OPEN_ION_SFU.subarray(0, 11)],
    ['label runs past the end', OPEN_ION_SFU.subarray(0, OPEN_ION_SFU.length - 1)],
    ['protocol runs past the end', OPEN_REXMIT_UNORDERED.subarray(0, OPEN_REXMIT_UNORDERED.length - 2)],
    ['label length 0xffff', Buffer.concat([OPEN_ION_SFU.subarray(0, 8), Buffer.from([0xff, 0xff, 0, 0])])],
    ['channel type 0x03', Buffer.from(OPEN_ION_SFU).fill(0x03, 1, 2)],
    ['channel type 0x40', Buffer.from(OPEN_ION_SFU).fill(0x40, 1, 2)],
    ['channel type 0xff', Buffer.from(OPEN_ION_SFU).fill(0xff, 1, 2)],
    ['label not UTF-8', hex(['03 00 01 00', '00 00 00 00', '00 01 00 00', 'ff'])],
    ['protocol not UTF-8 (truncated sequence)', hex(['03 00 01 00', '00 00 00 00', '00 00 00 01', 'c3'])],
  ];
  for (const [name, buf] of cases) t.equal(parseDcep(buf), null, name);
  // Offset and length outside the buffer.
  t.equal(parseDcep(ACK, 1), null, 'offset at the end');
  t.equal(parseDcep(ACK, 5, 1), null, 'offset past the end');
  t.equal(parseDcep(OPEN_ION_SFU, 0, OPEN_ION_SFU.length + 1), null, 'length past the end');
  t.equal(parseDcep(ACK, -1, 1), null, 'negative offset');
  t.equal(parseDcep(ACK, 0, -1), null, 'negative length');
  t.equal(parseDcep(ACK, 0.5, 1), null, 'fractional offset');
  t.equal(parseDcep(OPEN_ION_SFU, 0, 15), null, 'length cuts the label');
});

t.test('channel type <-> W3C reliability fields', async (t) => {
  t.strictSame(dcepChannelType({ ordered: true }), { channelType: 0x00, reliability: 0 });
  t.strictSame(dcepChannelType({ ordered: false }), { channelType: 0x80, reliability: 0 });
  t.strictSame(dcepChannelType({ ordered: true, maxRetransmits: 0 }), { channelType: 0x01, reliability: 0 });
  t.strictSame(dcepChannelType({ ordered: false, maxRetransmits: 5 }), { channelType: 0x81, reliability: 5 });
  t.strictSame(dcepChannelType({ ordered: true, maxPacketLifeTime: 150 }), { channelType: 0x02, reliability: 150 });
  t.strictSame(dcepChannelType({ ordered: false, maxPacketLifeTime: 0 }), { channelType: 0x82, reliability: 0 });

  t.strictSame(dcepReliability({ channelType: 0x00, reliability: 9 }), { ordered: true }, 'reliable ignores the parameter');
  t.strictSame(dcepReliability({ channelType: 0x80, reliability: 0 }), { ordered: false });
  t.strictSame(dcepReliability({ channelType: 0x01, reliability: 0 }), { ordered: true, maxRetransmits: 0 });
  t.strictSame(dcepReliability({ channelType: 0x81, reliability: 7 }), { ordered: false, maxRetransmits: 7 });
  t.strictSame(dcepReliability({ channelType: 0x02, reliability: 3000 }), { ordered: true, maxPacketLifeTime: 3000 });
  t.strictSame(dcepReliability({ channelType: 0x82, reliability: 1 }), { ordered: false, maxPacketLifeTime: 1 });
});

t.test('encode rejects values the wire cannot carry', async (t) => {
  const base = { channelType: DcepChannelType.Reliable, priority: 256, reliability: 0, label: 'a', protocol: '' };
  t.equal(validateDcepOpen(base), null);
  t.throws(() => encodeDcepOpen({ ...base, label: 'x'.repeat(65536) }), RangeError);
  t.throws(() => encodeDcepOpen({ ...base, protocol: 'é'.repeat(32768) }), RangeError, '65536 UTF-8 bytes');
  t.ok(encodeDcepOpen({ ...base, label: 'x'.repeat(65535) }).length === 12 + 65535, '65535 bytes fit');
  t.throws(() => encodeDcepOpen({ ...base, priority: 0x10000 }), RangeError);
  t.throws(() => encodeDcepOpen({ ...base, priority: -1 }), RangeError);
  t.throws(() => encodeDcepOpen({ ...base, reliability: 2 ** 32 }), RangeError);
  t.throws(() => encodeDcepOpen({ ...base, reliability: 1.5 }), RangeError);
  t.throws(() => encodeDcepOpen({ ...base, channelType: 0x03 as DcepChannelType }), RangeError);
  t.equal(encodeDcepOpen({ ...base, reliability: 0xffffffff }).readUInt32BE(4), 0xffffffff, 'full 32-bit range');
});

t.test('round trips every channel type', async (t) => {
  for (const channelType of Object.values(DcepChannelType)) {
    const open = { channelType, priority: 0xffff, reliability: 0x80000001, label: 'l\u{1f600}', protocol: 'p' };
    const parsed = mustOpen(encodeDcepOpen(open));
    t.strictSame(parsed, { type: 'open', ...open }, `channel type 0x${channelType.toString(16)}`);
  }
});
