// werift peers for the interop tests: `loopbackPc()`, an RTCPeerConnection
// that stays on 127.0.0.1, and `WeriftIonClient`, a werift client speaking
// ion-sfu JSON-RPC (helpers/ion-rpc.ts) the way ion-sdk-js does: publisher PC
// (target 0) + subscriber PC (target 1), sending synthetic (but decodable) VP8
// on demand.
import {
  MediaStream,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  type MediaStreamTrack,
  type RTCDataChannel,
  type RTCIceCandidate,
  type RTCRtpTransceiver,
  type RTCPeerConnectionConfig,
  useTransportWideCC,
} from 'werift';
import { IonRpc, type Json } from './ion-rpc.js';

export function loopbackPc(more: Partial<RTCPeerConnectionConfig> = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    ...more,
    // Loopback only: no STUN servers, no other interfaces.
    iceServers: [],
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceFilterCandidatePair: (pair) => pair.localCandidate.host === '127.0.0.1',
    // With max-compat werift gathers a transport per m-line and never closes
    // the ones BUNDLE makes redundant, which keeps the process alive.
    bundlePolicy: 'max-bundle',
  });
}

export interface WeriftIonOptions {
  /** Negotiate transport-wide congestion control on the publisher PC (video). */
  transportCc?: boolean;
}

export class WeriftIonClient {
  readonly pub: RTCPeerConnection;
  readonly sub: RTCPeerConnection;
  /** RTP packets received on the subscriber PC, per remote track. */
  readonly tracks: { track: MediaStreamTrack; packets: number }[] = [];
  readonly subChannels: RTCDataChannel[] = [];
  /** Every subscriber offer sfud sent, in order. */
  readonly subOffers: string[] = [];
  private negotiation: Promise<void> = Promise.resolve();
  readonly failures: string[] = [];
  private video: RTCRtpTransceiver | undefined;
  private timer: NodeJS.Timeout | undefined;
  sent = 0;

  private constructor(
    readonly rpc: IonRpc,
    opts: WeriftIonOptions,
  ) {
    // Transport-wide cc on the publisher lets sfud stamp its own sequence numbers toward subscribers
    // that ask for TWCC (the slot is the publisher's): without it they get REMB-only estimation.
    this.pub = loopbackPc(opts.transportCc ? { headerExtensions: { audio: [], video: [useTransportWideCC()] } } : {});
    // Publisher first, as before the option existed.
    this.sub = loopbackPc();
    rpc.onNotification = (method, params) => {
      if (method === 'offer') this.negotiation = this.negotiation.then(() => this.onSubscriberOffer(params));
      else if (method === 'trickle') this.onRemoteTrickle(params);
    };
    this.sub.onTrack.subscribe((track) => {
      const entry = { track, packets: 0 };
      this.tracks.push(entry);
      track.onReceiveRtp.subscribe(() => entry.packets++);
    });
    this.sub.onDataChannel.subscribe((ch) => this.subChannels.push(ch));
    this.pub.onIceCandidate.subscribe((c) => this.trickle(0, c));
    this.sub.onIceCandidate.subscribe((c) => this.trickle(1, c));
  }

  static async connect(url: string, opts: WeriftIonOptions = {}): Promise<WeriftIonClient> {
    return new WeriftIonClient(await IonRpc.connect(url), opts);
  }

  /** Video RTP packets received on the subscriber PC, all tracks. */
  get videoPackets(): number {
    return this.tracks.reduce((n, x) => n + (x.track.kind === 'video' ? x.packets : 0), 0);
  }

  private trickle(target: 0 | 1, c: RTCIceCandidate | undefined): void {
    if (!c?.candidate) return;
    const j = c.toJSON();
    this.rpc.notify('trickle', {
      target,
      candidate: { candidate: j.candidate, sdpMid: j.sdpMid ?? null, sdpMLineIndex: j.sdpMLineIndex ?? null, usernameFragment: j.usernameFragment ?? null },
    });
  }

  private onRemoteTrickle(params: Json): void {
    const pc = params.target === 1 ? this.sub : this.pub;
    pc.addIceCandidate(params.candidate as never).catch((e: Error) => this.failures.push(`addIceCandidate: ${e.message}`));
  }

