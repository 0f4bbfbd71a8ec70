/**
 * What Causerie adds to a completion: POST /v1/chat/completions through Causerie (auth,
 * registry, OpenAI-compatible adapter, usage row) against the same scripted upstream called
 * directly, JSON and streamed, at several concurrencies. Everything on loopback, every loop bounded.
 *
 * Three processes, as in production: the load client (this one), Causerie, and the scripted
 * upstream (both forked from this file). For each mode and concurrency, rounds alternate direct and
 * Causerie so drift on a shared machine hits both; requests/s is the median round, latencies are
 * over every request of every round.
 *
 * Run alone with `node bench/completions.bench.ts`, or through `npm run bench` (bench/run.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/main.ts';
import { startScriptedUpstream } from '../src/providers/mock/scripted-upstream.ts';

interface Options {
  concurrencies: number[];
  /** Requests per target and round (at least 5 per connection). */
  requests: (concurrency: number) => number;
  rounds: number;
}

const defaults: Options = { concurrencies: [1, 10, 50, 200], requests: (c) => Math.max(400, c * 8), rounds: 3 };

// A short prompt echoed back as a 24-word answer: 24 chunks when streamed.
const prompt =
  'Causerie relays this sentence back word by word so the benchmark measures the relay itself and not a model that thinks before it answers anything at all';

interface Target {
  name: 'direct' | 'causerie';
  pool: Pool;
  headers: Record<string, string>;
  model: string;
}

/** JSON and streamed against an upstream that answers at once; then JSON against one that takes 20 ms, like a fast real model. */
interface Scenario {
  label: string;
  stream: boolean;
  upstreamDelayMs: number;
  /**
   * Causerie answers through the chat-API dialect's POST /v1/chat/stream instead: a session is created and the
   * prompt and reply stored as they stream (the first text written before it is sent), the cost of
   * a stored conversation against the same upstream stream.
   */
  stored?: boolean;
}

const scenarios: Scenario[] = [
  { label: 'json', stream: false, upstreamDelayMs: 0 },
  { label: 'stream', stream: true, upstreamDelayMs: 0 },
  { label: 'json+20ms', stream: false, upstreamDelayMs: 20 },
  { label: 'stored', stream: true, upstreamDelayMs: 0, stored: true },
];

interface Sample {
  firstByteMs: number;
  lastByteMs: number;
}

