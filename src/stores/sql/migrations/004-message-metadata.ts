import type { Kysely } from 'kysely';

/**
 * What a reply was built from (document chunks used, web sources cited, the agent that answered)
 * is kept with the message as JSON, so every surface can show it and search can filter on it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('metadata', 'text').execute();
}
