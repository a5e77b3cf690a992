/**
 * The answering half of ICE connectivity checks for the load generator, pure:
 * given one datagram that looks like STUN, decide whether it is a binding
 * request meant for us and build the success response (RFC 8445 7.3, RFC 8489
 * 6.3). sfud is ICE-lite and never checks us, but full agents (Janus's libnice,
 * werift) only use a candidate pair after their own check on it succeeded, so
 * a client that does not answer never gets media from them.
 *
 * The response carries XOR-MAPPED-ADDRESS (where the request came from),
 * MESSAGE-INTEGRITY keyed with our own password (the request's USERNAME is
 * "ourUfrag:theirUfrag") and FINGERPRINT.
 */
import { encodeStun, parseStun, StunClass, StunMethod, verifyFingerprint, verifyMessageIntegrity } from '../../src/ice/stun.js';

export interface LocalIceCredentials {
  ufrag: string;
  /** shortTermKey(our ice-pwd). */
  key: Buffer;
}

export interface BindingAnswer {
  response: Buffer;
  /** USE-CANDIDATE was present: the controlling side nominates this pair. */
  useCandidate: boolean;
  /** The sender says it is the controlling agent (ICE-CONTROLLING present). */
  remoteControlling: boolean;
}

export type BindingDrop = 'not-stun' | 'not-binding-request' | 'wrong-username' | 'bad-integrity' | 'bad-fingerprint';

/**
 * Answers a binding request addressed to `local`, or says why it was dropped.
 * Never throws on malformed input.
 */
export function answerBindingRequest(
  datagram: Buffer,
  from: { address: string; port: number },
  local: LocalIceCredentials,
): BindingAnswer | { drop: BindingDrop } {
  const msg = parseStun(datagram);
  if (!msg) return { drop: 'not-stun' };
  if (msg.method !== StunMethod.Binding || msg.class !== StunClass.Request) return { drop: 'not-binding-request' };
  const user = msg.username;
  if (user === undefined || !user.startsWith(`${local.ufrag}:`)) return { drop: 'wrong-username' };
  if (!verifyMessageIntegrity(msg, local.key)) return { drop: 'bad-integrity' };
  if (msg.hasFingerprint && !verifyFingerprint(msg)) return { drop: 'bad-fingerprint' };
  const response = encodeStun({
    method: StunMethod.Binding,
    class: StunClass.SuccessResponse,
    transactionId: Buffer.from(msg.transactionId),
    xorMappedAddress: { family: from.address.includes(':') ? 6 : 4, address: from.address, port: from.port },
    integrityKey: local.key,
    fingerprint: true,
  });
  return { response, useCandidate: msg.useCandidate, remoteControlling: msg.iceControlling !== undefined };
}
