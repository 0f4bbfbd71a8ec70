/**
 * Many streams open at once (1,000 by default; `npm run bench -- open-streams --streams 10000`): every
 * stream is opened in the same instant against an upstream that sends its first chunk at once and
 * the rest slowly, through the upstream directly, the bare relay and Causerie. It measures how soon
 * each client gets its first byte (p50/p99) while all are open, and the memory each open stream
 * costs the process that relays it (its RSS at the peak minus before, per stream).
 *
 * Run alone with `node bench/open-streams.bench.ts [--streams N]`, or through `npm run bench`.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { startTargets, stopChildren } from './completions.bench.ts';

// Five words, one a second after the first: each stream stays open about five seconds.
const slowAnswer = '[[chunk-delay:1000]] [[reply:one two three four five]]';

function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** Opens `count` streams at once; first-byte times, failures, and the serving process's memory. */
async function openAtOnce(
  url: string,
  headers: Record<string, string>,
  model: string,
  count: number,
  pid: number,
): Promise<{ firstBytes: number[]; failures: number; kibPerStream: number; seconds: number }> {
  const pool = new Pool(url, { connections: count });
  const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: slowAnswer }] });
  const before = rssKiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 100);
  const firstBytes: number[] = [];
  let failures = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: count }, async () => {
        const t0 = performance.now();
        try {
          const response = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body });
          let first = 0;
          let tail = '';
          for await (const chunk of response.body) {
            if (!first) first = performance.now() - t0;
            tail = (tail + chunk.toString()).slice(-32);
          }
          if (response.statusCode !== 200 || !tail.includes('[DONE]')) failures++;
          else firstBytes.push(first);
        } catch {
          failures++;
        }
      }),
    );
  } finally {
    clearInterval(sampler);
    await pool.close();
  }
  return {
    firstBytes: firstBytes.sort((a, b) => a - b),
    failures,
    kibPerStream: (peak - before) / count,
    seconds: (performance.now() - started) / 1000,
  };
}

export async function runOpenStreamsBench(options: { streams?: number } = {}): Promise<string[]> {
  const count = options.streams ?? 1000;
  const dataDir = mkdtempSync(join(tmpdir(), 'causerie-bench-streams-'));
  const children: ChildProcess[] = [];
  const lines = [
    `streams      ${count} streams opened at once, first chunk at once then one a second (about 5 s each); first byte and memory per open stream`,
    '  target    | first byte p50 ms  p99 ms | KiB per open stream | wall s | failures',
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
      results.set(target.name, { p50, p99, kib: run.kibPerStream });
      lines.push(
        `  ${target.name.padEnd(9)} | ${p50.toFixed(0).padStart(17)} ${p99.toFixed(0).padStart(7)} | ${run.kibPerStream.toFixed(1).padStart(19)} | ${run.seconds.toFixed(1).padStart(6)} | ${run.failures}`,
      );
    }
    const direct = results.get('direct')!;
    const causerie = results.get('causerie')!;
    const relay = results.get('relay')!;
    lines.push(
      `  Causerie first byte ÷ direct: p50 ${(causerie.p50 / direct.p50).toFixed(2)}×, p99 ${(causerie.p99 / direct.p99).toFixed(2)}× (aim ≤ 1.5×); ` +
        `memory per stream ${causerie.kib.toFixed(1)} KiB vs the relay's ${relay.kib.toFixed(1)} (aim ≤ 40 at 10,000 streams)`,
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
