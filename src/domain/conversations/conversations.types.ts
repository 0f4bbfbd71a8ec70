import type { TokenCounter } from '../completions/token-budget.ts';
import type { Insertable } from 'kysely';
import type { MessagesTable } from '../../stores/sql/schema.ts';
import { newUuid } from '../ids.ts';
import type { ConversationRow, MessageRow, MessageStatus } from './conversations.store.ts';

export type MessageRole = MessageRow['role'];
export type { MessageStatus };

/** The one entity behind spec 000/003's "session", 001's "conversation" and 004's "chat". */
export interface Conversation {
  id: number;
  uuid: string;
  user_id: number;
  /** The API key ("application", spec 003) the conversation was created through. */
  application_id: number | null;
  title: string | null;
  /** The model later completions use unless they name another. */
  model: string | null;
  agent_id: number | null;
  system_prompt: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/** The one entity behind "message", "history" entries and spec 004's "conversation" rows. */
export interface Message {
  id: number;
  uuid: string;
  conversation_id: number;
  role: MessageRole;
  content: string;
  /** The model that produced it (assistant messages). */
  model: string | null;
  status: MessageStatus;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  /** What the reply was built from (set by context enrichers), or null. */
  metadata: Record<string, unknown> | null;
  created_at: string;
  updated_at: string;
}

export const toConversation = (row: ConversationRow): Conversation => ({
  id: row.id,
  uuid: row.uuid,
  user_id: row.user_id,
  application_id: row.api_key_id,
  title: row.title,
  model: row.model,
  agent_id: row.agent_id,
  system_prompt: row.system_prompt,
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export const toMessage = (row: MessageRow): Message => ({
  id: row.id,
  uuid: row.uuid,
  conversation_id: row.conversation_id,
  role: row.role,
  content: row.content,
  model: row.model,
  status: row.status,
  prompt_tokens: row.prompt_tokens,
  completion_tokens: row.completion_tokens,
  metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, unknown>),
  created_at: row.created_at,
  updated_at: row.updated_at,
});

/** What the conversation service needs from the model registry. */
export interface ModelCatalog {
  /** The model's context window in tokens, or undefined when the id is unknown. */
  contextWindow(model: string): Promise<number | undefined>;
  /** Counts tokens as the model's provider does (its tokenizer, else the estimate); the estimate when absent. */
  tokenCounter?(model: string): Promise<TokenCounter>;
  /** Whether a public model id exists (switching to an unknown model is refused). */
  exists(model: string): Promise<boolean>;
  /** The model used when neither the request nor the conversation names one. */
  defaultModel(): Promise<string | undefined>;
}

/** One page of a listing and how many there are in all. */
export interface Page<T> {
  items: T[];
  total: number;
}

/** A new message row: complete and without usage unless said otherwise. */
export function newMessageRow(
  conversationId: number,
  fields: {
    role: MessageRow['role'];
    content: string;
    model?: string | null;
    status?: MessageStatus;
    metadata?: Record<string, unknown> | null;
  },
  now: string,
): Insertable<MessagesTable> {
  return {
    uuid: newUuid(),
    conversation_id: conversationId,
    role: fields.role,
    content: fields.content,
    model: fields.model ?? null,
    status: fields.status ?? 'complete',
    prompt_tokens: null,
    completion_tokens: null,
    metadata: fields.metadata ? JSON.stringify(fields.metadata) : null,
    created_at: now,
    updated_at: now,
  };
}
