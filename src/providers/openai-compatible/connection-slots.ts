import { ProviderError } from '../provider-error.ts';

/** What a provider's connection cap looks like right now, for /metrics. */
export interface ConnectionStats {
  provider: string;
  /** The cap, or null when there is none. */
  max: number | null;
  /** Requests holding a connection (sent, answer not fully read). */
  active: number;
  /** Requests waiting for a connection to free up. */
  waiting: number;
  /** Requests that had to wait, since start. */
  waitedTotal: number;
  /** Requests turned away because no connection freed up in time, since start. */
  timedOutTotal: number;
}

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
  signal: AbortSignal;
  onAbort: () => void;
}

/**
 * Counts the requests in flight to one provider. Without a cap it only counts. With one, a request
 * over the cap waits its turn (first come, first served) for at most `waitMs`, then fails with a
 * clear 503 `upstream_busy` instead of waiting silently in the connection pool's queue.
 */
export class ConnectionSlots {
  private readonly provider: string;
  private readonly max: number | undefined;
  private readonly waitMs: number;
  private readonly warn: (message: string) => void;
  private active = 0;
  private readonly queue: Waiter[] = [];
  private waitedTotal = 0;
  private timedOutTotal = 0;
  private lastWarning = 0;

  constructor(options: { provider: string; max?: number; waitMs: number; warn?: (message: string) => void }) {
    this.provider = options.provider;
    this.max = options.max;
    this.waitMs = options.waitMs;
    this.warn = options.warn ?? (() => {});
  }

  /** Takes a slot (waiting when the cap is reached); the returned function gives it back, once. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.max === undefined || (this.active < this.max && this.queue.length === 0)) {
      this.active++;
      return this.releaser();
    }
    if (signal.aborted) throw signal.reason;
    this.waitedTotal++;
    this.warnAtMostEvery10s(`${this.queue.length + 1} request(s) waiting for one of its ${this.max} connections`);
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          this.leave(waiter);
          resolve();
        },
        timer: setTimeout(() => {
          this.leave(waiter);
          this.timedOutTotal++;
          this.warnAtMostEvery10s(`a request waited ${this.waitMs} ms for a connection and was turned away (503)`);
          reject(
            new ProviderError(
              this.provider,
              'busy',
              `Provider "${this.provider}" has all its ${this.max} connections busy and none freed up within ${this.waitMs} ms; retry later`,
              { retryAfter: '1' },
            ),
          );
        }, this.waitMs),
        signal,
        onAbort: () => {
          this.leave(waiter);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
    });
    // The slot was handed over by release(): `active` already counts it.
    return this.releaser();
  }

  stats(): ConnectionStats {
    return {
      provider: this.provider,
      max: this.max ?? null,
      active: this.active,
      waiting: this.queue.length,
      waitedTotal: this.waitedTotal,
      timedOutTotal: this.timedOutTotal,
    };
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue[0];
      // Handed straight to the next in line, so a newcomer cannot take it first.
      if (next) next.grant();
      else this.active--;
    };
  }

  private leave(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    const index = this.queue.indexOf(waiter);
    if (index >= 0) this.queue.splice(index, 1);
  }

  private warnAtMostEvery10s(message: string): void {
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    this.warn(`provider "${this.provider}": ${message} (max_connections in the models config)`);
  }
}
