import { SourcesBody } from '../web-sources.ts';
import { Type } from '../../lib/type.ts';
import type { Conversation, Message } from '../../domain/conversations/conversations.types.ts';
import { GenerationSettingsFields, Nullable } from './common.ts';

/** The chat-service dialect's shapes, field for field. */
export const ConversationListItem = Type.Object({
  conversation_id: Type.Integer(),
  title: Nullable(Type.String()),
  user_id: Type.Integer(),
});

export const ConversationCreated = Type.Object({
  id: Type.Integer(),
  title: Nullable(Type.String()),
  user_id: Type.Integer(),
});

export const CreateConversationBody = Type.Object(
  {
    title: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
    user_id: Type.Optional(
      Type.Union(
        [Type.Integer({ minimum: 1, maximum: 9_007_199_254_740_991 }), Type.String({ minLength: 1, maxLength: 64 })],
        {
          description: 'Must be you (id, UUID or username) unless you are an admin; defaults to you',
        },
      ),
    ),
    model: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Causerie extension: the model its completions use' }),
    ),
  },
  { additionalProperties: false },
);

export const ChatMessage = Type.Object({
  id: Type.Integer(),
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant'), Type.Literal('system'), Type.Literal('tool')]),
  content: Type.String(),
});

export const AddMessageBody = Type.Object(
  {
    content: Type.String({ minLength: 1, maxLength: 1_000_000 }),
    role: Type.Optional(
      Type.Union([Type.Literal('user'), Type.Literal('assistant'), Type.Literal('system')], { default: 'user' }),
    ),
  },
  { additionalProperties: false },
);

export const CompleteBody = Type.Object(
  {
    stream: Type.Optional(Type.Boolean({ default: false })),
    model: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: "Causerie extension: defaults to the conversation's model",
      }),
    ),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
    ...GenerationSettingsFields,
    web_search: Type.Optional(
      Type.Boolean({
        description:
          'Search the web for the last user message first; the answer cites the sources as [n] (see docs/web-search.md). Left out: off, unless the session belongs to an agent that always searches',
      }),
    ),
  },
  { additionalProperties: false },
);

export const CompletionChoices = Type.Object({
  choices: Type.Array(
    Type.Object({
      finish_reason: Type.String(),
      index: Type.Integer(),
      message: Type.Object({ role: Type.Literal('assistant'), content: Type.String() }),
    }),
  ),
  /** Causerie extension, with web_search: what `[n]` in the content refers to. */
  sources: Type.Optional(SourcesBody),
});

export const toListItem = (c: Conversation) => ({ conversation_id: c.id, title: c.title, user_id: c.user_id });
export const toCreated = (c: Conversation) => ({ id: c.id, title: c.title, user_id: c.user_id });
export const toChatMessage = (m: Message) => ({ id: m.id, role: m.role, content: m.content });
