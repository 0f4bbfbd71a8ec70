import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { CompletionsService } from '../../src/domain/completions/completions.service.ts';
import { RunningAnswers } from '../../src/domain/completions/running-answers.ts';
import { UsageStore } from '../../src/domain/usage/usage.store.ts';
import type { CompletionInput } from '../../src/domain/completions/completions.types.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { LimitRequest, LimitsGate } from '../../src/domain/limits/limits.types.ts';
import { modelProviders } from '../../src/services.ts';
import { ModelsService } from '../../src/domain/models/models.service.ts';
import { RemovedModelsStore } from '../../src/domain/models/models.store.ts';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import type { StreamEvent } from '../../src/providers/provider.ts';
import { openDatabase, type SqlStore } from '../../src/stores/sql/database.ts';
import { ManualClock, createPostgresDatabase, dialects } from '../helpers/server.ts';
import { insertUser, openTestStore } from '../helpers/store-fixtures.ts';
import { eventually } from '../e2e/models-helpers.ts';

/** A gate that admits everything and remembers what it was asked and told. */
class RecordingGate implements LimitsGate {
  admitted: LimitRequest[] = [];
  settled: Array<{ tokens: number; costMicros: number }> = [];
  async admit(request: LimitRequest) {
    this.admitted.push(request);
    return {
      headers: { 'x-ratelimit-remaining-requests': '9' },
      settle: async (actual: { tokens: number; costMicros: number }) => void this.settled.push(actual),
    };
  }
}

