import type { ChatMessage, FinishReason, StreamEvent } from '../../providers/provider.ts';
import type { CompletionRun, Completions } from '../completions/completions.types.ts';
import { AppError, invalid, notFound } from '../errors.ts';
import { isoAt, type Clock } from '../clock.ts';
import { newUuid } from '../ids.ts';
import type { Actor } from '../users/users.service.ts';
import { ConversationLocks } from './conversation-locks.ts';
import { titleFrom, type ConversationsService, type CreateConversationInput } from './conversations.service.ts';
import type { ConversationRow, ConversationsStore, MessageRow, MessageStatus } from './conversations.store.ts';
import type { ConversationsTable } from '../../stores/sql/schema.ts';
import type { Insertable } from 'kysely';
import {
  newMessageRow,
  toConversation,
  toMessage,
  type Conversation,
  type Message,
  type MessageRole,
  type ModelCatalog,
} from './conversations.types.ts';
import { fitToContext } from './context-window.ts';
import { estimatingCounter } from '../completions/token-budget.ts';
import type { ContextEnricher, EnrichedSettings } from './context-enrichers.ts';
import { AsyncQueue } from '../../lib/async-queue.ts';
import type { SearchIndexHook } from './search-index-hook.ts';
import { StreamPersister, type StreamTimings } from './stream-persister.ts';
import type { IdempotencyKeys, IdempotencyRequest } from '../idempotency/idempotency-keys.ts';
import { replayedRun } from './replayed-run.ts';
import type { CancelBus } from '../streams/cancel-bus.ts';
import type { RunningAnswers } from '../completions/running-answers.ts';

export interface ConversationCompletionsDeps {
  store: ConversationsStore;
  conversations: ConversationsService;
  completions: Completions;
  models: ModelCatalog;
  clock: Clock;
  timings: StreamTimings;
  /** Run in order on every completion's context (agents, documents, web search). */
  enrichers?: ContextEnricher[];
  /** Told of the messages a completion stores (the user's at once, the reply once finished). */
  searchIndex?: SearchIndexHook;
  /** Idempotency keys; without them `CompleteInput.idempotency` is ignored. */
  idempotency?: IdempotencyKeys;
  /** Carries cancels to the process running the answer; without it, cancels reach this process only. */
  cancels?: CancelBus;
  /** Told of each reply's last writes, so a shutdown waits for them before closing the stores. */
  running?: Pick<RunningAnswers, 'finish'>;
}

export interface CompleteInput {
  /** The conversation to continue (id or UUID); undefined creates one from `create`. */
  conversation?: string | number;
  create?: CreateConversationInput;
  /** Messages to append before asking the model (often one user message; may be empty). */
  messages: Array<{ role: MessageRole; content: string }>;
  /** The model for this completion; also becomes the conversation's model. Defaults to the conversation's. */
  model?: string;
  /** A model used only when neither `model` nor the conversation names one (the chat-API dialect: the session's model wins). */
  fallbackModel?: string;
  /**
   * Clients that resend the whole conversation each time (the chat-API dialect's `messages`): when the given
   * messages start with the stored history, only what follows it is appended.
   */
  skipStoredPrefix?: boolean;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  stream: boolean;
  /** Per-request options for the context enrichers (`web_search`, `prompt_id`, ...), by name. */
  options?: Record<string, unknown>;
  /** The request's Idempotency-Key: a request repeated with it gets the first one's answer back. */
  idempotency?: IdempotencyRequest;
}

/** A completion admitted in a conversation: the reply streams through `events` and is stored as it goes. */
export interface ConversationRun {
  conversation: Conversation;
  /** Whether this request created the conversation. */
  created: boolean;
  model: string;
  /** Rate-limit headers from the completions service. */
  headers: Record<string, string>;
  /** The messages this request appended before the reply. */
  appended: Message[];
  /** The assistant reply as first stored (status 'streaming', empty). */
  reply: Message;
  /** text-delta, finish and error events; iterate to the end (aborting the signal ends it early). */
  events: AsyncIterable<StreamEvent>;
  /** The reply as finally stored, once `events` has ended. */
  done: Promise<Message>;
  /** Who holds the conversation's stream lease while the reply is generated (absent for a replayed answer). */
  leaseOwner?: string;
}

const statusOf = (finish: FinishReason | undefined, failed: boolean, aborted: boolean): MessageStatus => {
  if (failed || finish === 'error') return 'error';
  if (aborted || finish === 'cancelled') return 'cancelled';
  return 'complete';
};

