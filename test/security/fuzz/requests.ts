import fc from 'fast-check';
import { hostileNumbers, hostileStrings, valuesOf, type JsonSchema } from './schema-values.ts';

/** Who a fuzzed request claims to be. `bogus` is a wrong credential of some kind. */
export const credentialKinds = [
  'api_key',
  'access_token',
  'basic',
  'public_key',
  'client_token',
  'admin',
  'none',
  'bogus',
] as const;
export type CredentialKind = (typeof credentialKinds)[number];

/** What is wrong with a fuzzed request ("valid": nothing, as far as the schema knows). */
export const mutations = [
  'valid',
  'wrong_type',
  'missing_field',
  'extra_field',
  'boundary',
  'hostile_string',
  'malformed_json',
  'wrong_content_type',
  'duplicate_headers',
  'oversized_header',
  'bad_id',
  'path_traversal',
  'bad_query',
  'oversized_body',
] as const;
export type Mutation = (typeof mutations)[number];

export interface Operation {
  method: string;
  /** OpenAPI path, with {name} parameters. */
  path: string;
  parameters: Array<{ in: string; name: string; required?: boolean; schema?: JsonSchema }>;
  /** The request body's media type and schema, if it reads one. */
  body?: { mediaType: string; schema: JsonSchema; required: boolean };
  responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}

/** An operation as the OpenAPI document holds it (the parts the tests read). */
export interface OpenApiOperation {
  summary?: string;
  security?: object[];
  parameters?: Operation['parameters'];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
  responses?: Operation['responses'];
}

/** The OpenAPI document served at /api/v1/openapi.json, as far as the tests read it. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

/** A path parameter: one of the world's real resources (by index and id form), or literal text. */
export type ParamValue = { known: number; form: 'id' | 'uuid' | 'upper' } | { text: string };

/** A request before the world fills in credentials and real ids: pure data, so a seed replays it. */
export interface RequestPlan {
  operation: Operation;
  mutation: Mutation;
  credential: CredentialKind;
  params: Record<string, ParamValue>;
  query: Array<[string, string]>;
  headers: Array<[string, string]>;
  /** JSON text, raw text, or nothing. */
  body?: string;
  contentType?: string;
}

/** A path segment as a client would send it (a lone surrogate becomes U+FFFD, as in UTF-8 it must). */
const encodeSegment = (text: string) => encodeURIComponent(text.toWellFormed());

/** Ids in every form a caller can send, most of them naming nothing or not being ids at all. */
export const badIds = fc.constantFrom(
  '0',
  '-1',
  '01',
  '1.5',
  '1e3',
  '0x10',
  '%201',
  '1%20',
  '2147483647',
  '2147483648',
  '4294967296',
  '9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '99999999999999999999999999',
  'abc',
  'null',
  'undefined',
  'NaN',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  '3fa85f64-5717-4562-b3fc-2c963f66afa',
  '3FA85F64-5717-4562-B3FC-2C963F66AFA6x',
  '%00',
  '%20',
  '%C0%AE',
  '%FF',
  '%E2%80%AE',
  encodeURIComponent('é'),
  encodeURIComponent('\u{1F600}'),
  'x'.repeat(300),
);

export const traversals = fc.constantFrom(
  '..',
  '.',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f%2e%2e%2f',
  '..%5C..%5Cwindows',
  '%252e%252e%252f',
  '....%2F%2F',
  '%2F',
  '%2Fetc%2Fpasswd',
  'a%2F..%2F..%2Fadmin',
);

const wrongContentTypes = fc.constantFrom(
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=utf-16',
  'application/octet-stream',
  'application/jsonx',
  '',
  'application/json, text/plain',
  ';;;',
);

const malformedJson = fc.constantFrom(
  '{',
  '}',
  '{"a":',
  '{"a":1,}',
  "{'a':1}",
  '[1,2',
  'nul',
  '{"a":1}{"b":2}',
  '{"a":"\\u00"}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"limit":1e400}',
  '{"a":NaN}',
  '\u0000',
  '\ufeff{}',
  '"just a string"',
  '42',
  '[]',
  'true',
  '[['.repeat(5000),
  '{"a":'.repeat(2000),
);

