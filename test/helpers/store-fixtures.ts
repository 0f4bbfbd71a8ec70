import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { openDatabase, type SqlStore } from '../../src/stores/sql/database.ts';
import type { Database } from '../../src/stores/sql/schema.ts';
import { createTestDatabase, type Dialect } from './server.ts';

/** Inserts a plain user straight into the store (tests of a store or a service below the HTTP layer); returns its id. */
export async function insertUser(db: Kysely<Database>, at = new Date().toISOString()): Promise<number> {
  const user = await db
    .insertInto('users')
    .values({
      uuid: crypto.randomUUID(),
      username: 'u',
      username_key: 'u',
      password_hash: 'x',
      role: 'user',
      disabled: 0,
      plan_id: null,
      created_at: at,
      updated_at: at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return user.id;
}

/** A fresh, migrated database of the dialect, opened as the server opens it; `drop` removes it after `sql.close()`. */
export async function openTestStore(dialect: Dialect): Promise<{ sql: SqlStore; drop: () => Promise<void> }> {
  const database = await createTestDatabase(dialect);
  const sql = await openDatabase({
    databaseUrl: database.env.DATABASE_URL,
    sqlitePath: join(database.env.CAUSERIE_DATA_DIR!, 'causerie.sqlite'),
  });
  return { sql, drop: database.drop };
}
