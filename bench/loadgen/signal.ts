/**
 * ion-sfu JSON-RPC over WebSocket, the client side, as ion-sdk-js speaks it
 * (shared/reference/ion-sfu-protocol.md section 1): `{method, params, id}`
 * requests with string ids, `answer`/`trickle` as notifications, and the
 * server's `offer`/`trickle` notifications handed to callbacks.
 */
import { WebSocket } from 'ws';

type Json = Record<string, unknown>;

export class IonSignal {
  private nextId = 1;
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  /** Error frames that answered no call (failed `answer`s come back with id 0). */
  strayErrors = 0;
  lastStrayError = '';
  onOffer: (sdp: string) => void = () => {};
  onClose: () => void = () => {};
  private closed = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.onFrame(String(data)));
    ws.on('close', () => {
      this.closed = true;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error('signalling socket closed'));
      }
      this.pending.clear();
      this.onClose();
    });
  }

  static connect(url: string, timeoutMs = 10_000): Promise<IonSignal> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`WebSocket ${url} did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new IonSignal(ws));
      });
      ws.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private onFrame(text: string): void {
    let msg: Json;
    try {
      msg = JSON.parse(text) as Json;
    } catch {
      return;
    }
    if (typeof msg.method === 'string') {
      const params = msg.params as Json | undefined;
      if (msg.method === 'offer' && typeof params?.sdp === 'string') this.onOffer(params.sdp);
      return;
    }
    const p = typeof msg.id === 'string' ? this.pending.get(msg.id) : undefined;
    if (!p) {
      if (msg.error !== undefined) {
        this.strayErrors++;
        this.lastStrayError = JSON.stringify(msg.error);
      }
      return;
    }
    this.pending.delete(msg.id as string);
    clearTimeout(p.timer);
    if (msg.error !== undefined) p.reject(new Error(`rpc error: ${JSON.stringify(msg.error)}`));
    else p.resolve(msg.result);
  }

  call(method: string, params: Json, timeoutMs = 15_000): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('signalling socket closed'));
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ method, params, id }));
    });
  }

  notify(method: string, params: Json): void {
    if (!this.closed && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ method, params }));
  }

  close(): void {
    if (this.closed) return;
    this.ws.close();
  }
}
