import { sql, type Kysely } from 'kysely';
import { withId } from './001-initial.ts';

/**
 * Search over one's own history. `search_index` holds one row per searchable text (kind
 * 'message' now; document chunks later), owned by a user and usually a conversation, so that
 * deleting the conversation (or the user) removes its rows in the same statement. A trigger on
 * `messages` removes a deleted message's row at once, whatever path deleted it.
 *
 * The keyword half is FTS5 on SQLite (a contentless table fed by triggers, diacritics folded) and
 * a `simple` tsvector on PostgreSQL (the text is folded before it is stored). Vectors live in a
 * sqlite-vec table created once the embedding model's dimension is known (SQLite), or in a bytea
 * column (PostgreSQL). `search_jobs` is the durable queue of rows waiting for their vector.
 */
export async function up(db: Kysely<unknown>, dialect: string): Promise<void> {
  let table = withId(db.schema.createTable('search_index'), dialect)
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source_id', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('conversation_id', 'integer', (c) => c.references('conversations.id').onDelete('cascade'))
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('embedding_model', 'text')
    .addUniqueConstraint('search_index_source', ['kind', 'source_id']);
  if (dialect === 'postgres') table = table.addColumn('document', sql`tsvector`).addColumn('embedding', 'bytea');
  await table.execute();
  await db.schema.createIndex('search_index_user').on('search_index').columns(['user_id', 'created_at']).execute();
  await db.schema.createIndex('search_index_conversation').on('search_index').column('conversation_id').execute();

  await withId(db.schema.createTable('search_jobs'), dialect)
    .addColumn('index_id', 'integer', (c) => c.notNull().unique().references('search_index.id').onDelete('cascade'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_after', 'text', (c) => c.notNull())
    .addColumn('locked_until', 'text')
    .addColumn('last_error', 'text')
    .execute();
  await db.schema.createIndex('search_jobs_due').on('search_jobs').columns(['state', 'run_after']).execute();

  if (dialect === 'postgres') {
    await sql`CREATE INDEX search_index_document ON search_index USING gin (document)`.execute(db);
    await sql`CREATE FUNCTION search_index_forget_message() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN DELETE FROM search_index WHERE kind = 'message' AND source_id = OLD.id; RETURN OLD; END $$`.execute(db);
    await sql`CREATE TRIGGER messages_search_forget AFTER DELETE ON messages FOR EACH ROW EXECUTE FUNCTION search_index_forget_message()`.execute(
      db,
    );
    return;
  }
  // `owner` holds "u<user id>": a query ANDs it, so FTS5 intersects with the user's rows itself.
  await sql`CREATE VIRTUAL TABLE search_fts USING fts5(content, owner, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`.execute(
    db,
  );
  await sql`CREATE TRIGGER search_index_fts_insert AFTER INSERT ON search_index BEGIN
    INSERT INTO search_fts(rowid, content, owner) VALUES (new.id, new.content, 'u' || new.user_id); END`.execute(db);
  await sql`CREATE TRIGGER search_index_fts_update AFTER UPDATE OF content ON search_index BEGIN
    DELETE FROM search_fts WHERE rowid = old.id;
    INSERT INTO search_fts(rowid, content, owner) VALUES (new.id, new.content, 'u' || new.user_id); END`.execute(db);
  await sql`CREATE TRIGGER search_index_fts_delete AFTER DELETE ON search_index BEGIN
    DELETE FROM search_fts WHERE rowid = old.id; END`.execute(db);
  await sql`CREATE TRIGGER messages_search_forget AFTER DELETE ON messages BEGIN
    DELETE FROM search_index WHERE kind = 'message' AND source_id = old.id; END`.execute(db);
}
