import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Database, UsageRecordsTable } from '../../stores/sql/schema.ts';

export type UsageRecordRow = Selectable<UsageRecordsTable>;
export type NewUsageRecord = Insertable<UsageRecordsTable>;

/** The usage ledger: one row per model call (completion or embedding), whatever its outcome. */
export class UsageRecordsStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async insert(row: NewUsageRecord): Promise<void> {
    await this.db.insertInto('usage_records').values(row).execute();
  }

  listByUser(userId: number): Promise<UsageRecordRow[]> {
    return this.db.selectFrom('usage_records').selectAll().where('user_id', '=', userId).orderBy('id').execute();
  }
}
