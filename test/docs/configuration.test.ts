import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fields } from '../../src/config.ts';

const docPath = new URL('../../docs/configuration.md', import.meta.url);

/** The one table row docs/configuration.md must hold for a field, exactly. */
function configurationRow(field: { env: string; description: string; default: unknown; secret?: boolean }): string {
  const shown = field.default === undefined || field.default === '' ? 'unset' : `\`${String(field.default)}\``;
  return `| \`${field.env}\` | ${shown} | ${field.description}${field.secret ? ' Secret: never logged.' : ''} |`;
}

test('docs/configuration.md has one row per config field, matching src/config.ts', () => {
  const doc = readFileSync(docPath, 'utf8');
  const rows = doc.split('\n').filter((line) => /^\| `[A-Z0-9_]+` \|/.test(line));
  for (const field of Object.values(fields)) {
    const expected = configurationRow(field);
    const row = rows.find((line) => line.startsWith(`| \`${field.env}\` |`));
    assert.ok(
      row,
      `docs/configuration.md does not document ${field.env}. Add this line to the table of the right section:\n${expected}`,
    );
    assert.equal(
      row,
      expected,
      `docs/configuration.md's row for ${field.env} is out of date. Replace it with:\n${expected}`,
    );
  }
  const known = new Set(Object.values(fields).map((field) => field.env));
  for (const row of rows) {
    const env = /^\| `([A-Z0-9_]+)`/.exec(row)![1]!;
    assert.ok(
      known.has(env),
      `docs/configuration.md documents ${env}, which src/config.ts does not read: remove the row`,
    );
  }
  assert.equal(rows.length, known.size, 'each variable has exactly one row');
});
