import type { Kysely } from 'kysely';

/**
 * A key created with another key remembers its parent: it never outlives it, revoking the parent
 * revokes it, and its requests count against the parent's limits too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('parent_key_id', 'integer').execute();
  await db.schema.createIndex('api_keys_parent').on('api_keys').column('parent_key_id').execute();
}