  private async onSubscriberOffer(params: Json): Promise<void> {
    try {
      const sdp = String(params.sdp);
      this.subOffers.push(sdp);
      await this.sub.setRemoteDescription({ type: 'offer', sdp });
      const answer = await this.sub.createAnswer();
      await this.sub.setLocalDescription(answer);
      // ion-sdk-js sends `answer` as a notification (no id).
      this.rpc.notify('answer', { desc: { type: 'answer', sdp: this.sub.localDescription!.sdp } });
    } catch (e) {
      this.failures.push(`subscriber offer: ${(e as Error).message}`);
    }
  }

  /** join: the publisher offer carries only the `ion-sfu` data channel, as ion-sdk-js's does. */
  async join(sid: string, uid: string): Promise<void> {
    this.pub.createDataChannel('ion-sfu');
    await this.pub.setLocalDescription(await this.pub.createOffer());
    const answer = (await this.rpc.call('join', { sid, uid, offer: { type: 'offer', sdp: this.pub.localDescription!.sdp } })) as Json;
    if (answer.type !== 'answer' || typeof answer.sdp !== 'string') throw new Error(`bad join result ${JSON.stringify(answer)}`);
    await this.pub.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /** Adds a sendonly VP8 transceiver in stream `streamId` and renegotiates with `offer`. */
  async publishVideo(streamId: string): Promise<void> {
    this.video = this.pub.addTransceiver('video', { direction: 'sendonly', streams: [new MediaStream({ id: streamId })] });
    await this.pub.setLocalDescription(await this.pub.createOffer());
    const answer = (await this.rpc.call('offer', { desc: { type: 'offer', sdp: this.pub.localDescription!.sdp } })) as Json;
    await this.pub.setRemoteDescription({ type: 'answer', sdp: String(answer.sdp) });
  }

  /** Synthetic VP8 at 50 packets/s, one packet per frame, a keyframe every 25 (late joiners start within 0.5 s). */
  startSending(): void {
    const sender = this.video!.sender;
    let seq = 100;
    let ts = 9000;
    this.timer = setInterval(() => {
      const n = this.sent++;
      const header = new RtpHeader({ sequenceNumber: seq++ & 0xffff, timestamp: (ts += 1800) >>> 0, marker: true });
      void sender.sendRtp(new RtpPacket(header, vp8Payload(n % 25 === 0)));
    }, 20);
  }

  close(): void {
    clearInterval(this.timer);
    this.rpc.close();
    void this.pub.close();
    void this.sub.close();
  }
}

/** The picture size of the synthetic VP8 stream. */
const SYNTHETIC_VP8 = { width: 64, height: 48 };
/**
 * Bytes of zeros after the frame header: the first partition (header and modes) and the token
 * partition. 64x48 needs about 16 and 24 (libvpx decodes nothing from 8 and 8); 4x that, to spare.
 */
const VP8_FIRST_PARTITION = 64;
const VP8_TOKENS = 96;

/**
 * A VP8 payload descriptor (S=1, PID 0) and a frame a real decoder accepts
 * (RFC 6386): the frame tag and, for a key frame, the start code and size,
 * then zeros. A boolean decoder reading zeros returns 0 for every flag,
 * field, mode and token whatever its probability (RFC 6386 section 7), so
 * the header takes every default (no segmentation, loop filter or
 * probability updates, quantizer 0), every macroblock is intra-coded
 * (B_PRED of B_DC_PRED in a key frame; DC_PRED in an inter frame, whose
 * prob_intra is 0) and every block ends at once: a flat grey picture that
 * libvpx decodes, key and inter frames alike.
 */
function vp8Payload(key: boolean): Buffer {
  const headerSize = key ? 10 : 3;
  const frame = Buffer.alloc(headerSize + VP8_FIRST_PARTITION + VP8_TOKENS);
  // Frame tag: P (0 = key frame), version 0, show_frame 1, first partition size (19 bits).
  const tag = (key ? 0 : 1) | 0x10 | (VP8_FIRST_PARTITION << 5);
  frame.writeUIntLE(tag, 0, 3);
  if (key) {
    Buffer.from([0x9d, 0x01, 0x2a]).copy(frame, 3);
    frame.writeUInt16LE(SYNTHETIC_VP8.width, 6);
    frame.writeUInt16LE(SYNTHETIC_VP8.height, 8);
  }
  return Buffer.concat([Buffer.from([0x10]), frame]);
}
