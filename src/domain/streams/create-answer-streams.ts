import { MemoryEventLog } from '../../stores/kv/memory-event-log.ts';
import { RedisCancelBus } from '../../stores/kv/redis-cancel-bus.ts';
import { RedisEventLog } from '../../stores/kv/redis-event-log.ts';
import { openRedis } from '../../stores/kv/redis.ts';
import { type CancelBus, MemoryCancelBus } from './cancel-bus.ts';
import type { EventLog } from './event-log.ts';

/**
 * The event log and the cancel bus for the runtime mode, like the limits' counters: Redis when a
 * URL is given (any node resumes or cancels an answer another node runs), else in process.
 */
export function createStreamsBackend(options: {
  redisUrl?: string;
  redisPrefix: string;
  warn?: (message: string) => void;
}): { log: EventLog; cancels: CancelBus; close(): Promise<void> } {
  if (!options.redisUrl) {
    const log = new MemoryEventLog();
    const cancels = new MemoryCancelBus();
    return { log, cancels, close: () => log.close() };
  }
  const redis = openRedis(options.redisUrl, options.warn);
  const log = new RedisEventLog(redis, { prefix: options.redisPrefix, warn: options.warn });
  const cancels = new RedisCancelBus(redis, { prefix: options.redisPrefix });
  return {
    log,
    cancels,
    async close() {
      await cancels.close();
      await log.close();
    },
  };
}
