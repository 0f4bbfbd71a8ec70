import type { Redis } from 'ioredis';
import type { CancelBus } from '../../domain/streams/cancel-bus.ts';

/** Cluster mode's cancel bus: one Redis channel; a subscriber holds a connection of its own. */
export class RedisCancelBus implements CancelBus {
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  /** Resolves once this node listens, so a cancel published after start-up is never missed. */
  readonly ready: Promise<unknown>;
  private handler: ((conversationId: number) => void) | undefined;

  constructor(redis: Redis, options: { prefix: string }) {
    this.redis = redis;
    this.channel = `${options.prefix}answers:cancel`;
    this.subscriber = redis.duplicate();
    // Connection trouble is reported once, by the main connection; this one reconnects by itself.
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (_channel: string, message: string) => {
      const id = Number(message);
      if (Number.isInteger(id)) this.handler?.(id);
    });
    this.ready = this.subscriber.subscribe(this.channel);
    this.ready.catch(() => {});
  }

  async publish(conversationId: number): Promise<void> {
    await this.redis.publish(this.channel, String(conversationId));
  }

  subscribe(handler: (conversationId: number) => void): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
