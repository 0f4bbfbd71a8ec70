import type { Kysely } from 'kysely';

/**
 * The conversation stream lease (docs/conversations.md): which process is generating a reply in
 * a conversation and until when its claim holds. One atomic UPDATE takes it, so two nodes sharing
 * the database can never interleave two completions in one conversation's history.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('conversations').addColumn('stream_owner', 'text').execute();
  await db.schema.alterTable('conversations').addColumn('stream_lease_until', 'text').execute();
  // The sweep that settles replies left 'streaming' by a dead process looks them up by status.
  await db.schema.createIndex('messages_status_updated').on('messages').columns(['status', 'updated_at']).execute();
}
