import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Updateable } from 'kysely';
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
  });
}
