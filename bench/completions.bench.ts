/**
 * What Causerie adds to a completion: POST /v1/chat/completions through Causerie (auth, registry,
 * OpenAI-compatible adapter, usage row) against the same scripted upstream called directly and
 * through a bare relay (bench/bare-relay.ts: the floor for any Node relay), JSON and streamed, at
 * several concurrencies; then the stored path (a new session per request, and a session with 20
 * messages of history) against the stateless stream. Everything on loopback, every loop bounded.
 *
 * Four processes, as in production: the load client (this one), Causerie, the relay and the
 * scripted upstream (forked from this file). For each mode and concurrency, rounds rotate the
 * targets so drift on a shared machine hits all; requests/s is the median round, latencies are
 * over every request of every round, CPU ms per request is the process's own CPU time (the least
 * noisy cost measure), event-loop delay comes from Causerie's /metrics.
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
import { startBareRelay } from './bare-relay.ts';

interface Options {
  concurrencies: number[];
  /** Requests per target and round (at least 5 per connection). */
  requests: (concurrency: number) => number;
  rounds: number;
  /** Scenario labels to run (default: all). */
  only?: string[];
}

const defaults: Options = { concurrencies: [1, 10, 50, 200], requests: (c) => Math.max(400, c * 8), rounds: 3 };

// A short prompt echoed back as a 24-word answer: 24 chunks when streamed.
const prompt =
  'Causerie relays this sentence back word by word so the benchmark measures the relay itself and not a model that thinks before it answers anything at all';

type TargetName = 'direct' | 'relay' | 'causerie';
const targetNames: TargetName[] = ['direct', 'relay', 'causerie'];

export interface Target {
  name: TargetName;
  url: string;
  pool: Pool;
  headers: Record<string, string>;
  model: string;
  /** The process serving it, asked for its CPU time (the upstream's for direct). */
  child: ChildProcess;
}

/**
 * JSON and streamed against an upstream that answers at once; JSON against one that takes 20 ms,
 * like a fast real model; then Causerie's stored path (the other targets stream as usual).
 */
interface Scenario {
  label: string;
  stream: boolean;
  upstreamDelayMs: number;
  /**
   * Causerie answers through the chat-API dialect's POST /v1/chat/stream instead, the prompt and reply stored
   * as they stream (the first text written before it is sent): `new-session` creates a session per
   * request; `session` continues a session holding 20 messages, a fresh one per request (a session
   * continued again would hold two more each time).
   */
  stored?: 'new-session' | 'session';
}

const scenarios: Scenario[] = [
  { label: 'json', stream: false, upstreamDelayMs: 0 },
  { label: 'stream', stream: true, upstreamDelayMs: 0 },
  { label: 'json+20ms', stream: false, upstreamDelayMs: 20 },
  { label: 'new-sess', stream: true, upstreamDelayMs: 0, stored: 'new-session' },
  { label: 'session20', stream: true, upstreamDelayMs: 0, stored: 'session' },
];

interface Sample {
  firstByteMs: number;
  lastByteMs: number;
}

/**
 * Runs `total` requests with `concurrency` workers; returns each request's timings and the wall time.
 * Causerie's `session` requests each continue one of `sessions` (seeded beforehand, one per request).
 */
