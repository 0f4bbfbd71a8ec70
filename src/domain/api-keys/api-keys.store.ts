import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { ApiKeysTable, Database } from '../../stores/sql/schema.ts';

export type ApiKeyRow = Selectable<ApiKeysTable>;

export class ApiKeysStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  insert(row: Insertable<ApiKeysTable>): Promise<ApiKeyRow> {
    return this.db.insertInto('api_keys').values(row).returningAll().executeTakeFirstOrThrow();
  }

  findByHash(hash: string): Promise<ApiKeyRow | undefined> {
    return this.db.selectFrom('api_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
  }

  findById(id: number): Promise<ApiKeyRow | undefined> {
    return this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByUuid(uuid: string): Promise<ApiKeyRow | undefined> {
    return this.db.selectFrom('api_keys').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  }

  listByUser(userId: number | undefined, page: { limit: number; offset: number }): Promise<ApiKeyRow[]> {
    let query = this.db.selectFrom('api_keys').selectAll().orderBy('id').limit(page.limit).offset(page.offset);
    if (userId !== undefined) query = query.where('user_id', '=', userId);
    return query.execute();
  }

  update(id: number, changes: Updateable<ApiKeysTable>): Promise<ApiKeyRow | undefined> {
    return this.db.updateTable('api_keys').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
  }

  /** Revokes the live keys created with any of these keys; returns their ids. */
  async revokeChildren(parentIds: number[], at: string): Promise<number[]> {
    const rows = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('parent_key_id', 'in', parentIds)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    return rows.map((row) => row.id);
  }

  async userExists(userId: number): Promise<boolean> {
    return (await this.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()) !== undefined;
  }

  async countLive(userId: number, now: string): Promise<number> {
    const row = await this.db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async touch(id: number, at: string): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}
