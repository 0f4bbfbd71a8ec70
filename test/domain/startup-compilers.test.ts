import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const memory = resolve(import.meta.dirname, '../../src/lib/release-startup-memory.ts');

/** Whether V8 optimizes a function asked to be optimized, before and after start-up is over, in a fresh Node. */
function optimizedBeforeAndAfter(
  flags: string[] = [],
  env: NodeJS.ProcessEnv = process.env,
  module = memory,
): { before: boolean; after: boolean } {
  const script = `
    const { deferOptimizingCompilers, releaseStartupMemory } = await import(${JSON.stringify(module)});
    const optimized = () => {
      const add = new Function('a', 'b', 'return a + b');
      %PrepareFunctionForOptimization(add);
      add(1, 2); add(3, 4);
      %OptimizeFunctionOnNextCall(add);
      add(5, 6);
      return (%GetOptimizationStatus(add) & 16) !== 0;
    };
    deferOptimizingCompilers();
    const before = optimized();
    releaseStartupMemory();
    console.log(JSON.stringify({ before, after: optimized() }));`;
  const output = execFileSync(
    process.execPath,
    [...flags, '--allow-natives-syntax', '--input-type=module', '-e', script],
    { encoding: 'utf8', env },
  );
  return JSON.parse(output);
}

test('the optimizing compilers are off while the server starts and back on once it is ready', () => {
  assert.deepEqual(optimizedBeforeAndAfter(), { before: false, after: true });
});

test("an operator who turns them off on Node's command line keeps them off", () => {
  assert.deepEqual(optimizedBeforeAndAfter(['--no-turbofan', '--no-maglev']), { before: false, after: false });
});

test('under NODE_OPTIONS=--jitless they stay off (turning them on there would crash V8)', () => {
  // Node cannot strip types without a JIT: the module is given to it already stripped.
  const folder = mkdtempSync(join(tmpdir(), 'causerie-jitless-'));
  try {
    const stripped = join(folder, 'release-startup-memory.mjs');
    writeFileSync(stripped, stripTypeScriptTypes(readFileSync(memory, 'utf8')));
    const env = { ...process.env, NODE_OPTIONS: '--jitless' };
    assert.deepEqual(optimizedBeforeAndAfter([], env, stripped), { before: false, after: false });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

/** Bytes of bytecode space given back by `releaseStartupMemory` after a large function ran once. */
function bytecodeDropped(flags: string[] = []): number {
  const script = `
    const { releaseStartupMemory } = await import(${JSON.stringify(memory)});
    const { getHeapSpaceStatistics } = await import('node:v8');
    const bytecode = () => getHeapSpaceStatistics().find((space) => space.space_name === 'trusted_space').space_used_size;
    const body = Array.from({ length: 20000 }, (_, i) => 'x += ' + i + ' * y;').join('\\n');
    const startUpOnly = new Function('y', 'let x = 0;\\n' + body + '\\nreturn x;');
    startUpOnly(1);
    const before = bytecode();
    releaseStartupMemory();
    console.log(before - bytecode());`;
  return Number(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' }));
}

test("start-up's bytecode is dropped once the server is ready, unless the operator set its age", () => {
  // 20,000 statements are ~200 KB of bytecode.
  assert.ok(bytecodeDropped() > 150_000, 'the bytecode of code that ran only at start-up is dropped');
  assert.ok(bytecodeDropped(['--bytecode-old-age=5']) < 150_000, "an operator's own setting is left alone");
});

/** The largest young generation (MiB, both semi-spaces) seen while objects outlive a few scavenges, as requests in flight do. */
function youngGenerationPeak(capMiB: number, flags: string[] = []): number {
  const script = `
    const { capYoungGeneration } = await import(${JSON.stringify(memory)});
    const { getHeapSpaceStatistics } = await import('node:v8');
    const young = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
    const uncap = capYoungGeneration(${capMiB});
    const recent = new Array(300_000);
    let peak = 0;
    for (let round = 0; round < 600; round++) {
      for (let i = 0; i < 20_000; i++) recent[(round * 20_000 + i) % recent.length] = { i, text: 'x' + i };
      await new Promise((resolve) => setImmediate(resolve));
      peak = Math.max(peak, young());
    }
    uncap();
    console.log(peak / 1048576);`;
  return Number(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' }));
}

test('the young generation stays within its cap, unless the operator sized it', () => {
  // Uncapped, V8 grows it to 128 MiB under this load.
  assert.ok(youngGenerationPeak(32) <= 32, 'capped at 32 MiB');
  assert.ok(youngGenerationPeak(32, ['--max-semi-space-size=64']) > 32, "an operator's own size is left alone");
});
