import type { Dispatcher } from 'undici';
import { request } from '../../lib/undici.ts';
import { defaultOutboundPolicy, guardedAgent, type OutboundPolicy } from '../web/connect-guard.ts';
import { ProviderError } from '../provider-error.ts';
import { transportError, upstreamStatusError, type UpstreamIdentity } from '../openai-compatible/upstream-errors.ts';

/** One web search result, whatever the engine: its position in the engine's answer starts at 1. */
export interface SearchResult {
  title: string;
  url: string;
  snippet: string;
  rank: number;
}

/**
 * A web search engine. search() answers the engine's results in its order, or throws a ProviderError
 * naming the provider (never its key), like a model provider's errors.
 */
export interface SearchProvider {
  /** "searxng", "brave", "tavily", "serper". */
  readonly id: string;
  /** What one search costs, in micro-units of the price currency (0 when unpriced). */
  readonly costMicros: number;
  search(query: string, options: { count: number; signal: AbortSignal }): Promise<SearchResult[]>;
}

export interface SearchHttpOptions {
  who: UpstreamIdentity;
  timeoutMs: number;
  signal: AbortSignal;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: unknown;
  /** What an engine-specific status means, said instead of the generic message (SearXNG's 403). */
  statusHints?: Record<number, string>;
  /** The engine's connections, checked by the SSRF policy (searchAgent). */
  dispatcher: Dispatcher;
}

/** The connections of one engine: every address it resolves to is checked by the SSRF policy. */
export const searchAgent = (outbound: OutboundPolicy | undefined, timeoutMs: number) =>
  guardedAgent(outbound ?? defaultOutboundPolicy, { connectTimeoutMs: timeoutMs });

/**
 * One JSON call to a search engine, with the engine's errors mapped as model providers' are: a
 * refused key (502 naming the variable to check), a rate limit (429 with its Retry-After), a
 * timeout (504), an unreachable engine (502). The whole call is bounded by `timeoutMs`.
 */
export async function searchJson(url: string, options: SearchHttpOptions): Promise<unknown> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout]);
  const timeoutError = () =>
    new ProviderError(
      options.who.provider,
      'timeout',
      `Provider "${options.who.provider}" did not answer the search within ${options.timeoutMs} ms`,
    );
  try {
    const response = await request(url, {
      method: options.method,
      headers: {
        accept: 'application/json',
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal,
      dispatcher: options.dispatcher,
    });
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const hint = options.statusHints?.[response.statusCode];
      if (hint)
        throw new ProviderError(
          options.who.provider,
          'failed',
          `Provider "${options.who.provider}" answered ${response.statusCode}: ${hint}`,
          { status: response.statusCode },
        );
      throw upstreamStatusError(options.who, response.statusCode, response.headers, text);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new ProviderError(
        options.who.provider,
        'failed',
        `Provider "${options.who.provider}" answered the search with something other than JSON`,
      );
    }
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    if (timeout.aborted) throw timeoutError();
    if (options.signal.aborted) throw error;
    throw transportError(options.who, error, {
      connectMs: options.timeoutMs,
      firstByteMs: options.timeoutMs,
      idleMs: options.timeoutMs,
    });
  }
}

/** Keeps the results that have an http(s) URL, numbered in order from 1. */
/** The objects in the array at `path` inside an engine's answer; nothing when the answer has another shape. */
export function itemsAt(body: unknown, ...path: string[]): Array<Record<string, unknown>> {
  let value = body;
  for (const key of path)
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is Record<string, unknown> => !!item && typeof item === 'object');
}

export function ranked(
  results: Array<{ title?: unknown; url?: unknown; snippet?: unknown }>,
  count: number,
): SearchResult[] {
  const out: SearchResult[] = [];
  for (const result of results) {
    const url = typeof result.url === 'string' ? result.url : '';
    if (!/^https?:\/\//i.test(url)) continue;
    out.push({
      title: typeof result.title === 'string' && result.title.trim() ? result.title.trim() : url,
      url,
      snippet: typeof result.snippet === 'string' ? result.snippet.trim() : '',
      rank: out.length + 1,
    });
    if (out.length >= count) break;
  }
  return out;
}

export const originOf = (base: string) => new URL(base).origin;

/** The settings of an engine reached with an API key (Brave, Tavily, Serper). */
export interface KeyedSearchOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  costMicros?: number;
  /** Where the engine's connections may go; default: no link-local or metadata address. */
  outbound?: OutboundPolicy;
}

/** What the engines reached with an API key share: their settings, and one JSON call naming the key's variable on errors. */
export abstract class KeyedSearch implements SearchProvider {
  abstract readonly id: string;
  /** The environment variable holding the key, named when the engine refuses it. */
  protected abstract readonly keyVariable: string;
  readonly costMicros: number;
  protected readonly options: KeyedSearchOptions;
  private readonly dispatcher: Dispatcher;

  constructor(options: KeyedSearchOptions) {
    this.options = options;
    this.costMicros = options.costMicros ?? 0;
    this.dispatcher = searchAgent(options.outbound, options.timeoutMs);
  }

  abstract search(query: string, options: { count: number; signal: AbortSignal }): Promise<SearchResult[]>;

  protected call(
    url: string,
    signal: AbortSignal,
    init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: unknown },
  ): Promise<unknown> {
    const who = {
      provider: this.id,
      origin: originOf(this.options.baseUrl),
      keyVariable: this.keyVariable,
      secret: this.options.apiKey,
    };
    return searchJson(url, { who, timeoutMs: this.options.timeoutMs, signal, dispatcher: this.dispatcher, ...init });
  }
}
