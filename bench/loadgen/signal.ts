/**
 * ion-sfu JSON-RPC over WebSocket, the client side, as ion-sdk-js speaks it
 * (shared/reference/ion-sfu-protocol.md section 1): `{method, params, id}`
 * requests with string ids, `answer`/`trickle` as notifications, and the
 * server's `offer`/`trickle` notifications handed to callbacks.
 */
import type { WebSocket } from 'ws';
import { JsonSocket, openWebSocket, type Json } from './ws.js';

export class IonSignal extends JsonSocket<unknown> {
  private nextId = 1;
  /** Error frames that answered no call (failed `answer`s come back with id 0). */
  strayErrors = 0;
  lastStrayError = '';
  onOffer: (sdp: string) => void = () => {};
  /** A `trickle` notification: target 0 (publisher PC) or 1 (subscriber PC) and the candidate string. */
  onTrickle: (target: number, candidate: string) => void = () => {};

  private constructor(ws: WebSocket) {
    super(ws, 'signalling socket closed');
  }

  static async connect(url: string, timeoutMs = 10_000): Promise<IonSignal> {
    return new IonSignal(await openWebSocket(url, undefined, timeoutMs));
  }

  protected onMessage(msg: Json): void {
    if (typeof msg.method === 'string') {
      const params = msg.params as Json | undefined;
      if (msg.method === 'offer' && typeof params?.sdp === 'string') this.onOffer(params.sdp);
      else if (msg.method === 'trickle' && typeof params?.target === 'number') {
        const c = params.candidate as Json | undefined;
        if (typeof c?.candidate === 'string') this.onTrickle(params.target, c.candidate);
      }
      return;
    }
    const err = msg.error !== undefined ? new Error(`rpc error: ${JSON.stringify(msg.error)}`) : undefined;
    if (typeof msg.id === 'string' && this.pending.settle(msg.id, msg.result, err)) return;
    if (err) {
      this.strayErrors++;
      this.lastStrayError = JSON.stringify(msg.error);
    }
  }

  call(method: string, params: Json, timeoutMs = 15_000): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('signalling socket closed'));
    const id = `c${this.nextId++}`;
    const answer = this.pending.add(id, timeoutMs, method);
    this.sendJson({ method, params, id });
    return answer;
  }

  notify(method: string, params: Json): void {
    this.sendJson({ method, params });
  }
}
