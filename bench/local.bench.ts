/**
 * Local models: tokens per second streamed through Causerie (POST /v1/chat/completions on a GGUF
 * of its models folder) against node-llama-cpp called directly on the same file, with the same
 * prompt, maximum tokens, sampling (temperature 0), context size, sequences and threads, both
 * warmed by one answer first. Causerie runs in its own process; rounds alternate the two. Models:
 * the shared stories260K.gguf when present beside the repository, and the tiny model the test
 * suite builds (test/fixtures/gguf).
 *
 * Tokens per second are wall-clock figures, which a busy machine makes swing widely; the CPU time
 * per answer (the Causerie process against the process generating directly, every thread of each,
 * the generation included) is the steadier comparison there.
 *
 * `npm run bench -- local` (not part of the default run: it needs the local engine).
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realModelsDir } from '../test/helpers/real-models.ts';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/main.ts';
import { llamaRuntime } from '../src/providers/local/llama-runtime.ts';
import { localContextSize } from '../src/providers/local/local-models.ts';
import { writeTinyLlamaGguf } from '../test/fixtures/gguf/build-tiny-llama.ts';
import { stopChildren } from './completions.bench.ts';

const threads = 1;
// As the local provider loads a model: two sequences, its default context size.
const sequences = 2;
const maxTokens = 200;
const rounds = 21;
const prompt = 'Once upon a time';

interface Run {
  tokens: number;
  seconds: number;
  /** CPU time of the generating process (all its threads) for this answer. */
  cpuMs: number;
}

const cpuMsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

/** node-llama-cpp alone: the model loaded as Causerie loads it, one answer generated per call. */
async function directRunner(path: string): Promise<{ run(): Promise<Run>; close(): Promise<void> }> {
  const { module, llama } = await llamaRuntime();
  const model = await llama.loadModel({ modelPath: path });
  const context = await model.createContext({
    sequences,
    contextSize: Math.min(localContextSize, model.trainContextSize),
    threads,
  });
  const sequence = context.getSequence();
  const chatWrapper = module.resolveChatWrapper(model);
  return {
    async run() {
      const chat = new module.LlamaChat({ contextSequence: sequence, chatWrapper });
      const before = sequence.tokenMeter.getState();
      const cpu = process.cpuUsage();
      const started = performance.now();
      await chat.generateResponse(
        [
          { type: 'user', text: prompt },
          { type: 'model', response: [] },
        ],
        {
          maxTokens,
          temperature: 0,
          onTextChunk: () => {},
        },
      );
      const seconds = (performance.now() - started) / 1000;
      const cpuMs = cpuMsOf(process.cpuUsage(cpu));
      const tokens = sequence.tokenMeter.diff(before).usedOutputTokens;
      // As Causerie does: the sequence is kept (with what it evaluated) for the next answer.
      chat.dispose({ disposeSequence: false });
      return { tokens, seconds, cpuMs };
    },
    async close() {
      await context.dispose();
      await model.dispose();
    },
  };
}

/** The same answer streamed through Causerie; tokens are the usage it reports. */
async function causerieRun(pool: Pool, server: CauserieProcess, model: string): Promise<Run> {
  const cpu = await server.cpu();
  const started = performance.now();
  const response = await pool.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
    body: JSON.stringify({
      model,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: maxTokens,
      temperature: 0,
      messages: [{ role: 'user', content: prompt }],
    }),
  });
  const text = await response.body.text();
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = (await server.cpu()) - cpu;
  if (response.statusCode !== 200) throw new Error(`Causerie answered ${response.statusCode}: ${text.slice(0, 200)}`);
  const usage = /"completion_tokens":(\d+)/.exec(text);
  return { tokens: usage ? Number(usage[1]) : 0, seconds, cpuMs };
}

/** The median round: a shared machine makes single rounds swing widely. */
const median = (runs: Run[], of: (run: Run) => number) => {
  const values = runs.map(of).sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
};

