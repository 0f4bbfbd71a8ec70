import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Database, PublicKeyEventsTable, PublicKeysTable, PublicTokensTable } from '../../stores/sql/schema.ts';

export type PublicKeyRow = Selectable<PublicKeysTable>;
export type PublicTokenRow = Selectable<PublicTokensTable>;
export type PublicKeyEventRow = Selectable<PublicKeyEventsTable>;

/** Public keys' settings, their client tokens and the suspicious uses seen: one method per query. */
export class PublicAgentsStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async insertKey(row: Insertable<PublicKeysTable>, origins: string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('public_keys').values(row).execute();
      if (origins.length)
        await trx
          .insertInto('public_key_origins')
          .values(origins.map((origin) => ({ api_key_id: row.api_key_id, origin })))
          .execute();
    });
  }

  findKey(apiKeyId: number): Promise<PublicKeyRow | undefined> {
    return this.db.selectFrom('public_keys').selectAll().where('api_key_id', '=', apiKeyId).executeTakeFirst();
  }

  listKeysOfAgent(agentId: number): Promise<PublicKeyRow[]> {
    return this.db
      .selectFrom('public_keys')
      .selectAll()
      .where('agent_id', '=', agentId)
      .orderBy('api_key_id')
      .execute();
  }

  async originsOf(apiKeyIds: number[]): Promise<Array<{ api_key_id: number; origin: string }>> {
    if (apiKeyIds.length === 0) return [];
    return this.db
      .selectFrom('public_key_origins')
      .select(['api_key_id', 'origin'])
      .where('api_key_id', 'in', apiKeyIds)
      .orderBy('origin')
      .execute();
  }

  /** Whether any live (not revoked) public key allows this origin: what a browser's preflight is told. */
  async originAllowedByAnyKey(origin: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('public_key_origins')
      .innerJoin('api_keys', 'api_keys.id', 'public_key_origins.api_key_id')
      .select('public_key_origins.api_key_id')
      .where('public_key_origins.origin', '=', origin)
      .where('api_keys.revoked_at', 'is', null)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  insertToken(row: Insertable<PublicTokensTable>): Promise<PublicTokenRow> {
    return this.db.insertInto('public_tokens').values(row).returningAll().executeTakeFirstOrThrow();
  }

  findTokenByHash(hash: string): Promise<PublicTokenRow | undefined> {
    return this.db.selectFrom('public_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
  }

  /** Revokes a live token; false when it was revoked already (by a concurrent request, say). */
  async revokeToken(id: number, at: string, reason: string): Promise<boolean> {
    const result = await this.db
      .updateTable('public_tokens')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async revokeTokensOfKey(apiKeyId: number, at: string, reason: string): Promise<void> {
    await this.db
      .updateTable('public_tokens')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('api_key_id', '=', apiKeyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async insertEvent(row: Insertable<PublicKeyEventsTable>): Promise<void> {
    await this.db.insertInto('public_key_events').values(row).execute();
  }

  /** One page of an agent's events, newest first. */
  listEvents(agentId: number, page: { limit: number; offset: number }): Promise<PublicKeyEventRow[]> {
    return this.db
      .selectFrom('public_key_events')
      .selectAll()
      .where('agent_id', '=', agentId)
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
  }

  async countEvents(agentId: number): Promise<number> {
    const row = await this.db
      .selectFrom('public_key_events')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('agent_id', '=', agentId)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }
}
