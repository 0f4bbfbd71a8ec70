import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, ManualClock, startTestServer, type TestServer } from '../helpers/server.ts';
import { basic, createKey, passwordGrant, signUp, type SignedUpUser } from '../helpers/platform.ts';
import type { Json } from '../helpers/wire.ts';

const second = 1000;
const day = 86_400_000;

function decodeJwt(token: string) {
  const [header, payload] = token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, payload };
}

async function tokenRequest(server: TestServer, body: Record<string, string>, form = true) {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
    body: form ? new URLSearchParams(body) : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
}

for (const dialect of dialects) {
  describe(`authentication (${dialect})`, () => {
    let server: TestServer;
    let clock: ManualClock;
    let ivan: SignedUpUser;
    before(async () => {
      clock = new ManualClock();
      server = await startTestServer({ dialect, clock });
      ivan = await signUp(server, 'ivan');
    });
    after(() => server.stop());

    test('a Bearer API key, a Bearer access token and HTTP Basic are all accepted', async () => {
      const { key, id } = await createKey(server, ivan.basic);
      const tokens = await passwordGrant(server, 'ivan', ivan.password);
      const expected = { api_key: `Bearer ${key}`, access_token: `Bearer ${tokens.access_token}`, basic: ivan.basic };
      for (const [kind, auth] of Object.entries(expected)) {
        const response = await server.api('/api/v1/me', { auth });
        assert.equal(response.status, 200, kind);
        assert.equal(response.body.user.username, 'ivan');
        assert.equal(response.body.authenticated_with, kind);
        assert.equal(response.body.api_key_id, kind === 'api_key' ? id : null);
      }
      // Scheme names are case-insensitive (RFC 9110).
      assert.equal((await server.api('/api/v1/me', { auth: `bearer ${key}` })).status, 200);
      assert.equal((await server.api('/api/v1/me', { auth: ivan.basic.replace('Basic', 'BASIC') })).status, 200);
      // Basic usernames follow the same case-insensitive rule as sign-up...
      assert.equal((await server.api('/api/v1/me', { auth: basic('IVAN', ivan.password) })).status, 200);
      // ...but sign-in is by username only, not by id or UUID.
      assert.equal((await server.api('/api/v1/me', { auth: basic(String(ivan.id), ivan.password) })).status, 401);
      assert.equal((await server.api('/api/v1/me', { auth: basic(ivan.uuid, ivan.password) })).status, 401);
      const byId = await tokenRequest(server, {
        grant_type: 'password',
        username: String(ivan.id),
        password: ivan.password,
      });
      assert.equal(byId.body.error, 'invalid_grant');
    });

    test('missing or wrong credentials answer 401 with WWW-Authenticate', async () => {
      const cases: Array<[string | null, string]> = [
        [null, 'Authentication required: send Authorization: Bearer <api_key or access_token>'],
        ['Bearer API_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA', 'Invalid API key'],
        ['Bearer not-a-token', 'Invalid access token'],
        [basic('ivan', 'wrong-password'), 'Invalid username or password'],
        [basic('nobody', 'whatever-password'), 'Invalid username or password'],
        [`Basic ${Buffer.from('no-colon').toString('base64')}`, 'Malformed Basic credentials'],
        ['Bearer', 'Malformed Authorization header'],
        ['Digest username="ivan"', 'Unsupported authorization scheme "digest"'],
      ];
      for (const [auth, detail] of cases) {
        const response = await server.api('/api/v1/me', {
          auth,
          headers: auth && !auth.includes(' ') ? { authorization: auth } : {},
        });
        assert.equal(response.status, 401, String(auth));
        assert.deepEqual(response.body, { detail, code: 'unauthorized' });
        assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="causerie", Basic realm="causerie"');
      }
    });

    test('credentials are checked before the body: no credentials and a bad body is 401, not 400', async () => {
      const response = await server.api('/api/v1/keys', { method: 'POST', body: '{not json', auth: null });
      assert.equal(response.status, 401);
      const unknownField = await server.api('/api/v1/keys', { method: 'POST', body: { bogus: true }, auth: null });
      assert.equal(unknownField.status, 401);
    });

    test('POST /oauth/token, password grant: a short-lived signed access token and a refresh token', async () => {
      for (const form of [true, false]) {
        const response = await tokenRequest(
          server,
          { grant_type: 'password', username: 'ivan', password: ivan.password },
          form,
        );
        assert.equal(response.status, 200);
        assert.deepEqual(Object.keys(response.body).sort(), [
          'access_token',
          'expires_in',
          'refresh_token',
          'token_type',
        ]);
        assert.equal(response.body.token_type, 'Bearer');
        assert.equal(response.body.expires_in, 900);
        assert.equal(response.headers.get('cache-control'), 'no-store');
        const { header, payload } = decodeJwt(response.body.access_token);
        assert.equal(header.alg, 'HS256');
        assert.equal(payload.sub, String(ivan.id));
        assert.equal(payload.iss, 'causerie');
        assert.equal(payload.exp - payload.iat, 900);
        assert.equal(payload.iat, Math.floor(clock.now() / 1000));
        assert.ok(!JSON.stringify(payload).includes(ivan.password));
      }
    });

    test('the token endpoint answers RFC 6749 errors', async () => {
      const cases: Array<[Record<string, string>, string]> = [
        [{ grant_type: 'password', username: 'ivan', password: 'wrong-password' }, 'invalid_grant'],
        [{ grant_type: 'password', username: 'nobody', password: 'whatever-password' }, 'invalid_grant'],
        [{ grant_type: 'password', username: 'ivan' }, 'invalid_request'],
        [{ grant_type: 'refresh_token' }, 'invalid_request'],
        [{ grant_type: 'refresh_token', refresh_token: 'made-up' }, 'invalid_grant'],
        [{ grant_type: 'client_credentials' }, 'unsupported_grant_type'],
        [{ username: 'ivan', password: ivan.password }, 'invalid_request'],
      ];
      for (const [body, error] of cases) {
        const response = await tokenRequest(server, body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.body.error, error, JSON.stringify(body));
        assert.equal(typeof response.body.error_description, 'string');
        assert.deepEqual(Object.keys(response.body).sort(), ['error', 'error_description']);
      }
      const wrong = await tokenRequest(server, {
        grant_type: 'password',
        username: 'ivan',
        password: 'wrong-password',
      });
      const unknown = await tokenRequest(server, {
        grant_type: 'password',
        username: 'nobody',
        password: 'whatever-password',
      });
      assert.equal(
        wrong.body.error_description,
        unknown.body.error_description,
        'no way to tell which usernames exist',
      );
    });

    test('refresh tokens rotate; presenting a used one revokes the whole login', async () => {
      const first = await passwordGrant(server, 'ivan', ivan.password);
      const otherLogin = await passwordGrant(server, 'ivan', ivan.password);
      const second = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
      assert.equal(second.status, 200);
      assert.notEqual(second.body.refresh_token, first.refresh_token);
      assert.notEqual(second.body.access_token, first.access_token);
      assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${second.body.access_token}` })).status, 200);

      const replay = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'invalid_grant');
      assert.match(replay.body.error_description, /already used/);
      // The thief's replay also kills the legitimate holder's newer token...
      const afterReplay = await tokenRequest(server, {
        grant_type: 'refresh_token',
        refresh_token: second.body.refresh_token,
      });
      assert.equal(afterReplay.status, 400);
      assert.equal(afterReplay.body.error, 'invalid_grant');
      // ...and the access tokens of that login stop working at once...
      const revoked = await server.api('/api/v1/me', { auth: `Bearer ${second.body.access_token}` });
      assert.equal(revoked.status, 401);
      assert.equal(revoked.body.detail, 'This sign-in has been revoked');
      assert.equal(
        (
          await server.api('/api/v1/keys', {
            method: 'POST',
            auth: `Bearer ${second.body.access_token}`,
            body: { name: 'escape' },
          })
        ).status,
        401,
      );
      // ...but not another login of the same user.
      assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${otherLogin.access_token}` })).status, 200);
      const other = await tokenRequest(server, {
        grant_type: 'refresh_token',
        refresh_token: otherLogin.refresh_token,
      });
      assert.equal(other.status, 200);
    });

    test("POST /oauth/revoke signs out: that sign-in's access and refresh tokens stop working, others do not", async () => {
      const leaving = await passwordGrant(server, 'ivan', ivan.password);
      const staying = await passwordGrant(server, 'ivan', ivan.password);
      const revoke = (body: Record<string, string>) =>
        fetch(`${server.url}/oauth/revoke`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(body),
        });
      assert.equal((await revoke({ token: leaving.access_token })).status, 200);
      assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${leaving.access_token}` })).status, 401);
      assert.equal(
        (await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: leaving.refresh_token })).status,
        400,
      );
      assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${staying.access_token}` })).status, 200);
      // By refresh token too; an unknown token is not an error (RFC 7009).
      assert.equal((await revoke({ token: staying.refresh_token })).status, 200);
      assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${staying.access_token}` })).status, 401);
      assert.equal((await revoke({ token: 'made-up' })).status, 200);
    });

    test('changing the password needs the current one, ends every sign-in, and leaves API keys working', async () => {
      const user = await signUp(server, `changer-${dialect}`);
      const key = await createKey(server, user.basic);
      const signedIn = await passwordGrant(server, user.username, user.password);
      const change = (body: Record<string, string>, auth = user.basic) =>
        server.api('/api/v1/me/password', { method: 'PUT', auth, body });
      const wrong = await change({ current_password: 'not-it-at-all', new_password: 'a-new-password-1' });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.detail, "current_password: is not this account's password");
      assert.equal(
        (await change({ current_password: user.password, new_password: 'short' })).body.detail,
        'new_password: must be at least 8 characters',
      );
      assert.equal(
        (
          await change(
            { current_password: user.password, new_password: 'a-new-password-1' },
            `Bearer ${signedIn.access_token}`,
          )
        ).status,
        200,
      );
      assert.equal(
        (await server.api('/api/v1/me', { auth: user.basic })).status,
        401,
        'the old password no longer works',
      );
      assert.equal((await server.api('/api/v1/me', { auth: basic(user.username, 'a-new-password-1') })).status, 200);
      assert.equal(
        (await server.api('/api/v1/me', { auth: `Bearer ${signedIn.access_token}` })).status,
        401,
        'sign-ins made with the old password end',
      );
      assert.equal(
        (await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: signedIn.refresh_token })).status,
        400,
      );
      assert.equal((await server.api('/api/v1/me', { auth: key.key })).status, 200, 'API keys are not sign-ins');
    });

    test('sign-out-everywhere ends every sign-in of the account at once', async () => {
      const first = await passwordGrant(server, 'ivan', ivan.password);
      const second = await passwordGrant(server, 'ivan', ivan.password);
      const response = await server.api('/api/v1/me/sign-out-everywhere', {
        method: 'POST',
        auth: `Bearer ${first.access_token}`,
      });
      assert.equal(response.status, 200);
      assert.ok(response.body.revoked_sign_ins >= 2);
      for (const token of [first.access_token, second.access_token])
        assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${token}` })).status, 401);
      assert.equal((await server.api('/api/v1/me', { auth: ivan.basic })).status, 200, 'the password still signs in');
    });

    test('two refreshes racing with one token: exactly one wins', async () => {
      const tokens = await passwordGrant(server, 'ivan', ivan.password);
      const results = await Promise.all(
        [1, 2, 3].map(() => tokenRequest(server, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })),
      );
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400]);
    });

    test('an access token expires after CAUSERIE_ACCESS_TOKEN_TTL; the refresh token then gets a new one', async () => {
      const tokens = await passwordGrant(server, 'ivan', ivan.password);
      clock.advance(899 * second);
      assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${tokens.access_token}` })).status, 200);
      clock.advance(2 * second);
      const expired = await server.api('/api/v1/me', { auth: `Bearer ${tokens.access_token}` });
      assert.equal(expired.status, 401);
      assert.deepEqual(expired.body, {
        detail: 'Access token expired: get a new one from POST /oauth/token',
        code: 'unauthorized',
      });
      assert.ok(expired.headers.get('www-authenticate'));
      const refreshed = await tokenRequest(server, {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
      });
      assert.equal(refreshed.status, 200);
      assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${refreshed.body.access_token}` })).status, 200);
    });

    test('a refresh token expires after CAUSERIE_REFRESH_TOKEN_TTL', async () => {
      const tokens = await passwordGrant(server, 'ivan', ivan.password);
      clock.advance(30 * day + second);
      const response = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      assert.equal(response.status, 400);
      assert.equal(response.body.error, 'invalid_grant');
    });

    test('a tampered or foreign access token is refused', async () => {
      const { access_token } = await passwordGrant(server, 'ivan', ivan.password);
      const [header, payload, signature] = access_token.split('.');
      const asAdmin = Buffer.from(JSON.stringify({ ...decodeJwt(access_token).payload, sub: '1' })).toString(
        'base64url',
      );
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
      const flipped = signature!.startsWith('A') ? `B${signature!.slice(1)}` : `A${signature!.slice(1)}`;
      for (const forged of [`${header}.${asAdmin}.${signature}`, unsigned, `${header}.${payload}.${flipped}`]) {
        const response = await server.api('/api/v1/me', { auth: `Bearer ${forged}` });
        assert.equal(response.status, 401);
        assert.equal(response.body.detail, 'Invalid access token');
      }
    });
  });
}

