import { sourcesOf, SourcesBody } from '../web-sources.ts';
import { Type } from '../../lib/type.ts';
import type { Conversation, Message } from '../../domain/conversations/conversations.types.ts';
import { UsePromptFields } from './prompts.ts';
import { GenerationSettingsFields, IdOrUuid, Nullable } from './common.ts';

const Timestamp = Type.String({ format: 'date-time' });
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form JSON the client attaches' });

/** The sessions dialect's session: the native form of a conversation. */
export const SessionBody = Type.Object({
  id: Type.Integer(),
  uuid: Type.String({ format: 'uuid' }),
  user_id: Type.Integer(),
  application_id: Nullable(Type.Integer({ description: 'The API key the session was created through' })),
  title: Nullable(Type.String()),
  model: Nullable(Type.String({ description: 'The model later completions use unless they name one' })),
  agent_id: Nullable(Type.Integer()),
  system_prompt: Nullable(Type.String()),
  metadata: Metadata,
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const MessageStatus = Type.Union(
  [Type.Literal('complete'), Type.Literal('streaming'), Type.Literal('cancelled'), Type.Literal('error')],
  {
    description: 'streaming while generated; cancelled or error keep the partial text',
  },
);

export const MessageBody = Type.Object({
  id: Type.Integer(),
  uuid: Type.String({ format: 'uuid' }),
  session_id: Type.Integer({ description: 'The id of the session it belongs to' }),
  role: Type.Union([Type.Literal('system'), Type.Literal('user'), Type.Literal('assistant'), Type.Literal('tool')]),
  content: Type.String(),
  model: Nullable(Type.String()),
  status: MessageStatus,
  prompt_tokens: Nullable(Type.Integer()),
  completion_tokens: Nullable(Type.Integer()),
  /** Only on replies given with web search: what `[n]` in the content refers to. */
  sources: Type.Optional(SourcesBody),
  metadata: Type.Optional(
    Nullable(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'What a reply was built from (e.g. documents: the files and chunks it was given)',
      }),
    ),
  ),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const CreateSessionBody = Type.Object(
  {
    title: Type.Optional(Type.String({ maxLength: 500 })),
    model_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'A model id from GET /api/v1/models' }),
    ),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Alias of model_id' })),
    agent_id: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 2_147_483_647 }), IdOrUuid], {
        description: "The agent the session talks to (id or UUID); its model is the session's unless one is given",
      }),
    ),
    system_prompt: Type.Optional(Type.String({ maxLength: 100_000 })),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

export const UpdateSessionBody = Type.Object(
  {
    title: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
    model: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Switches the model; the history is kept' }),
    ),
    system_prompt: Type.Optional(Nullable(Type.String({ maxLength: 100_000 }))),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

export const SessionCompletionBody = Type.Object(
  {
    prompt: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1_000_000,
        description: 'The user message (may be left out when prompt_id is given)',
      }),
    ),
    model_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: "Defaults to the session's model" }),
    ),
    stream: Type.Optional(Type.Boolean({ default: false, description: 'Answer as Server-Sent Events' })),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
    ...GenerationSettingsFields,
    web_search: Type.Optional(
      Type.Boolean({
        description:
          'Search the web for the last user message first; the answer cites the sources as [n] (see docs/web-search.md). Left out: off, unless the session belongs to an agent that always searches',
      }),
    ),
    ...UsePromptFields,
  },
  { additionalProperties: false },
);

export const Usage = Type.Object({
  prompt_tokens: Nullable(Type.Integer()),
  completion_tokens: Nullable(Type.Integer()),
});

export const SessionCompletionResult = Type.Object({
  session_id: Type.Integer(),
  model: Type.String(),
  user_message: MessageBody,
  message: MessageBody,
  usage: Usage,
});

export const toSessionBody = (conversation: Conversation) => ({
  id: conversation.id,
  uuid: conversation.uuid,
  user_id: conversation.user_id,
  application_id: conversation.application_id,
  title: conversation.title,
  model: conversation.model,
  agent_id: conversation.agent_id,
  system_prompt: conversation.system_prompt,
  metadata: conversation.metadata,
  created_at: conversation.created_at,
  updated_at: conversation.updated_at,
});

export const toMessageBody = (message: Message) => ({
  id: message.id,
  uuid: message.uuid,
  session_id: message.conversation_id,
  role: message.role,
  content: message.content,
  model: message.model,
  status: message.status,
  prompt_tokens: message.prompt_tokens,
  completion_tokens: message.completion_tokens,
  ...(sourcesOf(message) ? { sources: sourcesOf(message) } : {}),
  metadata: message.metadata,
  created_at: message.created_at,
  updated_at: message.updated_at,
});

export const PageQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 }),
});

export const HistoryQuery = Type.Object({
  // At most 100 per page, like every list: a message may hold a million characters.
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 100 }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 }),
});

export const CancelResult = Type.Object(
  {
    cancelled: Type.Boolean({
      description:
        'Whether an answer was running: it is stopped on whichever server runs it, its partial text stored with status cancelled',
    }),
  },
  { additionalProperties: false },
);
