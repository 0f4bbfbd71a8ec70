import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';
import type { Operation } from './fuzz/requests.ts';
import { operationsOf } from './fuzz/run.ts';
import type { JsonSchema } from './fuzz/schema-values.ts';
import { minimalValue } from './owasp-helpers.ts';

/**
 * OWASP API4:2023, unrestricted resource consumption. From the document: every string, array and
 * page size a request can carry has an upper bound; live, on every route, a page one past its
 * bound and a body one past CAUSERIE_BODY_LIMIT are refused before any work. Covered elsewhere,
 * with the attack replayed: slow headers and bodies (slowloris) and the connection cap in
 * test/e2e/slow-clients.test.ts; streams per key and per user (concurrent_streams), quotas and
 * rate limits in test/e2e/limits-enforcement.test.ts; writes per minute in
 * test/e2e/bounded-listings.test.ts; upload size, PDF pages and parse time in
 * test/e2e/chat-api-dialect-files.test.ts; answer duration in test/e2e/answers-stopped.test.ts.
 */
const bodyLimit = 65_536;

function unbounded(schema: JsonSchema | undefined, path: string, found: string[]) {
  if (!schema || typeof schema !== 'object') return;
  if (schema.type === 'string' && schema.maxLength === undefined && !schema.enum && !schema.format && !schema.pattern)
    found.push(`${path} (string without maxLength)`);
  if (schema.type === 'array' && schema.maxItems === undefined) found.push(`${path} (array without maxItems)`);
  if (schema.type === 'integer' && (schema.maximum === undefined || schema.minimum === undefined))
    found.push(`${path} (integer without bounds)`);
  if (typeof schema.additionalProperties === 'object') unbounded(schema.additionalProperties, `${path}.*`, found);
  for (const [key, value] of Object.entries(schema.properties ?? {})) unbounded(value, `${path}.${key}`, found);
  if (schema.items) unbounded(schema.items, `${path}[]`, found);
  for (const member of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) unbounded(member, path, found);
}

const pageParameters = new Set(['limit', 'page_size', 'messages_limit']);

for (const dialect of dialects) {
  describe(`API4 resource consumption: every size a request can carry is bounded (${dialect})`, () => {
    let server: TestServer;
    let operations: Operation[];
    before(async () => {
      server = await startTestServer({ dialect, env: { CAUSERIE_BODY_LIMIT: String(bodyLimit) } });
      operations = operationsOf((await server.api('/api/v1/openapi.json', { auth: null })).body);
    });
    after(() => server.stop());

    test('every string, array and integer of every JSON body and query string has an upper bound', () => {
      const found: string[] = [];
      for (const op of operations) {
        // OAuth's form fields are read once and never stored; the password grant bounds them itself.
        if (op.path.startsWith('/oauth/')) continue;
        if (op.body?.mediaType === 'application/json') unbounded(op.body.schema, `${op.method} ${op.path} body`, found);
        for (const parameter of op.parameters.filter((p) => p.in === 'query'))
          unbounded(parameter.schema, `${op.method} ${op.path} query.${parameter.name}`, found);
      }
      assert.deepEqual(found, []);
    });

    test('pages are at most 100 items, and one past the bound is a 400 naming the parameter, on every route', async () => {
      let paged = 0;
      for (const op of operations) {
        for (const parameter of op.parameters.filter((p) => p.in === 'query' && pageParameters.has(p.name))) {
          paged++;
          const maximum = parameter.schema?.maximum;
          assert.ok(maximum !== undefined && maximum <= 100, `${op.path} ${parameter.name} allows ${maximum}`);
          const path = op.path.replace(/\{[^}]+\}/g, '1');
          const query = new URLSearchParams({ [parameter.name]: String(maximum + 1) });
          // Other required parameters (a search's q) get a valid value, so the page size is what is refused.
          for (const other of op.parameters.filter(
            (p) => p.in === 'query' && p.required && !pageParameters.has(p.name),
          ))
            if (other.schema?.default === undefined) query.set(other.name, String(minimalValue(other.schema)));
          const response = await server.api(`${path}?${query}`, { method: op.method });
          assert.equal(response.status, 400, `${op.method} ${path}: ${response.text}`);
          assert.match(response.text, new RegExp(`query\\.${parameter.name}`), `${op.method} ${path}`);
        }
      }
      assert.ok(paged >= 10, `only ${paged} paged routes`);
    });

    test('a body one byte past CAUSERIE_BODY_LIMIT is refused 413 by every route that reads one', async () => {
      const tooLarge = JSON.stringify({ padding: 'p'.repeat(bodyLimit) });
      const refused: string[] = [];
      for (const op of operations.filter((op) => op.body && op.body.mediaType !== 'multipart/form-data')) {
        const path = op.path.replace(/\{[^}]+\}/g, '1');
        const response = await server.api(path, { method: op.method, body: tooLarge });
        if (response.status !== 413) refused.push(`${op.method} ${path} → ${response.status}`);
      }
      assert.deepEqual(refused, []);
    });

    test('oversized headers are refused 431 before any route runs', async () => {
      const response = await fetch(`${server.url}/api/v1/me`, { headers: { 'x-padding': 'z'.repeat(100_000) } });
      assert.equal(response.status, 431);
      assert.deepEqual(await response.json(), { detail: 'Request headers too large', code: 'headers_too_large' });
    });
  });
}
