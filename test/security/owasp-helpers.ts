import type { OpenApiDocument } from './fuzz/requests.ts';
import type { Dialect } from '../helpers/server.ts';
import { operationsOf } from './fuzz/run.ts';
import type { Operation } from './fuzz/requests.ts';
import type { JsonSchema } from './fuzz/schema-values.ts';
import { FuzzWorld } from './fuzz/world.ts';

export type IdForm = 'id' | 'uuid' | 'upper';
export const idForms: IdForm[] = ['id', 'uuid', 'upper'];

/**
 * The OWASP tests share the fuzzer's world: a user with resources of every kind and one of each
 * credential, a second user (the intruder), an admin. Their matrices come from the OpenAPI
 * document, so a route added later is in them the day it lands.
 */
export async function startWorld(dialect: Dialect = 'sqlite') {
  const world = await FuzzWorld.start(dialect);
  const document = (await world.server.api('/api/v1/openapi.json', { auth: null })).body;
  return { world, document, operations: operationsOf(document) };
}

/** Path parameters that name something a user owns (the rest name shared things: models, plans). */
export const ownedParams = new Set([
  'session_id',
  'conversationId',
  'id',
  'message_id',
  'agent_id',
  'modelId',
  'key_id',
  'prompt_id',
  'username',
]);

/** Body fields that name something a user owns, and the path parameter that names the same kind. */
const ownedBodyFields: Record<string, string> = { session_id: 'session_id', chat_id: 'id', agent_id: 'agent_id' };

/** A resource of the world's user in the given id form. */
export function reference(world: FuzzWorld, op: Operation, param: string, form: IdForm, pick = 0): string {
  const pool = world.resourceFor(op.path, param);
  const resource = pool[pick % Math.max(1, pool.length)];
  if (!resource) return '999999';
  if (form === 'id' || !resource.uuid) return encodeURIComponent(String(resource.id));
  return form === 'upper' ? resource.uuid.toUpperCase() : resource.uuid;
}

/** The operation's path with every parameter naming one of the world user's resources. */
export function ownersPath(world: FuzzWorld, op: Operation, form: IdForm): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => reference(world, op, name, form));
}

// Values that get a request past validation to the part that decides (the model exists, the text is short).
const knownValues: Record<string, unknown> = {
  model: 'gpt-4',
  model_id: 'gpt-4',
  prompt: 'hello',
  content: 'hello',
  message: 'hello',
  messages: [{ role: 'user', content: 'hello' }],
  role: 'user',
  name: 'n',
  title: 't',
  username: 'someone-new',
  password: 'a-long-enough-password',
  stream: false,
};

/** The smallest body the schema accepts: its required fields, with values that pass validation. */
export function minimalValue(schema: JsonSchema | undefined, key = ''): unknown {
  if (!schema) return undefined;
  if (key in knownValues) return knownValues[key];
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  const union = schema.anyOf ?? schema.oneOf;
  if (union?.length) return minimalValue(union.find((s) => s.type !== 'null') ?? union[0], key);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'object') {
    const value: Record<string, unknown> = {};
    for (const field of schema.required ?? []) value[field] = minimalValue(schema.properties?.[field], field);
    // Optional in the schema but needed by the route (prompt or messages).
    if (schema.properties?.prompt && !schema.required?.includes('messages')) value.prompt = knownValues.prompt;
    return value;
  }
  if (type === 'array') return Array.from({ length: schema.minItems ?? 0 }, () => minimalValue(schema.items));
  if (type === 'string') {
    if (schema.format === 'uuid') return '3fa85f64-5717-4562-b3fc-2c963f66afa6';
    if (schema.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
    return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
  }
  if (type === 'integer' || type === 'number') return Math.max(1, schema.minimum ?? 1);
  if (type === 'boolean') return false;
  return null;
}

/** A minimal valid body whose references to owned things (session_id, …) name the world user's. */
export function ownersBody(world: FuzzWorld, op: Operation, form: IdForm): string | undefined {
  if (op.body?.mediaType === 'multipart/form-data') return multipartPdf;
  if (op.body?.mediaType !== 'application/json') return undefined;
  const body = minimalValue(op.body.schema) as Record<string, unknown>;
  for (const [field, param] of Object.entries(ownedBodyFields)) {
    if (op.body.schema.properties?.[field]) {
      const value = reference(world, op, param, form);
      body[field] = op.body.schema.properties[field]!.type === 'integer' ? Number(value) || value : value;
    }
  }
  return JSON.stringify(body);
}

const boundary = 'causerie-test-boundary';
/** Headers for a body built by ownersBody (multipart for uploads, else JSON). */
export const contentTypeOf = (op: Operation) =>
  op.body?.mediaType === 'multipart/form-data' ? `multipart/form-data; boundary=${boundary}` : 'application/json';
const multipartPdf = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n%%EOF\n\r\n--${boundary}--\r\n`;

export interface Answer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request on the world's kept-alive connections. */
export async function send(
  world: FuzzWorld,
  request: { method: string; path: string; authorization?: string; body?: string; headers?: Record<string, string> },
): Promise<Answer> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.authorization) headers.authorization = request.authorization;
  if (request.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await world.pool.request({
    method: request.method as 'GET',
    path: request.path,
    headers,
    body: request.body,
  });
  return { status: response.statusCode, text: await response.body.text(), headers: response.headers };
}

/** Operations that need credentials (their security lists no empty requirement). */
export const isAuthenticated = (document: OpenApiDocument, op: Operation) => {
  const security = document.paths[op.path]?.[op.method.toLowerCase()]?.security;
  return Boolean(security?.length) && security!.every((requirement) => Object.keys(requirement).length > 0);
};

/** Operations the document marks as for administrators. */
export const isAdminOnly = (document: OpenApiDocument, op: Operation) =>
  /\(admin\)/.test(document.paths[op.path]?.[op.method.toLowerCase()]?.summary ?? '');
