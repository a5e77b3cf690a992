// Prometheus during a real call: a libwebrtc publisher (audio + video) and a
// libwebrtc viewer talk ion-sfu JSON-RPC to sfud; /metrics is scraped during
// the call and after both leave. Every family the operations issue asks for
// must move: packets and bytes per kind both ways, RTCP feedback both ways,
// JSON-RPC requests by method, WebSocket connections, ICE/DTLS states, the
// loss/jitter/RTT histograms in both directions, the event loop.
import t from 'tap';
import wrtc from '@roamhq/wrtc';
import { Sfu } from '../../src/sfu.js';
import { IonRpc } from '../helpers/ion-rpc.js';
import { isLoopback, waitFor } from './echo.js';
import { scrape } from '../helpers/metrics.js';

// NOTE: see test/interop/wrtc.test.ts (wrtc segfaults on a natural exit).
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

const { RTCPeerConnection, nonstandard } = wrtc;
type SessionDescription = { type: string; sdp: string };


t.test('libwebrtc publisher and viewer: the counters and histograms move', async (t) => {
  const sfu = await Sfu.create({ config: { listen: { host: '127.0.0.1', port: 0 }, udpPort: 0 }, acceptRemote: isLoopback });
  t.teardown(() => sfu.close());
  const url = `${sfu.httpUrl.replace('http', 'ws')}/ws`;
  const before = await scrape(sfu.metricsUrl);

  // Publisher: a moving picture at 30 fps and a tone.
  const video = new nonstandard.RTCVideoSource();
  const audio = new nonstandard.RTCAudioSource();
  const width = 320;
  const height = 240;
  const frame = new Uint8ClampedArray((width * height * 3) / 2);
  const samples = new Int16Array(480);
  let n = 0;
  let phase = 0;
  const vt = setInterval(() => {
    n++;
    for (let i = 0; i < width * height; i += 3) frame[i] = (i * 7 + n * 11) & 0xff;
    video.onFrame({ width, height, data: frame });
  }, 33);
  const at = setInterval(() => {
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((phase++ * 2 * Math.PI * 440) / 48000));
    audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  }, 10);
  const videoTrack = video.createTrack();
  const audioTrack = audio.createTrack();
  const pubPc = new RTCPeerConnection();
  const pubRpc = await IonRpc.connect(url);
  pubPc.createDataChannel('ion-sfu');
  const stream = new wrtc.MediaStream([videoTrack, audioTrack]);
  pubPc.addTrack(videoTrack, stream);
  pubPc.addTrack(audioTrack, stream);
  await pubPc.setLocalDescription(await pubPc.createOffer());
  const pubAnswer = (await pubRpc.call('join', { sid: 'metrics', uid: 'pub', offer: { type: 'offer', sdp: pubPc.localDescription.sdp } })) as SessionDescription;
  await pubPc.setRemoteDescription(pubAnswer);

  // Viewer: publishes nothing, decodes what it gets.
  const viewPub = new RTCPeerConnection();
  const viewSub = new RTCPeerConnection();
  const viewRpc = await IonRpc.connect(url);
  let frames = 0;
  let sink: { stop(): void } | undefined;
  viewSub.ontrack = (e: { track: { kind: string } }) => {
    if (e.track.kind !== 'video') return;
    const s = new nonstandard.RTCVideoSink(e.track);
    s.onframe = () => frames++;
    sink = s;
  };
  viewRpc.onNotification = (method, params) => {
    if (method !== 'offer' || !params) return;
    void (async () => {
      await viewSub.setRemoteDescription({ type: 'offer', sdp: (params as { sdp: string }).sdp });
      await viewSub.setLocalDescription(await viewSub.createAnswer());
      viewRpc.notify('answer', { desc: { type: 'answer', sdp: viewSub.localDescription.sdp } });
    })();
  };
  viewPub.createDataChannel('ion-sfu');
  await viewPub.setLocalDescription(await viewPub.createOffer());
  const viewAnswer = (await viewRpc.call('join', { sid: 'metrics', uid: 'viewer', offer: { type: 'offer', sdp: viewPub.localDescription.sdp } })) as SessionDescription;
  await viewPub.setRemoteDescription(viewAnswer);

  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    clearInterval(vt);
    clearInterval(at);
    sink?.stop();
    for (const pc of [pubPc, viewPub, viewSub]) pc.close();
    videoTrack.stop();
    audioTrack.stop();
    pubRpc.close();
    viewRpc.close();
  };
  t.teardown(cleanup);

  await waitFor('the viewer decodes video', () => frames >= 30, 30_000);
  const m1 = await scrape(sfu.metricsUrl);
  // Receiver reports come once a second each way; give both sides a few.
  await waitFor('report blocks both ways', () => {
    const room = sfu.rooms.get('metrics');
    const viewer = room?.getMember('viewer')?.rtcpStats;
    const pub = room?.getMember('pub')?.rtcpStats;
    return (viewer?.reportsReceived ?? 0) >= 3 && (pub?.receiverReports ?? 0) >= 3;
  });
  await new Promise((r) => setTimeout(r, 1000));
  const m2 = await scrape(sfu.metricsUrl);
  const grew = (series: string) => t.ok(m2.value(series) > m1.value(series), `${series} moves (${m1.value(series)} -> ${m2.value(series)})`);

  // Objects.
  t.equal(m2.value('sfud_rooms'), 1);
  t.equal(m2.value('sfud_peers'), 2);
  t.equal(m2.value('sfud_transports'), 4);
  t.equal(m2.value('sfud_producers{kind="video"}'), 1);
  t.equal(m2.value('sfud_producers{kind="audio"}'), 1);
  t.equal(m2.value('sfud_consumers{kind="video"}'), 1);
  t.equal(m2.value('sfud_consumers{kind="audio"}'), 1);
  t.equal(m2.value('sfud_consumer_layers{layer="0"}'), 1, 'the one video track carries its only layer');
  t.equal(m2.value('sfud_downlink_subscribers{state="estimated"}'), 1, 'the viewer\'s feedback gives an estimate');
  t.ok(m2.value('sfud_downlink_bps{what="estimate"}') > 0);
  t.ok(m2.value('sfud_downlink_bps{what="allocated"}') > 0);
  t.ok(Number.isFinite(m2.value('sfud_pacer_queued_packets')), 'the pacer gauge is there');
  t.equal(m2.value('sfud_ws_connections'), 2);

  // Traffic per kind, both directions.
  for (const kind of ['audio', 'video', 'rtcp']) {
    grew(`sfud_packets_total{direction="in",kind="${kind}"}`);
    grew(`sfud_packets_total{direction="out",kind="${kind}"}`);
    grew(`sfud_bytes_total{direction="in",kind="${kind}"}`);
    grew(`sfud_bytes_total{direction="out",kind="${kind}"}`);
  }
  grew('sfud_udp_datagrams_total{direction="in"}');
  grew('sfud_udp_bytes_total{direction="out"}');
  t.ok(m2.value('sfud_keyframes_received_total') >= 1, 'keyframes from the publisher');

  // RTCP both ways.
  grew('sfud_rtcp_feedback_total{direction="out",type="sr"}');
  grew('sfud_rtcp_feedback_total{direction="out",type="rr"}');
  grew('sfud_rtcp_feedback_total{direction="in",type="rr"}');
  grew('sfud_rtcp_feedback_total{direction="in",type="sr"}');
  t.ok(m2.value('sfud_rtcp_feedback_total{direction="out",type="twcc"}') + m2.value('sfud_rtcp_feedback_total{direction="out",type="remb"}') > 0, 'congestion feedback');
  t.ok(m2.value('sfud_rtcp_feedback_total{direction="out",type="pli"}') >= 1, 'a PLI asked the publisher for the viewer keyframe');

  // Link quality: one sample per report block.
  for (const kind of ['audio', 'video']) {
    t.ok(m2.value(`sfud_fraction_lost_count{direction="in",kind="${kind}"}`) >= 3, `ingress loss samples (${kind})`);
    t.ok(m2.value(`sfud_jitter_seconds_count{direction="in",kind="${kind}"}`) >= 3, `ingress jitter samples (${kind})`);
  }
  t.ok(m2.value('sfud_fraction_lost_count{direction="out",kind="video"}') >= 1, 'egress loss from the viewer RRs');
  t.ok(m2.value('sfud_jitter_seconds_count{direction="out",kind="video"}') >= 1, 'egress jitter');
  const rtts = m2.value('sfud_rtt_seconds_count{direction="out",kind="video"}') + m2.value('sfud_rtt_seconds_count{direction="out",kind="audio"}');
  t.ok(rtts >= 1, 'RTT from LSR/DLSR of the viewer RRs');
  const rttSum = m2.value('sfud_rtt_seconds_sum{direction="out",kind="video"}') + m2.value('sfud_rtt_seconds_sum{direction="out",kind="audio"}');
  t.ok(rttSum / rtts < 0.5, `loopback RTT is small (${((rttSum / rtts) * 1000).toFixed(1)} ms mean)`);
  t.ok(m2.value('sfud_fraction_lost_bucket{le="0",direction="in",kind="video"}') >= 1, 'no loss on loopback: the 0 bucket fills');

  // Signalling.
  t.equal(m2.value('sfud_rpc_requests_total{transport="ws",method="join",outcome="ok"}'), 2);
  t.ok(m2.value('sfud_rpc_requests_total{transport="ws",method="answer",outcome="ok"}') >= 1);
  t.equal(m2.value('sfud_rpc_duration_seconds_count{transport="ws",method="join"}'), 2);
  t.ok(m2.value('sfud_ws_messages_total{direction="out"}') >= 3);

  // ICE and DTLS.
  t.ok(m2.value('sfud_dtls_state_changes_total{state="connected"}') >= 3, 'publisher, viewer publisher and viewer subscriber DTLS up');
  t.ok(m2.value('sfud_ice_state_changes_total{state="connected"}') >= 3);

  // The thread and the process.
  t.ok(m2.value('sfud_event_loop_lag_seconds_count{shard="main"}') > 0, 'event-loop lag sampled');
  const elu = m2.value('sfud_event_loop_utilization{shard="main"}');
  t.ok(elu >= 0 && elu <= 1, `event-loop utilization ${elu}`);
  grew('sfud_event_loop_active_seconds_total{shard="main"}');
  t.ok(m2.value('sfud_process_resident_memory_bytes') > 0);
  t.ok(m2.value('sfud_nodejs_heap_size_used_bytes') > 0);

  // Both leave: gauges drop to 0, counters keep what the closed objects counted.
  cleanup();
  await waitFor('room closed', () => sfu.rooms.list.length === 0);
  await waitFor('sockets closed', () => sfu.webRtcServer.transportCount === 0);
  let m3 = await scrape(sfu.metricsUrl);
  for (let i = 0; i < 100 && m3.value('sfud_ws_connections') !== 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    m3 = await scrape(sfu.metricsUrl);
  }
  t.equal(m3.value('sfud_ws_connections'), 0, 'websockets closed');
  for (const g of ['sfud_rooms', 'sfud_peers', 'sfud_transports', 'sfud_producers{kind="video"}', 'sfud_consumers{kind="video"}']) t.equal(m3.value(g), 0, `${g} back to 0`);
  for (const c of ['sfud_packets_total{direction="in",kind="video"}', 'sfud_packets_total{direction="out",kind="audio"}', 'sfud_packets_total{direction="in",kind="rtcp"}', 'sfud_rtcp_feedback_total{direction="in",type="rr"}']) {
    t.ok(m3.value(c) >= m2.value(c), `${c} never goes back`);
  }
  const closes = ['peer-left', 'dtls-closed-by-peer'].reduce((a, r) => a + (m3.value(`sfud_transports_closed_total{reason="${r}"}`) || 0), 0);
  t.equal(closes, 4, 'four transports closed, by reason class (a close_notify from the peer, or the peer leaving first)');
  t.ok(before.value('sfud_packets_total{direction="in",kind="video"}') === 0, 'a fresh sfu starts at 0');
});
