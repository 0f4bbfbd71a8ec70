import type { Kysely } from 'kysely';
import type { Database } from '../../src/stores/sql/schema.ts';

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
