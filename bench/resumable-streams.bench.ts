/**
 * What resumable streams cost: the same streamed completions (POST /v1/chat/completions, a 24-word
 * answer, so 26 events) through a Causerie that records every event in its event log and one that
 * does not (CAUSERIE_STREAM_RESUME_SECONDS=0), in embedded mode (log in memory) and in cluster
 * mode (log in Redis Streams). Reports the Causerie process's CPU time per request and, in cluster
 * mode, the Redis commands and round trips (read events on the server: pipelined commands share
 * one) per request. Redis is a private redis-server on a free port, so other work on the machine
 * does not count. Rounds alternate with and without so drift hits both.
 *
 * Run alone with `node bench/resumable-streams.bench.ts`, or `npm run bench -- resumable-streams`.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/main.ts';
import { startScriptedUpstream } from '../src/providers/mock/scripted-upstream.ts';

const requests = 300;
const concurrency = 10;
const rounds = 3;
const prompt =
  'Causerie relays this sentence back word by word so the benchmark measures the relay itself and not a model that thinks before it answers anything at all';

interface Node {
  pool: Pool;
  key: string;
  child: ChildProcess;
}

/** Asks a forked Causerie for its CPU time so far (µs). */
const cpuOf = (node: Node) =>
  new Promise<number>((resolve) => {
    node.child.once('message', (message) => resolve((message as { cpu: number }).cpu));
    node.child.send('cpu');
  });

async function load(node: Node): Promise<number> {
  const body = JSON.stringify({ model: 'openai/echo', stream: true, messages: [{ role: 'user', content: prompt }] });
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < requests) {
      next++;
      const response = await node.pool.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${node.key}` },
        body,
      });
      for await (const _chunk of response.body);
      if (response.statusCode !== 200) failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

const redisStats = async (redis: Redis) => {
  const info = await redis.info('stats');
  const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1] ?? 0);
  return { commands: field('total_commands_processed'), reads: field('total_reads_processed') };
};

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

export async function runResumableStreamsBench(): Promise<string[]> {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const port = await freePort();
  const redisServer = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    redisServer.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    redisServer.once('exit', () => reject(new Error(`redis-server exited: ${out}`)));
  });
  const redisUrl = `redis://127.0.0.1:${port}`;
  const redis = new Redis(redisUrl);
  const pools: Pool[] = [];
  const lines = [
    `streams  ${requests} streamed completions (26 events each) per round, ${concurrency} at a time, ${rounds} rounds; with and without the event log`,
    '  mode      | CPU µs/request  with   without  ratio | Redis commands/request  with  without | Redis round trips/request  with  without | failures',
  ];
  try {
    const upstream = await startRole<{ url: string }>('upstream', {}, children);
    const start = async (env: Record<string, string>): Promise<Node> => {
      const dir = mkdtempSync(join(tmpdir(), 'causerie-bench-streams-'));
      dirs.push(dir);
      const started = await startRole<{ url: string; adminKey: string }>(
        'causerie',
        { CAUSERIE_DATA_DIR: dir, OPENAI_BASE_URL: `${upstream.url}/v1`, ...env },
        children,
      );
      const pool = new Pool(started.url, { connections: concurrency });
      pools.push(pool);
      return { pool, key: started.adminKey, child: children.at(-1)! };
    };
    for (const mode of ['memory', 'redis'] as const) {
      const shared: Record<string, string> =
        mode === 'redis' ? { REDIS_URL: redisUrl, CAUSERIE_REDIS_PREFIX: 'bench:' } : {};
      const withLog = await start(shared);
      const withoutLog = await start({ ...shared, CAUSERIE_STREAM_RESUME_SECONDS: '0' });
      const totals = new Map<Node, { cpu: number; commands: number; reads: number; failures: number }>();
      for (const node of [withLog, withoutLog]) {
        await load(node); // warm code paths and connections
        totals.set(node, { cpu: 0, commands: 0, reads: 0, failures: 0 });
      }
      for (let round = 0; round < rounds; round++) {
        for (const node of round % 2 === 0 ? [withLog, withoutLog] : [withoutLog, withLog]) {
          const cpuBefore = await cpuOf(node);
          const redisBefore = await redisStats(redis);
          const failures = await load(node);
          const redisAfter = await redisStats(redis);
          const total = totals.get(node)!;
          total.cpu += (await cpuOf(node)) - cpuBefore;
          // Our own INFO call is one command and one read.
          total.commands += redisAfter.commands - redisBefore.commands - 1;
          total.reads += redisAfter.reads - redisBefore.reads - 1;
          total.failures += failures;
        }
      }
      const per = (node: Node, field: 'cpu' | 'commands' | 'reads') => totals.get(node)![field] / (requests * rounds);
      const w = (field: 'cpu' | 'commands' | 'reads') => per(withLog, field);
      const wo = (field: 'cpu' | 'commands' | 'reads') => per(withoutLog, field);
      const redisColumns =
        mode === 'redis'
          ? `${w('commands').toFixed(1).padStart(29)} ${wo('commands').toFixed(1).padStart(8)} | ${w('reads').toFixed(1).padStart(31)} ${wo('reads').toFixed(1).padStart(8)}`
          : `${'-'.padStart(29)} ${'-'.padStart(8)} | ${'-'.padStart(31)} ${'-'.padStart(8)}`;
      lines.push(
        `  ${mode.padEnd(9)} | ${w('cpu').toFixed(0).padStart(20)} ${wo('cpu').toFixed(0).padStart(9)} ${(w('cpu') / wo('cpu')).toFixed(2).padStart(6)} |${redisColumns} | ${totals.get(withLog)!.failures + totals.get(withoutLog)!.failures}`,
      );
    }
    lines.push(
      '  ratio = CPU with the event log ÷ CPU without it; Redis round trips = read events on the Redis server (auto-pipelined commands share one).',
    );
  } finally {
    for (const pool of pools) await pool.close();
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map(
        (child) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null))),
      ),
    );
    redis.disconnect();
    redisServer.kill('SIGTERM');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

