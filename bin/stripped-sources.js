// Causerie's TypeScript sources, stripped of their types once and kept in a folder of the data
// folder: a start that finds them there never loads Node's type stripper (~15 MiB). Node's own
// compile cache did the same and also kept every module's compiled code, which it holds in memory
// for the life of the process (~5 MiB at rest) for a few tens of milliseconds saved per start
// (decision 026).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** The stripped text of a source, if the folder holds it for this very content. */
function cached(file, digest) {
  try {
    const text = readFileSync(file, 'utf8');
    const header = `// ${digest}\n`;
    return text.startsWith(header) ? text.slice(header.length) : undefined;
  } catch {
    return undefined;
  }
}

/** Written under another name, then renamed: a process that reads it never sees half a file. */
function keep(file, digest, stripped) {
  try {
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, `// ${digest}\n${stripped}`, { mode: 0o600 });
    renameSync(partial, file);
  } catch {
    // A folder that cannot be written (read-only, full) only costs the next start the stripper.
  }
}

function strip(source) {
  // The public stripper warns that it is experimental; it is the one Node runs on these files itself.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return module.stripTypeScriptTypes(source, { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
}

/**
 * Serves the `.ts` files under `root` (a file URL ending in '/') stripped, from `folder` when it
 * holds them (one file per source, named after its path, valid for the content it was made from).
 */
export function serveStrippedSources(root, folder) {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  module.registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith(root) || !url.endsWith('.ts') || url.includes('/node_modules/'))
        return nextLoad(url, context);
      const source = readFileSync(fileURLToPath(url), 'utf8');
      const digest = sha256(source);
      const file = join(folder, `${sha256(url).slice(0, 32)}.js`);
      let stripped = cached(file, digest);
      if (stripped === undefined) {
        stripped = strip(source);
        keep(file, digest, stripped);
      }
      return { format: 'module', source: stripped, shortCircuit: true };
    },
  });
}
