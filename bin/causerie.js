#!/usr/bin/env node
// Entry point: checks the Node version, then runs the TypeScript sources directly
// (Node strips the types; there is no build step).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import module from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  console.error(`Causerie needs Node.js 22.13 or newer (24 LTS recommended); this is Node ${process.versions.node}.`);
  process.exit(1);
}

/** The data folder as the configuration reads it: the environment, else the config file, else ./data. */
function dataDir() {
  let raw = process.env.CAUSERIE_DATA_DIR;
  if (raw === undefined && process.env.CAUSERIE_CONFIG) {
    try {
      raw = JSON.parse(readFileSync(resolve(process.env.CAUSERIE_CONFIG), 'utf8'))?.CAUSERIE_DATA_DIR;
    } catch {
      // An unreadable file is reported by the configuration itself.
    }
  }
  return raw === undefined || raw === '' ? './data' : String(raw);
}

// The compile cache keeps, in the data folder, the sources stripped of their types: a start that
// finds them does not load the type stripper (~15 MiB). Only in a data folder that exists (no
// folder is created for a typo), never in a shared temporary folder (another user could plant code
// there). NODE_COMPILE_CACHE=<folder> uses Node's own compile cache there instead (compiled code
// too, held in memory), NODE_DISABLE_COMPILE_CACHE=1 turns both off (decision 026).
const data = resolve(dataDir());
const compileCache = existsSync(data) ? join(data, 'compile-cache') : undefined;

const cli = fileURLToPath(new URL('../src/cli/cli.ts', import.meta.url));
// Node 22.18+ strips types; 22.13-22.17 need the flag (--experimental-sqlite is harmless there).
const needsFlags = major === 22 && minor < 18;
if (needsFlags) {
  const child = spawn(
    process.execPath,
    [
      '--experimental-strip-types',
      '--experimental-sqlite',
      '--disable-warning=ExperimentalWarning',
      cli,
      ...process.argv.slice(2),
    ],
    {
      stdio: 'inherit',
      env: compileCache ? { NODE_COMPILE_CACHE: compileCache, ...process.env } : process.env,
    },
  );
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const nodeDecides = process.env.NODE_COMPILE_CACHE || process.env.NODE_DISABLE_COMPILE_CACHE;
  if (compileCache && !nodeDecides) {
    if (module.registerHooks) {
      const { serveStrippedSources } = await import('./stripped-sources.js');
      serveStrippedSources(new URL('../', import.meta.url).href, join(compileCache, 'stripped'));
    } else module.enableCompileCache?.(compileCache);
  }
  // The server starts with V8's compilers beyond the interpreter off; they are back on before it listens (decision 026).
  const command = process.argv[2];
  if (command === undefined || command === 'start') {
    const memory = fileURLToPath(new URL('../src/lib/release-startup-memory.ts', import.meta.url));
    (await import(memory)).deferOptimizingCompilers();
  }
  await import(cli);
}
