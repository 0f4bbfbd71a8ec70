import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { Json } from '../helpers/wire.ts';

/**
 * Routes left out of the OpenAPI document on purpose, with the reason. A new route that is not in
 * the document fails the test below: describe it (tags, summary, schemas, security) or add it here.
 */
const hiddenOnPurpose: Array<[RegExp, string]> = [
  [/^\/api\/v1\/docs\/.*/, "Swagger UI's own files (index, static assets, its copy of the spec)"],
  [/^\/api\/v1\/redoc\/redoc\.standalone\.js$/, 'the Redoc bundle the Redoc page loads'],
  [
    /^(\/api)?\/v1\/models\/?(removed\/?)?\*$/,
    'twins of /api/v1/models/{model_id}, /api/v1/models/removed/{model_id} and /v1/models/{model} (documented there) taking a model id with a raw "/"',
  ],
];

interface Route {
  method: string;
  path: string;
}

/** Every route Fastify registered, read from printRoutes' tree (HEAD twins of GET routes left out). */
function registeredRoutes(server: TestServer): Route[] {
  const tree = server.app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: Route[] = [];
  for (const line of tree.split('\n')) {
    const match = /^(.*?)[└├]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + match[2];
    stack[depth] = path;
    for (const method of match[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') routes.push({ method, path });
    }
  }
  return routes;
}

// A parameter starts a segment; a ':' inside one is literal (spec 001's ".../messages:complete").
const toOpenApiPath = (path: string) => path.replace(/(^|\/):([A-Za-z0-9_]+)/g, '$1{$2}');

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

  test('describes every registered route, and only those', () => {
    const routes = registeredRoutes(server);
    assert.ok(routes.length > 15, `parsed ${routes.length} routes from printRoutes`);
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries<Record<string, unknown>>(document.paths)) {
      for (const method of Object.keys(operations)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const registered = new Set<string>();
    for (const { method, path } of routes) {
      const hidden = hiddenOnPurpose.some(([pattern]) => pattern.test(path));
      if (hidden) continue;
      const name = `${method} ${toOpenApiPath(path)}`;
      registered.add(name);
      assert.ok(
        documented.has(name),
        `${name} is registered but not in the OpenAPI document: give it a schema with tags and summary (not hide), or list it in hiddenOnPurpose with the reason`,
      );
    }
    for (const name of documented)
      assert.ok(registered.has(name), `${name} is documented but no such route is registered`);
    // The spec 000 routes this issue owns are all there.
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
