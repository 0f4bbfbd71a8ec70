import type { Redis } from 'ioredis';
import type { LimitCounters, LimitItem, ReserveRequest, ReserveResult, SettleRequest } from './limit-counters.ts';

// Numbers go to Redis as plain integer strings (Lua's tostring would write 1e+15).
const integerArg = (value: number) => String(Math.round(value));

/**
 * Checks every item, then applies all of them or none, in one script: Redis runs a script alone,
 * so two nodes can never both take the last unit. Same semantics as MemoryLimitCounters.
 * ARGV: now, lease id, flexible want, flexible minimum, then per key: kind (c|f|l), limit, amount, ttl.
 */
const reserveScript = `
local now = tonumber(ARGV[1])
local leaseId = ARGV[2]
local grant = tonumber(ARGV[3])
local minimum = tonumber(ARGV[4])
local n = #KEYS
local kinds, limits, amounts, ttls, before = {}, {}, {}, {}, {}
local failures = {0}
for i = 1, n do
  local base = 4 + (i - 1) * 4
  kinds[i] = ARGV[base + 1]
  limits[i] = tonumber(ARGV[base + 2])
  amounts[i] = tonumber(ARGV[base + 3])
  ttls[i] = tonumber(ARGV[base + 4])
  if kinds[i] == 'l' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    before[i] = redis.call('ZCARD', KEYS[i])
  else
    before[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  local fits
  if kinds[i] == 'f' then
    if limits[i] - before[i] < grant then grant = limits[i] - before[i] end
    fits = limits[i] - before[i] >= minimum
  elseif kinds[i] == 'c' then
    fits = before[i] + amounts[i] <= limits[i]
  else
    fits = before[i] + 1 <= limits[i]
  end
  if not fits then
    failures[#failures + 1] = i - 1
    failures[#failures + 1] = before[i]
  end
end
if #failures > 1 then return failures end
for i = 1, n do
  if kinds[i] == 'l' then
    redis.call('ZADD', KEYS[i], string.format('%.0f', now + ttls[i]), leaseId)
    redis.call('PEXPIRE', KEYS[i], ttls[i])
  else
    local amount = amounts[i]
    if kinds[i] == 'f' then amount = grant end
    if amount ~= 0 then
      redis.call('INCRBY', KEYS[i], string.format('%.0f', amount))
      if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttls[i]) end
    end
  end
end
local reply = {1, grant}
for i = 1, n do reply[i + 2] = before[i] end
return reply
`;

/** Corrects counters that still exist (an expired window stays gone) and releases leases. */
const settleScript = `
local counters = tonumber(ARGV[2])
for i = 1, counters do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[2 + i]) end
end
for i = counters + 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
`;

/** INCRBY, and a lifetime for a counter that has none yet. ARGV: amount, ttl per key. */
const addScript = `
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[2 * i - 1])
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
end
return 1
`;

type ScriptCommand = (keyCount: number, ...args: string[]) => Promise<unknown>;
interface ScriptedRedis {
  causerieLimitsReserve: ScriptCommand;
  causerieLimitsSettle: ScriptCommand;
  causerieLimitsAdd: ScriptCommand;
}

const kindCode: Record<LimitItem['kind'], string> = { counter: 'c', flexible: 'f', lease: 'l' };

/** The Redis backend (cluster mode). Keys carry their own expiry, so nothing needs sweeping. */
export class RedisLimitCounters implements LimitCounters {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private readonly scripts: ScriptedRedis;
  private readonly ownsConnection: boolean;

  /** `ownsConnection`: close() quits the connection (else its owner does). */
  constructor(redis: Redis, options: { ownsConnection?: boolean } = {}) {
    this.redis = redis;
    this.ownsConnection = options.ownsConnection ?? false;
    // defineCommand sends EVALSHA and falls back to EVAL once when the script is not cached.
    redis.defineCommand('causerieLimitsReserve', { lua: reserveScript });
    redis.defineCommand('causerieLimitsSettle', { lua: settleScript });
    redis.defineCommand('causerieLimitsAdd', { lua: addScript });
    this.scripts = redis as unknown as ScriptedRedis;
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const args = [
      integerArg(request.now),
      request.leaseId,
      integerArg(request.flexibleWant),
      integerArg(request.flexibleMin),
    ];
    for (const item of request.items) {
      args.push(
        kindCode[item.kind],
        integerArg(item.limit),
        integerArg(item.kind === 'counter' ? item.amount : 0),
        integerArg(Math.max(1, item.ttlMs)),
      );
    }
    const keys = request.items.map((item) => item.key);
    const reply = (await this.scripts.causerieLimitsReserve(keys.length, ...keys, ...args)) as number[];
    if (reply[0] === 1) return { ok: true, grant: reply[1]!, before: reply.slice(2) };
    const failures: Array<{ index: number; current: number }> = [];
    for (let i = 1; i < reply.length; i += 2) failures.push({ index: reply[i]!, current: reply[i + 1]! });
    return { ok: false, failures };
  }

  async settle(request: SettleRequest): Promise<void> {
    if (request.adjust.length === 0 && request.leases.length === 0) return;
    const keys = [...request.adjust.map((a) => a.key), ...request.leases];
    const args = [request.leaseId, String(request.adjust.length), ...request.adjust.map((a) => integerArg(a.delta))];
    await this.scripts.causerieLimitsSettle(keys.length, ...keys, ...args);
  }

  async read(items: Array<{ kind: LimitItem['kind']; key: string }>, now: number): Promise<number[]> {
    if (items.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const item of items) {
      if (item.kind === 'lease') pipeline.zcount(item.key, `(${integerArg(now)}`, '+inf');
      else pipeline.get(item.key);
    }
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, value]) => {
      if (error) throw error;
      return Number(value ?? 0);
    });
  }

  async add(entries: Array<{ key: string; amount: number; ttlMs: number }>): Promise<void> {
    if (entries.length === 0) return;
    const keys = entries.map((e) => e.key);
    const args = entries.flatMap((e) => [integerArg(e.amount), integerArg(Math.max(1, e.ttlMs))]);
    await this.scripts.causerieLimitsAdd(keys.length, ...keys, ...args);
  }

  async ping(timeoutMs: number): Promise<void> {
    // While disconnected ioredis queues commands until it reconnects: bound the wait.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Redis did not answer in time')), timeoutMs);
    });
    try {
      await Promise.race([this.redis.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (!this.ownsConnection) return;
    // quit() waits for a reply that a lost Redis never sends.
    if (this.redis.status === 'ready') await this.redis.quit();
    else this.redis.disconnect();
  }
}
