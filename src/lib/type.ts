/**
 * The TypeBox builders Causerie's schemas use, as plain functions that return the same JSON
 * Schema objects TypeBox's do (key order included, so the OpenAPI document is unchanged). The
 * types are TypeBox's own, so `Static<...>` reads these schemas as before. Why not TypeBox's
 * `Type`: its entry point loads all of TypeBox, ~370 modules and ~6 MiB held by the server for
 * its whole life, to build a few hundred objects once at start-up (decision 026).
 */
type TypeBoxBuilders = typeof import('typebox')['Type'];
type Used =
  | 'Array'
  | 'Boolean'
  | 'Integer'
  | 'Intersect'
  | 'Literal'
  | 'Null'
  | 'Number'
  | 'Object'
  | 'Optional'
  | 'Record'
  | 'String'
  | 'Union'
  | 'Unknown'
  | 'Unsafe';

type Schema = Record<string, unknown>;
type Options = Schema | undefined;

// Non-enumerable, as in TypeBox: JSON, Ajv and the OpenAPI document never see it.
const optional = '~optional';
const isOptional = (schema: Schema) => (schema as Record<string, unknown>)[optional] === true;

function Optional(schema: Schema): Schema {
  const copy = { ...schema };
  Object.defineProperty(copy, optional, { value: true, writable: true, configurable: true, enumerable: false });
  return copy;
}

function ObjectType(properties: Record<string, Schema>, options?: Options): Schema {
  const required = Object.entries(properties)
    .filter(([, schema]) => !isOptional(schema))
    .map(([key]) => key);
  return required.length > 0
    ? { type: 'object', required, properties, ...options }
    : { type: 'object', properties, ...options };
}

function Literal(value: string | number | boolean, options?: Options): Schema {
  return { type: typeof value, const: value, ...options };
}

function RecordType(key: Schema, value: Schema, options?: Options): Schema {
  // Only string keys are used; TypeBox writes them as a pattern that matches every key.
  if (key.type !== 'string' || Object.keys(key).length !== 1) throw new Error('Record keys must be Type.String()');
  return { type: 'object', patternProperties: { '^.*$': value }, ...options };
}

const builders = {
  Array: (items: Schema, options?: Options): Schema => ({ type: 'array', items, ...options }),
  Boolean: (options?: Options): Schema => ({ type: 'boolean', ...options }),
  Integer: (options?: Options): Schema => ({ type: 'integer', ...options }),
  Intersect: (allOf: Schema[], options?: Options): Schema => ({ allOf, ...options }),
  Literal,
  Null: (options?: Options): Schema => ({ type: 'null', ...options }),
  Number: (options?: Options): Schema => ({ type: 'number', ...options }),
  Object: ObjectType,
  Optional,
  Record: RecordType,
  String: (options?: Options): Schema => ({ type: 'string', ...options }),
  Union: (anyOf: Schema[], options?: Options): Schema => ({ anyOf, ...options }),
  Unknown: (options?: Options): Schema => ({ ...options }),
  Unsafe: (schema: Schema): Schema => ({ ...schema }),
};

export const Type = builders as unknown as Pick<TypeBoxBuilders, Used>;
