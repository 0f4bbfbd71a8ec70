import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ProviderError } from '../../src/providers/provider-error.ts';
import {
  createLocalProvider,
  listLocalModelFiles,
  type LocalProvider,
} from '../../src/providers/local/local-provider.ts';
import type { ChatRequest } from '../../src/providers/provider.ts';
import { writeTinyLlamaGguf } from '../fixtures/gguf/build-tiny-llama.ts';
import { collect, userSays } from './local-stream.ts';

// A template no built-in wrapper recognises, so node-llama-cpp must render the GGUF's own Jinja;
// its preamble of 40 "the" (one token each) shows in the prompt token count.
const preambleWords = 40;
const customTemplate =
  'the '.repeat(preambleWords) +
  "{% for message in messages %}### {{ message['role'] }}: {{ message['content'] }}\n{% endfor %}{% if add_generation_prompt %}### assistant:{% endif %}";

describe('local GGUF provider (tiny random-weight llama built by the test)', () => {
  let modelsDir: string;
  let provider: LocalProvider;
  const logged: { message: string; data: Record<string, unknown> }[] = [];
  const logger = {
    info: (data: object, message: string) => logged.push({ message, data: data as Record<string, unknown> }),
    warn: (data: object, message: string) => logged.push({ message, data: data as Record<string, unknown> }),
  };
  // Greedy decoding: the same prompt gives the same tokens, so one run can predict the next.
  const tiny = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
    model: 'tiny-llama.gguf',
    temperature: 0,
    ...userSays(content, extra),
  });

  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'causerie-local-'));
    await writeTinyLlamaGguf(modelsDir, 'tiny-llama.gguf');
    await writeTinyLlamaGguf(modelsDir, 'tiny-templated.gguf', { chatTemplate: customTemplate, seed: 7 });
    await writeFile(join(modelsDir, 'broken.gguf'), 'not a model');
    // Every token its own event, so the tests below can count and stop at tokens (batching: its own test).
    provider = createLocalProvider({ modelsDir, threads: 1, parallelRequests: 2, logger, textBatchMs: 0 });
  });
  after(async () => {
    await provider?.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  test('lists the GGUF files of the models folder with their context, not partial downloads, and nothing for a missing folder', async () => {
    await writeFile(join(modelsDir, 'half.gguf.part'), 'partial');
    const files = await listLocalModelFiles(modelsDir);
    assert.deepEqual(
      files.map((file) => [file.id, file.file, file.contextWindow]),
      [
        ['local/broken', 'broken.gguf', undefined],
        ['local/tiny-llama', 'tiny-llama.gguf', 512], // as trained: less than the provider's 4096
        ['local/tiny-templated', 'tiny-templated.gguf', 512],
      ],
    );
    assert.ok(files.slice(1).every((file) => file.bytes > 100_000 && file.path.startsWith(modelsDir)));
    assert.deepEqual(
      (await listLocalModelFiles(modelsDir, { contextSize: 256 })).map((file) => file.contextWindow),
      [undefined, 256, 256],
    );
    assert.deepEqual(await listLocalModelFiles(join(modelsDir, 'nope')), []);
    assert.deepEqual(await provider.listModels({ signal: new AbortController().signal }), [
      'broken.gguf',
      'tiny-llama.gguf',
      'tiny-templated.gguf',
    ]);
  });

  test('loads the model on first use and streams text deltas, then usage, then finish', async () => {
    const result = await collect(provider, tiny('Once upon a time', { max_tokens: 12 }));
    assert.ok(result.deltas.length >= 2, 'several deltas, not one block');
    assert.ok(result.text.trim().length > 0);
    assert.deepEqual(
      result.events.slice(-2).map((event) => event.type),
      ['usage', 'finish'],
    );
    assert.equal(result.finish, 'length');
    assert.equal(result.usage?.completion_tokens, 12);
    assert.ok(result.usage!.prompt_tokens > 0);
    const loadedLine = logged.find(
      (line) => line.message === 'local model loaded' && line.data.model === 'tiny-llama.gguf',
    );
    assert.equal(loadedLine?.data.threads, 1);
  });

  test('text written faster than the batching interval comes in fewer, longer deltas with the same text', async () => {
    const batched = createLocalProvider({ modelsDir, threads: 1, parallelRequests: 1, textBatchMs: 60_000 });
    try {
      const request = tiny('Once upon a time', { max_tokens: 24, temperature: 0 });
      const one = await collect(provider, request);
      const gathered = await collect(batched, request);
      assert.equal(one.deltas.length, 24);
      // The first piece at once, the rest (well within the interval) with the end of the answer.
      assert.deepEqual(gathered.deltas, [one.deltas[0], one.deltas.slice(1).join('')]);
      assert.deepEqual(gathered.usage, one.usage);
      assert.equal(gathered.finish, 'length');
    } finally {
      await batched.close();
    }
  });

  test('a stopped answer still sends the text it had gathered, the same text as the tokens it is charged for', async () => {
    const batched = createLocalProvider({ modelsDir, threads: 1, parallelRequests: 1, textBatchMs: 60_000 });
    try {
      const controller = new AbortController();
      const stopped = await collect(batched, tiny('Once upon a time', { max_tokens: 400 }), {
        signal: controller.signal,
        // The first piece leaves at once; what the model writes in the next 50 ms is gathered, unsent.
        onDelta: () => setTimeout(() => controller.abort(), 50),
      });
      assert.equal(stopped.finish, 'cancelled');
      const charged = stopped.usage!.completion_tokens;
      assert.ok(charged >= 2, `completion_tokens ${charged}`);
      const same = await collect(provider, tiny('Once upon a time', { max_tokens: charged }));
      assert.equal(stopped.text, same.text);
    } finally {
      await batched.close();
    }
  });

  test('a name without ".gguf" finds the file too', async () => {
    const result = await collect(provider, { ...tiny('hello', { max_tokens: 3 }), model: 'tiny-llama' });
    assert.equal(result.usage?.completion_tokens, 3);
  });

  test('max_tokens bounds the answer exactly and ends with "length"', async () => {
    for (const maxTokens of [1, 7]) {
      const result = await collect(provider, tiny('Tell me a story', { max_tokens: maxTokens }));
      assert.equal(result.usage?.completion_tokens, maxTokens);
      assert.equal(result.finish, 'length');
    }
  });

  test('an answer cannot outgrow the context: it ends with "length" when the context is full', async () => {
    const result = await collect(provider, tiny('the cat '.repeat(200), { max_tokens: 1000 }));
    assert.equal(result.finish, 'length');
    assert.equal(result.usage!.prompt_tokens + result.usage!.completion_tokens, 512); // the fixture's trained context
  });

  test('a stop sequence ends the answer before it, and the stop text is not returned', async () => {
    const free = await collect(provider, tiny('Once upon a time there was a cat', { max_tokens: 40 }));
    // Pick a stop string from the second half of what the model writes for this prompt.
    const start = Math.floor(free.text.length / 2);
    const stop = free.text.slice(start, start + 3);
    const expected = free.text.slice(0, free.text.indexOf(stop));
    assert.ok(stop.length === 3 && expected.length > 0, `usable stop in ${JSON.stringify(free.text)}`);

    const stopped = await collect(
      provider,
      tiny('Once upon a time there was a cat', { max_tokens: 40, stop: [stop, 'never-written'] }),
    );
    assert.equal(stopped.text, expected);
    assert.equal(stopped.finish, 'stop');
    assert.ok(stopped.usage!.completion_tokens < 40);
  });

  test('usage counts come from the model tokenizer', async () => {
    // "▁the" and "▁cat" are single pieces of the fixture's vocabulary.
    assert.equal(await provider.countTokens('the cat', 'tiny-llama.gguf'), 2);
    assert.equal(await provider.countTokens('the cat said hello', 'tiny-llama.gguf'), 4);
    const short = await collect(provider, tiny('Once upon a time', { max_tokens: 2 }));
    const longer = await collect(provider, tiny('Once upon a time the cat', { max_tokens: 2 }));
    assert.equal(longer.usage!.prompt_tokens - short.usage!.prompt_tokens, 2);
    // The prompt is the whole rendered template (markers and all), more than the user text alone.
    assert.ok(short.usage!.prompt_tokens > (await provider.countTokens('Once upon a time', 'tiny-llama.gguf')));
  });

  test('aborting the signal stops generation at once and reports what was produced', async () => {
    const controller = new AbortController();
    let deltasAtAbort = 0;
    const result = await collect(provider, tiny('Once upon a time', { max_tokens: 400 }), {
      signal: controller.signal,
      onDelta: (_text, index) => {
        if (index === 3) {
          deltasAtAbort = index;
          controller.abort();
        }
      },
    });
    assert.equal(result.finish, 'cancelled');
    assert.equal(result.deltas.length, deltasAtAbort);
    // Each delta is at least one token; "at once" means no more than a couple of tokens after.
    assert.ok(
      result.usage!.completion_tokens >= 3 && result.usage!.completion_tokens <= 6,
      `completion_tokens ${result.usage!.completion_tokens}`,
    );
  });

  test('a reader that leaves early frees the model for the next request', async () => {
    const single = createLocalProvider({ modelsDir, threads: 1, parallelRequests: 1, textBatchMs: 0 });
    try {
      const stream = await single.stream(tiny('Once upon a time', { max_tokens: 400 }), {
        signal: new AbortController().signal,
      });
      for await (const event of stream) if (event.type === 'text-delta') break;
      // With one slot, this would wait forever if the abandoned generation still held it.
      const next = await collect(single, tiny('hello', { max_tokens: 4 }));
      assert.equal(next.usage?.completion_tokens, 4);
    } finally {
      await single.close();
    }
  });

  test("answers read to the end or left early keep no listener on the caller's signal", async () => {
    const shared = new AbortController();
    for (let i = 0; i < 3; i++) await collect(provider, tiny('hello', { max_tokens: 4 }), { signal: shared.signal });
    const left = await provider.stream(tiny('Once upon a time', { max_tokens: 40 }), { signal: shared.signal });
    for await (const event of left) if (event.type === 'text-delta') break;
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
    // Still followed while an answer runs: aborting the caller's signal stops it.
    const running = collect(provider, tiny('Once upon a time', { max_tokens: 400 }), {
      signal: shared.signal,
      onDelta: (_text, index) => index === 2 && shared.abort(),
    });
    assert.equal((await running).finish, 'cancelled');
  });

  test('two concurrent requests run side by side on the loaded model', async () => {
    const order: string[] = [];
    const [first, second] = await Promise.all([
      collect(provider, tiny('Once upon a time', { max_tokens: 24 }), { onDelta: () => order.push('first') }),
      collect(provider, tiny('The dog and the cat', { max_tokens: 24 }), { onDelta: () => order.push('second') }),
    ]);
    for (const result of [first, second]) {
      assert.equal(result.finish, 'length');
      assert.equal(result.usage?.completion_tokens, 24);
      assert.ok(result.text.length > 0);
    }
    // Interleaved: the second stream produced text before the first one was done.
    assert.ok(order.indexOf('second') < order.lastIndexOf('first'), order.join(','));
  });

  test('with one slot, waiting requests are served first come, first served, and a waiter can give up', async () => {
    const single = createLocalProvider({ modelsDir, threads: 1, parallelRequests: 1, textBatchMs: 0 });
    try {
      const finished: string[] = [];
      const gaveUp = new AbortController();
      const run = (name: string, options: { signal?: AbortSignal; onDelta?: () => void } = {}) =>
        collect(single, tiny(`${name} story`, { max_tokens: 6 }), options).then((result) => {
          finished.push(name);
          return result;
        });
      // Loaded first, so the four below reach the queue in the order they are made.
      await collect(single, tiny('warm up', { max_tokens: 1 }));
      // "three" gives up while "one" is generating and "two", "three", "four" wait in the queue.
      const runs = [
        run('one', { onDelta: () => gaveUp.abort() }),
        run('two'),
        run('three', { signal: gaveUp.signal }),
        run('four'),
      ];
      const [one, two, three, four] = await Promise.all(runs);
      assert.deepEqual(
        [one, two, four].map((result) => result!.usage?.completion_tokens),
        [6, 6, 6],
      );
      assert.deepEqual(finished, ['three', 'one', 'two', 'four']);
      assert.equal(three!.finish, 'cancelled');
      assert.deepEqual(three!.usage, { prompt_tokens: 0, completion_tokens: 0 });
      assert.equal(three!.text, '');
    } finally {
      await single.close();
    }
  });

  test('the chat template comes from the GGUF when it has one', async () => {
    const result = await collect(provider, {
      ...tiny('Once upon a time', { max_tokens: 5 }),
      model: 'tiny-templated.gguf',
    });
    assert.equal(result.usage?.completion_tokens, 5);
    const templated = logged.find(
      (line) => line.message === 'local model loaded' && line.data.model === 'tiny-templated.gguf',
    );
    assert.equal(templated?.data.chatTemplate, 'JinjaTemplate');
    // The prompt is the preamble, then "### user: Once upon a time\n### assistant:" (about 20 tokens).
    const prompt = result.usage!.prompt_tokens;
    assert.ok(prompt >= preambleWords + 15 && prompt <= preambleWords + 25, `prompt_tokens ${prompt}`);
    // stories260K and this fixture's other file carry no template: Llama 2's format is the fallback.
    const plain = logged.find((line) => line.message === 'local model loaded' && line.data.model === 'tiny-llama.gguf');
    assert.equal(plain?.data.chatTemplate, 'Llama2Chat');
  });

  test('refuses before the first byte what it cannot serve', async () => {
    const refused = async (request: ChatRequest) => {
      const error = await provider.stream(request, { signal: new AbortController().signal }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${String(error)}`);
      return error;
    };
    const missing = await refused({ ...tiny('hi'), model: 'absent.gguf' });
    assert.equal(missing.failure, 'unavailable');
    assert.match(missing.message, /models pull/);
    assert.doesNotMatch(missing.message, new RegExp(modelsDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.equal((await refused({ ...tiny('hi'), model: '../escape.gguf' })).failure, 'unavailable');
    const broken = await refused({ ...tiny('hi'), model: 'broken.gguf' });
    assert.equal(broken.failure, 'unavailable');
    assert.match(broken.message, /could not be loaded/);
    assert.equal(
      (await refused(tiny('hi', { tools: [{ type: 'function', function: { name: 'f' } }] }))).field,
      'tools',
    );
    assert.equal((await refused(tiny('hi', { response_format: { type: 'json_object' } }))).field, 'response_format');
    assert.equal((await refused({ model: 'tiny-llama.gguf', messages: [] })).field, 'messages');
    assert.equal((await refused(tiny('hi', { max_tokens: 0 }))).field, 'max_tokens');
    assert.equal((await refused(tiny('the cat '.repeat(400)))).field, 'messages');
  });
});
