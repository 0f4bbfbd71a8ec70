import type { ChatMessage } from '../../providers/provider.ts';
import { answerReserve, conversationTokens, estimatingCounter } from '../completions/token-budget.ts';
import type { ContextEnricher, Enrichment, EnrichmentInput } from '../conversations/context-enrichers.ts';
import type { ModelCatalog } from '../conversations/conversations.types.ts';
import type { ChunkRanker } from './chunk-ranker.ts';
import type { ChunkWithFile, DocumentsStore } from './documents.store.ts';

export interface DocumentContextDeps {
  store: DocumentsStore;
  ranker: ChunkRanker;
  models: Pick<ModelCatalog, 'contextWindow' | 'tokenCounter'>;
  /** Tokens of document text for a model whose context window is unknown. */
  unknownWindowTokens: number;
}

/** What the reply's metadata says it was given: per file, the chunk indexes. */
export interface DocumentsUsed {
  file_id: number;
  filename: string;
  chunks: number[];
}

const preamble =
  'The user attached documents to this conversation. Excerpts follow, each headed by its source in brackets. ' +
  'Use them to answer when they are relevant, and say which document and page an answer comes from.';

const pagesOf = (chunk: ChunkWithFile) =>
  chunk.page_from === chunk.page_to ? `page ${chunk.page_from}` : `pages ${chunk.page_from}-${chunk.page_to}`;
const excerpt = (chunk: ChunkWithFile) =>
  `[${chunk.filename}, ${pagesOf(chunk)}, chunk ${chunk.chunk_index}]\n${chunk.text}`;
const excerptTokens = (chunk: ChunkWithFile) => chunk.token_estimate + Math.ceil((chunk.filename.length + 40) / 4);

/**
 * Gives the model a session's documents: all their text when it fits in the context window beside
 * the history, else the chunks that best match the latest user message, as far as they fit. They
 * go in one system message after the conversation's own system prompt, each excerpt named by file,
 * page and chunk; the reply's metadata records which chunks were used.
 */
export class DocumentContextEnricher implements ContextEnricher {
  readonly name = 'documents';
  private readonly deps: DocumentContextDeps;

  constructor(deps: DocumentContextDeps) {
    this.deps = deps;
  }

  /** Tokens left for documents: the window less the answer's reserve and the history, but never under a quarter of it. */
  private async budget(model: string, messages: ChatMessage[]): Promise<number> {
    const window = await this.deps.models.contextWindow(model);
    if (!window) return this.deps.unknownWindowTokens;
    const reserve = answerReserve(window);
    const count = (await this.deps.models.tokenCounter?.(model)) ?? estimatingCounter;
    const history = await conversationTokens(count, messages);
    const framing = Math.ceil(preamble.length / 4) + 8;
    // Past that floor, the oldest history gives way to the documents (fitToContext drops it).
    return Math.max(window - reserve - history - framing, Math.floor(window / 4));
  }

  async enrich(input: EnrichmentInput): Promise<Enrichment | undefined> {
    // Documents are uploaded to an existing conversation: one this request created has none.
    if (input.created) return undefined;
    if (!(await this.deps.store.hasChunks(input.conversation.id))) return undefined;
    const chunks = await this.deps.store.chunksOfConversation(input.conversation.id);
    const budget = await this.budget(input.model, input.messages);
    let chosen: ChunkWithFile[];
    if (chunks.reduce((sum, c) => sum + excerptTokens(c), 0) <= budget) {
      chosen = chunks;
    } else {
      const question = [...input.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
      const ranked = await this.deps.ranker.rank(
        question,
        chunks.map((c) => ({ id: c.id, text: c.text })),
      );
      const byId = new Map(chunks.map((c) => [c.id, c]));
      const picked = new Set<number>();
      let used = 0;
      for (const { id } of ranked) {
        const cost = excerptTokens(byId.get(id)!);
        if (used + cost > budget) continue;
        picked.add(id);
        used += cost;
      }
      // Read in document order, as written.
      chosen = chunks.filter((c) => picked.has(c.id));
    }
    if (chosen.length === 0) return undefined;
    const message: ChatMessage = { role: 'system', content: `${preamble}\n\n${chosen.map(excerpt).join('\n\n')}` };
    const leading = input.messages.findIndex((m) => m.role !== 'system');
    const at = leading < 0 ? input.messages.length : leading;
    const messages = [...input.messages.slice(0, at), message, ...input.messages.slice(at)];
    const used = new Map<number, DocumentsUsed>();
    for (const chunk of chosen) {
      const entry = used.get(chunk.document_id) ?? { file_id: chunk.document_id, filename: chunk.filename, chunks: [] };
      entry.chunks.push(chunk.chunk_index);
      used.set(chunk.document_id, entry);
    }
    return { messages, metadata: { documents: [...used.values()] } };
  }
}
