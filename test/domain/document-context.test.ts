import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bm25Ranker } from '../../src/domain/documents/chunk-ranker.ts';
import { DocumentContextEnricher } from '../../src/domain/documents/document-context.ts';
import type { ChunkWithFile, DocumentsStore } from '../../src/domain/documents/documents.store.ts';
import type { EnrichmentInput } from '../../src/domain/conversations/context-enrichers.ts';

const chunk = (id: number, text: string, page = 1): ChunkWithFile => ({
  id,
  document_id: 7,
  conversation_id: 1,
  user_id: 1,
  chunk_index: id - 1,
  text,
  token_estimate: Math.ceil(text.length / 4),
  page_from: page,
  page_to: page,
  filename: 'notes.pdf',
});

function enricher(chunks: ChunkWithFile[], window: number | undefined, unknownWindowTokens = 3000) {
  const store = {
    hasChunks: async () => chunks.length > 0,
    chunksOfConversation: async () => chunks,
  } as unknown as DocumentsStore;
  return new DocumentContextEnricher({
    store,
    ranker: new Bm25Ranker(),
    models: { contextWindow: async () => window },
    unknownWindowTokens,
  });
}

const input = (content: string): EnrichmentInput => ({
  actor: { userId: 1, role: 'user' },
  conversation: { id: 1 } as EnrichmentInput['conversation'],
  model: 'm',
  messages: [
    { role: 'system', content: 'Be nice.' },
    { role: 'user', content: 'earlier' },
    { role: 'assistant', content: 'ok' },
    { role: 'user', content },
  ],
  options: {},
  signal: new AbortController().signal,
});

test('no documents: nothing changes', async () => {
  assert.equal(await enricher([], 8192).enrich(input('hi')), undefined);
});

test('everything fits: every chunk, in one system message right after the system prompt, each named by file, page and chunk', async () => {
  const result = (await enricher([chunk(1, 'Alpha text.'), chunk(2, 'Beta text.', 2)], 8192).enrich(input('hi')))!;
  const messages = result.messages!;
  assert.deepEqual(
    messages.map((m) => m.role),
    ['system', 'system', 'user', 'assistant', 'user'],
  );
  assert.equal(messages[0]!.content, 'Be nice.');
  assert.match(
    messages[1]!.content ?? '',
    /\[notes\.pdf, page 1, chunk 0\]\nAlpha text\.\n\n\[notes\.pdf, page 2, chunk 1\]\nBeta text\./,
  );
  assert.deepEqual(result.metadata, { documents: [{ file_id: 7, filename: 'notes.pdf', chunks: [0, 1] }] });
});

test('too much for the window: the best-matching chunks that fit, in document order', async () => {
  const filler = (word: string) => `${word} `.repeat(300);
  const chunks = [
    chunk(1, filler('alpha')),
    chunk(2, `${filler('beta')} comet`),
    chunk(3, filler('gamma')),
    chunk(4, `${filler('delta')} comet orbit`),
  ];
  // A window of unknown size gets unknownWindowTokens: room for two of the four chunks.
  const result = (await enricher(chunks, undefined, 1000).enrich(input('Tell me about the comet orbit')))!;
  assert.deepEqual(result.metadata, { documents: [{ file_id: 7, filename: 'notes.pdf', chunks: [1, 3] }] });
  const text = result.messages![1]!.content ?? '';
  assert.ok(text.indexOf('beta') < text.indexOf('delta'));
});
