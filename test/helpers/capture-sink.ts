// An RtpSink that keeps copies of what a consumer would have encrypted and
// sent, for router tests without sockets.
import type { RtpSink } from '../../src/router/consumer.js';

export class CaptureSink implements RtpSink {
  readonly rtpTrailerRoom = 16;
  readonly packets: Buffer[] = [];
  sendRtpOwned(buf: Buffer, length: number): boolean {
    this.packets.push(Buffer.from(buf.subarray(0, length)));
    return true;
  }
}
