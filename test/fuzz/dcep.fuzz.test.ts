// Property-based fuzzing of the DCEP codec: no input makes the parser throw,
// and every well-formed DATA_CHANNEL_OPEN survives parse -> write unchanged.
import t from 'tap';
import fc from 'fast-check';
import { DcepChannelType, encodeDcepOpen, parseDcep, writeDcepOpen, dcepOpenSize } from '../../src/sctp/dcep.js';

const RUNS = 10_000;

t.test('arbitrary bytes never throw', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: -2, max: 210 }), fc.integer({ min: -2, max: 210 }), (bytes, off, len) => {
      const buf = Buffer.from(bytes);
      const whole = parseDcep(buf);
      if (whole !== null && whole.type === 'open') {
        if (whole.channelType !== (buf[1] as DcepChannelType)) throw new Error('channel type not from the buffer');
      }
      parseDcep(buf, off, len);
      parseDcep(bytes, off);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('OPEN-shaped bytes with random lengths never throw and stay in bounds', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(0x00, 0x01, 0x02, 0x80, 0x81, 0x82, 0x03, 0x7f),
      fc.nat(0xffff),
      fc.nat(0xffff),
      fc.uint8Array({ maxLength: 64 }),
      (channelType, labelLength, protocolLength, rest) => {
        const buf = Buffer.alloc(12 + rest.length);
        buf[0] = 0x03;
        buf[1] = channelType;
        buf.writeUInt16BE(labelLength % 80, 8);
        buf.writeUInt16BE(protocolLength % 80, 10);
        buf.set(rest, 12);
        const msg = parseDcep(buf);
        if (msg !== null && msg.type === 'open') {
          if (Buffer.byteLength(msg.label) !== labelLength % 80) throw new Error('label length');
          if (Buffer.byteLength(msg.protocol) !== protocolLength % 80) throw new Error('protocol length');
        }
      },
    ),
    { numRuns: RUNS },
  );
  t.pass();
});

const openArb = fc.record({
  channelType: fc.constantFrom(...Object.values(DcepChannelType)),
  priority: fc.nat(0xffff),
  reliability: fc.nat({ max: 0xffffffff }),
  // 'binary' strings are whole code points (no lone surrogates): valid UTF-8.
  label: fc.string({ unit: 'binary', maxLength: 40 }),
  protocol: fc.string({ unit: 'binary', maxLength: 40 }),
});

t.test('generated OPEN messages round-trip byte-equal', async (t) => {
  fc.assert(
    fc.property(openArb, fc.nat(8), (open, pad) => {
      const wire = encodeDcepOpen(open);
      const parsed = parseDcep(wire);
      if (parsed === null || parsed.type !== 'open') throw new Error('encoded OPEN did not parse');
      if (
        parsed.channelType !== open.channelType ||
        parsed.priority !== open.priority ||
        parsed.reliability !== open.reliability ||
        parsed.label !== open.label ||
        parsed.protocol !== open.protocol
      ) {
        throw new Error('fields changed');
      }
      // Write what we parsed at an offset: the same bytes come out.
      const out = Buffer.alloc(pad + dcepOpenSize(parsed));
      const n = writeDcepOpen(parsed, out, pad);
      if (n !== wire.length || !out.subarray(pad).equals(wire)) throw new Error('bytes changed');
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('bytes built from the RFC layout parse and re-encode identically', async (t) => {
  fc.assert(
    fc.property(openArb, (open) => {
      const label = Buffer.from(open.label, 'utf8');
      const protocol = Buffer.from(open.protocol, 'utf8');
      const raw = Buffer.alloc(12 + label.length + protocol.length);
      raw[0] = 0x03;
      raw[1] = open.channelType;
      raw.writeUInt16BE(open.priority, 2);
      raw.writeUInt32BE(open.reliability, 4);
      raw.writeUInt16BE(label.length, 8);
      raw.writeUInt16BE(protocol.length, 10);
      label.copy(raw, 12);
      protocol.copy(raw, 12 + label.length);
      const parsed = parseDcep(raw);
      if (parsed === null || parsed.type !== 'open') throw new Error('did not parse');
      if (!encodeDcepOpen(parsed).equals(raw)) throw new Error('re-encoding differs');
    }),
    { numRuns: RUNS },
  );
  t.pass();
});