const headerNames = fc.constantFrom(
  'authorization',
  'content-type',
  'x-request-id',
  'idempotency-key',
  'origin',
  'accept',
);

/** Random choices a mutation applies to a valid request (which field, what value). */
const choices = fc.record({
  pick: fc.nat(),
  wrong: fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 2 }),
    fc.constant({ nested: { deeper: 1 } }),
  ),
  hostile: hostileStrings,
  number: hostileNumbers,
  extraName: fc.constantFrom(
    'role',
    'user_id',
    'owner_id',
    'plan_id',
    'is_admin',
    'disabled',
    'usage',
    'tokens_used',
    'id',
    'uuid',
    'created_at',
    'zz_unknown',
    '__proto__',
  ),
  badId: badIds,
  traversal: traversals,
  contentType: wrongContentTypes,
  malformed: malformedJson,
  headerName: headerNames,
  headerSize: fc.integer({ min: 17_000, max: 80_000 }),
});
type Choices = typeof choices extends fc.Arbitrary<infer T> ? T : never;

const idParamPattern = /(^|_)(id|uuid)$|^(id|conversationId|modelId|plan|username|token)$/i;

/** Every request the fuzzer may send to one operation: valid ones and every mutation, with every credential. */
export function plansFor(operation: Operation, weights: { valid: number }): fc.Arbitrary<RequestPlan> {
  const pathParams = operation.parameters.filter((p) => p.in === 'path');
  const queryParams = operation.parameters.filter((p) => p.in === 'query');
  const paramArbitraries = Object.fromEntries(
    pathParams.map((p) => [
      p.name,
      idParamPattern.test(p.name)
        ? fc.oneof(
            {
              weight: 3,
              arbitrary: fc.record({
                known: fc.nat({ max: 20 }),
                form: fc.constantFrom('id' as const, 'uuid' as const, 'upper' as const),
              }),
            },
            { weight: 1, arbitrary: valuesOf(p.schema).map((v) => ({ text: encodeSegment(String(v)) })) },
          )
        : valuesOf(p.schema).map((v) => ({ text: encodeSegment(String(v)) })),
    ]),
  ) as Record<string, fc.Arbitrary<ParamValue>>;
  const queryArbitrary = fc.record(Object.fromEntries(queryParams.map((p) => [p.name, valuesOf(p.schema)])), {
    requiredKeys: [],
  }) as fc.Arbitrary<Record<string, unknown>>;
  const bodyArbitrary = operation.body ? valuesOf(operation.body.schema) : fc.constant(undefined);
  const mutation = fc.oneof(
    { weight: weights.valid, arbitrary: fc.constant('valid' as Mutation) },
    { weight: mutations.length - 1, arbitrary: fc.constantFrom(...mutations.filter((m) => m !== 'valid')) },
  );
  return fc
    .record({
      mutation,
      credential: fc.constantFrom(...credentialKinds),
      params: fc.record(paramArbitraries),
      query: queryArbitrary,
      body: bodyArbitrary,
      choices,
    })
    .map(({ mutation, credential, params, query, body, choices }) =>
      buildPlan(operation, mutation, credential, params, query, body, choices),
    );
}

