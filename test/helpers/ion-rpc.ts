// A tiny ion-sfu JSON-RPC client over a `ws` WebSocket, as ion-sdk-js speaks
// it (shared/reference/ion-sfu-protocol.md): `{method, params, id}` frames
// with string ids, replies matched by id, notifications (`offer`, `trickle`)
// handed to `onNotification`. Used by the werift and wrtc ion-sfu tests.
import { once } from 'node:events';
import { WebSocket, type ClientOptions } from 'ws';

export type Json = Record<string, unknown>;
export type RpcId = string | number;

export class IonRpc {
  private nextId = 1;
  private readonly pending = new Map<RpcId, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Error frames that answered no call of ours (`answer`/`trickle` failures come with id 0). */
  readonly strayErrors: Json[] = [];
  onNotification: (method: string, params: Json) => void = () => {};

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.onFrame(String(data)));
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('socket closed'));
      this.pending.clear();
    });
  }

  /** `opts`: TLS trust (`ca`), an `origin` header ... */
  static async connect(url: string, opts?: ClientOptions): Promise<IonRpc> {
    const ws = new WebSocket(url, opts);
    ws.on('error', () => {});
    await once(ws, 'open');
    return new IonRpc(ws);
  }

  private onFrame(text: string): void {
    const msg = JSON.parse(text) as Json;
    if (typeof msg.method === 'string') {
      this.onNotification(msg.method, msg.params as Json);
      return;
    }
    const id = msg.id as RpcId;
    const p = this.pending.get(id);
    if (!p) {
      if (msg.error !== undefined) this.strayErrors.push(msg);
      return;
    }
    this.pending.delete(id);
    if (msg.error !== undefined) p.reject(new Error(`rpc error: ${JSON.stringify(msg.error)}`));
    else p.resolve(msg.result);
  }

  call(method: string, params: Json, timeoutMs = 10_000): Promise<unknown> {
    // String ids, as ion-sdk-js sends (uuid v4 there).
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ method, params, id }));
    });
  }

  notify(method: string, params: Json): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ method, params }));
  }

  close(): void {
    this.ws.close();
  }
}

/** The HTTP status of a refused WebSocket upgrade, 101 when it opened, -1 on a socket error. */
export function upgradeStatus(url: string, opts: ClientOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, opts);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', () => resolve(-1));
  });
}
