/**
 * `npm run bench`: runs every benchmark module, one after the other, and prints their lines.
 * `npm run bench -- completions` runs only the named ones; `npm run bench -- open-streams --streams 10000`
 * opens 10,000 streams at once instead of 1,000. A benchmark is a module exporting an
 * async function that returns the lines to print; add it to the list below.
 *
 * Benchmarks measure; they never assert (tests do). Loopback only, every loop bounded.
 */
import { runAuthBench } from './auth.bench.ts';
import { runCompletionsBench } from './completions.bench.ts';
import { runLimitsBench } from './limits.bench.ts';
import { runLocalBench } from './local.bench.ts';
import { runPdfBench } from './pdf.bench.ts';
import { runSearchBench } from './search.bench.ts';
import { runOpenStreamsBench } from './open-streams.bench.ts';
import { runResumableStreamsBench } from './resumable-streams.bench.ts';

// `--streams N`: how many streams the open-streams benchmark opens at once (default 1,000).
const streamsFlag = process.argv.indexOf('--streams');
const streams = streamsFlag > 0 ? Number(process.argv[streamsFlag + 1]) : undefined;
if (streams !== undefined && !(Number.isInteger(streams) && streams > 0)) {
  console.error('--streams must be a positive whole number');
  process.exit(2);
}

// `optIn` benchmarks run only when named (`npm run bench -- local` needs the local engine).
const benchmarks: Array<{ name: string; run: () => Promise<string[]>; optIn?: boolean }> = [
  { name: 'auth', run: () => runAuthBench() },
  { name: 'completions', run: () => runCompletionsBench() },
  { name: 'open-streams', run: () => runOpenStreamsBench({ streams }) },
  { name: 'limits', run: () => runLimitsBench() },
  { name: 'local', run: () => runLocalBench(), optIn: true },
  { name: 'pdf', run: () => runPdfBench() },
  { name: 'search', run: () => runSearchBench() },
  { name: 'resumable-streams', run: () => runResumableStreamsBench() },
];

const wanted = process.argv
  .slice(2)
  .filter((arg, index, all) => !arg.startsWith('--') && all[index - 1] !== '--streams');
const unknown = wanted.filter((name) => !benchmarks.some((b) => b.name === name));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${benchmarks.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
console.log(`Causerie benchmarks — node ${process.version}, ${new Date().toISOString()}`);
for (const benchmark of benchmarks) {
  if (wanted.length ? !wanted.includes(benchmark.name) : benchmark.optIn) continue;
  const started = performance.now();
  for (const line of await benchmark.run()) console.log(line);
  console.log(`  (${benchmark.name}: ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