function buildPlan(
  operation: Operation,
  mutation: Mutation,
  credential: CredentialKind,
  params: Record<string, ParamValue>,
  queryValues: Record<string, unknown>,
  bodyValue: unknown,
  c: Choices,
): RequestPlan {
  const plan: RequestPlan = {
    operation,
    mutation,
    credential,
    params: { ...params },
    query: Object.entries(queryValues).map(([k, v]) => [k, String(v)]),
    headers: [],
  };
  const sendsBody = operation.body !== undefined;
  const isJson = operation.body?.mediaType === 'application/json';
  let body = bodyValue;
  let rawBody: string | undefined;
  const paramNames = Object.keys(plan.params);
  const fieldSchema = (key: string) => operation.body?.schema.properties?.[key];
  const objectBody =
    body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  const fieldKeys = Object.keys(operation.body?.schema.properties ?? {});
  const pickField = () => fieldKeys[c.pick % Math.max(1, fieldKeys.length)];

  switch (mutation) {
    case 'wrong_type': {
      const key = pickField();
      if (objectBody && key) objectBody[key] = c.wrong;
      else if (plan.query.length) plan.query[c.pick % plan.query.length]![1] = JSON.stringify(c.wrong);
      else body = c.wrong;
      break;
    }
    case 'missing_field': {
      const required = operation.body?.schema.required ?? [];
      if (objectBody && required.length) delete objectBody[required[c.pick % required.length]!];
      else if (objectBody && fieldKeys.length) delete objectBody[pickField()!];
      else body = undefined;
      break;
    }
    case 'extra_field': {
      if (objectBody || !sendsBody) {
        const text = JSON.stringify(objectBody ?? {});
        const extra = `${JSON.stringify(c.extraName)}:${JSON.stringify(c.wrong)}`;
        rawBody = text === '{}' ? `{${extra}}` : `${text.slice(0, -1)},${extra}}`;
      }
      plan.query.push([c.extraName, String(c.wrong)]);
      break;
    }
    case 'boundary': {
      const key = pickField();
      const schema = key ? fieldSchema(key) : undefined;
      const value =
        schema?.type === 'string' ? (c.pick % 2 ? 'y'.repeat((schema.maxLength ?? 10_000) + 1) : '') : c.number;
      if (objectBody && key) objectBody[key] = value;
      if (plan.query.length) plan.query[c.pick % plan.query.length]![1] = String(c.number);
      if (paramNames.length) plan.params[paramNames[c.pick % paramNames.length]!] = { text: String(c.number) };
      break;
    }
    case 'hostile_string': {
      const key = pickField();
      if (objectBody && key) objectBody[key] = c.hostile;
      if (plan.query.length) plan.query[c.pick % plan.query.length]![1] = c.hostile.slice(0, 2000);
      if (paramNames.length)
        plan.params[paramNames[c.pick % paramNames.length]!] = { text: encodeSegment(c.hostile.slice(0, 2000)) };
      break;
    }
    case 'malformed_json':
      rawBody = c.malformed;
      plan.contentType = 'application/json';
      break;
    case 'wrong_content_type':
      rawBody = sendsBody && body !== undefined ? JSON.stringify(body) : 'a=1&b=2';
      plan.contentType = c.contentType;
      break;
    case 'duplicate_headers':
      plan.headers.push([c.headerName, 'first'], [c.headerName, 'second']);
      if (c.pick % 2) plan.headers.push(['content-type', 'application/json'], ['content-type', 'text/plain']);
      break;
    case 'oversized_header':
      plan.headers.push([c.pick % 2 ? 'x-padding' : 'cookie', 'z'.repeat(c.headerSize)]);
      break;
    case 'bad_id':
      if (paramNames.length) plan.params[paramNames[c.pick % paramNames.length]!] = { text: c.badId };
      else plan.query.push(['id', c.badId]);
      break;
    case 'path_traversal':
      if (paramNames.length) plan.params[paramNames[c.pick % paramNames.length]!] = { text: c.traversal };
      else plan.query.push(['file', decodeURIComponent(c.traversal)]);
      break;
    case 'bad_query':
      for (const name of plan.query.length ? plan.query.map(([name]) => name) : ['limit'])
        plan.query.push([name, c.hostile.slice(0, 500)]);
      plan.query.push(['limit', String(c.number)], ['offset', '-1']);
      break;
    case 'oversized_body':
      rawBody = JSON.stringify({ padding: 'p'.repeat(1_100_000 + (c.pick % 100_000)) });
      plan.contentType = 'application/json';
      break;
  }
  if (rawBody !== undefined) plan.body = rawBody;
  else if (sendsBody && body !== undefined) plan.body = JSON.stringify(body);
  if (plan.body !== undefined && plan.contentType === undefined)
    plan.contentType = isJson || !sendsBody ? 'application/json' : operation.body!.mediaType;
  return plan;
}
