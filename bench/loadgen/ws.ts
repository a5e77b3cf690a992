/** WebSocket plumbing shared by the load generator's signalling clients (ion-sfu JSON-RPC, Janus). */
import { WebSocket } from 'ws';
import { PendingCalls } from './pending.js';

/** Opens a client WebSocket, failing after `timeoutMs`. */
export function openWebSocket(url: string, protocol: string | undefined, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = protocol === undefined ? new WebSocket(url, { perMessageDeflate: false }) : new WebSocket(url, protocol, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`WebSocket ${url} did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export type Json = Record<string, unknown>;

/**
 * A signalling socket carrying one JSON object per frame, with calls awaiting
 * their answer (`pending`); frames that are not JSON objects are ignored, and
 * every pending call fails when the socket closes.
 */
export abstract class JsonSocket<T> {
  protected readonly pending = new PendingCalls<T>();
  protected closed = false;
  onClose: () => void = () => {};

  protected constructor(
    protected readonly ws: WebSocket,
    closedReason: string,
  ) {
    ws.on('message', (data) => {
      let msg: unknown;
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      if (msg !== null && typeof msg === 'object' && !Array.isArray(msg)) this.onMessage(msg as Json);
    });
    ws.on('close', () => {
      this.closed = true;
      this.pending.rejectAll(closedReason);
      this.onClose();
    });
  }

  protected abstract onMessage(msg: Json): void;

  /** Sends when open; false when the socket is gone. */
  protected sendJson(msg: Json): boolean {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  close(): void {
    if (!this.closed) this.ws.close();
  }
}
