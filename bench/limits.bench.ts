/**
 * What limit checks add to a request (issue 5), in process and in Redis.
 *
 * 1. Whole requests: POST /v1/chat/completions against the mock provider (the scripted upstream on
 *    loopback), from a key with no limits and from a key under a plan and its own limits (both
 *    checked on every call), on an embedded server and on a Redis-backed one. The two kinds of
 *    request alternate in rounds, so drift on a shared machine hits both alike.
 * 2. The gate alone: admit + settle, per call.
 *
 * Run alone with `node bench/limits.bench.ts`, or through `npm run bench` (bench/run.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.ts';
import { systemClock } from '../src/domain/clock.ts';
import { CountersGate } from '../src/domain/limits/limits.gate.ts';
import { unlimitedGate, type LimitsGate } from '../src/domain/limits/limits.types.ts';
import { startServer, type RunningServer } from '../src/main.ts';
import type { LimitCounters } from '../src/stores/kv/limit-counters.ts';
import { MemoryLimitCounters } from '../src/stores/kv/memory-limit-counters.ts';
import { RedisLimitCounters } from '../src/stores/kv/redis-limit-counters.ts';

const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `causerie-bench:${process.pid}:`;
const huge = 1_000_000_000;

interface Options {
  /** Requests per kind and round. */
  perRound: number;
  rounds: number;
  concurrency: number;
  gateCalls: number;
}

const defaults: Options = { perRound: 200, rounds: 9, concurrency: 8, gateCalls: 20_000 };

async function deletePrefix(): Promise<void> {
  const redis = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

/** A server with the mock provider, a key without limits, and one under a plan and its own limits. */
async function startBenchServer(extraEnv: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'causerie-bench-'));
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    CAUSERIE_DATA_DIR: dataDir,
    CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-bench',
    CAUSERIE_MOCK_PROVIDER: 'true',
    LOG_LEVEL: 'silent',
    ...extraEnv,
  });
  const server: RunningServer = await startServer(config, { print: () => {}, logger: false });
  const { services } = server;
  const admin = { userId: 1, role: 'admin' as const };
  const plainUser = await services.users.create({ username: 'unlimited', password: 'password-123' }, admin);
  const limitedUser = await services.users.create({ username: 'limited', password: 'password-123' }, admin);
  await services.plans.create(admin, {
    name: 'bench',
    limits: {
      requests_per_minute: huge,
      requests_per_day: huge,
      tokens_per_day: huge,
      tokens_per_month: huge,
      budget_per_month: huge,
      concurrent_streams: 1000,
    },
  });
  await services.plans.assign(admin, 'limited', 'bench');
  const plain = await services.apiKeys.create({ userId: plainUser.id, role: 'user' }, { name: 'plain' });
  const limited = await services.apiKeys.create(
    { userId: limitedUser.id, role: 'user' },
    {
      name: 'limited',
      limits: {
        requests_per_minute: huge,
        requests_per_day: huge,
        tokens_per_day: huge,
        tokens_per_month: huge,
        concurrent_streams: 1000,
      },
    },
  );
  return {
    url: server.url,
    plainKey: plain.key,
    limitedKey: limited.key,
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const body = JSON.stringify({
  model: 'mock/echo',
  messages: [{ role: 'user', content: 'Say hello to the benchmark' }],
  max_tokens: 16,
});

/** Sends `count` requests, `concurrency` at a time; returns the wall time in ms. */
async function load(url: string, key: string, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`benchmark request failed: ${response.status} ${text}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return performance.now() - started;
}

async function measureRequests(label: string, env: Record<string, string>, options: Options): Promise<string> {
  const server = await startBenchServer(env);
  try {
    // The limited key must really be checked: its answers name the limit they describe.
    const probe = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.limitedKey}`, 'content-type': 'application/json' },
      body,
    });
    await probe.text();
    if (!probe.headers.get('x-ratelimit-scope'))
      throw new Error('the limited key got no X-RateLimit-Scope header: are limits wired into completions?');
    await load(server.url, server.plainKey, 100, options.concurrency);
    await load(server.url, server.limitedKey, 100, options.concurrency);
    // Rounds alternate which kind goes first; the median round resists a neighbour's burst of CPU.
    const ratios: number[] = [];
    const deltas: number[] = [];
    let plainMs = 0;
    let limitedMs = 0;
    for (let round = 0; round < options.rounds; round++) {
      const runPlain = () => load(server.url, server.plainKey, options.perRound, options.concurrency);
      const runLimited = () => load(server.url, server.limitedKey, options.perRound, options.concurrency);
      let plain: number;
      let limited: number;
      if (round % 2 === 0) [plain, limited] = [await runPlain(), await runLimited()];
      else [limited, plain] = [await runLimited(), await runPlain()];
      plainMs += plain;
      limitedMs += limited;
      ratios.push(limited / plain);
      deltas.push(((limited - plain) / options.perRound) * 1000);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const count = options.perRound * options.rounds;
    const delta = median(deltas);
    return (
      `limits  ${label.padEnd(10)} ×${median(ratios).toFixed(3)} time per request with limits (median of ${options.rounds} rounds; ${delta >= 0 ? '+' : ''}${delta.toFixed(0)} µs wall per request;` +
      ` ${(count / (limitedMs / 1000)).toFixed(0)} req/s with vs ${(count / (plainMs / 1000)).toFixed(0)} without; concurrency ${options.concurrency}, 9 limits checked per call)`
    );
  } finally {
    await server.stop();
  }
}

