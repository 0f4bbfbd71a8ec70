// Causerie's TypeScript sources, stripped of their types once and kept in a folder of the data
// folder: a start that finds them there never loads Node's type stripper (~15 MiB). Node's own
// compile cache did the same and also kept every module's compiled code, which it holds in memory
// for the life of the process (~5 MiB at rest) for a few tens of milliseconds saved per start
// (decision 026).
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** A file or folder only this user could have written: owned by it, no group or other write, no link. */
function ownedAndPrivate(path) {
  const stat = lstatSync(path);
  return !stat.isSymbolicLink() && stat.uid === process.getuid?.() && (stat.mode & 0o022) === 0;
}

/**
 * The stripped text of a source, if the folder holds it for this very content and this Node (the
 * stripper's output may change between versions), whole (its own digest matches) and written by
 * this user.
 */
function cached(file, key) {
  try {
    if (!ownedAndPrivate(file)) return undefined;
    const text = readFileSync(file, 'utf8');
    const newline = text.indexOf('\n');
    const [, sourceKey, bodyDigest] = text.slice(0, newline).split(' ');
    const body = text.slice(newline + 1);
    return sourceKey === key && bodyDigest === sha256(body) ? body : undefined;
  } catch {
    return undefined;
  }
}

/** Written under a fresh name, then renamed: a process that reads it never sees half a file. */
function keep(file, key, stripped) {
  const partial = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(partial, `// ${key} ${sha256(stripped)}\n${stripped}`, { mode: 0o600, flag: 'wx' });
    renameSync(partial, file);
  } catch {
    // A folder that cannot be written (read-only, full) only costs the next start the stripper.
    rmSync(partial, { force: true });
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
 * A folder that cannot be made, or that another user could write to, is not used: Node strips the
 * sources itself, as without a cache.
 */
export function serveStrippedSources(root, folder) {
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    if (!ownedAndPrivate(folder)) return;
  } catch {
    return;
  }
  module.registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith(root) || !url.endsWith('.ts') || url.includes('/node_modules/'))
        return nextLoad(url, context);
      const source = readFileSync(fileURLToPath(url), 'utf8');
      const key = sha256(`${process.version}\n${source}`);
      const file = join(folder, `${sha256(url).slice(0, 32)}.js`);
      let stripped = cached(file, key);
      if (stripped === undefined) {
        stripped = strip(source);
        keep(file, key, stripped);
      }
      return { format: 'module', source: stripped, shortCircuit: true };
    },
  });
}
