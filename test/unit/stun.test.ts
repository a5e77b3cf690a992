// STUN codec against the RFC 5769 vectors, round trips through our writer,
// and malformed input. The vectors matter most: a bug shared by our parser and
// our writer would round-trip happily but fail against a real peer.
import t from 'tap';
import { SocketAddress } from 'node:net';
import {
  StunAttr,
  StunClass,
  StunErrorCode,
  StunMethod,
  encodeStun,
  findStunAttribute,
  isStun,
  longTermKey,
  parseStun,
  shortTermKey,
  stunMessageType,
  stunSize,
  verifyFingerprint,
  verifyMessageIntegrity,
  writeStun,
  type StunMessage,
  type StunMessageInit,
} from '../../src/ice/stun.js';
import { crc32 } from '../../src/ice/crc32.js';

/** One RFC 5769 row per array element: "xx xx xx xx". */
function hex(rows: readonly string[]): Buffer {
  return Buffer.from(rows.join('').replace(/\s+/g, ''), 'hex');
}

function mustParse(buf: Buffer, offset?: number, length?: number): StunMessage {
  const msg = parseStun(buf, offset, length);
  if (msg === null) throw new Error('expected a STUN message');
  return msg;
}

const RFC5769_PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';
const RFC5769_TXID = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');

// RFC 5769 section 2.1, Sample Request.
const SAMPLE_REQUEST = hex([
  '00 01 00 58', // Request type and message length
  '21 12 a4 42', // Magic cookie
  'b7 e7 a7 01', // }
  'bc 34 d6 86', // }  Transaction ID
  'fa 87 df ae', // }
  '80 22 00 10', // SOFTWARE attribute header
  '53 54 55 4e', // }
  '20 74 65 73', // }  User-agent...
  '74 20 63 6c', // }  ...name
  '69 65 6e 74', // }
  '00 24 00 04', // PRIORITY attribute header
  '6e 00 01 ff', // ICE priority value
  '80 29 00 08', // ICE-CONTROLLED attribute header
  '93 2f f9 b1', // }  Pseudo-random tie breaker...
  '51 26 3b 36', // }   ...for ICE control
  '00 06 00 09', // USERNAME attribute header
  '65 76 74 6a', // }
  '3a 68 36 76', // }  Username (9 bytes) and padding (3 bytes)
  '59 20 20 20', // }
  '00 08 00 14', // MESSAGE-INTEGRITY attribute header
  '9a ea a7 0c', // }
  'bf d8 cb 56', // }
  '78 1e f2 b5', // }  HMAC-SHA1 fingerprint
  'b2 d3 f2 49', // }
  'c1 b5 71 a2', // }
  '80 28 00 04', // FINGERPRINT attribute header
  'e5 7a 3b cf', // CRC32 fingerprint
]);

// RFC 5769 section 2.2, Sample IPv4 Response.
const SAMPLE_IPV4_RESPONSE = hex([
  '01 01 00 3c', // Response type and message length
  '21 12 a4 42', // Magic cookie
  'b7 e7 a7 01', // }
  'bc 34 d6 86', // }  Transaction ID
  'fa 87 df ae', // }
  '80 22 00 0b', // SOFTWARE attribute header
  '74 65 73 74', // }
  '20 76 65 63', // }  UTF-8 server name
  '74 6f 72 20', // }
  '00 20 00 08', // XOR-MAPPED-ADDRESS attribute header
  '00 01 a1 47', // Address family (IPv4) and xor'd mapped port number
  'e1 12 a6 43', // Xor'd mapped IPv4 address
  '00 08 00 14', // MESSAGE-INTEGRITY attribute header
  '2b 91 f5 99', // }
  'fd 9e 90 c3', // }
  '8c 74 89 f9', // }  HMAC-SHA1 fingerprint
  '2a f9 ba 53', // }
  'f0 6b e7 d7', // }
  '80 28 00 04', // FINGERPRINT attribute header
  'c0 7d 4c 96', // CRC32 fingerprint
]);

