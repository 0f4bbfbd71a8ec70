import { originOf, ranked, searchJson, type SearchProvider, type SearchResult } from './search-provider.ts';

/**
 * Brave Search API: GET {base}/res/v1/web/search?q=…&count=N with the key in `X-Subscription-Token`.
 * Answer: `{ web: { results: [{ title, url, description }] } }`.
 */
export class BraveSearch implements SearchProvider {
  readonly id = 'brave';
  readonly costMicros: number;
  private readonly options: { baseUrl: string; apiKey: string; timeoutMs: number };

  constructor(options: { baseUrl: string; apiKey: string; timeoutMs: number; costMicros?: number }) {
    this.options = options;
    this.costMicros = options.costMicros ?? 0;
  }

  async search(query: string, options: { count: number; signal: AbortSignal }): Promise<SearchResult[]> {
    const url = new URL(`${this.options.baseUrl}/res/v1/web/search`);
    url.searchParams.set('q', query);
    url.searchParams.set('count', String(Math.min(20, options.count)));
    const body = await searchJson(url.href, {
      who: { provider: this.id, origin: originOf(this.options.baseUrl), keyVariable: 'BRAVE_SEARCH_API_KEY', secret: this.options.apiKey },
      timeoutMs: this.options.timeoutMs,
      signal: options.signal,
      method: 'GET',
      headers: { 'x-subscription-token': this.options.apiKey },
    });
    const results = Array.isArray(body?.web?.results) ? body.web.results : [];
    return ranked(results.map((r: any) => ({ title: r?.title, url: r?.url, snippet: r?.description })), options.count);
  }
}