for (const dialect of dialects) {
  describe(`completions service: one usage row and one settlement per run (${dialect})`, () => {
    let upstream: ScriptedUpstream;
    let sql: SqlStore;
    let models: ModelsService;
    let gate: RecordingGate;
    let service: CompletionsService;
    let cleanup: () => Promise<void>;
    let userId: number;
    const actor = () => ({ userId, role: 'user' as const });
    const input = (content: string, extra: Partial<CompletionInput> = {}): CompletionInput => ({
      model: 'priced',
      messages: [{ role: 'user', content }],
      stream: true,
      ...extra,
    });
    const rows = () => sql.db.selectFrom('usage_records').selectAll().orderBy('id').execute();
    async function drain(events: AsyncIterable<StreamEvent>) {
      const seen: StreamEvent[] = [];
      for await (const event of events) seen.push(event);
      return seen;
    }

    before(async () => {
      upstream = await startScriptedUpstream();
      const dir = mkdtempSync(join(tmpdir(), 'causerie-completions-'));
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({
          models: {
            priced: { provider: 'openai', upstream: 'echo', context_window: 500, prices: { input: 3, output: 7 } },
            unbounded: { provider: 'openai', upstream: 'echo' },
          },
        }),
      );
      const env: Record<string, string> = {
        CAUSERIE_DATA_DIR: dir,
        OPENAI_BASE_URL: upstream.baseUrl,
        CAUSERIE_CONFIG: join(dir, 'config.json'),
        CAUSERIE_MODELS_REFRESH: '0',
        CAUSERIE_PROVIDER_RETRIES: '0',
      };
      let drop = async () => {};
      if (dialect === 'postgres') {
        const database = await createPostgresDatabase();
        env.DATABASE_URL = database.url;
        drop = database.drop;
      }
      const config = loadConfig(env);
      sql = await openDatabase({ databaseUrl: config.databaseUrl, sqlitePath: join(dir, 'causerie.sqlite') });
      const clock = new ManualClock();
      userId = await insertUser(sql.db, '2026-01-01T00:00:00.000Z');
      models = new ModelsService({
        ...modelProviders(config),
        listLocalFiles: async () => [],
        store: new RemovedModelsStore(sql.db),
        clock,
      });
      gate = new RecordingGate();
      service = new CompletionsService({
        models,
        limits: gate,
        usage: new UsageStore(sql.db),
        clock,
        running: new RunningAnswers({ maxAnswerMs: 60_000 }),
      });
      cleanup = async () => {
        await models.close();
        await sql.close();
        await drop();
        rmSync(dir, { recursive: true, force: true });
      };
    });
    after(async () => {
      await cleanup();
      await upstream.close();
    });

    test('reserves the worst case up front, settles the actual tokens and cost, ends with usage then finish', async () => {
      const run = await service.start(actor(), input('one two three four', { max_tokens: 100 }), {
        signal: new AbortController().signal,
      });
      assert.equal(run.model, 'priced');
      assert.deepEqual(run.headers, { 'x-ratelimit-remaining-requests': '9' });
      const admitted = gate.admitted.at(-1)!;
      // 18 characters → 5 tokens estimated, plus max_tokens; prices per million → micros.
      assert.deepEqual(
        { tokens: admitted.reserveTokens, cost: admitted.reserveCostMicros, stream: admitted.stream },
        { tokens: 105, cost: 5 * 3 + 100 * 7, stream: true },
      );
      const events = await drain(run.events);
      assert.deepEqual(events.slice(-2), [
        { type: 'usage', usage: { prompt_tokens: 4, completion_tokens: 4 } },
        { type: 'finish', reason: 'stop' },
      ]);
      assert.deepEqual(run.usage(), { prompt_tokens: 4, completion_tokens: 4 });
      assert.deepEqual(gate.settled.at(-1), { tokens: 8, costMicros: 4 * 3 + 4 * 7 });
      const row = (await rows()).at(-1)!;
      assert.deepEqual(
        [row.status, row.prompt_tokens, row.completion_tokens, Number(row.cost_micros), row.user_id],
        ['complete', 4, 4, 40, userId],
      );
    });

    test('without max_tokens the model never answers past its reservation: the reserved cap is sent when the window is unknown', async () => {
      await drain(
        (await service.start(actor(), input('hello', { model: 'unbounded' }), { signal: new AbortController().signal }))
          .events,
      );
      assert.equal(gate.admitted.at(-1)!.reserveTokens - 2, upstream.chatRequests().at(-1)!.body.max_tokens);
      assert.equal(upstream.chatRequests().at(-1)!.body.max_tokens, 4096);
      await drain((await service.start(actor(), input('hello'), { signal: new AbortController().signal })).events);
      // A known window bounds the answer by itself: nothing is imposed.
      assert.equal(upstream.chatRequests().at(-1)!.body.max_tokens, undefined);
    });

    test('a consumer that leaves early still leaves exactly one row (cancelled) and one settlement', async () => {
      const before = { rows: (await rows()).length, settled: gate.settled.length };
      const run = await service.start(actor(), input('a b c d e f'), { signal: new AbortController().signal });
      for await (const event of run.events) if (event.type === 'text-delta') break;
      const added = (await rows()).slice(before.rows);
      assert.equal(added.length, 1);
      assert.equal(added[0]!.status, 'cancelled');
      assert.equal(gate.settled.length - before.settled, 1);
    });

    test('an abort mid-stream stops the upstream and records what was produced as cancelled', async () => {
      const controller = new AbortController();
      const run = await service.start(actor(), input('[[chunk-delay:30]] w1 w2 w3 w4 w5 w6 w7 w8'), {
        signal: controller.signal,
      });
      const seen: StreamEvent[] = [];
      for await (const event of run.events) {
        seen.push(event);
        if (seen.filter((e) => e.type === 'text-delta').length === 2) controller.abort();
      }
      assert.deepEqual(seen.at(-1), { type: 'finish', reason: 'cancelled' });
      const row = (await rows()).at(-1)!;
      assert.equal(row.status, 'cancelled');
      assert.equal(row.completion_tokens, Math.ceil('w1 w2 '.length / 4));
      const sent = upstream.chatRequests().at(-1)!;
      await sent.settled;
      assert.ok(sent.closedEarlyAt !== undefined, 'the upstream saw the connection close');
    });

    test('errors: before the first byte thrown (row with zeros), after it an error event (row counts the partial answer)', async () => {
      const settledBefore = gate.settled.length;
      await assert.rejects(
        service.start(actor(), input('[[status:500]]'), { signal: new AbortController().signal }),
        (e: unknown) => e instanceof AppError && e.code === 'upstream_error',
      );
      let row = (await rows()).at(-1)!;
      assert.deepEqual([row.status, row.prompt_tokens, row.completion_tokens], ['error', 0, 0]);
      assert.deepEqual(gate.settled.at(-1), { tokens: 0, costMicros: 0 });
      const run = await service.start(actor(), input('[[fail-after:2]] aaaa bbbb cccc'), {
        signal: new AbortController().signal,
      });
      const events = await drain(run.events);
      assert.equal(events.at(-1)!.type, 'error');
      row = (await rows()).at(-1)!;
      assert.equal(row.status, 'error');
      assert.equal(row.completion_tokens, Math.ceil('aaaa bbbb '.length / 4));
      assert.equal(gate.settled.length - settledBefore, 2);
    });

    test('a caller leaving after admission but before the first byte is charged its prompt, not nothing', async () => {
      const controller = new AbortController();
      const before = upstream.chatRequests().length;
      const prompt = 'hello there, this prompt is not free [[delay:5000]]';
      const started = service.start(actor(), input(prompt), { signal: controller.signal });
      await eventually(async () => upstream.chatRequests().length > before || undefined, {
        what: 'the upstream to receive the request',
      });
      controller.abort();
      await assert.rejects(started);
      const row = (await rows()).at(-1)!;
      assert.deepEqual(
        [row.status, row.prompt_tokens, row.completion_tokens],
        ['cancelled', Math.ceil(prompt.length / 4), 0],
      );
      assert.equal(gate.settled.at(-1)!.tokens, Math.ceil(prompt.length / 4));
    });

    test('refusals before admission: unknown model (404), a local model not downloaded (503), max_tokens over the window (400)', async () => {
      const admittedBefore = gate.admitted.length;
      const signal = new AbortController().signal;
      await assert.rejects(
        service.start(actor(), input('x', { model: 'nope' }), { signal }),
        (e: unknown) => e instanceof AppError && e.code === 'not_found',
      );
      await assert.rejects(
        service.start(actor(), input('x', { model: 'local/qwen2.5-0.5b-instruct' }), { signal }),
        (e: unknown) =>
          e instanceof AppError && e.code === 'model_unavailable' && /npm run models:pull/.test(e.message),
      );
      await assert.rejects(
        service.start(actor(), input('x', { max_tokens: 501 }), { signal }),
        (e: unknown) => e instanceof AppError && e.code === 'validation_failed',
      );
      assert.equal(gate.admitted.length, admittedBefore);
    });
  });
}

