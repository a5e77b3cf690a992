// KeyframeRequester throttle and FIR seq nr; SenderReportGenerator RTP timestamp extrapolation.
import t from 'tap';
import { KeyframeRequester, SenderReportGenerator } from '../../src/rtp/feedback/index.js';
import { NTP_UNIX_OFFSET_MS, encodeRtcp, msToNtpFrac, msToNtpSec, parseRtcp } from '../../src/rtp/rtcp/index.js';
import type { SenderReportPacket } from '../../src/rtp/rtcp/index.js';
import { ManualClock } from '../../src/util/clock.js';

t.test('PLI at most once per 500 ms', async (t) => {
  const clock = new ManualClock();
  clock.advance(10_000);
  const k = new KeyframeRequester();
  t.equal(k.request(clock.now()), 'pli', 'first request goes out at once');
  clock.advance(100);
  t.equal(k.request(clock.now()), null);
  clock.advance(399);
  t.equal(k.request(clock.now()), null, '499 ms later');
  clock.advance(1);
  t.equal(k.request(clock.now()), 'pli', '500 ms later');
  clock.advance(300);
  t.equal(k.request(clock.now()), null, 'the window restarts at the last request, not at the throttled ones');
  clock.advance(200);
  t.equal(k.request(clock.now()), 'pli');
  t.equal(k.pliSent, 3);
  t.equal(k.throttled, 3);
  t.equal(k.firSent, 0);
  t.equal(k.firSeqNr, -1);
});

t.test('FIR only without nack pli; its seq nr increments per request and wraps at 256', async (t) => {
  t.equal(new KeyframeRequester({ pli: true, fir: true }).request(0), 'pli', 'PLI preferred when both');
  const k = new KeyframeRequester({ pli: false, fir: true, minIntervalMs: 200 });
  t.equal(k.request(0), 'fir');
  t.equal(k.firSeqNr, 0);
  t.equal(k.request(100), null);
  t.equal(k.firSeqNr, 0, 'a throttled request does not advance it');
  t.equal(k.request(200), 'fir');
  t.equal(k.firSeqNr, 1);
  for (let i = 2; i <= 256; i++) k.request(i * 200);
  t.equal(k.firSeqNr, 0, 'mod 256');
  t.equal(k.firSent, 257);
  const none = new KeyframeRequester({ pli: false, fir: false });
  t.equal(none.request(0), null);
  t.equal(none.unsupported, 1);
});

function sr(): SenderReportPacket {
  return { type: 'sr', ssrc: 0, ntpSec: 0, ntpFrac: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0, reports: [] };
}

t.test('SR RTP timestamp extrapolates with the stream clock: 90 kHz and 48 kHz', async (t) => {
  for (const [rate, perSec] of [
    [90000, 90000],
    [48000, 48000],
  ] as const) {
    const clock = new ManualClock();
    clock.advance(5000);
    const g = new SenderReportGenerator(0x1234, rate);
    const out = sr();
    t.equal(g.write(clock.now(), 0, out), false, 'no SR before the first packet');
    g.onPacketSent(1000, 100, clock.now());
    clock.advance(1000);
    g.write(clock.now(), 0, out);
    t.equal(out.rtpTimestamp, 1000 + perSec, `${rate}: one second later`);
    clock.advance(20.5);
    g.write(clock.now(), 0, out);
    t.equal(out.rtpTimestamp, 1000 + perSec + Math.round((20.5 * rate) / 1000), `${rate}: 20.5 ms more`);
  }
});

t.test('SR anchor: newer timestamps move it, older or equal ones do not; wrap is modular', async (t) => {
  const g = new SenderReportGenerator(1, 90000);
  const out = sr();
  g.onPacketSent(0xffffff00, 1000, 0);
  g.onPacketSent(0xffffff00, 1000, 5); // second packet of the same frame, sent 5 ms later
  g.write(10, 0, out);
  t.equal(out.rtpTimestamp, (0xffffff00 + 900) >>> 0, 'anchored at the first send of the frame, wrapped');
  g.onPacketSent(0x00000100, 1000, 20); // newer across the wrap
  g.onPacketSent(0xfffff000, 1000, 30); // a retransmission of an older frame
  g.write(40, 0, out);
  t.equal(out.rtpTimestamp, 0x100 + 1800);
  t.equal(out.packetCount, 4, 'every packet counts');
  t.equal(out.octetCount, 4000, 'payload octets as given');
});

t.test('SR NTP time, counters, and the wire', async (t) => {
  const g = new SenderReportGenerator(0xfeedface, 48000);
  for (let i = 0; i < 50; i++) g.onPacketSent(i * 960, 80, i * 20);
  const wall = Date.UTC(2024, 0, 2, 3, 4, 5, 678) + NTP_UNIX_OFFSET_MS;
  const out = sr();
  t.equal(g.write(1000, wall, out), true);
  t.equal(out.ssrc, 0xfeedface);
  t.equal(out.ntpSec, msToNtpSec(wall));
  t.equal(out.ntpFrac, msToNtpFrac(wall));
  t.equal(out.rtpTimestamp, 49 * 960 + 960, 'last packet at 980 ms, 20 ms later');
  t.equal(out.packetCount, 50);
  t.equal(out.octetCount, 4000);
  t.same(parseRtcp(encodeRtcp([out])), [out]);
  const big = new SenderReportGenerator(1, 90000);
  big.onPacketSent(0, 2 ** 32 - 10, 0);
  big.onPacketSent(3000, 20, 33);
  t.equal(big.octetCount, 10, 'octet count wraps mod 2^32');
});

t.test('KeyframeRequester: a throttled request is owed and handed out by due() once the window passes', async (t) => {
  const k = new KeyframeRequester({ minIntervalMs: 500 });
  t.equal(k.request(1000), 'pli');
  t.equal(k.pending, false);
  t.equal(k.request(1100), null, 'inside the window');
  t.equal(k.pending, true, 'but owed');
  t.equal(k.due(1400), null, 'still inside the window');
  t.equal(k.due(1500), 'pli', 'sent as soon as the window has passed');
  t.equal(k.pending, false);
  t.equal(k.due(2500), null, 'nothing owed, nothing sent');
  t.equal(k.pliSent, 2);
  const none = new KeyframeRequester({ pli: false, fir: false });
  t.equal(none.request(0), null);
  t.equal(none.pending, false, 'an unsupported request is never owed');
});
