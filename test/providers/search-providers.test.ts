import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ProviderError, type ProviderFailure } from '../../src/providers/provider-error.ts';
import { BraveSearch } from '../../src/providers/search/brave.ts';
import { createSearchProvider } from '../../src/providers/search/create-search-provider.ts';
import { SearxngSearch } from '../../src/providers/search/searxng.ts';
import { SerperSearch } from '../../src/providers/search/serper.ts';
import { TavilySearch } from '../../src/providers/search/tavily.ts';
import { loadConfig } from '../../src/config.ts';
import { startLoopback, type LoopbackServer } from '../helpers/searx.ts';
import type { Json } from '../helpers/wire.ts';

/**
 * The search adapters against scripted fakes of each API, with their real request and answer
 * shapes: Brave (GET, X-Subscription-Token), Tavily (POST, Bearer), Serper (POST, X-API-KEY),
 * SearXNG (GET format=json). A query "[[status:N]]" makes a fake answer N, "[[hang]]" never answer.
 */
interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Json;
}

const never = new AbortController().signal;

async function readBody(request: IncomingMessage): Promise<Json> {
  let text = '';
  for await (const chunk of request) text += chunk;
  return text ? JSON.parse(text) : undefined;
}

function scripted(query: string, response: ServerResponse, key = 'none'): boolean {
  const status = /\[\[status:(\d+)\]\]/.exec(query);
  if (status) {
    response.writeHead(Number(status[1]), {
      'content-type': 'application/json',
      ...(status[1] === '429' ? { 'retry-after': '17' } : {}),
    });
    response.end(JSON.stringify({ error: { message: `scripted ${status[1]} for key ${key}` } }));
    return true;
  }
  if (query.includes('[[hang]]')) return true;
  if (query.includes('[[garbage]]')) {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<html>not json</html>');
    return true;
  }
  return false;
}

