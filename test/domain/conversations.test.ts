import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../src/domain/clock.ts';
import type { CompletionInput, CompletionRun, Completions } from '../../src/domain/completions/completions.types.ts';
import { ConversationCompletions } from '../../src/domain/conversations/conversation-completions.ts';
import { ConversationsService } from '../../src/domain/conversations/conversations.service.ts';
import { ConversationsStore } from '../../src/domain/conversations/conversations.store.ts';
import type { ModelCatalog } from '../../src/domain/conversations/conversations.types.ts';
import { StreamRecovery } from '../../src/domain/conversations/stream-recovery.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { Actor } from '../../src/domain/users/users.service.ts';
import { UsersService } from '../../src/domain/users/users.service.ts';
import { UsersStore } from '../../src/domain/users/users.store.ts';
import type { StreamEvent } from '../../src/providers/provider.ts';
import type { SqlStore } from '../../src/stores/sql/database.ts';
import { dialects, openTestSql } from '../helpers/server.ts';
import { eventually } from '../helpers/eventually.ts';

/**
 * The conversation service against real databases, with the model replaced by a scripted
 * Completions whose every step the test controls (the e2e tests use a real HTTP upstream).
 */
class ScriptedCompletions implements Completions {
  calls: Array<{ input: CompletionInput; storedBefore: string[] }> = [];
  refuse: AppError | undefined;
  /** Each call replies with these pieces; a piece that is an Error becomes an error event. */
  script: Array<string | Error> = ['Hello', ' there'];
  /** When set, each piece waits for gate() to resolve. */
  gate: (() => Promise<void>) | undefined;
  onStart: ((input: CompletionInput) => Promise<string[]>) | undefined;

  async start(_actor: Actor, input: CompletionInput, options: { signal: AbortSignal }): Promise<CompletionRun> {
    const storedBefore = (await this.onStart?.(input)) ?? [];
    this.calls.push({ input, storedBefore });
    if (this.refuse) throw this.refuse;
    const script = [...this.script];
    const gate = this.gate;
    let produced = 0;
    async function* events(): AsyncGenerator<StreamEvent> {
      for (const piece of script) {
        if (gate) await gate();
        if (options.signal.aborted) {
          yield { type: 'finish', reason: 'cancelled' };
          return;
        }
        if (piece instanceof Error) {
          yield { type: 'error', error: new AppError('upstream_error', piece.message) };
          return;
        }
        produced++;
        yield { type: 'text-delta', text: piece };
      }
      yield { type: 'usage', usage: { prompt_tokens: 7, completion_tokens: produced } };
      yield { type: 'finish', reason: 'stop' };
    }
    return {
      model: input.model,
      headers: {},
      events: events(),
      usage: () => ({ prompt_tokens: 7, completion_tokens: produced }),
    };
  }
}

const models: ModelCatalog = {
  contextWindow: async (model) => (model === 'tiny' ? 60 : 8192),
  exists: async (model) => ['gpt-4', 'gpt-3.5-turbo', 'tiny'].includes(model),
  defaultModel: async () => 'gpt-4',
};

async function drain(events: AsyncIterable<StreamEvent>) {
  let text = '';
  for await (const event of events) if (event.type === 'text-delta') text += event.text;
  return text;
}

