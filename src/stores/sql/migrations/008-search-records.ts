import type { Kysely } from 'kysely';
import { withId } from './001-initial.ts';

/**
 * The ledger of web searches: one row per search, with its engine and price. searches_per_day is
 * refilled from it at start-up (embedded mode) as requests_per_day is from usage_records, and the
 * usage report sums it. No query text is kept: what people search for stays in their messages.
 */
export async function up(db: Kysely<unknown>, dialect: string): Promise<void> {
  await withId(db.schema.createTable('search_records'), dialect)
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('api_key_id', 'integer', (c) => c.references('api_keys.id').onDelete('set null'))
    .addColumn('conversation_id', 'integer', (c) => c.references('conversations.id').onDelete('set null'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('results', 'integer', (c) => c.notNull())
    .addColumn('cost_micros', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('search_records_user_created')
    .on('search_records')
    .columns(['user_id', 'created_at'])
    .execute();
  await db.schema.createIndex('search_records_created').on('search_records').column('created_at').execute();
}
