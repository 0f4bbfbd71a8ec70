import { sql, type Insertable, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { ConversationsTable, Database, MessagesTable } from '../../stores/sql/schema.ts';
import { BuiltOnce } from '../../stores/sql/built-once.ts';

export type ConversationRow = Selectable<ConversationsTable>;
export type MessageRow = Selectable<MessagesTable>;
export type MessageStatus = MessageRow['status'];

/** What a conversation listing filters on; dates are ISO strings compared as text. */
export interface ConversationFilter {
  userId: number;
  model?: string;
  createdFrom?: string;
  createdTo?: string;
}

// The statements of a stored completion, built once (BuiltOnce): see decision 019.
const insertConversationStatement = new BuiltOnce((db, row: Insertable<ConversationsTable>) =>
  db.insertInto('conversations').values(row).returningAll(),
);
const conversationByIdStatement = new BuiltOnce((db, v: { id: number }) =>
  db.selectFrom('conversations').selectAll().where('id', '=', v.id),
);
const updateConversationStatement = new BuiltOnce((db, v: Updateable<ConversationsTable> & { id: number }) => {
  const { id, ...changes } = v;
  return db.updateTable('conversations').set(changes).where('id', '=', id).returningAll();
});
const touchStatement = new BuiltOnce(
  (db, v: { id: number; updatedAt: string; titleIfEmpty?: string; model?: string }) =>
    db
      .updateTable('conversations')
      .set((eb) => ({
        updated_at: v.updatedAt,
        ...('titleIfEmpty' in v ? { title: eb.fn.coalesce('title', eb.val(v.titleIfEmpty!)) } : {}),
        ...('model' in v ? { model: v.model } : {}),
      }))
      .where('id', '=', v.id)
      .returningAll(),
);
const acquireLeaseStatement = new BuiltOnce((db, v: { id: number; owner: string; until: string; now: string }) =>
  db
    .updateTable('conversations')
    .set({ stream_owner: v.owner, stream_lease_until: v.until })
    .where('id', '=', v.id)
    .where((eb) =>
      eb.or([
        eb('stream_lease_until', 'is', null),
        eb('stream_lease_until', '<', v.now),
        eb('stream_owner', '=', v.owner),
      ]),
    )
    .returningAll(),
);
const renewLeaseStatement = new BuiltOnce((db, v: { id: number; owner: string; until: string }) =>
  db
    .updateTable('conversations')
    .set({ stream_lease_until: v.until })
    .where('id', '=', v.id)
    .where('stream_owner', '=', v.owner),
);
const releaseLeaseStatement = new BuiltOnce((db, v: { id: number; owner: string; updatedAt: string }) =>
  db
    .updateTable('conversations')
    .set({ stream_owner: null, stream_lease_until: null, updated_at: v.updatedAt })
    .where('id', '=', v.id)
    .where('stream_owner', '=', v.owner),
);
const insertMessageStatement = new BuiltOnce((db, row: Insertable<MessagesTable>) =>
  db.insertInto('messages').values(row).returningAll(),
);
const updateMessageStatement = new BuiltOnce((db, v: Updateable<MessagesTable> & { id: number }) => {
  const { id, ...changes } = v;
  return db.updateTable('messages').set(changes).where('id', '=', id);
});
const messagesStatement = new BuiltOnce((db, v: { conversationId: number }) =>
  db.selectFrom('messages').selectAll().where('conversation_id', '=', v.conversationId).orderBy('id'),
);

/** Conversations and their messages: one method per query, no rules. */
export class ConversationsStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async insertConversation(row: Insertable<ConversationsTable>): Promise<ConversationRow> {
    return (await insertConversationStatement.first(this.db, row)) as ConversationRow;
  }

  /**
   * Creates a conversation with its first messages (`messagesOf` gets its id) in one transaction:
   * one commit on the way to the first token.
   */
  insertConversationWithMessages(
    row: Insertable<ConversationsTable>,
    messagesOf: (conversationId: number) => Insertable<MessagesTable>[],
  ): Promise<{ conversation: ConversationRow; messages: MessageRow[] }> {
    return this.db.transaction().execute(async (trx) => {
      const inTransaction = new ConversationsStore(trx);
      const conversation = await inTransaction.insertConversation(row);
      return { conversation, messages: await inTransaction.insertMessages(messagesOf(conversation.id)) };
    });
  }

  /** Stores messages in order; several in one transaction. */
  async insertMessages(rows: Insertable<MessagesTable>[]): Promise<MessageRow[]> {
    if (rows.length > 1 && !this.db.isTransaction)
      return this.db.transaction().execute((trx) => new ConversationsStore(trx).insertMessages(rows));
    const messages: MessageRow[] = [];
    for (const row of rows) messages.push(await this.insertMessage(row));
    return messages;
  }

  findConversationById(id: number): Promise<ConversationRow | undefined> {
    return conversationByIdStatement.first(this.db, { id });
  }

  findConversationByUuid(uuid: string): Promise<ConversationRow | undefined> {
    return this.db.selectFrom('conversations').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  }

  private filtered(filter: ConversationFilter) {
    let query = this.db.selectFrom('conversations').where('user_id', '=', filter.userId);
    if (filter.model !== undefined) query = query.where('model', '=', filter.model);
    if (filter.createdFrom !== undefined) query = query.where('created_at', '>=', filter.createdFrom);
    if (filter.createdTo !== undefined) query = query.where('created_at', '<=', filter.createdTo);
    return query;
  }

  /** Newest activity first; the id breaks ties so pages never overlap. */
  listConversations(filter: ConversationFilter, page: { limit: number; offset: number }): Promise<ConversationRow[]> {
    return this.filtered(filter)
      .selectAll()
      .orderBy('updated_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
  }

  async countConversations(filter: ConversationFilter): Promise<number> {
    const row = await this.filtered(filter)
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  updateConversation(id: number, changes: Updateable<ConversationsTable>): Promise<ConversationRow | undefined> {
    return updateConversationStatement.first(this.db, { ...changes, id });
  }

  /**
   * Marks a conversation active, in one statement: `updated_at`, the model when given, and the
   * title only if none is set yet (two first messages racing keep the first title).
   */
  touchConversation(
    id: number,
    changes: { updatedAt: string; titleIfEmpty?: string; model?: string },
  ): Promise<ConversationRow | undefined> {
    return touchStatement.first(this.db, { id, ...changes });
  }

  async deleteConversation(id: number): Promise<void> {
    await this.db.deleteFrom('conversations').where('id', '=', id).execute();
  }

  /**
   * Takes the stream lease if it is free or expired. Returns the conversation as it is once this
   * owner holds it (one statement: no second read), or undefined when another owner holds it.
   */
  acquireStreamLease(id: number, owner: string, until: string, now: string): Promise<ConversationRow | undefined> {
    return acquireLeaseStatement.first(this.db, { id, owner, until, now });
  }

  /**
   * Takes the stream lease (as acquireStreamLease), reads the history and stores the messages
   * `append` makes of them, in one transaction: one commit instead of two before the first token.
   * Undefined (nothing written) when another owner holds the lease or the conversation is gone.
   */
  leaseAndAppend(
    lease: { id: number; owner: string; until: string; now: string },
    append: (conversation: ConversationRow, history: MessageRow[]) => Insertable<MessagesTable>[],
  ): Promise<{ conversation: ConversationRow; history: MessageRow[]; appended: MessageRow[] } | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const inTransaction = new ConversationsStore(trx);
      const conversation = await inTransaction.acquireStreamLease(lease.id, lease.owner, lease.until, lease.now);
      if (!conversation) return undefined;
      const history = await inTransaction.listMessages(conversation.id);
      return { conversation, history, appended: await inTransaction.insertMessages(append(conversation, history)) };
    });
  }

  async renewStreamLease(id: number, owner: string, until: string): Promise<void> {
    await renewLeaseStatement.execute(this.db, { id, owner, until });
  }

  async releaseStreamLease(id: number, owner: string, updatedAt: string): Promise<void> {
    await releaseLeaseStatement.execute(this.db, { id, owner, updatedAt });
  }

  /** Embedded mode at start-up: no other process can hold a lease on this database. */
  async releaseAllStreamLeases(): Promise<void> {
    await this.db
      .updateTable('conversations')
      .set({ stream_owner: null, stream_lease_until: null })
      .where('stream_owner', 'is not', null)
      .execute();
  }

  /**
   * Marks the conversation active (as touchConversation) and stores the reply about to stream, in
   * one transaction: one commit instead of two on the way to the first token.
   */
  touchAndInsertReply(
    conversationId: number,
    touch: Parameters<ConversationsStore['touchConversation']>[1],
    reply: Insertable<MessagesTable>,
  ): Promise<{ conversation: ConversationRow | undefined; reply: MessageRow }> {
    return this.db.transaction().execute(async (trx) => {
      const inTransaction = new ConversationsStore(trx);
      const conversation = await inTransaction.touchConversation(conversationId, touch);
      return { conversation, reply: await inTransaction.insertMessage(reply) };
    });
  }

  /** Writes a reply's final state and frees the conversation's stream lease, in one transaction. */
  finishReply(
    messageId: number,
    changes: Updateable<MessagesTable>,
    lease: { conversationId: number; owner: string; updatedAt: string },
  ): Promise<void> {
    return this.db.transaction().execute(async (trx) => {
      const inTransaction = new ConversationsStore(trx);
      await inTransaction.updateMessage(messageId, changes);
      await inTransaction.releaseStreamLease(lease.conversationId, lease.owner, lease.updatedAt);
    });
  }

  async insertMessage(row: Insertable<MessagesTable>): Promise<MessageRow> {
    return (await insertMessageStatement.first(this.db, row)) as MessageRow;
  }

  findMessageById(id: number): Promise<MessageRow | undefined> {
    return this.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findMessageByUuid(uuid: string): Promise<MessageRow | undefined> {
    return this.db.selectFrom('messages').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  }

  /** The reply being generated in a conversation, if any. */
  findStreamingReply(conversationId: number): Promise<MessageRow | undefined> {
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('status', '=', 'streaming')
      .executeTakeFirst();
  }

  /** Gives a reply still marked streaming its final status (left alone when it was settled already). */
  async settleStreamingMessage(id: number, status: MessageStatus, at: string): Promise<void> {
    await this.db
      .updateTable('messages')
      .set({ status, updated_at: at })
      .where('id', '=', id)
      .where('status', '=', 'streaming')
      .execute();
  }

  /** A conversation's messages in the order they were written. */
  listMessages(conversationId: number, page?: { limit: number; offset: number }): Promise<MessageRow[]> {
    if (!page) return messagesStatement.rows(this.db, { conversationId });
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
  }

  async countMessages(conversationId: number): Promise<number> {
    const row = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('conversation_id', '=', conversationId)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** Messages of several conversations at once (history listings), in order within each. */
  /** The newest `perConversation` messages of each conversation, oldest first within each. */
  async listNewestMessagesOfConversations(conversationIds: number[], perConversation: number): Promise<MessageRow[]> {
    if (conversationIds.length === 0) return [];
    const ranked = this.db
      .selectFrom('messages')
      .selectAll()
      .select(sql<number>`row_number() over (partition by conversation_id order by id desc)`.as('newest_rank'))
      .where('conversation_id', 'in', conversationIds);
    const rows = await this.db
      .selectFrom(ranked.as('ranked'))
      .selectAll()
      .where('newest_rank', '<=', perConversation)
      .orderBy('conversation_id')
      .orderBy('id')
      .execute();
    return rows.map(({ newest_rank: _rank, ...row }) => row);
  }

  /** How many messages each conversation holds. */
  async countMessagesOfConversations(conversationIds: number[]): Promise<Map<number, number>> {
    if (conversationIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('messages')
      .select(['conversation_id', (eb) => eb.fn.countAll<number>().as('count')])
      .where('conversation_id', 'in', conversationIds)
      .groupBy('conversation_id')
      .execute();
    return new Map(rows.map((row) => [row.conversation_id, Number(row.count)]));
  }

  lastMessage(conversationId: number): Promise<MessageRow | undefined> {
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  async updateMessage(id: number, changes: Updateable<MessagesTable>): Promise<void> {
    await updateMessageStatement.execute(this.db, { ...changes, id });
  }

  async deleteMessages(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.deleteFrom('messages').where('id', 'in', ids).execute();
  }

  /**
   * Settles replies a dead process left in status 'streaming': all of them (`before` undefined,
   * embedded mode at start-up) or those not written since `before` (cluster mode).
   */
  async settleStreamingMessages(status: MessageStatus, at: string, before?: string): Promise<number> {
    let query = this.db.updateTable('messages').set({ status, updated_at: at }).where('status', '=', 'streaming');
    if (before !== undefined) query = query.where('updated_at', '<', before);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