/** Reads a stream to its end so the completions service settles its usage and limits. */
async function drain(events: AsyncIterable<StreamEvent>) {
  try {
    for await (const _event of events);
  } catch {}
}

/** The part of `given` that follows the stored history, when `given` starts with all of it. */
export function afterStoredPrefix<T extends { role: string; content: string }>(stored: MessageRow[], given: T[]): T[] {
  const comparable = stored.filter((m) => m.status !== 'streaming');
  if (comparable.length === 0 || given.length <= comparable.length) return given;
  const same = comparable.every((m, index) => m.role === given[index]!.role && m.content === given[index]!.content);
  return same ? given.slice(comparable.length) : given;
}

/** The messages a model sees: the system prompt, then the history it can use. */
function contextOf(
  systemPrompt: string | null,
  history: Array<Pick<MessageRow, 'role' | 'content' | 'status'>>,
): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (systemPrompt) messages.push({ role: 'system', content: systemPrompt });
  for (const row of history) {
    // A reply still streaming elsewhere, or one that failed before any text, is not context.
    if (row.status === 'streaming' || row.content === '') continue;
    messages.push({ role: row.role, content: row.content });
  }
  return messages;
}

/**
 * Completions inside a conversation. Per conversation, one at a time: an in-process lock queues
 * callers of this process, and a lease row in the database refuses (409) a second node. The new
 * messages are stored before the model is called, the reply while it streams, and whatever was
 * generated is kept, with status cancelled or error, if the client leaves or the upstream fails.
 */
export class ConversationCompletions {
  private readonly deps: ConversationCompletionsDeps;
  private readonly locks = new ConversationLocks();
  /** The answers this process generates, by conversation, to stop them on a cancel. */
  private readonly running = new Map<number, AbortController>();

  constructor(deps: ConversationCompletionsDeps) {
    this.deps = deps;
    deps.cancels?.subscribe((conversationId) => this.stopHere(conversationId));
  }

  private stopHere(conversationId: number) {
    this.running.get(conversationId)?.abort(new Error('the answer was cancelled'));
  }

  /**
   * Stops the answer running in one of the actor's conversations, on whichever process runs it.
   * Its partial reply is stored as cancelled and only what was produced is charged. Resolves with
   * whether an answer was running.
   */
  async cancel(actor: Actor, conversationRef: string | number): Promise<{ cancelled: boolean }> {
    const conversation = await this.deps.conversations.findRow(actor, conversationRef);
    const streaming = await this.deps.store.findStreamingReply(conversation.id);
    if (!streaming) return { cancelled: false };
    // Stopped here at once when it runs here (even if the bus is down), and on the others by the bus.
    this.stopHere(conversation.id);
    await this.deps.cancels?.publish(conversation.id);
    return { cancelled: true };
  }

  /**
   * Settles a reply whose generating process died (a resumed stream found it gone): stored as
   * error with its partial text, and the conversation freed at once instead of after the lease.
   */
  async abandon(answer: { conversationId: number; messageId: number; leaseOwner?: string }): Promise<void> {
    const now = this.now();
    await this.deps.store.settleStreamingMessage(answer.messageId, 'error', now);
    if (answer.leaseOwner) await this.deps.store.releaseStreamLease(answer.conversationId, answer.leaseOwner, now);
  }

  private now() {
    return isoAt(this.deps.clock.now());
  }

