import type { OpenApiDocument } from './fuzz/requests.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Operation } from './fuzz/requests.ts';
import type { JsonSchema } from './fuzz/schema-values.ts';
import type { FuzzWorld } from './fuzz/world.ts';
import { contentTypeOf, isAdminOnly, minimalValue, ownersPath, send, startWorld } from './owasp-helpers.ts';
import { dialects } from '../helpers/server.ts';

/**
 * OWASP API3:2023, broken object property-level authorization (mass assignment). From the
 * document: every request body is a closed object (unknown fields are refused), save the open
 * ones listed below with their reason; and every write, sent by a user with a role, a plan, an
 * owner or usage counters added, is refused naming the field (or, where the field exists for
 * admins, refused 403), and leaves the user's role, plan and usage as they were.
 */
const openOnPurpose: Array<[RegExp, string]> = [
  [/^(POST \/oauth\/(token|revoke)) body$/, 'OAuth clients send their own parameters (RFC 6749: ignore unknown ones)'],
  [
    /^POST \/v1\/(chat\/completions|embeddings) body(\.messages\[\])?$/,
    'OpenAI clients send fields Causerie does not use',
  ],
  [/ body\.(metadata|tools\[\]|variables)$/, "free-form user data stored as given (no property of Causerie's)"],
];

const privileged: Record<string, unknown> = {
  role: 'admin',
  plan_id: 1,
  user_id: 1,
  owner_id: 1,
  usage: { tokens: 0 },
  tokens_used: 0,
  requests_today: 0,
  disabled: false,
  is_admin: true,
};

function openObjects(schema: JsonSchema | undefined, path: string, found: string[]) {
  if (!schema || typeof schema !== 'object') return;
  if (schema.type === 'object' && schema.additionalProperties !== false) found.push(path);
  for (const [key, value] of Object.entries(schema.properties ?? {})) openObjects(value, `${path}.${key}`, found);
  if (schema.items) openObjects(schema.items, `${path}[]`, found);
  for (const member of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) openObjects(member, path, found);
}

for (const dialect of dialects) {
  describe(`API3 property-level authorization: no mass assignment through any body (${dialect})`, () => {
    let world: FuzzWorld;
    let operations: Operation[];
    let document: OpenApiDocument;
    before(async () => {
      ({ world, operations, document } = await startWorld(dialect));
    });
    after(() => world.stop());

    test('every request body in the document is closed, save the open ones listed with their reason', () => {
      const open: string[] = [];
      for (const op of operations) {
        if (op.body?.mediaType !== 'application/json') continue;
        const found: string[] = [];
        openObjects(op.body.schema, 'body', found);
        for (const path of found) {
          const name = `${op.method} ${op.path} ${path}`;
          if (!openOnPurpose.some(([pattern]) => pattern.test(name))) open.push(name);
        }
      }
      assert.deepEqual(open, []);
    });

    test('a user adding role, plan, owner or usage fields to any write is refused, and stays what they were', async () => {
      const me = async () => (await world.server.api('/api/v1/me', { auth: world.user.basic })).body.user;
      const before = await me();
      const writes = operations.filter(
        (op) => ['POST', 'PUT', 'PATCH'].includes(op.method) && op.body?.mediaType === 'application/json',
      );
      const wrong: string[] = [];
      for (const op of writes) {
        const lenient = /^\/(oauth|v1\/(chat\/completions|embeddings))/.test(op.path);
        for (const [field, value] of Object.entries(privileged)) {
          const body = { ...(minimalValue(op.body!.schema) as object), [field]: value };
          const path = ownersPath(world, op, 'id');
          const answer = await send(world, {
            method: op.method,
            path,
            authorization: world.authorization('api_key', 0),
            body: JSON.stringify(body),
            headers: { 'content-type': contentTypeOf(op) },
          });
          const documented = op.body!.schema.properties?.[field] !== undefined;
          // Admin routes refuse a user whatever the body (their bodies are closed: see the test above).
          const refused = isAdminOnly(document, op)
            ? answer.status === 403
            : documented
              ? [400, 403].includes(answer.status)
              : answer.status === 400 && answer.text.includes(`${field}: is not a known field`);
          if (!refused && !lenient)
            wrong.push(`${op.method} ${path} +${field} → ${answer.status} ${answer.text.slice(0, 100)}`);
        }
      }
      assert.deepEqual(wrong, []);
      const after = await me();
      assert.equal(after.role, before.role);
      assert.equal(after.plan_id, before.plan_id);
      assert.equal(after.role, 'user');
      assert.equal(after.disabled, false);
    });
  });
}
