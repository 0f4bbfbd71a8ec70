import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Updateable } from 'kysely';
import { ConversationsStore } from '../../src/domain/conversations/conversations.store.ts';
import { BuiltOnce } from '../../src/stores/sql/built-once.ts';
import type { SqlStore } from '../../src/stores/sql/database.ts';
import type { UsersTable } from '../../src/stores/sql/schema.ts';
import { dialects } from '../helpers/server.ts';
import { insertUser, openTestStore } from '../helpers/store-fixtures.ts';

for (const dialect of dialects) {
  describe(`statements built once (${dialect})`, () => {
    let sql: SqlStore;
    let drop: () => Promise<void>;
    let id: number;
    before(async () => {
      ({ sql, drop } = await openTestStore(dialect));
      id = await insertUser(sql.db);
    });
    after(async () => {
      await sql.close();
      await drop();
    });

    // node:sqlite gives rows without a prototype: compared as plain objects.
    const plain = <T extends object>(row: T | undefined) => (row ? { ...row } : row);

    test('a statement built once runs with each call’s values, a constant of its own included', async () => {
      const byId = new BuiltOnce((db, v: { id: number }) =>
        db.selectFrom('users').select(['id', 'role']).where('id', '=', v.id).where('role', '=', 'user'),
      );
      assert.deepEqual((await byId.rows(sql.db, { id })).map(plain), [{ id, role: 'user' }]);
      assert.equal(await byId.first(sql.db, { id: id + 1000 }), undefined);
      // Inside a transaction too, with the SQL built for the database.
      const inTransaction = await sql.db.transaction().execute((trx) => byId.first(trx, { id }));
      assert.deepEqual(plain(inTransaction), { id, role: 'user' });
    });

    test('values of another shape make another statement: the one built first does not write them', async () => {
      const update = new BuiltOnce((db, v: Updateable<UsersTable> & { id: number }) => {
        const { id: userId, ...changes } = v;
        return db.updateTable('users').set(changes).where('id', '=', userId).returning(['username', 'disabled']);
      });
      assert.deepEqual(plain(await update.first(sql.db, { id, username: 'renamed' })), {
        username: 'renamed',
        disabled: 0,
      });
      assert.deepEqual(plain(await update.first(sql.db, { id, username: 'again', disabled: 1 })), {
        username: 'again',
        disabled: 1,
      });
      assert.deepEqual(plain(await update.first(sql.db, { id, disabled: 0 })), { username: 'again', disabled: 0 });
    });
    test('a value left undefined is not given, as with Kysely: its column is neither written nor set to null', async () => {
      const update = new BuiltOnce((db, v: Updateable<UsersTable> & { id: number }) => {
        const { id: userId, ...changes } = v;
        return db.updateTable('users').set(changes).where('id', '=', userId).returning(['username', 'plan_id']);
      });
      await update.first(sql.db, { id, username: 'kept', plan_id: null });
      // The same names, one of them undefined: the statement built without it runs, whichever came first.
      assert.deepEqual(plain(await update.first(sql.db, { id, username: undefined, plan_id: null })), {
        username: 'kept',
        plan_id: null,
      });
      assert.deepEqual(plain(await update.first(sql.db, { id, username: 'now', plan_id: undefined })), {
        username: 'now',
        plan_id: null,
      });
      const insert = new BuiltOnce((db, v: { uuid: string; username: string; plan_id?: number | null }) =>
        db
          .insertInto('users')
          .values({
            ...v,
            username_key: v.username,
            password_hash: 'x',
            role: 'user',
            disabled: 0,
            created_at: 'now',
            updated_at: 'now',
          })
          .returning(['username', 'plan_id']),
      );
      // An insert leaves it to the column's default (null here), on a statement built first with it undefined.
      assert.deepEqual(
        plain(await insert.first(sql.db, { uuid: crypto.randomUUID(), username: 'v1', plan_id: undefined })),
        {
          username: 'v1',
          plan_id: null,
        },
      );
    });

    test('the touch of a conversation: its optional title and model each make their own statement', async () => {
      const store = new ConversationsStore(sql.db);
      const at = new Date().toISOString();
      const conversation = await store.insertConversation({
        uuid: crypto.randomUUID(),
        user_id: id,
        api_key_id: null,
        title: null,
        model: 'first',
        agent_id: null,
        system_prompt: null,
        metadata: '{}',
        created_at: at,
        updated_at: at,
        stream_owner: undefined,
      });
      const touch = async (changes: Parameters<ConversationsStore['touchConversation']>[1]) => {
        const row = await store.touchConversation(conversation.id, changes);
        return [row!.title, row!.model, row!.updated_at];
      };
      assert.deepEqual(await touch({ updatedAt: 't1', titleIfEmpty: undefined, model: undefined }), [
        null,
        'first',
        't1',
      ]);
      assert.deepEqual(await touch({ updatedAt: 't2', titleIfEmpty: 'Titled' }), ['Titled', 'first', 't2']);
      // A title is set only once; the model whenever it is given.
      assert.deepEqual(await touch({ updatedAt: 't3', titleIfEmpty: 'Other', model: 'second' }), [
        'Titled',
        'second',
        't3',
      ]);
      assert.deepEqual(await touch({ updatedAt: 't4', model: undefined }), ['Titled', 'second', 't4']);
      assert.deepEqual(await touch({ updatedAt: 't5', model: 'third', titleIfEmpty: undefined }), [
        'Titled',
        'third',
        't5',
      ]);
      assert.deepEqual(await touch({ updatedAt: 't6' }), ['Titled', 'third', 't6']);
    });
  });
}