async function load(
  target: Target,
  scenario: Scenario,
  concurrency: number,
  total: number,
  sessions: number[] = [],
): Promise<{ samples: Sample[]; seconds: number; failures: number }> {
  const content = scenario.upstreamDelayMs ? `[[delay:${scenario.upstreamDelayMs}]] ${prompt}` : prompt;
  const stored = scenario.stored && target.name === 'causerie';
  const path = stored ? '/v1/chat/stream' : '/v1/chat/completions';
  const plain = JSON.stringify({ model: target.model, stream: scenario.stream, messages: [{ role: 'user', content }] });
  const bodyOf = (request: number) =>
    stored && scenario.stored === 'session'
      ? JSON.stringify({ session_id: sessions[request], stream: true, messages: [{ role: 'user', content }] })
      : plain;
  const samples: Sample[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) {
      const body = bodyOf(next++);
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

/** `count` sessions each holding 20 messages (10 exchanges), seeded `concurrency` at a time. */
async function seedSessions(causerie: Target, count: number, concurrency: number): Promise<number[]> {
  const history = Array.from({ length: 18 }, (_, i) => ({
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `${i % 2 === 0 ? 'Question' : 'Answer'} ${i}: ${prompt}`,
  }));
  // The last user message and its reply make 20.
  const body = JSON.stringify({
    model: causerie.model,
    stream: false,
    messages: [...history, { role: 'user', content: prompt }],
  });
  const ids: number[] = [];
  const seed = async () => {
    while (ids.length < count) {
      const index = ids.push(0) - 1;
      const response = await causerie.pool.request({
        path: '/v1/chat/stream',
        method: 'POST',
        headers: causerie.headers,
        body,
      });
      const reply = (await response.body.json()) as { session_id?: number };
      if (typeof reply.session_id !== 'number') throw new Error(`cannot seed a session: ${JSON.stringify(reply)}`);
      ids[index] = reply.session_id;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, seed));
  return ids;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const median = (values: number[]) => percentile(values, 50);
const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(1));
const pad = (text: string, width: number) => text.padStart(width);

/** The process's CPU time in milliseconds (user + system), asked over IPC. */
function cpuMs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      const cpu = (message as { cpu?: { user: number; system: number } }).cpu;
      if (!cpu) return;
      child.off('message', onMessage);
      resolve((cpu.user + cpu.system) / 1000);
    };
    child.on('message', onMessage);
    child.send('cpu');
  });
}

