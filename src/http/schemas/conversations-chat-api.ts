import { SourcesBody } from '../web-sources.ts';
import { Type } from '../../lib/type.ts';
import type { Conversation, Message } from '../../domain/conversations/conversations.types.ts';
import { GenerationSettingsFields, idPattern, Nullable } from './common.ts';
import { UsePromptFields } from './prompts.ts';

/** The chat-API dialect's shapes ("Chat API Documentation"). */
// No maximum: a larger integer looks like an id and names nothing (404), as in a path.
const SessionId = Type.Union(
  [
    Type.Integer({ minimum: 1, maximum: 9_007_199_254_740_991 }),
    Type.String({ minLength: 1, maxLength: 64, pattern: idPattern }),
  ],
  {
    description: 'The session id (an integer; the UUID is accepted too)',
  },
);

const RoleAndContent = Type.Object({ role: Type.String(), content: Type.String() });

export const ChatStreamBody = Type.Object(
  {
    model: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: "Required without session_id; with one, defaults to the session's model",
      }),
    ),
    messages: Type.Array(
      Type.Object(
        {
          role: Type.Union([Type.Literal('system'), Type.Literal('user'), Type.Literal('assistant')]),
          content: Type.String({ maxLength: 1_000_000 }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2, default: 0.7 })),
    ...GenerationSettingsFields,
    web_search: Type.Optional(
      Type.Boolean({
        description:
          'Search the web for the last user message first; the answer cites the sources as [n] (see docs/web-search.md). Left out: off, unless the session belongs to an agent that always searches',
      }),
    ),
    stream: Type.Optional(Type.Boolean({ default: true })),
    session_id: Type.Optional(SessionId),
    ...UsePromptFields,
  },
  { additionalProperties: false },
);

export const ChatReply = Type.Object({
  session_id: Type.Integer(),
  model: Type.String(),
  title: Nullable(Type.String()),
  message: RoleAndContent,
  usage: Type.Object({ prompt_tokens: Nullable(Type.Integer()), completion_tokens: Nullable(Type.Integer()) }),
  /** With web_search: what `[n]` in the message refers to. */
  sources: Type.Optional(SourcesBody),
});

export const SwitchModelBody = Type.Object(
  { session_id: SessionId, model: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

/** The newest messages a switch-model answer shows (a session may hold any number). */
export const switchModelMessages = 100;

export const SwitchModelReply = Type.Object({
  session_id: Type.Integer(),
  model: Type.String(),
  messages: Type.Array(RoleAndContent, {
    description: `The newest messages, at most ${switchModelMessages}, oldest first`,
  }),
  messages_total: Type.Integer({ description: 'How many messages the session holds' }),
  title: Nullable(Type.String()),
});

export const HistoryQuery = Type.Object({
  page: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 1 }),
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  start_date: Type.Optional(
    Type.String({ maxLength: 40, description: 'Sessions created at or after (ISO 8601; without a zone, UTC)' }),
  ),
  end_date: Type.Optional(
    Type.String({ maxLength: 40, description: 'Sessions created at or before (ISO 8601; without a zone, UTC)' }),
  ),
  model: Type.Optional(Type.String({ maxLength: 200 })),
  messages_limit: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 20,
    description: 'Newest messages shown per session (the rest: GET /api/v1/sessions/{id}/history)',
  }),
});

export const HistorySession = Type.Object({
  id: Type.Integer(),
  user_id: Type.Integer(),
  application_id: Nullable(Type.Integer()),
  model: Nullable(Type.String()),
  title: Nullable(Type.String()),
  messages: Type.Array(RoleAndContent, { description: 'The newest messages, at most messages_limit, oldest first' }),
  messages_total: Type.Integer({ description: 'How many messages the session holds' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const HistoryReply = Type.Object({
  total: Type.Integer(),
  page: Type.Integer(),
  page_size: Type.Integer(),
  sessions: Type.Array(HistorySession),
});

export const DeletedReply = Type.Object({ message: Type.String() });

export const roleAndContent = (m: Message) => ({ role: m.role, content: m.content });

export const toHistorySession = (c: Conversation, { messages, total }: { messages: Message[]; total: number }) => ({
  id: c.id,
  user_id: c.user_id,
  application_id: c.application_id,
  model: c.model,
  title: c.title,
  messages: messages.map(roleAndContent),
  messages_total: total,
  created_at: c.created_at,
  updated_at: c.updated_at,
});