describe('search adapters against scripted fakes', () => {
  let fake: LoopbackServer;
  const seen: Seen[] = [];
  before(async () => {
    fake = await startLoopback(async (request, response) => {
      const url = new URL(request.url!, 'http://x');
      const body = await readBody(request);
      seen.push({ method: request.method!, path: url.pathname, headers: request.headers, body });
      const json = (value: unknown) =>
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (url.pathname === '/brave/res/v1/web/search' && request.method === 'GET') {
        if (request.headers['x-subscription-token'] !== 'brave-key') {
          return void response.writeHead(401, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              type: 'ErrorResponse',
              error: {
                status: 401,
                code: 'SUBSCRIPTION_TOKEN_INVALID',
                detail: 'The provided subscription token is invalid.',
              },
            }),
          );
        }
        if (scripted(url.searchParams.get('q')!, response, 'brave-key')) return;
        return void json({
          type: 'search',
          query: { original: url.searchParams.get('q') },
          web: {
            type: 'search',
            results: [
              {
                title: 'Brave one',
                url: 'https://one.example/',
                description: 'First <strong>hit</strong>',
                type: 'search_result',
              },
              { title: 'No URL', description: 'skipped' },
              { title: 'Brave two', url: 'https://two.example/page', description: 'Second', type: 'search_result' },
            ],
          },
        });
      }
      if (url.pathname === '/tavily/search' && request.method === 'POST') {
        if (request.headers.authorization !== 'Bearer tvly-key') {
          return void response
            .writeHead(401, { 'content-type': 'application/json' })
            .end(JSON.stringify({ detail: { error: 'Unauthorized: missing or invalid API key.' } }));
        }
        if (scripted(body.query, response, 'tvly-key')) return;
        return void json({
          query: body.query,
          answer: null,
          images: [],
          results: [
            { title: 'Tavily one', url: 'https://t.example/1', content: 'Tavily says', score: 0.9, raw_content: null },
          ],
          response_time: 0.5,
        });
      }
      if (url.pathname === '/serper/search' && request.method === 'POST') {
        if (request.headers['x-api-key'] !== 'serper-key') {
          return void response
            .writeHead(403, { 'content-type': 'application/json' })
            .end(JSON.stringify({ message: 'Unauthorized.', statusCode: 403 }));
        }
        if (scripted(body.q, response, 'serper-key')) return;
        return void json({
          searchParameters: { q: body.q, type: 'search', engine: 'google' },
          organic: [
            { title: 'Serper one', link: 'https://s.example/1', snippet: 'Google says', position: 1 },
            { title: 'Serper two', link: 'https://s.example/2', snippet: 'More', position: 2 },
          ],
        });
      }
      if (url.pathname === '/searxng/search' && request.method === 'GET') {
        if (url.searchParams.get('format') !== 'json') return void response.writeHead(403).end('Forbidden');
        if (scripted(url.searchParams.get('q')!, response)) return;
        return void json({
          query: url.searchParams.get('q'),
          number_of_results: 0,
          results: [
            {
              url: 'https://x.example/',
              title: 'SearXNG one',
              content: 'From the metasearch',
              engine: 'scripted',
              score: 1,
            },
          ],
        });
      }
      if (url.pathname === '/searxng-html/search') return void response.writeHead(403).end('Forbidden');
      response.writeHead(404).end();
    });
  });
  after(() => fake.close());

  const options = { timeoutMs: 500 };
  const brave = (apiKey = 'brave-key') => new BraveSearch({ ...options, baseUrl: `${fake.url}/brave`, apiKey });
  const tavily = (apiKey = 'tvly-key') => new TavilySearch({ ...options, baseUrl: `${fake.url}/tavily`, apiKey });
  const serper = (apiKey = 'serper-key') => new SerperSearch({ ...options, baseUrl: `${fake.url}/serper`, apiKey });
  const searxng = (path = 'searxng') => new SearxngSearch({ ...options, baseUrl: `${fake.url}/${path}` });

  async function fails(promise: Promise<unknown>, failure: ProviderFailure, pattern: RegExp) {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof ProviderError, String(error));
      assert.equal(error.failure, failure, error.message);
      assert.match(error.message, pattern);
      assert.doesNotMatch(error.message, /brave-key|tvly-key|serper-key/, 'never the key');
      return true;
    });
  }

  test('Brave: GET /res/v1/web/search?q&count with X-Subscription-Token; web.results mapped and ranked', async () => {
    const results = await brave().search('tides', { count: 5, signal: never });
    const request = seen.at(-1)!;
    assert.equal(request.method, 'GET');
    assert.equal(request.headers.accept, 'application/json');
    assert.deepEqual(results, [
      { title: 'Brave one', url: 'https://one.example/', snippet: 'First <strong>hit</strong>', rank: 1 },
      { title: 'Brave two', url: 'https://two.example/page', snippet: 'Second', rank: 2 },
    ]);
    assert.equal((await brave().search('tides', { count: 1, signal: never })).length, 1);
  });

  test('Tavily: POST /search with Bearer and {query, max_results}', async () => {
    const results = await tavily().search('moon', { count: 3, signal: never });
    const request = seen.at(-1)!;
    assert.equal(request.method, 'POST');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(request.body, { query: 'moon', max_results: 3, search_depth: 'basic' });
    assert.deepEqual(results, [{ title: 'Tavily one', url: 'https://t.example/1', snippet: 'Tavily says', rank: 1 }]);
  });

  test('Serper: POST /search with X-API-KEY and {q, num}; organic mapped', async () => {
    const results = await serper().search('sun', { count: 4, signal: never });
    assert.deepEqual(seen.at(-1)!.body, { q: 'sun', num: 4 });
    assert.deepEqual(
      results.map((r) => [r.rank, r.title, r.url, r.snippet]),
      [
        [1, 'Serper one', 'https://s.example/1', 'Google says'],
        [2, 'Serper two', 'https://s.example/2', 'More'],
      ],
    );
  });

  test('SearXNG: GET /search?q&format=json; a 403 (JSON not enabled) says what to change', async () => {
    assert.deepEqual(await searxng().search('x', { count: 5, signal: never }), [
      { title: 'SearXNG one', url: 'https://x.example/', snippet: 'From the metasearch', rank: 1 },
    ]);
    await fails(
      searxng('searxng-html').search('x', { count: 5, signal: never }),
      'failed',
      /searxng.*403.*search\.formats/,
    );
  });

  test('a refused key names the provider and the variable, never the key', async () => {
    await fails(
      brave('wrong').search('x', { count: 5, signal: never }),
      'key_refused',
      /"brave".*401.*BRAVE_SEARCH_API_KEY/,
    );
    await fails(tavily('wrong').search('x', { count: 5, signal: never }), 'key_refused', /"tavily".*TAVILY_API_KEY/);
    await fails(
      serper('wrong').search('x', { count: 5, signal: never }),
      'key_refused',
      /"serper".*403.*SERPER_API_KEY/,
    );
  });

  test('a rate limit keeps Retry-After; a timeout, a non-JSON answer, a 500 and an unreachable engine are told apart', async () => {
    for (const provider of [brave(), tavily(), serper(), searxng()]) {
      await assert.rejects(provider.search('[[status:429]]', { count: 5, signal: never }), (error: ProviderError) => {
        assert.equal(error.failure, 'rate_limited');
        assert.equal(error.retryAfter, '17');
        assert.match(error.message, new RegExp(`"${provider.id}" is rate limiting`));
        assert.doesNotMatch(error.message, /brave-key|tvly-key|serper-key/);
        return true;
      });
      await fails(
        provider.search('[[hang]]', { count: 5, signal: never }),
        'timeout',
        new RegExp(`"${provider.id}".*500 ms`),
      );
      await fails(provider.search('[[garbage]]', { count: 5, signal: never }), 'failed', /other than JSON/);
      await fails(provider.search('[[status:500]]', { count: 5, signal: never }), 'failed', /failed \(upstream 500\)/);
    }
    await fails(
      new BraveSearch({ ...options, baseUrl: 'http://127.0.0.1:9', apiKey: 'brave-key' }).search('x', {
        count: 5,
        signal: never,
      }),
      'unreachable',
      /Cannot reach.*"brave".*ECONNREFUSED/,
    );
  });

  test('configuration picks the named engine, else the first configured; a named engine without its setting is refused', () => {
    assert.equal(createSearchProvider(loadConfig({})), undefined);
    assert.equal(createSearchProvider(loadConfig({ SERPER_API_KEY: 'k', TAVILY_API_KEY: 'k' }))!.id, 'tavily');
    assert.equal(
      createSearchProvider(
        loadConfig({
          SERPER_API_KEY: 'k',
          CAUSERIE_SEARXNG_URL: 'http://127.0.0.1:8888',
          CAUSERIE_SEARCH_PROVIDER: 'serper',
        }),
      )!.id,
      'serper',
    );
    assert.equal(
      createSearchProvider(loadConfig({ CAUSERIE_SEARCH_PRICE: '0.004', BRAVE_SEARCH_API_KEY: 'k' }))!.costMicros,
      4000,
    );
    assert.throws(
      () => createSearchProvider(loadConfig({ CAUSERIE_SEARCH_PROVIDER: 'brave' })),
      /BRAVE_SEARCH_API_KEY is not set/,
    );
  });
});

test('CAUSERIE_FETCH_ALLOWLIST takes addresses, CIDR ranges and host names, and refuses anything else', () => {
  assert.equal(
    loadConfig({ CAUSERIE_FETCH_ALLOWLIST: '10.1.0.0/16, 127.0.0.1,[fd00::]/8,wiki.intranet' }).fetchAllowlist,
    '10.1.0.0/16, 127.0.0.1,[fd00::]/8,wiki.intranet',
  );
  for (const bad of ['10.0.0.0/33', 'fd00::/129', 'wiki/8', 'http://x', '10.0.0.0/8/1']) {
    assert.throws(() => loadConfig({ CAUSERIE_FETCH_ALLOWLIST: bad }), /CAUSERIE_FETCH_ALLOWLIST has an entry/, bad);
  }
});
