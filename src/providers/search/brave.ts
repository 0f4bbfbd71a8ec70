import { KeyedSearch, itemsAt, ranked, type SearchResult } from './search-provider.ts';

/**
 * Brave Search API: GET {base}/res/v1/web/search?q=...&count=N with the key in `X-Subscription-Token`.
 * Answer: `{ web: { results: [{ title, url, description }] } }`.
 */
export class BraveSearch extends KeyedSearch {
  readonly id = 'brave';
  protected readonly keyVariable = 'BRAVE_SEARCH_API_KEY';

  async search(query: string, options: { count: number; signal: AbortSignal }): Promise<SearchResult[]> {
    const url = new URL(`${this.options.baseUrl}/res/v1/web/search`);
    url.searchParams.set('q', query);
    url.searchParams.set('count', String(Math.min(20, options.count)));
    const body = await this.call(url.href, options.signal, {
      method: 'GET',
      headers: { 'x-subscription-token': this.options.apiKey },
    });
    const results = itemsAt(body, 'web', 'results');
    return ranked(
      results.map((r) => ({ title: r.title, url: r.url, snippet: r.description })),
      options.count,
    );
  }
}