for (const dialect of dialects) {
  describe(`conversation service (${dialect})`, () => {
    let sql: SqlStore;
    let cleanup: () => Promise<void>;
    let store: ConversationsStore;
    let conversations: ConversationsService;
    let chat: ConversationCompletions;
    let completions: ScriptedCompletions;
    let alice: Actor;
    let bob: Actor;
    let users: UsersService;
    const admin: Actor = { userId: 0, role: 'admin' };

    before(async () => {
      const opened = await openTestSql(dialect);
      sql = opened.sql;
      cleanup = opened.close;
      users = new UsersService({ store: new UsersStore(sql.db), clock: systemClock, allowSignup: true });
      const a = await users.create(admin, { username: 'alice', password: 'alice-password' });
      const b = await users.create(admin, { username: 'bob', password: 'bob-password-1' });
      alice = { userId: a.id, role: 'user' };
      bob = { userId: b.id, role: 'user' };
      store = new ConversationsStore(sql.db);
      conversations = new ConversationsService({ store, users, models, clock: systemClock });
      completions = new ScriptedCompletions();
      chat = completionsWith({});
    });
    after(() => cleanup());

    /** The completions under test, on this suite's stores, with what a test changes. */
    const completionsWith = (changes: Partial<ConstructorParameters<typeof ConversationCompletions>[0]>) =>
      new ConversationCompletions({
        store,
        conversations,
        completions,
        models,
        clock: systemClock,
        timings: { leaseMs: 30_000, flushMs: 20 },
        ...changes,
      });

    const reset = () => {
      completions.refuse = undefined;
      completions.script = ['Hello', ' there'];
      completions.gate = undefined;
      completions.onStart = undefined;
    };

    test('create, read, list newest first with a total, and another user sees 404', async () => {
      const first = await conversations.create(alice, { title: 'First' });
      const second = await conversations.create(alice, { model: 'gpt-4' });
      assert.equal(first.user_id, alice.userId);
      assert.equal(second.model, 'gpt-4');
      assert.equal((await conversations.get(alice, first.uuid)).id, first.id);
      assert.equal((await conversations.get(alice, String(first.id))).uuid, first.uuid);
      await assert.rejects(conversations.get(bob, first.id), { code: 'not_found' });
      await assert.rejects(conversations.create(alice, { model: 'no-such-model' }), { code: 'validation_failed' });
      await assert.rejects(conversations.create(alice, { owner: bob.userId }), { code: 'forbidden' });
      const page = await conversations.list(alice, { limit: 1, offset: 0 });
      assert.equal(page.total >= 2, true);
      assert.equal(page.items.length, 1);
      assert.equal(page.items[0]!.id, second.id);
      const byModel = await conversations.list(alice, { limit: 50, offset: 0, model: 'gpt-4' });
      assert.deepEqual(
        byModel.items.map((c) => c.id),
        [second.id],
      );
      await assert.rejects(conversations.list(bob, { owner: 'alice', limit: 10, offset: 0 }), { code: 'not_found' });
    });

    test('a completion stores the user message before calling the model, then the reply, and titles the conversation', async () => {
      reset();
      const conversation = await conversations.create(alice);
      completions.onStart = async () =>
        (await store.listMessages(conversation.id)).map((m) => `${m.role}:${m.content}`);
      const run = await chat.complete(
        alice,
        {
          conversation: conversation.uuid,
          messages: [{ role: 'user', content: 'Tell me a story\nplease' }],
          stream: true,
        },
        { signal: new AbortController().signal },
      );
      assert.deepEqual(completions.calls.at(-1)!.storedBefore, ['user:Tell me a story\nplease']);
      assert.equal(run.reply.status, 'streaming');
      assert.equal(await drain(run.events), 'Hello there');
      const reply = await run.done;
      assert.equal(reply.status, 'complete');
      assert.equal(reply.completion_tokens, 2);
      const { items } = await conversations.listMessages(alice, conversation.id);
      assert.deepEqual(
        items.map((m) => [m.role, m.content, m.status]),
        [
          ['user', 'Tell me a story\nplease', 'complete'],
          ['assistant', 'Hello there', 'complete'],
        ],
      );
      assert.equal(items[1]!.model, 'gpt-4');
      const after = await conversations.get(alice, conversation.id);
      assert.equal(after.title, 'Tell me a story');
      assert.equal(after.model, 'gpt-4');
    });

    test('the reply is written while it streams, and kept as cancelled when the client leaves', async () => {
      reset();
      const conversation = await conversations.create(alice);
      let step!: () => void;
      // Resolved when the model waits at its gate for the next piece: then step() lets one through.
      let reachGate!: () => void;
      const gateReached = () => new Promise<void>((resolve) => (reachGate = resolve));
      let reached = gateReached();
      completions.script = ['one ', 'two ', 'three'];
      completions.gate = () =>
        new Promise<void>((resolve) => {
          step = resolve;
          reachGate();
        });
      const controller = new AbortController();
      const run = await chat.complete(
        alice,
        { conversation: conversation.id, messages: [{ role: 'user', content: 'count' }], stream: true },
        { signal: controller.signal },
      );
      const iterator = run.events[Symbol.asyncIterator]();
      await reached;
      reached = gateReached();
      step();
      assert.deepEqual((await iterator.next()).value, { type: 'text-delta', text: 'one ' });
      await reached;
      step();
      await iterator.next();
      // The stored text catches up within a flush interval (20 ms here).
      const stored = await eventually(
        async () => {
          const content = (await store.findMessageById(run.reply.id))!.content;
          return content === 'one two ' ? content : undefined;
        },
        { what: 'the streamed text stored', timeoutMs: 2_000 },
      );
      assert.equal(stored, 'one two ');
      assert.equal((await store.findMessageById(run.reply.id))!.status, 'streaming');
      controller.abort();
      step();
      const reply = await run.done;
      assert.equal(reply.status, 'cancelled');
      assert.equal(reply.content, 'one two ');
      const row = (await store.findMessageById(run.reply.id))!;
      assert.deepEqual([row.content, row.status], ['one two ', 'cancelled']);
    });

    test('an upstream failure mid-stream keeps the partial reply with status error', async () => {
      reset();
      completions.script = ['partial', new Error('upstream broke')];
      const conversation = await conversations.create(alice);
      const run = await chat.complete(
        alice,
        { conversation: conversation.id, messages: [{ role: 'user', content: 'hi' }], stream: true },
        { signal: new AbortController().signal },
      );
      const events: string[] = [];
      for await (const event of run.events) events.push(event.type);
      assert.deepEqual(events, ['text-delta', 'error']);
      const reply = await run.done;
      assert.deepEqual([reply.content, reply.status], ['partial', 'error']);
    });

    test('a completion refused before the model answers leaves no trace', async () => {
      reset();
      completions.refuse = new AppError('rate_limited', 'over quota');
      const conversation = await conversations.create(alice);
      await assert.rejects(
        chat.complete(
          alice,
          { conversation: conversation.id, messages: [{ role: 'user', content: 'hi' }], stream: false },
          { signal: new AbortController().signal },
        ),
        { code: 'rate_limited' },
      );
      assert.equal((await conversations.listMessages(alice, conversation.id)).total, 0);
      // Without a conversation, the one created for the request is removed too.
      const before = (await conversations.list(alice, { limit: 100, offset: 0 })).total;
      await assert.rejects(
        chat.complete(
          alice,
          { messages: [{ role: 'user', content: 'hi' }], model: 'gpt-4', stream: false },
          { signal: new AbortController().signal },
        ),
      );
      assert.equal((await conversations.list(alice, { limit: 100, offset: 0 })).total, before);
      // And the lease was released: the next completion runs.
      reset();
      const run = await chat.complete(
        alice,
        { conversation: conversation.id, messages: [{ role: 'user', content: 'again' }], stream: false },
        { signal: new AbortController().signal },
      );
      await drain(run.events);
      assert.equal((await run.done).status, 'complete');
    });

    const stored = async (conversationId: number) =>
      (await store.listMessages(conversationId)).map((m) => `${m.role}:${m.status}:${m.content}`);
    const newest = async () => (await conversations.list(alice, { limit: 1, offset: 0 })).items[0]!;

    test('a new conversation holds only its messages until the model accepts: no reply yet, a cancel stops nothing, a refusal leaves nothing', async () => {
      reset();
      let cancelled: { cancelled: boolean } | undefined;
      completions.onStart = async () => {
        const conversation = await newest();
        cancelled = await chat.cancel(alice, conversation.id);
        return stored(conversation.id);
      };
      const run = await chat.complete(
        alice,
        { messages: [{ role: 'user', content: 'Before admission' }], stream: true },
        { signal: new AbortController().signal },
      );
      assert.deepEqual(completions.calls.at(-1)!.storedBefore, ['user:complete:Before admission']);
      // No answer was running yet: nothing to stop, and the answer that follows runs to its end.
      assert.deepEqual(cancelled, { cancelled: false });
      assert.equal(run.reply.status, 'streaming');
      assert.equal(await drain(run.events), 'Hello there');
      assert.equal((await run.done).status, 'complete');
      assert.deepEqual(await stored(run.conversation.id), [
        'user:complete:Before admission',
        'assistant:complete:Hello there',
      ]);

      reset();
      completions.onStart = async () => stored((await newest()).id);
      completions.refuse = new AppError('rate_limited', 'over quota');
      const before = (await conversations.list(alice, { limit: 1, offset: 0 })).total;
      await assert.rejects(
        chat.complete(
          alice,
          { messages: [{ role: 'user', content: 'Refused' }], stream: true },
          { signal: new AbortController().signal },
        ),
        { code: 'rate_limited' },
      );
      assert.deepEqual(completions.calls.at(-1)!.storedBefore, ['user:complete:Refused']);
      assert.equal((await conversations.list(alice, { limit: 1, offset: 0 })).total, before);
    });

    test('an unknown model stores nothing in an existing conversation, not even while it is checked', async () => {
      reset();
      let onCheck: ((model: string) => Promise<void>) | undefined;
      const checking: ModelCatalog = {
        ...models,
        exists: async (model) => {
          await onCheck?.(model);
          return models.exists(model);
        },
      };
      const checked = completionsWith({
        conversations: new ConversationsService({ store, users, models: checking, clock: systemClock }),
        models: checking,
      });
      const ask = (conversation: number, content: string, model?: string) =>
        checked.complete(
          alice,
          { conversation, model, messages: [{ role: 'user', content }], stream: true },
          { signal: new AbortController().signal },
        );
      const conversation = await conversations.create(alice);
      const seen: string[][] = [];
      onCheck = async () => {
        seen.push(await stored(conversation.id));
      };
      // Named by the request.
      await assert.rejects(ask(conversation.id, 'q', 'no-such-model'), { code: 'validation_failed' });
      assert.deepEqual(seen.splice(0), [[]]);
      assert.deepEqual(await stored(conversation.id), []);

      // The conversation's own model, switched to one since removed while the request waited for the one before it.
      let open = () => {};
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      completions.gate = () => opened;
      onCheck = undefined;
      const first = await ask(conversation.id, 'one');
      let waiting = () => {};
      const checkedBeforeWaiting = new Promise<void>((resolve) => {
        waiting = resolve;
      });
      onCheck = async (model) => {
        if (model === 'gpt-4') waiting();
        else seen.push(await stored(conversation.id));
      };
      const second = ask(conversation.id, 'two');
      await checkedBeforeWaiting;
      await store.updateConversation(conversation.id, { model: 'removed-since' });
      open();
      assert.equal(await drain(first.events), 'Hello there');
      await assert.rejects(second, { code: 'validation_failed' });
      assert.deepEqual(seen, [['user:complete:one', 'assistant:complete:Hello there']]);
      assert.deepEqual(await stored(conversation.id), ['user:complete:one', 'assistant:complete:Hello there']);
      // The lease was released: a request naming a known model runs.
      reset();
      onCheck = undefined;
      const third = await ask(conversation.id, 'three', 'gpt-4');
      await drain(third.events);
      assert.equal((await third.done).status, 'complete');
    });

    test('completions racing in one conversation are serialized, never interleaved', async () => {
      reset();
      completions.gate = () => new Promise((r) => setTimeout(r, 2));
      const conversation = await conversations.create(alice);
      await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const run = await chat.complete(
            alice,
            { conversation: conversation.id, messages: [{ role: 'user', content: `q${i}` }], stream: true },
            { signal: new AbortController().signal },
          );
          await drain(run.events);
          await run.done;
        }),
      );
      const { items } = await conversations.listMessages(alice, conversation.id);
      assert.equal(items.length, 12);
      for (let i = 0; i < 12; i += 2) {
        assert.equal(items[i]!.role, 'user');
        assert.deepEqual(
          [items[i + 1]!.role, items[i + 1]!.content, items[i + 1]!.status],
          ['assistant', 'Hello there', 'complete'],
        );
      }
      // Each completion saw the full history before it, in order.
      const contexts = completions.calls.slice(-6).map((call) => call.input.messages.length);
      assert.deepEqual(contexts, [1, 3, 5, 7, 9, 11]);
    });

    test('another process holding the stream lease gets a 409', async () => {
      reset();
      const conversation = await conversations.create(alice);
      const held = await store.acquireStreamLease(
        conversation.id,
        'other-node',
        new Date(Date.now() + 60_000).toISOString(),
        new Date().toISOString(),
      );
      assert.equal(held?.stream_owner, 'other-node');
      await assert.rejects(
        chat.complete(
          alice,
          { conversation: conversation.id, messages: [{ role: 'user', content: 'hi' }], stream: false },
          { signal: new AbortController().signal },
        ),
        { code: 'conflict' },
      );
      assert.equal((await conversations.listMessages(alice, conversation.id)).total, 0);
      // An expired lease (its node died) is taken over.
      await store.updateConversation(conversation.id, {
        stream_lease_until: new Date(Date.now() - 1000).toISOString(),
      });
      const run = await chat.complete(
        alice,
        { conversation: conversation.id, messages: [{ role: 'user', content: 'hi' }], stream: false },
        { signal: new AbortController().signal },
      );
      await drain(run.events);
      assert.equal((await run.done).status, 'complete');
    });

    test('the history sent to the model fits its context window: oldest dropped, system prompt kept', async () => {
      reset();
      const conversation = await conversations.create(alice, { model: 'tiny', system_prompt: 'Be brief.' });
      for (let i = 0; i < 4; i++) {
        await conversations.addMessage(alice, conversation.id, {
          role: 'user',
          content: `question number ${i} `.repeat(3),
        });
        await conversations.addMessage(alice, conversation.id, { role: 'assistant', content: `answer ${i}` });
      }
      const run = await chat.complete(
        alice,
        { conversation: conversation.id, messages: [{ role: 'user', content: 'last' }], stream: false },
        { signal: new AbortController().signal },
      );
      await drain(run.events);
      const sent = completions.calls.at(-1)!.input.messages;
      assert.equal(sent[0]!.content, 'Be brief.');
      assert.equal(sent.at(-1)!.content, 'last');
      assert.ok(sent.length < 10, `expected truncation, got ${sent.length} messages`);
      assert.ok(!sent.some((m) => m.content === 'question number 0 '.repeat(3)));
    });

    test('switching the model keeps the history and later completions use it', async () => {
      reset();
      const conversation = await conversations.create(alice, { model: 'gpt-4' });
      await drain(
        (
          await chat.complete(
            alice,
            { conversation: conversation.id, messages: [{ role: 'user', content: 'a' }], stream: false },
            { signal: new AbortController().signal },
          )
        ).events,
      );
      const switched = await conversations.switchModel(alice, conversation.id, 'gpt-3.5-turbo');
      assert.equal(switched.model, 'gpt-3.5-turbo');
      await assert.rejects(conversations.switchModel(alice, conversation.id, 'nope'), { code: 'validation_failed' });
      const run = await chat.complete(
        alice,
        { conversation: conversation.id, messages: [{ role: 'user', content: 'b' }], stream: false },
        { signal: new AbortController().signal },
      );
      await drain(run.events);
      assert.equal(completions.calls.at(-1)!.input.model, 'gpt-3.5-turbo');
      assert.equal(completions.calls.at(-1)!.input.messages.length, 3);
      assert.equal((await run.done).model, 'gpt-3.5-turbo');
    });

    test('messages are read and deleted by id; a streaming one cannot be deleted', async () => {
      reset();
      const conversation = await conversations.create(alice);
      const message = await conversations.addMessage(alice, conversation.id, { role: 'user', content: 'delete me' });
      assert.equal((await conversations.getMessage(alice, message.uuid)).id, message.id);
      await assert.rejects(conversations.getMessage(bob, String(message.id)), { code: 'not_found' });
      const other = await conversations.create(alice);
      await assert.rejects(conversations.getMessage(alice, String(message.id), String(other.id)), {
        code: 'not_found',
      });
      await conversations.deleteMessage(alice, String(message.id), conversation.uuid);
      assert.equal((await conversations.listMessages(alice, conversation.id)).total, 0);
      const streaming = await store.insertMessage({
        uuid: crypto.randomUUID(),
        conversation_id: conversation.id,
        role: 'assistant',
        content: '',
        model: null,
        status: 'streaming',
        prompt_tokens: null,
        completion_tokens: null,
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
      });
      await assert.rejects(conversations.deleteMessage(alice, String(streaming.id)), { code: 'conflict' });
      await store.updateMessage(streaming.id, { status: 'error' });
    });

    test('context enrichers add to what the model sees, fill unset settings, and their metadata is stored with the reply', async () => {
      reset();
      const seen: Array<Record<string, unknown>> = [];
      const enriched = completionsWith({
        enrichers: [
          {
            name: 'notes',
            async enrich({ messages, options }) {
              seen.push({ ...options });
              return {
                messages: [{ role: 'system', content: 'Notes: the sky is green here.' }, ...messages],
                metadata: { notes: ['sky'] },
                settings: { temperature: 0.1, max_tokens: 50 },
              };
            },
          },
          { name: 'nothing', enrich: async () => undefined },
          { name: 'second', enrich: async () => ({ metadata: { second: true }, settings: { temperature: 0.9 } }) },
        ],
      });
      const conversation = await conversations.create(alice);
      const run = await enriched.complete(
        alice,
        {
          conversation: conversation.id,
          messages: [{ role: 'user', content: 'What colour is the sky?' }],
          max_tokens: 20,
          stream: false,
          options: { web_search: true },
        },
        { signal: new AbortController().signal },
      );
      await drain(run.events);
      const reply = await run.done;
      const input = completions.calls.at(-1)!.input;
      assert.deepEqual(
        input.messages.map((m) => m.content),
        ['Notes: the sky is green here.', 'What colour is the sky?'],
      );
      assert.equal(input.temperature, 0.1, 'the first enricher to set a setting wins');
      assert.equal(input.max_tokens, 20, 'a setting the request gave is kept');
      assert.deepEqual(seen, [{ web_search: true }]);
      assert.deepEqual(run.reply.metadata, { notes: ['sky'], second: true });
      assert.deepEqual(reply.metadata, { notes: ['sky'], second: true });
      const stored = (await conversations.listMessages(alice, conversation.id)).items;
      assert.deepEqual(
        stored.map((m) => m.metadata),
        [null, { notes: ['sky'], second: true }],
      );
    });

    test('in a conversation the request creates, enrichers are told it is new and their metadata is stored with the reply', async () => {
      reset();
      const told: Array<boolean | undefined> = [];
      const enriched = completionsWith({
        enrichers: [
          {
            name: 'notes',
            async enrich({ created }) {
              told.push(created);
              return { metadata: { notes: ['sky'] } };
            },
          },
        ],
      });
      const ask = async (conversation?: number) => {
        const run = await enriched.complete(
          alice,
          {
            conversation,
            create: conversation === undefined ? {} : undefined,
            messages: [{ role: 'user', content: 'What colour is the sky?' }],
            stream: false,
          },
          { signal: new AbortController().signal },
        );
        await drain(run.events);
        return { run, reply: await run.done };
      };
      const first = await ask();
      assert.equal(first.run.created, true);
      assert.equal(first.run.conversation.title, 'What colour is the sky?');
      assert.deepEqual(first.run.reply.metadata, { notes: ['sky'] });
      assert.deepEqual(first.reply.metadata, { notes: ['sky'] });
      await ask(first.run.conversation.id);
      assert.deepEqual(told, [true, false]);
      const stored = (await conversations.listMessages(alice, first.run.conversation.id)).items;
      assert.deepEqual(
        stored.map((m) => [m.role, m.metadata]),
        [
          ['user', null],
          ['assistant', { notes: ['sky'] }],
          ['user', null],
          ['assistant', { notes: ['sky'] }],
        ],
      );
    });

    test('replies a dead process left streaming are settled: all at embedded start-up, only stale ones in cluster mode', async () => {
      const conversation = await conversations.create(alice);
      const insert = (updatedAt: string) =>
        store.insertMessage({
          uuid: crypto.randomUUID(),
          conversation_id: conversation.id,
          role: 'assistant',
          content: 'half',
          model: null,
          status: 'streaming',
          prompt_tokens: null,
          completion_tokens: null,
          created_at: updatedAt,
          updated_at: updatedAt,
        });
      const stale = await insert(new Date(Date.now() - 120_000).toISOString());
      const live = await insert(new Date().toISOString());
      const cluster = new StreamRecovery({ store, clock: systemClock, mode: 'cluster', leaseMs: 60_000 });
      await cluster.start();
      cluster.stop();
      assert.equal((await store.findMessageById(stale.id))!.status, 'error');
      assert.equal((await store.findMessageById(live.id))!.status, 'streaming');
      assert.equal((await store.findMessageById(stale.id))!.content, 'half');
      await new StreamRecovery({ store, clock: systemClock, mode: 'embedded', leaseMs: 60_000 }).start();
      assert.equal((await store.findMessageById(live.id))!.status, 'error');
    });
  });
}
