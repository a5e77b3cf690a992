/**
 * Webhooks: room and participant lifecycle events POSTed as JSON to one URL.
 *
 * Delivery never holds back media or signalling: `send()` only appends to a
 * bounded queue and returns; one delivery loop POSTs the queue in order (so a
 * receiver sees `participant_joined` before `participant_left`), each attempt
 * bounded by a timeout, failed attempts retried with exponential backoff up to
 * a bounded number of attempts. What cannot be queued or delivered is dropped
 * and counted, never retried forever.
 *
 * Authenticity (see README "Webhooks"): every attempt carries
 *
 *   X-Sfud-Timestamp: <unix seconds of this attempt>
 *   X-Sfud-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *
 * The timestamp is inside the signed text, so a captured request cannot be
 * replayed later than the receiver's tolerance (`verifyWebhookSignature`
 * defaults to 5 minutes); the event `id` stays the same across retries, so a
 * receiver can also drop duplicates.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { silentLogger, type Logger } from '../logger.js';
import { VERSION } from '../version.js';

export const WEBHOOK_EVENTS = ['room_started', 'room_finished', 'participant_joined', 'participant_left', 'track_published', 'track_unpublished'] as const;
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookTrack {
  /** sfud's producer id. */
  id: string;
  kind: 'audio' | 'video';
  /** The publisher's msid stream and track ids. */
  streamId: string;
  trackId: string;
  mid: string;
}

/** The JSON body of every webhook request. */
export interface WebhookEvent {
  event: WebhookEventName;
  /** Unique per event, the same on every retry of it. */
  id: string;
  /** When sfud saw the event, Unix time in milliseconds. */
  createdAt: number;
  room: { sid: string };
  participant?: { uid: string };
  track?: WebhookTrack;
}

export interface WebhookOptions {
  /** Where events are POSTed (http or https). */
  url: string;
  /** HMAC-SHA256 key for X-Sfud-Signature. */
  secret: string;
  /** Per attempt (default 5000 ms). */
  timeoutMs?: number;
  /** Attempts per event before it is dropped (default 5). */
  maxAttempts?: number;
  /** Delay before the first retry; doubled for each further one, with ±20% jitter (default 500 ms). */
  retryBaseMs?: number;
  /** Longest delay between retries (default 30 s). */
  retryMaxMs?: number;
  /** Events waiting, the one being delivered included; more are dropped (default 1000). */
  maxQueue?: number;
  /** Injected for tests; default the global fetch. */
  fetch?: typeof fetch;
  logger?: Logger;
}

export const SIGNATURE_HEADER = 'x-sfud-signature';
export const TIMESTAMP_HEADER = 'x-sfud-timestamp';

export interface WebhookStats {
  /** Events waiting (the one in flight included). */
  queued: number;
  /** Events accepted into the queue, by name. */
  events: Record<WebhookEventName, number>;
  delivered: number;
  /** Attempts by outcome: 2xx, any other status or network error, timeout. */
  attempts: { ok: number; error: number; timeout: number };
  /** Events given up: queue full, attempts exhausted, a 4xx the receiver meant, or still queued at close. */
  dropped: { queueFull: number; attemptsExhausted: number; rejected: number; closed: number };
}

/** `sha256=<hex>` over `<timestamp>.<body>`. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * For receivers: true when `signature` is the HMAC of `timestamp` and `body`
 * under `secret` and the timestamp is within `toleranceSec` of now.
 */
export function verifyWebhookSignature(
  secret: string,
  body: string,
  timestamp: string | undefined,
  signature: string | undefined,
  opts: { toleranceSec?: number; nowSec?: number } = {},
): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > (opts.toleranceSec ?? 300)) return false;
  const want = Buffer.from(signWebhook(secret, ts, body));
  const got = Buffer.from(signature);
  return got.length === want.length && timingSafeEqual(got, want);
}

interface Pending {
  event: WebhookEvent;
  body: string;
  attempts: number;
}

