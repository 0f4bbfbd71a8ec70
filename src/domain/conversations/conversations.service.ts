import type { Insertable } from 'kysely';
import type { ConversationsTable } from '../../stores/sql/schema.ts';
import { AppError, invalid, notFound } from '../errors.ts';
import { isoAt, type Clock } from '../clock.ts';
import { maxId, newUuid, parseReference } from '../ids.ts';
import type { Actor, UsersService } from '../users/users.service.ts';
import type { ConversationFilter, ConversationRow, ConversationsStore, MessageRow } from './conversations.store.ts';
import type { SearchIndexHook } from './search-index-hook.ts';
import {
  newMessageRow,
  toConversation,
  toMessage,
  type Conversation,
  type Message,
  type MessageRole,
  type ModelCatalog,
  type Page,
} from './conversations.types.ts';
import { assertAdmin, mayAccess } from '../users/authorization.ts';

export interface ConversationsDeps {
  store: ConversationsStore;
  users: UsersService;
  models: ModelCatalog;
  clock: Clock;
  /** Meters writes that call no model (per user, count and characters); throws 429 past them. */
  writeThrottle?: (userId: number, chars: number) => Promise<void>;
  /** Told of every stored message, so search finds it. */
  searchIndex?: SearchIndexHook;
}

export interface CreateConversationInput {
  title?: string | null;
  model?: string | null;
  system_prompt?: string | null;
  metadata?: Record<string, unknown>;
  /** The agent this conversation talks to (its instructions and settings apply to every completion). */
  agent_id?: number | null;
  /** Owner reference (id, UUID or username): the caller unless an admin names someone else. */
  owner?: string | number;
}

export interface ConversationListQuery {
  /** Whose conversations (id, UUID or username); the caller by default. */
  owner?: string | number;
  model?: string;
  createdFrom?: string;
  createdTo?: string;
  limit: number;
  offset: number;
}

const titleLength = 80;

