import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const src = resolve(import.meta.dirname, '../../src');
const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );

// Each of these, imported as a value at start-up, keeps ~8 MiB of code a server at rest never runs
// (decision 026): undici's entry point loads all of undici, and an ES import of node:http reads
// its WebSocket getters, which load Node's bundled undici. Types may still be imported.
const heavy = /^import\s+(?!type\b)[^;]*?\bfrom\s+['"](undici|node:https?)['"]/gm;

test('no source imports undici or node:http as values: src/lib/undici.ts and process.getBuiltinModule instead', () => {
  const offending: string[] = [];
  for (const file of filesUnder(src)) {
    if (file.endsWith(join('lib', 'undici.ts'))) continue;
    for (const [line] of readFileSync(file, 'utf8').matchAll(heavy)) offending.push(`${relative(src, file)}: ${line}`);
  }
  assert.deepEqual(offending, []);
});

test('the rule sees a value import and lets a type import through', () => {
  const found = (text: string) => [...text.matchAll(heavy)].length;
  assert.equal(found("import { Pool, type Dispatcher } from 'undici';"), 1);
  assert.equal(found("import { createServer } from 'node:http';"), 1);
  assert.equal(found("import type { Dispatcher } from 'undici';"), 0);
  assert.equal(found("import type { IncomingMessage } from 'node:http';"), 0);
});

// TypeBox's entry point loads all of TypeBox (~370 modules, ~6 MiB held for the server's life, decision
// 026): schemas are built by src/lib/type.ts, which returns the same JSON Schema; TypeBox's types stay.
const typeboxValue = /^import\s+(?!type\b)[^;]*?\bfrom\s+['"]typebox(\/[^'"]*)?['"]/gm;

test('no source imports TypeBox as a value: src/lib/type.ts builds the schemas', () => {
  const offending: string[] = [];
  for (const file of filesUnder(src)) {
    for (const [line] of readFileSync(file, 'utf8').matchAll(typeboxValue))
      offending.push(`${relative(src, file)}: ${line}`);
  }
  assert.deepEqual(offending, []);
});

test('the TypeBox rule sees a value import and lets a type import through', () => {
  const found = (text: string) => [...text.matchAll(typeboxValue)].length;
  assert.equal(found("import { Type } from 'typebox';"), 1);
  assert.equal(found("import { type Static, Type } from 'typebox';"), 1);
  assert.equal(found("import { Value } from 'typebox/value';"), 1);
  assert.equal(found("import type { Static } from 'typebox';"), 0);
});

// Loaded where they run instead (decision 026): prom-client's parts by path (src/lib/prom-client.ts),
// jose with the first access token to sign or check.
const loadedWhereTheyRun = /^import\s+(?!type\b)[^;]*?\bfrom\s+['"](prom-client|jose)['"]/gm;

test('no source imports prom-client or jose as values at start-up', () => {
  const offending: string[] = [];
  for (const file of filesUnder(src)) {
    for (const [line] of readFileSync(file, 'utf8').matchAll(loadedWhereTheyRun))
      offending.push(`${relative(src, file)}: ${line}`);
  }
  assert.deepEqual(offending, []);
});

// V8 keeps every module's source for the life of the process, at two bytes per character when a
// single one is beyond Latin-1 (decision 026): comments say it in ASCII, strings with \u escapes.
test('runtime sources hold no character beyond Latin-1', () => {
  const bin = resolve(import.meta.dirname, '../../bin');
  const runtime = [...filesUnder(src), ...readdirSync(bin).map((name) => join(bin, name))];
  const offending: string[] = [];
  for (const file of runtime)
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, index) => {
        const wide = [...line].find((character) => character.codePointAt(0)! > 0xff);
        if (wide) offending.push(`${relative(resolve(src, '..'), file)}:${index + 1}: ${wide}`);
      });
  assert.deepEqual(offending, []);
});