/** Causerie's event-loop delay since the previous scrape (a scrape resets it), in ms by quantile. */
async function loopDelay(causerie: Target): Promise<Record<string, number>> {
  const response = await causerie.pool.request({ path: '/metrics', method: 'GET' });
  const text = await response.body.text();
  const out: Record<string, number> = {};
  for (const match of text.matchAll(/^causerie_event_loop_delay_seconds\{quantile="([^"]+)"\} (\S+)$/gm))
    out[match[1]!] = Number(match[2]) * 1000;
  return out;
}

interface Measured {
  rps: number[];
  samples: Sample[];
  failures: number;
  cpuMs: number;
  requests: number;
  loopP99: number[];
  loopMax: number;
}

/** The benchmark lines (a table); bench/run.ts prints them. */
export async function runCompletionsBench(overrides: Partial<Options> = {}): Promise<string[]> {
  const options = { ...defaults, ...overrides };
  const dataDir = mkdtempSync(join(tmpdir(), 'causerie-bench-completions-'));
  const children: ChildProcess[] = [];
  const maxConcurrency = Math.max(...options.concurrencies);
  const targets: Target[] = [];
  try {
    const { targets: started } = await startTargets(dataDir, maxConcurrency, children);
    targets.push(...started);
    const causerie = targets.find((t) => t.name === 'causerie')!;
    const lines = [
      'completions  Causerie (auth, registry, adapter, usage row in SQLite) vs the scripted upstream called directly and a bare node:http relay;',
      '             client, Causerie, relay and upstream are four processes on loopback (2 cores, shared with other work)',
      `  ${'mode'.padEnd(9)} conc | req/s ${pad('direct', 7)} ${pad('relay', 7)} ${pad('causerie', 8)} ${pad('c÷relay', 7)} | CPU ms/req ${pad('relay', 6)} ${pad('causerie', 8)} ${pad('ratio', 5)} |` +
        ` p50 ms ${pad('direct', 6)} ${pad('relay', 6)} ${pad('causerie', 8)} | p99 ms ${pad('direct', 6)} ${pad('relay', 6)} ${pad('causerie', 8)} | first byte p50 d/r/c | loop p99/max ms | failures`,
    ];
    const statelessStreamCpu = new Map<number, number>();
    const storedCpu = new Map<string, number>();
    for (const scenario of scenarios) {
      if (options.only && !options.only.includes(scenario.label)) continue;
      for (const concurrency of options.concurrencies) {
        // A slow upstream needs fewer requests for the same precision (and a bounded run time).
        const total = scenario.upstreamDelayMs ? Math.max(100, concurrency * 4) : options.requests(concurrency);
        // Sessions for Causerie's requests, seeded before each load, outside what is measured.
        const sessionsFor = (target: Target, count: number) =>
          scenario.stored === 'session' && target.name === 'causerie'
            ? seedSessions(causerie, count, concurrency)
            : Promise.resolve([]);
        const results = Object.fromEntries(
          targetNames.map((name) => [
            name,
            { rps: [], samples: [], failures: 0, cpuMs: 0, requests: 0, loopP99: [], loopMax: 0 } as Measured,
          ]),
        ) as Record<TargetName, Measured>;
        for (const target of targets) {
          const warm = Math.min(total, concurrency * 2);
          await load(target, scenario, concurrency, warm, await sessionsFor(target, warm)); // warm connections and code paths
        }
        for (let round = 0; round < options.rounds; round++) {
          const order = [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)];
          for (const target of order) {
            const into = results[target.name];
            const sessions = await sessionsFor(target, total);
            if (target.name === 'causerie') await loopDelay(causerie);
            const cpuBefore = await cpuMs(target.child);
            const run = await load(target, scenario, concurrency, total, sessions);
            into.cpuMs += (await cpuMs(target.child)) - cpuBefore;
            into.requests += run.samples.length;
            if (target.name === 'causerie') {
              const delay = await loopDelay(causerie);
              into.loopP99.push(delay['0.99'] ?? NaN);
              into.loopMax = Math.max(into.loopMax, delay.max ?? 0);
            }
            into.rps.push(run.samples.length / run.seconds);
            into.samples.push(...run.samples);
            into.failures += run.failures;
          }
        }
        const { direct: d, relay: r, causerie: c } = results;
        const last = (s: Sample[], p: number) =>
          percentile(
            s.map((x) => x.lastByteMs),
            p,
          );
        const first = (s: Sample[]) =>
          percentile(
            s.map((x) => x.firstByteMs),
            50,
          );
        const cpu = (m: Measured) => m.cpuMs / m.requests;
        if (scenario.label === 'stream') statelessStreamCpu.set(concurrency, cpu(c));
        if (scenario.stored) storedCpu.set(`${scenario.stored}:${concurrency}`, cpu(c));
        lines.push(
          `  ${scenario.label.padEnd(9)} ${pad(String(concurrency), 4)} |       ${pad(median(d.rps).toFixed(0), 7)} ${pad(median(r.rps).toFixed(0), 7)} ${pad(median(c.rps).toFixed(0), 8)} ${pad(`${((median(c.rps) / median(r.rps)) * 100).toFixed(0)}%`, 7)} |` +
            `            ${pad(cpu(r).toFixed(3), 6)} ${pad(cpu(c).toFixed(3), 8)} ${pad(`${(cpu(c) / cpu(r)).toFixed(1)}×`, 5)} |` +
            `        ${pad(ms(last(d.samples, 50)), 6)} ${pad(ms(last(r.samples, 50)), 6)} ${pad(ms(last(c.samples, 50)), 8)} |` +
            `        ${pad(ms(last(d.samples, 99)), 6)} ${pad(ms(last(r.samples, 99)), 6)} ${pad(ms(last(c.samples, 99)), 8)} |` +
            ` ${pad(scenario.stream ? `${ms(first(d.samples))}/${ms(first(r.samples))}/${ms(first(c.samples))}` : '(= last byte)', 20)} |` +
            ` ${pad(`${ms(median(c.loopP99))}/${ms(c.loopMax)}`, 15)} | ${d.failures + r.failures + c.failures}`,
        );
      }
    }
    lines.push(
      '  new-sess: Causerie through POST /v1/chat/stream, a session created per request; session20: a session holding 20 messages continued,',
      '  a fresh one per request (prompt and reply stored while streaming); direct and relay stream the same upstream answer.',
      '  c÷relay = Causerie req/s ÷ relay req/s; CPU ratio = Causerie CPU ms per request ÷ relay (aim ≤ 2×); loop = event-loop delay (/metrics).',
    );
    for (const concurrency of options.concurrencies) {
      const base = statelessStreamCpu.get(concurrency);
      const created = storedCpu.get(`new-session:${concurrency}`);
      const continued = storedCpu.get(`session:${concurrency}`);
      if (base && created && continued)
        lines.push(
          `  stored cost at ${concurrency} connections (CPU ms per request ÷ a stateless stream; aim ≤ 3×): new session ${(created / base).toFixed(1)}×, 20-message session ${(continued / base).toFixed(1)}×`,
        );
    }
    return lines;
  } finally {
    await Promise.all(targets.map((target) => target.pool.close()));
    await stopChildren(children);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const upstreamKey = 'bench-upstream-key';
const relayKey = 'bench-relay-key';

/** Forks the upstream, the relay and Causerie, and returns a target for each. */
export async function startTargets(
  dataDir: string,
  connections: number,
  children: ChildProcess[],
  extraEnv: Record<string, string> = {},
): Promise<{ targets: Target[]; adminKey: string }> {
  const upstream = await startRole<{ url: string }>('upstream', {}, children);
  const relay = await startRole<{ url: string }>('relay', { UPSTREAM_BASE_URL: `${upstream.url}/v1` }, children);
  const server = await startRole<{ url: string; adminKey: string }>(
    'causerie',
    { CAUSERIE_DATA_DIR: dataDir, OPENAI_BASE_URL: `${upstream.url}/v1`, ...extraEnv },
    children,
  );
  const [upstreamChild, relayChild, causerieChild] = children.slice(-3) as [ChildProcess, ChildProcess, ChildProcess];
  const json = { 'content-type': 'application/json' };
  return {
    adminKey: server.adminKey,
    targets: [
      {
        name: 'direct',
        url: upstream.url,
        pool: new Pool(upstream.url, { connections }),
        headers: { ...json, authorization: `Bearer ${upstreamKey}` },
        model: 'echo',
        child: upstreamChild,
      },
      {
        name: 'relay',
        url: relay.url,
        pool: new Pool(relay.url, { connections }),
        headers: { ...json, authorization: `Bearer ${relayKey}` },
        model: 'echo',
        child: relayChild,
      },
      {
        name: 'causerie',
        url: server.url,
        pool: new Pool(server.url, { connections }),
        headers: { ...json, authorization: `Bearer ${server.adminKey}` },
        model: 'openai/echo',
        child: causerieChild,
      },
    ],
  };
}

export async function stopChildren(children: ChildProcess[]): Promise<void> {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(
    children.map(
      (child) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null))),
    ),
  );
}