const upstreamKey = 'bench-upstream-key';

function startRole<T>(
  role: 'upstream' | 'causerie',
  env: Record<string, string>,
  children: ChildProcess[],
): Promise<T> {
  const child = fork(fileURLToPath(import.meta.url), [`--role=${role}`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as T));
    child.once('exit', (code) => reject(new Error(`the ${role} process exited (${code}) before it was ready`)));
  });
}

async function runRole(role: string): Promise<void> {
  if (role === 'upstream') {
    const upstream = await startScriptedUpstream({ record: false, apiKey: upstreamKey });
    process.once('SIGTERM', () => void upstream.close().then(() => process.exit(0)));
    process.send!({ url: upstream.url });
    return;
  }
  let banner = '';
  const server = await startServer(
    loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      CAUSERIE_DATA_DIR: process.env.CAUSERIE_DATA_DIR!,
      CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-bench',
      OPENAI_BASE_URL: process.env.OPENAI_BASE_URL!,
      OPENAI_API_KEY: upstreamKey,
      CAUSERIE_MODELS_REFRESH: '0',
      LOG_LEVEL: 'silent',
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      ...(process.env.CAUSERIE_REDIS_PREFIX ? { CAUSERIE_REDIS_PREFIX: process.env.CAUSERIE_REDIS_PREFIX } : {}),
      ...(process.env.CAUSERIE_STREAM_RESUME_SECONDS
        ? { CAUSERIE_STREAM_RESUME_SECONDS: process.env.CAUSERIE_STREAM_RESUME_SECONDS }
        : {}),
    }),
    { logger: false, print: (text) => (banner += text) },
  );
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send!({ cpu: user + system });
  });
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.send!({ url: server.url, adminKey: /API_[A-Z0-9_]+/.exec(banner)?.[0] ?? '' });
}

const role = process.argv.find((arg) => arg.startsWith('--role='))?.slice('--role='.length);
if (role) await runRole(role);
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const line of await runResumableStreamsBench()) console.log(line);
}
