import type { OpenApiDocument } from './fuzz/requests.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { registeredRoutes, toOpenApiPath } from '../helpers/route-table.ts';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Routes left out of the OpenAPI document on purpose, with the reason. A new route that is not in
 * the document fails the test below: describe it (tags, summary, schemas, security) or add it here.
 */
const hiddenOnPurpose: Array<[RegExp, string]> = [
  [/^\/api\/v1\/docs(\*|\/.*)$/, "Swagger UI's own files (index, static assets, its copy of the spec)"],
  [/^\/api\/v1\/redoc\/redoc\.standalone\.js$/, 'the Redoc bundle the Redoc page loads'],
  [
    /^(\/api)?\/v1\/models\/?(removed\/?)?\*$/,
    'twins of /api/v1/models/{model_id}, /api/v1/models/removed/{model_id} and /v1/models/{model} (documented there) taking a model id with a raw "/"',
  ],
];

/**
 * OWASP API9:2023, improper inventory management: the route table Fastify serves and the OpenAPI
 * document are compared both ways, so no route is served undocumented (and so unfuzzed and
 * untested by the generated matrices) and no documented route is a ghost.
 */
for (const dialect of dialects) {
  describe(`API9 inventory: the route table and the OpenAPI document are the same list (${dialect})`, () => {
    let server: TestServer;
    let document: OpenApiDocument;
    before(async () => {
      server = await startTestServer({ dialect });
      document = (await server.api('/api/v1/openapi.json', { auth: null })).body;
    });
    after(() => server.stop());

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
      assert.ok(registered.size === documented.size, `${registered.size} registered, ${documented.size} documented`);
    });

    test('every entry of the hidden list still hides a route (no stale entry)', () => {
      const hidden = registeredRoutes(server).filter(({ path }) =>
        hiddenOnPurpose.some(([pattern]) => pattern.test(path)),
      );
      for (const [pattern, reason] of hiddenOnPurpose)
        assert.ok(
          hidden.some(({ path }) => pattern.test(path)),
          `nothing is hidden as ${reason}: remove the entry`,
        );
    });
  });
}
