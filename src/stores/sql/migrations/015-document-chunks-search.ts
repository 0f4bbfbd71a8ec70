import { sql, type Kysely } from 'kysely';

/**
 * Document chunks are searchable like messages. A trigger removes a deleted chunk's index row at
 * once, whatever deleted it (the file, its session, its owner), as the one on messages does.
 */
export async function up(db: Kysely<unknown>, dialect: string): Promise<void> {
  if (dialect === 'postgres') {
    await sql`CREATE FUNCTION search_index_forget_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN DELETE FROM search_index WHERE kind = 'chunk' AND source_id = OLD.id; RETURN OLD; END $$`.execute(db);
    await sql`CREATE TRIGGER document_chunks_search_forget AFTER DELETE ON document_chunks FOR EACH ROW EXECUTE FUNCTION search_index_forget_chunk()`.execute(
      db,
    );
    return;
  }
  await sql`CREATE TRIGGER document_chunks_search_forget AFTER DELETE ON document_chunks BEGIN
    DELETE FROM search_index WHERE kind = 'chunk' AND source_id = old.id; END`.execute(db);
}
