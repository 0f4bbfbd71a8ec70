import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '../../src/domain/errors.ts';
import { rebuildFromLedger } from '../../src/domain/limits/ledger-rebuild.ts';
import { counterKey } from '../../src/domain/limits/limit-definitions.ts';
import { windowAt } from '../../src/domain/limits/windows.ts';
import { WebSearch, type WebSearchDeps } from '../../src/domain/web-search/web-search.service.ts';
import type { SearchUsage } from '../../src/domain/web-search/web-search.types.ts';
import type { SearchProvider } from '../../src/providers/search/search-provider.ts';
import { MemoryLimitCounters } from '../../src/stores/kv/memory-limit-counters.ts';

const actor = { userId: 7, role: 'user' as const };
const signal = new AbortController().signal;
const provider: SearchProvider = {
  id: 'fake',
  costMicros: 2500,
  async search(_query, { count }) {
    return Array.from({ length: Math.min(count, 4) }, (_, i) => ({
      title: `Page ${i + 1}`,
      url: `https://p${i + 1}.example/`,
      snippet: `snippet ${i + 1}`,
      rank: i + 1,
    }));
  },
};

function webSearch(overrides: Partial<WebSearchDeps> = {}) {
  const recorded: SearchUsage[] = [];
  const admitted: number[] = [];
  const service = new WebSearch({
    provider,
    fetchPolicy: { allowPrivate: false, allowlist: [], maxRedirects: 3 },
    pageLimits: { timeoutMs: 1000, maxBytes: 1 << 20 },
    results: 4,
    pages: 2,
    contextWindow: async () => 4000,
    admission: { admitSearch: async (_actor, cost) => void admitted.push(cost) },
    usage: { record: async (row) => void recorded.push(row) },
    clock: { now: () => Date.parse('2026-11-29T12:00:00Z') },
    // Each page is 40,000 characters (about 10,000 tokens): far more than a 4,000-token window holds.
    readPage: async (url) => ({ ok: true, url, text: `${url} `.padEnd(40_000, 'word '), truncated: false }),
    ...overrides,
  });
  return { service, recorded, admitted };
}

