import type { Dispatcher } from 'undici';
import type { OutboundPolicy } from '../web/connect-guard.ts';
import {
  originOf,
  itemsAt,
  ranked,
  searchAgent,
  searchJson,
  type SearchProvider,
  type SearchResult,
} from './search-provider.ts';

/**
 * SearXNG (or its predecessor searx): GET {base}/search?q=...&format=json, no key. The JSON format
 * must be enabled on the instance (`search.formats: [html, json]` in its settings.yml).
 * Answer: `{ results: [{ url, title, content, engine, score }] }`.
 */
export class SearxngSearch implements SearchProvider {
  readonly id = 'searxng';
  readonly costMicros: number;
  private readonly options: { baseUrl: string; timeoutMs: number };
  private readonly dispatcher: Dispatcher;

  constructor(options: { baseUrl: string; timeoutMs: number; costMicros?: number; outbound?: OutboundPolicy }) {
    this.options = options;
    this.costMicros = options.costMicros ?? 0;
    this.dispatcher = searchAgent(options.outbound, options.timeoutMs);
  }

  async search(query: string, options: { count: number; signal: AbortSignal }): Promise<SearchResult[]> {
    const url = new URL(`${this.options.baseUrl}/search`);
    url.searchParams.set('q', query);
    url.searchParams.set('format', 'json');
    const body = await searchJson(url.href, {
      who: { provider: this.id, origin: originOf(this.options.baseUrl) },
      timeoutMs: this.options.timeoutMs,
      signal: options.signal,
      method: 'GET',
      headers: {},
      dispatcher: this.dispatcher,
      statusHints: {
        403: 'the JSON format is not enabled on this instance (add json to search.formats in its settings.yml)',
      },
    });
    const results = itemsAt(body, 'results');
    return ranked(
      results.map((r) => ({ title: r.title, url: r.url, snippet: r.content })),
      options.count,
    );
  }
}
