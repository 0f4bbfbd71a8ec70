import { KeyedSearch, itemsAt, ranked, type SearchResult } from './search-provider.ts';

/**
 * Tavily: POST {base}/search with `Authorization: Bearer <key>` and `{ query, max_results }`.
 * Answer: `{ query, results: [{ title, url, content, score }], response_time }`.
 */
export class TavilySearch extends KeyedSearch {
  readonly id = 'tavily';
  protected readonly keyVariable = 'TAVILY_API_KEY';

  async search(query: string, options: { count: number; signal: AbortSignal }): Promise<SearchResult[]> {
    const body = await this.call(`${this.options.baseUrl}/search`, options.signal, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.options.apiKey}` },
      body: { query, max_results: Math.min(20, options.count), search_depth: 'basic' },
    });
    const results = itemsAt(body, 'results');
    return ranked(
      results.map((r) => ({ title: r.title, url: r.url, snippet: r.content })),
      options.count,
    );
  }
}
