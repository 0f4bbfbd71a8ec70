import type { Kysely } from 'kysely';
import { withId } from './001-initial.ts';

/** The prompts table as this migration creates it (later migrations may change the table, not this insert). */
interface PromptRowAtMigration {
  user_id: number | null;
  title: string;
  content: string;
  scenario: string;
  description: string;
  metadata: string;
  is_template: number;
  usage_count: number;
  created_at: string;
  updated_at: string;
}

/** The built-in templates every user sees (is_template = 1, no owner, read-only for users). */
export const systemTemplates = [
  {
    title: 'Summarize',
    content: 'Summarize the following text in a few sentences, keeping its key facts:\n\n{text}',
    scenario: 'summarization',
    description: 'A short summary of a text. Variable: text.',
  },
  {
    title: 'Translate',
    content: 'Translate the following text into {language}. Answer with the translation only.\n\n{text}',
    scenario: 'translation',
    description: 'A translation into the language you name. Variables: language, text.',
  },
  {
    title: 'Explain',
    content: 'Explain {topic} simply, as to someone new to it, with one concrete example.',
    scenario: 'explanation',
    description: 'A plain-language explanation with an example. Variable: topic.',
  },
] as const;

/**
 * Prompt templates (spec 003's prompt management) and the PDF files uploaded to sessions, with
 * their text cut into chunks that later completions in the session use as context.
 */
export async function up(db: Kysely<unknown>, dialect: string): Promise<void> {
  await withId(db.schema.createTable('prompts'), dialect)
    // Null for the built-in templates, which belong to nobody.
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('scenario', 'text')
    .addColumn('description', 'text')
    .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('is_template', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('usage_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('prompts_user').on('prompts').columns(['user_id', 'id']).execute();

  await withId(db.schema.createTable('documents'), dialect)
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('conversation_id', 'integer', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('filename', 'text', (c) => c.notNull())
    .addColumn('mime_type', 'text', (c) => c.notNull())
    .addColumn('file_size', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('page_count', 'integer', (c) => c.notNull())
    .addColumn('extracted_text', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('documents_conversation').on('documents').columns(['conversation_id', 'id']).execute();
  await db.schema.createIndex('documents_sha256').on('documents').column('sha256').execute();

  await withId(db.schema.createTable('document_chunks'), dialect)
    .addColumn('document_id', 'integer', (c) => c.notNull().references('documents.id').onDelete('cascade'))
    .addColumn('conversation_id', 'integer', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('chunk_index', 'integer', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('token_estimate', 'integer', (c) => c.notNull())
    .addColumn('page_from', 'integer', (c) => c.notNull())
    .addColumn('page_to', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('document_chunks_conversation')
    .on('document_chunks')
    .columns(['conversation_id', 'document_id', 'chunk_index'])
    .execute();
  await db.schema.createIndex('document_chunks_document').on('document_chunks').column('document_id').execute();

  const now = new Date().toISOString();
  await (db as Kysely<{ prompts: PromptRowAtMigration }>)
    .insertInto('prompts')
    .values(
      systemTemplates.map((t) => ({
        user_id: null,
        ...t,
        metadata: '{}',
        is_template: 1,
        usage_count: 0,
        created_at: now,
        updated_at: now,
      })),
    )
    .execute();
}