/** Statuses worth retrying: the receiver is down or busy, not refusing the event. */
function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export class WebhookNotifier {
  private readonly url: string;
  private readonly secret: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly maxQueue: number;
  private readonly fetch: typeof fetch;
  private readonly log: Logger;
  private readonly queue: Pending[] = [];
  private running = false;
  private closed = false;
  /** Aborts the attempt in flight or cuts the backoff wait short, at close. */
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private idle: Promise<void> = Promise.resolve();
  private readonly stats: WebhookStats = {
    queued: 0,
    events: Object.fromEntries(WEBHOOK_EVENTS.map((e) => [e, 0])) as Record<WebhookEventName, number>,
    delivered: 0,
    attempts: { ok: 0, error: 0, timeout: 0 },
    dropped: { queueFull: 0, attemptsExhausted: 0, rejected: 0, closed: 0 },
  };

  constructor(opts: WebhookOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`webhook URL must be http or https: ${opts.url}`);
    if (!opts.secret) throw new TypeError('a webhook secret is required');
    this.url = u.href;
    this.secret = opts.secret;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.retryMaxMs = opts.retryMaxMs ?? 30_000;
    this.maxQueue = Math.max(1, opts.maxQueue ?? 1000);
    this.fetch = opts.fetch ?? globalThis.fetch;
    this.log = (opts.logger ?? silentLogger()).child({ sub: 'webhook' });
  }

  /**
   * Queues one event and returns at once; never throws. Dropped (and counted)
   * when the queue is full or the notifier is closed.
   */
  send(event: WebhookEventName, fields: Pick<WebhookEvent, 'room' | 'participant' | 'track'>): void {
    if (this.closed) {
      this.stats.dropped.closed++;
      return;
    }
    if (this.queue.length >= this.maxQueue) {
      this.stats.dropped.queueFull++;
      // One line per drop would flood the log exactly when the receiver is down; the counter tells.
      if (this.stats.dropped.queueFull === 1) this.log.warn({ maxQueue: this.maxQueue }, 'webhook queue full, dropping events');
      return;
    }
    const ev: WebhookEvent = { event, id: randomUUID(), createdAt: Date.now(), ...fields };
    this.queue.push({ event: ev, body: JSON.stringify(ev), attempts: 0 });
    this.stats.events[event]++;
    if (!this.running) {
      this.running = true;
      this.idle = this.run();
    }
  }

  getStats(): WebhookStats {
    return { ...structuredClone(this.stats), queued: this.queue.length };
  }

  /** The delivery loop: one event at a time, in order, until the queue is empty. Never rejects. */
  private async run(): Promise<void> {
    try {
      for (;;) {
        const head = this.queue[0];
        if (!head || this.closed) break;
        const outcome = await this.attempt(head);
        if (this.closed) break;
        if (outcome === 'ok') {
          this.stats.delivered++;
          this.queue.shift();
          continue;
        }
        if (outcome === 'rejected') {
          this.stats.dropped.rejected++;
          this.queue.shift();
          continue;
        }
        if (head.attempts >= this.maxAttempts) {
          this.stats.dropped.attemptsExhausted++;
          this.log.warn({ event: head.event.event, id: head.event.id, attempts: head.attempts }, 'webhook not delivered, giving up');
          this.queue.shift();
          continue;
        }
        await this.sleep(this.backoff(head.attempts));
      }
    } catch (err) {
      // Nothing above should throw; if it does, stop this loop and let the next send() start another.
      this.log.error({ err }, 'webhook delivery loop failed');
    } finally {
      this.running = false;
    }
  }

  private backoff(attempts: number): number {
    const base = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempts - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      // A retry wait alone does not keep a process alive; close() ends it early anyway.
      t.unref();
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async attempt(p: Pending): Promise<'ok' | 'retry' | 'rejected'> {
    p.attempts++;
    const ts = Math.floor(Date.now() / 1000);
    const ctl = new AbortController();
    this.abort = ctl;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.timeoutMs);
    try {
      const res = await this.fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `sfud/${VERSION}`,
          [TIMESTAMP_HEADER]: String(ts),
          [SIGNATURE_HEADER]: signWebhook(this.secret, ts, p.body),
        },
        body: p.body,
        signal: ctl.signal,
      });
      // Free the connection: the body is of no interest.
      await res.body?.cancel().catch(() => {});
      if (res.ok) {
        this.stats.attempts.ok++;
        return 'ok';
      }
      this.stats.attempts.error++;
      this.log.debug({ status: res.status, event: p.event.event, attempt: p.attempts }, 'webhook attempt refused');
      return retryable(res.status) ? 'retry' : 'rejected';
    } catch (err) {
      if (timedOut) this.stats.attempts.timeout++;
      else this.stats.attempts.error++;
      this.log.debug({ err: (err as Error).message, timedOut, event: p.event.event, attempt: p.attempts }, 'webhook attempt failed');
      return 'retry';
    } finally {
      clearTimeout(timer);
      this.abort = undefined;
    }
  }

  /**
   * Stops taking events. Waits up to `drainMs` for the queue to be delivered
   * (attempts and backoff as usual), then aborts what is left and counts it
   * as dropped.
   */
  async close(drainMs = 0): Promise<void> {
    if (this.closed) return;
    if (drainMs > 0 && this.running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.idle, new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
      clearTimeout(timer);
    }
    this.closed = true;
    this.abort?.abort();
    this.wake?.();
    await this.idle;
    this.stats.dropped.closed += this.queue.length;
    this.queue.length = 0;
  }
}
