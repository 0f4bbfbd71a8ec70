import type { Static } from 'typebox';
import { Type } from '../../lib/type.ts';
import { Nullable } from './common.ts';

const Mode = Type.Union([Type.Literal('hybrid'), Type.Literal('semantic'), Type.Literal('keyword')]);
const Role = Type.Union([
  Type.Literal('user'),
  Type.Literal('assistant'),
  Type.Literal('system'),
  Type.Literal('tool'),
]);

export const SearchQuery = Type.Object({
  q: Type.String({
    minLength: 1,
    maxLength: 1000,
    description: 'What to look for: words (keyword) or a meaning (semantic)',
  }),
  mode: Type.Optional(Mode),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Results wanted (at most 100)' }),
  ),
  user: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: "Admins only: search this user's history (id, UUID or username); yourself otherwise",
    }),
  ),
  conversation_id: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'Only this conversation (id or UUID)' }),
  ),
  role: Type.Optional(Role),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only replies of this model' })),
  from: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 40,
      description: 'Messages written at or after this ISO 8601 date or date-time',
    }),
  ),
  to: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 40,
      description: 'Messages written at or before this date (a bare date includes the whole day) or date-time',
    }),
  ),
});
export type SearchQueryType = Static<typeof SearchQuery>;

export const SearchHitBody = Type.Object({
  kind: Type.Union([Type.Literal('message'), Type.Literal('document')], {
    description: 'A message, or a passage of a PDF uploaded to the conversation',
  }),
  message_id: Nullable(Type.Integer({ description: 'Null for a document passage' })),
  message_uuid: Nullable(Type.String()),
  conversation_id: Type.Integer(),
  conversation_uuid: Type.String(),
  conversation_title: Nullable(Type.String()),
  role: Nullable(Type.String({ description: 'Null for a document passage' })),
  model: Nullable(Type.String()),
  document: Nullable(
    Type.Object(
      {
        file_id: Type.Integer(),
        filename: Type.String(),
        chunk_index: Type.Integer(),
        page_from: Type.Integer(),
        page_to: Type.Integer(),
      },
      { description: 'The file a passage comes from' },
    ),
  ),
  snippet: Type.String({ description: 'HTML-escaped excerpt; the matched words are wrapped in <mark>\u2026</mark>' }),
  created_at: Type.String(),
  score: Type.Number({ description: 'Higher is better; comparable within one answer only' }),
});

export const SearchAnswerBody = Type.Object({
  query: Type.String(),
  mode: Mode,
  semantic_available: Type.Boolean({
    description: 'Whether an embedding model is configured and vectors can be stored',
  }),
  notice: Type.Optional(Type.String({ description: 'Why the mode that ran differs from the one asked for' })),
  embedding_ms: Type.Optional(Type.Number({ description: 'Time spent embedding the query' })),
  results: Type.Array(SearchHitBody),
});

export const SearchStatusBody = Type.Object({
  model: Nullable(Type.String({ description: 'CAUSERIE_EMBEDDING_MODEL, or null' })),
  semantic_available: Type.Boolean(),
  indexed: Type.Integer({ description: 'Searchable texts (keyword search covers all of them)' }),
  done: Type.Integer({ description: 'Texts holding a vector of the current model' }),
  pending: Type.Integer({ description: 'Texts waiting for their vector' }),
  failed: Type.Integer({ description: 'Texts whose embedding failed every attempt' }),
  pgvector: Type.Optional(Type.Boolean({ description: 'PostgreSQL: whether the pgvector extension is installed' })),
});

/** The service's query, from a route's query string. */
export const toSearchInput = (query: SearchQueryType) => ({
  q: query.q,
  mode: query.mode,
  limit: query.limit,
  user: query.user,
  conversation: query.conversation_id,
  role: query.role,
  model: query.model,
  from: query.from,
  to: query.to,
});
