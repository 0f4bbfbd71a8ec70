import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Database, DocumentChunksTable, DocumentsTable } from '../../stores/sql/schema.ts';

export type DocumentRow = Selectable<DocumentsTable>;
export type DocumentChunkRow = Selectable<DocumentChunksTable>;
/** A chunk with the name of its file, as context enrichment reads them. */
export type ChunkWithFile = DocumentChunkRow & { filename: string };
/** A document without its text, for listings. */
export type DocumentSummaryRow = Omit<DocumentRow, 'extracted_text'> & { chunk_count: number };

/** Uploaded documents and their chunks: one method per query, no rules. */
export class DocumentsStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** The document and its chunks in one transaction: a document is never context with half its chunks. */
  insertWithChunks(
    row: Insertable<DocumentsTable>,
    chunks: Array<Omit<Insertable<DocumentChunksTable>, 'document_id'>>,
  ): Promise<DocumentRow> {
    return this.db.transaction().execute(async (trx) => {
      const document = await trx.insertInto('documents').values(row).returningAll().executeTakeFirstOrThrow();
      // In batches: PostgreSQL takes at most 65535 parameters in one statement.
      for (let start = 0; start < chunks.length; start += 500) {
        await trx
          .insertInto('document_chunks')
          .values(chunks.slice(start, start + 500).map((chunk) => ({ ...chunk, document_id: document.id })))
          .execute();
      }
      return document;
    });
  }

  /** A document's chunks, for the search index. */
  chunksOf(documentId: number): Promise<Array<{ id: number; text: string }>> {
    return this.db
      .selectFrom('document_chunks')
      .select(['id', 'text'])
      .where('document_id', '=', documentId)
      .orderBy('chunk_index')
      .execute();
  }

  findById(id: number): Promise<DocumentRow | undefined> {
    return this.db.selectFrom('documents').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listOfConversation(conversationId: number): Promise<DocumentSummaryRow[]> {
    return this.db
      .selectFrom('documents')
      .select([
        'id',
        'uuid',
        'user_id',
        'conversation_id',
        'filename',
        'mime_type',
        'file_size',
        'sha256',
        'page_count',
        'metadata',
        'created_at',
      ])
      .select((eb) =>
        eb
          .selectFrom('document_chunks')
          .whereRef('document_chunks.document_id', '=', 'documents.id')
          .select(eb.fn.countAll<number>().as('n'))
          .as('chunk_count'),
      )
      .where('conversation_id', '=', conversationId)
      .orderBy('id')
      .execute() as Promise<DocumentSummaryRow[]>;
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('documents').where('id', '=', id).execute();
  }

  async countWithSha256(sha256: string): Promise<number> {
    const row = await this.db
      .selectFrom('documents')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('sha256', '=', sha256)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async allSha256(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('documents').select('sha256').distinct().execute();
    return new Set(rows.map((r) => r.sha256));
  }

  /** Every chunk of a conversation's documents, in document then chunk order. */
  chunksOfConversation(conversationId: number): Promise<ChunkWithFile[]> {
    return this.db
      .selectFrom('document_chunks')
      .innerJoin('documents', 'documents.id', 'document_chunks.document_id')
      .selectAll('document_chunks')
      .select('documents.filename')
      .where('document_chunks.conversation_id', '=', conversationId)
      .orderBy('document_chunks.document_id')
      .orderBy('document_chunks.chunk_index')
      .execute();
  }

  /** Whether the conversation has any chunk: the cheap check made before every completion. */
  async hasChunks(conversationId: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('document_chunks')
      .select('id')
      .where('conversation_id', '=', conversationId)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}
