import type { Kysely } from 'kysely';
import type { Database } from '../../stores/sql/schema.ts';

/** Models an administrator removed from the registry (DELETE /api/v1/models/{id}); survives restarts. */
export class RemovedModelsStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async listIds(): Promise<string[]> {
    const rows = await this.db.selectFrom('removed_models').select('model_id').execute();
    return rows.map((row) => row.model_id);
  }

  /** Idempotent: removing twice keeps the first date. */
  async insert(modelId: string, removedAt: string): Promise<void> {
    await this.db
      .insertInto('removed_models')
      .values({ model_id: modelId, removed_at: removedAt })
      .onConflict((c) => c.column('model_id').doNothing())
      .execute();
  }

  /** Every removed model with the date it was removed, by id. */
  async list(): Promise<Array<{ model_id: string; removed_at: string }>> {
    return this.db.selectFrom('removed_models').select(['model_id', 'removed_at']).orderBy('model_id').execute();
  }

  /** Restores a model; false when it was not removed. */
  async delete(modelId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('removed_models').where('model_id', '=', modelId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