/** Forks this file in a role and waits for the address it reports. */
function startRole<T>(
  role: 'upstream' | 'relay' | 'causerie',
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
  // The parent asks each process for its CPU time around every measured round.
  process.on('message', (message) => {
    if (message === 'cpu') process.send!({ cpu: process.cpuUsage() });
  });
  if (role === 'upstream') {
    const upstream = await startScriptedUpstream({ record: false, apiKey: upstreamKey });
    process.once('SIGTERM', () => void upstream.close().then(() => process.exit(0)));
    process.send!({ url: upstream.url });
    return;
  }
  if (role === 'relay') {
    const relay = await startBareRelay({
      upstreamBaseUrl: process.env.UPSTREAM_BASE_URL!,
      upstreamKey,
      key: relayKey,
    });
    process.once('SIGTERM', () => void relay.close().then(() => process.exit(0)));
    process.send!({ url: relay.url });
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
      CAUSERIE_AUTO_PULL: 'false',
      LOG_LEVEL: 'silent',
    }),
    // As `causerie start` does: the memory start-up used is given back before listening.
    { logger: false, print: (text) => (banner += text), releaseStartupMemory: true },
  );
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.send!({ url: server.url, adminKey: /API_[A-Z0-9_]+/.exec(banner)?.[0] ?? '' });
}

// Only when this file is the one run (other benchmarks import it, and fork roles of their own).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const role = process.argv.find((arg) => arg.startsWith('--role='))?.slice('--role='.length);
  if (role) await runRole(role);
  else for (const line of await runCompletionsBench()) console.log(line);
}
