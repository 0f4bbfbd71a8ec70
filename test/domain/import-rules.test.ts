import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const src = resolve(import.meta.dirname, '../../src');
const domain = join(src, 'domain');

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );

test('the domain imports nothing from the HTTP layer or the web pages: services decide, surfaces render', () => {
  const offending: string[] = [];
  for (const file of filesUnder(domain)) {
    const text = readFileSync(file, 'utf8');
    for (const [, specifier] of text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g)) {
      if (!specifier!.startsWith('.')) continue;
      const target = relative(src, resolve(file, '..', specifier!));
      if (/^(http|web)\//.test(target)) offending.push(`${relative(src, file)} imports ${target}`);
    }
  }
  assert.deepEqual(offending, []);
});

test('the rule sees an import it must refuse', () => {
  const line = "import type { ModelSummary } from '../../web/pages.ts';";
  const [, specifier] = /\bfrom\s+['"]([^'"]+)['"]/.exec(line)!;
  assert.equal(relative(src, resolve(join(domain, 'models/models.service.ts'), '..', specifier!)), 'web/pages.ts');
});
