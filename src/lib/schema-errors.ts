/**
 * The first place a value breaks a JSON Schema, for the few keywords the config file's schema
 * uses (type, const, anyOf, minLength, minimum, required, properties, additionalProperties: false,
 * patternProperties, items). Errors have the shape TypeBox and Ajv give (`keyword`,
 * `instancePath`, `params`). `typebox/value` did this with ~300 more modules loaded for the
 * life of the server, to check one file at start-up (decision 026).
 */
export interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
}

export interface CheckedSchema {
  type?: string;
  const?: unknown;
  anyOf?: CheckedSchema[];
  minLength?: number;
  minimum?: number;
  required?: string[];
  properties?: Record<string, CheckedSchema>;
  additionalProperties?: boolean;
  patternProperties?: Record<string, CheckedSchema>;
  items?: CheckedSchema;
}

const pointer = (key: string | number) => `/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'string':
    case 'boolean':
      return typeof value === type;
    default:
      return true;
  }
}

export function firstSchemaError(schema: CheckedSchema, value: unknown, path = ''): SchemaError | undefined {
  const error = (keyword: string, params: Record<string, unknown> = {}, at = path) => ({
    keyword,
    instancePath: at,
    params,
  });
  if (schema.anyOf?.every((branch) => firstSchemaError(branch, value, path))) return error('anyOf');
  if (schema.type && !hasType(schema.type, value)) return error('type', { type: schema.type });
  if ('const' in schema && value !== schema.const) return error('const', { allowedValue: schema.const });
  if (typeof value === 'string' && schema.minLength !== undefined && [...value].length < schema.minLength)
    return error('minLength', { limit: schema.minLength });
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum)
    return error('minimum', { comparison: '>=', limit: schema.minimum });
  if (Array.isArray(value) && schema.items) {
    for (const [index, item] of value.entries()) {
      const found = firstSchemaError(schema.items, item, path + pointer(index));
      if (found) return found;
    }
  }
  if (!isObject(value)) return undefined;
  const properties = schema.properties ?? {};
  if (schema.additionalProperties === false) {
    const unknown = Object.keys(value).find((key) => !Object.hasOwn(properties, key));
    if (unknown !== undefined) return error('boolean', {}, path + pointer(unknown));
  }
  const missing = (schema.required ?? []).filter((key) => !Object.hasOwn(value, key));
  if (missing.length > 0) return error('required', { requiredProperties: missing });
  for (const [key, property] of Object.entries(properties)) {
    if (!Object.hasOwn(value, key)) continue;
    const found = firstSchemaError(property, value[key], path + pointer(key));
    if (found) return found;
  }
  for (const [pattern, property] of Object.entries(schema.patternProperties ?? {})) {
    const matches = new RegExp(pattern, 'u');
    for (const [key, item] of Object.entries(value)) {
      if (!matches.test(key)) continue;
      const found = firstSchemaError(property, item, path + pointer(key));
      if (found) return found;
    }
  }
  return undefined;
}
