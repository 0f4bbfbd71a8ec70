import type { Kysely } from 'kysely';
import { withId } from './001-initial.ts';

/**
 * Idempotency keys: a request sent again with the same `Idempotency-Key` (same user, within a day)
 * gets back the conversation and the reply the first one produced instead of starting again. The
 * fingerprint is a hash of the route and body, so another request reusing a key is told apart.
 */
export async function up(db: Kysely<unknown>, dialect: string): Promise<void> {
  await withId(db.schema.createTable('idempotency_keys'), dialect)
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    // Set once known; a conversation deleted later leaves the key pointing nowhere (it then starts again).
    .addColumn('conversation_id', 'integer', (c) => c.references('conversations.id').onDelete('set null'))
    .addColumn('reply_id', 'integer')
    .addColumn('message_ids', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('idempotency_keys_user_key')
    .unique()
    .on('idempotency_keys')
    .columns(['user_id', 'key'])
    .execute();
  await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();
}
