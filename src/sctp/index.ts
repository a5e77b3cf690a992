/**
 * WebRTC data channels (RFC 8831) over SCTP over DTLS: the DCEP codec (pure),
 * the `DataChannel` object and the `DataChannelEndpoint` that runs one SCTP
 * association per DTLS transport. See each module's header.
 */
export * from './dcep.js';
export * from './channel.js';
export * from './association.js';
