import { Type } from '../../lib/type.ts';
import type { Conversation, Message } from '../../domain/conversations/conversations.types.ts';
import { sourcesOf, SourcesBody } from '../web-sources.ts';

/** The chats dialect's shapes: a chat is a conversation, a "conversation" is one of its messages; UUIDs as ids. */
export const ChatBody = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const CreateChatBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 500 }) },
  { additionalProperties: false },
);

export const UpdateChatBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 500 }),
    updated_at: Type.Optional(
      Type.String({
        maxLength: 64,
        description: 'Accepted for compatibility; Causerie sets updated_at from its own clock',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ChatRole = Type.Union([Type.Literal('Human'), Type.Literal('Assistant')]);

export const ChatConversationBody = Type.Object({
  id: Type.String({ format: 'uuid' }),
  role: Type.Union([ChatRole, Type.Literal('System'), Type.Literal('Tool')]),
  chat_id: Type.String({ format: 'uuid' }),
  message: Type.String(),
  /** Only on answers given with web search (inference_internet): what `[n]` in the message refers to. */
  sources: Type.Optional(SourcesBody),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const CreateChatConversationBody = Type.Object(
  {
    chat_id: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'The chat UUID (its integer id is accepted too)',
    }),
    role: ChatRole,
    message: Type.String({ minLength: 1, maxLength: 1_000_000 }),
  },
  { additionalProperties: false },
);

const toRole = { user: 'Human', assistant: 'Assistant', system: 'System', tool: 'Tool' } as const;
export const fromRole = { Human: 'user', Assistant: 'assistant' } as const;

export const toChatBody = (c: Conversation) => ({
  id: c.uuid,
  name: c.title ?? '',
  created_at: c.created_at,
  updated_at: c.updated_at,
});

export const toChatConversationBody = (m: Message, chatUuid: string) => ({
  id: m.uuid,
  role: toRole[m.role],
  chat_id: chatUuid,
  message: m.content,
  ...(sourcesOf(m) ? { sources: sourcesOf(m) } : {}),
  created_at: m.created_at,
  updated_at: m.updated_at,
});
