import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorCodes } from '../../src/domain/errors.ts';

const docPath = new URL('../../docs/errors.md', import.meta.url);

test('docs/errors.md lists every error code of src/domain/errors.ts, with its status and meaning', () => {
  const doc = readFileSync(docPath, 'utf8');
  const rows = doc.split('\n').filter((line) => /^\| `[a-z_]+` \| \d{3} \|/.test(line));
  for (const [code, { status, description }] of Object.entries(errorCodes)) {
    const expected = `| \`${code}\` | ${status} | ${description} |`;
    const row = rows.find((line) => line.startsWith(`| \`${code}\` |`));
    assert.ok(row, `docs/errors.md does not list the code ${code}. Add this line to its table:\n${expected}`);
    assert.equal(row, expected, `docs/errors.md's row for ${code} is out of date. Replace it with:\n${expected}`);
  }
  for (const row of rows) {
    const code = /^\| `([a-z_]+)`/.exec(row)![1]!;
    assert.ok(code in errorCodes, `docs/errors.md lists ${code}, which is not in errorCodes: remove the row`);
  }
  assert.equal(rows.length, Object.keys(errorCodes).length);
});
