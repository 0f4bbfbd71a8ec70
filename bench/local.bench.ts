/**
 * Local models: tokens per second streamed through Causerie (POST /v1/chat/completions on a GGUF
 * of its models folder) against node-llama-cpp called directly on the same file, with the same
 * prompt, maximum tokens, sampling (temperature 0), context size, sequences and threads, both
 * warmed by one answer first. Each side runs in a process of its own, started the same way, so
 * neither carries the other's heap, timers or client; rounds alternate the two (ABBA). Models: the
 * shared stories260K.gguf when present beside the repository, and the tiny model the test suite
 * builds (test/fixtures/gguf). Causerie starts as `causerie start` starts it: start-up memory
 * released and the young generation capped (decision 026), which makes it collect garbage more
 * often than a plain Node process; started without, it kept the young generation its start-up had
 * grown and looked faster than it runs.
 *
 * Both sides must generate the same tokens (same count, same text): a side that stopped earlier or
 * later would skew its rate, so a mismatch stops the benchmark.
 *
 * Tokens per second are wall-clock figures, which a busy machine makes swing widely. Two figures
 * resist that better: the median of each round's own ratio (its two answers ran a fraction of a
 * second apart, under the same load), and the CPU time per answer (the Causerie process against the
 * process generating directly, every thread of each, the generation included).
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
import type { ChatRequest } from '../src/providers/provider.ts';
import { toChatHistory, toGenerationOptions } from '../src/providers/local/chat-request-mapping.ts';
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
  /** The answer's text, to check both sides wrote the same. */
  text: string;
  seconds: number;
  /** CPU time of the generating process (all its threads) for this answer. */
  cpuMs: number;
  /** SSE events of Causerie's answer (none for the direct side). */
  events?: number;
}

/** One side of the comparison: a process that generates an answer per call. */
interface Generator {
  run(): Promise<Run>;
}

const cpuMsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

/**
 * node-llama-cpp alone, in this process: the model loaded as Causerie loads it (same context size,
 * sequences and threads), the chat history and generation options built by the provider's own
 * mapping from the request the Causerie side sends, and a signal and stop-on-abort as it passes.
 */
async function directGenerator(path: string): Promise<() => Promise<Omit<Run, 'seconds' | 'cpuMs'>>> {
  const { module, llama } = await llamaRuntime();
  const model = await llama.loadModel({ modelPath: path });
  const context = await model.createContext({
    sequences,
    contextSize: Math.min(localContextSize, model.trainContextSize),
    threads,
  });
  const sequence = context.getSequence();
  const chatWrapper = module.resolveChatWrapper(model);
  const request: ChatRequest = {
    model: 'direct',
    messages: [{ role: 'user', content: prompt }],
    max_tokens: maxTokens,
    temperature: 0,
  };
  return async () => {
    const chat = new module.LlamaChat({ contextSequence: sequence, chatWrapper });
    const before = sequence.tokenMeter.getState();
    let text = '';
    await chat.generateResponse(toChatHistory('direct', request.messages), {
      ...toGenerationOptions(request, maxTokens),
      signal: new AbortController().signal,
      stopOnAbortSignal: true,
      onTextChunk: (piece) => {
        text += piece;
      },
    });
    const tokens = sequence.tokenMeter.diff(before).usedOutputTokens;
    // As Causerie does: the sequence is kept (with what it evaluated) for the next answer.
    chat.dispose({ disposeSequence: false });
    return { tokens, text };
  };
}