test('the token estimate counts characters outside ASCII one token each', async () => {
  const { estimateTextTokens } = await import('../../src/domain/completions/token-budget.ts');
  assert.equal(estimateTextTokens('abcdefgh'), 2);
  assert.equal(estimateTextTokens('你好世界'), 4, 'four Chinese characters are at least four tokens, not one');
  assert.equal(estimateTextTokens('café'), 2, 'three ASCII letters (3/4) and one accented (1), rounded up');
  assert.equal(estimateTextTokens(''), 0);
});

test('an answer that stops without finishing while its provider can no longer count tokens is still charged and settled', async () => {
  const { sql, drop } = await openTestStore('sqlite');
  try {
    const userId = await insertUser(sql.db);
    let counting = true;
    // A provider shutting down: its stream ends without a finish, and its tokenizer has gone.
    const provider = {
      id: 'closing',
      kind: 'mock',
      async countTokens(text: string) {
        if (!counting) throw new Error('shutting down');
        return text.length;
      },
      async stream() {
        return (async function* () {
          yield { type: 'text-delta' as const, text: 'partial' };
        })();
      },
    };
    const entry = { id: 'm', provider: 'closing', upstream: 'm', capabilities: ['chat'], source: 'config' };
    const gate = new RecordingGate();
    const running = new RunningAnswers({ maxAnswerMs: 60_000 });
    const service = new CompletionsService({
      models: { resolve: async () => ({ entry, provider }) } as never,
      limits: gate,
      usage: new UsageStore(sql.db),
      clock: new ManualClock(),
      running,
    });
    const run = await service.start(
      { userId, role: 'user' },
      { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true },
      { signal: new AbortController().signal },
    );
    counting = false;
    const seen: string[] = [];
    for await (const event of run.events) seen.push(event.type);
    assert.deepEqual(seen, ['text-delta', 'error']);
    const rows = await sql.db.selectFrom('usage_records').select(['status', 'completion_tokens']).execute();
    assert.deepEqual(
      rows.map((row) => ({ ...row })),
      [{ status: 'error', completion_tokens: 0 }],
      'one row, the prompt estimate charged',
    );
    assert.equal(gate.settled.length, 1);
    assert.equal(running.size, 0, 'the answer is no longer running');
  } finally {
    await sql.close();
    await drop();
  }
});
