import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { dialects, ManualClock, startTestServer, type TestServer } from '../helpers/server.ts';
import { createKey, signUp, type SignedUpUser } from '../helpers/platform.ts';

const keyPattern = /^API_[0-9A-HJKMNP-TV-Z]{4}(_[0-9A-HJKMNP-TV-Z]{4}){7}$/;
const keyFields = [
  'created_at',
  'expires_at',
  'id',
  'kind',
  'last_used_at',
  'limits',
  'name',
  'prefix',
  'revoked_at',
  'user_id',
  'uuid',
];
const minute = 60_000;
const day = 86_400_000;

/** Every row of every table, as text: what a database dump would reveal. */
async function everyRow(server: TestServer): Promise<string> {
  const tables = ['users', 'api_keys', 'refresh_tokens'] as const;
  const rows = await Promise.all(tables.map((table) => server.services.sql.db.selectFrom(table).selectAll().execute()));
  return JSON.stringify(rows);
}

for (const dialect of dialects) {
  describe(`API keys under /api/v1/keys (${dialect})`, () => {
    let server: TestServer;
    let clock: ManualClock;
    let owner: SignedUpUser;
    before(async () => {
      clock = new ManualClock();
      server = await startTestServer({ dialect, clock });
      owner = await signUp(server, 'keyowner');
    });
    after(() => server.stop());

    test('creating a key returns the full key once, with its name and record', async () => {
      const created = await server.api('/api/v1/keys', { method: 'POST', body: { name: 'laptop' }, auth: owner.basic });
      assert.equal(created.status, 201);
      const { key } = created.body;
      assert.match(key, keyPattern);
      assert.deepEqual(Object.keys(created.body).sort(), [...keyFields, 'key'].sort());
      assert.equal(created.body.name, 'laptop');
      assert.equal(created.body.user_id, owner.id);
      assert.equal(created.body.prefix, key.slice(0, 8));
      assert.equal(created.body.kind, 'secret');
      assert.equal(created.body.created_at, new Date(clock.now()).toISOString());
      assert.equal(created.body.expires_at, null);
      assert.equal(created.body.last_used_at, null);

      const read = await server.api(`/api/v1/keys/${created.body.id}`, { auth: owner.basic });
      const listed = await server.api('/api/v1/keys', { auth: owner.basic });
      for (const response of [read, listed]) {
        assert.equal(response.status, 200);
        assert.ok(!response.text.includes(key), 'the full key is shown only on creation');
      }
      // Reading one key also shows what is left of its own limits: none here.
      assert.deepEqual(Object.keys(read.body).sort(), [...keyFields, 'limits_remaining'].sort());
      assert.equal(read.body.limits_remaining, null);
      assert.deepEqual(
        listed.body.map((k: { id: number }) => k.id),
        [created.body.id],
      );
    });

    test('keys carry at least 128 secret bits and never repeat', async () => {
      const keys = await Promise.all(Array.from({ length: 20 }, () => createKey(server, owner.basic)));
      assert.equal(new Set(keys.map((k) => k.key)).size, keys.length);
      for (const { key, body } of keys) {
        // 32 base32 characters (5 bits each); the 4 of the displayed prefix are not secret.
        const secretCharacters = key.slice(body.prefix.length).replaceAll('_', '');
        assert.ok(secretCharacters.length * 5 >= 128, `${secretCharacters.length * 5} secret bits`);
      }
    });

    test('the database keeps a hash and the display prefix, never the key', async () => {
      const { key, id } = await createKey(server, owner.basic, { name: 'dump-check' });
      assert.equal((await server.api('/api/v1/me', { auth: key })).status, 200);
      const row = await server.services.sql.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      assert.equal(row.prefix, key.slice(0, 8));
      assert.match(row.hash, /^[0-9a-f]{64}$/);
      assert.ok(!(await everyRow(server)).includes(key.slice(8)));
      if (dialect === 'sqlite') {
        await sql`PRAGMA wal_checkpoint(FULL)`.execute(server.services.sql.db);
        const base = join(server.env.CAUSERIE_DATA_DIR!, 'causerie.sqlite');
        const files = [base, `${base}-wal`, `${base}-shm`].filter((file) => existsSync(file));
        assert.ok(files.length > 0);
        const secretPart = Buffer.from(key.slice(8));
        for (const file of files) assert.ok(!readFileSync(file).includes(secretPart), `${file} contains the key`);
        // And the check above can fail: the prefix is in the file.
        assert.ok(readFileSync(base).includes(Buffer.from(row.prefix)));
      }
    });

    test('last_used_at records use, written at most once a minute', async () => {
      const { key, id } = await createKey(server, owner.basic);
      const usedAt = new Date(clock.now()).toISOString();
      assert.equal((await server.api('/api/v1/me', { auth: key })).status, 200);
      assert.equal((await server.api(`/api/v1/keys/${id}`, { auth: owner.basic })).body.last_used_at, usedAt);
      clock.advance(30_000);
      await server.api('/api/v1/me', { auth: key });
      assert.equal((await server.api(`/api/v1/keys/${id}`, { auth: owner.basic })).body.last_used_at, usedAt);
      clock.advance(2 * minute);
      await server.api('/api/v1/me', { auth: key });
      assert.equal(
        (await server.api(`/api/v1/keys/${id}`, { auth: owner.basic })).body.last_used_at,
        new Date(clock.now()).toISOString(),
      );
    });

    test('a key with an expiry works until then and answers 401 after', async () => {
      const inTwoDays = new Date(clock.now() + 2 * day).toISOString();
      const byDate = await createKey(server, owner.basic, { name: 'short-lived', expires_at: inTwoDays });
      assert.equal(byDate.body.expires_at, inTwoDays);
      const byDays = await createKey(server, owner.basic, { expires_in_days: 1 });
      assert.equal(byDays.body.expires_at, new Date(clock.now() + day).toISOString());
      assert.equal((await server.api('/api/v1/me', { auth: byDays.key })).status, 200);

      clock.advance(day + 1);
      const expired = await server.api('/api/v1/me', { auth: byDays.key });
      assert.equal(expired.status, 401);
      assert.deepEqual(expired.body, { detail: 'This API key has expired', code: 'unauthorized' });
      assert.ok(expired.headers.get('www-authenticate'));
      assert.equal((await server.api('/api/v1/me', { auth: byDate.key })).status, 200);
      clock.advance(day);
      assert.equal((await server.api('/api/v1/me', { auth: byDate.key })).status, 401);
    });

    test('an expiry in the past or not a date is refused, naming the field', async () => {
      const past = await server.api('/api/v1/keys', {
        method: 'POST',
        body: { expires_at: new Date(clock.now() - minute).toISOString() },
        auth: owner.basic,
      });
      assert.equal(past.status, 400);
      assert.deepEqual(past.body, { detail: 'expires_at: must be in the future', code: 'validation_failed' });
      const garbage = await server.api('/api/v1/keys', {
        method: 'POST',
        body: { expires_at: 'next tuesday' },
        auth: owner.basic,
      });
      assert.equal(garbage.status, 400);
      assert.match(garbage.body.detail, /^body\.expires_at: /);
      const days = await server.api('/api/v1/keys', {
        method: 'POST',
        body: { expires_in_days: 0 },
        auth: owner.basic,
      });
      assert.equal(days.status, 400);
      assert.match(days.body.detail, /^body\.expires_in_days: /);
      const both = await server.api('/api/v1/keys', {
        method: 'POST',
        body: { expires_in_days: 5, expires_at: new Date(clock.now() + day).toISOString() },
        auth: owner.basic,
      });
      assert.equal(both.status, 400);
      assert.deepEqual(both.body, {
        detail: 'expires_in_days: give expires_at or expires_in_days, not both',
        code: 'validation_failed',
      });
      const unknown = await server.api('/api/v1/keys', {
        method: 'POST',
        body: { scopes: ['all'] },
        auth: owner.basic,
      });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.detail, 'body.scopes: is not a known field');
    });

    test('revocation takes effect on the very next request', async () => {
      const { key, id, body } = await createKey(server, owner.basic);
      assert.equal((await server.api('/api/v1/me', { auth: key })).status, 200);
      // Revoked by UUID with the key itself: the request that revokes is still allowed.
      const revoked = await server.api(`/api/v1/keys/${body.uuid}`, { method: 'DELETE', auth: key });
      assert.equal(revoked.status, 200);
      assert.equal(revoked.body.id, id);
      assert.equal(revoked.body.revoked_at, new Date(clock.now()).toISOString());
      const after = await server.api('/api/v1/me', { auth: key });
      assert.equal(after.status, 401);
      assert.deepEqual(after.body, { detail: 'This API key has been revoked', code: 'unauthorized' });
      const again = await server.api(`/api/v1/keys/${id}`, { method: 'DELETE', auth: owner.basic });
      assert.equal(again.status, 200);
      assert.equal(again.body.revoked_at, revoked.body.revoked_at);
    });

    test("another user's key answers 404 to read and revoke; it stays usable", async () => {
      const mallory = await signUp(server, 'mallory');
      const { key, id, body } = await createKey(server, owner.basic);
      for (const reference of [String(id), body.uuid]) {
        assert.equal((await server.api(`/api/v1/keys/${reference}`, { auth: mallory.basic })).status, 404);
        const revoke = await server.api(`/api/v1/keys/${reference}`, { method: 'DELETE', auth: mallory.basic });
        assert.equal(revoke.status, 404);
        assert.deepEqual(revoke.body, { detail: 'API key not found', code: 'not_found' });
      }
      assert.equal((await server.api('/api/v1/me', { auth: key })).status, 200);
      const list = await server.api('/api/v1/keys?all=true', { auth: mallory.basic });
      assert.deepEqual(list.body, []);
      const forOwner = await server.api('/api/v1/keys', {
        method: 'POST',
        body: { user_id: owner.id },
        auth: mallory.basic,
      });
      assert.equal(forOwner.status, 403);
    });

    test('an unknown key id is 404 whatever its form; what cannot be an id is 400', async () => {
      for (const reference of ['999999', '00000000-0000-4000-8000-000000000000']) {
        const response = await server.api(`/api/v1/keys/${reference}`, { auth: owner.basic });
        assert.equal(response.status, 404, reference);
      }
      const malformed = await server.api('/api/v1/keys/not-an-id', { auth: owner.basic });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.detail, 'params.key_id: is not a valid id (an integer or a UUID)');
    });

    test('an administrator sees, lists and revokes every key, and creates keys for others', async () => {
      const victim = await signUp(server, 'victim');
      const { key, id } = await createKey(server, victim.basic);
      assert.equal((await server.api(`/api/v1/keys/${id}`)).status, 200);
      const own = await server.api('/api/v1/keys');
      assert.ok(own.body.every((k: { user_id: number }) => k.user_id === own.body[0].user_id));
      const all = await server.api('/api/v1/keys?all=true');
      assert.ok(all.body.some((k: { id: number }) => k.id === id));
      assert.ok(all.body.some((k: { user_id: number }) => k.user_id === owner.id));
      const forVictim = await server.api('/api/v1/keys', {
        method: 'POST',
        body: { user_id: victim.id, name: 'issued by admin' },
      });
      assert.equal(forVictim.status, 201);
      assert.equal(forVictim.body.user_id, victim.id);
      const me = await server.api('/api/v1/me', { auth: forVictim.body.key });
      assert.equal(me.body.user.username, 'victim');
      assert.equal((await server.api(`/api/v1/keys/${id}`, { method: 'DELETE' })).status, 200);
      assert.equal((await server.api('/api/v1/me', { auth: key })).status, 401);
    });

    test('key routes need credentials', async () => {
      for (const [method, path] of [
        ['GET', '/api/v1/keys'],
        ['POST', '/api/v1/keys'],
        ['GET', '/api/v1/keys/1'],
        ['DELETE', '/api/v1/keys/1'],
      ] as const) {
        const response = await server.api(path, {
          method,
          auth: null,
          body: method === 'POST' ? { name: 'x' } : undefined,
        });
        assert.equal(response.status, 401, `${method} ${path}`);
        assert.ok(response.headers.get('www-authenticate'));
      }
    });
  });
}
