/**
 * Joining a server that speaks ion-sfu's JSON-RPC over WebSocket (sfud, the
 * naive werift SFU): one IonPeer per bench client. Such servers subscribe a
 * peer to every track of its room by themselves, which is the contract
 * `RunningServer.join` promises.
 */
import { IonPeer } from '../loadgen/client.js';
import type { BenchClient, JoinOptions } from './types.js';

export async function joinIon(url: string, host: string, o: JoinOptions): Promise<BenchClient> {
  const peer = await IonPeer.join({
    url,
    sid: o.room,
    uid: o.uid,
    cert: o.cert,
    host,
    publish: o.publish,
    subscribe: o.subscribe,
    connectPublisherPc: o.connectPublisherPc ?? true,
    timeoutMs: o.timeoutMs,
  });
  return peer;
}
