// Property-based fuzzing of the STUN codec: the parser never throws on any
// input (nor do the getters of what it returns), and every valid init
// round-trips through writeStun/parseStun with integrity and fingerprint intact.
import t from 'tap';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import {
  STUN_MAGIC_COOKIE,
  StunAttr,
  StunClass,
  encodeStun,
  findStunAttribute,
  isStun,
  parseStun,
  stunSize,
  verifyFingerprint,
  verifyMessageIntegrity,
  writeStun,
  type StunAddress,
  type StunMessage,
  type StunMessageInit,
} from '../../src/ice/stun.js';

const NUM_RUNS = 10_000;
const KEY = Buffer.from('fuzz-key');

/** Reads everything a caller could read; throws only if the codec does. */
function touchAll(msg: StunMessage): void {
  void msg.transactionId;
  void msg.unknownAttributes.length;
  void msg.username;
  void msg.priority;
  void msg.useCandidate;
  void msg.iceControlling;
  void msg.iceControlled;
  void msg.xorMappedAddress;
  void msg.errorCode;
  void msg.software;
  void msg.hasMessageIntegrity;
  void msg.hasMessageIntegritySha256;
  void msg.hasFingerprint;
  verifyMessageIntegrity(msg, KEY);
  verifyFingerprint(msg);
  for (const type of [StunAttr.Realm, StunAttr.Nonce, StunAttr.Fingerprint, StunAttr.MessageIntegrity, 0x1234]) {
    findStunAttribute(msg, type);
  }
}

/** Attribute types the parser treats specially, plus anything else. */
const attrType = fc.oneof(
  fc.constantFrom(...Object.values(StunAttr)),
  fc.integer({ min: 0, max: 0xffff }),
);

/** A TLV with a plausible or random length; sometimes the length lies. */
const tlv = fc.record({
  type: attrType,
  value: fc.uint8Array({ maxLength: 40 }),
  lengthDelta: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -8, max: 8 }) }),
});

function header(type: number, body: Buffer, txid: Uint8Array): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(body.length, 2);
  head.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  head.set(txid, 8);
  return Buffer.concat([head, body]);
}

t.test('arbitrary bytes never throw', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 210 }), fc.nat({ max: 210 }), (bytes, off, len) => {
      const buf = Buffer.from(bytes);
      isStun(buf);
      isStun(buf, off, len);
      const whole = parseStun(buf);
      if (whole !== null) touchAll(whole);
      const part = parseStun(buf, off, len);
      if (part !== null) touchAll(part);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('no throw');
});

t.test('arbitrary body behind a valid header never throws', async (t) => {
  let parsed = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0x3fff }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ maxLength: 160 }),
      (type, txid, bytes) => {
        // Keep the body 4-aligned so the header passes and the attribute walk runs.
        const body = Buffer.from(bytes.subarray(0, bytes.length & ~3));
        const msg = parseStun(header(type, body, txid));
        if (msg !== null) {
          parsed++;
          touchAll(msg);
        }
      },
    ),
    { numRuns: NUM_RUNS },
  );
  t.ok(parsed > 0, `some random bodies parse (${parsed})`);
});

t.test('TLV soup behind a valid header never throws', async (t) => {
  let parsed = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0x3fff }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.array(tlv, { maxLength: 8 }),
      (type, txid, attrs) => {
        const parts: Buffer[] = [];
        for (const a of attrs) {
          const padded = Buffer.alloc(4 + ((a.value.length + 3) & ~3));
          padded.writeUInt16BE(a.type, 0);
          padded.writeUInt16BE(Math.max(0, a.value.length + a.lengthDelta), 2);
          padded.set(a.value, 4);
          parts.push(padded);
        }
        const msg = parseStun(header(type, Buffer.concat(parts), txid));
        if (msg !== null) {
          parsed++;
          touchAll(msg);
        }
      },
    ),
    { numRuns: NUM_RUNS },
  );
  t.ok(parsed > NUM_RUNS / 10, `the walk accepts well-formed soups (${parsed})`);
});

const uint32 = fc.bigInt({ min: 0n, max: 0xffffffffn }).map(Number);
const tieBreaker = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const address: fc.Arbitrary<StunAddress> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), address: fc.ipV4(), port: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ family: fc.constant(6 as const), address: fc.ipV6(), port: fc.integer({ min: 0, max: 0xffff }) }),
);
const opt = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });

const init: fc.Arbitrary<StunMessageInit> = fc.record({
  method: fc.integer({ min: 0, max: 0xfff }),
  class: fc.constantFrom(StunClass.Request, StunClass.Indication, StunClass.SuccessResponse, StunClass.ErrorResponse),
  transactionId: fc.uint8Array({ minLength: 12, maxLength: 12 }).map((u) => Buffer.from(u)),
  username: opt(text),
  errorCode: opt(fc.record({ code: fc.integer({ min: 300, max: 699 }), reason: text })),
  xorMappedAddress: opt(address),
  priority: opt(uint32),
  useCandidate: fc.boolean(),
  iceControlled: opt(tieBreaker),
  iceControlling: opt(tieBreaker),
  software: opt(text),
  integrityKey: fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
  fingerprint: fc.boolean(),
});

/** What the parser should report for an address we wrote. */
function canonical(a: StunAddress): StunAddress {
  if (a.family === 4) return { ...a };
  return { family: 6, address: new SocketAddress({ address: a.address, family: 'ipv6' }).address, port: a.port };
}

t.test('valid inits round-trip with integrity and fingerprint', async (t) => {
  const pool = Buffer.alloc(2048);
  fc.assert(
    fc.property(init, fc.nat({ max: 64 }), (i, offset) => {
      const n = writeStun(i, pool, offset);
      if (n !== stunSize(i)) return false;
      const msg = parseStun(pool, offset, n);
      if (msg === null) return false;
      assert.equal(msg.method, i.method);
      assert.equal(msg.class, i.class);
      assert.deepEqual(msg.transactionId, i.transactionId);
      assert.equal(msg.username, i.username);
      // fc.record builds null-prototype objects; spread them for deepStrictEqual.
      assert.deepEqual(msg.errorCode, i.errorCode === undefined ? undefined : { ...i.errorCode });
      assert.deepEqual(msg.xorMappedAddress, i.xorMappedAddress === undefined ? undefined : canonical(i.xorMappedAddress));
      assert.equal(msg.priority, i.priority);
      assert.equal(msg.useCandidate, i.useCandidate);
      assert.equal(msg.iceControlled, i.iceControlled);
      assert.equal(msg.iceControlling, i.iceControlling);
      assert.equal(msg.software, i.software);
      assert.deepEqual(msg.unknownAttributes, []);
      if (!verifyMessageIntegrity(msg, i.integrityKey ?? KEY)) return false;
      if (verifyFingerprint(msg) !== (i.fingerprint === true)) return false;
      // Same bytes from the allocating encoder.
      return encodeStun(i).equals(pool.subarray(offset, offset + n));
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('round trips');
});
