// The subscriber-offer input shared by test/unit/sdp-offer.test.ts and
// test/integration/sdp-chromium.test.ts: a data channel, audio, video with
// VP8/VP9/H264 + RTX, and a kept inactive video slot. The fixture
// test/fixtures/sdp/chromium-subscriber-answer.sdp is Chromium's answer to
// createSubscriberOffer(subscriberInput(1)), so keep this input as it is.
import { ROUTER_CAPABILITIES, type CodecCapability, type SubscriberOfferInput } from '../../src/signal/sdp/index.js';
import { EXT_URI } from '../../src/rtp/extensions.js';

/** The router's capability for `mime` (and, if given, a format parameter value such as a profile). */
export const cap = (mime: string, param?: string): CodecCapability =>
  ROUTER_CAPABILITIES.codecs.find((c) => c.mimeType === mime && (param === undefined || Object.values(c.parameters).includes(param)))!;

/** Version `version` of the subscriber offer input. */
export function subscriberInput(version: number): SubscriberOfferInput {
  return {
    sessionId: '123456789',
    sessionVersion: version,
    ice: { usernameFragment: 'sfudSubUfrag', password: 'sfudSubPasswordSfudSubPassword' },
    candidates: [{ foundation: 'udp4', priority: 2130706431, address: '127.0.0.1', port: 5000, protocol: 'udp', type: 'host' }],
    fingerprint: {
      algorithm: 'sha-256',
      value: '7D:0C:2B:9A:95:3A:01:51:B4:2E:4D:2A:5A:4E:57:8C:E3:52:5E:59:A7:13:8C:DF:43:58:D0:29:1E:F1:2B:2D',
    },
    sections: [
      { kind: 'application', mid: '0' },
      {
        kind: 'audio',
        mid: '1',
        codecs: [{ payloadType: 111, capability: cap('audio/opus') }],
        extensions: { 1: EXT_URI.audioLevel, 3: EXT_URI.transportWideCc, 4: EXT_URI.mid },
        ssrc: 1001,
        cname: 'stream-a',
        streamId: 'stream-a',
        trackId: 'audio-a',
        direction: 'sendonly',
      },
      {
        kind: 'video',
        mid: '2',
        codecs: [
          { payloadType: 96, capability: cap('video/VP8'), rtxPayloadType: 97 },
          { payloadType: 98, capability: cap('video/VP9', '0'), rtxPayloadType: 99 },
          { payloadType: 102, capability: cap('video/H264', '42e01f'), rtxPayloadType: 103 },
        ],
        extensions: { 2: EXT_URI.absSendTime, 3: EXT_URI.transportWideCc, 4: EXT_URI.mid },
        ssrc: 2001,
        rtxSsrc: 2002,
        cname: 'stream-a',
        streamId: 'stream-a',
        trackId: 'video-a',
        direction: 'sendonly',
      },
      {
        kind: 'video',
        mid: '3',
        codecs: [{ payloadType: 96, capability: cap('video/VP8') }],
        extensions: {},
        ssrc: 3001,
        cname: 'gone',
        streamId: 'gone',
        trackId: 'gone-v',
        direction: 'inactive',
      },
    ],
  };
}
