import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';
import type { Operation } from './fuzz/requests.ts';
import { operationsOf } from './fuzz/run.ts';

/**
 * OWASP API8:2023, security misconfiguration, on every operation of the document: security
 * headers on pages and API answers (and errors), no CORS answer on private routes whatever the
 * Origin (also to a preflight), no stack trace or internal path in an error, no TRACE, no
 * X-Powered-By. The header values themselves are checked in test/e2e/security-headers.test.ts,
 * the public routes' CORS in test/e2e/public-agents-cors.test.ts.
 */
for (const dialect of dialects) {
  describe(`API8 misconfiguration: headers, CORS, errors and methods on every route (${dialect})`, () => {
    let server: TestServer;
    let operations: Operation[];
    before(async () => {
      server = await startTestServer({ dialect });
      operations = operationsOf((await server.api('/api/v1/openapi.json', { auth: null })).body);
    });
    after(() => server.stop());

    const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
      const response = await fetch(`${server.url}${path}`, { method, headers, body, redirect: 'manual' });
      return { status: response.status, headers: response.headers, text: await response.text() };
    };
    const isPublic = (op: Operation) => op.path.includes('/public/') || op.path === '/widget.js';

    test('every answer, success or error, says nosniff and carries a content security policy; none says X-Powered-By', async () => {
      const missing: string[] = [];
      for (const op of operations) {
        const path = op.path.replace(/\{[^}]+\}/g, '1');
        for (const authorization of [undefined, `Bearer ${server.adminKey}`]) {
          const answer = await call(op.method, path, authorization ? { authorization } : {});
          const name = `${op.method} ${path} (${authorization ? 'admin' : 'anonymous'}) → ${answer.status}`;
          if (answer.headers.get('x-content-type-options') !== 'nosniff') missing.push(`${name}: no nosniff`);
          if (!answer.headers.get('content-security-policy')) missing.push(`${name}: no CSP`);
          if (answer.headers.get('x-powered-by')) missing.push(`${name}: X-Powered-By`);
        }
      }
      assert.deepEqual(missing, []);
    });

    test('private routes never answer CORS, to a request or a preflight from any origin', async () => {
      const permissive: string[] = [];
      for (const op of operations.filter((op) => !isPublic(op))) {
        const path = op.path.replace(/\{[^}]+\}/g, '1');
        const origin = { origin: 'https://evil.example' };
        const direct = await call(op.method, path, { ...origin, authorization: `Bearer ${server.adminKey}` });
        const preflight = await call('OPTIONS', path, {
          ...origin,
          'access-control-request-method': op.method,
          'access-control-request-headers': 'authorization, content-type',
        });
        for (const [kind, answer] of [
          ['request', direct],
          ['preflight', preflight],
        ] as const) {
          for (const header of ['access-control-allow-origin', 'access-control-allow-credentials'])
            if (answer.headers.get(header)) permissive.push(`${kind} ${op.method} ${path}: ${header}`);
        }
      }
      assert.deepEqual(permissive, []);
    });

    test('errors show no stack trace, source path or library name, on every route that reads a body', async () => {
      const leaks: string[] = [];
      for (const op of operations.filter((op) => op.body)) {
        const path = op.path.replace(/\{[^}]+\}/g, '1');
        for (const body of ['{"a":', '{"__proto__":{"x":1}}', '[[[[[[[[[[', '\u0000']) {
          const answer = await call(
            op.method,
            path,
            { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
            body,
          );
          if (/\n\s+at |node_modules|node:internal|\/src\/|SyntaxError|FST_/.test(answer.text))
            leaks.push(`${op.method} ${path} ${JSON.stringify(body)} → ${answer.status} ${answer.text.slice(0, 100)}`);
          if (answer.status >= 500) leaks.push(`${op.method} ${path} ${JSON.stringify(body)} → ${answer.status}`);
        }
      }
      assert.deepEqual(leaks, []);
    });

    test('TRACE and TRACK are not served anywhere, and echo nothing back', async () => {
      const paths = [...new Set(operations.map((op) => op.path.replace(/\{[^}]+\}/g, '1')))];
      for (const path of paths) {
        for (const method of ['TRACE', 'TRACK']) {
          // fetch refuses to send TRACE itself: undici's lower-level client does.
          const response = await request(`${server.url}${path}`, {
            method: method as 'GET',
            headers: { authorization: `Bearer ${server.adminKey}`, 'x-secret-probe': 'probe-42' },
          });
          const answer = { status: response.statusCode, text: await response.body.text() };
          assert.ok([400, 404, 405].includes(answer.status), `${method} ${path} → ${answer.status}`);
          assert.ok(
            !answer.text.includes('probe-42') && !answer.text.includes(server.adminKey),
            `${method} ${path} echoes`,
          );
        }
      }
    });
  });
}
