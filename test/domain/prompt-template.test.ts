import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderTemplate, templateVariables } from '../../src/domain/prompts/prompt-template.ts';

test('{name} is a variable, {{ and }} are literal braces, other braces stay as written', () => {
  assert.deepEqual(templateVariables('Hi {name}, {{name}} and { not a var } {name} {other_1}'), ['name', 'other_1']);
  const result = renderTemplate('Hi {name}, {{name}} costs {{ {price} }} { x } {', { name: 'Ada', price: '$5' });
  assert.equal(result.text, 'Hi Ada, {name} costs { $5 } { x } {');
  assert.deepEqual(result.missing, []);
});

test('missing and unused variables are reported; a value is inserted as is (no second pass over it)', () => {
  const result = renderTemplate('{a} and {b}', { a: '{b}', c: 'x' });
  assert.equal(result.text, '{b} and {b}');
  assert.deepEqual(result.missing, ['b']);
  assert.deepEqual(result.unused, ['c']);
  // Object.prototype names are not variables that happen to be given.
  assert.deepEqual(renderTemplate('{constructor}', {}).missing, ['constructor']);
});