// RFC 5769 section 2.3, Sample IPv6 Response.
const SAMPLE_IPV6_RESPONSE = hex([
  '01 01 00 48', // Response type and message length
  '21 12 a4 42', // Magic cookie
  'b7 e7 a7 01', // }
  'bc 34 d6 86', // }  Transaction ID
  'fa 87 df ae', // }
  '80 22 00 0b', // SOFTWARE attribute header
  '74 65 73 74', // }
  '20 76 65 63', // }  UTF-8 server name
  '74 6f 72 20', // }
  '00 20 00 14', // XOR-MAPPED-ADDRESS attribute header
  '00 02 a1 47', // Address family (IPv6) and xor'd mapped port number
  '01 13 a9 fa', // }
  'a5 d3 f1 79', // }  Xor'd mapped IPv6 address
  'bc 25 f4 b5', // }
  'be d2 b9 d9', // }
  '00 08 00 14', // MESSAGE-INTEGRITY attribute header
  'a3 82 95 4e', // }
  '4b e6 7b f1', // }
  '17 84 c9 7c', // }  HMAC-SHA1 fingerprint
  '82 92 c2 75', // }
  'bf e3 ed 41', // }
  '80 28 00 04', // FINGERPRINT attribute header
  'c8 fb 0b 4c', // CRC32 fingerprint
]);

// RFC 5769 section 2.4, Sample Request with Long-Term Authentication.
const SAMPLE_LONG_TERM_REQUEST = hex([
  '00 01 00 60', // Request type and message length
  '21 12 a4 42', // Magic cookie
  '78 ad 34 33', // }
  'c6 ad 72 c0', // }  Transaction ID
  '29 da 41 2e', // }
  '00 06 00 12', // USERNAME attribute header
  'e3 83 9e e3', // }
  '83 88 e3 83', // }
  'aa e3 83 83', // }  Username value (18 bytes) and padding (2 bytes)
  'e3 82 af e3', // }
  '82 b9 00 00', // }
  '00 15 00 1c', // NONCE attribute header
  '66 2f 2f 34', // }
  '39 39 6b 39', // }
  '35 34 64 36', // }
  '4f 4c 33 34', // }  Nonce value
  '6f 4c 39 46', // }
  '53 54 76 79', // }
  '36 34 73 41', // }
  '00 14 00 0b', // REALM attribute header
  '65 78 61 6d', // }
  '70 6c 65 2e', // }  Realm value (11 bytes) and padding (1 byte)
  '6f 72 67 00', // }
  '00 08 00 14', // MESSAGE-INTEGRITY attribute header
  'f6 70 24 65', // }
  '6d d6 4a 3e', // }
  '02 b8 e0 71', // }  HMAC-SHA1 fingerprint
  '2e 85 c9 a2', // }
  '8c a8 96 66', // }
]);

t.test('RFC 5769 2.1 sample request', async (t) => {
  const msg = mustParse(SAMPLE_REQUEST);
  t.equal(msg.method, StunMethod.Binding);
  t.equal(msg.class, StunClass.Request);
  t.equal(msg.length, SAMPLE_REQUEST.length);
  t.same(msg.transactionId, RFC5769_TXID);
  t.equal(msg.software, 'STUN test client');
  t.equal(msg.username, 'evtj:h6vY');
  t.equal(msg.priority, 0x6e0001ff);
  t.equal(msg.iceControlled, 0x932ff9b151263b36n);
  t.equal(msg.iceControlling, undefined);
  t.equal(msg.useCandidate, false);
  t.equal(msg.xorMappedAddress, undefined);
  t.equal(msg.errorCode, undefined);
  t.same(msg.unknownAttributes, []);
  t.ok(msg.hasMessageIntegrity);
  t.ok(msg.hasFingerprint);
  t.ok(verifyMessageIntegrity(msg, shortTermKey(RFC5769_PASSWORD)));
  t.notOk(verifyMessageIntegrity(msg, shortTermKey('VOkJxbRl1RmTxUk/WvJxBu')));
  t.ok(verifyFingerprint(msg));
  t.ok(isStun(SAMPLE_REQUEST));
});

t.test('RFC 5769 2.2 sample IPv4 response', async (t) => {
  const msg = mustParse(SAMPLE_IPV4_RESPONSE);
  t.equal(msg.method, StunMethod.Binding);
  t.equal(msg.class, StunClass.SuccessResponse);
  t.equal(msg.software, 'test vector');
  t.same(msg.xorMappedAddress, { family: 4, address: '192.0.2.1', port: 32853 });
  t.ok(verifyMessageIntegrity(msg, shortTermKey(RFC5769_PASSWORD)));
  t.ok(verifyFingerprint(msg));
});