describe('WebSearch.augment', () => {
  test('adds one system message before the user message: numbered sources, page text for the pages read, a request to cite', async () => {
    const { service, recorded, admitted } = webSearch();
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'first' },
      { role: 'assistant' as const, content: 'ok' },
      { role: 'user' as const, content: 'what now?' },
    ];
    const result = await service.augment({ actor, model: 'm', messages, conversationId: 3, signal });
    assert.deepEqual(
      result.sources.map((s) => s.index),
      [1, 2, 3, 4],
    );
    assert.equal(result.messages.length, 5);
    assert.deepEqual(result.messages.at(-1), messages.at(-1));
    const system = result.messages.at(-2)!;
    assert.equal(system.role, 'system');
    assert.match(system.content!, /cite the sources .* \[1\] or \[2\]/);
    assert.match(system.content!, /\[3\] Page 3\nURL: https:\/\/p3\.example\/\nSnippet: snippet 3$/m);
    assert.equal(system.content!.match(/Page text:/g)!.length, 2, 'only the top two pages are read');
    assert.deepEqual(admitted, [2500]);
    assert.equal(recorded.length, 1);
    assert.deepEqual(
      { ...recorded[0], created_at: undefined },
      {
        user_id: 7,
        api_key_id: null,
        conversation_id: 3,
        provider: 'fake',
        results: 4,
        cost_micros: 2500,
        status: 'complete',
        created_at: undefined,
      },
    );
  });

  test("cuts the pages' text to fit the model's window next to the conversation", async () => {
    const history = [
      { role: 'user' as const, content: 'x'.repeat(4000) },
      { role: 'user' as const, content: 'question' },
    ];
    const { service } = webSearch();
    const result = await service.augment({ actor, model: 'm', messages: history, signal });
    const estimate = result.messages.reduce((sum, m) => sum + Math.ceil((m.content ?? '').length / 4) + 4, 0);
    // 4,000-token window, 1,000 reserved for the reply: the whole prompt fits in the rest.
    assert.ok(estimate <= 3000, `prompt estimated at ${estimate} tokens`);
    assert.match(result.messages.at(-2)!.content!, /word …/, 'the page text is cut, and says so');
    const roomy = webSearch({ contextWindow: async () => 200_000 });
    const whole = await roomy.service.augment({ actor, model: 'm', messages: history, signal });
    assert.doesNotMatch(whole.messages.at(-2)!.content!, /…/, 'a large window takes the pages whole');
  });

  test('no engine: 503 naming the settings; an engine error is recorded and passed on', async () => {
    const none = webSearch({ provider: undefined });
    await assert.rejects(
      none.service.augment({ actor, model: 'm', messages: [{ role: 'user', content: 'q' }], signal }),
      (error: AppError) => {
        assert.equal(error.code, 'web_search_unavailable');
        assert.equal(error.status, 503);
        assert.match(error.message, /CAUSERIE_SEARXNG_URL.*BRAVE_SEARCH_API_KEY.*TAVILY_API_KEY.*SERPER_API_KEY/);
        return true;
      },
    );
    const failing = webSearch({
      provider: {
        ...provider,
        search: async () => Promise.reject(new AppError('rate_limited', 'Provider "fake" is rate limiting requests')),
      },
    });
    await assert.rejects(
      failing.service.augment({ actor, model: 'm', messages: [{ role: 'user', content: 'q' }], signal }),
      /rate limiting/,
    );
    assert.equal(failing.recorded[0]!.status, 'error');
  });

  test('skipped pages leave their snippets; the answer goes on', async () => {
    const { service } = webSearch({
      readPage: async (url) => ({ ok: false, url, reason: 'not text (application/pdf)' }),
    });
    const result = await service.augment({ actor, model: 'm', messages: [{ role: 'user', content: 'q' }], signal });
    assert.doesNotMatch(result.messages[0]!.content!, /Page text/);
    assert.match(result.messages[0]!.content!, /Snippet: snippet 1/);
  });
});

test('a restart refills searches_per_day and the budget from the search ledger', async () => {
  const counters = new MemoryLimitCounters();
  const now = Date.parse('2026-11-29T12:00:00Z');
  const usage = { totalsSince: async () => [] } as never;
  const searches = { totalsSince: async () => [{ user_id: 7, api_key_id: 3, searches: 4, cost_micros: 10_000 }] };
  await rebuildFromLedger({ counters, usage, searches, prefix: 't:', now });
  const day = windowAt('day', now);
  const month = windowAt('month', now);
  const keys = [
    counterKey('t:', { scope: 'user', userId: 7 }, 'searches', day),
    counterKey('t:', { scope: 'key', userId: 7, keyId: 3 }, 'searches', day),
    counterKey('t:', { scope: 'user', userId: 7 }, 'cost', month),
  ];
  assert.deepEqual(
    await counters.read(
      keys.map((key) => ({ kind: 'counter' as const, key })),
      now,
    ),
    [4, 4, 10_000],
  );
});

test('the enricher searches when asked, or when its default says so and the request said nothing', async () => {
  const { WebSearchEnricher } = await import('../../src/domain/web-search/web-search.enricher.ts');
  const { service } = webSearch();
  const input = (options: Record<string, unknown>) => ({
    actor,
    conversation: { id: 1 } as never,
    model: 'm',
    messages: [{ role: 'user' as const, content: 'q' }],
    options,
    signal,
  });
  const plain = new WebSearchEnricher(service);
  assert.equal(await plain.enrich(input({})), undefined);
  assert.equal((await plain.enrich(input({ web_search: true })))!.metadata!.sources!.constructor, Array);
  const always = new WebSearchEnricher(service, { byDefault: () => true });
  assert.ok(await always.enrich(input({})));
  assert.equal(await always.enrich(input({ web_search: false })), undefined, 'a request can still turn it off');
});
