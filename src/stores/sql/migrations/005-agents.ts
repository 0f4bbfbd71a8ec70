import type { Kysely } from 'kysely';
import { withId } from './001-initial.ts';

/** Agents: a named model with instructions and generation settings, owned like a conversation. */
export async function up(db: Kysely<unknown>, dialect: string): Promise<void> {
  await withId(db.schema.createTable('agents'), dialect)
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('model', 'text')
    .addColumn('instructions', 'text')
    .addColumn('description', 'text')
    .addColumn('settings', 'text', (c) => c.notNull())
    .addColumn('tools', 'text')
    .addColumn('metadata', 'text', (c) => c.notNull())
    // The agent's id on a provider that has its own agents (Mistral), once created there.
    .addColumn('provider_agent_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('agents_user').on('agents').columns(['user_id', 'id']).execute();
  await db.schema.createIndex('conversations_agent').on('conversations').column('agent_id').execute();
}
