import type { Kysely } from 'kysely';

/**
 * The limits rebuild their counters at start-up from every call since the start of the month, and
 * admins read everyone's usage by period: both scan usage_records by time alone, which the
 * existing (user, time) and (key, time) indexes cannot serve.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('usage_records_created').on('usage_records').column('created_at').execute();
}
