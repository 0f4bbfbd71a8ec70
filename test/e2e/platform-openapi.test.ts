import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { Json } from '../helpers/wire.ts';

describe('the OpenAPI document', () => {
  let server: TestServer;
  let document: Json;
  before(async () => {
    server = await startTestServer();
    const response = await server.api('/api/v1/openapi.json', { auth: null });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    document = response.body;
  });
  after(() => server.stop());

  test('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.deepEqual(result.errors, undefined);
    assert.equal(result.valid, true);
    assert.equal(validator.version, '3.1');
    assert.match(document.openapi, /^3\.1\./);
  });

  test('documents every route of the sessions dialect', () => {
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries<Record<string, unknown>>(document.paths)) {
      for (const method of Object.keys(operations)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    for (const name of [
      'GET /',
      'GET /about',
      'GET /admin',
      'GET /api/v1/docs',
      'GET /api/v1/redoc',
      'GET /api/v1/openapi.json',
      'POST /api/v1/keys',
      'GET /api/v1/keys',
      'GET /api/v1/keys/{key_id}',
      'DELETE /api/v1/keys/{key_id}',
      'POST /users',
      'GET /users/{username}',
      'POST /oauth/token',
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
    ]) {
      assert.ok(documented.has(name), name);
    }
  });

  test('every operation has tags, a summary and its responses', () => {
    for (const [path, operations] of Object.entries<Record<string, Json>>(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const name = `${method.toUpperCase()} ${path}`;
        assert.ok(operation.tags?.length, `${name} has no tags`);
        assert.ok(operation.summary, `${name} has no summary`);
        const statuses = Object.keys(operation.responses ?? {});
        assert.ok(
          statuses.some((status) => /^[23]/.test(status)),
          `${name} documents no success response`,
        );
        if (operation.security?.length)
          assert.ok(
            statuses.includes('401') || operation.security.some((s: object) => !Object.keys(s).length),
            `${name} is authenticated but documents no 401`,
          );
      }
    }
  });

  test('declares both credential schemes', () => {
    assert.deepEqual(document.components.securitySchemes.bearerAuth, {
      type: 'http',
      scheme: 'bearer',
      description: 'An API key (API_…) or an OAuth access token from POST /oauth/token.',
    });
    assert.equal(document.components.securitySchemes.basicAuth.scheme, 'basic');
  });

  test("each operation's declared security is what the server does without credentials", async () => {
    for (const [path, operations] of Object.entries<Record<string, Json>>(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const name = `${method.toUpperCase()} ${path}`;
        const url = path.replace(/\{[^}]+\}/g, '1');
        const response = await fetch(`${server.url}${url}`, { method: method.toUpperCase(), redirect: 'manual' });
        await response.arrayBuffer();
        const required =
          operation.security?.length && operation.security.every((s: object) => Object.keys(s).length > 0);
        if (required) {
          assert.equal(
            response.status,
            401,
            `${name} declares security but answered ${response.status} without credentials (authenticate in onRequest, so credentials are checked before the body)`,
          );
          assert.ok(response.headers.get('www-authenticate'), `${name}: 401 without WWW-Authenticate`);
        } else {
          assert.notEqual(response.status, 401, `${name} answered 401 without credentials but declares no security`);
        }
      }
    }
  });
});
