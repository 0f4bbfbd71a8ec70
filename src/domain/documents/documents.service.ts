import type { SearchIndexer } from '../search/search-indexer.ts';
import { isoAt, type Clock } from '../clock.ts';
import type { ConversationsService } from '../conversations/conversations.service.ts';
import { AppError, notFound } from '../errors.ts';
import { newUuid } from '../ids.ts';
import type { Actor } from '../users/users.service.ts';
import { chunkPages, type ChunkOptions } from './chunker.ts';
import type { DocumentRow, DocumentsStore, DocumentSummaryRow } from './documents.store.ts';
import type { FileStore } from './file-store.ts';
import { type ExtractedPdf, looksLikePdf, PdfExtractionError, type PdfExtractor } from './pdf-extractor.ts';

export interface DocumentsDeps {
  store: DocumentsStore;
  files: FileStore;
  extractor: PdfExtractor;
  conversations: ConversationsService;
  clock: Clock;
  chunking: ChunkOptions;
  /** Makes the chunks searchable (GET /api/v1/search); they leave the index when deleted. */
  searchIndex?: Pick<SearchIndexer, 'enqueue'>;
}

/** What a file's metadata says about its reading. */
export interface DocumentMetadata {
  page_count: number;
  /** Pages whose text was read (fewer than page_count when a limit cut it). */
  pages_extracted: number;
  /** Why the text stops early: the page limit, the time limit, or null when it is whole. */
  truncated: 'pages' | 'time' | null;
}

/** A file as spec 003 shows it (`extracted_text` only when asked for one file). */
export interface DocumentFile {
  id: number;
  filename: string;
  file_size: number;
  mime_type: string;
  extracted_text?: string;
  metadata: DocumentMetadata;
  session_id: number;
  chunk_count: number;
  created_at: string;
}

export interface Upload {
  filename: string;
  data: Buffer;
}

const pdfMimeType = 'application/pdf';
/** Files no row references are removed when older than this (a newer one may be an upload in progress). */
const orphanGraceMs = 10 * 60_000;

