import type { Kysely } from 'kysely';
import { withId } from './001-initial.ts';

/**
 * Public agents (the public-agents dialect): what a public key serves (one agent, from some web origins, with
 * per-visitor limits), the client tokens it minted (hashes only) and the suspicious uses seen.
 */
export async function up(db: Kysely<unknown>, dialect: string): Promise<void> {
  // One row per public key (an api_keys row of kind 'public'); dropped with the key or the agent.
  await db.schema
    .createTable('public_keys')
    .addColumn('api_key_id', 'integer', (c) => c.primaryKey().references('api_keys.id').onDelete('cascade'))
    .addColumn('agent_id', 'integer', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('visitor_limits', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('public_keys_agent').on('public_keys').column('agent_id').execute();

  // Origins in their own rows, so a browser's preflight is answered by one indexed lookup.
  await db.schema
    .createTable('public_key_origins')
    .addColumn('api_key_id', 'integer', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('origin', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('public_key_origins_pk', ['api_key_id', 'origin'])
    .execute();
  await db.schema.createIndex('public_key_origins_origin').on('public_key_origins').column('origin').execute();

  await withId(db.schema.createTable('public_tokens'), dialect)
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('api_key_id', 'integer', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('agent_id', 'integer', (c) => c.notNull())
    // Not a foreign key: a deleted conversation must leave the token, so using it answers 404.
    .addColumn('conversation_id', 'integer', (c) => c.notNull())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('visitor', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('revoked_reason', 'text')
    .execute();

  await withId(db.schema.createTable('public_key_events'), dialect)
    .addColumn('api_key_id', 'integer', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('agent_id', 'integer', (c) => c.notNull())
    .addColumn('token_id', 'integer')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('origin', 'text')
    .addColumn('visitor', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('public_key_events_agent').on('public_key_events').columns(['agent_id', 'id']).execute();
}
