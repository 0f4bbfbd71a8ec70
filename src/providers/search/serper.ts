import { KeyedSearch, itemsAt, ranked, type SearchResult } from './search-provider.ts';

/**
 * Serper (Google results): POST {base}/search with the key in `X-API-KEY` and `{ q, num }`.
 * Answer: `{ organic: [{ title, link, snippet, position }] }`.
 */
export class SerperSearch extends KeyedSearch {
  readonly id = 'serper';
  protected readonly keyVariable = 'SERPER_API_KEY';

  async search(query: string, options: { count: number; signal: AbortSignal }): Promise<SearchResult[]> {
    const body = await this.call(`${this.options.baseUrl}/search`, options.signal, {
      method: 'POST',
      headers: { 'x-api-key': this.options.apiKey },
      body: { q: query, num: Math.min(20, options.count) },
    });
    const results = itemsAt(body, 'organic');
    return ranked(
      results.map((r) => ({ title: r.title, url: r.link, snippet: r.snippet })),
      options.count,
    );
  }
}
