import type { ChatMessage } from '../../providers/provider.ts';
import type { SearchProvider, SearchResult } from '../../providers/search/search-provider.ts';
import type { FetchPolicy } from '../../providers/web/guarded-fetch.ts';
import { readPage, type PageLimits, type PageText } from '../../providers/web/page-reader.ts';
import { isoAt, type Clock } from '../clock.ts';
import {
  answerReserve,
  conversationTokens,
  estimatingCounter,
  type TokenCounter,
} from '../completions/token-budget.ts';
import { fromProvider } from '../completions/provider-failures.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../users/users.service.ts';
import type { SearchAdmission, SearchUsageRecorder, Source } from './web-search.types.ts';

export interface WebSearchDeps {
  /** The configured engine; undefined when none is (web search then answers 503). */
  provider?: SearchProvider;
  fetchPolicy: FetchPolicy;
  pageLimits: PageLimits;
  /** Results listed as sources, and how many of the top ones are read. */
  results: number;
  pages: number;
  /** The model's context window, to size what the pages may take. */
  contextWindow(model: string): Promise<number | undefined>;
  /** Counts tokens as the model's provider does; the estimate when absent. */
  tokenCounter?(model: string): Promise<TokenCounter>;
  admission: SearchAdmission;
  usage: SearchUsageRecorder;
  clock: Clock;
  /** Reads one page; replaceable in tests. */
  readPage?: typeof readPage;
}

export interface AugmentInput {
  actor: Actor;
  model: string;
  /** The context so far, ending with the user's message (its text is the query). */
  messages: ChatMessage[];
  maxTokens?: number;
  conversationId?: number;
  signal: AbortSignal;
}

/** Tokens the sources may take when the model's window is unknown. */
const defaultSourceTokens = 6000;
/** Characters per token, as the context-window estimate counts them. */
const charsPerToken = 4;

/**
 * Web search as context for a completion: searches the user's latest message, reads the top pages
 * through the fetch guard, and adds one system message listing the numbered sources (with the
 * pages' text, cut to fit the model's window next to the conversation) that asks the model to cite
 * them as [n]. Conversations (through the enricher) and the stateless OpenAI surface share it.
 */
export class WebSearch {
  private readonly deps: WebSearchDeps;

  constructor(deps: WebSearchDeps) {
    this.deps = deps;
  }

  get available(): boolean {
    return this.deps.provider !== undefined;
  }

  /** Refuses (503) a request for web search when no engine is configured; call before storing anything. */
  requireAvailable(): void {
    if (!this.deps.provider) {
      throw new AppError(
        'web_search_unavailable',
        'Web search is not configured on this server: set CAUSERIE_SEARXNG_URL, BRAVE_SEARCH_API_KEY, TAVILY_API_KEY or SERPER_API_KEY',
      );
    }
  }

  async augment(input: AugmentInput): Promise<{ messages: ChatMessage[]; sources: Source[] }> {
    this.requireAvailable();
    const provider = this.deps.provider!;
    const lastUser = input.messages.findLastIndex((m) => m.role === 'user');
    const query = (input.messages[lastUser]?.content ?? '').trim().slice(0, 400);
    if (!query) return { messages: input.messages, sources: [] };
    await this.deps.admission.admitSearch(input.actor, provider.costMicros);
    let results: SearchResult[];
    const record = (status: 'complete' | 'error', count: number) =>
      this.deps.usage
        .record({
          user_id: input.actor.userId,
          api_key_id: input.actor.apiKeyId ?? null,
          conversation_id: input.conversationId ?? null,
          provider: provider.id,
          results: count,
          cost_micros: provider.costMicros,
          status,
          created_at: isoAt(this.deps.clock.now()),
        })
        .catch(() => {});
    try {
      results = await provider.search(query, { count: this.deps.results, signal: input.signal });
    } catch (error) {
      await record('error', 0);
      throw fromProvider(error);
    }
    await record('complete', results.length);
    if (results.length === 0) return { messages: input.messages, sources: [] };

    const read = this.deps.readPage ?? readPage;
    const pages: Array<PageText | undefined> = await Promise.all(
      results.map((result, index) =>
        index < this.deps.pages
          ? read(result.url, this.deps.fetchPolicy, this.deps.pageLimits, input.signal)
          : undefined,
      ),
    );
    const budget = await this.sourceBudget(input);
    const pagesRead = pages.filter((page) => page?.ok).length;
    const perPage = pagesRead ? Math.floor((budget * charsPerToken) / pagesRead) : 0;
    const sources: Source[] = results.map((result, i) => ({ index: i + 1, title: result.title, url: result.url }));
    const blocks = results.map((result, i) => {
      const page = pages[i];
      let block = `[${i + 1}] ${result.title}\nURL: ${result.url}`;
      if (result.snippet) block += `\nSnippet: ${result.snippet}`;
      if (page?.ok) {
        const text = page.text.length > perPage ? `${page.text.slice(0, perPage).trimEnd()} \u2026` : page.text;
        block += `\nPage text:\n${text}`;
      }
      return block;
    });
    const system: ChatMessage = {
      role: 'system',
      content:
        "Web search results for the user's latest message are listed below as numbered sources. Use them to answer, " +
        'and cite the sources you rely on with their numbers in square brackets, like [1] or [2]. If the sources do not ' +
        'answer the question, say so.\n\n' +
        blocks.join('\n\n'),
    };
    const messages = [...input.messages.slice(0, lastUser), system, ...input.messages.slice(lastUser)];
    return { messages, sources };
  }

  /**
   * Tokens the pages' text may take: what the window leaves after the reply's reserve and the
   * conversation, at most half the window so the history is not pushed out by the web.
   */
  private async sourceBudget(input: AugmentInput): Promise<number> {
    const window = await this.deps.contextWindow(input.model);
    if (!window) return defaultSourceTokens;
    const reserve = answerReserve(window, input.maxTokens);
    const count = (await this.deps.tokenCounter?.(input.model)) ?? estimatingCounter;
    const used = await conversationTokens(count, input.messages);
    // The listing itself (titles, URLs, snippets) takes some too.
    const framing = 100 * this.deps.results;
    return Math.max(0, Math.min(Math.floor(window / 2), window - reserve - used - framing));
  }
}
