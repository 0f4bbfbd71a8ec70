import type { ContextEnricher, EnrichmentInput } from '../conversations/context-enrichers.ts';
import type { WebSearch } from './web-search.service.ts';

/** Whether a request's options ask for web search (`web_search: true`, as every surface passes it). */
export const wantsWebSearch = (options: Readonly<Record<string, unknown>> | undefined) => options?.web_search === true;

/**
 * Decides for a completion whose request said nothing (`options.web_search` unset): e.g. an agent
 * configured to always search answers true for its conversations.
 */
export type WebSearchDefault = (input: EnrichmentInput) => Promise<boolean> | boolean;

/**
 * Web search as a context enricher: when `options.web_search` is true (a request's switch), or
 * unset and the default says so (an agent that always searches), the sources are added to what
 * the model sees and kept in the reply's metadata as `sources: [{ index, title, url }]`.
 * `web_search: false` always turns it off.
 */
export class WebSearchEnricher implements ContextEnricher {
  readonly name = 'web_search';
  private readonly webSearch: WebSearch;
  private readonly byDefault: WebSearchDefault | undefined;

  constructor(webSearch: WebSearch, options: { byDefault?: WebSearchDefault } = {}) {
    this.webSearch = webSearch;
    this.byDefault = options.byDefault;
  }

  async enrich(input: EnrichmentInput) {
    const asked = input.options.web_search;
    const wanted = asked === undefined ? ((await this.byDefault?.(input)) ?? false) : asked === true;
    if (!wanted) return undefined;
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
