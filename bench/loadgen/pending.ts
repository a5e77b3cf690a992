/** Requests waiting for their answer on a signalling socket, each with a timeout; all fail when the socket closes. */
export class PendingCalls<T> {
  private readonly map = new Map<string, { resolve: (v: T) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  /** A promise for the answer to `id`, rejected with `what` after `timeoutMs`. */
  add(id: string, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.map.delete(id);
        reject(new Error(`no answer to ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.map.set(id, { resolve, reject, timer });
    });
  }

  has(id: string): boolean {
    return this.map.has(id);
  }

  /** Settles `id` (an error when `err` is set); false when nothing waited for it. */
  settle(id: string, value: T, err?: Error): boolean {
    const p = this.map.get(id);
    if (!p) return false;
    this.map.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(value);
    return true;
  }

  rejectAll(reason: string): void {
    for (const p of this.map.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this.map.clear();
  }
}
