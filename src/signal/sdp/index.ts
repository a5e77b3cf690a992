/**
 * SDP negotiation for sfud's two connections per participant (as ion-sfu):
 * the publisher connection, where the client offers and sfud answers
 * (`parseSessionDescription` + `createPublisherAnswer`), and the subscriber
 * connection, where sfud offers (`createSubscriberOffer` +
 * `parseSubscriberAnswer`). Grammar is sdp-transform's; semantics are here.
 */
export * from './capabilities.js';
export type * from './types.js';
export { parseSessionDescription, MAX_SDP_BYTES, SDP_ERROR } from './parse.js';
export {
  createPublisherAnswer,
  remoteTransportParameters,
  SFU_SCTP_PORT,
  SFU_MAX_MESSAGE_SIZE,
  type PublisherAnswer,
  type PublisherAnswerLocal,
  type NegotiatedSection,
  type NegotiatedCodec,
  type NegotiatedFeedback,
  type RemoteTransportParameters,
} from './answer.js';
export {
  createSubscriberOffer,
  parseSubscriberAnswer,
  type SubscriberOfferInput,
  type SubscriberSection,
  type SubscriberMediaSection,
  type SubscriberDataSection,
  type SubscriberCodec,
  type SubscriberAnswer,
  type SubscriberAnswerSection,
} from './offer.js';
export type { LocalTransportDescription } from './write.js';