/** A title from the first user message: its first line, cut at a word near 80 characters. */
export function titleFrom(content: string): string | null {
  const line = content.trim().split(/\r?\n/, 1)[0]!.replace(/\s+/g, ' ').trim();
  if (!line) return null;
  if (line.length <= titleLength) return line;
  const cut = line.slice(0, titleLength - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > titleLength / 2 ? cut.slice(0, space) : cut}\u2026`;
}

/**
 * Conversations and their messages: who may see them, how they are created, renamed, switched to
 * another model and deleted. Completions live in ConversationCompletions, which uses this service
 * for access checks.
 */
export class ConversationsService {
  private readonly deps: ConversationsDeps;

  constructor(deps: ConversationsDeps) {
    this.deps = deps;
  }

  private now() {
    return isoAt(this.deps.clock.now());
  }

  /** The user a request acts for: the caller, or (admins only) the named user. */
  private async ownerId(actor: Actor, owner: string | number | undefined): Promise<number> {
    if (owner === undefined || owner === actor.userId || String(owner) === String(actor.userId)) return actor.userId;
    const user = await this.deps.users.find(String(owner));
    if (user?.id === actor.userId) return actor.userId;
    assertAdmin(actor, "act on other users' conversations");
    if (!user) throw notFound('User');
    return user.id;
  }

  /** Finds a conversation by id or UUID; someone else's answers 404 as if it did not exist (admins see all). */
  async findRow(actor: Actor, reference: string | number): Promise<ConversationRow> {
    // A number beyond what the database holds names nothing (rather than failing the query).
    const parsed =
      typeof reference === 'number'
        ? Number.isSafeInteger(reference) && reference <= maxId
          ? { id: reference }
          : undefined
        : parseReference(reference);
    const row = !parsed
      ? undefined
      : 'id' in parsed
        ? await this.deps.store.findConversationById(parsed.id)
        : await this.deps.store.findConversationByUuid(parsed.uuid);
    if (!row || !mayAccess(actor, row.user_id)) throw notFound('Conversation');
    return row;
  }

  /**
   * Creates a conversation. `metered: false` is for creations that another limit already meters
   * (a completion's, through the limits gate; a public visitor's, through the visitor limits), so
   * they do not spend the owner's allowance of writes that call no model.
   */
  async create(
    actor: Actor,
    input: CreateConversationInput = {},
    options: { metered?: boolean } = {},
  ): Promise<Conversation> {
    return toConversation(await this.createRow(actor, input, options));
  }

  /**
   * create(), returning the stored row (for services that go on with it without reading it again).
   * `streamLease` creates it already leased to a completion that is about to run in it.
   */
  async createRow(
    actor: Actor,
    input: CreateConversationInput = {},
    options: { metered?: boolean; streamLease?: { owner: string; until: string } } = {},
  ): Promise<ConversationRow> {
    return this.deps.store.insertConversation(await this.newRow(actor, input, options));
  }

  /** The row createRow() stores, checked (owner, model, allowance of writes) but not stored yet. */
  async newRow(
    actor: Actor,
    input: CreateConversationInput = {},
    options: { metered?: boolean; streamLease?: { owner: string; until: string } } = {},
  ): Promise<Insertable<ConversationsTable>> {
    const userId = await this.ownerId(actor, input.owner);
    if (input.model) await this.requireModel(input.model, 'model');
    const metadata = JSON.stringify(input.metadata ?? {});
    if (options.metered !== false)
      await this.deps.writeThrottle?.(
        userId,
        (input.title?.length ?? 0) + (input.system_prompt?.length ?? 0) + metadata.length,
      );
    const now = this.now();
    return {
      uuid: newUuid(),
      user_id: userId,
      api_key_id: actor.apiKeyId ?? null,
      title: input.title?.trim() || null,
      model: input.model ?? null,
      agent_id: input.agent_id ?? null,
      system_prompt: input.system_prompt ?? null,
      metadata,
      created_at: now,
      updated_at: now,
      ...(options.streamLease
        ? { stream_owner: options.streamLease.owner, stream_lease_until: options.streamLease.until }
        : {}),
    };
  }

  async get(actor: Actor, reference: string | number): Promise<Conversation> {
    return toConversation(await this.findRow(actor, reference));
  }

  async list(actor: Actor, query: ConversationListQuery): Promise<Page<Conversation>> {
    let userId = actor.userId;
    if (query.owner !== undefined) {
      // Reading a user's list: yourself, or anyone for admins; another user answers 404 like GET /users/:id.
      const user = await this.deps.users.get(actor, String(query.owner));
      userId = user.id;
    }
    const filter: ConversationFilter = {
      userId,
      model: query.model,
      createdFrom: query.createdFrom,
      createdTo: query.createdTo,
    };
    const [rows, total] = await Promise.all([
      this.deps.store.listConversations(filter, { limit: query.limit, offset: query.offset }),
      this.deps.store.countConversations(filter),
    ]);
    return { items: rows.map(toConversation), total };
  }

  async update(
    actor: Actor,
    reference: string | number,
    changes: { title?: string | null; system_prompt?: string | null; metadata?: Record<string, unknown> },
  ): Promise<Conversation> {
    const row = await this.findRow(actor, reference);
    const updated = await this.deps.store.updateConversation(row.id, {
      ...(changes.title !== undefined ? { title: changes.title?.trim() || null } : {}),
      ...(changes.system_prompt !== undefined ? { system_prompt: changes.system_prompt } : {}),
      ...(changes.metadata !== undefined ? { metadata: JSON.stringify(changes.metadata) } : {}),
      updated_at: this.now(),
    });
    if (!updated) throw notFound('Conversation');
    return toConversation(updated);
  }

  /** The chat-API dialect's switch-model: the history stays, later completions use the new model. */
  async switchModel(actor: Actor, reference: string | number, model: string): Promise<Conversation> {
    const row = await this.findRow(actor, reference);
    await this.requireModel(model, 'model');
    const updated = await this.deps.store.updateConversation(row.id, { model, updated_at: this.now() });
    if (!updated) throw notFound('Conversation');
    return toConversation(updated);
  }

  /** Hands the conversation to an agent (null: to none); the history is kept. */
  async setAgent(actor: Actor, reference: string | number, agentId: number | null): Promise<Conversation> {
    const row = await this.findRow(actor, reference);
    const updated = await this.deps.store.updateConversation(row.id, { agent_id: agentId, updated_at: this.now() });
    if (!updated) throw notFound('Conversation');
    return toConversation(updated);
  }

  async requireModel(model: string, field: string): Promise<void> {
    if (!(await this.deps.models.exists(model)))
      throw invalid(field, `unknown model "${model}"; GET /api/v1/models lists the available ones`);
  }

  async delete(actor: Actor, reference: string | number): Promise<Conversation> {
    const row = await this.findRow(actor, reference);
    await this.deps.store.deleteConversation(row.id);
    return toConversation(row);
  }

  async listMessages(
    actor: Actor,
    reference: string | number,
    page?: { limit: number; offset: number },
  ): Promise<Page<Message>> {
    const row = await this.findRow(actor, reference);
    const [rows, total] = await Promise.all([
      this.deps.store.listMessages(row.id, page),
      this.deps.store.countMessages(row.id),
    ]);
    return { items: rows.map(toMessage), total };
  }

  /**
   * The newest `perConversation` messages of conversations the caller already holds, and how many
   * each has, for listings that show messages inline: bounded, however long the conversations.
   */
  async newestMessagesOf(
    conversations: Conversation[],
    perConversation: number,
  ): Promise<Map<number, { messages: Message[]; total: number }>> {
    const ids = conversations.map((c) => c.id);
    const [rows, totals] = await Promise.all([
      this.deps.store.listNewestMessagesOfConversations(ids, perConversation),
      this.deps.store.countMessagesOfConversations(ids),
    ]);
    const byConversation = new Map(
      conversations.map((c) => [c.id, { messages: [] as Message[], total: totals.get(c.id) ?? 0 }]),
    );
    for (const row of rows) byConversation.get(row.conversation_id)?.messages.push(toMessage(row));
    return byConversation;
  }

  /** Adds a message without asking the model (the chat-service dialect's POST .../messages, the chats dialect's conversations/create). */
  async addMessage(
    actor: Actor,
    reference: string | number,
    input: { role: MessageRole; content: string },
  ): Promise<Message> {
    const row = await this.findRow(actor, reference);
    await this.deps.writeThrottle?.(row.user_id, input.content.length);
    const now = this.now();
    const message = await this.deps.store.insertMessage(newMessageRow(row.id, input, now));
    await this.touch(row, input.role === 'user' ? input.content : undefined, now);
    await this.deps.searchIndex?.messagesStored(row.user_id, [message]);
    return toMessage(message);
  }

  /**
   * Marks the conversation active and, on its first user message, gives it a title (and switches
   * it to `model` when given). Returns the conversation as stored after.
   */
  async touch(
    row: ConversationRow,
    userContent: string | undefined,
    at: string,
    model?: string,
  ): Promise<ConversationRow> {
    const updated = await this.deps.store.touchConversation(row.id, this.touchChanges(row, userContent, at, model));
    return updated ?? row;
  }

  /** What touch() writes, for callers that write it along with other rows in one transaction. */
  touchChanges(row: ConversationRow, userContent: string | undefined, at: string, model?: string) {
    const title = row.title === null && userContent !== undefined ? titleFrom(userContent) || undefined : undefined;
    return { updatedAt: at, titleIfEmpty: title, model };
  }

  private async findMessageRow(
    actor: Actor,
    messageReference: string,
    conversationReference?: string,
  ): Promise<MessageRow> {
    const parsed = parseReference(messageReference);
    const row = !parsed
      ? undefined
      : 'id' in parsed
        ? await this.deps.store.findMessageById(parsed.id)
        : await this.deps.store.findMessageByUuid(parsed.uuid);
    if (!row) throw notFound('Message');
    const conversation = await this.findRow(actor, row.conversation_id).catch(() => undefined);
    if (!conversation) throw notFound('Message');
    if (conversationReference !== undefined) {
      const named = await this.findRow(actor, conversationReference);
      if (named.id !== conversation.id) throw notFound('Message');
    }
    return row;
  }

  /** The sessions dialect's note: every message has its own id, and can be read and deleted by it. */
  async getMessage(actor: Actor, messageReference: string, conversationReference?: string): Promise<Message> {
    return toMessage(await this.findMessageRow(actor, messageReference, conversationReference));
  }

  async deleteMessage(actor: Actor, messageReference: string, conversationReference?: string): Promise<Message> {
    const row = await this.findMessageRow(actor, messageReference, conversationReference);
    if (row.status === 'streaming')
      throw new AppError('conflict', 'This message is still being generated; cancel the completion first');
    await this.deps.store.deleteMessages([row.id]);
    return toMessage(row);
  }
}
