import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';

const strippedSources = pathToFileURL(resolve(import.meta.dirname, '../../bin/stripped-sources.js')).href;
const root = mkdtempSync(join(tmpdir(), 'causerie-stripped-'));
const folder = join(root, 'data', 'compile-cache', 'stripped');
after(() => rmSync(root, { recursive: true, force: true }));

/** Imports `answer.ts` from the root in a fresh Node, through the cache; what it prints and warns. */
function run(): { stdout: string; stderr: string } {
  const script = `
    const { serveStrippedSources } = await import(${JSON.stringify(strippedSources)});
    serveStrippedSources(${JSON.stringify(pathToFileURL(`${root}/`).href)}, ${JSON.stringify(folder)});
    const { answer } = await import(${JSON.stringify(pathToFileURL(join(root, 'answer.ts')).href)});
    console.log(answer());`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return { stdout: child.stdout.trim(), stderr: child.stderr };
}

test('a source is stripped once, kept in the data folder, and read from there by the next start', () => {
  writeFileSync(join(root, 'answer.ts'), 'export const answer = (): number => 42;\n');
  assert.deepEqual(run(), { stdout: '42', stderr: '' });
  assert.equal(readdirSync(folder).length, 1);
  assert.deepEqual(run(), { stdout: '42', stderr: '' });
});

test('an edited source is stripped again, never served stale', () => {
  writeFileSync(join(root, 'answer.ts'), 'export const answer = (): string => "edited";\n');
  assert.equal(run().stdout, 'edited');
  assert.equal(readdirSync(folder).length, 1, 'one file per source');
});

test('a cache file not made from this content (a stale or half-written one) is ignored', () => {
  const [file] = readdirSync(folder);
  writeFileSync(join(folder, file!), '// not a digest\nexport const answer = () => "stale";\n');
  assert.equal(run().stdout, 'edited');
});

test('a cache file whose body was cut or changed after its header is ignored', () => {
  const [file] = readdirSync(folder);
  const text = readFileSync(join(folder, file!), 'utf8');
  writeFileSync(join(folder, file!), text.replace('"edited"', '"planted"'));
  assert.equal(run().stdout, 'edited');
});

test('a folder other users can write to is not used (nothing is read from it or written to it)', () => {
  const [file] = readdirSync(folder);
  chmodSync(folder, 0o777);
  try {
    writeFileSync(join(root, 'answer.ts'), 'export const answer = (): string => "shared";\n');
    assert.equal(run().stdout, 'shared');
    assert.deepEqual(readdirSync(folder), [file], 'no file written to a shared folder');
  } finally {
    chmodSync(folder, 0o700);
  }
});

test('a data folder where the cache cannot be made still starts (Node strips the sources itself)', () => {
  const blocked = join(root, 'blocked');
  writeFileSync(blocked, 'a file where the folder would go');
  const script = `
    const { serveStrippedSources } = await import(${JSON.stringify(strippedSources)});
    serveStrippedSources(${JSON.stringify(pathToFileURL(`${root}/`).href)}, ${JSON.stringify(join(blocked, 'stripped'))});
    const { answer } = await import(${JSON.stringify(pathToFileURL(join(root, 'answer.ts')).href)});
    console.log(answer());`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), 'shared');
});
