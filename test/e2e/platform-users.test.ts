import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';
import { basic, createKey, passwordGrant, signUp } from '../helpers/platform.ts';

const userFields = ['created_at', 'disabled', 'id', 'plan_id', 'role', 'username', 'uuid'];

for (const dialect of dialects) {
  describe(`users, the chat-service dialect (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ dialect });
    });
    after(() => server.stop());

    test('POST /users creates an account and never returns the password or its hash', async () => {
      const password = 'correct horse battery staple';
      const response = await server.api('/users', {
        method: 'POST',
        body: { username: 'Alice', password },
        auth: null,
      });
      assert.equal(response.status, 201);
      assert.deepEqual(Object.keys(response.body).sort(), userFields);
      assert.equal(response.body.username, 'Alice');
      assert.equal(response.body.role, 'user');
      assert.equal(response.body.disabled, false);
      assert.ok(Number.isInteger(response.body.id));
      assert.match(response.body.uuid, /^[0-9a-f-]{36}$/);
      assert.ok(!response.text.includes(password));
      assert.ok(!/argon2/.test(response.text));
    });

    test('passwords are stored as argon2id hashes only', async () => {
      const password = 'stored-only-as-a-hash';
      await signUp(server, 'hashcheck', password);
      const row = await server.services.sql.db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', 'hashcheck')
        .executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.ok(!JSON.stringify(row).includes(password));
    });

    test('usernames are unique whatever their case', async () => {
      await signUp(server, 'Carol');
      for (const username of ['Carol', 'carol', 'CAROL']) {
        const response = await server.api('/users', {
          method: 'POST',
          body: { username, password: 'another-password' },
          auth: null,
        });
        assert.equal(response.status, 409, username);
        assert.deepEqual(response.body, { detail: `username "${username}" is taken`, code: 'conflict' });
      }
    });

    test('invalid sign-ups answer 400 naming the field', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ username: 'dave', password: 'short' }, /^password: must be at least 8 characters$/],
        [{ username: 'no spaces allowed', password: 'long-enough-password' }, /^username: /],
        [{ username: '-dash-first', password: 'long-enough-password' }, /^username: /],
        [{ password: 'long-enough-password' }, /^body\.username: is required$/],
        [{ username: 'dave' }, /^body\.password: is required$/],
        // Routes name users by username, id or UUID: a name that looks like an id would shadow one.
        [{ username: '42', password: 'long-enough-password' }, /^username: must not look like a user id or a UUID$/],
        [
          { username: '6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c', password: 'long-enough-password' },
          /^username: must not look like a user id or a UUID$/,
        ],
        [
          { username: 'dave', password: 'long-enough-password', email: 'd@example.com' },
          /^body\.email: is not a known field$/,
        ],
        [{ username: { first: 'dave' }, password: 'long-enough-password' }, /^body\.username: must be string$/],
      ];
      for (const [body, detail] of cases) {
        const response = await server.api('/users', { method: 'POST', body, auth: null });
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.body.code, 'validation_failed');
        assert.match(response.body.detail, detail);
      }
      const noDave = await server.api('/users/dave');
      assert.equal(noDave.status, 404);
    });

    test('only an administrator can create an administrator', async () => {
      const anonymous = await server.api('/users', {
        method: 'POST',
        body: { username: 'wannabe', password: 'wannabe-password', role: 'admin' },
        auth: null,
      });
      assert.equal(anonymous.status, 403);
      assert.equal(anonymous.body.code, 'forbidden');
      const user = await signUp(server, 'plainuser');
      const byUser = await server.api('/users', {
        method: 'POST',
        body: { username: 'wannabe', password: 'wannabe-password', role: 'admin' },
        auth: user.basic,
      });
      assert.equal(byUser.status, 403);
      const byAdmin = await server.api('/users', {
        method: 'POST',
        body: { username: 'second-admin', password: 'second-admin-password', role: 'admin' },
      });
      assert.equal(byAdmin.status, 201);
      assert.equal(byAdmin.body.role, 'admin');
      const me = await server.api('/api/v1/me', { auth: basic('second-admin', 'second-admin-password') });
      assert.equal(me.body.user.role, 'admin');
    });

    test('POST /users with credentials that are wrong answers 401 rather than signing up anonymously', async () => {
      const response = await server.api('/users', {
        method: 'POST',
        body: { username: 'sneaky', password: 'sneaky-password' },
        auth: 'API_NOT_A_REAL_KEY',
      });
      assert.equal(response.status, 401);
      assert.equal((await server.api('/users/sneaky')).status, 404);
    });

    test('GET /users/:username: yourself by name (any case), id or UUID; someone else is 404', async () => {
      const erin = await signUp(server, 'Erin');
      const frank = await signUp(server, 'frank');
      for (const reference of ['Erin', 'erin', String(erin.id), erin.uuid, erin.uuid.toUpperCase()]) {
        const response = await server.api(`/users/${reference}`, { auth: erin.basic });
        assert.equal(response.status, 200, reference);
        assert.equal(response.body.id, erin.id);
        assert.deepEqual(Object.keys(response.body).sort(), userFields);
      }
      for (const reference of ['frank', String(frank.id), frank.uuid]) {
        const response = await server.api(`/users/${reference}`, { auth: erin.basic });
        assert.equal(response.status, 404, reference);
        assert.deepEqual(response.body, { detail: 'User not found', code: 'not_found' });
      }
      // The same answer as for a user who does not exist: no way to probe for usernames.
      const missing = await server.api('/users/nobody-here', { auth: erin.basic });
      assert.deepEqual(missing.body, { detail: 'User not found', code: 'not_found' });
    });

    test('GET /users/:username needs credentials', async () => {
      const response = await server.api('/users/admin', { auth: null });
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /Bearer/);
      assert.equal(response.body.code, 'unauthorized');
    });

    test('an administrator sees every user', async () => {
      const grace = await signUp(server, 'grace');
      const byName = await server.api('/users/GRACE');
      assert.equal(byName.status, 200);
      assert.equal(byName.body.id, grace.id);
      const list = await server.api('/api/v1/users?limit=100');
      assert.equal(list.status, 200);
      assert.ok(list.body.some((user: { username: string }) => user.username === 'grace'));
      assert.ok(list.body.some((user: { username: string }) => user.username === 'admin'));
      assert.ok(!list.text.includes('password'));
      const page = await server.api('/api/v1/users?limit=1&offset=1');
      assert.equal(page.body.length, 1);
      assert.equal(page.body[0].id, list.body[1].id);
    });

    test('only administrators list users', async () => {
      const user = await signUp(server, 'curious');
      const response = await server.api('/api/v1/users', { auth: user.basic });
      assert.equal(response.status, 403);
      assert.deepEqual(response.body, { detail: 'Only an administrator can use this route', code: 'forbidden' });
    });

    test('a disabled account cannot authenticate with any credential until re-enabled', async () => {
      const heidi = await signUp(server, 'heidi');
      const { key } = await createKey(server, heidi.basic);
      const tokens = await passwordGrant(server, 'heidi', heidi.password);
      const byUser = await server.api('/api/v1/users/heidi', {
        method: 'PATCH',
        body: { disabled: true },
        auth: heidi.basic,
      });
      assert.equal(byUser.status, 403);
      const disabled = await server.api('/api/v1/users/heidi', { method: 'PATCH', body: { disabled: true } });
      assert.equal(disabled.status, 200);
      assert.equal(disabled.body.disabled, true);
      for (const auth of [key, heidi.basic, `Bearer ${tokens.access_token}`]) {
        const response = await server.api('/api/v1/me', { auth });
        assert.equal(response.status, 401, auth);
        assert.equal(response.body.detail, 'This account is disabled');
      }
      const refresh = await server.api('/oauth/token', {
        method: 'POST',
        body: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
        auth: null,
      });
      assert.equal(refresh.status, 400);
      assert.equal(refresh.body.error, 'invalid_grant');
      await server.api(`/api/v1/users/${heidi.uuid}`, { method: 'PATCH', body: { disabled: false } });
      assert.equal((await server.api('/api/v1/me', { auth: key })).status, 200);
      assert.equal((await server.api('/api/v1/me', { auth: heidi.basic })).status, 200);
    });
  });
}

describe('sign-up switched off (CAUSERIE_ALLOW_SIGNUP=false)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CAUSERIE_ALLOW_SIGNUP: 'false' } });
  });
  after(() => server.stop());

  test('strangers cannot create accounts', async () => {
    const response = await server.api('/users', {
      method: 'POST',
      body: { username: 'stranger', password: 'stranger-password' },
      auth: null,
    });
    assert.equal(response.status, 403);
    assert.equal(response.body.code, 'forbidden');
    assert.match(response.body.detail, /Sign-up is disabled/);
  });

  test('an administrator still can, and the new user can then sign in', async () => {
    const created = await server.api('/users', {
      method: 'POST',
      body: { username: 'invited', password: 'invited-password' },
    });
    assert.equal(created.status, 201);
    const me = await server.api('/api/v1/me', { auth: basic('invited', 'invited-password') });
    assert.equal(me.status, 200);
    const byUser = await server.api('/users', {
      method: 'POST',
      body: { username: 'friend', password: 'friend-password' },
      auth: basic('invited', 'invited-password'),
    });
    assert.equal(byUser.status, 403);
  });
});

describe('open sign-up is throttled per address', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CAUSERIE_SIGNUP_LIMIT: '3' } });
  });
  after(() => server.stop());

  test('after CAUSERIE_SIGNUP_LIMIT attempts an hour, taken names included, sign-ups answer 429; admins are not counted', async () => {
    const signUpAs = (username: string, auth: string | null = null) =>
      server.api('/users', { method: 'POST', auth, body: { username, password: `${username}-password` } });
    assert.equal((await signUpAs('first')).status, 201);
    assert.equal((await signUpAs('First')).status, 409, 'a taken name counts too');
    assert.equal((await signUpAs('second')).status, 201);
    const refused = await signUpAs('third');
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.body.code, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal((await server.api('/users/third')).status, 404);
    assert.equal((await signUpAs('by-admin', server.adminKey)).status, 201);
  });
});
