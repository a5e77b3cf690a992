/**
 * STUN codec micro-benchmarks, with werift's STUN code as the baseline in the
 * same process:
 *   1. ingress: parse a Chrome-style ICE binding request and check
 *      MESSAGE-INTEGRITY and FINGERPRINT (what the ICE agent does per check);
 *   2. egress: build the binding success response (XOR-MAPPED-ADDRESS,
 *      MESSAGE-INTEGRITY, FINGERPRINT); sfud writes into one reused buffer.
 */
import { Message, classes, methods, parseMessage } from 'werift';
import {
  StunAttr,
  StunClass,
  StunMethod,
  encodeStun,
  parseStun,
  shortTermKey,
  verifyFingerprint,
  verifyMessageIntegrity,
  writeStun,
  type StunMessageInit,
} from '../../src/ice/stun.js';
import { bench, consume, report } from './harness.js';

// Chrome's ICE password is 24 characters; ufrags are 4.
const PASSWORD = 'hJ8rL0pQz3Xv5Yc7Wb1Nk2Ms';
const KEY = shortTermKey(PASSWORD);
const TXID = Buffer.from('5a4e6b2f9c1d3e7a8b0c4d2e', 'hex');

/** A binding request shaped like Chrome's: same attributes, same order. */
function chromeBindingRequest(): Buffer {
  const init: StunMessageInit = {
    method: StunMethod.Binding,
    class: StunClass.Request,
    transactionId: TXID,
    username: 'Dk7t:o3Yd',
    useCandidate: true,
    iceControlling: 0x1c3e5a7b9d0f2468n,
    priority: 0x6e7f1eff,
    // GOOG-NETWORK-INFO: network id 1, network cost 10.
    rawAttributes: [{ type: StunAttr.GoogNetworkInfo, value: Buffer.from([0x00, 0x01, 0x00, 0x0a]) }],
    integrityKey: KEY,
    fingerprint: true,
  };
  return encodeStun(init);
}

// HMAC-SHA1 dominates both directions (several us), so fewer ops keep the run short.
const CRYPTO_OPS = { ops: 20_000, warmup: 5_000 };

export function run(): void {
  const request = chromeBindingRequest();

  // Sanity: both implementations accept the request before we time them.
  const ours = parseStun(request);
  if (ours === null || !verifyMessageIntegrity(ours, KEY) || !verifyFingerprint(ours)) {
    throw new Error('sfud rejected the benchmark request');
  }
  if (parseMessage(request, KEY) === undefined) throw new Error('werift rejected the benchmark request');

  report(`STUN ingress: parse + MESSAGE-INTEGRITY + FINGERPRINT (${request.length}-byte Chrome binding request)`, [
    bench('werift parseMessage(buf, key)', () => parseMessage(request, KEY), CRYPTO_OPS),
    bench('sfud parseStun + verifyMI + verifyFingerprint', () => {
      const msg = parseStun(request);
      return msg !== null && verifyMessageIntegrity(msg, KEY) && verifyFingerprint(msg);
    }, CRYPTO_OPS),
    bench('sfud parseStun + read fields (no crypto)', () => {
      const msg = parseStun(request);
      if (msg === null) return null;
      consume(msg.username);
      return msg.priority! + (msg.useCandidate ? 1 : 0) + (msg.iceControlling === undefined ? 0 : 1);
    }),
    bench('sfud verifyFingerprint only', () => verifyFingerprint(ours)),
  ]);

  const response: StunMessageInit = {
    method: StunMethod.Binding,
    class: StunClass.SuccessResponse,
    transactionId: TXID,
    xorMappedAddress: { family: 4, address: '192.0.2.1', port: 32853 },
    integrityKey: KEY,
    fingerprint: true,
  };
  const pool = Buffer.alloc(1500);
  report('STUN egress: binding success response with XOR-MAPPED-ADDRESS + MI + FP', [
    bench('werift new Message()...addFingerprint().bytes', () =>
      new Message(methods.BINDING, classes.RESPONSE, TXID)
        .setAttribute('XOR-MAPPED-ADDRESS', ['192.0.2.1', 32853])
        .addMessageIntegrity(KEY)
        .addFingerprint().bytes,
      CRYPTO_OPS,
    ),
    bench('sfud writeStun into a reused buffer', () => writeStun(response, pool, 0), CRYPTO_OPS),
  ]);
}
