import { originOf, ranked, searchJson, type SearchProvider, type SearchResult } from './search-provider.ts';

/**
 * Serper (Google results): POST {base}/search with the key in `X-API-KEY` and `{ q, num }`.
 * Answer: `{ organic: [{ title, link, snippet, position }] }`.
 */
export class SerperSearch implements SearchProvider {
  readonly id = 'serper';
  readonly costMicros: number;
  private readonly options: { baseUrl: string; apiKey: string; timeoutMs: number };

  constructor(options: { baseUrl: string; apiKey: string; timeoutMs: number; costMicros?: number }) {
    this.options = options;
    this.costMicros = options.costMicros ?? 0;
  }

  async search(query: string, options: { count: number; signal: AbortSignal }): Promise<SearchResult[]> {
    const body = await searchJson(`${this.options.baseUrl}/search`, {
      who: { provider: this.id, origin: originOf(this.options.baseUrl), keyVariable: 'SERPER_API_KEY', secret: this.options.apiKey },
      timeoutMs: this.options.timeoutMs,
      signal: options.signal,
      method: 'POST',
      headers: { 'x-api-key': this.options.apiKey },
      body: { q: query, num: Math.min(20, options.count) },
    });
    const results = Array.isArray(body?.organic) ? body.organic : [];
    return ranked(results.map((r: any) => ({ title: r?.title, url: r?.link, snippet: r?.snippet })), options.count);
  }
}
