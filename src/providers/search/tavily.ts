import { originOf, ranked, searchJson, type SearchProvider, type SearchResult } from './search-provider.ts';

/**
 * Tavily: POST {base}/search with `Authorization: Bearer <key>` and `{ query, max_results }`.
 * Answer: `{ query, results: [{ title, url, content, score }], response_time }`.
 */
export class TavilySearch implements SearchProvider {
  readonly id = 'tavily';
  readonly costMicros: number;
  private readonly options: { baseUrl: string; apiKey: string; timeoutMs: number };

  constructor(options: { baseUrl: string; apiKey: string; timeoutMs: number; costMicros?: number }) {
    this.options = options;
    this.costMicros = options.costMicros ?? 0;
  }

  async search(query: string, options: { count: number; signal: AbortSignal }): Promise<SearchResult[]> {
    const body = await searchJson(`${this.options.baseUrl}/search`, {
      who: { provider: this.id, origin: originOf(this.options.baseUrl), keyVariable: 'TAVILY_API_KEY', secret: this.options.apiKey },
      timeoutMs: this.options.timeoutMs,
      signal: options.signal,
      method: 'POST',
      headers: { authorization: `Bearer ${this.options.apiKey}` },
      body: { query, max_results: Math.min(20, options.count), search_depth: 'basic' },
    });
    const results = Array.isArray(body?.results) ? body.results : [];
    return ranked(results.map((r: any) => ({ title: r?.title, url: r?.url, snippet: r?.content })), options.count);
  }
}
