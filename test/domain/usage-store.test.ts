import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UsageStore } from '../../src/domain/usage/usage.store.ts';
import type { SqlStore } from '../../src/stores/sql/database.ts';
import { dialects } from '../helpers/server.ts';
import { insertUser, openTestStore } from '../helpers/store-fixtures.ts';

for (const dialect of dialects) {
  describe(`usage ledger group commit (${dialect})`, () => {
    let sql: SqlStore;
    let drop: () => Promise<void>;
    let userId: number;
    before(async () => {
      ({ sql, drop } = await openTestStore(dialect));
      userId = await insertUser(sql.db);
    });
    after(async () => {
      await sql.close();
      await drop();
    });

    const row = (user: number, tokens: number) => ({
      user_id: user,
      api_key_id: null,
      conversation_id: null,
      model: 'm',
      provider: 'p',
      prompt_tokens: tokens,
      completion_tokens: 0,
      cost_micros: 0,
      status: 'complete' as const,
      created_at: new Date().toISOString(),
    });

    test('rows inserted at once are all stored, each call resolving once its row is', async () => {
      const store = new UsageStore(sql.db);
      await Promise.all(Array.from({ length: 250 }, (_, i) => store.insert(row(userId, i + 1))));
      const stored = await sql.db
        .selectFrom('usage_records')
        .select('prompt_tokens')
        .where('user_id', '=', userId)
        .execute();
      assert.equal(stored.length, 250);
      assert.deepEqual(new Set(stored.map((r) => r.prompt_tokens)).size, 250);
    });

    test('a bad row in a batch fails only its own call', async () => {
      const store = new UsageStore(sql.db);
      const results = await Promise.allSettled([
        store.insert(row(userId, 1001)),
        store.insert(row(999_999, 1002)),
        store.insert(row(userId, 1003)),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      const stored = await sql.db
        .selectFrom('usage_records')
        .select('prompt_tokens')
        .where('prompt_tokens', '>', 1000)
        .orderBy('prompt_tokens')
        .execute();
      assert.deepEqual(
        stored.map((r) => r.prompt_tokens),
        [1001, 1003],
      );
    });

    test('a report grouped by user names each user, and by user and day splits their days', async () => {
      const now = new Date().toISOString();
      const other = await sql.db
        .insertInto('users')
        .values({
          uuid: crypto.randomUUID(),
          username: 'grouped',
          username_key: 'grouped',
          password_hash: 'x',
          role: 'user',
          disabled: 0,
          plan_id: null,
          created_at: now,
          updated_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const store = new UsageStore(sql.db);
      const at = (day: string, tokens: number) => ({ ...row(other.id, tokens), created_at: `${day}T10:00:00.000Z` });
      await Promise.all([
        store.insert(at('2030-01-01', 5)),
        store.insert(at('2030-01-02', 7)),
        store.insert(at('2030-01-02', 1)),
      ]);
      const period = { from: '2030-01-01T00:00:00.000Z', to: '2030-01-03T00:00:00.000Z' };
      assert.deepEqual(
        (await store.report(period, ['user'])).map((r) => [r.user_id, r.username, r.requests, r.prompt_tokens]),
        [[other.id, 'grouped', 3, 13]],
      );
      assert.deepEqual(
        (await store.report(period, ['day', 'user'])).map((r) => [r.day, r.username, r.requests]),
        [
          ['2030-01-01', 'grouped', 1],
          ['2030-01-02', 'grouped', 2],
        ],
      );
      // One user's report leaves the others out.
      assert.deepEqual(await store.report({ ...period, userId: userId }, ['user']), []);
    });
  });
}
