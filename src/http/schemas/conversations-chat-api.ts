import { Type } from 'typebox';
import type { Conversation, Message } from '../../domain/conversations/conversations.types.ts';
import { Nullable } from './common.ts';
import { UsePromptFields } from './prompts.ts';

/** Spec 003's shapes ("Chat API Documentation"). */
const SessionId = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1, maxLength: 64 })], {
  description: 'The session id (an integer; the UUID is accepted too)',
});

const RoleAndContent = Type.Object({ role: Type.String(), content: Type.String() });

export const ChatStreamBody = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "Required without session_id; with one, defaults to the session's model" })),
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
    max_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
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
});

export const SwitchModelBody = Type.Object({ session_id: SessionId, model: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

export const SwitchModelReply = Type.Object({
  session_id: Type.Integer(),
  model: Type.String(),
  messages: Type.Array(RoleAndContent),
  title: Nullable(Type.String()),
});

export const HistoryQuery = Type.Object({
  page: Type.Integer({ minimum: 1, default: 1 }),
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  start_date: Type.Optional(Type.String({ maxLength: 40, description: 'Sessions created at or after (ISO 8601; without a zone, UTC)' })),
  end_date: Type.Optional(Type.String({ maxLength: 40, description: 'Sessions created at or before (ISO 8601; without a zone, UTC)' })),
  model: Type.Optional(Type.String({ maxLength: 200 })),
});

export const HistorySession = Type.Object({
  id: Type.Integer(),
  user_id: Type.Integer(),
  application_id: Nullable(Type.Integer()),
  model: Nullable(Type.String()),
  title: Nullable(Type.String()),
  messages: Type.Array(RoleAndContent),
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

export const toHistorySession = (c: Conversation, messages: Message[]) => ({
  id: c.id,
  user_id: c.user_id,
  application_id: c.application_id,
  model: c.model,
  title: c.title,
  messages: messages.map(roleAndContent),
  created_at: c.created_at,
  updated_at: c.updated_at,
});