t.test('RFC 5769 2.3 sample IPv6 response', async (t) => {
  const msg = mustParse(SAMPLE_IPV6_RESPONSE);
  t.equal(msg.class, StunClass.SuccessResponse);
  t.equal(msg.software, 'test vector');
  t.same(msg.xorMappedAddress, { family: 6, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
  t.ok(verifyMessageIntegrity(msg, shortTermKey(RFC5769_PASSWORD)));
  t.ok(verifyFingerprint(msg));
});

t.test('RFC 5769 2.4 long-term credentials request', async (t) => {
  const msg = mustParse(SAMPLE_LONG_TERM_REQUEST);
  t.equal(msg.class, StunClass.Request);
  t.same(msg.transactionId, Buffer.from('78ad3433c6ad72c029da412e', 'hex'));
  // "Matrix" in katakana; the password "The<U+00AD>M<U+00AA>tr<U+2168>" SASLprep's to "TheMatrIX".
  const username = '\u30de\u30c8\u30ea\u30c3\u30af\u30b9';
  t.equal(msg.username, username);
  t.equal(findStunAttribute(msg, StunAttr.Realm)?.toString(), 'example.org');
  t.equal(findStunAttribute(msg, StunAttr.Nonce)?.toString(), 'f//499k954d6OL34oL9FSTvy64sA');
  t.same(msg.unknownAttributes, [], 'REALM and NONCE are understood');
  t.notOk(msg.hasFingerprint);
  t.notOk(verifyFingerprint(msg));
  t.ok(verifyMessageIntegrity(msg, longTermKey(username, 'example.org', 'TheMatrIX')));
  t.notOk(verifyMessageIntegrity(msg, longTermKey(username, 'example.org', 'TheMatrix')));
});

t.test('vectors parse at an offset inside a larger buffer', async (t) => {
  const big = Buffer.alloc(SAMPLE_IPV6_RESPONSE.length + 13, 0xee);
  SAMPLE_IPV6_RESPONSE.copy(big, 7);
  const msg = mustParse(big, 7, SAMPLE_IPV6_RESPONSE.length);
  t.equal(msg.offset, 7);
  t.equal(msg.xorMappedAddress?.address, '2001:db8:1234:5678:11:2233:4455:6677');
  t.ok(verifyMessageIntegrity(msg, shortTermKey(RFC5769_PASSWORD)));
  t.ok(verifyFingerprint(msg));
  t.ok(isStun(big, 7, SAMPLE_IPV6_RESPONSE.length));
  t.notOk(isStun(big, 6, SAMPLE_IPV6_RESPONSE.length));
  // Trailing bytes past the message's own length are not part of it.
  const trailing = mustParse(big, 7);
  t.equal(trailing.length, SAMPLE_IPV6_RESPONSE.length);
  t.ok(verifyFingerprint(trailing));
});

t.test('verification leaves the caller buffer untouched', async (t) => {
  const copy = Buffer.from(SAMPLE_REQUEST);
  const msg = mustParse(copy);
  verifyMessageIntegrity(msg, shortTermKey(RFC5769_PASSWORD));
  verifyFingerprint(msg);
  t.same(copy, SAMPLE_REQUEST);
});

t.test('message type interleaves method and class bits', async (t) => {
  t.equal(stunMessageType(StunMethod.Binding, StunClass.Request), 0x0001);
  t.equal(stunMessageType(StunMethod.Binding, StunClass.Indication), 0x0011);
  t.equal(stunMessageType(StunMethod.Binding, StunClass.SuccessResponse), 0x0101);
  t.equal(stunMessageType(StunMethod.Binding, StunClass.ErrorResponse), 0x0111);
  t.equal(stunMessageType(0xfff, StunClass.ErrorResponse), 0x3fff);
  for (const method of [0x001, 0x003, 0x009, 0x0a5, 0xfff]) {
    for (const cls of [StunClass.Request, StunClass.Indication, StunClass.SuccessResponse, StunClass.ErrorResponse]) {
      const buf = encodeStun({ method, class: cls, transactionId: RFC5769_TXID });
      const msg = mustParse(buf);
      t.equal(msg.method, method);
      t.equal(msg.class, cls);
    }
  }
});

t.test('crc32 matches the standard check value', async (t) => {
  t.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  t.equal(crc32(Buffer.alloc(0)), 0);
});

// A binding request carrying every attribute the writer knows.
const KEY = shortTermKey('pass-word-of-twenty-two');
const FULL_INIT: StunMessageInit = {
  method: StunMethod.Binding,
  class: StunClass.Request,
  transactionId: Buffer.from('000102030405060708090a0b', 'hex'),
  username: 'remoteUfrag:localUfrag\u00e9',
  errorCode: { code: StunErrorCode.RoleConflict, reason: 'Role Conflict' },
  unknownAttributes: [0x0003, 0x7f00, 0x0031],
  xorMappedAddress: { family: 6, address: 'fe80::1:2ff:fe03:405', port: 54321 },
  priority: 0x7e7fffff,
  useCandidate: true,
  iceControlled: 0x0123456789abcdefn,
  iceControlling: 0xfedcba9876543210n,
  software: 'sfud',
  rawAttributes: [{ type: StunAttr.GoogNetworkInfo, value: Buffer.from([0x00, 0x01, 0x03, 0xe7]) }],
  integrityKey: KEY,
  fingerprint: true,
};

t.test('round trip: every attribute', async (t) => {
  const buf = encodeStun(FULL_INIT);
  t.equal(buf.length, stunSize(FULL_INIT));
  t.equal(buf.length % 4, 0);
  const msg = mustParse(buf);
  t.equal(msg.method, StunMethod.Binding);
  t.equal(msg.class, StunClass.Request);
  t.same(msg.transactionId, FULL_INIT.transactionId);
  t.equal(msg.username, FULL_INIT.username);
  t.same(msg.errorCode, { code: 487, reason: 'Role Conflict' });
  t.same(msg.xorMappedAddress, FULL_INIT.xorMappedAddress);
  t.equal(msg.priority, FULL_INIT.priority);
  t.equal(msg.useCandidate, true);
  t.equal(msg.iceControlled, FULL_INIT.iceControlled);
  t.equal(msg.iceControlling, FULL_INIT.iceControlling);
  t.equal(msg.software, 'sfud');
  t.same(findStunAttribute(msg, StunAttr.GoogNetworkInfo), Buffer.from([0x00, 0x01, 0x03, 0xe7]));
  const unknown = findStunAttribute(msg, StunAttr.UnknownAttributes);
  t.same(unknown, Buffer.from([0x00, 0x03, 0x7f, 0x00, 0x00, 0x31]));
  t.ok(verifyMessageIntegrity(msg, KEY));
  t.notOk(verifyMessageIntegrity(msg, shortTermKey('pass-word-of-twenty-tw0')));
  t.ok(verifyFingerprint(msg));

  // Re-encode from the parsed fields: byte-identical.
  const again = encodeStun({
    method: msg.method,
    class: msg.class,
    transactionId: msg.transactionId,
    username: msg.username,
    errorCode: msg.errorCode,
    unknownAttributes: FULL_INIT.unknownAttributes,
    xorMappedAddress: msg.xorMappedAddress,
    priority: msg.priority,
    useCandidate: msg.useCandidate,
    iceControlled: msg.iceControlled,
    iceControlling: msg.iceControlling,
    software: msg.software,
    rawAttributes: [{ type: StunAttr.GoogNetworkInfo, value: findStunAttribute(msg, StunAttr.GoogNetworkInfo) ?? Buffer.alloc(0) }],
    integrityKey: KEY,
    fingerprint: msg.hasFingerprint,
  });
  t.same(again, buf);
});

t.test('round trip: tampering any byte breaks integrity or fingerprint', async (t) => {
  const buf = encodeStun(FULL_INIT);
  const miOffset = mustParse(buf).integrityOffset;
  let failures = 0;
  for (let i = 0; i < buf.length; i++) {
    const bad = Buffer.from(buf);
    bad[i] = (bad[i] as number) ^ 0x01;
    const msg = parseStun(bad);
    // Either the edit makes the message malformed, or a check fails.
    if (msg === null) continue;
    if (!verifyFingerprint(msg)) failures++;
    else t.fail(`fingerprint survived a flip at byte ${i}`);
    if (i < miOffset + 24 && verifyMessageIntegrity(msg, KEY)) t.fail(`integrity survived a flip at byte ${i}`);
  }
  t.ok(failures > 0);
  const bad = Buffer.from(buf);
  bad[30] = (bad[30] as number) ^ 0x80; // inside USERNAME
  const msg = mustParse(bad);
  t.notOk(verifyMessageIntegrity(msg, KEY));
  t.notOk(verifyFingerprint(msg));
});

t.test('writeStun into a reused buffer at an offset', async (t) => {
  const init: StunMessageInit = {
    method: StunMethod.Binding,
    class: StunClass.SuccessResponse,
    transactionId: RFC5769_TXID,
    xorMappedAddress: { family: 4, address: '192.0.2.1', port: 32853 },
    integrityKey: KEY,
    fingerprint: true,
  };
  const pool = Buffer.alloc(1500, 0xaa);
  const n = writeStun(init, pool, 100);
  t.equal(n, stunSize(init));
  t.equal(pool[99], 0xaa);
  t.equal(pool[100 + n], 0xaa);
  t.same(pool.subarray(100, 100 + n), encodeStun(init));
  const msg = mustParse(pool, 100, n);
  t.same(msg.xorMappedAddress, init.xorMappedAddress);
  // The address bytes match RFC 5769 2.2 (same transaction id).
  t.same(findStunAttribute(msg, StunAttr.XorMappedAddress), Buffer.from('0001a147e112a643', 'hex'));
  t.ok(verifyMessageIntegrity(msg, KEY));
  t.ok(verifyFingerprint(msg));
  t.throws(() => writeStun(init, Buffer.alloc(n - 1)), RangeError);
  t.throws(() => writeStun(init, pool, 1500 - n + 1), RangeError);
});

t.test('RFC 5769 2.3 address bytes from our writer', async (t) => {
  const buf = encodeStun({
    method: StunMethod.Binding,
    class: StunClass.SuccessResponse,
    transactionId: RFC5769_TXID,
    xorMappedAddress: { family: 6, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 },
  });
  t.same(
    findStunAttribute(mustParse(buf), StunAttr.XorMappedAddress),
    Buffer.from('0002a1470113a9faa5d3f179bc25f4b5bed2b9d9', 'hex'),
  );
});

t.test('error response with default reason and 420 UNKNOWN-ATTRIBUTES', async (t) => {
  const buf = encodeStun({
    method: StunMethod.Binding,
    class: StunClass.ErrorResponse,
    transactionId: RFC5769_TXID,
    errorCode: { code: StunErrorCode.UnknownAttribute },
    unknownAttributes: [0x0031],
  });
  const msg = mustParse(buf);
  t.same(msg.errorCode, { code: 420, reason: 'Unknown Attribute' });
  for (const code of [StunErrorCode.BadRequest, StunErrorCode.Unauthorized, StunErrorCode.RoleConflict, 699, 300]) {
    const m = mustParse(encodeStun({ method: 1, class: StunClass.ErrorResponse, transactionId: RFC5769_TXID, errorCode: { code, reason: '' } }));
    t.same(m.errorCode, { code, reason: '' });
  }
  t.throws(() => encodeStun({ method: 1, class: StunClass.ErrorResponse, transactionId: RFC5769_TXID, errorCode: { code: 299 } }));
  t.throws(() => encodeStun({ method: 1, class: StunClass.ErrorResponse, transactionId: RFC5769_TXID, errorCode: { code: 700 } }));
});

t.test('unknown comprehension-required attributes are listed, optional ones skipped', async (t) => {
  const buf = encodeStun({
    method: StunMethod.Binding,
    class: StunClass.Request,
    transactionId: RFC5769_TXID,
    username: 'a:b',
    rawAttributes: [
      { type: 0x0031, value: Buffer.from([1, 2, 3]) },
      { type: 0xc057, value: Buffer.from([0, 1, 0, 10]) },
      { type: 0x7fff, value: Buffer.alloc(0) },
      { type: 0x8055, value: Buffer.from('x') },
    ],
    integrityKey: KEY,
  });
  const msg = mustParse(buf);
  t.same(msg.unknownAttributes, [0x0031, 0x7fff]);
  t.equal(msg.username, 'a:b');
  t.ok(verifyMessageIntegrity(msg, KEY));
});

t.test('attributes after MESSAGE-INTEGRITY are ignored', async (t) => {
  const base = encodeStun({ method: 1, class: StunClass.Request, transactionId: RFC5769_TXID, username: 'a:b', integrityKey: KEY });
  // Append PRIORITY and an unknown required attribute after MI.
  const tail = Buffer.from('002400040000000100310000', 'hex');
  const buf = Buffer.concat([base, tail]);
  buf.writeUInt16BE(buf.length - 20, 2);
  const msg = mustParse(buf);
  t.equal(msg.priority, undefined);
  t.same(msg.unknownAttributes, []);
  t.equal(findStunAttribute(msg, StunAttr.Priority), undefined);
  t.ok(verifyMessageIntegrity(msg, KEY), 'MI covers only what precedes it');
});

t.test('IPv6 addresses are formatted the way Node formats socket addresses', async (t) => {
  const cases = [
    '::',
    '::1',
    '::5',
    '1::',
    '::ffff:1.2.3.4',
    '::1.2.3.4',
    '::0.1.0.0',
    '::ffff:0:0',
    '2001:db8::1:0:0:1',
    '2001:0DB8:0000:0000:0000:0000:0000:0001',
    '1:0:1:0:1:0:1:0',
    'fe80::1:2:3:4',
    '64:ff9b::192.0.2.33',
    'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ];
  for (const address of cases) {
    const expected = new SocketAddress({ address, family: 'ipv6' }).address;
    const buf = encodeStun({
      method: 1,
      class: StunClass.SuccessResponse,
      transactionId: RFC5769_TXID,
      xorMappedAddress: { family: 6, address, port: 0 },
    });
    t.equal(mustParse(buf).xorMappedAddress?.address, expected, address);
  }
  const badV6 = ['', ':', ':::', '1:2', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '::g', '1:', ':1', '::1.2.3', '::256.1.1.1', 'fe80::1%eth0', '1.2.3.4'];
  for (const address of badV6) {
    t.throws(
      () => encodeStun({ method: 1, class: 0, transactionId: RFC5769_TXID, xorMappedAddress: { family: 6, address, port: 1 } }),
      RangeError,
      address,
    );
  }
  const badV4 = ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1..2.3', 'a.b.c.d', '1.2.3.4 ', '::1'];
  for (const address of badV4) {
    t.throws(
      () => encodeStun({ method: 1, class: 0, transactionId: RFC5769_TXID, xorMappedAddress: { family: 4, address, port: 1 } }),
      RangeError,
      address,
    );
  }
  t.throws(() => encodeStun({ method: 1, class: 0, transactionId: RFC5769_TXID, xorMappedAddress: { family: 4, address: '1.2.3.4', port: 65536 } }));
  t.throws(() => encodeStun({ method: 1, class: 0, transactionId: Buffer.alloc(11) }), RangeError);
  t.throws(() => encodeStun({ method: 0x1000, class: 0, transactionId: RFC5769_TXID }), RangeError);
});

t.test('malformed input returns null', async (t) => {
  const req = SAMPLE_REQUEST;
  const mutate = (f: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(req);
    f(b);
    return b;
  };
  t.equal(parseStun(Buffer.alloc(0)), null, 'empty');
  t.equal(parseStun(req.subarray(0, 19)), null, 'truncated header');
  t.equal(parseStun(req.subarray(0, req.length - 4)), null, 'truncated body');
  t.equal(parseStun(mutate((b) => (b[0] = 0x40))), null, 'top bits set');
  t.equal(parseStun(mutate((b) => (b[0] = 0x80))), null, 'top bit set');
  t.equal(parseStun(mutate((b) => (b[5] = 0x13))), null, 'bad cookie');
  t.equal(parseStun(mutate((b) => b.writeUInt16BE(0x57, 2))), null, 'length not a multiple of 4');
  t.equal(parseStun(mutate((b) => b.writeUInt16BE(0x5c, 2))), null, 'length past end');
  t.equal(parseStun(mutate((b) => b.writeUInt16BE(0x0100, 22))), null, 'attribute length past end');
  t.equal(parseStun(mutate((b) => b.writeUInt16BE(0x0005, 42))), null, 'PRIORITY of length 5');
  t.equal(parseStun(mutate((b) => b.writeUInt16BE(0x0004, 50))), null, 'ICE-CONTROLLED of length 4');
  t.equal(parseStun(mutate((b) => b.writeUInt16BE(0x0010, 78))), null, 'MESSAGE-INTEGRITY of length 16');
  t.equal(parseStun(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), null, 'not STUN');
  // Bad arguments are input too.
  t.equal(parseStun(req, -1), null);
  t.equal(parseStun(req, 0.5), null);
  t.equal(parseStun(req, 0, req.length + 1), null);
  t.equal(parseStun(req, 4, req.length - 3), null);
  t.equal(parseStun(req, Number.NaN), null);
  t.equal(parseStun(req, 0, Number.NaN), null);
  t.equal(parseStun(req, req.length + 10, 0), null);
  t.notOk(isStun(req, 0, 19));
  t.notOk(isStun(req, -1));
  t.notOk(isStun(Buffer.from([0x04, 0, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));

  const tx = RFC5769_TXID;
  const bare = (attrs: string): Buffer => {
    const body = Buffer.from(attrs.replace(/\s+/g, ''), 'hex');
    const head = Buffer.from('000100002112a442', 'hex');
    head.writeUInt16BE(body.length, 2);
    return Buffer.concat([head, tx, body]);
  };
  t.not(parseStun(bare('00250000')), null, 'USE-CANDIDATE ok');
  t.equal(parseStun(bare('00250004 00000000')), null, 'USE-CANDIDATE with a value');
  t.equal(parseStun(bare('00200008 00030000 00000000')), null, 'XOR-MAPPED-ADDRESS family 3');
  t.equal(parseStun(bare('00200014 00010000 00000000 00000000 00000000 00000000')), null, 'IPv4 family, IPv6 length');
  t.equal(parseStun(bare('00200000')), null, 'empty XOR-MAPPED-ADDRESS');
  t.equal(parseStun(bare('00090004 00000264')), null, 'ERROR-CODE number 100');
  t.equal(parseStun(bare('00090004 00000700')), null, 'ERROR-CODE class 7');
  t.equal(parseStun(bare('00090002 0000 0000')), null, 'ERROR-CODE too short');
  t.equal(parseStun(bare('80280003 00000000')), null, 'FINGERPRINT of length 3');
  t.equal(parseStun(bare('001c000c 00000000 00000000 00000000')), null, 'MI-SHA256 of 12 bytes');
  t.not(parseStun(bare('001c0010 00000000 00000000 00000000 00000000')), null, 'MI-SHA256 of 16 bytes');
  t.not(parseStun(bare('00010003 00000000')), null, 'short value, padding inside the message');
  t.equal(parseStun(bare('00010005 00000000')), null, 'padding would run past the end');
});

t.test('FINGERPRINT must be last', async (t) => {
  const init: StunMessageInit = { method: 1, class: StunClass.Request, transactionId: RFC5769_TXID, username: 'a:b', fingerprint: true };
  const good = encodeStun(init);
  t.ok(verifyFingerprint(mustParse(good)));
  // Anything after FINGERPRINT makes the message malformed.
  const after = Buffer.concat([good, Buffer.from('80220000', 'hex')]);
  after.writeUInt16BE(after.length - 20, 2);
  t.equal(parseStun(after), null);
  // A wrong CRC fails.
  const wrong = Buffer.from(good);
  wrong[wrong.length - 1] = (wrong[wrong.length - 1] as number) ^ 1;
  t.notOk(verifyFingerprint(mustParse(wrong)));
  // No FINGERPRINT, no MESSAGE-INTEGRITY: both checks say false.
  const none = mustParse(encodeStun({ method: 1, class: StunClass.Request, transactionId: RFC5769_TXID }));
  t.notOk(verifyFingerprint(none));
  t.notOk(verifyMessageIntegrity(none, KEY));
  t.equal(none.username, undefined);
  t.equal(none.priority, undefined);
  t.equal(none.iceControlled, undefined);
  t.equal(none.software, undefined);
});

t.test('duplicate attributes: the first one wins', async (t) => {
  const buf = encodeStun({
    method: 1,
    class: StunClass.Request,
    transactionId: RFC5769_TXID,
    username: 'first',
    rawAttributes: [
      { type: StunAttr.Username, value: Buffer.from('second') },
      { type: StunAttr.Priority, value: Buffer.from([0, 0, 0, 9]) },
    ],
    priority: 7,
  });
  const msg = mustParse(buf);
  t.equal(msg.username, 'first');
  t.equal(msg.priority, 7);
});