describe('access tokens must carry every claim Causerie issues', () => {
  const secret = 'a-known-secret-for-this-test-only-0123456789';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CAUSERIE_TOKEN_SECRET: secret } });
  });
  after(() => server.stop());

  test('a token signed with the right secret but without exp (or sid, iat, sub) is refused', async () => {
    const { SignJWT } = await import('jose');
    const key = new TextEncoder().encode(secret);
    const tokens = await passwordGrant(server, 'admin', server.adminPassword);
    const { payload } = decodeJwt(tokens.access_token);
    assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${tokens.access_token}` })).status, 200);
    for (const missing of ['exp', 'iat', 'sub', 'sid']) {
      const claims = { ...payload };
      delete claims[missing];
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
      assert.equal((await server.api('/api/v1/me', { auth: `Bearer ${forged}` })).status, 401, `without ${missing}`);
    }
  });
});

describe('token lifetimes come from the configuration', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CAUSERIE_ACCESS_TOKEN_TTL: '60' } });
  });
  after(() => server.stop());

  test('CAUSERIE_ACCESS_TOKEN_TTL sets expires_in and the token expiry', async () => {
    const tokens = await passwordGrant(server, 'admin', server.adminPassword);
    assert.equal(tokens.expires_in, 60);
    const { payload } = decodeJwt(tokens.access_token);
    assert.equal(payload.exp - payload.iat, 60);
  });
});
