import type { ContextEnricher, EnrichmentInput } from '../conversations/context-enrichers.ts';
import type { WebSearch } from './web-search.service.ts';

/** Whether a request's options ask for web search (`web_search: true`, as every surface passes it). */
export const wantsWebSearch = (options: Readonly<Record<string, unknown>> | undefined) => options?.web_search === true;

/**
 * Web search as a context enricher: when `options.web_search` is true (a request's switch, or an
 * agent that always searches), the sources are added to what the model sees and kept in the
 * reply's metadata as `sources: [{ index, title, url }]`.
 */
export class WebSearchEnricher implements ContextEnricher {
  readonly name = 'web_search';
  private readonly webSearch: WebSearch;

  constructor(webSearch: WebSearch) {
    this.webSearch = webSearch;
  }

  async enrich(input: EnrichmentInput) {
    if (!wantsWebSearch(input.options)) return undefined;
    const { messages, sources } = await this.webSearch.augment({
      actor: input.actor,
      model: input.model,
      messages: input.messages,
      conversationId: input.conversation.id,
      signal: input.signal,
    });
    return { messages, metadata: { sources } };
  }
}