/** Runs `total` requests with `concurrency` workers; returns each request's timings and the wall time. */
async function load(
  target: Target,
  scenario: Scenario,
  concurrency: number,
  total: number,
): Promise<{ samples: Sample[]; seconds: number; failures: number }> {
  const content = scenario.upstreamDelayMs ? `[[delay:${scenario.upstreamDelayMs}]] ${prompt}` : prompt;
  const body = JSON.stringify({ model: target.model, stream: scenario.stream, messages: [{ role: 'user', content }] });
  const path = scenario.stored && target.name === 'causerie' ? '/v1/chat/stream' : '/v1/chat/completions';
  const samples: Sample[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) {
      next++;
      const t0 = performance.now();
      const response = await target.pool.request({ path, method: 'POST', headers: target.headers, body });
      let firstByte = 0;
      for await (const _chunk of response.body) if (!firstByte) firstByte = performance.now();
      const end = performance.now();
      if (response.statusCode !== 200) failures++;
      samples.push({ firstByteMs: (firstByte || end) - t0, lastByteMs: end - t0 });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { samples, seconds: (performance.now() - started) / 1000, failures };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const median = (values: number[]) => percentile(values, 50);
const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(1));

/** The benchmark lines (a table); bench/run.ts prints them. */
export async function runCompletionsBench(overrides: Partial<Options> = {}): Promise<string[]> {
  const options = { ...defaults, ...overrides };
  const dataDir = mkdtempSync(join(tmpdir(), 'causerie-bench-completions-'));
  const children: ChildProcess[] = [];
  const upstream = await startRole<{ url: string }>('upstream', {}, children);
  const server = await startRole<{ url: string; adminKey: string }>(
    'causerie',
    { CAUSERIE_DATA_DIR: dataDir, OPENAI_BASE_URL: `${upstream.url}/v1` },
    children,
  );
  const adminKey = server.adminKey;
  const maxConcurrency = Math.max(...options.concurrencies);
  const direct: Target = {
    name: 'direct',
    pool: new Pool(upstream.url, { connections: maxConcurrency }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${upstreamKey}` },
    model: 'echo',
  };
  const causerie: Target = {
    name: 'causerie',
    pool: new Pool(server.url, { connections: maxConcurrency }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    model: 'openai/echo',
  };
  const lines = [
    'completions  POST /v1/chat/completions: Causerie (auth, registry, adapter, usage row in SQLite) vs the scripted upstream called directly;',
    '             client, Causerie and upstream are three processes on loopback (2 cores, shared with other work)',
    '  mode       conc | req/s direct  causerie  ratio | p50 ms direct  causerie  added | p99 ms direct  causerie | first byte p50 direct/causerie | failures',
  ];
  try {
    for (const scenario of scenarios) {
      const stream = scenario.stream;
      for (const concurrency of options.concurrencies) {
        // A slow upstream needs fewer requests for the same precision (and a bounded run time).
        const total = scenario.upstreamDelayMs ? Math.max(100, concurrency * 4) : options.requests(concurrency);
        const results = {
          direct: { rps: [] as number[], samples: [] as Sample[], failures: 0 },
          causerie: { rps: [] as number[], samples: [] as Sample[], failures: 0 },
        };
        await load(direct, scenario, concurrency, Math.min(total, concurrency * 2)); // warm connections and code paths
        await load(causerie, scenario, concurrency, Math.min(total, concurrency * 2));
        for (let round = 0; round < options.rounds; round++) {
          const order = round % 2 === 0 ? [direct, causerie] : [causerie, direct];
          for (const target of order) {
            const run = await load(target, scenario, concurrency, total);
            const into = results[target.name];
            into.rps.push(run.samples.length / run.seconds);
            into.samples.push(...run.samples);
            into.failures += run.failures;
          }
        }
        const d = results.direct;
        const c = results.causerie;
        const p50 = (s: Sample[]) =>
          percentile(
            s.map((x) => x.lastByteMs),
            50,
          );
        const p99 = (s: Sample[]) =>
          percentile(
            s.map((x) => x.lastByteMs),
            99,
          );
        const first = (s: Sample[]) =>
          percentile(
            s.map((x) => x.firstByteMs),
            50,
          );
        lines.push(
          `  ${scenario.label.padEnd(9)} ${String(concurrency).padStart(4)} | ${median(d.rps).toFixed(0).padStart(12)} ${median(c.rps).toFixed(0).padStart(9)} ${((median(c.rps) / median(d.rps)) * 100).toFixed(0).padStart(5)}% |` +
            ` ${ms(p50(d.samples)).padStart(13)} ${ms(p50(c.samples)).padStart(9)} ${ms(p50(c.samples) - p50(d.samples)).padStart(6)} |` +
            ` ${ms(p99(d.samples)).padStart(13)} ${ms(p99(c.samples)).padStart(9)} |` +
            ` ${(stream ? `${ms(first(d.samples))} / ${ms(first(c.samples))}` : '(= last byte)').padStart(30)} | ${d.failures + c.failures}`,
        );
      }
    }
    lines.push(
      '  stored: Causerie through POST /v1/chat/stream (a session created, prompt and reply stored while streaming) vs the same upstream stream.',
    );
    lines.push(
      '  ratio = Causerie req/s ÷ direct req/s (aim ≥ 80 %); added = Causerie p50 − direct p50, last byte (aim < 1 ms).',
    );
  } finally {
    await direct.pool.close();
    await causerie.pool.close();
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map(
        (child) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null))),
      ),
    );
    rmSync(dataDir, { recursive: true, force: true });
  }
  return lines;
}

const upstreamKey = 'bench-upstream-key';

/** Forks this file in a role and waits for the address it reports. */
function startRole<T>(
  role: 'upstream' | 'causerie',
  env: Record<string, string>,
  children: ChildProcess[],
): Promise<T> {
  // BENCH_PROFILE=<folder> writes a CPU profile of the Causerie process there.
  const execArgv =
    role === 'causerie' && process.env.BENCH_PROFILE
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
      : [];
  const child = fork(fileURLToPath(import.meta.url), [`--role=${role}`], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as T));
    child.once('exit', (code) => reject(new Error(`the ${role} process exited (${code}) before it was ready`)));
  });
}

/** The forked roles: each starts, reports its address to the parent, and runs until SIGTERM. */
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
    }),
    { logger: false, print: (text) => (banner += text) },
  );
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.send!({ url: server.url, adminKey: /API_[A-Z0-9_]+/.exec(banner)?.[0] ?? '' });
}

const role = process.argv.find((arg) => arg.startsWith('--role='))?.slice('--role='.length);
if (role) await runRole(role);
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const line of await runCompletionsBench()) console.log(line);
}