export async function runLocalBench(): Promise<string[]> {
  const modelsDir = mkdtempSync(join(tmpdir(), 'causerie-bench-local-'));
  const children: ChildProcess[] = [];
  const lines = [
    `local        tokens/s streamed through Causerie vs node-llama-cpp called directly (same GGUF, ${threads} thread, ${maxTokens} tokens, temperature 0, median of ${rounds} rounds)`,
    '  model           | direct tok/s | Causerie tok/s | Causerie ÷ direct (aim ≥ 95 %) | CPU ms/answer direct | Causerie',
  ];
  const models: Array<{ id: string; file: string }> = [];
  const stories = join(realModelsDir, 'stories260K.gguf');
  if (existsSync(stories)) {
    symlinkSync(stories, join(modelsDir, 'stories260K.gguf'));
    models.push({ id: 'stories260K', file: join(modelsDir, 'stories260K.gguf') });
  }
  await writeTinyLlamaGguf(modelsDir, 'tiny-llama.gguf');
  models.push({ id: 'tiny-llama', file: join(modelsDir, 'tiny-llama.gguf') });
  let pool: Pool | undefined;
  try {
    const server = await startCauserie(modelsDir, children);
    pool = new Pool(server.url, { connections: 1 });
    for (const model of models) {
      const direct = await directRunner(model.file);
      const directRuns: Run[] = [];
      const causerieRuns: Run[] = [];
      try {
        // Warm both (the first Causerie request loads the model).
        await direct.run();
        await causerieRun(pool, server, `local/${model.id}`);
        for (let round = 0; round < rounds; round++) {
          if (round % 2 === 0) {
            directRuns.push(await direct.run());
            causerieRuns.push(await causerieRun(pool, server, `local/${model.id}`));
          } else {
            causerieRuns.push(await causerieRun(pool, server, `local/${model.id}`));
            directRuns.push(await direct.run());
          }
        }
      } finally {
        await direct.close();
      }
      const rate = (run: Run) => run.tokens / run.seconds;
      const d = median(directRuns, rate);
      const c = median(causerieRuns, rate);
      const cpu = (runs: Run[]) => median(runs, (run) => run.cpuMs).toFixed(1);
      lines.push(
        `  ${model.id.padEnd(15)} | ${d.toFixed(0).padStart(12)} | ${c.toFixed(0).padStart(14)} | ${((c / d) * 100).toFixed(0).padStart(5)} %${' '.repeat(25)} | ${cpu(directRuns).padStart(20)} | ${cpu(causerieRuns).padStart(8)}`,
      );
    }
    return lines;
  } finally {
    await pool?.close();
    await stopChildren(children);
    rmSync(modelsDir, { recursive: true, force: true });
  }
}

interface CauserieProcess {
  url: string;
  adminKey: string;
  /** The process's CPU time so far (ms, every thread). */
  cpu(): Promise<number>;
}

/** Causerie in its own process, serving the models folder. */
async function startCauserie(modelsDir: string, children: ChildProcess[]): Promise<CauserieProcess> {
  const dataDir = join(modelsDir, 'data');
  // BENCH_PROFILE=<folder> writes a CPU profile of the Causerie process there.
  const execArgv = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = fork(fileURLToPath(import.meta.url), ['--role=causerie'], {
    execArgv,
    env: { ...process.env, CAUSERIE_DATA_DIR: dataDir, CAUSERIE_MODELS_DIR: modelsDir },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  const ready = await new Promise<{ url: string; adminKey: string }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { url: string; adminKey: string }));
    child.once('exit', (code) => reject(new Error(`Causerie exited (${code}) before it was ready`)));
  });
  return {
    ...ready,
    cpu: () =>
      new Promise((resolve) => {
        child.once('message', (message) => resolve((message as { cpuMs: number }).cpuMs));
        child.send('cpu');
      }),
  };
}

async function runCauserieRole(): Promise<void> {
  let banner = '';
  const server = await startServer(
    loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      CAUSERIE_DATA_DIR: process.env.CAUSERIE_DATA_DIR!,
      CAUSERIE_MODELS_DIR: process.env.CAUSERIE_MODELS_DIR!,
      CAUSERIE_LOCAL_THREADS: String(threads),
      CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-bench',
      CAUSERIE_AUTO_PULL: 'false',
      LOG_LEVEL: 'silent',
    }),
    { logger: false, print: (text) => (banner += text) },
  );
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.send!({ url: server.url, adminKey: /API_[A-Z0-9_]+/.exec(banner)?.[0] ?? '' });
  process.on('message', () => process.send!({ cpuMs: cpuMsOf(process.cpuUsage()) }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--role=causerie')) await runCauserieRole();
  else for (const line of await runLocalBench()) console.log(line);
}
