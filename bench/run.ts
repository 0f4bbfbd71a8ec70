/**
 * `npm run bench`: runs every benchmark module, one after the other, and prints their lines.
 * `npm run bench -- completions` runs only the named ones. A benchmark is a module exporting an
 * async function that returns the lines to print; add it to the list below.
 *
 * Benchmarks measure; they never assert (tests do). Loopback only, every loop bounded.
 */
import { runAuthBench } from './auth.bench.ts';
import { runCompletionsBench } from './completions.bench.ts';
import { runLimitsBench } from './limits.bench.ts';
import { runPdfBench } from './pdf.bench.ts';
import { runSearchBench } from './search.bench.ts';

const benchmarks: Array<{ name: string; run: () => Promise<string[]> }> = [
  { name: 'auth', run: () => runAuthBench() },
  { name: 'completions', run: () => runCompletionsBench() },
  { name: 'limits', run: () => runLimitsBench() },
  { name: 'pdf', run: () => runPdfBench() },
  { name: 'search', run: () => runSearchBench() },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !benchmarks.some((b) => b.name === name));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${benchmarks.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
console.log(`Causerie benchmarks — node ${process.version}, ${new Date().toISOString()}`);
for (const benchmark of benchmarks) {
  if (wanted.length && !wanted.includes(benchmark.name)) continue;
  const started = performance.now();
  for (const line of await benchmark.run()) console.log(line);
  console.log(`  (${benchmark.name}: ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