const toFile = (row: DocumentRow | DocumentSummaryRow, chunkCount: number): DocumentFile => ({
  id: row.id,
  filename: row.filename,
  file_size: row.file_size,
  mime_type: row.mime_type,
  ...('extracted_text' in row ? { extracted_text: row.extracted_text } : {}),
  metadata: JSON.parse(row.metadata) as DocumentMetadata,
  session_id: row.conversation_id,
  chunk_count: chunkCount,
  created_at: row.created_at,
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's purpose.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

/** A file name safe to store and show: its last path segment, no control characters, at most 255 characters. */
export function cleanFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base.replace(CONTROL_CHARACTERS, '').trim().slice(0, 255);
  return clean || 'document.pdf';
}

/**
 * PDF files attached to a session (spec 003's upload): checked by content, read off the event
 * loop, stored once per content, cut into chunks that later completions in the session use as
 * context (see document-context.ts).
 */
export class DocumentsService {
  private readonly deps: DocumentsDeps;

  constructor(deps: DocumentsDeps) {
    this.deps = deps;
  }

  /** The PDF reader, whose 'start' and 'end' events tell when an extraction runs. */
  get extractor(): PdfExtractor {
    return this.deps.extractor;
  }

  /** The session the caller names, if it is theirs (else 404, like every session route). */
  private session(actor: Actor, reference: string) {
    return this.deps.conversations.findRow(actor, reference);
  }

  async upload(actor: Actor, sessionReference: string, upload: Upload): Promise<DocumentFile> {
    const conversation = await this.session(actor, sessionReference);
    if (!looksLikePdf(upload.data)) {
      throw new AppError(
        'unsupported_media_type',
        'file: only PDF files are supported, and this file is not a PDF (its content does not start with %PDF-)',
        { field: 'file' },
      );
    }
    let extracted: ExtractedPdf;
    try {
      extracted = await this.deps.extractor.extract(upload.data);
    } catch (error) {
      if (error instanceof PdfExtractionError)
        throw new AppError('unreadable_document', `file: ${error.message}`, { field: 'file' });
      throw error;
    }
    const text = extracted.pages.join('\n\n').trim();
    if (!text) {
      throw new AppError(
        'unreadable_document',
        'file: the PDF has no text to read (scanned pages are images; Causerie does not do OCR)',
        { field: 'file' },
      );
    }
    const sha256 = await this.deps.files.put(upload.data);
    const metadata: DocumentMetadata = {
      page_count: extracted.pageCount,
      pages_extracted: extracted.pages.length,
      truncated: extracted.truncated,
    };
    const chunks = chunkPages(extracted.pages, this.deps.chunking);
    const row = await this.insert(
      actor,
      sessionReference,
      {
        uuid: newUuid(),
        user_id: conversation.user_id,
        conversation_id: conversation.id,
        filename: cleanFilename(upload.filename),
        mime_type: pdfMimeType,
        file_size: upload.data.byteLength,
        sha256,
        page_count: extracted.pageCount,
        extracted_text: text,
        metadata: JSON.stringify(metadata),
        created_at: isoAt(this.deps.clock.now()),
      },
      chunks.map((chunk) => ({
        conversation_id: conversation.id,
        user_id: conversation.user_id,
        chunk_index: chunk.index,
        text: chunk.text,
        token_estimate: chunk.tokenEstimate,
        page_from: chunk.pageFrom,
        page_to: chunk.pageTo,
      })),
    );
    const stored = await this.deps.store.chunksOf(row.id);
    await this.deps.searchIndex?.enqueue(
      stored.map((chunk) => ({
        kind: 'chunk',
        sourceId: chunk.id,
        userId: row.user_id,
        conversationId: row.conversation_id,
        content: chunk.text,
        createdAt: row.created_at,
      })),
    );
    return toFile(row, chunks.length);
  }

  /** Stores the rows; a session deleted while its PDF was being read is a 404, not a foreign-key failure. */
  private async insert(
    actor: Actor,
    sessionReference: string,
    ...rows: Parameters<DocumentsStore['insertWithChunks']>
  ): Promise<DocumentRow> {
    try {
      return await this.deps.store.insertWithChunks(...rows);
    } catch (error) {
      await this.session(actor, sessionReference);
      throw error;
    }
  }

  async list(actor: Actor, sessionReference: string): Promise<DocumentFile[]> {
    const conversation = await this.session(actor, sessionReference);
    return (await this.deps.store.listOfConversation(conversation.id)).map((row) =>
      toFile(row, Number(row.chunk_count)),
    );
  }

  private async find(actor: Actor, sessionReference: string, fileId: number): Promise<DocumentRow> {
    const conversation = await this.session(actor, sessionReference);
    const row = await this.deps.store.findById(fileId);
    if (!row || row.conversation_id !== conversation.id) throw notFound('File');
    return row;
  }

  async get(actor: Actor, sessionReference: string, fileId: number): Promise<DocumentFile> {
    const row = await this.find(actor, sessionReference, fileId);
    const summary = (await this.deps.store.listOfConversation(row.conversation_id)).find((d) => d.id === row.id);
    return toFile(row, Number(summary?.chunk_count ?? 0));
  }

  /** The stored bytes of a file, for download. */
  async content(actor: Actor, sessionReference: string, fileId: number): Promise<{ filename: string; data: Buffer }> {
    const row = await this.find(actor, sessionReference, fileId);
    const data = await this.deps.files.read(row.sha256).catch(() => {
      throw notFound('File content');
    });
    return { filename: row.filename, data };
  }

  /** Deletes a file and its chunks (they stop being context at once); its bytes go when no file shares them. */
  async delete(actor: Actor, sessionReference: string, fileId: number): Promise<void> {
    const row = await this.find(actor, sessionReference, fileId);
    await this.deps.store.delete(row.id);
    if ((await this.deps.store.countWithSha256(row.sha256)) === 0) await this.deps.files.remove(row.sha256);
  }

  /** Removes stored bytes whose files are gone with their session (a deleted session's rows go by cascade). */
  async sweepOrphans(graceMs = orphanGraceMs): Promise<number> {
    // File times are wall-clock times, whatever clock the service is given.
    return this.deps.files.sweep(await this.deps.store.allSha256(), graceMs, Date.now());
  }
}
