import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type as TypeBox } from 'typebox';
import { Type } from '../../src/lib/type.ts';

// The schemas are what Ajv validates and what the OpenAPI document shows: the builders must write
// exactly what TypeBox's do (key order included), for every builder and option the sources use.
const cases: [string, (T: typeof Type) => unknown][] = [
  ['String', (T) => T.String({ minLength: 1, maxLength: 200, description: 'a name' })],
  ['Integer, Number, Boolean', (T) => [T.Integer({ minimum: 1 }), T.Number(), T.Boolean({ default: false })]],
  ['Literal', (T) => [T.Literal('user'), T.Literal(3), T.Literal(true, { description: 'on' })]],
  ['Null, Unknown', (T) => [T.Null(), T.Unknown(), T.Unknown({ description: 'any JSON' })]],
  [
    'Object with optional properties and options',
    (T) =>
      T.Object(
        { name: T.String(), note: T.Optional(T.String()), nested: T.Optional(T.Object({ a: T.Integer() })) },
        { additionalProperties: false, description: 'a thing' },
      ),
  ],
  ['Object with no required property', (T) => [T.Object({}), T.Object({ a: T.Optional(T.Number()) })]],
  ['Array', (T) => T.Array(T.Object({ id: T.String() }), { maxItems: 100 })],
  ['Union', (T) => T.Union([T.Literal('a'), T.Literal('b'), T.Null()], { description: 'one of' })],
  [
    'Record',
    (T) => [T.Record(T.String(), T.Unknown(), { description: 'free-form' }), T.Record(T.String(), T.String())],
  ],
  ['Intersect', (T) => T.Intersect([T.Object({ a: T.String() }), T.Object({ b: T.Optional(T.Number()) })])],
  ['Unsafe', (T) => [T.Unsafe({ type: ['string', 'null'], maxLength: 5 }), T.Optional(T.Unsafe({ type: 'integer' }))]],
  ['$id', (T) => T.Object({ detail: T.String(), code: T.String() }, { $id: 'Error' })],
];

for (const [name, build] of cases) {
  test(`${name}: the same JSON Schema as TypeBox`, () => {
    assert.equal(JSON.stringify(build(Type)), JSON.stringify(build(TypeBox as unknown as typeof Type)));
  });
}

test('Optional marks a copy: the schema it was given stays required elsewhere', () => {
  const name = Type.String();
  const schema = Type.Object({ a: Type.Optional(name), b: name });
  assert.deepEqual(schema.required, ['b']);
});
