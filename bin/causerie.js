#!/usr/bin/env node
// Entry point: checks the Node version, then runs the TypeScript sources directly
// (Node strips the types; there is no build step).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  console.error(`Causerie needs Node.js 22.13 or newer (24 LTS recommended); this is Node ${process.versions.node}.`);
  process.exit(1);
}

const cli = fileURLToPath(new URL('../src/cli/cli.ts', import.meta.url));
// Node 22.18+ strips types; 22.13–22.17 need the flag (--experimental-sqlite is harmless there).
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
    { stdio: 'inherit' },
  );
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  await import(cli);
}
