/**
 * What the principal cache saves per authenticated request: GET /api/v1/me (authentication and
 * little else) with an API key and with an access token, on a server with the cache and one
 * without (CAUSERIE_AUTH_CACHE_SIZE=0), embedded (SQLite) and in cluster mode (PostgreSQL and
 * Redis, where every lookup is a round trip). The two servers run side by side and the rounds
 * alternate between them, so drift on a shared machine hits both alike.
 *
 * Run alone with `node bench/auth.bench.ts`, or through `npm run bench -- auth` (bench/run.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { startServer, type RunningServer } from '../src/main.ts';

const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `causerie-bench-auth:${process.pid}:`;

interface Options {
  /** Requests per server and round. */
  perRound: number;
  rounds: number;
  concurrency: number;
}

const defaults: Options = { perRound: 300, rounds: 5, concurrency: 8 };

async function withDatabase<T>(run: (url: string) => Promise<T>): Promise<T> {
  const name = `causerie_bench_auth_${process.pid}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  try {
    return await run(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
}

async function startBenchServer(env: Record<string, string>): Promise<RunningServer & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'causerie-bench-auth-'));
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    CAUSERIE_DATA_DIR: dataDir,
    CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-bench',
    CAUSERIE_TOKEN_SECRET: 'a-token-secret-shared-by-both-bench-servers',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const server = await startServer(config, { print: () => {}, logger: false });
  return Object.assign(server, { dataDir });
}

/** Sends `count` GET /api/v1/me, `concurrency` at a time; returns wall ms and CPU µs of this process. */
async function load(url: string, authorization: string, count: number, concurrency: number) {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      const response = await fetch(`${url}/api/v1/me`, { headers: { authorization } });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`benchmark request failed: ${response.status} ${text}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuUs: used.user + used.system };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(label: string, env: Record<string, string>, options: Options): Promise<string[]> {
  // The database file of an embedded server belongs to one process: each server gets its own then.
  const cached = await startBenchServer(env);
  const uncached = await startBenchServer({ ...env, CAUSERIE_AUTH_CACHE_SIZE: '0' });
  try {
    const credentials = async (server: RunningServer) => {
      const admin = { userId: 1, role: 'admin' as const };
      const user =
        (await server.services.users.find('bench')) ??
        (await server.services.users.create(admin, { username: 'bench', password: 'bench-password-123' }));
      const { key } = await server.services.apiKeys.create({ userId: user.id, role: 'user' }, { name: 'bench' });
      const token = await server.services.auth.grant(
        { grant_type: 'password', username: 'bench', password: 'bench-password-123' },
        '127.0.0.1',
      );
      return { apiKey: `Bearer ${key}`, accessToken: `Bearer ${token.access_token}` };
    };
    const withCache = await credentials(cached);
    const withoutCache = await credentials(uncached);
    const lines: string[] = [];
    for (const kind of ['apiKey', 'accessToken'] as const) {
      const runCached = () => load(cached.url, withCache[kind], options.perRound, options.concurrency);
      const runUncached = () => load(uncached.url, withoutCache[kind], options.perRound, options.concurrency);
      await runCached();
      await runUncached();
      const ratios: number[] = [];
      const cpu = { cached: [] as number[], uncached: [] as number[] };
      let cachedMs = 0;
      let uncachedMs = 0;
      for (let round = 0; round < options.rounds; round++) {
        let a: Awaited<ReturnType<typeof load>>;
        let b: Awaited<ReturnType<typeof load>>;
        if (round % 2 === 0) [a, b] = [await runCached(), await runUncached()];
        else [b, a] = [await runUncached(), await runCached()];
        cachedMs += a.ms;
        uncachedMs += b.ms;
        ratios.push(b.ms / a.ms);
        cpu.cached.push(a.cpuUs / options.perRound);
        cpu.uncached.push(b.cpuUs / options.perRound);
      }
      const count = options.perRound * options.rounds;
      lines.push(
        `auth  ${label.padEnd(9)} ${kind === 'apiKey' ? 'API key     ' : 'access token'} ×${median(ratios).toFixed(2)} requests/s with the cache` +
          ` (${(count / (cachedMs / 1000)).toFixed(0)} vs ${(count / (uncachedMs / 1000)).toFixed(0)} req/s;` +
          ` CPU ${median(cpu.cached).toFixed(0)} vs ${median(cpu.uncached).toFixed(0)} µs per request, client included;` +
          ` median of ${options.rounds} rounds of ${options.perRound}, concurrency ${options.concurrency})`,
      );
    }
    return lines;
  } finally {
    for (const server of [cached, uncached]) {
      await server.close();
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  }
}

/** The benchmark lines; bench/run.ts prints them. */
export async function runAuthBench(overrides: Partial<Options> = {}): Promise<string[]> {
  const options = { ...defaults, ...overrides };
  const lines = await measure('embedded', {}, options);
  lines.push(
    ...(await withDatabase((databaseUrl) =>
      measure('cluster', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, CAUSERIE_REDIS_PREFIX: prefix }, options),
    )),
  );
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const line of await runAuthBench()) console.log(line);
}