/** admit + settle per call, one at a time, for a key under every kind of limit. */
async function measureGate(gate: LimitsGate, calls: number): Promise<number> {
  const actor = { userId: 1, role: 'user' as const, apiKeyId: 1 };
  const call = async () => {
    const admission = await gate.admit({
      actor,
      model: 'mock/echo',
      reserveTokens: 100,
      reserveCostMicros: 10,
      stream: true,
    });
    await admission.settle({ tokens: 50, costMicros: 5 });
  };
  for (let i = 0; i < Math.min(1000, calls); i++) await call();
  const started = performance.now();
  for (let i = 0; i < calls; i++) await call();
  return ((performance.now() - started) / calls) * 1000;
}

async function gateLines(options: Options): Promise<string> {
  const allLimits = {
    requests_per_minute: huge,
    requests_per_day: huge,
    tokens_per_day: huge,
    tokens_per_month: huge,
    concurrent_streams: 1000,
  };
  const resolver = {
    resolve: async () => ({
      plan: { id: 1, name: 'bench' },
      user: { ...allLimits, budget_per_month: huge },
      key: allLimits,
      ancestors: [],
    }),
  };
  const gateOver = (counters: LimitCounters) => new CountersGate({ counters, resolver, clock: systemClock, prefix });
  const none = await measureGate(unlimitedGate, options.gateCalls);
  const memory = new MemoryLimitCounters();
  const inProcess = await measureGate(gateOver(memory), options.gateCalls);
  const redisCounters = new RedisLimitCounters(new Redis(redisUrl), { ownsConnection: true });
  const redis = await measureGate(gateOver(redisCounters), Math.max(500, Math.round(options.gateCalls / 10)));
  await redisCounters.close();
  return `limits  gate alone: admit+settle ${inProcess.toFixed(1)} µs in process, ${redis.toFixed(0)} µs in Redis (one call at a time), ${none.toFixed(2)} µs without limits`;
}

/** The benchmark lines; bench/run.ts prints them. */
export async function runLimitsBench(overrides: Partial<Options> = {}): Promise<string[]> {
  const options = { ...defaults, ...overrides };
  const lines: string[] = [];
  try {
    lines.push(await measureRequests('in-process', {}, options));
    lines.push(await measureRequests('redis', { REDIS_URL: redisUrl, CAUSERIE_REDIS_PREFIX: prefix }, options));
    lines.push(await gateLines(options));
  } finally {
    await deletePrefix();
  }
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const line of await runLimitsBench()) console.log(line);
}
