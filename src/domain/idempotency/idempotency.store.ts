import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { Database, IdempotencyKeysTable } from '../../stores/sql/schema.ts';

export type IdempotencyKeyRow = Selectable<IdempotencyKeysTable>;

/** The idempotency_keys table: one row per user and key. */
export class IdempotencyStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Inserts the key unless the user already has it; the new row's id, or undefined when taken. */
  async insert(row: Insertable<IdempotencyKeysTable>): Promise<number | undefined> {
    const inserted = await this.db
      .insertInto('idempotency_keys')
      .values(row)
      .onConflict((conflict) => conflict.columns(['user_id', 'key']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted?.id;
  }

  find(userId: number, key: string): Promise<IdempotencyKeyRow | undefined> {
    return this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .executeTakeFirst();
  }

  async update(id: number, changes: Updateable<IdempotencyKeysTable>): Promise<void> {
    await this.db.updateTable('idempotency_keys').set(changes).where('id', '=', id).execute();
  }

  /** Takes over an abandoned row only if nobody touched it since it was read; true when taken. */
  async takeOver(id: number, seenUpdatedAt: string, changes: Updateable<IdempotencyKeysTable>): Promise<boolean> {
    const result = await this.db
      .updateTable('idempotency_keys')
      .set(changes)
      .where('id', '=', id)
      .where('updated_at', '=', seenUpdatedAt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('idempotency_keys').where('id', '=', id).execute();
  }

  /** Forgets keys created before `before` (a day old). */
  async deleteOlderThan(before: string): Promise<void> {
    await this.db.deleteFrom('idempotency_keys').where('created_at', '<', before).execute();
  }
}