/** The same answer streamed through Causerie; tokens are the usage it reports. */
function causerieGenerator(pool: Pool, server: ChildRole, model: string): Generator {
  return {
    async run() {
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
      const body = await response.body.text();
      const seconds = (performance.now() - started) / 1000;
      const cpuMs = (await server.cpu()) - cpu;
      if (response.statusCode !== 200)
        throw new Error(`Causerie answered ${response.statusCode}: ${body.slice(0, 200)}`);
      const usage = /"completion_tokens":(\d+)/.exec(body);
      const events = body.split('\n\n').filter((event) => event.includes('data: '));
      const text = events
        .map((event) => event.slice(event.indexOf('data: ') + 6))
        .filter((data) => data.startsWith('{'))
        .map((data) => (JSON.parse(data) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content)
        .join('');
      return { tokens: usage ? Number(usage[1]) : 0, text, seconds, cpuMs, events: events.length };
    },
  };
}

/** The direct side in its own process: timed there, around the generation alone. */
function directInChild(child: ChildRole): Generator {
  return { run: () => child.request<Run>({ run: true }) };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** Alternates the two sides (ABBA) after warming both; a round is one answer of each. */
async function alternate(a: Generator, b: Generator, count: number): Promise<[Run[], Run[]]> {
  await a.run();
  await b.run();
  const runsA: Run[] = [];
  const runsB: Run[] = [];
  for (let round = 0; round < count; round++) {
    if (round % 2 === 0) {
      runsA.push(await a.run());
      runsB.push(await b.run());
    } else {
      runsB.push(await b.run());
      runsA.push(await a.run());
    }
  }
  return [runsA, runsB];
}

/** The figures of one model: medians, and the median of each round's own Causerie ÷ direct. */
function summarize(direct: Run[], causerie: Run[]) {
  const rate = (run: Run) => run.tokens / run.seconds;
  return {
    direct: median(direct.map(rate)),
    causerie: median(causerie.map(rate)),
    pairedRatio: median(direct.map((run, i) => rate(causerie[i]!) / rate(run))),
    directCpu: median(direct.map((run) => run.cpuMs)),
    causerieCpu: median(causerie.map((run) => run.cpuMs)),
    pairedCpuRatio: median(direct.map((run, i) => causerie[i]!.cpuMs / run.cpuMs)),
    events: median(causerie.map((run) => run.events ?? 0)),
  };
}

/** Both sides wrote the same answer, or the rates compare different work. */
function assertSameAnswers(model: string, direct: Run[], causerie: Run[]) {
  for (const run of [...direct, ...causerie]) {
    if (run.tokens !== direct[0]!.tokens || run.text !== direct[0]!.text)
      throw new Error(
        `${model}: the answers differ (direct ${direct[0]!.tokens} tokens, this one ${run.tokens}): ${JSON.stringify(run.text.slice(0, 80))} vs ${JSON.stringify(direct[0]!.text.slice(0, 80))}`,
      );
  }
}

/** The models compared: the shared stories260K when present, and the test suite's tiny model. */
async function benchModels(modelsDir: string): Promise<Array<{ id: string; file: string }>> {
  const models: Array<{ id: string; file: string }> = [];
  const stories = join(realModelsDir, 'stories260K.gguf');
  if (existsSync(stories)) {
    symlinkSync(stories, join(modelsDir, 'stories260K.gguf'));
    models.push({ id: 'stories260K', file: join(modelsDir, 'stories260K.gguf') });
  } else console.error(`local bench: ${stories} is absent, stories260K is not measured`);
  await writeTinyLlamaGguf(modelsDir, 'tiny-llama.gguf');
  models.push({ id: 'tiny-llama', file: join(modelsDir, 'tiny-llama.gguf') });
  return models;
}

export async function runLocalBench(): Promise<string[]> {
  const modelsDir = mkdtempSync(join(tmpdir(), 'causerie-bench-local-'));
  const children: ChildProcess[] = [];
  const lines = [
    `local        tokens/s streamed through Causerie vs node-llama-cpp called directly (same GGUF, ${threads} thread, ${maxTokens} tokens, temperature 0, ${rounds} alternated rounds, medians)`,
    '  model           | direct tok/s | Causerie tok/s | Causerie ÷ direct, per round (aim ≥ 95 %) | CPU ms/answer direct | Causerie | Causerie ÷ direct | SSE events',
  ];
  const models = await benchModels(modelsDir);
  let pool: Pool | undefined;
  try {
    const server = await startRole('causerie', { CAUSERIE_MODELS_DIR: modelsDir }, children);
    pool = new Pool(server.url, { connections: 1 });
    for (const model of models) {
      const directChild = await startRole('direct', { BENCH_MODEL_FILE: model.file }, children);
      const [direct, causerie] = await alternate(
        directInChild(directChild),
        causerieGenerator(pool, server, `local/${model.id}`),
        rounds,
      );
      directChild.process.kill('SIGTERM');
      assertSameAnswers(model.id, direct, causerie);
      const s = summarize(direct, causerie);
      lines.push(
        `  ${model.id.padEnd(15)} | ${s.direct.toFixed(0).padStart(12)} | ${s.causerie.toFixed(0).padStart(14)} | ${(s.pairedRatio * 100).toFixed(0).padStart(5)} %${' '.repeat(36)} | ${s.directCpu.toFixed(1).padStart(20)} | ${s.causerieCpu.toFixed(1).padStart(8)} | ${(s.pairedCpuRatio * 100).toFixed(0).padStart(15)} % | ${String(s.events).padStart(10)}`,
      );
    }
    return lines;
  } finally {
    await pool?.close();
    await stopChildren(children);
    rmSync(modelsDir, { recursive: true, force: true });
  }
}

interface ChildRole {
  process: ChildProcess;
  url: string;
  adminKey: string;
  /** The process's CPU time so far (ms, every thread). */
  cpu(): Promise<number>;
  request<T>(message: object): Promise<T>;
}

/** This file forked in a role; answers come back in order over IPC. */
async function startRole(
  role: 'causerie' | 'direct',
  env: Record<string, string>,
  children: ChildProcess[],
): Promise<ChildRole> {
  // BENCH_PROFILE=<folder> writes a CPU profile of each child process there.
  const execArgv = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = fork(fileURLToPath(import.meta.url), [`--role=${role}`], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  const replies: Array<(message: unknown) => void> = [];
  const ready = new Promise<{ url: string; adminKey: string }>((resolve, reject) => {
    replies.push(resolve as (message: unknown) => void);
    child.once('exit', (code) => reject(new Error(`the ${role} process exited (${code}) before it was ready`)));
  });
  child.on('message', (message) => {
    const error = (message as { error?: string }).error;
    const reply = replies.shift();
    if (error) reply?.(Promise.reject(new Error(error)));
    else reply?.(message);
  });
  const request = <T>(message: object) =>
    new Promise<T>((resolve) => {
      replies.push(resolve as (message: unknown) => void);
      child.send(message);
    });
  return {
    process: child,
    ...(await ready),
    cpu: async () => (await request<{ cpuMs: number }>({ cpu: true })).cpuMs,
    request,
  };
}

async function runCauserieRole(): Promise<void> {
  let banner = '';
  const server = await startServer(
    loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      CAUSERIE_DATA_DIR: join(process.env.CAUSERIE_MODELS_DIR!, 'data'),
      CAUSERIE_MODELS_DIR: process.env.CAUSERIE_MODELS_DIR!,
      CAUSERIE_LOCAL_THREADS: String(threads),
      CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-bench',
      CAUSERIE_AUTO_PULL: 'false',
      LOG_LEVEL: 'silent',
    }),
    // As `causerie start`: what users run.
    { logger: false, print: (text) => (banner += text), releaseStartupMemory: true },
  );
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.on('message', () => process.send!({ cpuMs: cpuMsOf(process.cpuUsage()) }));
  process.send!({ url: server.url, adminKey: /API_[A-Z0-9_]+/.exec(banner)?.[0] ?? '' });
}

async function runDirectRole(): Promise<void> {
  const generate = await directGenerator(process.env.BENCH_MODEL_FILE!);
  process.once('SIGTERM', () => process.exit(0));
  // One message at a time: the bench waits for each answer before it sends the next.
  process.on('message', (message: { cpu?: boolean; run?: boolean }) => {
    if (message.cpu) return void process.send!({ cpuMs: cpuMsOf(process.cpuUsage()) });
    const cpu = process.cpuUsage();
    const started = performance.now();
    generate().then(
      (answer) => {
        const seconds = (performance.now() - started) / 1000;
        process.send!({ ...answer, seconds, cpuMs: cpuMsOf(process.cpuUsage(cpu)) } satisfies Run);
      },
      (error: Error) => process.send!({ error: error.message }),
    );
  });
  process.send!({ url: '', adminKey: '' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--role=causerie')) await runCauserieRole();
  else if (process.argv.includes('--role=direct')) await runDirectRole();
  else for (const line of await runLocalBench()) console.log(line);
}
