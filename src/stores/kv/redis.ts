import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';

// Loaded when cluster mode opens a connection: a single-node server never pays for the client.
const require = createRequire(import.meta.url);

/**
 * Opens the Redis connection cluster mode shares (REDIS_URL). Commands issued in the same tick
 * go out as one pipeline, which keeps a burst of admissions to few round trips.
 */
export function openRedis(url: string, warn: (message: string) => void = () => {}): Redis {
  const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
  const redis = new RedisClient(url, { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
  // ioredis reconnects by itself; say so at most every 30 s instead of once per retry.
  let lastWarning = 0;
  redis.on('error', (error: Error) => {
    if (Date.now() - lastWarning < 30_000) return;
    lastWarning = Date.now();
    warn(`redis: ${error.message} (reconnecting)`);
  });
  return redis;
}

export type { Redis };
