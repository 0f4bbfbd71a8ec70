import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

const compilerFlags = /--(no[-_])?(turbofan|opt|maglev|sparkplug|jitless)\b/;
let compilersDeferred = false;

/** V8 flags the operator gave Node, on its command line or in NODE_OPTIONS. */
const operatorFlags = () => `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;

/**
 * Keeps V8's compilers beyond the interpreter (Sparkplug, Maglev, TurboFan) off while the server
 * starts: module bodies, migrations and route registrations run hot enough to be compiled, but
 * once. Compiling them faulted in ~6 MiB of the compilers' own code (pages of Node's binary) and
 * left ~4 MiB of their output and working memory resident at rest. `releaseStartupMemory` turns
 * them back on, so the request path is compiled as before once traffic makes it hot (and the
 * compilers' pages come back with it). Left alone when Node's command line names one of them (the
 * operator decides).
 */
export function deferOptimizingCompilers(): void {
  // NODE_OPTIONS counts too: turning compilers back on under --jitless crashes V8.
  if (compilerFlags.test(operatorFlags()) || typeof WebAssembly === 'undefined') return;
  setFlagsFromString('--no-turbofan');
  setFlagsFromString('--no-maglev');
  setFlagsFromString('--no-sparkplug');
  compilersDeferred = true;
}

function resumeOptimizingCompilers(): void {
  if (!compilersDeferred) return;
  compilersDeferred = false;
  setFlagsFromString('--turbofan');
  setFlagsFromString('--maglev');
  setFlagsFromString('--sparkplug');
}

/**
 * Gives back what start-up used and no longer needs: full collections that also shrink the
 * young generation and drop start-up's bytecode. Loading modules, running migrations and registering routes grow its
 * semi-spaces to their maximum (64 MiB, resident, 99 % empty at rest); V8 shrinks them only in a
 * collection made to reduce memory.
 *
 * The collector is reached through a fresh context (`gc` is exposed there only), so the process's
 * own global scope never gets a `gc` function. Takes a few tens of milliseconds, once.
 */
export function releaseStartupMemory(): void {
  resumeOptimizingCompilers();
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as Gc | undefined;
  setFlagsFromString('--no-expose-gc');
  // Bytecode not run since the previous collection is dropped at the second (V8 keeps it for five
  // by default): most of start-up's, ~1 MiB, compiled again if it ever runs again.
  const ageSet = /--bytecode[-_]old[-_]age/.test(operatorFlags());
  if (!ageSet) setFlagsFromString('--bytecode-old-age=1');
  gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  if (!ageSet) setFlagsFromString('--bytecode-old-age=5');
}

/**
 * Keeps the young generation at most `capMiB` (both semi-spaces). V8 doubles it whenever many
 * objects survive a scavenge, up to 128 MiB here: a burst of streams opened at once (each holding
 * a few dozen objects) drove it there, 130 KiB per stream at a thousand streams, and it stays. Its
 * maximum can only be set on Node's command line, which `node bin/causerie.js start` does not
 * take; its growth factor can be changed at run time. After each collection: growth is allowed
 * while one more doubling stays within the cap, stopped otherwise (V8 shrinks the space again
 * when allocation slows down, and growth resumes from there). An operator who sizes the young
 * generation on Node's command line or in NODE_OPTIONS keeps their setting.
 */
export function capYoungGeneration(capMiB: number): () => void {
  if (/--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/.test(operatorFlags())) return () => {};
  let growing = true;
  const check = () => {
    const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    if (!young) return;
    const grow = young.space_size * 2 <= capMiB * 1024 * 1024;
    if (grow === growing) return;
    growing = grow;
    setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
  };
  check();
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
