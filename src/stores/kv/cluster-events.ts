import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * What one process tells every process (itself included) so their in-memory state stays true:
 * caches drop what changed, and answers running with a credential that went are stopped.
 */
export type ClusterEvent =
  /** These keys were revoked (a key and the keys created with it). */
  | { type: 'keys-revoked'; keyIds: number[] }
  /** These keys changed (their limits). */
  | { type: 'keys-changed'; keyIds: number[] }
  /** This account was disabled. */
  | { type: 'user-disabled'; userId: number }
  /** Sign-ins of this account were ended (sign-out, sign-out everywhere, password change, a reused refresh token). */
  | { type: 'sign-ins-revoked'; userId: number }
  /** A plan or a plan assignment changed. */
  | { type: 'plans-changed' }
  /**
   * Delivered locally only: events may have been missed (the Redis subscription dropped and came
   * back), so anything cached must be forgotten.
   */
  | { type: 'resync' };

export interface ClusterEvents {
  /** Applies `event` in this process at once (before resolving), then tells the other processes. */
  publish(event: ClusterEvent): Promise<void>;
  subscribe(handler: (event: ClusterEvent) => void): void;
  /**
   * Whether this process is sure to hear every event now. A cache may serve entries only while
   * this holds: an event missed during a Redis outage would otherwise leave a revoked key usable.
   */
  listening(): boolean;
  close(): Promise<void>;
}

/** Embedded mode: one process, so events only go to its own handlers. */
export class LocalClusterEvents implements ClusterEvents {
  protected readonly handlers: Array<(event: ClusterEvent) => void> = [];

  async publish(event: ClusterEvent): Promise<void> {
    this.deliver(event);
  }

  subscribe(handler: (event: ClusterEvent) => void): void {
    this.handlers.push(handler);
  }

  listening(): boolean {
    return true;
  }

  async close(): Promise<void> {}

  protected deliver(event: ClusterEvent): void {
    for (const handler of this.handlers) handler(event);
  }
}

/**
 * Cluster mode: events go out on a Redis pub/sub channel under the key prefix, so every node
 * that shares the Redis (and the prefix) hears them within milliseconds. Pub/sub keeps nothing
 * for a node that is not subscribed at that moment, hence `listening()` and the `resync` event.
 */
export class RedisClusterEvents extends LocalClusterEvents {
  private readonly origin = randomUUID();
  private readonly channel: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly warn: (message: string) => void;
  private subscribed = false;
  private closed = false;
  private readonly firstSubscription = Promise.withResolvers<void>();

  /** Two connections (a subscribing one can do nothing else), both owned: close() ends them. */
  constructor(options: { publisher: Redis; subscriber: Redis; prefix: string; warn?: (message: string) => void }) {
    super();
    this.channel = `${options.prefix}cluster-events`;
    this.warn = options.warn ?? (() => {});
    this.publisher = options.publisher;
    this.subscriber = options.subscriber;
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    this.subscriber.on('close', () => {
      this.subscribed = false;
    });
    // On every (re)connection: subscribe, and only then trust caches again, after a resync.
    this.subscriber.on('ready', () => void this.resubscribe());
  }

  override async publish(event: ClusterEvent): Promise<void> {
    this.deliver(event);
    try {
      await this.publisher.publish(this.channel, JSON.stringify({ origin: this.origin, event }));
    } catch (error) {
      // The change is in the database; other nodes' caches forget it within their TTL, or at once
      // if their own subscription dropped too (they stop trusting their cache).
      this.warn(`cluster events: cannot publish ${event.type}: ${(error as Error).message}`);
    }
  }

  override listening(): boolean {
    return this.subscribed && this.subscriber.status === 'ready';
  }

  /**
   * Resolves once subscribed (for tests). The server does not wait for it: until then its cache is
   * not used, and a node that cannot reach Redis still starts (its /readyz says what is wrong).
   */
  async ready(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('cluster events: cannot subscribe to Redis')), timeoutMs);
    });
    try {
      await Promise.race([this.firstSubscription.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  override async close(): Promise<void> {
    this.closed = true;
    this.subscribed = false;
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }

  private async resubscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
    } catch (error) {
      if (!this.closed) this.warn(`cluster events: cannot subscribe: ${(error as Error).message}`);
      return;
    }
    if (this.closed) return;
    this.deliver({ type: 'resync' });
    this.subscribed = true;
    this.firstSubscription.resolve();
  }

  private receive(message: string): void {
    let parsed: { origin?: string; event?: ClusterEvent };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    // Our own events were applied when published.
    if (parsed.origin === this.origin || !parsed.event || parsed.event.type === 'resync') return;
    this.deliver(parsed.event);
  }
}
