/**
 * Many streams open at once (1,000 by default; `npm run bench -- open-streams --streams 10000`): every
 * stream is opened in the same instant against an upstream that sends its first chunk at once and
 * then holds the stream, through the upstream directly, the bare relay and Causerie. It measures how
 * soon each client gets its first byte (p50/p99), and the memory each open stream costs the process
 * that relays it: its RSS minus before, per stream actually open, once all are open and have
 * settled (and at the burst's peak). Streams that ended before the last one opened (the answers
 * were five seconds long) and streams that failed made the figure depend on the machine's speed
 * and load as much as on the server. Last, the CPU time
 * of handing that many requests at once to undici's Pool and to the provider pool (src/lib/undici.ts).
 *
 * Run alone with `node bench/open-streams.bench.ts [--streams N]`, or through `npm run bench`.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { Pool as ProviderPool } from '../src/lib/undici.ts';
import { startTargets, stopChildren } from './completions.bench.ts';

// The first chunk at once, then nothing until the client leaves: every stream stays open until all are.
const heldAnswer = '[[hang]] held open';

function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** How long the open streams are held once all are open, for the process to settle, before leaving. */
const settleMs = Number(process.env.OPEN_STREAMS_SETTLE_MS ?? 10_000);

interface OpenRun {
  firstBytes: number[];
  failures: number;
  /** What failed, by error code or status: a busy machine times connections out. */
  failedBy: Map<string, number>;
  /** RSS growth per open stream: at the peak of the burst, and once all were open and had settled. */
  peakKib: number;
  openKib: number;
  seconds: number;
}

/**
 * Opens `count` streams at once and holds every one open until all are (a stream that ended before
 * the last one opened would be counted without being held). Memory is counted per stream actually
 * open: the serving process's RSS at the peak (the burst's garbage included), and after `settleMs`
 * with all of them open and idle (what a server holding that many slow answers keeps).
 */
async function openAtOnce(
  url: string,
  headers: Record<string, string>,
  model: string,
  count: number,
  pid: number,
): Promise<OpenRun> {
  // Connections wait in the listen backlog while the server works through the burst: undici's 10 s
  // connect timeout failed hundreds of them on a busy machine, which then were not measured.
  const pool = new Pool(url, { connections: count, connect: { timeout: 60_000 } });
  const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: heldAnswer }] });
  const before = rssKiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 100);
  const firstBytes: number[] = [];
  const open: Array<{ destroy(): unknown }> = [];
  const failedBy = new Map<string, number>();
  const fail = (why: string) => failedBy.set(why, (failedBy.get(why) ?? 0) + 1);
  const started = performance.now();
  let openKib = Number.NaN;
  try {
    await Promise.all(
      Array.from({ length: count }, async () => {
        const t0 = performance.now();
        try {
          const response = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body });
          response.body.on('error', () => {});
          const first = await new Promise<Buffer | undefined>((resolve) => {
            response.body.once('data', resolve);
            response.body.once('end', () => resolve(undefined));
            response.body.once('close', () => resolve(undefined));
          });
          if (response.statusCode !== 200 || !first?.toString().includes('data:')) {
            fail(response.statusCode !== 200 ? String(response.statusCode) : 'no first event');
            response.body.destroy();
            return;
          }
          firstBytes.push(performance.now() - t0);
          response.body.resume();
          open.push(response.body);
        } catch (error) {
          fail((error as { code?: string }).code ?? (error as Error).name);
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    openKib = (rssKiB(pid) - before) / open.length;
  } finally {
    clearInterval(sampler);
    for (const stream of open) stream.destroy();
    await pool.destroy();
  }
  return {
    firstBytes: firstBytes.sort((a, b) => a - b),
    failures: [...failedBy.values()].reduce((sum, n) => sum + n, 0),
    failedBy,
    peakKib: (peak - before) / Math.max(1, open.length),
    openKib,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * CPU time to hand `count` requests at once to a pool whose connections all stay busy (a server
 * that never answers), as a burst of streams does: undici's Pool against the provider pool.
 */
async function poolDispatchCpuMs(count: number): Promise<{ undici: number; provider: number }> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const handler = {
    onRequestStart() {},
    onResponseStart() {},
    onResponseData() {},
    onResponseEnd() {},
    onResponseError() {},
  };
  const measure = async (pool: Pool) => {
    const before = process.cpuUsage();
    for (let i = 0; i < count; i++) pool.dispatch({ path: '/', method: 'GET' }, handler as never);
    const used = process.cpuUsage(before);
    await pool.destroy();
    return (used.user + used.system) / 1000;
  };
  try {
    // Alternated, the least of two each: the first runs also pay for compiling the code.
    const undici = [await measure(new Pool(origin))];
    const provider = [await measure(new ProviderPool(origin))];
    undici.push(await measure(new Pool(origin)));
    provider.push(await measure(new ProviderPool(origin)));
    return { undici: Math.min(...undici), provider: Math.min(...provider) };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

export async function runOpenStreamsBench(options: { streams?: number } = {}): Promise<string[]> {
  const count = options.streams ?? 1000;
  const dataDir = mkdtempSync(join(tmpdir(), 'causerie-bench-streams-'));
  const children: ChildProcess[] = [];
  const lines = [
    `streams      ${count} streams opened at once, first chunk at once, each held open until all are; first byte and memory per open stream`,
    '  target    | first byte p50 ms  p99 ms | KiB per open stream: all open, at the peak | wall s | failures',
  ];
  try {
    const { targets } = await startTargets(dataDir, 1, children);
    const results = new Map<string, { p50: number; p99: number; kib: number }>();
    for (const target of targets) {
      // Each run opens its own connections, all at once.
      await target.pool.close();
      const run = await openAtOnce(target.url, target.headers, target.model, count, target.child.pid!);
      const p50 = percentile(run.firstBytes, 50);
      const p99 = percentile(run.firstBytes, 99);
      results.set(target.name, { p50, p99, kib: run.openKib });
      lines.push(
        `  ${target.name.padEnd(9)} | ${p50.toFixed(0).padStart(17)} ${p99.toFixed(0).padStart(7)} | ${run.openKib.toFixed(1).padStart(29)} ${run.peakKib.toFixed(1).padStart(11)} | ${run.seconds.toFixed(1).padStart(6)} | ${run.failures}${run.failures ? ` (${[...run.failedBy].map(([why, n]) => `${why} ${n}`).join(', ')})` : ''}`,
      );
    }
    const direct = results.get('direct')!;
    const causerie = results.get('causerie')!;
    const relay = results.get('relay')!;
    lines.push(
      `  Causerie first byte ÷ direct: p50 ${(causerie.p50 / direct.p50).toFixed(2)}×, p99 ${(causerie.p99 / direct.p99).toFixed(2)}× (aim ≤ 1.5×); ` +
        `memory per stream ${causerie.kib.toFixed(1)} KiB vs the relay's ${relay.kib.toFixed(1)} (aim ≤ 40 at 10,000 streams)`,
    );
    const pools = await poolDispatchCpuMs(count);
    lines.push(
      `  handing ${count} requests at once to a pool: undici's Pool ${pools.undici.toFixed(0)} ms of CPU, the provider pool ${pools.provider.toFixed(0)} ms`,
    );
    return lines;
  } finally {
    await stopChildren(children);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const index = process.argv.indexOf('--streams');
  const streams = index > 0 ? Number(process.argv[index + 1]) : undefined;
  for (const line of await runOpenStreamsBench({ streams })) console.log(line);
}