  async complete(actor: Actor, input: CompleteInput, options: { signal: AbortSignal }): Promise<ConversationRun> {
    const { store } = this.deps;
    // Gone already (while it was authenticated, say): nothing is created, nothing is asked.
    if (options.signal.aborted) throw options.signal.reason;
    let keyId: number | undefined;
    if (input.idempotency && this.deps.idempotency) {
      const claim = await this.deps.idempotency.claim(actor.userId, input.idempotency);
      if (claim.kind === 'replay')
        return this.replay(claim.row.conversation_id, claim.row.reply_id, claim.row.message_ids);
      keyId = claim.id;
    }
    let created = false;
    let conversation: ConversationRow | undefined;
    let newRow: Insertable<ConversationsTable> | undefined;
    const owner = newUuid();
    const leaseUntil = () => isoAt(this.deps.clock.now() + this.deps.timings.leaseMs);
    try {
      if (input.conversation === undefined) {
        // Checked now, stored below with its first messages. Nobody else knows its id yet: it is
        // created holding this request's stream lease, with no history to read.
        newRow = await this.deps.conversations.newRow(actor, input.create, {
          metered: false,
          streamLease: { owner, until: leaseUntil() },
        });
      } else {
        conversation = await this.deps.conversations.findRow(actor, input.conversation);
      }
    } catch (error) {
      if (keyId !== undefined) await this.deps.idempotency!.release(keyId).catch(() => {});
      throw error;
    }
    // Our own signal, so a failure after admission can stop the model too.
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal.reason);
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
    let run: CompletionRun | undefined;
    let leased: ConversationRow | undefined;
    let handedOver = false;
    let release = () => {};
    let appended: MessageRow[] = [];
    try {
      let now = this.now();
      // What this request appends to the history, and what the model would see; it must end with a user message.
      let toAppend = input.messages;
      let context: ChatMessage[] = [];
      const answerable = (systemPrompt: string | null, history: MessageRow[]) => {
        toAppend = input.skipStoredPrefix ? afterStoredPrefix(history, input.messages) : input.messages;
        context = contextOf(systemPrompt, [
          ...history,
          ...toAppend.map((m) => ({ ...m, status: 'complete' as const })),
        ]);
        return context.at(-1)?.role === 'user';
      };
      const rowsOf = (conversationId: number) =>
        toAppend.map((m) => newMessageRow(conversationId, { role: m.role, content: m.content }, now));
      // The model is checked before anything is locked or stored: an unknown one leaves nothing behind.
      const named = (row: { model?: string | null }) => input.model ?? row.model ?? input.fallbackModel;
      const checkedModel = async (row: { model?: string | null }) => {
        const model = named(row) ?? (await this.deps.models.defaultModel());
        if (!model)
          throw invalid('model', 'is required: this conversation has no model yet and no default model is configured');
        // An unknown model is a bad request (the chat-API dialect lists 400, not 404), whichever surface asks.
        await this.deps.conversations.requireModel(model, 'model');
        return model;
      };
      let model = await checkedModel((conversation ?? newRow)!);
      let stored: MessageRow[] = [];
      let ready: boolean;
      if (conversation) {
        const checked = named(conversation);
        // Waiting for the conversation is inside the clean-up path: a client that leaves while it
        // waits leaves nothing behind.
        release = await this.locks.acquire(conversation.id, options.signal);
        now = this.now();
        // The lease, the history and the new messages in one transaction; nothing is stored for a
        // request that has no user message to answer (refused below), nor before a model that
        // changed while this request waited is checked.
        let answers = false;
        let switched = false;
        const taken = await store.leaseAndAppend(
          { id: conversation.id, owner, until: leaseUntil(), now },
          (row, history) => {
            answers = answerable(row.system_prompt, history);
            switched = named(row) !== checked;
            return answers && !switched ? rowsOf(row.id) : [];
          },
        );
        if (!taken) {
          // Gone meanwhile (deleted while this request waited), or held by another process (this one
          // queues its own callers on the lock above).
          if (!(await store.findConversationById(conversation.id))) throw notFound('Conversation');
          throw new AppError(
            'conflict',
            'Another completion is running in this conversation; retry when it has finished',
          );
        }
        // The row as the lease left it, read by the same statement: what a completion or a
        // switch-model changed while we waited is in it.
        conversation = leased = taken.conversation;
        stored = taken.history;
        appended = taken.appended;
        ready = answers;
        if (switched) {
          // Rare: checked now, and the messages stored after it, in a transaction of their own.
          model = await checkedModel(conversation);
          if (ready) appended = await store.insertMessages(rowsOf(conversation.id));
        }
      } else {
        ready = answerable(newRow!.system_prompt ?? null, []);
      }
      if (!ready) {
        throw invalid('messages', 'there is no user message to answer: the conversation must end with a user message');
      }
      if (!conversation) {
        // A new conversation is stored with its messages in one transaction, titled and given its
        // model now; its reply is stored once the model has accepted (a refused request deletes it whole).
        const firstUser = toAppend.find((m) => m.role === 'user');
        const title = newRow!.title ?? (firstUser ? titleFrom(firstUser.content) : null);
        const inserted = await store.insertConversationWithMessages({ ...newRow!, title, model }, rowsOf);
        created = true;
        conversation = leased = inserted.conversation;
        appended = inserted.messages;
        release = await this.locks.acquire(conversation.id, options.signal);
      }
      await this.deps.searchIndex?.messagesStored(conversation.user_id, appended);
      const enriched = await this.enrich(actor, conversation, created, model, context, input, controller.signal);
      const maxTokens = input.max_tokens ?? enriched.settings.max_tokens;
      const fitted = await fitToContext(enriched.messages, {
        contextWindow: await this.deps.models.contextWindow(model),
        maxTokens,
        count: (await this.deps.models.tokenCounter?.(model)) ?? estimatingCounter,
      });
      // The client may have left while we looked things up: then no model is called, and what this request stored goes.
      if (controller.signal.aborted) throw controller.signal.reason;
      run = await this.deps.completions.start(
        actor,
        {
          model,
          messages: fitted,
          temperature: input.temperature ?? enriched.settings.temperature,
          top_p: input.top_p ?? enriched.settings.top_p,
          max_tokens: maxTokens,
          stop: input.stop,
          seed: input.seed,
          presence_penalty: input.presence_penalty,
          frequency_penalty: input.frequency_penalty,
          stream: input.stream,
          conversationId: conversation.id,
          agentId: enriched.providerAgentId,
        },
        { signal: controller.signal },
      );
      const started = created
        ? await this.insertNewReply(conversation, now, run.model, enriched.metadata)
        : await this.insertReply(conversation, toAppend, [...stored, ...appended], now, run.model, enriched.metadata);
      const updated = toConversation(started.conversation ?? conversation);
      const reply = started.reply;
      const persister = new StreamPersister({
        store,
        clock: this.deps.clock,
        messageId: reply.id,
        conversationId: conversation.id,
        owner,
        timings: this.deps.timings,
      });
      if (keyId !== undefined) {
        await this.deps.idempotency!.record(keyId, {
          conversationId: conversation.id,
          replyId: reply.id,
          messageIds: appended.map((m) => m.id),
        });
      }
      const queue = new AsyncQueue<StreamEvent>();
      handedOver = true;
      const conversationId = conversation.id;
      this.running.set(conversationId, controller);
      const forget = () => {
        if (this.running.get(conversationId) === controller) this.running.delete(conversationId);
        release();
      };
      const done = this.pump(run, persister, queue, controller.signal, forget, conversation.user_id, reply).then(
        (final) => ({ ...toMessage(reply), ...final }),
      );
      done.catch(() => {});
      this.deps.running?.finish(done);
      return {
        conversation: updated,
        created,
        model: run.model,
        headers: run.headers,
        appended: appended.map(toMessage),
        reply: toMessage(reply),
        events: queue,
        done,
        leaseOwner: owner,
      };
    } catch (error) {
      // Refused before the model said anything: the request leaves no trace, so a retry duplicates nothing.
      if (run) {
        controller.abort(error);
        void drain(run.events);
      }
      await store.deleteMessages(appended.map((m) => m.id)).catch(() => {});
      if (created) await store.deleteConversation(conversation!.id).catch(() => {});
      if (keyId !== undefined) await this.deps.idempotency!.release(keyId).catch(() => {});
      throw error;
    } finally {
      if (!handedOver) {
        if (leased) await store.releaseStreamLease(leased.id, owner, this.now()).catch(() => {});
        release();
      }
    }
  }

  /** The answer of an earlier request with the same Idempotency-Key, as stored now. */
  private async replay(
    conversationId: number | null,
    replyId: number | null,
    messageIds: string | null,
  ): Promise<ConversationRun> {
    const { store } = this.deps;
    const conversation = conversationId === null ? undefined : await store.findConversationById(conversationId);
    const reply = replyId === null ? undefined : await store.findMessageById(replyId);
    // Deleted since (or never answered): there is nothing to give back; the key stays used.
    if (!conversation || !reply) throw notFound('Conversation');
    if (reply.status === 'streaming') throw this.deps.idempotency!.inProgress();
    const appended: MessageRow[] = [];
    for (const id of JSON.parse(messageIds ?? '[]') as number[]) {
      const row = await store.findMessageById(id);
      if (row) appended.push(row);
    }
    return replayedRun(conversation, appended, reply);
  }

  /**
   * Admitted in an existing conversation: it now uses this model and is titled after its first
   * user message, and the reply about to stream is stored (one transaction).
   */
  private insertReply(
    conversation: ConversationRow,
    appended: Array<{ role: MessageRole; content: string }>,
    history: MessageRow[],
    now: string,
    model: string,
    metadata: Record<string, unknown> | undefined,
  ) {
    const firstUser =
      appended.find((m) => m.role === 'user') ??
      (conversation.title === null ? history.find((m) => m.role === 'user') : undefined);
    return this.deps.store.touchAndInsertReply(
      conversation.id,
      this.deps.conversations.touchChanges(
        conversation,
        firstUser?.content,
        now,
        conversation.model !== model ? model : undefined,
      ),
      newMessageRow(
        conversation.id,
        { role: 'assistant', content: '', model, status: 'streaming', metadata },
        this.now(),
      ),
    );
  }

  /**
   * Admitted in a conversation this request created (titled already): the reply about to stream is
   * stored, alone in the usual case, along with the model when admission named it otherwise.
   */
  private async insertNewReply(
    conversation: ConversationRow,
    now: string,
    model: string,
    metadata: Record<string, unknown> | undefined,
  ): Promise<{ conversation: ConversationRow | undefined; reply: MessageRow }> {
    const reply = newMessageRow(
      conversation.id,
      { role: 'assistant', content: '', model, status: 'streaming', metadata },
      this.now(),
    );
    if (conversation.model === model)
      return { conversation: undefined, reply: await this.deps.store.insertMessage(reply) };
    return this.deps.store.touchAndInsertReply(conversation.id, { updatedAt: now, model }, reply);
  }

  /** Runs the enrichers in order; their metadata is merged, the first to set a setting wins. */
  private async enrich(
    actor: Actor,
    conversation: ConversationRow,
    created: boolean,
    model: string,
    messages: ChatMessage[],
    input: CompleteInput,
    signal: AbortSignal,
  ) {
    let metadata: Record<string, unknown> | undefined;
    let providerAgentId: string | undefined;
    const settings: EnrichedSettings = {};
    const requested = { temperature: input.temperature, top_p: input.top_p, max_tokens: input.max_tokens };
    for (const enricher of this.deps.enrichers ?? []) {
      const result = await enricher.enrich({
        actor,
        conversation,
        created,
        model,
        messages,
        options: input.options ?? {},
        requested,
        signal,
      });
      if (!result) continue;
      providerAgentId ??= result.providerAgentId;
      if (result.messages) messages = result.messages;
      if (result.metadata) metadata = { ...metadata, ...result.metadata };
      for (const [name, value] of Object.entries(result.settings ?? {}) as Array<
        [keyof EnrichedSettings, number | undefined]
      >) {
        if (value !== undefined) settings[name] ??= value;
      }
    }
    return { messages, metadata, settings, providerAgentId };
  }

  /**
   * Reads the model's events to the end, independently of the client: each is stored, then handed
   * to the renderer. The reply is finalized whatever happens, then the conversation is freed.
   */
  private async pump(
    run: CompletionRun,
    persister: StreamPersister,
    queue: AsyncQueue<StreamEvent>,
    signal: AbortSignal,
    release: () => void,
    userId: number,
    reply: MessageRow,
  ) {
    let finish: FinishReason | undefined;
    let failed = false;
    try {
      for await (const event of run.events) {
        if (event.type === 'text-delta') await persister.append(event.text);
        else if (event.type === 'finish') finish = event.reason;
        else if (event.type === 'error') failed = true;
        queue.push(event);
      }
    } catch (error) {
      if (!signal.aborted) {
        failed = true;
        queue.push({
          type: 'error',
          error:
            error instanceof AppError
              ? error
              : new AppError('upstream_error', 'The model stream failed', { cause: error }),
        });
      }
    }
    try {
      const status = statusOf(finish, failed, signal.aborted);
      const usage = run.usage();
      const final = {
        content: persister.text,
        status,
        prompt_tokens: usage?.prompt_tokens ?? null,
        completion_tokens: usage?.completion_tokens ?? null,
      };
      const at = await persister.finish({
        status,
        model: run.model,
        promptTokens: final.prompt_tokens,
        completionTokens: final.completion_tokens,
      });
      // Before the stream ends: a client that searches right after the answer finds it.
      await this.deps.searchIndex?.messagesStored(userId, [{ ...reply, ...final, model: run.model, updated_at: at }]);
      return { ...final, updated_at: at };
    } finally {
      queue.end();
      release();
    }
  }
}
