import type { OpenApiDocument } from './fuzz/requests.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, SignJWT } from 'jose';
import { passwordGrant } from '../helpers/platform.ts';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';
import { operationsOf } from './fuzz/run.ts';
import { isAuthenticated } from './owasp-helpers.ts';

/**
 * OWASP API2:2023, broken authentication. Forged access tokens (alg "none", the wrong key, expired,
 * another issuer, tampered claims, an RS/HS confusion, a token for a revoked sign-in) are presented
 * to every authenticated GET route of the document: each answers 401. Refresh-token reuse and
 * rotation are in test/e2e/platform-auth.test.ts; password guessing (per account, per address,
 * concurrent) in test/e2e/login-throttle.test.ts; expiry by the clock in platform-auth. Guessing
 * API keys and tokens is throttled per address (below).
 */
for (const dialect of dialects) {
  describe(`API2 authentication: forged and stale tokens on every authenticated route (${dialect})`, () => {
    const secret = 'a-known-secret-for-the-api2-test-0123456789';
    const key = new TextEncoder().encode(secret);
    let server: TestServer;
    let document: OpenApiDocument;
    before(async () => {
      // Hundreds of forged tokens from one address: the guess throttle (tested below) is raised here.
      server = await startTestServer({
        dialect,
        env: { CAUSERIE_TOKEN_SECRET: secret, CAUSERIE_LOGIN_ADDRESS_FAILURE_LIMIT: '100000' },
      });
      document = (await server.api('/api/v1/openapi.json', { auth: null })).body;
    });
    after(() => server.stop());

    const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256' }, with_ = key) =>
      new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(with_);
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

    test('alg none, wrong key, expired, wrong issuer, tampered, algorithm confusion and revoked tokens answer 401 everywhere', async () => {
      const tokens = await passwordGrant(server, 'admin', server.adminPassword);
      const genuine = decodeJwt(tokens.access_token);
      const now = Math.floor(Date.now() / 1000);
      const [header, payload, signature] = tokens.access_token.split('.');
      const revoked = await passwordGrant(server, 'admin', server.adminPassword);
      await fetch(`${server.url}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: revoked.refresh_token }),
      });
      const forged: Record<string, string> = {
        'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
        'alg None, signature kept': `${b64({ alg: 'None' })}.${payload}.${signature}`,
        'wrong key': await sign(
          genuine,
          undefined,
          new TextEncoder().encode('another-secret-of-32-characters-at-least'),
        ),
        expired: await sign({ ...genuine, iat: now - 7200, exp: now - 3600 }),
        'wrong issuer': await sign({ ...genuine, iss: 'someone-else' }),
        'no issuer': await sign({ ...genuine, iss: undefined }),
        'tampered subject': `${header}.${b64({ ...genuine, sub: '2' })}.${signature}`,
        'HS512 with the right key': await sign(genuine, { alg: 'HS512' }),
        'RS256 header on an HMAC': `${b64({ alg: 'RS256' })}.${payload}.${signature}`,
        'revoked sign-in': revoked.access_token,
        'issued in the future': await sign({ ...genuine, iat: now + 3600, nbf: now + 3600, exp: now + 7200 }),
        'empty signature': `${header}.${payload}.`,
        garbage: 'eyJ.eyJ.x',
      };
      assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${tokens.access_token}` })).status, 200);
      // The public token route reads a public key, not an access token (a wrong one is an unknown key: 404).
      const routes = operationsOf(document).filter(
        (op) => op.method === 'GET' && isAuthenticated(document, op) && !op.path.includes('/public/'),
      );
      assert.ok(routes.length > 30, `${routes.length} authenticated GET routes`);
      const accepted: string[] = [];
      for (const [name, token] of Object.entries(forged)) {
        for (const op of routes) {
          const path = op.path.replace(/\{[^}]+\}/g, '1');
          const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
          await response.arrayBuffer();
          if (response.status !== 401) accepted.push(`${name}: GET ${path} → ${response.status}`);
        }
      }
      assert.deepEqual(accepted, []);
    });

    test('an API key is refused once revoked, and a wrong one never names the reason beyond "invalid"', async () => {
      const created = await server.api('/api/v1/keys', { method: 'POST', body: { name: 'short-lived' } });
      assert.equal((await server.api('/api/v1/me', { auth: created.body.key })).status, 200);
      await server.api(`/api/v1/keys/${created.body.id}`, { method: 'DELETE' });
      const revoked = await server.api('/api/v1/me', { auth: created.body.key });
      assert.equal(revoked.status, 401);
      // Another last character (the same one, 1 time in 32, would be the revoked key itself).
      const last = created.body.key.at(-1) === 'Z' ? 'Y' : 'Z';
      const guessed = await server.api('/api/v1/me', { auth: `${created.body.key.slice(0, -1)}${last}` });
      assert.equal(guessed.status, 401);
      assert.equal(guessed.body.detail, 'Invalid API key');
      assert.ok(!guessed.text.includes(created.body.key.slice(8)));
    });
  });
}

for (const dialect of dialects) {
  describe(`API2 authentication: guessing API keys and tokens is throttled per address (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ dialect, env: { CAUSERIE_LOGIN_ADDRESS_FAILURE_LIMIT: '5' } });
    });
    after(() => server.stop());

    test('past the limit of unknown keys and forged tokens, further guesses from the address wait while the right key still works; revoked keys are no guess', async () => {
      const revoked = await server.api('/api/v1/keys', { method: 'POST', body: { name: 'revoked' } });
      await server.api(`/api/v1/keys/${revoked.body.id}`, { method: 'DELETE' });
      // Known but revoked: refused, not counted.
      for (let i = 0; i < 8; i++)
        assert.equal((await server.api('/api/v1/me', { auth: revoked.body.key })).status, 401);
      assert.equal((await server.api('/api/v1/me')).status, 200);
      const guesses = [
        'API_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA',
        'API_BBBB_BBBB_BBBB_BBBB_BBBB_BBBB_BBBB_BBBB',
        'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x',
      ];
      const statuses = await Promise.all(
        Array.from({ length: 12 }, (_, i) => server.api('/api/v1/me', { auth: guesses[i % 3]! }).then((r) => r.status)),
      );
      assert.equal(statuses.filter((s) => s === 401).length, 5, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 429).length, 7);
      assert.equal((await server.api('/api/v1/me')).status, 200, 'the right key is no guess and gets in');
      const refused = await server.api('/api/v1/me', { auth: guesses[0]! });
      assert.equal(refused.status, 429, 'another guess waits');
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      assert.equal(refused.body.code, 'rate_limited');
      // Passwords are throttled on their own counters: Basic still works from here.
      assert.equal(
        (
          await server.api('/api/v1/me', {
            auth: `Basic ${Buffer.from(`admin:${server.adminPassword}`).toString('base64')}`,
          })
        ).status,
        200,
      );
    });
  });
}
