import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import {
  OpenAiCompatibleProvider,
  type OpenAiCompatibleOptions,
} from '../../src/providers/openai-compatible/openai-compatible-provider.ts';
import type { ChatRequest, ProviderStreamEvent } from '../../src/providers/provider.ts';
import { ProviderError, type ProviderFailure } from '../../src/providers/provider-error.ts';

const timeouts = { connectMs: 2_000, firstByteMs: 5_000, idleMs: 5_000 };
const says = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'echo',
  messages: [{ role: 'user', content }],
  ...extra,
});

async function events(
  provider: OpenAiCompatibleProvider,
  request: ChatRequest,
  signal = new AbortController().signal,
): Promise<ProviderStreamEvent[]> {
  const out: ProviderStreamEvent[] = [];
  for await (const event of await provider.stream(request, { signal })) out.push(event);
  return out;
}

const textOf = (list: ProviderStreamEvent[]) => list.map((e) => (e.type === 'text-delta' ? e.text : '')).join('');

async function rejectsWith(
  promise: Promise<unknown>,
  failure: ProviderFailure,
  message?: RegExp,
): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${error}`);
    assert.equal(error.failure, failure, error.message);
    assert.equal(error.provider, 'test');
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${failure}`);
}

describe('OpenAI-compatible adapter against the scripted upstream', () => {
  let upstream: ScriptedUpstream;
  const providers: OpenAiCompatibleProvider[] = [];
  const adapter = (options: Partial<OpenAiCompatibleOptions> = {}) => {
    const provider = new OpenAiCompatibleProvider({
      id: 'test',
      baseUrl: upstream.baseUrl,
      apiKey: 'sk-right',
      keyVariable: 'TEST_API_KEY',
      timeouts,
      retries: 2,
      ...options,
    });
    providers.push(provider);
    return provider;
  };

  before(async () => {
    upstream = await startScriptedUpstream({ apiKey: 'sk-right', models: ['echo', 'embed'] });
  });
  after(async () => {
    await Promise.all(providers.map((p) => p.close()));
    await upstream.close();
  });

  test('streams text deltas, then the usage the upstream reported, then the finish reason', async () => {
    // Chunks apart in time arrive in reads of their own, so each is its own delta (in one read they merge).
    const list = await events(adapter(), says('[[chunk-delay:30]]one two three'));
    assert.deepEqual(
      list.filter((e) => e.type === 'text-delta').map((e) => (e as { text: string }).text),
      ['one ', 'two ', 'three'],
    );
    assert.deepEqual(list.slice(-2), [
      { type: 'usage', usage: { prompt_tokens: 3, completion_tokens: 3 } },
      { type: 'finish', reason: 'stop' },
    ]);
    const sent = upstream.chatRequests().at(-1)!;
    assert.equal(sent.headers.authorization, 'Bearer sk-right');
    assert.deepEqual(sent.body.stream_options, { include_usage: true });
    assert.equal(sent.body.stream, true);
  });

  test('a non-streamed call (stream: false) yields the same events from one JSON answer', async () => {
    const list = await events(
      adapter(),
      says('alpha beta', { stream: false, temperature: 0.5, max_tokens: 10, stop: ['x'], seed: 4 }),
    );
    assert.equal(textOf(list), 'alpha beta');
    assert.deepEqual(list.slice(-2), [
      { type: 'usage', usage: { prompt_tokens: 2, completion_tokens: 2 } },
      { type: 'finish', reason: 'stop' },
    ]);
    const sent = upstream.chatRequests().at(-1)!.body;
    assert.deepEqual(
      {
        stream: sent.stream,
        temperature: sent.temperature,
        max_tokens: sent.max_tokens,
        stop: sent.stop,
        seed: sent.seed,
        stream_options: sent.stream_options,
      },
      { stream: false, temperature: 0.5, max_tokens: 10, stop: ['x'], seed: 4, stream_options: undefined },
    );
  });

  test('max_tokens cuts the answer with finish reason length', async () => {
    const list = await events(adapter(), says('a b c d e', { max_tokens: 2 }));
    assert.equal(textOf(list), 'a b ');
    assert.deepEqual(list.at(-1), { type: 'finish', reason: 'length' });
  });

  test('tool calls come through as deltas; tools and tool_choice are passed upstream untouched', async () => {
    const tools = [
      {
        type: 'function',
        function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ];
    for (const stream of [true, false]) {
      const list = await events(
        adapter(),
        says('[[tool:get_weather:{"city":"Paris"}]]', { tools, tool_choice: 'auto', stream }),
      );
      const call = list.find((e) => e.type === 'tool-call-delta');
      assert.ok(call && call.type === 'tool-call-delta');
      assert.equal(call.name, 'get_weather');
      assert.equal(call.arguments, '{"city":"Paris"}');
      assert.match(call.id ?? '', /^call_/);
      assert.deepEqual(list.at(-1), { type: 'finish', reason: 'tool_calls' });
      assert.deepEqual(upstream.chatRequests().at(-1)!.body.tools, tools);
      assert.equal(upstream.chatRequests().at(-1)!.body.tool_choice, 'auto');
    }
  });

  test('no usage upstream: no usage event (the completions service counts it)', async () => {
    const list = await events(adapter(), says('[[no-usage]] hi'));
    assert.equal(
      list.some((e) => e.type === 'usage'),
      false,
    );
    assert.deepEqual(list.at(-1), { type: 'finish', reason: 'stop' });
  });

  test('Mistral dialect: no stream_options, the seed sent as random_seed', async () => {
    await events(adapter({ streamUsage: false, seedField: 'random_seed' }), says('hi', { seed: 42 }));
    const sent = upstream.chatRequests().at(-1)!.body;
    assert.equal('stream_options' in sent, false);
    assert.equal('seed' in sent, false);
    assert.equal(sent.random_seed, 42);
  });

  test('successive calls reuse keep-alive connections', async () => {
    const provider = adapter();
    const before = upstream.requests.length;
    for (let i = 0; i < 6; i++) await events(provider, says(`call ${i}`, { stream: i % 2 === 0 }));
    const ports = new Set(upstream.requests.slice(before).map((r) => r.remotePort));
    // undici frees a socket a tick after the body ends, so back-to-back calls alternate between two.
    assert.ok(ports.size <= 2, `6 calls used ${ports.size} connections`);
  });

  test('a refused key is "provider rejected the key", names the variable and never quotes the key', async () => {
    const error = await rejectsWith(
      events(adapter({ apiKey: 'sk-wrong-secret' }), says('hi')),
      'key_refused',
      /rejected the key.*401.*TEST_API_KEY/,
    );
    assert.equal(error.status, 401);
    assert.equal(error.isRetryable, false);
    assert.doesNotMatch(error.message, /sk-wrong-secret/);
  });

  test('an upstream 429 is a retryable rate limit with its Retry-After; a 400 is a rejection with its reason', async () => {
    const limited = await rejectsWith(events(adapter(), says('[[status:429]] [[retry-after:7]]')), 'rate_limited');
    assert.equal(limited.retryAfter, '7');
    assert.equal(limited.status, 429);
    assert.equal(limited.isRetryable, true);
    const rejected = await rejectsWith(
      events(adapter(), says('[[status:400]]')),
      'rejected',
      /rejected the request: Scripted failure 400/,
    );
    assert.equal(rejected.status, 400);
    assert.equal(rejected.isRetryable, false);
  });

  test('502/503/504 before the first byte are retried with backoff, then succeed', async () => {
    const content = `[[fail-first:2]] retried ${Math.random()}`;
    const before = upstream.chatRequests().length;
    const list = await events(adapter({ retries: 2 }), says(content));
    assert.match(textOf(list), /^retried/);
    assert.equal(upstream.chatRequests().length - before, 3);
  });

  test('when retries run out, the last upstream failure is the error (a retryable 503)', async () => {
    const content = `[[fail-first:5]] never ${Math.random()}`;
    const before = upstream.chatRequests().length;
    const failed = await rejectsWith(
      events(adapter({ retries: 1 }), says(content)),
      'failed',
      /failed \(upstream 503\)/,
    );
    assert.equal(failed.status, 503);
    assert.equal(failed.isRetryable, true);
    assert.equal(upstream.chatRequests().length - before, 2);
  });

  test('a connection dropped before any answer is retried; a refused port is unreachable', async () => {
    const before = upstream.chatRequests().length;
    await rejectsWith(events(adapter({ retries: 1 }), says('[[drop]]')), 'unreachable', /connection .* was lost/);
    assert.equal(upstream.chatRequests().length - before, 2);
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    await rejectsWith(
      events(adapter({ baseUrl: `http://127.0.0.1:${closedPort}/v1`, retries: 0 }), says('hi')),
      'unreachable',
      /^Cannot reach Provider "test": ECONNREFUSED$/,
    );
  });

  test('first-byte timeout: thrown before any event; idle timeout: an error event after the first bytes', async () => {
    await rejectsWith(
      events(adapter({ timeouts: { ...timeouts, firstByteMs: 200 }, retries: 0 }), says('[[delay:1500]] slow')),
      'timeout',
      /did not start answering within 200 ms/,
    );
    const list = await events(adapter({ timeouts: { ...timeouts, idleMs: 200 } }), says('[[chunk-delay:1500]] a b'));
    const last = list.at(-1)!;
    assert.equal(last.type, 'error');
    assert.equal(last.type === 'error' && last.error.failure, 'timeout');
    assert.match(last.type === 'error' ? last.error.message : '', /went silent for more than 200 ms/);
  });

  test('failures after the first byte become one last error event: SSE error frame, dropped connection', async () => {
    const failed = await events(adapter(), says('[[fail-after:2]] a b c d'));
    assert.equal(textOf(failed), 'a b ');
    assert.equal(failed.at(-1)!.type, 'error');
    const dropped = await events(adapter(), says('[[drop-after:1]] a b c'));
    assert.equal(textOf(dropped), 'a ');
    const last = dropped.at(-1)!;
    assert.equal(last.type === 'error' && last.error.failure, 'unreachable');
    // Non-streamed: the body is cut midway, still before anything reached our client: thrown.
    await rejectsWith(events(adapter(), says('[[drop-after:1]] a b', { stream: false })), 'unreachable');
  });

  test('a non-streamed call fails as a streamed one does: statuses, retries, timeouts, malformed JSON, aborts', async () => {
    const whole = { stream: false } as const;
    const limited = await rejectsWith(
      events(adapter(), says('[[status:429]] [[retry-after:7]]', whole)),
      'rate_limited',
    );
    assert.equal(limited.retryAfter, '7');
    const rejected = await rejectsWith(
      events(adapter(), says('[[status:400]]', whole)),
      'rejected',
      /Scripted failure 400/,
    );
    assert.equal(rejected.status, 400);
    let before = upstream.chatRequests().length;
    assert.match(
      textOf(await events(adapter({ retries: 2 }), says(`[[fail-first:2]] again ${Math.random()}`, whole))),
      /^again/,
    );
    assert.equal(upstream.chatRequests().length - before, 3);
    before = upstream.chatRequests().length;
    await rejectsWith(
      events(adapter({ retries: 1 }), says('[[drop]]', whole)),
      'unreachable',
      /connection .* was lost/,
    );
    assert.equal(upstream.chatRequests().length - before, 2);
    await rejectsWith(
      events(adapter({ timeouts: { ...timeouts, firstByteMs: 200 }, retries: 0 }), says('[[delay:1500]] slow', whole)),
      'timeout',
      /did not start answering within 200 ms/,
    );
    await rejectsWith(events(adapter(), says('[[hostile:garbage]]', whole)), 'failed', /sent malformed JSON/);
    const controller = new AbortController();
    const reason = new Error('client went away');
    const content = `[[hang]] whole ${Math.random()}`;
    const pending = events(adapter(), says(content, whole), controller.signal);
    const received = () => upstream.chatRequests().find((r) => r.body.messages[0].content === content);
    while (!received()) await new Promise((resolve) => setTimeout(resolve, 10));
    const request = received()!;
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
    await request.settled;
    assert.ok(request.closedEarlyAt !== undefined, 'the upstream saw the connection close');
  });

  test('aborting the signal closes the upstream connection and ends the stream quietly', async () => {
    const controller = new AbortController();
    const stream = await adapter().stream(says(`[[hang]] ${Math.random()}`), { signal: controller.signal });
    const seen: ProviderStreamEvent[] = [];
    const reading = (async () => {
      for await (const event of stream) seen.push(event);
    })();
    // stream() resolved: the upstream has the request and holds the answer; the reader is waiting for it.
    const request = upstream.chatRequests().at(-1)!;
    controller.abort(new Error('client went away'));
    await reading;
    await request.settled;
    assert.ok(request.closedEarlyAt !== undefined, 'the upstream saw the connection close');
    assert.equal(
      seen.some((e) => e.type === 'error'),
      false,
    );
  });

  test('over max_connections a request waits for a free connection, and past the wait gets 503 upstream_busy', async () => {
    const provider = adapter({ maxConnections: 1, connectionWaitMs: 200 });
    const first = new AbortController();
    // Holds the only connection: headers and one chunk, then silence until it is aborted.
    const held = await provider.stream(says(`[[hang]] ${Math.random()}`), { signal: first.signal });
    const holding = (async () => {
      for await (const _event of held);
    })();
    const refused = await rejectsWith(
      events(provider, says('turned away')),
      'busy',
      /Provider "test" has all its 1 connections busy and none freed up within 200 ms/,
    );
    assert.equal(refused.isRetryable, true);
    assert.equal(refused.retryAfter, '1');
    assert.deepEqual(provider.connectionStats(), {
      provider: 'test',
      max: 1,
      active: 1,
      waiting: 0,
      waitedTotal: 1,
      timedOutTotal: 1,
    });
    // A request that waits gets the connection as soon as the holder lets it go.
    const waiting = events(provider, says('my turn'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(provider.connectionStats().waiting, 1);
    first.abort(new Error('done holding'));
    await holding;
    assert.equal(textOf(await waiting), 'my turn');
    assert.equal(provider.connectionStats().active, 0);
    // A non-streamed answer gives its connection back once read, too.
    assert.equal(textOf(await events(provider, says('whole', { stream: false }))), 'whole');
    assert.equal(textOf(await events(provider, says('again', { stream: false }))), 'again');
    assert.equal(provider.connectionStats().active, 0);
  });

  test('without max_connections every request gets its own connection at once, past the old cap of 256', async () => {
    const provider = adapter();
    const controller = new AbortController();
    const tag = Math.random();
    const before = upstream.chatRequests().length;
    const streams = await Promise.all(
      Array.from({ length: 300 }, () => provider.stream(says(`[[hang]] ${tag}`), { signal: controller.signal })),
    );
    // Every stream has its response headers: the upstream holds 300 requests at once.
    assert.equal(upstream.chatRequests().length - before, 300);
    assert.equal(provider.connectionStats().active, 300);
    assert.equal(provider.connectionStats().max, null);
    controller.abort(new Error('enough'));
    await Promise.all(
      streams.map(async (stream) => {
        for await (const _event of stream);
      }),
    );
    assert.equal(provider.connectionStats().active, 0);
  });

  test('embeddings and model discovery', async () => {
    const provider = adapter();
    const result = await provider.embed(['a b', 'c'], 'embed', { signal: new AbortController().signal });
    assert.equal(result.embeddings.length, 2);
    assert.equal(result.embeddings[0]!.length, 8);
    assert.deepEqual(result.usage, { prompt_tokens: 3, completion_tokens: 0 });
    assert.deepEqual(await provider.listModels({ signal: new AbortController().signal }), [
      { id: 'echo', contextWindow: undefined },
      { id: 'embed', contextWindow: undefined },
    ]);
  });
});
